"""How many status reads the tracker spends, how quickly it notices completion, and whether the
whole process stays under kie.ai's rate limits.

Run from the repo root:  python bench/polling.py   (about 50 s; ``--jobs``, ``--concurrency``
and ``--task-seconds`` change part d, ``--skip-realtime`` leaves it out)

a. reads per job from bot.jobs.polling, by polling and by callback, against a fixed 3 s poll;
   targets: a 60 s job <= 10 reads, a 5-minute job <= 25 reads (polling).
b. the latency bound from bot.jobs.polling alone: for every completion time c from 1 s to 30 min
   in 0.5 s steps, the first read at or after c comes within max(10 s, 10 % of c).
c. end to end: the real tracker, store and KieClient against the fake kie.ai with a TestClock
   moved in 1 s steps: a 60 s and a 300 s job, reads counted by the fake, and the notice
   latency (when the job reached "succeeded" minus when the task really ended).
d. in real time: many jobs (30) at once with tracker.poll_min_seconds=0.05, the real Clock and
   the tracker's own loop, run twice: with the default tracker.concurrency (8) and with 100
   (every job's step in flight at once, the most pressure on the limiter). Every createTask
   and recordInfo request is time-stamped as it reaches the fake. Targets: at most 10 reads in
   any 1 s window, at most 20 creates in any 10 s. The notice latency under this load is
   printed for information.

e. the learned schedule against today's on the same simulated completion times (log-normal,
   median 4 min): reads per job, and the worst lag after the learned start (target: within
   max(10 s, 10 %), and fewer reads than today's) and before it (target: the safety net's
   max(60 s, 25 %)); for jobs as long as their history, 30 % faster and 40 % slower.

Everything runs on 127.0.0.1. Exit status 1 when any target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from bot.domain.storyboard import Shot, Storyboard  # noqa: E402
from bot.jobs import polling  # noqa: E402
from bot.jobs.polling import next_poll_delay, reads_for  # noqa: E402
from bot.jobs.store import JobState  # noqa: E402
from bot.kie import KieClient, RateLimits  # noqa: E402
from bot.media.images import prepare_image  # noqa: E402
from bot.models.sora import SoraStoryboard  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from tests.fakes.fakekie import FakeKie, TaskPlan  # noqa: E402
from tests.helpers import (  # noqa: E402
    RecordingDelivery,
    TestClock,
    free_port,
    make_settings,
    png_bytes,
)

BOARD = Storyboard(
    shots=(
        Shot(scene="A fluffy orange kitten wearing headphones", tenths=75),
        Shot(scene="The kitten licks its lips, content", tenths=75),
    ),
    length=15,
    aspect="landscape",
)
DONE = {JobState.SUCCEEDED, JobState.FETCHED, JobState.DELIVERED}
FIXED_POLL = 3.0
READ_TARGETS = {60: 10, 300: 25}  # job duration (s) -> most reads allowed (polling)
READS_PER_S = 10
CREATES_PER_10S = 20

failures: list[str] = []


def check(ok: bool, what: str) -> str:
    if not ok:
        failures.append(what)
    return "ok" if ok else "MISSED"


def heading(text: str) -> None:
    print()
    print(text)
    print("-" * len(text))


def fmt_dur(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


# ------------------------------------------------------------------------------ a. reads
def read_times(*, callbacks: bool = False, **kw: float) -> Iterator[float]:
    """Times (since submission) of the schedule's reads: t_{n+1} = t_n + delay(t_n)."""
    t = 0.0
    while True:
        t += next_poll_delay(t, callbacks=callbacks, **kw)
        yield t


def reads_with_callback(duration: float) -> int:
    """Safety-net reads before the end, plus the one read the callback triggers."""
    n = 0
    for t in read_times(callbacks=True):
        if t >= duration:
            return n + 1
        n += 1
    raise AssertionError("unreachable")


def part_a() -> None:
    heading("a. status reads per job (bot.jobs.polling)")
    print(
        f"{'job takes':>10} | {'polling':>7} | {'callback':>8} | {'callback lost':>13} | "
        f"{'fixed 3 s':>9} | {'target':>6}"
    )
    print("-" * 70)
    for d in (30, 60, 120, 300, 600, 900):
        poll = reads_for(d)
        cb = reads_with_callback(d)
        lost = reads_for(d, callbacks=True)
        fixed = math.ceil(d / FIXED_POLL)
        target = READ_TARGETS.get(d)
        verdict = ""
        if target is not None:
            verdict = f"<= {target} {check(poll <= target, f'a: {d} s job costs {poll} reads')}"
        print(f"{fmt_dur(d):>10} | {poll:>7} | {cb:>8} | {lost:>13} | {fixed:>9} | {verdict}")
    print(
        "polling: reads until the one that sees the end; callback: safety-net reads before the"
        "\nend plus the read the callback triggers; callback lost: the safety net alone finds it."
    )


# ------------------------------------------------------------------------------ b. latency
def part_b() -> None:
    heading("b. completion latency bound (bot.jobs.polling, polling)")
    worst_ratio, worst = 0.0, (0.0, 0.0, 0.0)
    c = 1.0
    times = read_times()
    nxt = next(times)
    samples = 0
    while c <= 1800.0:
        while nxt < c:
            nxt = next(times)
        latency = nxt - c
        bound = max(10.0, 0.10 * c)
        ratio = latency / bound
        if ratio > worst_ratio:
            worst_ratio, worst = ratio, (c, latency, bound)
        samples += 1
        c += 0.5
    c, latency, bound = worst
    ok = worst_ratio <= 1.0 + 1e-9
    print(f"{samples} completion times from 1 s to 30 min, every 0.5 s")
    print(
        f"worst latency / max(10 s, 10 % of c) = {worst_ratio:.3f} "
        f"(at c = {c:g} s: noticed after {latency:.2f} s, bound {bound:.2f} s)  "
        f"{check(ok, f'b: worst latency ratio {worst_ratio:.3f} > 1')}"
    )
    # Information only: with callbacks on and the callback lost, the safety net's latency.
    worst_lost = 0.0
    times = read_times(callbacks=True)
    nxt = next(times)
    c = 1.0
    while c <= 1800.0:
        while nxt < c:
            nxt = next(times)
        worst_lost = max(worst_lost, (nxt - c) / max(10.0, 0.10 * c))
        c += 0.5
    print(
        f"(information: with callbacks on and the callback lost, the safety net's worst ratio is "
        f"{worst_lost:.2f}; the callback itself is noticed at once)"
    )


# ------------------------------------------------------------------------------ c. end to end
async def one_job_e2e(duration: float, *, callbacks: bool) -> dict[str, float]:
    clock = TestClock()
    image = prepare_image(png_bytes(), SoraStoryboard.image_spec)
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        async with FakeKie(clock=clock, auto_callbacks=False) as fake:
            fake.plan = TaskPlan(waiting=2, queuing=3, duration=duration - 5)
            sections: dict[str, dict[str, object]] = {}
            if callbacks:
                port = free_port()
                sections["http"] = {"public_url": f"http://127.0.0.1:{port}", "port": port}
            settings = make_settings(Path(tmp), fake.url, **sections)
            delivery = RecordingDelivery()
            kie = KieClient(settings.kie, limits=RateLimits())
            rt = await Runtime.build(settings, delivery, kie=kie, clock=clock, serve_http=callbacks)
            rt._closers.append(kie)
            try:
                if rt.web is not None:
                    await rt.web.start()
                submitted = await rt.tracker.submit(BOARD, image)
                await rt.tracker.run_once()  # uploads and creates: the task starts now
                job = await rt.store.get_job(submitted.id)
                assert job is not None and job.state == JobState.RUNNING, job
                assert job.task_id is not None
                task = fake.tasks[job.task_id]
                limit = task.plan.total + 3600
                while clock.now() - task.created_at < limit:
                    clock.advance(1.0)
                    if callbacks:
                        await fake.fire_callbacks()
                    await rt.tracker.run_once()
                    now_job = await rt.store.get_job(submitted.id)
                    assert now_job is not None
                    job = now_job
                    if job.state in DONE:
                        break
                assert job.state in DONE and job.finished_at is not None, job
                assert job.submitted_at is not None
                return {
                    "reads": fake.calls["recordInfo"],
                    "job_reads": job.reads,
                    "task_takes": task.ended_at - job.submitted_at,
                    "latency": job.finished_at - task.ended_at,
                    "delivered": float(len(delivery.videos)),
                }
            finally:
                await rt.close()


async def part_c() -> None:
    heading("c. end to end: tracker + KieClient + fake kie.ai, TestClock in 1 s steps")
    print(
        f"{'mode':>8} | {'job takes':>9} | {'recordInfo':>10} | {'target':>6} | "
        f"{'notice latency':>14} | {'bound':>7} | verdict"
    )
    print("-" * 80)
    for callbacks in (False, True):
        for d in (60, 300):
            r = await one_job_e2e(d, callbacks=callbacks)
            bound = max(10.0, 0.10 * r["task_takes"])
            mode = "callback" if callbacks else "polling"
            oks = [
                check(
                    r["latency"] <= bound,
                    f"c: {mode} {d} s job noticed {r['latency']:.1f} s late (> {bound:.1f} s)",
                ),
                check(r["delivered"] == 1, f"c: {mode} {d} s job was not delivered"),
            ]
            target = "-"
            if not callbacks:
                target = str(READ_TARGETS[d])
                oks.append(
                    check(
                        r["reads"] <= READ_TARGETS[d],
                        f"c: {mode} {d} s job cost {r['reads']} reads",
                    )
                )
            verdict = "ok" if all(o == "ok" for o in oks) else "MISSED"
            print(
                f"{mode:>8} | {fmt_dur(r['task_takes']):>9} | {r['reads']:>10} | {target:>6} | "
                f"{r['latency']:>12.1f} s | {bound:>5.1f} s | {verdict}"
            )
    print("(the first read comes 10 s after createTask; the task's end is the fake's real end)")


# ------------------------------------------------------------------------------ d. real time
def max_in_window(stamps: list[float], window: float) -> tuple[int, float]:
    """Most stamps in any half-open window [s, s + window); and where it starts."""
    stamps = sorted(stamps)
    best, at, j = 0, 0.0, 0
    for i, s in enumerate(stamps):
        while j < len(stamps) and stamps[j] < s + window:
            j += 1
        if j - i > best:
            best, at = j - i, s
    return best, at


async def part_d(jobs: int, concurrency: int | None, task_seconds: float) -> None:
    heading(f"d. real time: {jobs} jobs at once, poll_min_seconds=0.05, real Clock, tracker loop")
    stamps: dict[str, list[float]] = {"createTask": [], "recordInfo": [], "upload": []}
    paths = {
        "/api/v1/jobs/createTask": "createTask",
        "/api/v1/jobs/recordInfo": "recordInfo",
        "/api/file-stream-upload": "upload",
    }

    @web.middleware
    async def stamp(request: web.Request, handler):  # type: ignore[no-untyped-def]
        name = paths.get(request.path)
        if name is not None:
            stamps[name].append(time.monotonic())
        return await handler(request)

    image = prepare_image(png_bytes(), SoraStoryboard.image_spec)
    fake = FakeKie(clock=time.time, auto_callbacks=False)
    fake.app.middlewares.append(stamp)  # before start(): the app is frozen when it starts
    fake.plan = TaskPlan(waiting=0.5, queuing=0.5, duration=max(0.1, task_seconds - 1.0))
    tracker = {"poll_min_seconds": 0.05, "deadline_minutes": 2.0}
    if concurrency is not None:
        tracker["concurrency"] = concurrency
    with tempfile.TemporaryDirectory(prefix="bench-rate-") as tmp:
        await fake.start()
        settings = make_settings(Path(tmp), fake.url, tracker=tracker)
        kie = KieClient(settings.kie, limits=RateLimits())
        rt = await Runtime.build(settings, RecordingDelivery(), kie=kie)
        rt._closers.append(kie)
        try:
            ids = [(await rt.tracker.submit(BOARD, image)).id for _ in range(jobs)]
            t0 = time.monotonic()
            await rt.start()
            active = len(ids)
            while active and time.monotonic() - t0 < 110:
                await asyncio.sleep(0.25)
                states = [(await rt.store.get_job(i)) for i in ids]
                active = sum(1 for j in states if j is not None and j.active)
            elapsed = time.monotonic() - t0
            states = [(await rt.store.get_job(i)) for i in ids]
        finally:
            await rt.close()
            await fake.close()

    by_state: dict[str, int] = {}
    for j in states:
        assert j is not None
        by_state[str(j.state)] = by_state.get(str(j.state), 0) + 1
    latencies, late = [], 0
    for j in states:
        assert j is not None
        if j.task_id in fake.tasks and j.finished_at is not None and j.state in DONE:
            task = fake.tasks[j.task_id]
            latency = j.finished_at - task.ended_at
            latencies.append(latency)
            took = task.ended_at - (j.submitted_at or task.created_at)
            late += latency > max(10.0, 0.10 * took)
    reads, at_r = max_in_window(stamps["recordInfo"], 1.0)
    creates, at_c = max_in_window(stamps["createTask"], 10.0)
    limited, _ = max_in_window(stamps["recordInfo"] + stamps["upload"], 1.0)
    conc = settings.tracker.concurrency
    print(
        f"tracker.concurrency={conc}, tasks take {fake.plan.total:g} s; "
        f"finished in {elapsed:.1f} s; final states {by_state}"
    )
    print(
        f"requests seen by the fake: createTask {len(stamps['createTask'])}, "
        f"recordInfo {len(stamps['recordInfo'])}, upload {len(stamps['upload'])}"
    )
    if stamps["recordInfo"]:
        span = max(stamps["recordInfo"]) - min(stamps["recordInfo"])
        print(
            f"recordInfo: {len(stamps['recordInfo'])} reads over {span:.1f} s "
            f"(mean {len(stamps['recordInfo']) / max(span, 1e-9):.1f}/s)"
        )
    print(
        f"most recordInfo in any 1 s window : {reads:>3} (at +{at_r - t0:.1f} s)  "
        f"target <= {READS_PER_S}: "
        f"{check(reads <= READS_PER_S, f'd: {reads} reads in one second')}"
    )
    print(
        f"most createTask in any 10 s window: {creates:>3} (at +{at_c - t0:.1f} s)  "
        f"target <= {CREATES_PER_10S}: "
        f"{check(creates <= CREATES_PER_10S, f'd: {creates} creates in ten seconds')}"
    )
    print(
        f"(information: recordInfo + uploads, which share the read limiter, in any 1 s: {limited})"
    )
    if latencies:
        latencies.sort()
        print(
            f"(information: notice latency under this load: median "
            f"{latencies[len(latencies) // 2]:.2f} s, worst {latencies[-1]:.2f} s; "
            f"{late} of {len(latencies)} jobs noticed later than max(10 s, 10 %)"
            + (": WARNING, see bench/README.md)" if late else ")")
        )
    all_done = by_state.get(str(JobState.DELIVERED), 0) == jobs
    check(all_done, f"d: not every job was delivered: {by_state}")


# ------------------------------------------------------------------------------ e. learned
def part_e(jobs: int = 10_000, seed: int = 7) -> None:
    heading("e. the learned schedule against today's (bot.jobs.polling, polling)")
    rng = random.Random(seed)
    median, sigma = 240.0, 0.2  # 5-95 %: about 2.9-5.6 min
    history = [rng.lognormvariate(math.log(median), sigma) for _ in range(50)]
    start = polling.learned_start(history)
    assert start is not None
    print(f"history: 50 videos, median {median:g} s, sigma {sigma:g}: learned start {start:.0f} s")
    print(
        f"{'jobs take':>16} | {'schedule':>8} | {'reads mean':>10} | {'p95':>3} | "
        f"{'max':>3} | {'worst lag/promise':>17} | {'ends before start':>17} | worst lag there"
    )
    print("-" * 106)
    for label, factor in (("as history", 1.0), ("30 % faster", 0.7), ("40 % slower", 1.4)):
        ends = [rng.lognormvariate(math.log(median * factor), sigma) for _ in range(jobs)]
        means: dict[str, float] = {}
        for name, s in (("today", None), ("learned", start)):
            reads, worst, early, worst_early = [], 0.0, 0, 0.0
            for c in ends:
                times = polling.read_times(c, start=s)
                reads.append(len(times))
                late = times[-1] - c
                if s is not None and c < s:
                    early += 1
                    worst_early = max(worst_early, late)
                    ok = late <= max(polling.SAFETY_MIN, 0.25 * c) + 1e-9
                    check(ok, f"e: {label}: an end at {c:.0f} s noticed {late:.1f} s late")
                else:
                    worst = max(worst, late / max(polling.POLL_MIN, 0.10 * c))
            reads.sort()
            means[name] = statistics.fmean(reads)
            check(worst <= 1.0 + 1e-9, f"e: {label} {name}: worst lag ratio {worst:.3f} > 1")
            there = f"{worst_early:.1f} s" if early else "-"
            p95 = reads[len(reads) * 95 // 100]
            print(
                f"{label:>16} | {name:>8} | {means[name]:>10.1f} | {p95:>3} | {reads[-1]:>3} | "
                f"{worst:>17.3f} | {early:>17} | {there}"
            )
        check(means["learned"] < means["today"], f"e: {label}: learned reads no fewer")
    print(
        f"{jobs} simulated jobs per row, the same completion times for both schedules; the first"
        "\nread at 10 s either way. worst lag/promise: over ends at or after the learned start"
        "\n(all ends for today's). Before the start an end is promised max(60 s, 25 %)."
    )


# ------------------------------------------------------------------------------ main
async def amain(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    part_a()
    part_b()
    await part_c()
    part_e()
    if not args.skip_realtime:
        for conc in args.concurrency or [None, 100]:
            await part_d(args.jobs, conc, args.task_seconds)
    print()
    print(f"total {time.monotonic() - t0:.1f} s")
    if failures:
        print("TARGETS MISSED:")
        for f in failures:
            print(f"  - {f}")
        return 1
    print("all targets met")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30, help="jobs in part d (default 30)")
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        help="tracker.concurrency in part d; repeat to run several (default: the setting's "
        "default, then 100)",
    )
    parser.add_argument(
        "--task-seconds", type=float, default=3.0, help="how long each task takes in part d"
    )
    parser.add_argument("--skip-realtime", action="store_true", help="skip part d")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(amain(args))
    return 130


if __name__ == "__main__":
    sys.exit(main())
