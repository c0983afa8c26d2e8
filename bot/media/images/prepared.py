"""What preparing an image hands back: the image ready to upload (:class:`PreparedImage`) and
each change made to it (:class:`ImageChange`), worded for the member in English."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.media.images.errors import fmt_size
from bot.media.images.formats import EXTENSION, MIME


@dataclass(frozen=True)
class ImageChange:
    """One modification made to the user's image, for telling them what happened."""

    code: str
    params: dict[str, str | int] = field(default_factory=dict)

    def describe(self) -> str:
        p = self.params
        if self.code == "converted":
            return f"converted from {p.get('from', '?')} to {p.get('to', '?')}"
        if self.code in ("downscaled", "upscaled"):
            return f"{self.code} from {p.get('from', '?')} to {p.get('to', '?')}"
        if self.code == "recompressed":
            before, after = p.get("from"), p.get("to")
            if isinstance(before, int) and isinstance(after, int):
                return f"recompressed from {fmt_size(before)} to {fmt_size(after)}"
            return "recompressed"
        if self.code == "flattened":
            return f"flattened onto a {p.get('background', 'white')} background"
        if self.code == "first_frame":
            return "reduced to the first frame of its animation"
        if self.code == "rotated":
            return "turned upright according to its EXIF orientation"
        details = ", ".join(f"{k}={v}" for k, v in p.items())
        return f"{self.code} ({details})" if details else self.code


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to upload, plus what was done to it."""

    data: bytes
    format: str
    width: int
    height: int
    original_format: str
    original_size: int
    changes: tuple[ImageChange, ...] = ()

    @property
    def mime(self) -> str:
        return MIME.get(self.format, "application/octet-stream")

    @property
    def extension(self) -> str:
        return EXTENSION.get(self.format, self.format.lower())

    @property
    def orientation(self) -> str:
        return "portrait" if self.height > self.width else "landscape"

    @property
    def untouched(self) -> bool:
        return not self.changes

    def summary(self) -> str:
        if not self.changes:
            return ""
        parts = [change.describe() for change in self.changes]
        if len(parts) == 1:
            joined = parts[0]
        else:
            joined = ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"Your image was {joined} to fit."
