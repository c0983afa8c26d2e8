"""The kie.ai client against the fake kie.ai: what kie.ai receives, what the caller gets."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config.settings import KieSettings, Settings
from bot.kie import CreateOutcomeUnknown, KieClient, KieError, KieUnreachable, RateLimits
from bot.kie.client import shared_limits
from bot.kie.ratelimit import SlidingWindowLimiter
from bot.kie.schemas import TaskRecord
from bot.media.download import DownloadError
from tests.fakes.fakekie import PAUSED_MSG, SORA_MODEL, FakeKie, TaskPlan
from tests.helpers import free_port, make_settings, png_bytes

KEY = "test-key"
SEED_IMAGE = "https://file.aiquickdraw.com/custom-page/akr/section-images/1760776438785hyue5ogz.png"
BODY: dict[str, Any] = {
    "model": SORA_MODEL,
    "callBackUrl": "https://your-domain.com/api/callback",
    "input": {
        "shots": [
            {"Scene": "一只可爱的蓬松橘白相间的小猫戴着橘色耳机", "duration": 7.5},
            {"Scene": "同一只小猫轻轻舔着嘴唇，带着满足的微笑", "duration": 7.5},
        ],
        "n_frames": "15",
        "image_urls": [SEED_IMAGE],
        "aspect_ratio": "landscape",
        "upload_method": "s3",
    },
}


def body(**changes: Any) -> dict[str, Any]:
    b = copy.deepcopy(BODY)
    b["input"].update(changes)
    return b


class Sleeps(list[float]):
    """A recording ``sleep`` for KieClient: remembers every delay, waits for nothing."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def fast_limits() -> RateLimits:
    """Limits that never hold a test back (the retry tests are not about the rate limit)."""
    limits = RateLimits()
    limits.create = SlidingWindowLimiter(1000, 1.0)
    limits.read = SlidingWindowLimiter(1000, 1.0)
    return limits


def client(settings: Settings, **kw: Any) -> KieClient:
    kw.setdefault("limits", fast_limits())
    return KieClient(settings.kie, **kw)


def assert_no_key(exc: BaseException) -> None:
    assert KEY not in str(exc)
    assert KEY not in repr(exc)


async def finished_task(kie: KieClient, fake: FakeKie, clock: Any) -> str:
    fake.plan = TaskPlan(duration=1)
    task_id = await kie.create_task(body())
    clock.advance(2)
    return task_id


# -- createTask ------------------------------------------------------------------------------


async def test_create_task_returns_the_task_id_and_sends_the_body_unchanged(kie, fake):
    sent = body()
    task_id = await kie.create_task(sent)

    assert task_id == fake.last_task.task_id
    assert task_id.startswith("task_sora-2-pro-storyboard_")
    assert fake.create_attempts == [BODY]
    assert fake.created == [BODY]
    assert fake.calls["createTask"] == 1
    assert sent == BODY  # not modified on the way


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in kie.ai that records the raw requests it receives."""
    seen: list[dict[str, Any]] = []

    async def create(request: web.Request) -> web.Response:
        seen.append({"headers": dict(request.headers), "raw": await request.read()})
        return web.json_response({"code": 200, "msg": "success", "data": {"taskId": "task_r1"}})

    app = web.Application()
    app.router.add_post("/api/v1/jobs/createTask", create)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/"), seen


async def test_create_task_sends_the_bearer_key_and_json(tmp_path, recorder):
    url, seen = recorder
    async with client(make_settings(tmp_path, url)) as kie:
        assert await kie.create_task(body()) == "task_r1"
    assert len(seen) == 1
    assert seen[0]["headers"]["Authorization"] == "Bearer test-key"
    assert seen[0]["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(seen[0]["raw"]) == BODY


async def test_create_task_without_the_right_key_is_refused_by_kie(tmp_path, fake):
    settings = make_settings(tmp_path, fake.url, kie={"api_key": "wrong-key"})
    async with client(settings) as kie:
        with pytest.raises(KieError) as err:
            await kie.create_task(body())
    assert err.value.code == 401
    assert "wrong-key" not in str(err.value)
    assert fake.created == []


async def test_429_on_create_is_retried_then_succeeds(tmp_path, fake):
    fake.fail_next("createTask", code=429, msg="Rate limit exceeded", times=2)
    sleeps = Sleeps()
    async with client(make_settings(tmp_path, fake.url), sleep=sleeps) as kie:
        task_id = await kie.create_task(body())

    assert task_id == fake.last_task.task_id
    assert fake.create_attempts == [BODY, BODY, BODY]
    assert len(fake.created) == 1
    assert len(sleeps) == 2


async def test_429_beyond_max_retries_raises_kie_error_429(tmp_path, fake):
    fake.fail_next("createTask", code=429, msg="Rate limit exceeded", times=10)
    settings = make_settings(tmp_path, fake.url, kie={"max_retries": 2})
    async with client(settings, sleep=Sleeps()) as kie:
        with pytest.raises(KieError) as err:
            await kie.create_task(body())

    assert err.value.code == 429
    assert err.value.task_not_created
    assert "rate limit" in err.value.meaning
    assert len(fake.create_attempts) == 3  # the first try and 2 retries
    assert fake.created == []
    assert_no_key(err.value)


def under_maintenance(tmp_path, fake, retries: int) -> Settings:
    """kie.ai answers 455 for a while; the backoff is not capped by backoff_max."""
    fake.fail_next("createTask", code=455, msg="Service maintenance", times=10)
    kie = {"maintenance_retries": retries, "maintenance_backoff": 60.0, "backoff_max": 1000.0}
    return make_settings(tmp_path, fake.url, kie={**kie, "backoff_base": 0.5})


async def test_455_is_retried_with_the_long_maintenance_backoff_and_jitter(tmp_path, fake):
    settings = under_maintenance(tmp_path, fake, retries=3)
    sleeps = Sleeps()
    async with KieClient(settings.kie, limits=RateLimits(), sleep=sleeps) as kie:
        with pytest.raises(KieError) as err:
            await kie.create_task(body())

    assert err.value.code == 455
    assert "maintenance" in err.value.meaning
    assert len(fake.create_attempts) == 4  # the first try and maintenance_retries more
    assert fake.created == []
    nominal = [60.0 * 2**i for i in range(3)]
    assert len(sleeps) == 3
    for slept, delay in zip(sleeps, nominal, strict=True):
        assert delay / 2 <= slept <= delay  # from maintenance_backoff, not from backoff_base
    assert sleeps != nominal  # jittered


async def test_455_for_the_tracker_is_raised_at_once_with_the_wait_it_should_keep(tmp_path, fake):
    # The tracker waits out maintenance with the job back in its queue (resend=False), so
    # the client must not sleep through it with the job recorded as being sent.
    settings = under_maintenance(tmp_path, fake, retries=2)
    sleeps = Sleeps()
    async with KieClient(settings.kie, limits=RateLimits(), sleep=sleeps) as kie:
        with pytest.raises(KieError) as err:
            await kie.create_task(body(), resend=False)
        waits = [kie.maintenance_wait(n) for n in (1, 2, 3)]
    assert err.value.code == 455 and len(fake.create_attempts) == 1 and sleeps == []
    assert waits[2] is None  # maintenance_retries used up
    for wait, nominal in zip(waits[:2], (60.0, 120.0), strict=True):
        assert wait is not None and nominal / 2 <= wait <= nominal


async def test_455_backoff_is_not_cut_down_to_the_ordinary_cap(tmp_path, fake):
    # The defaults: maintenance_backoff (60 s) is above backoff_max (30 s).
    fake.fail_next("createTask", code=455, msg="Service maintenance", times=1)
    settings = make_settings(
        tmp_path,
        fake.url,
        kie={"maintenance_backoff": 60.0, "backoff_base": 1.0, "backoff_max": 30.0},
    )
    sleeps = Sleeps()
    async with client(settings, sleep=sleeps, rng=lambda: 1.0) as kie:
        task_id = await kie.create_task(body())

    assert task_id == fake.last_task.task_id
    assert len(fake.create_attempts) == 2
    assert sleeps == [60.0]


def _wrong_key(settings: Settings, fake: FakeKie) -> tuple[Settings, dict[str, Any]]:
    data = settings.model_dump()
    data["kie"]["api_key"] = "another-key"
    data["discord"]["token"] = None
    return Settings(**data), body()


def _no_credits(settings: Settings, fake: FakeKie) -> tuple[Settings, dict[str, Any]]:
    fake.credits = 0
    return settings, body()


def _bad_duration(settings: Settings, fake: FakeKie) -> tuple[Settings, dict[str, Any]]:
    b = body()
    b["input"]["shots"][0]["duration"] = 20
    return settings, b


def _failing(code: int, msg: str) -> Callable[[Settings, FakeKie], tuple[Settings, Any]]:
    def setup(settings: Settings, fake: FakeKie) -> tuple[Settings, dict[str, Any]]:
        fake.fail_next("createTask", code=code, msg=msg)
        return settings, body()

    return setup


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (_wrong_key, 401),
        (_no_credits, 402),
        (_bad_duration, 500),
        (_failing(433, "Sub-key usage limit reached"), 433),
        (_failing(505, "This feature is disabled"), 505),
        (_failing(501, "Generation failed"), 501),
    ],
    ids=["401", "402", "500-validation", "433", "505", "501"],
)
async def test_refusals_raise_at_once_and_prove_no_task_exists(tmp_path, fake, setup, code):
    settings, sent = setup(make_settings(tmp_path, fake.url), fake)
    sleeps = Sleeps()
    async with client(settings, sleep=sleeps) as kie:
        with pytest.raises(KieError) as err:
            await kie.create_task(sent)

    assert err.value.code == code
    assert err.value.task_not_created
    assert err.value.meaning
    assert len(fake.create_attempts) == 1
    assert fake.created == []
    assert sleeps == []
    assert_no_key(err.value)
    assert "another-key" not in str(err.value)


async def test_a_validation_500_proves_no_task_and_names_the_field(kie, fake):
    b = body()
    b["input"]["shots"][0]["duration"] = 20
    with pytest.raises(KieError) as err:
        await kie.create_task(b)
    # Live kie.ai: validation errors are code 500, before any task exists.
    assert err.value.code == 500
    assert err.value.validation and err.value.task_not_created
    assert "input.shots[0].duration must be between 0.1 and 15" in err.value.meaning
    assert err.value.field == "input.shots[0].duration"
    assert not err.value.model_unavailable
    assert fake.created == [] and len(fake.create_attempts) == 1


async def test_a_paused_model_is_a_clear_refusal_not_an_unknown_outcome(kie, fake):
    fake.pause_model(SORA_MODEL)
    with pytest.raises(KieError) as err:
        await kie.create_task(body())

    assert err.value.code == 500
    assert err.value.msg == PAUSED_MSG
    assert err.value.paused
    assert err.value.model_unavailable
    assert err.value.task_not_created
    assert "paused" in err.value.meaning
    assert len(fake.create_attempts) == 1
    assert fake.created == []


async def _generic_500(tmp_path: Path, fake: FakeKie) -> Settings:
    fake.fail_next("createTask", code=500, msg="Server exception, please try again later")
    return make_settings(tmp_path, fake.url)


async def _http_500_after_create(tmp_path: Path, fake: FakeKie) -> Settings:
    fake.fail_after_create()
    return make_settings(tmp_path, fake.url)


async def _dropped_after_create(tmp_path: Path, fake: FakeKie) -> Settings:
    fake.fail_after_create(http_status=0)
    return make_settings(tmp_path, fake.url)


async def _timeout(tmp_path: Path, fake: FakeKie) -> Settings:
    fake.delay_next("createTask", 2.0)
    return make_settings(tmp_path, fake.url, kie={"request_timeout": 0.2})


@pytest.mark.parametrize(
    ("setup", "created"),
    [
        (_generic_500, 0),
        (_http_500_after_create, 1),
        (_dropped_after_create, 1),
        (_timeout, 1),
    ],
    ids=["500-in-body", "http-500-after-create", "dropped-connection", "timeout"],
)
async def test_unknown_outcomes_are_never_resubmitted(tmp_path, fake, setup, created):
    settings = await setup(tmp_path, fake)
    sleeps = Sleeps()
    async with client(settings, sleep=sleeps) as kie:
        with pytest.raises(CreateOutcomeUnknown) as err:
            await kie.create_task(body())

    assert len(fake.create_attempts) == 1
    assert len(fake.created) == created
    assert sleeps == []
    assert err.value.reason
    assert_no_key(err.value)


async def test_connection_refused_is_retried_then_unreachable(tmp_path, fake):
    closed = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(tmp_path, fake.url, kie={"base_url": closed, "max_retries": 3})
    sleeps = Sleeps()
    async with client(settings, sleep=sleeps) as kie:
        with pytest.raises(KieUnreachable) as err:
            await kie.create_task(body())
        with pytest.raises(KieUnreachable) as read_err:
            await kie.record_info("task_x")

    assert len(sleeps) == 6  # 3 retries of the create, 3 of the read
    assert fake.create_attempts == []
    assert_no_key(err.value)
    assert_no_key(read_err.value)


async def test_an_unreachable_upload_host_names_itself_and_its_setting(tmp_path, fake, caplog):
    closed = f"127.0.0.1:{free_port()}"
    settings = make_settings(
        tmp_path, fake.url, kie={"upload_url": f"http://{closed}", "max_retries": 2}
    )
    caplog.set_level("INFO", logger="bot.kie.client")
    async with client(settings, sleep=Sleeps()) as kie:
        with pytest.raises(KieUnreachable) as err:
            await kie.upload(b"x", "a.png", "storyboard-bot")
    assert (err.value.host, err.value.setting) == (closed, "KIE_UPLOAD_URL")
    assert closed in str(err.value) and "KIE_UPLOAD_URL" in str(err.value)
    # Every "retrying" line says which host, which attempt, and until when.
    lines = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(lines) == 2
    assert all(closed in line for line in lines)
    assert "attempt 1 of 3" in lines[0] and "attempt 2 of 3" in lines[1]
    assert all(re.search(r"retrying at \d\d:\d\d:\d\d", line) for line in lines)
    assert fake.uploads == []


# -- live kie.ai's answers ---------------------------------------------------------------------


async def test_every_request_names_the_client_in_user_agent(kie, fake, clock, tmp_path):
    fake.require_user_agent = True  # the CDN refuses requests that do not name their client
    url = await kie.upload(png_bytes(), "ref.png", "storyboard-bot")
    task_id = await kie.create_task(body(image_urls=[url]))
    clock.advance(2)
    record = await kie.record_info(task_id)
    assert record is not None and record.video_url
    await kie.credits()
    link = await kie.download_url(record.video_url)
    await kie.fetch(link, tmp_path / "v.mp4", max_bytes=10_000_000)
    assert len(fake.user_agents) == 5
    assert all(re.fullmatch(r"storyboard-bot/\S+ \(\+https://\S+\)", a) for a in fake.user_agents)


@pytest.mark.parametrize("status", [403, 404])
async def test_a_cdn_page_with_a_4xx_on_create_is_a_refusal_not_unknown(tmp_path, fake, status):
    fake.html_next("createTask", status=status)
    sleeps = Sleeps()
    async with client(make_settings(tmp_path, fake.url), sleep=sleeps) as kie:
        with pytest.raises(KieError) as err:
            await kie.create_task(body())
    assert err.value.code == status and err.value.html
    assert err.value.task_not_created
    assert "web page" in err.value.meaning
    assert "<html" not in str(err.value).lower()
    assert fake.created == [] and sleeps == []


async def test_a_cdn_429_page_on_create_is_retried(tmp_path, fake):
    fake.html_next("createTask", status=429)
    sleeps = Sleeps()
    async with client(make_settings(tmp_path, fake.url), sleep=sleeps) as kie:
        task_id = await kie.create_task(body())
    assert task_id == fake.last_task.task_id and len(sleeps) == 1
    assert len(fake.created) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_cdn_page_with_a_5xx_on_create_stays_unknown(tmp_path, fake, status):
    fake.html_next("createTask", status=status)
    async with client(make_settings(tmp_path, fake.url), sleep=Sleeps()) as kie:
        with pytest.raises(CreateOutcomeUnknown):
            await kie.create_task(body())
    assert len(fake.create_attempts) == 1


@pytest.mark.parametrize("status", [422, 404])
async def test_a_removed_model_is_model_unavailable(kie, fake, status):
    fake.remove_model(SORA_MODEL, status=status)
    with pytest.raises(KieError) as err:
        await kie.create_task(body())
    assert err.value.code == status
    assert err.value.model_unavailable and err.value.task_not_created
    assert fake.created == []


async def test_a_missing_upload_method_is_refused_at_once_with_no_task(kie, fake):
    b = body()
    del b["input"]["upload_method"]
    with pytest.raises(KieError) as err:
        await kie.create_task(b)
    assert (err.value.code, err.value.msg) == (500, "This field is required")
    assert err.value.validation and err.value.task_not_created
    assert fake.created == []


async def test_a_record_of_an_unexpected_shape_is_a_kie_error(kie, fake):
    fake.answer_next("recordInfo", {"code": 200, "msg": "success", "data": {"state": 7}})
    with pytest.raises(KieError) as err:
        await kie.record_info("task_x")
    assert err.value.code == 500 and "unexpected recordInfo answer" in err.value.msg


async def test_probe_upload_reaches_the_host_and_stores_nothing(kie, fake, tmp_path):
    answered = await kie.probe_upload()
    assert answered.startswith("400")
    assert fake.uploads == [] and fake.files == {}
    closed = make_settings(
        tmp_path, fake.url, kie={"upload_url": f"http://127.0.0.1:{free_port()}"}
    )
    async with client(closed) as other:
        with pytest.raises(KieUnreachable) as err:
            await other.probe_upload()
    assert err.value.setting == "KIE_UPLOAD_URL"


# -- recordInfo ------------------------------------------------------------------------------


async def test_record_info_follows_the_states_and_parses_the_json_strings(settings, fake, clock):
    fake.plan = TaskPlan(waiting=2, queuing=2, duration=10)
    async with client(settings) as kie:
        await _follow_states(kie, fake, clock)


async def _follow_states(kie: KieClient, fake: FakeKie, clock: Any) -> None:
    task_id = await kie.create_task(body())

    rec = await kie.record_info(task_id)
    assert rec is not None
    assert (rec.task_id, rec.model, rec.state) == (task_id, SORA_MODEL, "waiting")
    assert rec.running
    assert rec.param == BODY  # "param" is a JSON string: parsed again
    assert rec.callback_url == BODY["callBackUrl"]
    assert rec.result is None and rec.video_url is None

    clock.advance(3)
    rec = await kie.record_info(task_id)
    assert rec is not None and rec.state == "queuing"

    clock.advance(6)  # 5 of the 10 generating seconds
    rec = await kie.record_info(task_id)
    assert rec is not None and (rec.state, rec.progress) == ("generating", 50)

    clock.advance(10)
    rec = await kie.record_info(task_id)
    assert rec is not None
    assert (rec.state, rec.progress, rec.running) == ("success", 100, False)
    assert rec.video_url == fake.result_url(task_id)
    assert rec.video_url != fake.result_url(task_id, watermarked=True)
    assert rec.result is not None
    assert rec.result.resultWaterMarkUrls == [fake.result_url(task_id, watermarked=True)]
    assert (rec.fail_code, rec.fail_msg) == ("", "")
    assert fake.calls["recordInfo"] == 4


async def test_record_info_of_a_failed_task_carries_fail_code_and_message(kie, fake, clock):
    msg = "We currently do not support uploads of images containing photorealistic people."
    fake.plan = TaskPlan(duration=1, outcome="fail", fail_code="500", fail_msg=msg)
    task_id = await kie.create_task(body())
    clock.advance(2)

    rec = await kie.record_info(task_id)
    assert rec is not None
    assert (rec.state, rec.fail_code, rec.fail_msg) == ("fail", "500", msg)
    assert rec.video_url is None
    assert not rec.running


def test_the_documented_record_parses_and_never_picks_the_watermarked_url():
    # kie.ai's documented recordInfo data, with the watermarked list written first.
    data = {
        "taskId": "task_12345678",
        "model": "sora-2-pro-storyboard",
        "state": "success",
        "param": json.dumps({"model": "sora-2-pro-storyboard", "input": {"n_frames": "15"}}),
        "resultJson": json.dumps(
            {
                "resultWaterMarkUrls": ["https://example.com/generated-wm.mp4"],
                "resultUrls": ["https://example.com/generated.mp4"],
            }
        ),
        "failCode": "",
        "failMsg": "",
        "costTime": 15000,
        "completeTime": 1698765432000,
        "createTime": 1698765400000,
        "updateTime": 1698765432000,
        "progress": 100,
    }
    rec = TaskRecord.model_validate(data)
    assert rec.video_url == "https://example.com/generated.mp4"
    assert rec.param == {"model": "sora-2-pro-storyboard", "input": {"n_frames": "15"}}
    assert (rec.progress, rec.create_time, rec.complete_time) == (100, 1698765400000, 1698765432000)

    only_wm = dict(data, resultJson=json.dumps({"resultWaterMarkUrls": ["https://x/wm.mp4"]}))
    assert TaskRecord.model_validate(only_wm).video_url is None
    running = dict(data, state="generating", resultJson="", progress=None, failCode=None)
    rec = TaskRecord.model_validate(running)
    assert (rec.result, rec.progress, rec.fail_code) == (None, None, "")


async def test_record_info_is_null_means_not_visible_yet_and_is_not_retried(kie, fake, clock):
    fake.plan = TaskPlan(null_for=5, duration=30)
    task_id = await kie.create_task(body())

    assert await kie.record_info(task_id) is None
    assert fake.calls["recordInfo"] == 1

    clock.advance(6)
    rec = await kie.record_info(task_id)
    assert rec is not None and rec.task_id == task_id


async def test_another_422_on_record_info_is_an_error_not_none(kie, fake):
    fake.fail_next("recordInfo", code=422, msg="taskId is invalid")
    with pytest.raises(KieError) as err:
        await kie.record_info("task_x")
    assert (err.value.code, err.value.msg) == (422, "taskId is invalid")
    assert fake.calls["recordInfo"] == 1


@pytest.mark.parametrize(
    ("code", "http_status"), [(500, 200), (500, 500), (502, 502)], ids=["body", "http", "502"]
)
async def test_reads_are_retried_on_server_errors(tmp_path, fake, clock, code, http_status):
    sleeps = Sleeps()
    async with client(make_settings(tmp_path, fake.url), sleep=sleeps) as kie:
        task_id = await finished_task(kie, fake, clock)
        fake.fail_next(
            "recordInfo", code=code, msg="Server error", times=2, http_status=http_status
        )
        rec = await kie.record_info(task_id)

    assert rec is not None and rec.state == "success"
    assert fake.calls["recordInfo"] == 3
    assert len(sleeps) == 2


async def test_reads_give_up_after_max_retries(tmp_path, fake, clock):
    settings = make_settings(tmp_path, fake.url, kie={"max_retries": 2})
    async with client(settings, sleep=Sleeps()) as kie:
        task_id = await finished_task(kie, fake, clock)
        fake.fail_next("recordInfo", code=500, msg="Server error", times=5)
        with pytest.raises(KieError) as err:
            await kie.record_info(task_id)

    assert err.value.code == 500
    assert fake.calls["recordInfo"] == 3
    assert_no_key(err.value)


async def test_a_refused_read_is_not_retried(tmp_path, fake):
    fake.fail_next("recordInfo", code=401, msg="You do not have access permissions")
    sleeps = Sleeps()
    async with client(make_settings(tmp_path, fake.url), sleep=sleeps) as kie:
        with pytest.raises(KieError) as err:
            await kie.record_info("task_x")
    assert err.value.code == 401
    assert "KIE_API_KEY" in err.value.meaning
    assert fake.calls["recordInfo"] == 1
    assert sleeps == []


# -- upload, credits, download-url -----------------------------------------------------------


async def test_upload_sends_the_file_as_multipart_and_returns_the_download_url(kie, fake):
    data = png_bytes(32, 24)
    url = await kie.upload(data, "job1.png", "storyboard-bot")

    assert len(fake.uploads) == 1
    up = fake.uploads[0]
    assert (up["bytes"], up["uploadPath"], up["fileName"]) == (data, "storyboard-bot", "job1.png")
    assert url == up["downloadUrl"]
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200 and await resp.read() == data


async def test_upload_is_retried_on_a_server_error(tmp_path, fake):
    fake.fail_next("upload", code=500, msg="Server error")
    async with client(make_settings(tmp_path, fake.url), sleep=Sleeps()) as kie:
        url = await kie.upload(b"\x89PNG-ish", "a.png", "p")
    assert fake.calls["upload"] == 2
    assert len(fake.uploads) == 1 and url == fake.uploads[0]["downloadUrl"]


@pytest.mark.parametrize("amount", [1000, 2510330.75])
async def test_credits_is_a_float(kie, fake, amount):
    fake.credits = amount
    credits = await kie.credits()
    assert isinstance(credits, float)
    assert credits == amount
    assert fake.calls["credit"] == 1


async def test_download_url_returns_a_fresh_link_that_serves_the_video(kie, fake, clock, tmp_path):
    task_id = await finished_task(kie, fake, clock)
    link = await kie.download_url(fake.result_url(task_id))

    assert link.startswith(f"{fake.url}/dl/")
    assert fake.calls["download-url"] == 1
    dest = tmp_path / "fresh.mp4"
    assert await kie.fetch(link, dest, max_bytes=10_000_000) == fake.result_size
    assert dest.read_bytes() == fake.expected_result()


# -- fetch -----------------------------------------------------------------------------------


async def test_fetch_streams_the_result_to_a_file(kie, fake, clock, tmp_path):
    task_id = await finished_task(kie, fake, clock)
    dest = tmp_path / "videos" / "out.mp4"

    size = await kie.fetch(fake.result_url(task_id), dest, max_bytes=10_000_000)

    assert size == fake.result_size
    assert dest.read_bytes() == fake.expected_result()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["out.mp4"]
    assert fake.leaked_auth == []  # the key never goes to the file host


async def test_fetch_refuses_a_result_over_the_cap_and_leaves_nothing(kie, fake, clock, tmp_path):
    task_id = await finished_task(kie, fake, clock)
    dest = tmp_path / "videos" / "out.mp4"

    with pytest.raises(DownloadError):
        await kie.fetch(fake.result_url(task_id), dest, max_bytes=fake.result_size - 1)

    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/v.mp4", "data:video/mp4;base64,AAAA"]
)
async def test_fetch_refuses_non_http_links(kie, fake, tmp_path, url):
    dest = tmp_path / "out.mp4"
    with pytest.raises(DownloadError):
        await kie.fetch(url, dest, max_bytes=10_000_000)
    assert not dest.exists()


async def test_fetch_404_message_has_no_query_string(kie, fake, tmp_path):
    url = f"{fake.url}/results/task_nope.mp4?token=s3cr3t-signature&expires=1"
    dest = tmp_path / "out.mp4"
    with pytest.raises(DownloadError) as err:
        await kie.fetch(url, dest, max_bytes=10_000_000)

    assert "404" in str(err.value)
    assert "s3cr3t" not in str(err.value) and "?" not in str(err.value)
    assert not dest.exists()
    assert fake.calls["result"] == 1


# -- the rate limiter ------------------------------------------------------------------------


def _greedy_admissions(make: Callable[[], SlidingWindowLimiter], seconds: float) -> list[float]:
    """Admission times of a caller that takes every slot the limiter gives, on a virtual clock.

    The same limiter on a clock that only moves when it sleeps: tens of seconds in milliseconds.
    """
    now = [0.0]

    async def sleep(delay: float) -> None:
        now[0] += delay

    async def run() -> list[float]:
        real = make()
        limiter = SlidingWindowLimiter(
            real.max_calls, real.window, clock=lambda: now[0], sleep=sleep
        )
        times: list[float] = []
        while True:
            await limiter.acquire()
            if now[0] > seconds:
                return times
            times.append(now[0])

    return asyncio.run(run())


def _most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of times in any window [t, t + window) (1 µs short, for rounding)."""
    width = window - 1e-6
    return max(sum(1 for u in times[i:] if u < t + width) for i, t in enumerate(times))


def test_default_limits_stay_within_kies_documented_limits():
    assert (RateLimits().create.max_calls, RateLimits().create.window) == (18, 10.0)
    assert (RateLimits().read.max_calls, RateLimits().read.window) == (9, 1.0)

    reads = _greedy_admissions(lambda: RateLimits().read, 5.0)
    assert _most_in_any_window(reads, 1.0) == 9
    assert len(reads) == 9 * 6  # 9 a second, at 0, 1, ... 5 s

    creates = _greedy_admissions(lambda: RateLimits().create, 40.0)
    assert _most_in_any_window(creates, 10.0) == 18  # 90 % of kie.ai's 20 per 10 s
    assert len(creates) == 18 * 5  # sustained: 18 every 10 s, at 0, 10, ... 40 s


@pytest.mark.parametrize("limit", range(1, 11))
def test_lower_read_limits_are_kept_too(limit):
    kept = limit if limit < 10 else 9
    assert RateLimits(reads_per_second=limit).read.max_calls == kept
    times = _greedy_admissions(lambda: RateLimits(reads_per_second=limit).read, 5.0)
    assert _most_in_any_window(times, 1.0) == kept
    assert len(times) == kept * 6  # and it never starves: the whole limit every second


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 15, 20])
def test_lower_create_limits_are_kept_too(limit):
    kept = limit if limit < 10 else limit - round(limit * 0.1)
    assert RateLimits(create_per_10s=limit).create.max_calls == kept
    times = _greedy_admissions(lambda: RateLimits(create_per_10s=limit).create, 40.0)
    assert _most_in_any_window(times, 10.0) == kept
    assert len(times) == kept * 5  # the whole limit every 10 s


async def test_concurrent_reads_never_exceed_9_in_any_second_in_real_time():
    limits = RateLimits()
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def read() -> None:
        async with limits.read:
            times.append(loop.time())

    await asyncio.gather(*(read() for _ in range(11)))  # 9 at once, the other 2 a second later
    times.sort()
    assert len(times) == 11
    assert _most_in_any_window(times, 0.99) <= 9
    assert 0.99 <= times[-1] - times[0] < 2.0


def test_limits_are_shared_by_every_client_with_the_same_settings():
    settings = KieSettings(api_key="k")
    assert shared_limits(settings) is shared_limits(KieSettings(api_key="other"))
    assert shared_limits(settings) is not shared_limits(KieSettings(api_key="k", create_per_10s=5))


@pytest.fixture
async def garbage() -> AsyncIterator[str]:
    """A host that answers bytes that are not UTF-8 (a broken CDN page), as HTTP 502."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=b"\xff\xfe<html>\xe9rror</html>",
            status=502,
            headers={"Content-Type": "application/json"},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


async def test_an_answer_that_is_not_text_is_read_by_its_status(tmp_path, garbage):
    settings = make_settings(tmp_path, garbage, kie={"max_retries": 0})
    async with client(settings, sleep=Sleeps()) as kie:
        with pytest.raises(CreateOutcomeUnknown):  # a 5xx page proves nothing
            await kie.create_task(body())
        with pytest.raises(KieError) as err:
            await kie.record_info("task_1")
    assert err.value.code == 502 and err.value.html


def test_a_progress_out_of_range_is_no_progress():
    record = TaskRecord.model_validate({"taskId": "t", "state": "generating", "progress": 1e999})
    assert record.progress is None
