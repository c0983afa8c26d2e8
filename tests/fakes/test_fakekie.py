"""Sanity tests of the fake kie.ai itself (tests/fakes/fakekie.py), with a plain aiohttp client."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from tests.fakes.fakekie import FakeKie, ManualClock, TaskPlan, filler_bytes

KEY = "test-key"
HMAC_KEY = "whsec-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
SEED_IMAGE = "https://file.aiquickdraw.com/custom-page/akr/section-images/1760776438785hyue5ogz.png"
SEED_BODY: dict[str, Any] = {
    "model": "sora-2-pro-storyboard",
    "callBackUrl": "https://your-domain.com/api/callback",
    "input": {
        "shots": [
            {
                "Scene": "一只可爱的蓬松橘白相间的小猫戴着橘色耳机，坐在舒适的室内桌子旁，"
                "盘子里有一小块蛋糕，附近有一个玩具鱼和银色麦克风，温暖柔和的光线，"
                "电影特写，浅景深，温柔的ASMR氛围。",
                "duration": 7.5,
            },
            {
                "Scene": "同一只可爱的蓬松橘白相间的小猫戴着橘色耳机，在同一个舒适的室内ASMR"
                "设置中，玩具鱼和麦克风，蛋糕现在吃完了，小猫轻轻舔着嘴唇，带着满足的微笑，"
                "温暖的环境照明，电影特写，浅景深，平静而满足的心情。",
                "duration": 7.5,
            },
        ],
        "n_frames": "15",
        "image_urls": [SEED_IMAGE],
        "aspect_ratio": "landscape",
        "upload_method": "s3",
    },
}


def seed(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED_BODY)
    body["input"].update(changes)
    return body


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def kie(clock: ManualClock) -> AsyncIterator[FakeKie]:
    fake = FakeKie(api_key=KEY, clock=clock, hmac_key=HMAC_KEY, auto_callbacks=False)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def create(http: aiohttp.ClientSession, kie: FakeKie, body: Any) -> dict[str, Any]:
    url = f"{kie.url}/api/v1/jobs/createTask"
    async with http.post(url, json=body, headers=AUTH) as resp:
        assert resp.status == 200
        return await resp.json()


async def record(http: aiohttp.ClientSession, kie: FakeKie, task_id: str) -> dict[str, Any]:
    url = f"{kie.url}/api/v1/jobs/recordInfo"
    async with http.get(url, params={"taskId": task_id}, headers=AUTH) as resp:
        assert resp.status == 200
        return await resp.json()


async def upload(
    http: aiohttp.ClientSession, kie: FakeKie, data: bytes, name: str, path: str | None = "refs"
) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    if path is not None:
        form.add_field("uploadPath", path)
    form.add_field("fileName", name)
    async with http.post(f"{kie.url}/api/file-stream-upload", data=form, headers=AUTH) as resp:
        assert resp.status == 200
        return await resp.json()


def image(fmt: str, size: tuple[int, int] = (640, 360)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buf, format=fmt)
    return buf.getvalue()


# ---------------------------------------------------------------- sora createTask


async def test_seed_example_is_accepted(kie: FakeKie, http: aiohttp.ClientSession) -> None:
    answer = await create(http, kie, SEED_BODY)
    assert answer == {
        "code": 200,
        "msg": "success",
        "data": {"taskId": "task_sora-2-pro-storyboard_1"},
    }
    assert kie.created == [SEED_BODY]
    assert kie.tasks["task_sora-2-pro-storyboard_1"].callback_url == SEED_BODY["callBackUrl"]
    assert kie.calls["createTask"] == 1


def _shots(*durations: Any, key: str = "Scene") -> list[dict[str, Any]]:
    return [{key: f"shot {i}", "duration": d} for i, d in enumerate(durations)]


WRONG_SORA = {
    "n_frames as int": seed(n_frames=15),
    "n_frames not allowed": seed(n_frames="20"),
    "scene lowercase": seed(shots=_shots(7.5, 7.5, key="scene")),
    "duration as string": seed(shots=_shots("7.5", 7.5)),
    "duration as bool": seed(shots=_shots(True, 7.5)),
    "duration too short": seed(shots=_shots(0.05)),
    "sum over n_frames": seed(shots=_shots(7.5, 7.6)),
    "11 shots": seed(shots=_shots(*[1] * 11)),
    "no shots": seed(shots=[]),
    "2 images": seed(image_urls=[SEED_IMAGE, SEED_IMAGE]),
    "image not a url": seed(image_urls=["file:///tmp/x.png"]),
    "bad aspect": seed(aspect_ratio="16:9"),
    "unknown input key": seed(prompt="x"),
    "missing input key": {
        **SEED_BODY,
        "input": {k: v for k, v in SEED_BODY["input"].items() if k != "aspect_ratio"},
    },
    "unknown top-level key": {**SEED_BODY, "extra": 1},
    "callBackUrl not http": {**SEED_BODY, "callBackUrl": "ftp://x/y"},
    "upload_method not allowed": seed(upload_method="ftp"),
}


@pytest.mark.parametrize("case", list(WRONG_SORA))
async def test_wrong_sora_bodies_are_refused(
    kie: FakeKie, http: aiohttp.ClientSession, case: str
) -> None:
    # Live kie.ai answers a request that fails validation with code 500 and its own wording.
    answer = await create(http, kie, WRONG_SORA[case])
    assert answer["code"] == 500, answer
    assert answer["msg"] and answer["data"] is None
    assert kie.created == [] and kie.tasks == {}
    assert kie.create_attempts == [WRONG_SORA[case]]


async def test_the_seed_without_upload_method_gets_the_bare_live_answer(
    kie: FakeKie, http: aiohttp.ClientSession
) -> None:
    body = copy.deepcopy(SEED_BODY)
    del body["input"]["upload_method"]
    answer = await create(http, kie, body)
    assert answer == {"code": 500, "msg": "This field is required", "data": None}
    assert kie.created == []


@pytest.mark.parametrize("status", [422, 404])
async def test_unknown_and_removed_models_get_the_live_wording(
    kie: FakeKie, http: aiohttp.ClientSession, status: int
) -> None:
    wording = (
        "The model name you specified is not supported. Please verify your input and try again."
    )
    kie.unsupported_status = status
    assert await create(http, kie, {**SEED_BODY, "model": "sora-3"}) == {
        "code": status,
        "msg": wording,
        "data": None,
    }
    kie.remove_model("sora-2-pro-storyboard", status=status)
    assert (await create(http, kie, SEED_BODY))["msg"] == wording
    assert kie.created == [] and kie.tasks == {}


async def test_the_cdn_answers_an_html_page_on_demand_and_without_a_named_agent(
    kie: FakeKie, http: aiohttp.ClientSession
) -> None:
    kie.html_next("createTask", status=403)
    async with http.post(f"{kie.url}/api/v1/jobs/createTask", json=SEED_BODY, headers=AUTH) as r:
        assert r.status == 403 and r.content_type == "text/html"
        assert "error code: 1010" in await r.text()
    kie.require_user_agent = True
    for agent, status in [("Python/3.11 aiohttp/3.14", 403), ("storyboard-bot/1.0 (+x)", 200)]:
        url = f"{kie.url}/api/v1/chat/credit"
        async with http.get(url, headers={**AUTH, "User-Agent": agent}) as r:
            assert r.status == status, agent
    assert kie.created == [] and kie.tasks == {}


async def test_wrong_key_is_refused(kie: FakeKie, http: aiohttp.ClientSession) -> None:
    url = f"{kie.url}/api/v1/chat/credit"
    async with http.get(url, headers={"Authorization": "Bearer nope"}) as resp:
        assert (resp.status, await resp.json()) == (
            200,
            {"code": 401, "msg": "You do not have access permissions", "data": None},
        )
    async with http.get(url, headers=AUTH) as resp:
        assert (await resp.json())["data"] == 1000.0


# ---------------------------------------------------------------- lifecycle


async def test_task_walks_through_states(
    kie: FakeKie, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    kie.plan = TaskPlan(null_for=0.5, waiting=1, queuing=1, duration=2)
    task_id = (await create(http, kie, SEED_BODY))["data"]["taskId"]
    assert await record(http, kie, task_id) == {
        "code": 422,
        "msg": "recordInfo is null",
        "data": None,
    }
    seen = []
    for step in (0.6, 0.9, 0.5, 1.0, 1.0):
        clock.advance(step)
        data = (await record(http, kie, task_id))["data"]
        seen.append((data["state"], data["progress"], data["resultJson"]))
    assert seen[:4] == [
        ("waiting", 0, ""),
        ("queuing", 0, ""),
        ("generating", 0, ""),
        ("generating", 50, ""),
    ]
    state, progress, result_json = seen[4]
    assert (state, progress) == ("success", 100)
    assert isinstance(result_json, str)
    urls = json.loads(result_json)
    assert urls["resultUrls"] == [f"{kie.url}/results/{task_id}.mp4"]
    assert json.loads(data["param"]) == SEED_BODY
    assert data["costTime"] == 2000 and data["completeTime"] - data["createTime"] == 4000
    async with http.get(urls["resultUrls"][0]) as resp:
        assert resp.content_type == "video/mp4"
        assert await resp.read() == kie.expected_result()
    async with http.get(urls["resultWaterMarkUrls"][0]) as resp:
        assert await resp.read() == b"WATERMARKED"
    async with http.get(f"{kie.url}/results/task_nope_9.mp4") as resp:
        assert resp.status == 404
    assert kie.leaked_auth == []


async def test_failed_task(kie: FakeKie, http: aiohttp.ClientSession, clock: ManualClock) -> None:
    kie.plan.outcome = "fail"
    task_id = (await create(http, kie, SEED_BODY))["data"]["taskId"]
    clock.advance(1)
    data = (await record(http, kie, task_id))["data"]
    assert data["state"] == "fail" and data["resultJson"] is None
    assert data["failCode"] == "500" and "guardrails" in data["failMsg"]


# ---------------------------------------------------------------- injected trouble


async def test_fail_next_and_pause(kie: FakeKie, http: aiohttp.ClientSession) -> None:
    kie.fail_next("createTask", code=429, msg="rate limited")
    assert await create(http, kie, SEED_BODY) == {"code": 429, "msg": "rate limited", "data": None}
    assert kie.tasks == {} and len(kie.create_attempts) == 1

    kie.pause_model("sora-2-pro-storyboard")
    answer = await create(http, kie, SEED_BODY)
    assert (answer["code"], answer["msg"]) == (500, "This interface is temporarily paused")
    assert kie.tasks == {}
    kie.pause_model("sora-2-pro-storyboard", paused=False)
    task_id = (await create(http, kie, SEED_BODY))["data"]["taskId"]

    kie.fail_next("recordInfo", code=500, msg="boom", http_status=503, times=2)
    url = f"{kie.url}/api/v1/jobs/recordInfo"
    for _ in range(2):
        async with http.get(url, params={"taskId": task_id}, headers=AUTH) as resp:
            assert resp.status == 503
            assert (await resp.json())["msg"] == "boom"
    assert (await record(http, kie, task_id))["code"] == 200
    assert kie.calls["recordInfo"] == 3


async def test_fail_after_create_and_delay(kie: FakeKie, http: aiohttp.ClientSession) -> None:
    kie.fail_after_create()
    url = f"{kie.url}/api/v1/jobs/createTask"
    async with http.post(url, json=SEED_BODY, headers=AUTH) as resp:
        assert resp.status == 500
    assert len(kie.tasks) == 1 and len(kie.created) == 1

    kie.fail_after_create(http_status=0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.post(url, json=SEED_BODY, headers=AUTH) as resp:
            await resp.read()
    assert len(kie.tasks) == 2

    kie.delay_next("createTask", 5.0)
    with pytest.raises(TimeoutError):
        timeout = aiohttp.ClientTimeout(total=0.05)
        async with http.post(url, json=SEED_BODY, headers=AUTH, timeout=timeout) as resp:
            await resp.read()
    assert len(kie.tasks) == 3  # the slow answer's task exists; close() ends the sleep


# ---------------------------------------------------------------- upload, credit, download-url


async def test_upload_then_fetch(kie: FakeKie, http: aiohttp.ClientSession) -> None:
    png = image("PNG")
    answer = await upload(http, kie, png, "ref 1.png")
    assert answer["success"] is True and answer["code"] == 200
    data = answer["data"]
    assert data["fileSize"] == len(png) and data["mimeType"] == "image/png"
    assert kie.uploads[0]["bytes"] == png and kie.uploads[0]["uploadPath"] == "refs"
    async with http.get(data["downloadUrl"]) as resp:
        assert resp.content_type == "image/png"
        assert await resp.read() == png

    missing = await upload(http, kie, png, "x.png", path=None)
    assert missing == {"success": False, "code": 400, "msg": "uploadPath is required", "data": None}
    assert kie.calls["upload"] == 2


async def test_download_url(kie: FakeKie, http: aiohttp.ClientSession, clock: ManualClock) -> None:
    task_id = (await create(http, kie, SEED_BODY))["data"]["taskId"]
    clock.advance(1)
    api = f"{kie.url}/api/v1/common/download-url"
    async with http.post(api, json={"url": kie.result_url(task_id)}, headers=AUTH) as resp:
        answer = await resp.json()
    assert answer["code"] == 200 and "/dl/" in answer["data"]
    async with http.get(answer["data"]) as resp:
        assert await resp.read() == kie.expected_result()
    async with http.post(api, json={"url": "https://x.test/a.mp4"}, headers=AUTH) as resp:
        assert (await resp.json())["code"] == 422


async def test_large_result_is_streamed(http: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeKie(result_bytes=300_000, clock=clock) as kie:
        task_id = (await create(http, kie, SEED_BODY))["data"]["taskId"]
        clock.advance(1)
        async with http.get(kie.result_url(task_id)) as resp:
            assert resp.content_length == 300_000
            assert await resp.read() == filler_bytes(300_000)
        async with http.get(kie.result_url(task_id), headers={"Range": "bytes=70000-"}) as resp:
            assert resp.status == 206
            assert await resp.read() == filler_bytes(300_000)[70000:]
        assert kie.result_sha256() == hashlib.sha256(filler_bytes(300_000)).hexdigest()


# ---------------------------------------------------------------- callbacks


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], Any]]]]:
    got: list[tuple[dict[str, str], Any]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hook", got
    await runner.cleanup()


def signature_ok(headers: dict[str, str], task_id: str) -> bool:
    ts = headers["X-Webhook-Timestamp"]
    mac = hmac.new(HMAC_KEY.encode(), f"{task_id}.{ts}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), headers["X-Webhook-Signature"])


async def test_signed_callbacks(
    kie: FakeKie,
    http: aiohttp.ClientSession,
    clock: ManualClock,
    receiver: tuple[str, list[tuple[dict[str, str], Any]]],
) -> None:
    hook, got = receiver
    kie.plan.callbacks = 2
    task_id = (await create(http, kie, {**SEED_BODY, "callBackUrl": hook}))["data"]["taskId"]
    assert await kie.fire_callbacks() == 0  # not ended yet
    clock.advance(1)
    assert await kie.fire_callbacks() == 2
    assert await kie.fire_callbacks() == 0
    assert len(got) == 2 and [c["status"] for c in kie.callbacks_sent] == [200, 200]
    for headers, body in got:
        assert signature_ok(headers, task_id)
        assert body["code"] == 200 and body["data"]["state"] == "success"
        assert json.loads(body["data"]["resultJson"])["resultUrls"] == [kie.result_url(task_id)]
        assert json.loads(body["data"]["param"]) == {**SEED_BODY, "callBackUrl": hook}

    assert await kie.post_callback(task_id, forge=True) == 200
    assert not signature_ok(got[-1][0], task_id)

    kie.plan = TaskPlan(outcome="fail", duration=0)
    failed = (await create(http, kie, {**SEED_BODY, "callBackUrl": hook}))["data"]["taskId"]
    assert await kie.fire_callbacks() == 1
    headers, body = got[-1]
    assert signature_ok(headers, failed)
    assert (body["code"], body["msg"]) == (501, "Playground task failed.")
    assert body["data"]["state"] == "fail" and body["data"]["resultJson"] is None

    assert await kie.post_callback(task_id, url="http://127.0.0.1:9/nowhere") == 0


async def test_auto_callbacks_with_real_clock(
    http: aiohttp.ClientSession, receiver: tuple[str, list[tuple[dict[str, str], Any]]]
) -> None:
    hook, got = receiver
    async with FakeKie() as kie:
        kie.plan.duration = 0.05
        await create(http, kie, {**SEED_BODY, "callBackUrl": hook})
        for _ in range(50):
            if got:
                break
            await asyncio.sleep(0.02)
    assert len(got) == 1 and "X-Webhook-Signature" not in got[0][0]


# ---------------------------------------------------------------- kling


def kling(**changes: Any) -> dict[str, Any]:
    inp: dict[str, Any] = {
        "prompt": "a cat eats cake",
        "image_urls": [SEED_IMAGE],
        "duration": 15,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "audio": False,
        "customize_multi_shots": True,
        "multi_prompt": [{"prompt": "cat eats", "duration": 7}, {"prompt": "done", "duration": 8}],
    }
    inp.update(changes)
    return {"model": "kling-3.0-omni/image-to-video", "callBackUrl": SEED_IMAGE, "input": inp}


async def test_kling_accepted_without_progress(
    kie: FakeKie, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    png_url = (await upload(http, kie, image("PNG"), "ref.png"))["data"]["downloadUrl"]
    answer = await create(http, kie, kling(image_urls=[png_url]))
    assert answer["code"] == 200, answer
    task_id = answer["data"]["taskId"]
    assert task_id == "task_kling-3.0-omni_image-to-video_1"
    data = (await record(http, kie, task_id))["data"]
    assert data["state"] == "generating" and "progress" not in data
    clock.advance(1)
    result = json.loads((await record(http, kie, task_id))["data"]["resultJson"])
    assert result == {"resultUrls": [kie.result_url(task_id)]}


async def test_kling_refusals(kie: FakeKie, http: aiohttp.ClientSession) -> None:
    webp = (await upload(http, kie, image("WEBP"), "ref.webp"))["data"]["downloadUrl"]
    small = (await upload(http, kie, image("JPEG", (200, 200)), "s.jpg"))["data"]["downloadUrl"]
    wide = (await upload(http, kie, image("PNG", (1300, 400)), "w.png"))["data"]["downloadUrl"]
    seven = [{"prompt": f"p{i}", "duration": 2} for i in range(7)]
    bodies = {
        "webp": kling(image_urls=[webp]),
        "small": kling(image_urls=[small]),
        "too wide": kling(image_urls=[wide]),
        "float duration": kling(duration=15.0),
        "7 prompts": kling(multi_prompt=seven, duration=14),
        "sum mismatch": kling(duration=14),
        "ratio without multi shots": kling(customize_multi_shots=False, multi_prompt=None),
        "prefer and customize": kling(prefer_multi_shots=True),
        "blank prompt": kling(prompt="  "),
        "audio as int": kling(audio=0),
    }
    bodies["ratio without multi shots"]["input"].pop("multi_prompt")
    for name, body in bodies.items():
        answer = await create(http, kie, body)
        assert answer["code"] == 500, (name, answer)
    assert kie.tasks == {}
    assert "WEBP" in (await create(http, kie, bodies["webp"]))["msg"]


async def test_callbacks_never_leave_the_machine(
    kie: FakeKie, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    task_id = (await create(http, kie, SEED_BODY))["data"]["taskId"]  # your-domain.com
    clock.advance(1)
    assert await kie.fire_callbacks() == 1
    assert kie.callbacks_sent[0]["status"] == 0
    assert kie.callbacks_sent[0]["url"] == SEED_BODY["callBackUrl"]
    assert kie.tasks[task_id].callbacks_posted == 1
