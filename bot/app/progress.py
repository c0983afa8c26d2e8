"""The command line's delivery: progress lines on stderr while a render runs, and the video
written where the user asked.

One line whenever something a person would want to know changes, each prefixed with the time
since the command started: the job's kie.ai state and progress, a fallback, a host that cannot
be reached; for a long storyboard the same progress per segment as the Discord status
(``segment 2 of 3 · generating 40% · 1 min 5 s elapsed``), the frame handed on, the join.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import TextIO

from bot.chain.record import ChainRecord
from bot.jobs.chain import ChainProgress, chain_progress
from bot.jobs.store import Job, JobState

S = JobState
#: What a segment's kie.ai state reads as.
_KIE_STEPS = {
    None: "starting",
    "waiting": "sent to kie.ai, waiting to start",
    "queuing": "in kie.ai's queue",
    "generating": "generating",
    "success": "made",
}


def elapsed_text(seconds: float) -> str:
    """``45 s``, ``3 min 5 s``."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def chain_line(p: ChainProgress) -> str:
    """What a chain is doing, as the Discord status says it."""
    since = f"{elapsed_text(p.elapsed)} elapsed"
    if p.step == S.JOINING:
        return f"joining the {p.count} segments into one video · {since}"
    if p.step in (S.EXTRACTING, S.UPLOADING_FRAME):
        step = "handing its last frame to the next segment"
    else:
        step = _KIE_STEPS.get(p.kie_state, p.kie_state or "starting")
        if p.progress is not None and p.kie_state == "generating":
            step += f" {p.progress}%"
    return f"segment {p.segment} of {p.count} · {step} · {since}"


class CliDelivery:
    """Writes the video where the user asked, and reports progress on stderr."""

    def __init__(self, out: Path | None, err: TextIO, started: float) -> None:
        self.out = out
        self.err = err
        self.started = started
        self.done = asyncio.Event()
        self.final: Job | None = None
        self.written: Path | None = None
        self._last: tuple[object, ...] | None = None

    def say(self, text: str) -> None:
        elapsed = int(time.time() - self.started)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {text}", file=self.err, flush=True)

    def follow_next(self) -> None:
        """Wait for another job's end (the first one ended without a video)."""
        self.done.clear()
        self.final = None
        self._last = None

    async def job_updated(self, job: Job) -> None:
        stall = job.stall or {}
        key = (
            job.state,
            job.kie_state,
            job.progress,
            job.model,
            stall.get("host") or stall.get("tries"),  # unreachable, or under maintenance
            job.segment,
        )
        if key == self._last:
            return
        if job.fallback_from and (self._last is None or self._last[3] != job.model):
            self.say(
                f"{job.fallback_from} is unavailable at kie.ai; using {job.model} instead "
                f"({job.credits} credits)"
            )
            if job.is_chain:
                for line in segment_lines(ChainRecord.load(job.chain)):
                    self.say(line)
        if stall and (self._last is None or self._last[4] != key[4]):
            until = time.strftime("%H:%M:%S", time.localtime(float(stall["until"])))
            if "host" in stall:
                self.say(
                    f"cannot reach kie.ai at {stall['host']} ({stall['setting']}); "
                    f"retrying until {until}"
                )
            else:
                self.say(f"kie.ai is under maintenance; nothing was made; sending again at {until}")
        self._last = key
        progress = chain_progress(job, time.time())
        if progress is not None:
            if job.state in (S.CHAINING, S.EXTRACTING, S.UPLOADING_FRAME, S.JOINING):
                self.say(chain_line(progress))
        elif job.state == S.RUNNING:
            pct = f" {job.progress}%" if job.progress is not None else ""
            self.say(f"{job.kie_state or 'submitted'}{pct} (task {job.task_id})")
        elif job.state == S.UNKNOWN:
            # Only with callbacks (without them an unknown outcome ends at once): the callback
            # that carries this job's id can still find its task.
            until = time.strftime("%H:%M:%S", time.localtime(job.deadline_at))
            self.say(f"{job.fail_msg}; waiting for kie.ai's callback until {until}")

    async def deliver_video(self, job: Job, path: Path) -> None:
        out = self.out or Path(f"storyboard-{job.id}.mp4")
        await asyncio.to_thread(shutil.copyfile, path, out)
        self.written = out
        self.final = job
        self.done.set()

    async def job_ended(self, job: Job) -> None:
        self.final = job
        self.done.set()


def segment_lines(record: ChainRecord) -> list[str]:
    """A chain's segments, a line each, as ``render`` prints a plan's."""
    lines = []
    for k, seg in enumerate(record.segments, 1):
        first, last = seg.start + 1, seg.start + len(seg.board.shots)
        which = f"shot {first}" if first == last else f"shots {first}-{last}"
        lines.append(
            f"  segment {k}: {which}, {seg.board.total_tenths / 10:g} s "
            f"({seg.seconds} s of video), {seg.price} credits"
        )
    return lines
