"""Fetching what kie.ai's answers point at: result videos, streamed to disk (bounded memory,
a size cap), and reference images for ``render --image URL`` (bot.media.images.fetch_image).

A result link comes from an answer, not from the operator, so it is checked before anything is
fetched, and again at every redirect:

- https only, except for the hosts in ``[kie] insecure_result_hosts`` (a local mirror, the test
  suite's fake kie.ai), which may also use http and non-public addresses;
- every address the host resolves to must be public: loopback, private, link-local, shared,
  multicast, unspecified and reserved addresses (IPv4 ones inside IPv6 included) are refused,
  so a link or a redirect cannot reach a cloud metadata service (169.254.169.254), the bot's
  own HTTP server or anything else on its network;
- redirects are followed here (``allow_redirects=False``), at most ``MAX_REDIRECTS`` of them;
- each fetch has its own connector whose resolver (:class:`CheckedResolver`) is the one that
  checked the addresses and answers the connection from that same lookup, so the connection
  goes to an address that was checked: a DNS answer that changes between the check and the
  connection (DNS rebinding) is never used. No proxy is used for these fetches;
- a result video must start with an mp4 ``ftyp`` box.

A refusal is a :class:`DownloadError` with a code and its parameters (the link without its
query string, the host, the address and why it is refused), worded by the catalogs
(``download.<code>``, in ``locales/<catalog>/download.ftl``) as a clause without a final stop:
``str(err)`` is the English one the log and a job's ``fail_msg`` show, and an image link's
refusal is shown to its reader in their language (bot.media.images.fetch_image).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bot.db.files import open_private, private_dir
from bot.domain.errors import Ref, UserError

if TYPE_CHECKING:
    from bot.config.settings import KieSettings

CHUNK = 256 * 1024
#: How many redirects one fetch follows.
MAX_REDIRECTS = 5
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
# NAT64's well-known prefix: the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

#: ``(host, port)`` -> getaddrinfo's answer: ``(family, type, proto, canonname, sockaddr)``.
Lookup = Callable[[str, int], Awaitable[list[tuple[Any, ...]]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DownloadError(UserError):
    """The result could not be fetched: ``code`` names why (``download.<code>`` words it) and
    ``params`` hold what it shows, never a query string.

    ``DownloadError("An English sentence.")`` (a sentence, not a code) still reads as that
    sentence in every language.
    """

    prefix = "download"

    def __init__(
        self, code: str, message: str | None = None, /, *, shape: str | None = None, **params: Any
    ) -> None:
        if message is None and not code.isidentifier():
            code, message = "legacy", code  # no catalog message: the sentence it was given
        super().__init__(code, message, shape=shape, **params)


class UnsafeURLError(DownloadError):
    """The link, or a redirect, points where the bot does not fetch from."""


class _Refused(OSError):
    """A host resolved to an address that is not public (an OSError, so that aiohttp's
    connector, should it ever meet one, fails the connection instead of making it)."""

    def __init__(self, host: str, address: str, why: Ref) -> None:
        super().__init__(f"{host} resolves to {address}")
        self.host, self.address, self.why = host, address, why


def safe_url(url: str) -> str:
    """scheme://host[:port]/path: links may carry signed tokens in the query string (and
    credentials before the host), so both are left out."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(invalid link)"
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}{parts.path}"


@dataclass(frozen=True)
class FetchPolicy:
    """Where a fetch may go. The default: https, public addresses, ``MAX_REDIRECTS`` hops."""

    #: Hosts (as written in links, without port) that may use http and non-public addresses.
    insecure_hosts: frozenset[str] = frozenset()
    max_redirects: int = MAX_REDIRECTS
    #: The DNS lookup; None: the event loop's getaddrinfo (the tests pass their own).
    lookup: Lookup | None = None

    def __post_init__(self) -> None:
        hosts = frozenset(h.strip().lower().strip("[]") for h in self.insecure_hosts)
        object.__setattr__(self, "insecure_hosts", hosts)

    @classmethod
    def from_settings(cls, kie: KieSettings) -> FetchPolicy:
        return cls(insecure_hosts=frozenset(kie.insecure_result_hosts))

    def trusts(self, host: str) -> bool:
        return host.lower() in self.insecure_hosts


def address_refusal(ip: IPAddress) -> Ref | None:
    """Why the bot does not connect to ``ip``, as a catalog message (``download.why.loopback``:
    "a loopback address"), None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and (why := address_refusal(embedded)):
            return Ref("download.why.embedded", why=why, address=str(embedded))
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link_local"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site_local"),
        (not ip.is_global, "not_public"),
    )
    return next((Ref(f"download.why.{why}") for refused, why in checks if refused), None)


def _link(url: str) -> str | Ref:
    """``url`` as a message shows it: :func:`safe_url`'s form, or "an invalid link" in the
    reader's words."""
    try:
        urlsplit(url)
    except ValueError:
        return Ref("download.invalid_link")
    return safe_url(url)


def _via(redirected_from: str | None) -> str | Ref:
    """What follows a link that a redirect led to: where it came from."""
    if redirected_from is None:
        return ""
    return Ref("download.redirected", origin=_link(redirected_from))


async def _getaddrinfo(host: str, port: int) -> list[tuple[Any, ...]]:
    loop = asyncio.get_running_loop()
    return await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver for one fetch: looks a host up (``policy.lookup``), refuses it when
    any of its addresses is not public (unless the policy trusts the host), and keeps the
    answer, so the connection is made to the addresses that were checked."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._answers: dict[tuple[str, int], list[ResolveResult]] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        key = (host, port)
        if key not in self._answers:
            self._answers[key] = await self._lookup(host, port)
        return [r for r in self._answers[key] if family in (socket.AF_UNSPEC, r["family"])]

    async def _lookup(self, host: str, port: int) -> list[ResolveResult]:
        infos = await (self._policy.lookup or _getaddrinfo)(host, port)
        trusted = self._policy.trusts(host)
        results: list[ResolveResult] = []
        for family, _type, proto, _name, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = str(sockaddr[0])
            if not trusted:
                why = address_refusal(ipaddress.ip_address(address))
                if why:
                    raise _Refused(host, address, why)
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=int(sockaddr[1]),
                    family=family,
                    proto=proto,
                    flags=_NUMERIC,
                )
            )
        if not results:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
        return results

    async def close(self) -> None:
        self._answers.clear()


def _connect_budget(timeout: aiohttp.ClientTimeout) -> float | None:
    return timeout.sock_connect or timeout.connect or timeout.total


async def _check(
    url: URL,
    redirected_from: str | None,
    policy: FetchPolicy,
    resolver: CheckedResolver,
    budget: float | None,
) -> None:
    """Refuse ``url`` (a link, or a redirect from one) unless the policy allows it; a host
    name is looked up here, through the resolver the connection will use."""
    link, via = _link(str(url)), _via(redirected_from)
    host = url.raw_host
    if url.scheme not in ("http", "https") or not host:
        raise UnsafeURLError("scheme", url=link, via=via)
    if policy.trusts(host):
        return
    if url.scheme != "https":
        raise UnsafeURLError("plain_http", url=link, via=via)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        why = address_refusal(ip)
        if why:
            raise UnsafeURLError("address", address=str(ip), why=why, url=link, via=via)
        return
    try:
        async with asyncio.timeout(budget):
            await resolver.resolve(host, url.port or 443)
    except _Refused as exc:
        raise UnsafeURLError(
            "resolves_to", host=exc.host, address=exc.address, why=exc.why, url=link, via=via
        ) from None
    except OSError:
        raise DownloadError("unresolved", host=host, url=link, via=via) from None


@contextlib.asynccontextmanager
async def open_checked(
    session: aiohttp.ClientSession,
    url: str,
    *,
    timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - passed to aiohttp by design
    policy: FetchPolicy | None = None,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """GET ``url`` as the module's docstring says; yields the answer that is not a redirect.

    ``session`` lends its default headers (the User-Agent) and nothing else: the request goes
    through a connector of its own. Refusals raise UnsafeURLError, a host that cannot be looked
    up or too many redirects DownloadError; aiohttp's errors and TimeoutError pass through."""
    policy = policy or FetchPolicy()
    try:
        current = URL(url)
    except (ValueError, TypeError):
        raise UnsafeURLError("scheme", url=Ref("download.invalid_link"), via="") from None
    resolver = CheckedResolver(policy)
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    async with aiohttp.ClientSession(
        connector=connector, headers=session.headers, timeout=timeout
    ) as own:
        for hop in range(policy.max_redirects + 1):
            await _check(current, url if hop else None, policy, resolver, _connect_budget(timeout))
            resp = await own.get(current, allow_redirects=False)
            location = resp.headers.get("Location") if resp.status in _REDIRECT_CODES else None
            if not location:
                try:
                    yield resp
                finally:
                    resp.release()
                return
            resp.release()
            try:
                current = current.join(URL(location))
            except (ValueError, TypeError):
                raise UnsafeURLError("bad_redirect", url=safe_url(str(current))) from None
    raise DownloadError("redirects", max=policy.max_redirects, url=_link(url))


def is_mp4(head: bytes) -> bool:
    """Whether a file starting with ``head`` is an mp4: its first box is ``ftyp``."""
    return len(head) >= 8 and head[4:8] == b"ftyp"


def _stream_timeout(session: aiohttp.ClientSession) -> aiohttp.ClientTimeout:
    """The session's ``total`` timeout (kie.ai's request_timeout, 60 s) suits API calls, not a
    video of up to hundreds of MB: a download fails only when it stalls (no byte for that long),
    not when it is merely long."""
    timeout = session.timeout
    stall = timeout.sock_read or timeout.total or 60.0
    return aiohttp.ClientTimeout(
        total=None, sock_connect=timeout.sock_connect or stall, sock_read=stall
    )


def _require_mp4(head: bytes, url: str) -> None:
    if not is_mp4(head):
        raise DownloadError("not_mp4", url=safe_url(url))


def _sync(fh: BinaryIO) -> None:
    fh.flush()
    os.fsync(fh.fileno())


async def download_file(
    session: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    policy: FetchPolicy | None = None,
) -> int:
    """Stream the mp4 at ``url`` into ``dest`` (written as ``dest.part``, then renamed), with
    the checks of the module's docstring (``policy``: the default, https and public addresses
    only). Returns the size."""
    # Disk work runs in a thread: a 100 MB video must not stall the event loop.
    await asyncio.to_thread(private_dir, dest.parent)
    part = dest.with_name(dest.name + ".part")
    size = 0
    try:
        async with open_checked(
            session, url, timeout=_stream_timeout(session), policy=policy
        ) as resp:
            if resp.status != 200:
                raise DownloadError("status", status=resp.status, url=safe_url(url))
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise DownloadError("declared_over", size=resp.content_length, max=max_bytes)
            fh = await asyncio.to_thread(open_private, part)
            head = b""
            try:
                async for chunk in resp.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise DownloadError("over_cap", max=max_bytes)
                    if len(head) < 8:
                        head += chunk[: 8 - len(head)]
                        if len(head) == 8:
                            _require_mp4(head, url)
                    await asyncio.to_thread(fh.write, chunk)
                _require_mp4(head, url)
                await asyncio.to_thread(_sync, fh)
            finally:
                await asyncio.to_thread(fh.close)
        await asyncio.to_thread(part.replace, dest)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DownloadError("client", error=type(exc).__name__, url=safe_url(url)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return size
