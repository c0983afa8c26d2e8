"""What people read about a long storyboard made in segments: the plan on the card (segments,
time, price), a chain's status line, what a failed chain kept, and the retry and redo
confirmations. Plain text, every string from the catalogs (``chain.ftl``)."""

from __future__ import annotations

from collections.abc import Callable

from bot.chain.plan import Plan, Segment
from bot.domain.storyboard import fmt_tenths
from bot.i18n.strings import t
from bot.jobs.chain import chain_progress
from bot.jobs.store import Job, JobState


def shot_range(segment: Segment) -> str:
    """``6-10`` (or ``3`` for a segment of one shot): its shots as people number them."""
    numbers = segment.shot_numbers()
    return str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}-{numbers[-1]}"


def usd(credits: int, credit_usd: float) -> str:
    return f"{credits * credit_usd:.2f}"


def plan_cost(plan: Plan, credit_usd: float, lang: str) -> str:
    """The card's price of a chain: the sum of its segments' prices."""
    return t(
        "chain.card.cost_value",
        lang,
        credits=plan.price,
        usd=usd(plan.price, credit_usd),
        count=plan.count,
    )


def plan_text(plan: Plan, lang: str) -> str:
    """``2 segments, about 6-10 min`` and a line per segment (its shots, length and price)."""
    low, high = plan.minutes()
    lines = [t("chain.card.estimate", lang, count=plan.count, low=f"{low:g}", high=f"{high:g}")]
    for seg in plan.segments:
        lines.append(
            t(
                "chain.card.segment",
                lang,
                segment=seg.index + 1,
                count=len(seg.shots),
                shots=shot_range(seg),
                seconds=fmt_tenths(seg.tenths),
                credits=seg.price,
            )
        )
    return "\n".join(lines)


def elapsed_text(seconds: float, lang: str) -> str:
    whole = int(seconds)
    return t("chain.elapsed", lang, minutes=whole // 60, seconds=whole % 60)


def chain_line(job: Job, lang: str, now: float, bar: Callable[[int], str]) -> str | None:
    """A running chain's status line: ``🎞️ Segment 2 of 3 · generating ▓▓░░ 40% · 1 min 5 s
    elapsed`` (``bar`` draws the progress); None when ``job`` is not a chain at a step this
    line describes."""
    progress = chain_progress(job, now)
    if progress is None:
        return None
    elapsed = elapsed_text(progress.elapsed, lang)
    if job.state == JobState.JOINING:
        return t("chain.status.joining", lang, segments=progress.count, elapsed=elapsed)
    if job.state in (JobState.EXTRACTING, JobState.UPLOADING_FRAME):
        step = t("chain.step.frame", lang)
    elif job.state == JobState.CHAINING:
        kie = progress.kie_state
        if kie in ("waiting", "queuing", "generating"):
            step = t(f"chain.step.{kie}", lang)
            if kie == "generating" and progress.progress is not None:
                step += " " + bar(progress.progress)
        elif kie == "success":
            step = t("chain.step.fetching", lang)
        else:
            step = t("chain.step.starting", lang)
    else:
        return None
    return t(
        "chain.status.segment",
        lang,
        segment=min(progress.segment, progress.count),
        segments=progress.count,
        step=step,
        elapsed=elapsed,
    )


def kept_line(job: Job, segment: int, lang: str) -> str | None:
    """What a chain that failed at ``segment`` keeps for a retry (None: nothing before it)."""
    made = segment - 1
    if made < 1:
        return None
    return t("chain.status.made", lang, made=made, segment=segment)


def confirm_text(
    kind: str, segment: int, segments: int, credits: int, credit_usd: float, lang: str
) -> str:
    """The private confirmation of **Retry from segment N** / **Redo segment N**: what is made
    again and its price, what is reused."""
    count = segments - segment + 1
    return t(
        f"chain.confirm.{kind}",
        lang,
        segment=segment,
        segments=segments,
        count=count,
        after=count - 1,
        reused=segment - 1,
        credits=credits,
        usd=usd(credits, credit_usd),
    )


__all__ = [
    "chain_line",
    "confirm_text",
    "elapsed_text",
    "kept_line",
    "plan_cost",
    "plan_text",
    "shot_range",
]
