"""Fetching a result: the size cap without a Content-Length, slow and stalled servers,
leftovers, messages that never show a link's query string, and where a link may point: https
only, public addresses only (checked after DNS and at every redirect), an mp4 body."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config.settings import KieSettings
from bot.domain.errors import Ref
from bot.i18n import catalog
from bot.i18n.strings import error_text
from bot.media.download import (
    DownloadError,
    FetchPolicy,
    UnsafeURLError,
    address_refusal,
    download_file,
    safe_url,
)
from bot.media.images import ImageError, fetch_image
from tests.fakes.fakekie import MP4_HEAD
from tests.helpers import free_port

# 1 KiB that starts like an mp4 (its ftyp box); every body the server sends repeats it.
CHUNK = (MP4_HEAD + bytes(range(256)) * 4)[:1024]
# The server's own address may be fetched (over http) only where a test says so.
LOCAL = FetchPolicy(insecure_hosts=frozenset({"127.0.0.1"}))


class DNS:
    """A fake lookup: names -> addresses, every question remembered. Unknown names fail."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[tuple[Any, ...]]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = []
        for address in self.table[host]:
            if ipaddress.ip_address(address).version == 6:
                answer.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                answer.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return answer


class Server:
    def __init__(self, url: str) -> None:
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.hits: list[str] = []

    def via(self, host: str) -> str:
        """The server's URL with ``host`` in it (resolved by a fake DNS to 127.0.0.1)."""
        return f"http://{host}:{self.port}"


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    release = asyncio.Event()
    hits: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        hits.append(request.path)
        return await handler(request)

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

    async def body(request: web.Request) -> web.Response:
        bodies = {
            "page": b"<!doctype html><html><body>Not a video</body></html>",
            "tiny": b"\0\0\0",
            "late-ftyp": b"fake-mp4-bytes\x00\x00\x00\x18ftypmp42" + bytes(64),
        }
        return web.Response(body=bodies[request.match_info["name"]])

    async def redirect(request: web.Request) -> web.Response:
        code = int(request.query.get("code", "302"))
        return web.Response(status=code, headers={"Location": request.query["to"]})

    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    app = web.Application(middlewares=[record])
    app.router.add_get("/chunked/{kib}", chunked)
    app.router.add_get("/slow", slow)
    app.router.add_get("/stall", stall)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/body/{name}", body)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/loop", loop)
    async with TestServer(app, host="127.0.0.1") as srv:
        s = Server(str(srv.make_url("")).rstrip("/"))
        s.hits = hits
        yield s
        release.set()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    # Like KieClient's session: a short total timeout meant for API calls (connecting may take
    # longer on a loaded machine: that is not what these tests are about).
    timeout = aiohttp.ClientTimeout(total=0.15, sock_connect=5)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        yield s


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- streaming ---------------------------------------------------------------------------------


async def test_a_chunked_download_is_written_whole(server, session, tmp_path):
    dest = tmp_path / "v" / "out.mp4"
    url = f"{server.url}/chunked/20"
    size = await download_file(session, url, dest, max_bytes=20 * 1024, policy=LOCAL)
    assert size == 20 * 1024
    assert dest.read_bytes() == CHUNK * 20
    assert leftovers(dest.parent) == ["out.mp4"]


async def test_the_cap_holds_without_a_content_length(server, session, tmp_path):
    dest = tmp_path / "v" / "out.mp4"
    with pytest.raises(DownloadError, match="cap"):
        await download_file(
            session, f"{server.url}/chunked/20", dest, max_bytes=20 * 1024 - 1, policy=LOCAL
        )
    assert leftovers(dest.parent) == []


async def test_a_failed_download_keeps_an_earlier_file_and_replaces_a_stale_part(
    server, session, tmp_path
):
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"earlier")
    url = f"{server.url}/chunked/4"
    with pytest.raises(DownloadError):
        await download_file(session, url, dest, max_bytes=100, policy=LOCAL)
    assert dest.read_bytes() == b"earlier"

    (tmp_path / "out.mp4.part").write_bytes(b"junk from a crash" * 1000)
    assert await download_file(session, url, dest, max_bytes=10_000, policy=LOCAL) == 4096
    assert dest.read_bytes() == CHUNK * 4
    assert leftovers(tmp_path) == ["out.mp4"]


async def test_a_long_but_steady_download_is_not_cut_off_by_the_api_timeout(
    server, session, tmp_path
):
    # 0.3 s of steady transfer with a session whose total timeout is 0.15 s.
    dest = tmp_path / "out.mp4"
    size = await download_file(session, f"{server.url}/slow", dest, max_bytes=10**6, policy=LOCAL)
    assert size == 6 * 1024
    assert dest.read_bytes() == CHUNK * 6


async def test_a_stalled_download_fails_and_leaves_nothing(server, session, tmp_path):
    dest = tmp_path / "out.mp4"
    with pytest.raises(DownloadError) as err:
        await download_file(
            session, f"{server.url}/stall?sig=s3cret", dest, max_bytes=10**6, policy=LOCAL
        )
    assert "s3cret" not in str(err.value)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("code", [403, 404, 500])
async def test_an_error_status_is_a_download_error_without_the_query(
    server, session, tmp_path, code
):
    url = f"{server.url}/status/{code}?X-Amz-Signature=s3cret&token=abc#frag"
    with pytest.raises(DownloadError) as err:
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6, policy=LOCAL)
    assert str(code) in str(err.value)
    assert f"/status/{code}" in str(err.value)
    for secret in ("s3cret", "abc", "?", "frag"):
        assert secret not in str(err.value)
    assert leftovers(tmp_path) == []


async def test_an_unreachable_host_is_a_download_error(session, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v.mp4?token=s3cret"
    with pytest.raises(DownloadError) as err:
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6, policy=LOCAL)
    assert "s3cret" not in str(err.value)


async def test_a_name_that_does_not_resolve_is_a_download_error(session, tmp_path):
    dns = DNS({})
    url = "https://nowhere.example.com/v.mp4?token=s3cret"
    with pytest.raises(DownloadError, match=r"cannot resolve nowhere\.example\.com") as err:
        await download_file(
            session, url, tmp_path / "out.mp4", max_bytes=10**6, policy=FetchPolicy(lookup=dns)
        )
    assert "s3cret" not in str(err.value)
    assert not isinstance(err.value, UnsafeURLError)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://host/v.mp4", "javascript:alert(1)", "/relative/v.mp4"]
)
async def test_only_http_links_are_fetched(session, tmp_path, url):
    with pytest.raises(UnsafeURLError, match="non-http"):
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6, policy=LOCAL)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://cdn.example.com/a/b.mp4?sig=1&exp=2", "https://cdn.example.com/a/b.mp4"),
        ("https://user:pw@cdn.example.com/b.mp4#x", "https://cdn.example.com/b.mp4"),
        ("http://127.0.0.1:8123/results/t.mp4?x=1", "http://127.0.0.1:8123/results/t.mp4"),
        ("http://[::1]:8080/v.mp4?x=1", "http://[::1]:8080/v.mp4"),
        ("http://[::1/v.mp4", "(invalid link)"),
    ],
)
def test_safe_url(url, safe):
    assert safe_url(url) == safe


# -- https only --------------------------------------------------------------------------------


async def test_a_plain_http_link_is_refused_with_the_default_settings(server, session, tmp_path):
    dns = DNS({"cdn.example.com": ["127.0.0.1"]})
    default = FetchPolicy.from_settings(KieSettings())
    policy = FetchPolicy(insecure_hosts=default.insecure_hosts, lookup=dns)
    url = f"{server.via('cdn.example.com')}/chunked/1?sig=s3cret"
    with pytest.raises(UnsafeURLError, match="plain-http") as err:
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6, policy=policy)
    assert "s3cret" not in str(err.value)
    assert dns.asked == [] and server.hits == []  # refused before any lookup or connection
    assert leftovers(tmp_path) == []


async def test_the_policy_default_is_https_and_public_addresses_only():
    assert FetchPolicy.from_settings(KieSettings()) == FetchPolicy()
    assert KieSettings().insecure_result_hosts == []


def test_insecure_result_hosts_are_host_names_without_scheme_or_port():
    hosts = KieSettings(insecure_result_hosts=[" Mirror.LAN ", "127.0.0.1", "[::1]"])
    assert hosts.insecure_result_hosts == ["mirror.lan", "127.0.0.1", "::1"]
    for bad in ["http://mirror.lan", "mirror.lan:8080", "mirror.lan/videos", "", "user@host"]:
        with pytest.raises(ValueError, match="without a scheme, port or path"):
            KieSettings(insecure_result_hosts=[bad])


# -- public addresses only: literals, and every address a name resolves to --------------------


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("[::1]", "a loopback address"),
        ("[::ffff:127.0.0.1]", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("[fe80::1]", "a link-local address"),
        ("10.0.0.5", "a private address"),
        ("192.168.1.10", "a private address"),
        ("172.16.0.1", "a private address"),
        ("[fd00::1]", "a private address"),
        ("0.0.0.0", "an unspecified address"),
        ("100.64.0.1", "not a public address"),
        ("240.0.0.1", "a reserved address"),
        ("224.0.0.1", "a multicast address"),
    ],
)
async def test_an_address_that_is_not_public_is_refused(server, session, tmp_path, host, why):
    url = f"https://{host}:{server.port}/v.mp4?token=s3cret"
    with pytest.raises(UnsafeURLError) as err:
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6)
    assert why in str(err.value)
    assert "s3cret" not in str(err.value)
    assert server.hits == [] and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (["127.0.0.1"], "resolves to 127.0.0.1, a loopback address"),
        (["169.254.169.254"], "resolves to 169.254.169.254, a link-local address"),
        (["10.0.0.5"], "resolves to 10.0.0.5, a private address"),
        (["::1"], "resolves to ::1, a loopback address"),
        # One bad address among good ones is enough: the connection could use any of them.
        (["93.184.216.34", "192.168.0.7"], "resolves to 192.168.0.7, a private address"),
    ],
)
async def test_a_name_is_checked_after_dns(server, session, tmp_path, answer, why):
    dns = DNS({"videos.example.com": answer})
    url = f"https://videos.example.com:{server.port}/v.mp4"
    with pytest.raises(UnsafeURLError) as err:
        await download_file(
            session, url, tmp_path / "out.mp4", max_bytes=10**6, policy=FetchPolicy(lookup=dns)
        )
    assert f"videos.example.com {why}" in str(err.value)
    assert dns.asked == ["videos.example.com"]
    assert server.hits == [] and leftovers(tmp_path) == []


async def test_a_name_that_points_at_the_bot_itself_is_refused_over_http_too(
    server, session, tmp_path
):
    # The same name and server, trusted and not: only the check decides.
    dns = DNS({"videos.example.com": ["127.0.0.1"]})
    url = f"{server.via('videos.example.com')}/chunked/2"
    trusted = FetchPolicy(insecure_hosts=frozenset({"videos.example.com"}), lookup=dns)
    assert await download_file(session, url, tmp_path / "a.mp4", max_bytes=10**6, policy=trusted)
    assert server.hits == ["/chunked/2"]

    for policy in (FetchPolicy(lookup=dns), FetchPolicy(insecure_hosts={"other"}, lookup=dns)):
        with pytest.raises(UnsafeURLError):
            await download_file(session, url, tmp_path / "b.mp4", max_bytes=10**6, policy=policy)
    assert server.hits == ["/chunked/2"]
    assert leftovers(tmp_path) == ["a.mp4"]


@pytest.mark.parametrize(
    "ip", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]
)
def test_public_addresses_are_allowed(ip):
    assert address_refusal(ipaddress.ip_address(ip)) is None


@pytest.mark.parametrize(
    "ip",
    [
        "::ffff:169.254.169.254",  # IPv4-mapped
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254 (inverted)
    ],
)
def test_ipv4_inside_ipv6_is_checked_as_ipv4(ip):
    why = Ref("download.why.link_local")
    embedded = Ref("download.why.embedded", why=why, address="169.254.169.254")
    assert address_refusal(ipaddress.ip_address(ip)) == embedded


# -- redirects ---------------------------------------------------------------------------------


async def test_an_allowed_link_is_fetched_through_the_checked_lookup(server, session, tmp_path):
    # cdn.test exists only in the fake DNS: the connection can only have used its answer.
    dns = DNS({"cdn.test": ["127.0.0.1"]})
    policy = FetchPolicy(insecure_hosts={"cdn.test"}, lookup=dns)
    hop = "/redirect?to=/chunked/3&code=301"
    dest = tmp_path / "out.mp4"
    assert (
        await download_file(
            session, server.via("cdn.test") + hop, dest, max_bytes=10**6, policy=policy
        )
        == 3 * 1024
    )
    assert dest.read_bytes() == CHUNK * 3
    assert server.hits == ["/redirect", "/chunked/3"]
    assert dns.asked == ["cdn.test"]  # one lookup, used by every connection of the fetch


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_a_redirect_to_a_private_address_is_refused(server, session, tmp_path, code):
    dns = DNS({"cdn.test": ["127.0.0.1"], "internal.example.com": ["10.0.0.5"]})
    policy = FetchPolicy(insecure_hosts={"cdn.test"}, lookup=dns)
    target = "https://internal.example.com/admin?token=s3cret"
    url = f"{server.via('cdn.test')}/redirect?code={code}&to={target}"
    with pytest.raises(UnsafeURLError) as err:
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6, policy=policy)
    message = str(err.value)
    assert "https://internal.example.com/admin" in message
    assert "internal.example.com resolves to 10.0.0.5, a private address" in message
    assert f"redirected from http://cdn.test:{server.port}/redirect" in message
    assert "s3cret" not in message
    assert server.hits == ["/redirect"] and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("https://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("https://127.0.0.1:{port}/chunked/1", "a loopback address"),
        ("http://127.0.0.1:{port}/chunked/1", "plain-http"),  # http, and not a trusted host
        ("file:///etc/passwd", "non-http"),
    ],
)
async def test_every_redirect_is_checked(server, session, tmp_path, target, why):
    dns = DNS({"cdn.test": ["127.0.0.1"]})
    policy = FetchPolicy(insecure_hosts={"cdn.test"}, lookup=dns)
    url = f"{server.via('cdn.test')}/redirect?to={target.format(port=server.port)}"
    with pytest.raises(UnsafeURLError, match=why):
        await download_file(session, url, tmp_path / "out.mp4", max_bytes=10**6, policy=policy)
    assert server.hits == ["/redirect"] and leftovers(tmp_path) == []


async def test_redirects_are_bounded(server, session, tmp_path):
    with pytest.raises(DownloadError, match="more than 5 redirects"):
        await download_file(
            session, f"{server.url}/loop", tmp_path / "out.mp4", max_bytes=10**6, policy=LOCAL
        )
    assert server.hits == ["/loop"] * 6


# -- the body must be an mp4 -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["page", "tiny", "late-ftyp"])
async def test_a_body_that_is_not_an_mp4_is_refused(server, session, tmp_path, name):
    dest = tmp_path / "out.mp4"
    with pytest.raises(DownloadError, match="is not an mp4 video"):
        await download_file(
            session, f"{server.url}/body/{name}", dest, max_bytes=10**6, policy=LOCAL
        )
    assert leftovers(tmp_path) == []


# -- the same checks for images (render --image URL) -------------------------------------------


async def test_an_image_link_gets_the_same_checks(server, session):
    dns = DNS({"img.example.com": ["169.254.169.254"], "cdn.test": ["127.0.0.1"]})
    with pytest.raises(ImageError, match=r"img\.example\.com resolves to 169\.254\.169\.254"):
        await fetch_image(
            session,
            "https://img.example.com/cat.png",
            max_bytes=10**6,
            policy=FetchPolicy(lookup=dns),
        )
    with pytest.raises(ImageError, match="plain-http"):
        await fetch_image(session, f"{server.url}/chunked/1", max_bytes=10**6)
    trusted = FetchPolicy(insecure_hosts={"cdn.test"}, lookup=dns)
    url = f"{server.via('cdn.test')}/redirect?to=https://img.example.com/cat.png"
    with pytest.raises(ImageError, match="a link-local address") as err:
        await fetch_image(session, url, max_bytes=10**6, policy=trusted)
    assert str(err.value).startswith("Could not download the image: refusing to fetch ")
    assert server.hits == ["/redirect"]


# -- a Chinese reader reads no English ---------------------------------------------------------

# What a Chinese refusal may hold in Latin letters: links, hosts and IPv6 addresses, HTTP(S),
# mp4, code in backticks.
ALLOWED_LATIN = re.compile(
    r"[a-z]+://[^\s（）：，]+|[\w.-]+\.(?:com|test)|[0-9a-f]*::?[0-9a-f:.]+"
    r"|https?\(s\)|HTTPS?|mp4|`[^`]*`"
)


def latin_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{3,}", ALLOWED_LATIN.sub("", text))


async def refusals(server: Server, session: aiohttp.ClientSession, tmp_path: Path) -> dict:
    """Every refusal download.py raises, each through the code path that raises it."""
    dns = DNS({"cdn.test": ["127.0.0.1"], "private.example.com": ["10.0.0.5"]})
    trusted = FetchPolicy(insecure_hosts={"cdn.test"}, lookup=dns)
    redirect = f"{server.via('cdn.test')}/redirect?to="
    fetches = {
        "scheme": ("ftp://host/v.mp4", LOCAL),
        "scheme_invalid": ("http://[::1/v.mp4", LOCAL),
        "plain_http": (f"{server.via('cdn.test')}/chunked/1", FetchPolicy(lookup=dns)),
        "address": ("https://169.254.169.254/latest/meta-data/", LOCAL),
        "address_embedded": ("https://[::ffff:127.0.0.1]/v.mp4", LOCAL),
        "resolves_to": ("https://private.example.com/v.mp4", FetchPolicy(lookup=dns)),
        "resolves_to_redirected": (redirect + "https://private.example.com/v.mp4", trusted),
        "unresolved": ("https://nowhere.example.com/v.mp4", FetchPolicy(lookup=dns)),
        "bad_redirect": (redirect + "http://[::1/v.mp4", trusted),
        "redirects": (f"{server.url}/loop", LOCAL),
        "status": (f"{server.url}/status/404", LOCAL),
        "declared_over": (f"{server.url}/slow", LOCAL),
        "over_cap": (f"{server.url}/chunked/20", LOCAL),
        "not_mp4": (f"{server.url}/body/page", LOCAL),
        "client": (f"http://127.0.0.1:{free_port()}/v.mp4", LOCAL),
    }
    found = {}
    for name, (url, policy) in fetches.items():
        with pytest.raises(DownloadError) as err:
            await download_file(session, url, tmp_path / "out.mp4", max_bytes=2048, policy=policy)
        found[name] = err.value
    return found


async def test_every_download_refusal_reads_chinese(server, session, tmp_path):
    found = await refusals(server, session, tmp_path)
    codes = {err.code for err in found.values()}
    ftl = (catalog.LOCALES_DIR / "en" / "download.ftl").read_text(encoding="utf-8")
    raised = set(re.findall(r"^download-(\w+)", ftl, re.MULTILINE))
    assert codes == raised - {"why", "invalid_link", "redirected"}  # every refusal, triggered
    for name, err in found.items():
        text = error_text(err, "zh-CN")
        assert text != str(err) and "{" not in text, (name, text)
        assert not latin_words(text), (name, text)
    # The operator's detail is still there, in the English of the log.
    assert str(found["resolves_to"]) == (
        "refusing to fetch https://private.example.com/v.mp4: private.example.com resolves to "
        "10.0.0.5, a private address"
    )
    assert error_text(found["resolves_to"], "zh-CN") == (
        "拒绝下载 https://private.example.com/v.mp4：private.example.com 解析到 10.0.0.5，"
        "这是私有地址"
    )
    assert error_text(found["address_embedded"], "zh-CN") == (
        "拒绝下载 https://[::ffff:7f00:1]/v.mp4：::ffff:7f00:1 是回环地址（127.0.0.1）"
    )


async def test_an_image_link_refusal_reads_chinese(session):
    dns = DNS({"img.example.com": ["169.254.169.254"]})
    with pytest.raises(ImageError) as err:
        url = "https://img.example.com/cat.png"
        await fetch_image(session, url, max_bytes=10**6, policy=FetchPolicy(lookup=dns))
    assert error_text(err.value, "zh-CN") == (
        "无法下载图片：该链接不能安全下载（拒绝下载 https://img.example.com/cat.png："
        "img.example.com 解析到 169.254.169.254，这是链路本地地址）。"
    )
    assert "refusing to fetch https://img.example.com/cat.png" in str(err.value)
