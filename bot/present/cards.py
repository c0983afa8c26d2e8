"""What people see, as plain text: the draft card, the status line, the result, job lists.

No Discord types here: the cogs turn a :class:`Card` into an embed. Every string goes through
the translation layer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from bot.chain.plan import Plan
from bot.domain.markdown import clip, escape_markdown
from bot.domain.storyboard import Storyboard, fmt_tenths
from bot.i18n.strings import error_text, reason_text, t
from bot.jobs.intake import retry_segment
from bot.jobs.queue import QueueSpot
from bot.jobs.store import Job, JobState
from bot.models.base import VideoModel
from bot.present.chains import chain_line, kept_line, plan_cost, plan_text
from bot.present.queue import queue_line, queue_status

TIMELINE_WIDTH = 30
BAR_WIDTH = 12
# Discord refuses an embed whose description is longer.
DESCRIPTION_LIMIT = 4096
BLOCKS = "█▒"  # alternating shades so neighbouring shots stay apart
CUT = "┃"  # where one segment of a long storyboard ends and the next begins


@dataclass
class Card:
    title: str
    description: str
    fields: list[tuple[str, str, bool]] = field(default_factory=list)
    footer: str = ""
    color: int = 0x5865F2


def timeline(board: Storyboard, width: int = TIMELINE_WIDTH, cuts: Collection[int] = ()) -> str:
    """The shots against the length: ``█████▒▒▒▒░░`` (one cell per 1/width of the video).
    ``cuts``: the shots (from 0) that begin a new segment, marked ``┃`` before them."""
    total = board.length * 10
    n = len(board.shots)
    # Cell boundaries in proportion to the time, then nudged so every shot (even 0.1 s) keeps
    # at least one cell without pushing a later shot off the end of the bar.
    bounds = [0]
    used = 0
    for shot in board.shots:
        used += shot.tenths
        bounds.append(max(round(used * width / total), bounds[-1] + 1))
    end = min(width, bounds[-1])
    if n <= width:
        bounds[-1] = end
        for k in range(n - 1, 0, -1):
            bounds[k] = min(bounds[k], bounds[k + 1] - 1)
    cells = [BLOCKS[i % 2] * (bounds[i + 1] - bounds[i]) for i in range(n)]
    bar = "".join(cells)[:width]
    bar += "░" * (width - len(bar))
    for at in sorted((bounds[k] for k in set(cuts) if 0 < k < n), reverse=True):
        bar = bar[:at] + CUT + bar[at:]
    return f"`{bar}` {fmt_tenths(board.total_tenths)}/{board.length} s"


def shot_lines(board: Storyboard, lang: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """The numbered shots, each scene as the member typed it (its Markdown escaped, so it
    shows as text and never as a link, a mention or formatting), within ``limit`` characters:
    escaping can double a scene's length, so the longest scenes are shortened to fit."""
    heads = []
    for i, shot in enumerate(board.shots, 1):
        auto = f" {t('card.auto', lang)}" if shot.auto else ""
        heads.append(f"**{i}.** `{fmt_tenths(shot.tenths)} s`{auto} ")
    scenes = [escape_markdown(shot.scene) for shot in board.shots]
    room = limit - sum(len(h) for h in heads) - (len(heads) - 1)
    if sum(len(s) for s in scenes) > room:
        # The shortest scenes stay whole; the others share what is left equally.
        left, count = room, len(scenes)
        for size in sorted(len(s) for s in scenes):
            if size * count > left:
                break
            left, count = left - size, count - 1
        each = left // count if count else 0
        scenes = [clip(s, each) for s in scenes]
    return "\n".join(h + s for h, s in zip(heads, scenes, strict=True))


def cost_text(model: VideoModel, board: Storyboard, credit_usd: float, lang: str) -> str:
    credits = model.price(board)
    return t("card.cost_value", lang, credits=credits, usd=f"{credits * credit_usd:.2f}")


def draft_card(
    *,
    draft_id: str,
    revision: int,
    board: Storyboard,
    model: VideoModel,
    author_mention: str,
    credit_usd: float,
    lang: str,
    has_thread: bool,
    discarded_by: str | None = None,
    image_removed: bool = False,
    availability: str | None = None,
    plan: Plan | None = None,
) -> Card:
    """``availability``: whether the author can generate now (or why not), when known.
    ``plan``: the segments Generate would make (``model`` is the one that makes them); a plan
    of several shows its cuts on the timeline, the segments and their total price."""
    chained = plan is not None and plan.chained
    card = Card(
        title=t("card.title", lang, shots=len(board.shots), length=board.length),
        description="",
        footer=t("card.footer", lang, draft=draft_id, revision=revision),
    )
    cuts = [seg.start for seg in plan.segments] if plan is not None and chained else []
    cost = (
        plan_cost(plan, credit_usd, lang)
        if plan is not None and chained
        else cost_text(model, board, credit_usd, lang)
    )
    card.fields = [(t("card.timeline", lang), timeline(board, cuts=cuts), False)]
    if plan is not None and chained:
        card.fields.append((t("chain.card.segments", lang), plan_text(plan, lang)[:1024], False))
    card.fields += [
        (t("card.aspect", lang), t(f"aspect.{board.aspect}", lang), True),
        (t("card.model", lang), model.label, True),
        (t("card.cost", lang), cost, True),
        (t("card.author", lang), author_mention, True),
    ]
    notes = []
    if discarded_by:
        card.color = 0x747F8D
        notes.append(t("card.discarded", lang, user=discarded_by))
    elif has_thread:
        notes.append(t("card.thread_hint", lang))
    else:
        notes.append(t("card.no_thread", lang))
    if availability and not discarded_by:
        notes.insert(0, availability)
    if image_removed:
        notes.append(t("card.image_removed", lang))
    footnotes = "\n\n" + "\n".join(f"-# {n}" for n in notes)
    card.description = shot_lines(board, lang, DESCRIPTION_LIMIT - len(footnotes)) + footnotes
    return card


def progress_bar(pct: int, width: int = BAR_WIDTH) -> str:
    pct = max(0, min(100, pct))
    filled = round(pct * width / 100)
    return f"`{'█' * filled}{'░' * (width - filled)}` {pct}%"


def status_text(
    job: Job,
    lang: str,
    *,
    spot: QueueSpot | None = None,
    counted: bool = False,
    now: float | None = None,
) -> str:
    """The status message for a job in any state. ``spot``: a queued job's place in the
    submit queue and its estimated start (bot.jobs.tracker.Tracker.queue_spot), shown while
    it waits. ``counted``: whether a failed, expired or undeliverable job counted against the
    author's quota (the guild's policy decides). ``now``: for a chain of segments, which
    segment it is at and the time elapsed."""
    started = f"<t:{int(job.created_at)}:R>"
    lines: list[str] = []
    if job.fallback_from:
        lines.append(
            t(
                "status.fallback",
                lang,
                primary=job.fallback_from,
                fallback=job.model,
                credits=job.credits or 0,
            )
        )
    match job.state:
        case JobState.QUEUED | JobState.SUBMITTING:
            if spot is not None and job.state == JobState.QUEUED:
                lines.append(queue_status(spot, lang))
            else:
                lines.append(t("status.queued", lang, started=started))
            if job.stall:
                until = f"<t:{int(job.stall.get('until', job.deadline_at))}:R>"
                if job.stall.get("kind") == "maintenance":
                    lines.append(t("status.maintenance", lang, until=until))
                else:
                    host = job.stall.get("host", "kie.ai")
                    lines.append(t("status.unreachable", lang, host=host, until=until))
        case JobState.RUNNING:
            key = f"status.kie.{job.kie_state or 'waiting'}"
            line = t(key, lang, started=started)
            if job.kie_state == "generating" and job.progress is not None:
                line += " " + progress_bar(job.progress)
            lines.append(line)
        case JobState.SUCCEEDED:
            lines.append(t("status.fetching", lang, started=started))
        case JobState.FETCHED | JobState.POSTING:
            lines.append(t("status.posting", lang))
        case JobState.CHAINING | JobState.EXTRACTING | JobState.UPLOADING_FRAME | JobState.JOINING:
            step = chain_line(job, lang, now, progress_bar) if now is not None else None
            if step is None and job.state == JobState.CHAINING:
                step = t("status.chaining", lang, started=started)
            lines.append(step or t(f"status.{job.state}", lang))
        case JobState.DELIVERED:
            lines.append(t("status.done", lang))
        case JobState.CANCELLED:
            lines.append(t("status.cancelled", lang))
        case (
            JobState.UNKNOWN
            | JobState.REFUSED
            | JobState.FAILED
            | JobState.EXPIRED
            | JobState.UNDELIVERABLE
        ):
            # The plain reason in the reader's language; kie.ai's own words stay in the logs.
            reason = reason_text(job.fail_code, job.fail_params, lang)
            lines.append(t(f"status.{job.state}", lang, reason=reason))
            retry = retry_segment(job)
            kept = kept_line(job, retry, lang) if retry is not None else None
            if kept:
                lines.append(kept)
    if job.state in (JobState.REFUSED, JobState.CANCELLED):
        lines.append(t("status.not_counted", lang))
    elif counted and job.state in (JobState.FAILED, JobState.EXPIRED, JobState.UNDELIVERABLE):
        lines.append(t("status.counted", lang))
    elif job.state in (JobState.FAILED, JobState.EXPIRED):
        lines.append(t("status.failed_not_counted", lang))
    lines.append(f"-# {t('status.footer', lang, job=job.id, model=job.model)}")
    return "\n".join(lines)


def result_text(
    job: Job, author_mention: str, lang: str, *, link_note: str = "", source_link: str = ""
) -> str:
    """``source_link``: where the draft it was made from lives (its card), linked from the
    "made from revision N" line. Nothing here identifies the result (members' text can say
    anything): the delivery recognises it by its file name and buttons."""
    lines = [
        t(
            "result.ready",
            lang,
            mention=author_mention,
            shots=len(job.storyboard.shots),
            length=job.storyboard.length,
        )
    ]
    if link_note:
        lines.append(link_note)
    if job.draft_id and job.revision:
        source = t("result.from", lang, draft=job.draft_id, revision=job.revision)
        lines.append(f"-# [{source}](<{source_link}>)" if source_link else f"-# {source}")
    return "\n".join(lines)


def job_line(job: Job, lang: str, link: str | None = None, spot: QueueSpot | None = None) -> str:
    """One line of a job list; a queued job with a ``spot`` says its place and start."""
    when = f"<t:{int(job.created_at)}:R>"
    state = t(f"state.{job.state}", lang)
    if spot is not None and job.state == JobState.QUEUED:
        state += f" · {queue_line(spot, lang)}"
    shots = len(job.storyboard.shots)
    where = f" · {link}" if link else ""
    return f"`{job.id}` {state} · {shots} × {job.storyboard.length} s · {when}{where}"


__all__ = [
    "Card",
    "draft_card",
    "error_text",
    "job_line",
    "progress_bar",
    "result_text",
    "status_text",
    "timeline",
]
