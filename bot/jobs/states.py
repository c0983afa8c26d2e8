"""A job's states and the only transitions allowed between them, as data.

The store applies every change of state as a compare-and-set against this table
(``UPDATE jobs SET state = ? ... WHERE id = ? AND state IN (...)``) and refuses any pair that is
not in it, so a step that lost a race (a Cancel press, a callback, a restart) cannot overwrite a
state it did not start from. The README's diagram is tested against :data:`TRANSITIONS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"  # stored, not yet sent to kie.ai (may be held back by the rate limit)
    SUBMITTING = "submitting"  # createTask is being sent: a crash here means "outcome unknown"
    RUNNING = "running"  # kie.ai accepted it (task_id known)
    SUCCEEDED = "succeeded"  # kie.ai finished it (result_url known)
    FETCHED = "fetched"  # the video is on our disk (video_path)
    POSTING = "posting"  # the video is being posted: a crash here is checked before reposting
    DELIVERED = "delivered"  # posted (or written to --out)
    FAILED = "failed"  # kie.ai says the generation failed
    REFUSED = "refused"  # never reached kie.ai, or kie.ai proved no task was created
    UNKNOWN = "unknown"  # createTask outcome unknown: never resubmitted
    EXPIRED = "expired"  # the deadline passed
    CANCELLED = "cancelled"  # cancelled before it was submitted
    UNDELIVERABLE = "undeliverable"  # the video exists but could not be delivered
    # A chain (a storyboard made as several segments, bot.jobs.chaining): the parent job.
    CHAINING = "chaining"  # a segment (a child job of its own) is being made
    EXTRACTING = "extracting"  # segment k is in: its last frame is being decoded and prepared
    UPLOADING_FRAME = "uploading_frame"  # that frame goes to kie.ai's file host, then k + 1
    JOINING = "joining"  # every segment is in: they are being joined into one video


S = JobState

#: Every allowed (from, to). Anything else is a bug and is refused by the store.
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    # A fallback re-queues a job at another model (queued -> queued).
    # A chain starts with its first segment, or (a retry reusing earlier segments) from the
    # last frame of the last segment it reuses.
    S.QUEUED: frozenset(
        {S.QUEUED, S.SUBMITTING, S.CANCELLED, S.REFUSED, S.EXPIRED, S.CHAINING, S.EXTRACTING}
    ),
    # Back to queued only when nothing was sent (the connection never opened) or kie.ai
    # proved no task exists and a fallback takes the job.
    S.SUBMITTING: frozenset({S.RUNNING, S.UNKNOWN, S.REFUSED, S.QUEUED, S.EXPIRED}),
    # A task kie.ai never confirmed is found by its callback (running), or given up.
    S.UNKNOWN: frozenset({S.RUNNING, S.EXPIRED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED}),
    S.SUCCEEDED: frozenset({S.FETCHED, S.UNDELIVERABLE}),
    S.FETCHED: frozenset({S.POSTING, S.UNDELIVERABLE}),
    S.POSTING: frozenset({S.DELIVERED, S.UNDELIVERABLE}),
    # `storyboard-bot resume` of a delivered job writes the video again.
    S.DELIVERED: frozenset({S.FETCHED}),
    S.FAILED: frozenset(),
    S.REFUSED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
    S.UNDELIVERABLE: frozenset(),
    # A chain ends as its segment did when one ends without a video.
    S.CHAINING: frozenset(
        {
            S.EXTRACTING,
            S.JOINING,
            S.FAILED,
            S.REFUSED,
            S.EXPIRED,
            S.CANCELLED,
            S.UNDELIVERABLE,
        }
    ),
    S.EXTRACTING: frozenset({S.UPLOADING_FRAME, S.UNDELIVERABLE, S.EXPIRED}),
    S.UPLOADING_FRAME: frozenset({S.CHAINING, S.UNDELIVERABLE, S.EXPIRED}),
    # The joined video is the chain's own fetched video: it is posted as any job's.
    S.JOINING: frozenset({S.FETCHED, S.UNDELIVERABLE, S.EXPIRED}),
}
assert set(TRANSITIONS) == set(JobState)

ACTIVE_STATES: frozenset[JobState] = frozenset(
    {
        S.QUEUED,
        S.SUBMITTING,
        S.RUNNING,
        S.SUCCEEDED,
        S.FETCHED,
        S.POSTING,
        S.UNKNOWN,
        S.CHAINING,
        S.EXTRACTING,
        S.UPLOADING_FRAME,
        S.JOINING,
    }
)
#: The states only a chain's parent job takes.
CHAIN_STATES: frozenset[JobState] = frozenset(
    {S.CHAINING, S.EXTRACTING, S.UPLOADING_FRAME, S.JOINING}
)
TERMINAL_STATES: frozenset[JobState] = frozenset(set(JobState) - ACTIVE_STATES)
#: States in which kie.ai has (or may have) the task.
SENT_STATES: frozenset[JobState] = frozenset(
    {S.SUBMITTING, S.UNKNOWN, S.RUNNING, S.SUCCEEDED, S.FETCHED, S.POSTING, S.DELIVERED}
)


class IllegalTransition(RuntimeError):
    """A step asked for a change of state that the table does not allow (a bug)."""


def allowed(frm: JobState, to: JobState) -> bool:
    return to in TRANSITIONS[frm]


def check(frm: Iterable[JobState], to: JobState) -> None:
    """Raise IllegalTransition unless every ``frm`` may go to ``to``."""
    bad = [f for f in frm if not allowed(f, to)]
    if bad:
        raise IllegalTransition(f"{', '.join(bad)} -> {to} is not an allowed transition")


def diagram() -> str:
    """The table as text, one line per state: ``queued -> cancelled, expired, ...``."""
    lines = []
    for frm in JobState:
        targets = ", ".join(sorted(str(t) for t in TRANSITIONS[frm])) or "(end)"
        lines.append(f"{frm} -> {targets}")
    return "\n".join(lines)


__all__ = [
    "ACTIVE_STATES",
    "CHAIN_STATES",
    "SENT_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "IllegalTransition",
    "JobState",
    "allowed",
    "check",
    "diagram",
]
