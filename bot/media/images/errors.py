"""An image's refusal (:class:`ImageError`, worded by the catalogs' ``image.<code>``) and how
the numbers inside its messages are written (sizes, megapixels, dimensions)."""

from __future__ import annotations

from typing import Any

from bot.domain.errors import UserError


class ImageError(UserError):
    """A user-facing problem with an image: ``code`` names it, ``params`` hold its numbers, and
    the catalogs word it (``image.<code>``); ``str(err)`` is the one-line English message.

    ``ImageError("An English sentence.")`` (a sentence, not a code) is still accepted from code
    that has not moved to codes yet: it reads as that sentence in every language.
    """

    prefix = "image"

    def __init__(
        self, code: str, message: str | None = None, /, *, shape: str | None = None, **params: Any
    ) -> None:
        if message is None and not code.isidentifier():
            code, message = "legacy", code  # no catalog message: the sentence it was given
        super().__init__(code, message, shape=shape, **params)


def fmt_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.0f} KB"
    return f"{n} bytes"


def fmt_mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def fmt_mp(pixels: float) -> str:
    return f"{pixels / 1_000_000:.1f}"


def dims(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def corrupt(fmt: str) -> ImageError:
    return ImageError("corrupt", format=fmt)
