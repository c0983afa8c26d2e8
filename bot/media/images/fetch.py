"""``fetch_image``: a reference image downloaded from a link (``render --image URL``) with a
hard size cap, through bot.media.download's checked fetch; every failure an ImageError whose
message is safe to show (no query strings)."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from bot.domain.errors import Ref
from bot.media.download import DownloadError, FetchPolicy, open_checked, safe_url
from bot.media.images.errors import ImageError, fmt_size

_DOWNLOAD_CHUNK = 64 * 1024


async def fetch_image(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float = 30.0,  # noqa: ASYNC109 - passed to aiohttp.ClientTimeout by design
    policy: FetchPolicy | None = None,
) -> bytes:
    """Download ``url``, refusing bodies larger than ``max_bytes``. The link and every redirect
    are checked as bot.media.download checks result links (``policy``: the default, https and public
    addresses only).

    All failures raise ImageError with a message safe to show to users (no query strings).
    """
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise ImageError("link_scheme")
    safe = safe_url(url.strip())
    limit = fmt_size(max_bytes)

    try:
        async with open_checked(
            session, url.strip(), timeout=aiohttp.ClientTimeout(total=timeout), policy=policy
        ) as resp:
            if not 200 <= resp.status < 300:
                reason = f" {resp.reason}" if resp.reason else ""  # HTTP's own phrase
                raise ImageError("download_status", url=safe, status=resp.status, reason=reason)
            declared = resp.content_length
            if declared is not None and declared > max_bytes:
                raise ImageError(
                    "download_declared", url=safe, size=fmt_size(declared), limit=limit
                )
            body = bytearray()
            async for chunk in resp.content.iter_chunked(_DOWNLOAD_CHUNK):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise ImageError("download_over", url=safe, limit=limit)
    except ImageError:
        raise
    except DownloadError as exc:
        # The refusal's own message, in the reader's language.
        raise ImageError("download_refused", detail=Ref(exc.key, **exc.params)) from None
    except TimeoutError as exc:
        raise ImageError("download_timeout", url=safe, seconds=f"{timeout:g}") from exc
    except aiohttp.InvalidURL as exc:
        raise ImageError("download_invalid") from exc
    except aiohttp.ClientConnectorError as exc:
        raise ImageError("download_connect", url=safe) from exc
    except aiohttp.ClientPayloadError as exc:
        raise ImageError("download_broke", url=safe) from exc
    except aiohttp.ClientError as exc:
        # str() of aiohttp errors can embed the full URL (with tokens); use the type only.
        raise ImageError("download_client", url=safe, error=type(exc).__name__) from exc

    if not body:
        raise ImageError("download_empty", url=safe)
    return bytes(body)
