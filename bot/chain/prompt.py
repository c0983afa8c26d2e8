"""What a segment of a long storyboard tells the model about the whole story.

A segment is generated on its own, from the last frame of the one before. So that the model
keeps the characters, the style and the look across the cuts, the summary prompt of every
segment names its place in the chain and the whole story, after its own summary.
"""

from __future__ import annotations

from bot.domain.storyboard import Storyboard

#: The longest prompt any adapter takes (Kling's ``prompt``: 1-3072 characters).
MAX_PROMPT = 3072
STORY_CHARS = 1500  # the whole story's share of it


def story_summary(board: Storyboard, limit: int = STORY_CHARS) -> str:
    """Every scene of the storyboard, in order, cut to ``limit`` characters."""
    text = " Then: ".join(s.scene.strip() for s in board.shots)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def segment_prompt(own: str, whole: Storyboard, index: int, count: int) -> str:
    """``own`` (the segment's summary, as its adapter made it) followed by its place in the
    chain and the whole story, within :data:`MAX_PROMPT` characters."""
    tail = (
        f"\n\nPart {index + 1} of {count} of one continuous video: keep the same characters, "
        f"style, lighting and look as the rest. The whole story: {story_summary(whole)}"
    )
    room = MAX_PROMPT - len(tail)
    if len(own) > room:
        own = own[: room - 1].rstrip() + "…"
    return own + tail
