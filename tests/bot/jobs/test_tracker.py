"""The job tracker against the fake kie.ai: polling, callbacks, restarts, failures."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import JobState, Store
from bot.media.images import prepare_image
from bot.models.kling import KlingOmni
from bot.models.sora import SoraStoryboard
from tests.fakes.fakekie import KLING_MODEL, SORA_MODEL, TaskPlan
from tests.helpers import RecordingDelivery, free_port, make_settings, png_bytes

BOARD = Storyboard(
    shots=(
        Shot(scene="A fluffy orange kitten wearing headphones", tenths=75),
        Shot(scene="The kitten licks its lips, content", tenths=75),
    ),
    length=15,
    aspect="landscape",
)


async def test_polling_job_submits_the_seed_body_and_delivers_the_video(
    settings, fake, clock, make_runtime, image
):
    fake.plan = TaskPlan(waiting=2, queuing=3, duration=40)
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()

    # kie.ai received the image on its file host, and exactly the seed's body shape.
    assert len(fake.uploads) == 1
    assert fake.uploads[0]["bytes"] == image.data
    assert fake.uploads[0]["fileName"].endswith(".png")
    assert fake.created == [
        {
            "model": "sora-2-pro-storyboard",
            "input": {
                "shots": [
                    {"Scene": "A fluffy orange kitten wearing headphones", "duration": 7.5},
                    {"Scene": "The kitten licks its lips, content", "duration": 7.5},
                ],
                "n_frames": "15",
                "image_urls": [fake.uploads[0]["downloadUrl"]],
                "aspect_ratio": "landscape",
                "upload_method": "s3",
            },
        }
    ]
    job = await rt.store.get_job(job.id)
    assert job.state == JobState.RUNNING and job.task_id == fake.last_task.task_id

    # Follow it with the polling schedule until it ends.
    for _ in range(30):
        clock.advance(5)
        await rt.tracker.run_once()
        if delivery.videos:
            break
    assert [v for _, v in delivery.videos] == [fake.expected_result()]
    job = await rt.store.get_job(job.id)
    assert job.state == JobState.DELIVERED
    assert job.result_url == fake.result_url(job.task_id)  # not the watermarked one
    # A 45 s job read every 10 s: 5 reads, not 15-20 of a fixed 2-3 s poll.
    assert fake.calls["recordInfo"] == job.reads == 5
    # Progress was shown as it changed.
    states = [u.kie_state for u in delivery.updates if u.state == JobState.RUNNING]
    assert "generating" in states


async def test_failed_generation_reports_kie_failmsg(settings, fake, clock, make_runtime, image):
    fake.plan = TaskPlan(
        duration=5,
        outcome="fail",
        fail_code="500",
        fail_msg="We currently do not support uploads of images containing photorealistic people.",
    )
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert job.state == JobState.FAILED
    # The operator's detail keeps kie.ai's words; members read the reason's code.
    assert [(j.fail_code, j.fail_msg) for j in delivery.ended] == [
        (
            "people_in_image",
            "We currently do not support uploads of images containing photorealistic people. "
            "(failCode 500)",
        )
    ]
    assert delivery.videos == []
    # Told once; nothing left to do.
    clock.advance(100)
    await rt.tracker.run_once()
    assert len(delivery.ended) == 1


async def test_record_not_visible_yet_is_not_a_failure(settings, fake, clock, make_runtime, image):
    fake.plan = TaskPlan(null_for=15, duration=20)
    rt, delivery = await make_runtime(settings)
    await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await rt.tracker.run_once()  # "recordInfo is null"
    assert delivery.ended == []
    for _ in range(5):
        clock.advance(10)
        await rt.tracker.run_once()
    assert len(delivery.videos) == 1


async def test_deadline_gives_up_with_a_reason(tmp_path, fake, clock, make_runtime, image):
    settings = make_settings(tmp_path, fake.url, tracker={"deadline_minutes": 1})
    fake.plan = TaskPlan(duration=600)
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    for _ in range(10):
        await rt.tracker.run_once()
        clock.advance(10)
    job = await rt.store.get_job(job.id)
    assert job.state == JobState.EXPIRED
    assert "did not finish within 1 minutes" in delivery.ended[0].fail_msg
    assert job.task_id in delivery.ended[0].fail_msg


async def test_restart_mid_job_finishes_once_with_a_new_tracker(
    settings, fake, clock, make_runtime, image
):
    fake.plan = TaskPlan(duration=30)
    rt1, d1 = await make_runtime(settings)
    job = await rt1.tracker.submit(BOARD, image)
    await rt1.tracker.run_once()
    await rt1.close()  # the process dies with the job running

    clock.advance(40)
    rt2, d2 = await make_runtime(settings)
    assert await rt2.tracker.resume() == 1
    await rt2.tracker.run_once()
    assert [v for _, v in d2.videos] == [fake.expected_result()]
    assert d1.videos == []
    assert len(fake.created) == 1
    assert (await rt2.store.get_job(job.id)).state == JobState.DELIVERED


async def test_restart_after_fetch_delivers_the_stored_video(
    settings, fake, clock, make_runtime, image
):
    fake.plan = TaskPlan(duration=5)
    rt1, _d1 = await make_runtime(settings, RecordingDelivery(fail_times=99))
    job = await rt1.tracker.submit(BOARD, image)
    await rt1.tracker.run_once()
    clock.advance(10)
    await rt1.tracker.run_once()
    # Fetched, and the post failed: a crash now must not fetch again nor post twice.
    assert (await rt1.store.get_job(job.id)).state == JobState.POSTING
    await rt1.close()

    rt2, d2 = await make_runtime(settings)
    await rt2.tracker.resume()
    await rt2.tracker.run_once()
    assert [v for _, v in d2.videos] == [fake.expected_result()]
    assert fake.calls["result"] == 1  # not downloaded again


async def test_crash_while_submitting_is_never_resubmitted(
    settings, fake, clock, make_runtime, image
):
    rt1, _ = await make_runtime(settings)
    job = await rt1.tracker.submit(BOARD, image)
    # The process died after recording "submitting", before createTask's answer was stored.
    await rt1.store.transition(job.id, JobState.QUEUED, JobState.SUBMITTING)
    await rt1.close()

    rt2, d2 = await make_runtime(settings)
    await rt2.tracker.resume()
    await rt2.tracker.run_once()
    job = await rt2.store.get_job(job.id)
    # Polling: no callback can ever name its task, so it is given up at once, truthfully.
    assert (job.state, job.fail_code) == (JobState.EXPIRED, "unknown_no_callback")
    assert fake.create_attempts == []
    assert "may or may not have been accepted" in d2.ended[-1].fail_msg


async def test_create_answered_500_is_unknown_and_not_retried(
    settings, fake, clock, make_runtime, image
):
    fake.fail_after_create(http_status=500)
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert (job.state, job.fail_code) == (JobState.EXPIRED, "unknown_no_callback")
    assert len(fake.create_attempts) == 1  # one charge at most
    assert len(fake.tasks) == 1
    assert delivery.ended[-1].state == JobState.EXPIRED


async def test_create_timeout_is_unknown_and_not_retried(
    tmp_path, fake, clock, make_runtime, image
):
    settings = make_settings(tmp_path, fake.url, kie={"request_timeout": 0.3})
    fake.delay_next("createTask", 2.0)
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.EXPIRED
    assert len(fake.create_attempts) == 1
    assert "did not confirm" in delivery.ended[-1].fail_msg


async def test_stopping_while_create_is_in_flight_records_the_answer(
    settings, fake, clock, make_runtime, image
):
    """A restart or Ctrl-C right after createTask was sent: kie.ai accepted (and charged) the
    task, so its id is recorded before the tracker stops, never lost to a later 'unknown'."""
    fake.delay_next("createTask", 0.3)  # kie.ai has the task; its answer is on the way
    rt, _ = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    rt.tracker.start()
    await asyncio.wait_for(fake.task_created.wait(), 10)
    await rt.tracker.stop()
    job = await rt.store.get_job(job.id)
    assert job.state == JobState.RUNNING
    assert job.task_id == fake.last_task.task_id
    assert len(fake.create_attempts) == 1


async def test_rate_limited_create_is_retried(settings, fake, clock, make_runtime, image):
    fake.fail_next("createTask", code=429, msg="Too Many Requests", times=2)
    rt, _ = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    for _ in range(2):
        await rt.tracker.run_once()
        # Nothing was made: back in the queue (not "being sent") until the window passed.
        waiting = await rt.store.get_job(job.id)
        assert waiting.state == JobState.QUEUED and waiting.fail_code is None
        assert waiting.next_check_at == pytest.approx(clock.now() + 10.0)
        clock.advance(10)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.RUNNING
    assert len(fake.create_attempts) == 3
    assert len(fake.created) == 1


async def test_out_of_credits_is_refused_without_retry(settings, fake, clock, make_runtime, image):
    fake.fail_next("createTask", code=402, msg="Credits insufficient")
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert job.state == JobState.REFUSED
    assert "out of credits" in delivery.ended[0].fail_msg
    assert len(fake.create_attempts) == 1


async def test_maintenance_gives_up_after_bounded_tries(tmp_path, fake, clock, make_runtime, image):
    settings = make_settings(
        tmp_path,
        fake.url,
        kie={"maintenance_retries": 2, "maintenance_backoff": 60.0, "backoff_max": 1000.0},
    )
    fake.fail_next("createTask", code=455, msg="Service Unavailable", times=5)
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    for tries, backoff in ((1, 60.0), (2, 120.0)):
        await rt.tracker.run_once()
        # Nothing was made: back in its place in the queue (not "being sent") meanwhile, its
        # status saying why, until the maintenance backoff (with jitter) has passed.
        waiting = await rt.store.get_job(job.id)
        assert waiting.state == JobState.QUEUED and waiting.fail_code is None
        assert waiting.stall is not None and waiting.stall["tries"] == tries
        assert backoff / 2 <= waiting.next_check_at - clock.now() <= backoff
        assert delivery.updates[-1].stall == waiting.stall  # the status is redrawn
        clock.advance(backoff)
    await rt.tracker.run_once()
    assert len(fake.create_attempts) == 3 and fake.created == []
    assert "under maintenance" in delivery.ended[0].fail_msg


async def test_a_restart_while_kie_is_under_maintenance_sends_the_job_again(
    tmp_path, fake, clock, make_runtime, image
):
    # The maintenance wait is spent in the queue, not inside a createTask "being sent": a
    # crash meanwhile finds the job unsent, and the next start sends it (once).
    settings = make_settings(tmp_path, fake.url, kie={"maintenance_backoff": 60.0})
    fake.fail_next("createTask", code=455, msg="Service Unavailable")
    rt, _ = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.QUEUED
    await rt.close()
    rt2, _ = await make_runtime(settings)
    await rt2.tracker.resume()
    await rt2.tracker.run_once()
    again = await rt2.store.get_job(job.id)
    assert again.state == JobState.RUNNING and again.stall is None
    assert len(fake.create_attempts) == 2 and len(fake.created) == 1


async def test_cancel_before_submission(settings, fake, clock, make_runtime, image):
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    assert await rt.tracker.cancel(job.id)
    await rt.tracker.run_once()
    assert fake.create_attempts == []
    assert delivery.ended[0].state == JobState.CANCELLED
    # Once kie.ai has it, it cannot be cancelled.
    job2 = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    assert not await rt.tracker.cancel(job2.id)


# -- falling back to the second model -------------------------------------------------------
async def test_paused_primary_falls_back_to_kling_and_is_remembered(
    settings, fake, clock, make_runtime, image
):
    fake.pause_model(SORA_MODEL)
    fake.plan = TaskPlan(duration=5)
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert job.model == KLING_MODEL and job.fallback_from == SORA_MODEL
    assert job.credits == 14 * 15  # charged at the fallback's price
    assert [b["model"] for b in fake.create_attempts] == [SORA_MODEL, KLING_MODEL]
    body = fake.created[0]["input"]
    assert body["multi_prompt"] == [
        {"prompt": "A fluffy orange kitten wearing headphones", "duration": 8},
        {"prompt": "The kitten licks its lips, content", "duration": 7},
    ]
    assert body["duration"] == 15 and body["aspect_ratio"] == "16:9"
    assert any(u.fallback_from == SORA_MODEL for u in delivery.updates)
    clock.advance(10)
    await rt.tracker.run_once()
    assert len(delivery.videos) == 1

    # The next job does not knock on the closed door first...
    await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    assert [b["model"] for b in fake.create_attempts][2:] == [KLING_MODEL]
    # ...until the memory of it runs out (10 minutes).
    clock.advance(601)
    await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    assert [b["model"] for b in fake.create_attempts][3:] == [SORA_MODEL, KLING_MODEL]


async def test_paused_without_fallback_says_how_to_configure(
    tmp_path, fake, clock, make_runtime, image
):
    settings = make_settings(tmp_path, fake.url, kie={"fallback_model": ""})
    fake.pause_model(SORA_MODEL)
    rt, delivery = await make_runtime(settings)
    await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    msg = delivery.ended[0].fail_msg
    assert "paused" in msg and "KIE_FALLBACK_MODEL" in msg
    assert [b["model"] for b in fake.create_attempts] == [SORA_MODEL]


async def test_storyboard_beyond_the_fallback_is_refused_naming_the_limit(
    tmp_path, fake, clock, make_runtime, image
):
    # Sora takes 8 shots in one video; Kling only as a chain, which [storyboards] forbids here.
    settings = make_settings(tmp_path, fake.url, storyboards={"max_shots": 6})
    fake.pause_model(SORA_MODEL)
    board = Storyboard(shots=tuple(Shot(scene=f"shot {i}", tenths=20) for i in range(8)), length=25)
    rt, delivery = await make_runtime(settings)
    await rt.tracker.submit(board, image)
    await rt.tracker.run_once()
    msg = delivery.ended[0].fail_msg
    assert "1 to 6 shots" in msg and "has 8" in msg
    assert [b["model"] for b in fake.create_attempts] == [SORA_MODEL]


async def test_generic_500_on_create_never_falls_back(settings, fake, clock, make_runtime, image):
    fake.fail_next("createTask", code=500, msg="Internal Error")
    rt, _delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.EXPIRED  # unknown, given up
    assert [b["model"] for b in fake.create_attempts] == [SORA_MODEL]


async def test_kling_as_primary_converts_webp_and_renders(tmp_path, fake, clock, make_runtime):
    settings = make_settings(tmp_path, fake.url, kie={"model": KLING_MODEL})
    webp = prepare_image(png_bytes(fmt="WEBP"), SoraStoryboard.image_spec)
    assert webp.format == "WEBP"
    fake.plan = TaskPlan(duration=5)
    rt, delivery = await make_runtime(settings)
    await rt.tracker.submit(BOARD.model_copy(update={"aspect": "portrait"}), webp)
    await rt.tracker.run_once()
    assert fake.uploads[0]["fileName"].endswith((".png", ".jpg"))
    assert fake.created[0]["input"]["aspect_ratio"] == "9:16"
    clock.advance(10)
    await rt.tracker.run_once()
    assert len(delivery.videos) == 1
    assert KlingOmni.image_spec.formats == frozenset({"JPEG", "PNG"})


# -- by callback -----------------------------------------------------------------------------
async def _callback_runtime(tmp_path, fake, make_runtime, *, hmac_key=None):
    port = free_port()
    kie = {"webhook_hmac_key": hmac_key} if hmac_key else {}
    settings = make_settings(
        tmp_path,
        fake.url,
        http={"public_url": f"http://127.0.0.1:{port}", "port": port, "max_callback_bytes": 4096},
        kie=kie,
    )
    rt, delivery = await make_runtime(settings, serve_http=True)
    await rt.web.start()
    return rt, delivery


async def test_callback_wakes_the_job_and_costs_one_read(
    tmp_path, fake, clock, make_runtime, image
):
    fake.plan = TaskPlan(duration=30, callbacks=2)  # kie.ai repeats itself
    rt, delivery = await _callback_runtime(tmp_path, fake, make_runtime)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    body = fake.created[0]
    assert body["callBackUrl"].startswith(
        f"{str(rt.settings.http.public_url).rstrip('/')}/kie/callback/{job.id}/"
    )

    clock.advance(31)
    await fake.fire_callbacks()
    assert [c["status"] for c in fake.callbacks_sent] == [200, 200]
    await rt.tracker.run_once()
    assert [v for _, v in delivery.videos] == [fake.expected_result()]
    # No polling happened before the callback: the only read confirmed it.
    assert fake.calls["recordInfo"] == 1


async def test_callback_checks(tmp_path, fake, clock, make_runtime, image):
    fake.hmac_key = "whsec"
    fake.plan = TaskPlan(duration=5)
    rt, delivery = await _callback_runtime(tmp_path, fake, make_runtime, hmac_key="whsec")
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    task = fake.last_task
    clock.advance(10)
    good_url = task.callback_url
    bad_url = good_url.rsplit("/", 1)[0] + "/" + "0" * 32

    # Wrong token, forged signature, stale timestamp: refused and the job is not woken.
    assert await fake.post_callback(task.task_id, url=bad_url) == 404
    assert await fake.post_callback(task.task_id, forge=True) == 401
    assert await fake.post_callback(task.task_id, timestamp=1) == 401
    assert await fake.post_callback(task.task_id, signed=False) == 401
    await rt.tracker.run_once()
    assert fake.calls["recordInfo"] == 0 and delivery.videos == []

    # Too large a body is refused before it is read.
    huge = {"data": {"taskId": task.task_id, "pad": "x" * 10_000}}
    assert await fake.post_callback(task.task_id, body=huge) == 413

    # The task id may come as data.task_id or top-level taskId.
    alt = {"code": 200, "taskId": task.task_id, "data": {"state": "success"}}
    assert await fake.post_callback(task.task_id, body=alt) == 200
    await rt.tracker.run_once()
    assert len(delivery.videos) == 1
    assert (await rt.store.get_job(job.id)).state == JobState.DELIVERED


async def test_callback_reconciles_an_unknown_create(tmp_path, fake, clock, make_runtime, image):
    fake.plan = TaskPlan(duration=5)
    fake.fail_after_create(http_status=0)  # connection dropped after kie.ai created the task
    rt, _delivery = await _callback_runtime(tmp_path, fake, make_runtime)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.UNKNOWN

    clock.advance(10)
    await fake.fire_callbacks()
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert job.state == JobState.DELIVERED and job.task_id == fake.last_task.task_id
    assert len(fake.create_attempts) == 1


async def test_stray_callback_for_another_task_is_ignored(
    tmp_path, fake, clock, make_runtime, image
):
    fake.plan = TaskPlan(duration=500)
    rt, delivery = await _callback_runtime(tmp_path, fake, make_runtime)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    url = fake.last_task.callback_url
    stray = {"code": 200, "data": {"taskId": "task_someone_else", "state": "success"}}
    assert await fake.post_callback("x", url=url, body=stray) == 200
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.RUNNING
    assert delivery.videos == []


async def test_healthz(tmp_path, fake, make_runtime):
    rt, _ = await _callback_runtime(tmp_path, fake, make_runtime)
    rt.tracker.start()
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{rt.web.port}/healthz") as resp,
    ):
        assert resp.status == 200
        body = json.loads(await resp.text())
    assert body["ok"] is True
    assert body["checks"]["database"] == {"ok": True, "detail": "answers"}
    assert body["checks"]["scheduler"] == {"ok": True, "detail": "running"}


async def test_store_survives_reopen(tmp_path):
    store = await Store.open(tmp_path / "x.db")
    job = await store.create_job(model="m", storyboard=BOARD, image_path="i.png", deadline_at=1.0)
    await store.close()
    store = await Store.open(Path(tmp_path / "x.db"))
    again = await store.get_job(job.id)
    assert again.storyboard == BOARD
    await store.close()


async def test_media_route_serves_the_video_under_an_unguessable_url(
    tmp_path, fake, clock, make_runtime, image
):
    fake.plan = TaskPlan(duration=5)
    rt, delivery = await _callback_runtime(tmp_path, fake, make_runtime)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await fake.fire_callbacks()
    await rt.tracker.run_once()
    assert delivery.videos
    base = f"http://127.0.0.1:{rt.web.port}"
    url = await rt.tracker.media_url(job.id)
    assert url.startswith(f"{base}/media/{job.id}/")
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "video/mp4"
            assert await resp.read() == fake.expected_result()
        async with s.get(f"{base}/media/{job.id}/{'0' * 32}.mp4") as resp:
            assert resp.status == 404
        Path((await rt.store.get_job(job.id)).video_path).unlink()
        async with s.get(url) as resp:
            assert resp.status == 410
            assert "retention policy" in await resp.text()


# -- quotas: what a job's end does to its reservation ------------------------------------------
async def _reserved_job(rt, image, board=BOARD):
    job_id = "a1b2c3d4e5f6"
    await rt.quotas.reserve(
        job_id=job_id,
        guild_id=1,
        user_id=2,
        channel_id=3,
        role_ids=[],
        board=board,
        model_name=rt.models.primary.name,
        credits=rt.models.primary.price(board),
        now=rt.tracker.clock.now(),
    )
    return await rt.tracker.submit(board, image, id=job_id, guild_id=1, owner_id=2)


async def test_delivered_job_is_charged(settings, fake, clock, make_runtime, image):
    fake.plan = TaskPlan(duration=5)
    rt, delivery = await make_runtime(settings)
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await rt.tracker.run_once()
    assert delivery.videos
    assert await rt.quotas.usage_state(job.id) == "charged"


async def test_failed_and_refused_jobs_are_released(settings, fake, clock, make_runtime, image):
    fake.plan = TaskPlan(duration=5, outcome="fail")
    rt, _ = await make_runtime(settings)
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.FAILED
    assert await rt.quotas.usage_state(job.id) == "released"


def _with_callbacks(tmp_path, fake):
    port = free_port()
    return make_settings(
        tmp_path, fake.url, http={"public_url": f"http://127.0.0.1:{port}", "port": port}
    )


async def test_unknown_outcome_keeps_its_reservation_while_a_callback_may_come(
    tmp_path, fake, clock, make_runtime, image
):
    fake.fail_after_create(http_status=500)
    rt, _ = await make_runtime(_with_callbacks(tmp_path, fake))
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.UNKNOWN
    assert await rt.quotas.usage_state(job.id) == "reserved"


async def test_unknown_outcome_without_callbacks_is_settled_at_once_and_counts(
    settings, fake, clock, make_runtime, image
):
    # Polling: nothing can ever find the task; the member's slot is not held for 30 minutes.
    fake.fail_after_create(http_status=500)
    rt, delivery = await make_runtime(settings)
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert (job.state, job.fail_code) == (JobState.EXPIRED, "unknown_no_callback")
    assert "STORYBOARD_PUBLIC_URL" in job.fail_msg
    assert await rt.quotas.usage_state(job.id) == "charged"  # kie.ai may have charged
    assert [j.id for j in delivery.ended] == [job.id]
    assert len(fake.create_attempts) == 1


async def test_a_fallback_reprices_the_reservation(settings, fake, clock, make_runtime, image):
    fake.pause_model(SORA_MODEL)
    rt, _ = await make_runtime(settings)
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    async with rt.store.db.execute(
        "SELECT model, credits FROM usage WHERE job_id = ?", (job.id,)
    ) as cur:
        row = await cur.fetchone()
    assert (row["model"], row["credits"]) == (KLING_MODEL, 14 * 15)


async def test_restart_settles_reservations_a_crash_left_behind(
    settings, fake, clock, make_runtime, image
):
    fake.plan = TaskPlan(duration=5, outcome="fail")
    rt1, _ = await make_runtime(settings)
    job = await _reserved_job(rt1, image)
    # The process died after reserving a second video but before its job existed.
    await rt1.quotas.reserve(
        job_id="0f0f0f0f0f0f",
        guild_id=1,
        user_id=5,
        channel_id=3,
        role_ids=[],
        board=BOARD,
        model_name=rt1.models.primary.name,
        credits=270,
        now=clock.now(),
    )
    await rt1.tracker.run_once()
    clock.advance(10)
    rt1.tracker.ledger = None  # the failure is recorded, but settling it is lost in the crash
    await rt1.tracker.run_once()
    assert (await rt1.store.get_job(job.id)).state == JobState.FAILED
    assert await rt1.quotas.usage_state(job.id) == "reserved"
    await rt1.close()

    clock.advance(601)
    rt2, _ = await make_runtime(settings)
    await rt2.tracker.resume()
    assert await rt2.quotas.usage_state(job.id) == "released"  # a failure does not count
    assert await rt2.quotas.usage_state("0f0f0f0f0f0f") == "released"  # no job: released


# -- live kie.ai's answers ---------------------------------------------------------------------


async def test_a_validation_500_ends_the_job_at_once_and_releases_the_reservation(
    settings, fake, clock, make_runtime, image, caplog
):
    # kie.ai answers "This field is required" for a missing field (e.g. upload_method).
    fake.fail_next("createTask", code=500, msg="aspect_ratio is required")
    rt, delivery = await make_runtime(settings)
    job = await _reserved_job(rt, image)
    caplog.set_level("WARNING", logger="bot.tracker")
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert (job.state, job.fail_code) == (JobState.REFUSED, "invalid_request")
    assert "aspect_ratio is required" in job.fail_msg and "field: aspect_ratio" in job.fail_msg
    assert await rt.quotas.usage_state(job.id) == "released"
    assert [j.id for j in delivery.ended] == [job.id]
    assert len(fake.create_attempts) == 1 and fake.created == []
    assert any("field: aspect_ratio" in r.getMessage() for r in caplog.records)
    # Nothing more happens to it: no second createTask.
    clock.advance(3600)
    await rt.tracker.run_once()
    assert len(fake.create_attempts) == 1


async def test_another_500_stays_unknown_and_is_never_resent(tmp_path, fake, make_runtime, image):
    fake.fail_next("createTask", code=500, msg="Internal Server Error")
    rt, _ = await make_runtime(_with_callbacks(tmp_path, fake))
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.UNKNOWN
    assert await rt.quotas.usage_state(job.id) == "reserved"
    assert len(fake.create_attempts) == 1


@pytest.mark.parametrize("status", [422, 404])
async def test_a_removed_sora_falls_back_to_kling(
    settings, fake, clock, make_runtime, image, status
):
    fake.remove_model(SORA_MODEL, status=status)
    fake.plan = TaskPlan(duration=5)
    rt, delivery = await make_runtime(settings)
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert (job.state, job.model, job.fallback_from) == (
        JobState.DELIVERED,
        KLING_MODEL,
        SORA_MODEL,
    )
    assert [b["model"] for b in fake.create_attempts] == [SORA_MODEL, KLING_MODEL]
    assert len(fake.created) == 1 and delivery.videos
    assert await rt.quotas.usage_state(job.id) == "charged"


@pytest.mark.parametrize(
    ("setting", "value", "rule"),
    [
        ("models", "sora-2-pro-storyboard", "model"),
        ("resolutions", "720p", "resolution"),
        ("audio", "false", "audio"),
        ("guild_monthly_credits", "300", "guild_budget"),
    ],
)
async def test_the_fallback_obeys_the_guilds_rules(
    tmp_path, fake, clock, make_runtime, image, setting, value, rule
):
    # Kling set to 4k with audio: 67 credits/s x 15 s = 1005 credits.
    settings = make_settings(tmp_path, fake.url, kling={"resolution": "4k", "audio": True})
    fake.remove_model(SORA_MODEL)
    rt, delivery = await make_runtime(settings)
    await rt.quotas.set(1, setting, value, actor_id=9)
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert (job.state, job.fail_code) == (JobState.REFUSED, "fallback_refused")
    assert job.fail_params["rule"] == rule
    assert job.model == SORA_MODEL  # never switched
    assert [b["model"] for b in fake.create_attempts] == [SORA_MODEL]
    assert await rt.quotas.usage_state(job.id) == "released"
    assert [j.id for j in delivery.ended] == [job.id]


async def test_a_cdn_page_on_create_is_a_refusal_with_nothing_held(
    settings, fake, make_runtime, image
):
    fake.html_next("createTask", status=403)
    rt, _ = await make_runtime(settings)
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert (job.state, job.fail_code) == (JobState.REFUSED, "kie_blocked")
    assert await rt.quotas.usage_state(job.id) == "released"
    assert fake.created == []


def _closed_upload_host(tmp_path, fake):
    """Settings whose upload host refuses connections, and that host."""
    closed = f"127.0.0.1:{free_port()}"
    kie = {"upload_url": f"http://{closed}", "max_retries": 0, "backoff_base": 0}
    return closed, make_settings(tmp_path, fake.url, kie=kie)


async def test_an_unreachable_upload_host_is_retried_until_the_bound_then_refused(
    tmp_path, fake, clock, make_runtime, image
):
    closed, settings = _closed_upload_host(tmp_path, fake)
    rt, delivery = await make_runtime(settings, unreachable_give_up=60)
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert job.state == JobState.QUEUED
    assert job.stall["host"] == closed and job.stall["setting"] == "KIE_UPLOAD_URL"
    assert job.stall["until"] == job.stall["since"] + 60
    assert [j.stall["host"] for j in delivery.updates] == [closed]  # the member is told once
    clock.advance(30)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.QUEUED
    clock.advance(30)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert (job.state, job.fail_code) == (JobState.REFUSED, "unreachable")
    assert closed in job.fail_msg and "KIE_UPLOAD_URL" in job.fail_msg
    assert await rt.quotas.usage_state(job.id) == "released"
    assert fake.create_attempts == []


async def test_the_bot_keeps_trying_an_unreachable_host_until_the_deadline(
    tmp_path, fake, clock, make_runtime, image
):
    _, settings = _closed_upload_host(tmp_path, fake)
    rt, _ = await make_runtime(settings)
    job = await _reserved_job(rt, image)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert job.stall["until"] == job.deadline_at
    clock.advance(600)
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.QUEUED
    clock.advance(job.deadline_at - clock.now())
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert (job.state, job.fail_code) == (JobState.REFUSED, "unreachable")


async def test_a_result_link_the_bot_will_not_fetch_ends_the_job_at_once(
    tmp_path, fake, clock, make_runtime, image
):
    # kie.ai's answer points at a plain-http, loopback address: never fetched, not retried.
    settings = make_settings(tmp_path, fake.url, kie={"insecure_result_hosts": []})
    fake.plan = TaskPlan(duration=5)
    rt, delivery = await make_runtime(settings)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert (job.state, job.fail_code) == (JobState.UNDELIVERABLE, "download")
    assert fake.calls["result"] == 0
    assert [j.id for j in delivery.ended] == [job.id]


async def test_a_stored_image_is_not_prepared_again_unless_the_model_needs_it(
    settings, fake, clock, make_runtime, monkeypatch
):
    import bot.jobs.submit as submit_step

    prepared: list[str] = []
    real = submit_step.prepare_image_async

    async def counting(data, spec):  # type: ignore[no-untyped-def]
        prepared.append(sorted(spec.formats)[0])
        return await real(data, spec)

    monkeypatch.setattr(submit_step, "prepare_image_async", counting)
    fake.plan = TaskPlan(duration=5)
    rt, _ = await make_runtime(settings)
    png = prepare_image(png_bytes(), SoraStoryboard.image_spec)
    await rt.tracker.submit(BOARD, png)
    await rt.tracker.run_once()
    assert prepared == []  # prepared once, when it was stored: uploaded as it is
    assert fake.uploads[-1]["bytes"] == png.data

    # A WEBP fits Sora but not Kling (the fallback): prepared again, for Kling only.
    fake.remove_model(SORA_MODEL)
    webp = prepare_image(png_bytes(fmt="WEBP"), SoraStoryboard.image_spec)
    await rt.tracker.submit(BOARD, webp)
    await rt.tracker.run_once()
    assert prepared == ["JPEG"]  # Kling's spec (JPEG, PNG)
    assert fake.uploads[-1]["fileName"].endswith((".png", ".jpg"))
