"""Streaming a result video to disk: bounded memory, a size cap, http(s) only."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import aiohttp

CHUNK = 256 * 1024


class DownloadError(Exception):
    """The result could not be fetched; the message is safe to show (no query strings)."""


def safe_url(url: str) -> str:
    """scheme://host[:port]/path: links may carry signed tokens in the query string (and
    credentials before the host), so both are left out."""
    parts = urlsplit(url)
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


def _stream_timeout(session: aiohttp.ClientSession) -> aiohttp.ClientTimeout:
    """The session's ``total`` timeout (kie.ai's request_timeout, 60 s) suits API calls, not a
    video of up to hundreds of MB: a download fails only when it stalls (no byte for that long),
    not when it is merely long."""
    timeout = session.timeout
    stall = timeout.sock_read or timeout.total or 60.0
    return aiohttp.ClientTimeout(
        total=None, sock_connect=timeout.sock_connect or stall, sock_read=stall
    )


def _sync(fh: BinaryIO) -> None:
    fh.flush()
    os.fsync(fh.fileno())


async def download_file(
    session: aiohttp.ClientSession, url: str, dest: Path, *, max_bytes: int
) -> int:
    """Stream ``url`` into ``dest`` (written as ``dest.part``, then renamed). Returns the size."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise DownloadError(f"refusing to download a non-http(s) link: {safe_url(url)}")
    # Disk work runs in a thread: a 100 MB video must not stall the event loop.
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    size = 0
    try:
        async with session.get(url, timeout=_stream_timeout(session)) as resp:
            if resp.status != 200:
                raise DownloadError(f"HTTP {resp.status} fetching {safe_url(url)}")
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise DownloadError(
                    f"the video is {resp.content_length} bytes, over the {max_bytes}-byte cap"
                )
            fh = await asyncio.to_thread(part.open, "wb")
            try:
                async for chunk in resp.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise DownloadError(f"the video is over the {max_bytes}-byte cap")
                    await asyncio.to_thread(fh.write, chunk)
                await asyncio.to_thread(_sync, fh)
            finally:
                await asyncio.to_thread(fh.close)
        await asyncio.to_thread(part.replace, dest)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DownloadError(f"{type(exc).__name__} fetching {safe_url(url)}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return size
