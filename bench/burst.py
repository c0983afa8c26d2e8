"""How quickly a burst of presses is submitted under the createTask limit, and whether it stays
under it.

Run from the repo root:  python bench/burst.py   (instant; ``--real`` runs in real time, ~50 s;
``--bot`` runs the whole engine against the fake kie.ai, ~65 s)

Default and ``--real``: the limiter alone. 100 callers enter ``async with limits.create:`` at
once, as 100 Generate presses would. By default the limiter of ``RateLimits()`` (same size and
window) runs on an event loop whose clock jumps when every caller is waiting, so the figures are
those of real time without the wait; ``--real`` uses ``RateLimits().create`` itself on the real
clock. Printed: the time the last caller was admitted and the most admissions in any 10 s
window. Targets: the last one within 55 s, at most 18 in any 10 s (90 % of kie.ai's 20).

``--bot``: the real engine end to end, in real time. ``bot.runtime.Runtime`` (store, quota
ledger, tracker) with the real ``KieClient`` against the fake kie.ai HTTP server
(tests/fakes/fakekie.py) enforcing kie.ai's account limit (20 createTask in any 10 s; more are
answered 429 and dropped). The quota lets each of ``--presses`` members (100) in ``--guilds``
servers (4) run one video. Every member presses Generate at once (``bot.jobs.intake.Intake``:
reserve the quota, store the job held, show its status, release it); then one second press per
server, which the quota must refuse. It runs until every job has ended. Printed, in seconds
from the first press: when every press was answered and when kie.ai accepted the last
createTask; the most createTask reaching kie.ai in any 10 s window (those answered 429 too), the
429 answers, the tasks created (and per job), the credits the ledger charged against presses x
the video's price, the second presses refused and how the jobs ended.
Targets: the last createTask within 55 s, no 429, exactly one task and one charge per press.

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import selectors
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.domain.clock import Clock  # noqa: E402
from bot.domain.storyboard import Shot, Storyboard  # noqa: E402
from bot.jobs.intake import Intake, Order, Refused, Started, StatusPosted  # noqa: E402
from bot.jobs.store import Job  # noqa: E402
from bot.kie import KieClient, RateLimits  # noqa: E402
from bot.kie.ratelimit import SlidingWindowLimiter  # noqa: E402
from bot.media.images import prepare_image  # noqa: E402
from bot.models.kling import KlingOmni  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from tests.fakes.fakekie import KLING_MODEL, FakeKie, TaskPlan  # noqa: E402
from tests.helpers import RecordingDelivery, make_settings, png_bytes  # noqa: E402

PRESSES = 100
WINDOW = 10.0
TARGET_LAST = 55.0
TARGET_PER_WINDOW = 18
KIE_PER_WINDOW = 20  # kie.ai's account limit, enforced by the fake in --bot
BOARD = Storyboard(shots=(Shot(scene="A kitten with headphones", tenths=100),), length=10)


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: where the loop would wait ``timeout`` seconds, the virtual clock jumps."""

    now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if not events and timeout:
            self.now += timeout
        return events


async def burst(real: bool) -> list[float]:
    loop = asyncio.get_running_loop()
    limits = RateLimits()
    limiter = limits.create
    if not real:
        limiter = SlidingWindowLimiter(limiter.max_calls, limiter.window, clock=loop.time)
    start = loop.time()
    times: list[float] = []

    async def press() -> None:
        async with limiter:
            times.append(loop.time() - start)

    await asyncio.gather(*(press() for _ in range(PRESSES)))
    return sorted(times)


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of times in any window [t, t + window) (1 µs short, for rounding)."""
    width = window - 1e-6
    return max(sum(1 for u in times[i:] if u < t + width) for i, t in enumerate(times))


@dataclass
class BotRun:
    """What ``--bot`` measured (times in seconds from the first press)."""

    presses: int
    price: int
    pressed: float = 0.0  # every press answered (its job stored and released)
    last_accepted: float = 0.0
    finished: float = 0.0
    most_in_window: int = 0
    rate_limited: int = 0
    tasks: int = 0
    tasks_per_job: collections.Counter[int] = field(default_factory=collections.Counter)
    started: int = 0
    not_started: collections.Counter[str] = field(default_factory=collections.Counter)
    second_presses: int = 0
    second_refused: int = 0
    usage: dict[str, tuple[int, int]] = field(default_factory=dict)  # state -> (rows, credits)
    states: collections.Counter[str] = field(default_factory=collections.Counter)
    kie_cost: float = 0.0  # what the fake kie.ai prices the tasks it made at
    timed_out: bool = False


async def _all_ended(rt: Runtime, job_ids: list[str], give_up_at: float) -> bool:
    while time.monotonic() < give_up_at:
        jobs = [await rt.store.get_job(job_id) for job_id in job_ids]
        if all(j is not None and not j.active and j.delivery == "done" for j in jobs):
            return True
        await asyncio.sleep(0.5)
    return False


async def bot_burst(presses: int, guilds: int, task_seconds: float, give_up: float) -> BotRun:
    per_guild = -(-presses // guilds)
    quota = {
        "user_daily": 1,
        "user_concurrent": 1,
        "guild_daily": per_guild,
        "guild_concurrent": per_guild,
    }
    # The client's production retry settings (the test helper's are fast), Kling as the model.
    kie_settings = {"model": KLING_MODEL, "backoff_base": 1.0, "backoff_max": 30.0}
    kie_settings |= {"maintenance_backoff": 60.0, "request_timeout": 60.0}
    fake = FakeKie(clock=time.monotonic, auto_callbacks=False)
    fake.plan = TaskPlan(duration=task_seconds)
    fake.credits = 1e9
    fake.limit_creates(KIE_PER_WINDOW, WINDOW)
    with tempfile.TemporaryDirectory() as tmp:
        async with fake:
            settings = make_settings(Path(tmp), fake.url, kie=kie_settings, quota=quota)
            kie = KieClient(settings.kie)  # the process's shared limits: 18 per 10 s
            rt = await Runtime.build(
                settings, RecordingDelivery(), kie=kie, clock=Clock(), origin="discord"
            )
            try:
                return await _presses(rt, fake, Path(tmp), presses, guilds, give_up)
            finally:
                await rt.close()
                await kie.close()


async def _presses(
    rt: Runtime, fake: FakeKie, tmp: Path, presses: int, guilds: int, give_up: float
) -> BotRun:
    assert rt.quotas is not None
    image = tmp / "draft.png"  # a draft's stored image, prepared when the draft was made
    image.write_bytes(prepare_image(png_bytes(), KlingOmni.image_spec).data)
    intake = Intake(
        tracker=rt.tracker, quotas=rt.quotas, clock=Clock(), model=lambda: rt.models.primary
    )
    run = BotRun(presses=presses, price=rt.models.primary.price(BOARD))
    posted = iter(range(10_000, 1_000_000))

    async def post_status(job: Job) -> StatusPosted:
        return StatusPosted(next(posted), 500 + (job.guild_id or 0))

    def order(member: int) -> Order:
        guild = 1 + member % guilds
        return Order(BOARD, str(image), guild, 1000 + member, 500 + guild)

    await rt.start()
    t0 = time.monotonic()
    outcomes = await asyncio.gather(
        *(intake.generate(order(m), post_status=post_status) for m in range(presses))
    )
    run.pressed = time.monotonic() - t0
    started = [o.job.id for o in outcomes if isinstance(o, Started)]
    run.started = len(started)
    run.not_started.update(o.stage for o in outcomes if isinstance(o, Refused))
    # A second press of one member per server: each has a video running, the quota refuses.
    again = await asyncio.gather(
        *(intake.generate(order(m), post_status=post_status) for m in range(min(guilds, presses)))
    )
    run.second_presses = len(again)
    run.second_refused = sum(1 for o in again if isinstance(o, Refused) and o.stage == "quota")
    started += [o.job.id for o in again if isinstance(o, Started)]
    run.timed_out = not await _all_ended(rt, started, t0 + give_up)
    run.finished = time.monotonic() - t0
    run.last_accepted = max((t.created_at for t in fake.tasks.values()), default=t0) - t0
    # Every createTask that reached kie.ai with the right key, the ones it answered 429 too.
    run.most_in_window = most_in_any_window(sorted(fake.create_times + fake.rate_limited), WINDOW)
    run.rate_limited = len(fake.rate_limited)
    run.tasks = len(fake.tasks)
    run.kie_cost = sum(fake.cost(t.body) for t in fake.tasks.values())
    per_job: collections.Counter[str] = collections.Counter()
    for job_id in started:
        job = await rt.store.get_job(job_id)
        assert job is not None
        run.states[str(job.state)] += 1
        # The job's id names its uploaded image, which names the task's image_urls.
        per_job[job_id] = sum(
            1 for t in fake.tasks.values() if f"/{job_id}." in t.body["input"]["image_urls"][0]
        )
    run.tasks_per_job = collections.Counter(per_job.values())
    async with rt.store.db.execute(
        "SELECT state, COUNT(*) AS n, COALESCE(SUM(credits), 0) AS credits FROM usage "
        "GROUP BY state"
    ) as cur:
        run.usage = {r["state"]: (r["n"], r["credits"]) for r in await cur.fetchall()}
    return run


def report_bot(run: BotRun) -> int:
    expected = run.presses * run.price
    rows, charged = run.usage.get("charged", (0, 0))
    others = {k: v for k, v in run.usage.items() if k != "charged"}
    exact = (
        run.started == run.presses
        and charged == expected
        and rows == run.presses
        and not others
        and run.tasks == run.presses
        and run.tasks_per_job == collections.Counter({1: run.presses})
        and run.second_refused == run.second_presses
        and run.states == collections.Counter({"delivered": run.presses})
    )
    ok = run.last_accepted <= TARGET_LAST and run.rate_limited == 0 and exact and not run.timed_out
    print(f"{run.presses} Generate presses at once, the real engine against the fake kie.ai")
    print(f"  (kie.ai's limit enforced: {KIE_PER_WINDOW} createTask per {WINDOW:g} s; real clock)")
    print(f"  last createTask accepted  {run.last_accepted:6.2f} s   (target <= {TARGET_LAST:g} s)")
    print(f"  presses answered after    {run.pressed:6.2f} s   (reserved, stored, released)")
    most = f"(kie.ai allows {KIE_PER_WINDOW}; the bot sends {TARGET_PER_WINDOW})"
    print(f"  most in any 10 s at kie   {run.most_in_window:6d}     {most}")
    print(f"  429 answers               {run.rate_limited:6d}     (target 0)")
    tpj = ", ".join(f"{n} job(s) x {k}" for k, n in sorted(run.tasks_per_job.items()))
    print(f"  tasks created             {run.tasks:6d}     (target {run.presses}; {tpj})")
    print(f"  started / refused         {run.started:6d}     {dict(run.not_started) or ''}")
    print(f"  credits charged (ledger)  {charged:6d}     in {rows} rows")
    print(f"  expected                  {expected:6d}     ({run.presses} x {run.price})")
    if others:
        print(f"  other usage rows          {others}")
    print(f"  kie.ai's price of tasks   {run.kie_cost:6.0f}     (the fake's rates, for reference)")
    refused = f"{run.second_refused} of {run.second_presses}"
    print(f"  second presses refused    {refused:>6}     (the quota: 1 video each)")
    print(f"  all ended after           {run.finished:6.2f} s   {dict(run.states)}")
    if run.timed_out:
        print("  TIMED OUT: some jobs had not ended")
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="run on the real clock (~50 s)")
    parser.add_argument(
        "--bot", action="store_true", help="the whole engine against the fake kie.ai (~65 s)"
    )
    parser.add_argument("--presses", type=int, default=PRESSES, help="--bot: members pressing")
    parser.add_argument("--guilds", type=int, default=4, help="--bot: servers they are in")
    parser.add_argument("--task-seconds", type=float, default=5.0, help="--bot: kie.ai's time")
    parser.add_argument("--give-up", type=float, default=300.0, help="--bot: seconds at most")
    args = parser.parse_args()
    if args.bot:
        run = asyncio.run(bot_burst(args.presses, args.guilds, args.task_seconds, args.give_up))
        return report_bot(run)
    if args.real:
        times = asyncio.run(burst(real=True))
    else:
        selector = _VirtualSelector()
        loop = asyncio.SelectorEventLoop(selector)
        loop.time = lambda: selector.now  # type: ignore[method-assign]
        try:
            times = loop.run_until_complete(burst(real=False))
        finally:
            loop.close()
    last = times[-1]
    most = most_in_any_window(times, WINDOW)
    clock = "real" if args.real else "virtual"
    print(f"{PRESSES} createTask admissions ({clock} clock)")
    print(f"  last admitted at      {last:6.2f} s   (target <= {TARGET_LAST:.0f} s)")
    print(f"  most in any 10 s      {most:6d}     (target <= {TARGET_PER_WINDOW})")
    ok = last <= TARGET_LAST and most <= TARGET_PER_WINDOW
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
