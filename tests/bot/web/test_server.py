"""The HTTP server against whoever can reach its port: each test runs an attack against a real
server on 127.0.0.1 and checks what the server does about it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import stat
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.http_exceptions import LineTooLong

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.links import callback_token, media_url
from bot.jobs.states import JobState
from bot.web.server import QuietLog
from tests.fakes.fakekie import TaskPlan
from tests.helpers import free_port, make_settings

BOARD = Storyboard(
    shots=(Shot(scene="A kitten", tenths=50), Shot(scene="It smiles", tenths=50)),
    length=10,
    aspect="landscape",
)
HMAC = "whsec-web-tests"
# Short limits so that the attacks take a fraction of a second.
FAST = {"header_timeout_seconds": 0.5, "body_timeout_seconds": 0.5, "max_connections": 500}


@pytest.fixture
def serve(tmp_path, fake, make_runtime):
    """Start a runtime with its HTTP server; ``http`` overrides the [http] settings."""

    async def start(hmac_key: str | None = None, **http):
        port = free_port()
        settings = make_settings(
            tmp_path,
            fake.url,
            http={"public_url": f"http://127.0.0.1:{port}", "port": port, **FAST, **http},
            kie={"webhook_hmac_key": hmac_key} if hmac_key else {},
        )
        rt, _delivery = await make_runtime(settings, serve_http=True)
        await rt.web.start()
        return rt

    return start


async def callback_path(rt, job_id: str = "job1") -> str:
    return f"/kie/callback/{job_id}/{callback_token(await rt.tracker.callback_secret(), job_id)}"


async def raw(rt, data: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", rt.web.port)
    if data:
        writer.write(data)
        await writer.drain()
    return reader, writer


async def until_closed(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server sent until it closed the connection; TimeoutError if it is still open
    after ``seconds``."""
    got = b""
    async with asyncio.timeout(seconds):
        try:
            while chunk := await reader.read(65536):
                got += chunk
        except ConnectionError:  # a reset (the client was still sending): keep what came
            pass
    return got


async def trickle(writer: asyncio.StreamWriter, every: float = 0.05) -> None:
    """Send one byte at a time, forever (until the server hangs up)."""
    with contextlib.suppress(ConnectionError, OSError):
        while True:
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(every)


def close_all(writers) -> None:
    for writer in writers:
        writer.close()


async def serving(rt) -> bool:
    """The server still answers (/healthz says 503 here: these tests run no scheduler loop)."""
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{rt.web.port}/healthz") as resp,
    ):
        return resp.status in (200, 503) and "checks" in await resp.json()


def server_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("aiohttp", "bot.web.server"))]


# -- slow clients ------------------------------------------------------------------------------


async def test_half_sent_headers_are_dropped_after_the_header_timeout(serve):
    rt = await serve()
    conns = [await raw(rt, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a") for _ in range(200)]
    started = time.monotonic()
    try:
        answers = await asyncio.gather(*(until_closed(r, 3.0) for r, _ in conns))
    finally:
        close_all(w for _, w in conns)
    assert time.monotonic() - started < 2.0
    assert all(not a.startswith(b"HTTP/1.1 200") for a in answers)
    assert await serving(rt)


async def test_headers_trickled_a_byte_at_a_time_are_cut_off(serve):
    rt = await serve()
    reader, writer = await raw(rt, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    sender = asyncio.create_task(trickle(writer))
    try:
        started = time.monotonic()
        await until_closed(reader, 3.0)
        assert time.monotonic() - started < 2.0
    finally:
        sender.cancel()
        writer.close()


async def test_a_body_trickled_a_byte_at_a_time_gets_408_and_is_cut_off(serve):
    rt = await serve()
    head = (
        f"POST {await callback_path(rt)} HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    reader, writer = await raw(rt, head.encode())
    sender = asyncio.create_task(trickle(writer))
    try:
        started = time.monotonic()
        answer = await until_closed(reader, 4.0)
        assert time.monotonic() - started < 2.5
    finally:
        sender.cancel()
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408")


async def test_connections_over_the_cap_are_answered_503_and_closed(serve):
    rt = await serve(max_connections=20, header_timeout_seconds=30)
    conns = [await raw(rt) for _ in range(60)]
    try:
        answers = await asyncio.gather(*(until_closed(r, 2.0) for r, _ in conns[20:]))
        assert all(a.startswith(b"HTTP/1.1 503") for a in answers)
        # The first 20 are still open (an idle connection is kept up to the header timeout).
        for reader, _ in conns[:20]:
            with pytest.raises(TimeoutError):
                await until_closed(reader, 0.01)
    finally:
        close_all(w for _, w in conns)
    for _ in range(50):  # the server notices the closed ones within a few loop turns
        with contextlib.suppress(aiohttp.ClientError):
            if await serving(rt):
                break
        await asyncio.sleep(0.02)
    assert await serving(rt)


# -- malformed requests: a 4xx, no traceback, few log lines ------------------------------------


async def test_deeply_nested_json_is_400(serve, caplog):
    caplog.set_level(logging.DEBUG)
    rt = await serve()
    url = f"http://127.0.0.1:{rt.web.port}{await callback_path(rt)}"
    body = "[" * 30_000 + "]" * 30_000
    async with aiohttp.ClientSession() as s, s.post(url, data=body) as resp:
        assert resp.status == 400
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_client_that_hangs_up_mid_body_leaves_no_traceback(serve, caplog):
    caplog.set_level(logging.DEBUG)
    rt = await serve(body_timeout_seconds=5)
    caplog.clear()
    head = f"POST {await callback_path(rt)} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    for _ in range(20):
        _reader, writer = await raw(rt, head.encode() + b'{"data": ')
        await asyncio.sleep(0.01)
        writer.transport.abort()
    await asyncio.sleep(0.3)
    assert not [r for r in caplog.records if r.exc_info]
    assert len(server_records(caplog)) <= 1
    assert await serving(rt)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n",
        b"POST /kie/callback/a/b HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    ],
    ids=["long-header", "long-line", "tls-hello", "bad-header-name", "bad-length"],
)
async def test_a_burst_of_malformed_requests_gets_4xx_and_a_line_or_two(
    serve, caplog, request_bytes
):
    caplog.set_level(logging.DEBUG)
    rt = await serve()
    caplog.clear()
    for _ in range(100):
        reader, writer = await raw(rt, request_bytes)
        answer = await until_closed(reader, 2.0)
        writer.close()
        assert re.match(rb"HTTP/1\.[01] 4\d\d ", answer), answer[:80]
    assert not [r for r in caplog.records if r.exc_info]
    lines = server_records(caplog)
    assert 1 <= len(lines) <= 2, [r.getMessage() for r in lines]
    assert all("\n" not in r.getMessage() and len(r.getMessage()) < 300 for r in lines)
    assert await serving(rt)


def test_the_server_log_says_each_kind_once_per_period_and_counts_the_rest(caplog):
    caplog.set_level(logging.DEBUG, logger="bot.web.test")
    now = [0.0]
    quiet = QuietLog(logging.getLogger("bot.web.test"), every=10.0, clock=lambda: now[0])
    bad = LineTooLong("Header value is too long", "8190", "9000")
    for _ in range(50):
        quiet.exception("Error handling request from %s", "198.51.100.7", exc_info=bad)
    now[0] = 10.0
    quiet.exception("Error handling request from %s", "198.51.100.7", exc_info=bad)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and not [r for r in caplog.records if r.exc_info]
    assert "198.51.100.7" in lines[0] and "LineTooLong" in lines[0]
    assert "49 more" in lines[1]
    # A bug in a handler (not the client's doing) keeps its traceback.
    caplog.clear()
    quiet.exception("Error handling request from %s", "x", exc_info=KeyError("boom"))
    assert [r.exc_info is not None for r in caplog.records] == [True]


# -- replayed callbacks ------------------------------------------------------------------------


async def test_a_replayed_signed_callback_is_refused_and_does_not_wake_the_job(serve, fake, image):
    fake.hmac_key = HMAC
    fake.plan = TaskPlan(duration=500)
    rt = await serve(hmac_key=HMAC)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    task = fake.last_task
    woken = []
    real = rt.tracker.on_callback

    async def spy(job_id, task_id):
        woken.append(job_id)
        return await real(job_id, task_id)

    rt.tracker.on_callback = spy
    ts = int(rt.tracker.clock.now())
    assert await fake.post_callback(task.task_id, timestamp=ts) == 200
    assert woken == [job.id]
    # The same signed callback again, then with another body under the same signature.
    assert await fake.post_callback(task.task_id, timestamp=ts) == 409
    other = {"code": 200, "data": {"taskId": task.task_id, "state": "fail"}}
    assert await fake.post_callback(task.task_id, timestamp=ts, body=other) == 409
    assert woken == [job.id]
    # A fresh one (a new timestamp, signed anew) still gets through.
    assert await fake.post_callback(task.task_id, timestamp=ts + 1) == 200
    assert woken == [job.id, job.id]


async def test_a_forged_callback_takes_no_room_in_the_replay_memory(serve, fake, image):
    fake.hmac_key = HMAC
    fake.plan = TaskPlan(duration=500)
    rt = await serve(hmac_key=HMAC)
    await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    task = fake.last_task
    ts = int(rt.tracker.clock.now())
    assert await fake.post_callback(task.task_id, timestamp=ts, forge=True) == 401
    assert await fake.post_callback(task.task_id, timestamp=ts) == 200


# -- /media ------------------------------------------------------------------------------------


async def _delivered(serve, fake, clock, image):
    fake.plan = TaskPlan(duration=5)
    rt = await serve()
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await fake.fire_callbacks()
    await rt.tracker.run_once()
    job = await rt.store.get_job(job.id)
    assert job.state == JobState.DELIVERED and job.video_path
    return rt, job


async def test_media_is_served_as_a_private_attachment(serve, fake, clock, image):
    rt, job = await _delivered(serve, fake, clock, image)
    url = await rt.tracker.media_url(job.id)
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        assert resp.status == 200
        assert await resp.read() == fake.expected_result()
        assert resp.headers["Content-Type"] == "video/mp4"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Disposition"] == (
            f'attachment; filename="storyboard-{job.id}.mp4"'
        )
        assert "private" in resp.headers["Cache-Control"]


async def test_media_links_do_not_use_the_callback_secret(serve, fake, clock, image):
    rt, job = await _delivered(serve, fake, clock, image)
    base = str(rt.settings.http.public_url)
    expires = clock.now() + 3600
    assert await rt.tracker.media_secret() != await rt.tracker.callback_secret()
    forged = media_url(base, await rt.tracker.callback_secret(), job.id, expires=expires)
    real = media_url(base, await rt.tracker.media_secret(), job.id, expires=expires)
    async with aiohttp.ClientSession() as s:
        async with s.get(forged) as resp:
            assert resp.status == 404
        async with s.get(real) as resp:
            assert resp.status == 200


async def test_media_links_expire_with_the_retention_period(serve, fake, clock, image):
    rt, job = await _delivered(serve, fake, clock, image)
    url = await rt.tracker.media_url(job.id)
    token = url.rsplit("/", 1)[1].removesuffix(".mp4")
    expires = int(token.split("-", 1)[0])
    days = rt.settings.retention.days
    assert abs(expires - (clock.now() + days * 86400)) <= 2
    # Tampering with the expiry breaks the signature.
    later = url.replace(f"/{expires}-", f"/{expires + 86400}-")
    async with aiohttp.ClientSession() as s:
        async with s.get(later) as resp:
            assert resp.status == 404
        clock.advance(days * 86400 + 5)
        async with s.get(url) as resp:
            assert resp.status == 410
            assert "expired" in await resp.text()


# -- file modes --------------------------------------------------------------------------------


async def test_the_database_and_the_media_are_private_to_the_bot(serve, fake, clock, image):
    old = os.umask(0)  # the loosest: every file and folder as open as the code asks
    try:
        rt, job = await _delivered(serve, fake, clock, image)
    finally:
        os.umask(old)
    db = Path(rt.settings.storage.db)
    media = Path(rt.settings.storage.media_dir)
    paths = [
        db,
        Path(f"{db}-wal"),
        Path(f"{db}-shm"),
        media,
        media / "images",
        media / "videos",
        Path(job.image_path),
        Path(job.video_path),
    ]
    modes = {str(p): stat.filemode(p.stat().st_mode) for p in paths if p.exists()}
    assert str(db) in modes and str(job.video_path) in modes
    loose = {p: m for p, m in modes.items() if os.stat(p).st_mode & 0o077}
    assert not loose


async def test_callbacks_still_work(serve, fake, clock, image):
    """The limits leave an ordinary callback alone (a sanity check for the ones above)."""
    fake.hmac_key = HMAC
    fake.plan = TaskPlan(duration=5)
    rt = await serve(hmac_key=HMAC)
    job = await rt.tracker.submit(BOARD, image)
    await rt.tracker.run_once()
    clock.advance(10)
    await fake.fire_callbacks()
    assert [c["status"] for c in fake.callbacks_sent] == [200]
    await rt.tracker.run_once()
    assert (await rt.store.get_job(job.id)).state == JobState.DELIVERED
