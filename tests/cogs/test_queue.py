"""A burst of 100 Generate presses, through Discord: every place a status shows is the place
kept, and kie.ai never receives more createTask than its limit in any 10 s (virtual time)."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import pytest

from bot.client import DiscordClock
from bot.config.settings import Settings
from bot.kie.ratelimit import SlidingWindowLimiter
from tests.cogs.conftest import sim_now
from tests.cogs.test_storyboard import bot_messages, make_card
from tests.fakes.fakekie import TaskPlan
from tests.fakes.memkie import URL, MemoryKie
from tests.helpers import make_settings

PRESSES = 100
PLACE = re.compile(r"#(\d+) in the queue")
STATUS_PATH = re.compile(r"/channels/(\d+)/messages(?:/(\d+))?$")


@pytest.fixture
def bot_settings(tmp_path) -> Settings:
    # Every member may run one video; the servers set no cap of their own.
    return make_settings(
        tmp_path,
        URL,
        quota={
            "guild_concurrent": None,
            "guild_daily": None,
            "user_concurrent": None,
            "user_daily": None,
            "user_cooldown_seconds": 0,
        },
    )


class VirtualClock(DiscordClock):
    """The bot's clock, whose sleeps end only when the test moves simulated time: without
    this, a short sleep (the queue's 1 s redraw, a poll) also ends by the wall clock, and a
    queue of 100 waiting jobs keeps the simulation busy in real time."""

    env: Any = None

    async def sleep(self, seconds: float) -> None:
        if self.env is None:
            return await super().sleep(seconds)
        await self.env.external_wait(
            asyncio.sleep(max(0.0, seconds)), reason="a timer on simulated time"
        )


CLOCK = VirtualClock()


@pytest.fixture
def memkie() -> MemoryKie:
    kie = MemoryKie(sim_now)
    # kie.ai's window on the simulated clock: 18 createTask in any 10 s (20 less our margin).
    kie.limits.create = SlidingWindowLimiter(18, 10.0, clock=sim_now, sleep=CLOCK.sleep)
    return kie


@pytest.fixture
def simcord_bot(make_bot):
    bot = make_bot()
    bot.clock = CLOCK
    return bot


async def test_a_burst_of_100_presses_shows_each_member_the_place_kept(simcord_env, memkie):
    env = simcord_env
    CLOCK.env = env
    memkie.plan = TaskPlan(duration=3600)  # nothing finishes meanwhile: only the queue moves
    sent: list[tuple[int, float, str]] = []  # (requests made before it, when, task id)
    create = memkie.create_task

    async def recording_create(body: dict[str, Any], **options: bool) -> str:
        task_id = await create(body, **options)
        sent.append((len(env.http_requests), sim_now(), task_id))
        return task_id

    memkie.create_task = recording_create  # type: ignore[method-assign]
    # Two servers of unequal size; some members press Generate on several drafts (one of
    # them five times), so the queue's fair order interleaves members and servers unevenly.
    cards = []
    servers = (("big", 2, 30, [5] + [3] * 14), ("small", 1, 20, [2] * 18))
    for name, channels, members, presses in servers:
        guild = env.create_guild(name=name)
        rooms = [guild.create_text_channel(f"studio-{c}") for c in range(channels)]
        for m in range(members):
            channel = rooms[m % channels]
            member = guild.add_member(env.create_user(f"{name}-{m}"))
            for _ in range(presses[m] if m < len(presses) else 1):
                await make_card(env, channel, member)
                card = [msg for msg in bot_messages(env, channel) if msg.embeds][-1]
                cards.append((channel, member, card))
    assert len(cards) == PRESSES
    random.Random(7).shuffle(cards)
    steps: list[tuple[int, int]] = [(len(env.http_requests), 0)]  # (requests, sent) per step
    for _channel, member, card in cards:
        await member.click(card, label="Generate")
        steps.append((len(env.http_requests), len(sent)))
    for _ in range(120):
        if len(sent) == PRESSES:
            break
        await env.advance_time(0.5)
        steps.append((len(env.http_requests), len(sent)))
    assert len(sent) == PRESSES

    # 0 createTask above the limit in any 10 s window, all 100 within 55 s.
    times = [at for _, at, _ in sent]
    assert max(sum(1 for u in times[i:] if u < t + 10.0 - 1e-6) for i, t in enumerate(times)) <= 18
    assert times[-1] - times[0] <= 55.0

    store = env.bot.runtime.store
    by_status: dict[int, str] = {}
    for channel, _member, _card in cards:
        for message in bot_messages(env, channel):
            if "job " in message.content:
                job_id = re.search(r"job ([0-9a-f]+)", message.content).group(1)  # type: ignore[union-attr]
                by_status[message.id] = job_id
    order = {task_id: i for i, (_, _, task_id) in enumerate(sent)}
    sent_index: dict[str, int] = {}
    for job_id in by_status.values():
        job = await store.get_job(job_id)
        assert job is not None and job.task_id is not None
        sent_index[job_id] = order[job.task_id]
    assert len(sent_index) == PRESSES

    # Every place shown, in every status post and edit: shown #n when k createTasks had been
    # made, the job was the (k+n)-th. k is known exactly unless createTasks were made in the
    # same step as the edit, between the place being read and the edit being sent: then k lies
    # between the count at the step's start and the count when the edit went out.
    exact = bounded = 0
    step = 0
    for r, request in enumerate(env.http_requests):
        while step + 1 < len(steps) and steps[step + 1][0] <= r:
            step += 1
        path = STATUS_PATH.search(request.path)
        body = request.json if isinstance(request.json, dict) else {}
        content = body.get("content") or ""
        place = PLACE.search(content)
        if not path or not place or request.method not in ("POST", "PATCH"):
            continue
        job_id = re.search(r"job ([0-9a-f]+)", content)
        assert job_id, content
        position = int(place.group(1))
        k_sent = sum(1 for before, _, _ in sent if before <= r)
        k_read = steps[step][1]
        index = sent_index[job_id.group(1)]
        assert k_read + position - 1 <= index <= k_sent + position - 1, (
            job_id.group(1),
            position,
            k_read,
            k_sent,
            index,
        )
        if k_read == k_sent:
            exact += 1
        else:
            bounded += 1
    # Places were shown all along the queue, most of them checked exactly.
    assert exact >= 100, (exact, bounded)
    assert exact > 4 * bounded, (exact, bounded)
