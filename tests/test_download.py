"""Streaming a result to disk: the size cap without a Content-Length, slow and stalled servers,
leftovers, and messages that never show a link's query string."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.download import DownloadError, download_file, safe_url
from tests.helpers import free_port

CHUNK = bytes(range(256)) * 4  # 1 KiB


@pytest.fixture
async def server() -> AsyncIterator[str]:
    release = asyncio.Event()

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # no Content-Length: chunked transfer encoding
        await resp.prepare(request)
        for _ in range(int(request.match_info["kib"])):
            await resp.write(CHUNK)
        await resp.write_eof()
        return resp

    async def slow(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 6 * len(CHUNK)
        await resp.prepare(request)
        for _ in range(6):
            await resp.write(CHUNK)
            await asyncio.sleep(0.05)
        await resp.write_eof()
        return resp

    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 10 * len(CHUNK)
        await resp.prepare(request)
        await resp.write(CHUNK)
        await release.wait()
        return resp

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="nope")

    app = web.Application()
    app.router.add_get("/chunked/{kib}", chunked)
    app.router.add_get("/slow", slow)
    app.router.add_get("/stall", stall)
    app.router.add_get("/status/{code}", status)
    async with TestServer(app, host="127.0.0.1") as srv:
        yield str(srv.make_url("")).rstrip("/")
        release.set()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    # Like KieClient's session: a short total timeout meant for API calls.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.15)) as s:
        yield s


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def test_a_chunked_download_is_written_whole(server, session, tmp_path):
    dest = tmp_path / "v" / "out.mp4"
    size = await download_file(session, f"{server}/chunked/20", dest, max_bytes=20 * 1024)
    assert size == 20 * 1024
    assert dest.read_bytes() == CHUNK * 20
    assert leftovers(dest.parent) == ["out.mp4"]


async def test_the_cap_holds_without_a_content_length(server, session, tmp_path):
    dest = tmp_path / "v" / "out.mp4"
    with pytest.raises(DownloadError, match="cap"):
        await download_file(session, f"{server}/chunked/20", dest, max_bytes=20 * 1024 - 1)
    assert leftovers(dest.parent) == []


async def test_a_failed_download_keeps_an_earlier_file_and_replaces_a_stale_part(
    server, session, tmp_path
):
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"earlier")
    with pytest.raises(DownloadError):
        await download_file(session, f"{server}/chunked/4", dest, max_bytes=100)
    assert dest.read_bytes() == b"earlier"

    (tmp_path / "out.mp4.part").write_bytes(b"junk from a crash" * 1000)
    assert await download_file(session, f"{server}/chunked/4", dest, max_bytes=10_000) == 4096
    assert dest.read_bytes() == CHUNK * 4
    assert leftovers(tmp_path) == ["out.mp4"]


async def test_a_long_but_steady_download_is_not_cut_off_by_the_api_timeout(
    server, session, tmp_path
):
    # 0.3 s of steady transfer with a session whose total timeout is 0.15 s.
    dest = tmp_path / "out.mp4"
    assert await download_file(session, f"{server}/slow", dest, max_bytes=10**6) == 6 * 1024
    assert dest.read_bytes() == CHUNK * 6


async def test_a_stalled_download_fails_and_leaves_nothing(server, session, tmp_path):
    dest = tmp_path / "out.mp4"
    with pytest.raises(DownloadError) as err:
        await download_file(session, f"{server}/stall?sig=s3cret", dest, max_bytes=10**6)
    assert "s3cret" not in str(err.value)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("code", [403, 404, 500])
async def test_an_error_status_is_a_download_error_without_the_query(
    server, session, tmp_path, code
):
    url = f"{server}/status/{code}?X-Amz-Signature=s3cret&token=abc#frag"
    with pytest.raises(DownloadError) as err:
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6)
    assert str(code) in str(err.value)
    assert f"/status/{code}" in str(err.value)
    for secret in ("s3cret", "abc", "?", "frag"):
        assert secret not in str(err.value)
    assert leftovers(tmp_path) == []


async def test_an_unreachable_host_is_a_download_error(session, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v.mp4?token=s3cret"
    with pytest.raises(DownloadError) as err:
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://host/v.mp4", "javascript:alert(1)", "/relative/v.mp4"]
)
async def test_only_http_links_are_fetched(session, tmp_path, url):
    with pytest.raises(DownloadError, match="non-http"):
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://cdn.example.com/a/b.mp4?sig=1&exp=2", "https://cdn.example.com/a/b.mp4"),
        ("https://user:pw@cdn.example.com/b.mp4#x", "https://cdn.example.com/b.mp4"),
        ("http://127.0.0.1:8123/results/t.mp4?x=1", "http://127.0.0.1:8123/results/t.mp4"),
        ("http://[::1]:8080/v.mp4?x=1", "http://[::1]:8080/v.mp4"),
    ],
)
def test_safe_url(url, safe):
    assert safe_url(url) == safe
