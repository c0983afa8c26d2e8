"""Interaction acks while 10,000 tracked jobs fall due at once, through the real command handlers.

Run from the repo root:  python bench/acks.py   (a few minutes; ``--jobs``, ``--reads``, ``--rate``)

The real bot (``StoryboardBot``: every cog, the store, the tracker) runs against simcord's
simulated Discord and the in-memory kie.ai of ``tests/fakes/memkie.py``. The store is seeded
with ``--jobs`` running jobs (as ``bench/tenk.py`` does) and ``Tracker.resume()`` makes every
one due at once; the tracker's own loop then reads each as fast as ``--reads`` status reads per
second allow (default 1000, a hundred times kie.ai's: the bot itself is what is measured).

Meanwhile members act as they would, ``--rate`` interactions a second, each in its own task
as Discord delivers them: ``/storyboard`` with an image and shots (a new draft and its card),
Generate on a card made beforehand (quota reserved, the job queued and sent), and
``/storyboard-status``. An interaction's ack time runs from the moment the simulated Discord
emits INTERACTION_CREATE to the moment the bot's interaction callback (the defer, the modal
or the answer) reaches it. The same mix is timed first with nothing due, for comparison.

Printed: ack p50 / p99 / max per command and overall, idle and during the sweep, and how long
the sweep took. Target: p99 < 50 ms during the sweep. Exit status 1 when it is missed.

simcord settles the bot's work after every action; the sweep is work that is not done for
seconds, so during the measurement the script emits interactions without settling (it waits
for each ack itself) and settles once at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import discord  # noqa: E402
import simcord  # noqa: E402
from simcord.http import client as simcord_http  # noqa: E402
from tenk import seed  # noqa: E402

from bot.client import StoryboardBot  # noqa: E402
from bot.kie import RateLimits  # noqa: E402
from tests.fakes.memkie import URL, MemoryKie  # noqa: E402
from tests.helpers import make_settings, png_bytes  # noqa: E402

SHOTS = "7.5 | A kitten with headphones; 7.5 | It licks its lips"
TARGET_P99 = 0.050
CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback$")
MEMBERS = 20


class Acks:
    """When each interaction was emitted and when its callback reached simulated Discord."""

    def __init__(self) -> None:
        self.emitted: dict[int, float] = {}
        self.acked: dict[int, asyncio.Future[float]] = {}
        #: The interaction each member's action (its task) emitted.
        self.by_task: dict[asyncio.Task[Any], int] = {}

    def observe(self, record: Any) -> None:
        self.emitted[record.id] = time.perf_counter()
        self.acked[record.id] = asyncio.get_running_loop().create_future()
        task = asyncio.current_task()
        if task is not None:
            self.by_task[task] = record.id

    def callback(self, path: str) -> None:
        match = CALLBACK.search(path)
        if match:
            future = self.acked.get(int(match.group(1)))
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    async def latency(self, interaction_id: int) -> float:
        acked = await asyncio.wait_for(self.acked[interaction_id], 30)
        return acked - self.emitted[interaction_id]


def watch_callbacks(acks: Acks) -> None:
    """Time-stamp every interaction callback as the simulated Discord receives it."""
    adapter = simcord_http.FakeWebhookAdapter
    original = adapter.request

    async def request(self: Any, route: Any, session: Any, **kwargs: Any) -> Any:
        answer = await original(self, route, session, **kwargs)
        acks.callback(str(route.url))
        return answer

    adapter.request = request  # type: ignore[method-assign]


def card_of(env: Any, channel: Any) -> Any:
    return next(
        m for m in reversed(list(channel.history())) if m.author.id == env.bot.user.id and m.embeds
    )


async def make_cards(env: Any, channel: Any, members: list[Any], count: int) -> list[Any]:
    cards = []
    for i in range(count):
        member = members[i % len(members)]
        await member.slash(channel, "storyboard", image=("ref.png", png_bytes()), shots=SHOTS)
        cards.append((member, card_of(env, channel)))
    return cards


Action = Callable[[], Awaitable[Any]]


async def measure(
    env: Any,
    acks: Acks,
    actions: list[tuple[str, Action]],
    rate: float,
    until: Callable[[], bool],
) -> dict[str, list[float]]:
    """Emit ``actions`` in turn, ``rate`` a second, each in its own task, until ``until()``
    or they run out; returns each command's ack latencies."""
    times: dict[str, list[float]] = defaultdict(list)

    async def one(name: str, action: Action) -> None:
        task = asyncio.ensure_future(action())
        while task not in acks.by_task:  # the verb emits within a few turns
            if task.done():
                task.result()
                raise RuntimeError(f"{name} emitted no interaction")
            await asyncio.sleep(0)
        times[name].append(await acks.latency(acks.by_task[task]))
        await task

    running = []
    for name, action in actions:
        if until():
            break
        running.append(asyncio.create_task(one(name, action)))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*running)
    return times


def summary(times: dict[str, list[float]]) -> dict[str, tuple[int, float, float, float]]:
    rows = {}
    everything = sorted(t for ts in times.values() for t in ts)
    for name, ts in [*sorted(times.items()), ("all", everything)]:
        ts = sorted(ts)
        if ts:
            p99 = ts[min(len(ts) - 1, int(len(ts) * 0.99))]
            rows[name] = (len(ts), statistics.median(ts), p99, ts[-1])
    return rows


async def run(jobs: int, reads: int, rate: float, count: int) -> int:
    logging.disable(logging.WARNING)
    acks = Acks()
    watch_callbacks(acks)
    with tempfile.TemporaryDirectory() as tmp:
        quota = {
            "guild_concurrent": None,
            "guild_daily": None,
            "user_concurrent": None,
            "user_daily": None,
            "user_cooldown_seconds": 0,
        }
        settings = make_settings(Path(tmp), URL, quota=quota, tracker={"deadline_minutes": 120})

        def sim_now() -> float:
            return discord.utils.utcnow().timestamp()

        kie = MemoryKie(sim_now)
        kie.limits = RateLimits(reads_per_second=reads)
        bot = StoryboardBot(settings, kie=kie, serve_http=False)
        async with simcord.run(bot, settle_timeout=120) as env:
            guild = env.create_guild(name="studio")
            channel = guild.create_text_channel("general")
            members = [guild.add_member(env.create_user(f"m{i}")) for i in range(MEMBERS)]
            cards = await make_cards(env, channel, members, 2 * count // 3 + 2)
            rt = bot.runtime
            await seed(rt, kie, jobs, now=sim_now())

            def mix(n: int) -> list[tuple[str, Action]]:
                rng = random.Random(n)
                out: list[tuple[str, Action]] = []
                for i in range(n):
                    member = members[i % MEMBERS]
                    kind = ("storyboard", "generate", "status")[i % 3]
                    if kind == "storyboard":
                        out.append((kind, lambda m=member: m.slash(
                            channel, "storyboard", image=("ref.png", png_bytes()), shots=SHOTS
                        )))  # fmt: skip
                    elif kind == "generate":
                        owner, card = cards.pop()
                        out.append((kind, lambda o=owner, c=card: o.click(c, label="Generate")))
                    else:
                        out.append((kind, lambda m=member: m.slash(channel, "storyboard-status")))
                rng.shuffle(out)
                return out

            settle = env._settle_internal

            async def unsettled(*args: Any, **kwargs: Any) -> None:
                return None

            env._settle_internal = unsettled  # type: ignore[method-assign]
            env._register_dispatch_observer(acks.observe)
            try:
                idle = await measure(env, acks, mix(count // 3), rate, lambda: False)
                t0 = time.perf_counter()
                await rt.tracker.resume()
                sweeping = await measure(
                    env, acks, mix(count), rate, lambda: kie.fake.calls["recordInfo"] >= jobs
                )
                while kie.fake.calls["recordInfo"] < jobs:  # noqa: ASYNC110 (a count, no event)
                    await asyncio.sleep(0.05)
                sweep = time.perf_counter() - t0
            finally:
                env._settle_internal = settle  # type: ignore[method-assign]
            await asyncio.sleep(1.0)  # the last answers' follow-ups
            # 10,000 jobs keep falling due: stop the tracker before simcord settles at exit.
            await rt.tracker.stop()
        await rt.close()  # simcord detaches the bot; the store's connections are ours to close

    reads_made = kie.fake.calls["recordInfo"]
    print(f"{jobs} tracked jobs falling due at once ({reads} reads/s allowed); {rate:g} "
          f"interactions/s; sweep {sweep:.1f} s ({reads_made} reads)")  # fmt: skip
    print(f"  {'acks':<18}{'command':<12}{'n':>5}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for label, times in (("nothing due", idle), ("during the sweep", sweeping)):
        for name, (n, p50, p99, top) in summary(times).items():
            print(f"  {label:<18}{name:<12}{n:>5}{p50 * 1000:9.1f}{p99 * 1000:9.1f}"
                  f"{top * 1000:9.1f}")  # fmt: skip
    p99 = summary(sweeping)["all"][2]
    ok = p99 < TARGET_P99
    print(f"  during the sweep: ack p99 {p99 * 1000:.1f} ms (target < {TARGET_P99 * 1000:g} ms)")
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=1000, help="status reads per second")
    parser.add_argument("--rate", type=float, default=20.0, help="interactions per second")
    parser.add_argument("--count", type=int, default=300, help="interactions during the sweep")
    args = parser.parse_args()
    return asyncio.run(run(args.jobs, args.reads, args.rate, args.count))


if __name__ == "__main__":
    sys.exit(main())
