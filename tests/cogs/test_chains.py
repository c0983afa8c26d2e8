"""Long storyboards in Discord: a storyboard longer than the model takes is planned into
segments on the card, generated as a chain (the status says which segment), delivered as one
video, retried from a failed segment and redone segment by segment, each paid only for what is
made again. kie.ai's results are real little mp4s (one colour per task)."""

from __future__ import annotations

import pytest

from bot.jobs.store import JobState
from bot.media.video import probe
from tests.cogs.conftest import sim_now
from tests.cogs.test_storyboard import bot_messages, card_of, said
from tests.fakes.fakekie import KLING_MODEL, SORA_MODEL, TaskPlan
from tests.fakes.memkie import MemoryKie
from tests.fakes.videos import FPS
from tests.helpers import png_bytes

# The seed's longest storyboard: 10 shots of 2.5 s, 25 s.
SEED = ";".join(f"2.5 | Scene {i}: the kitten, moment {i}" for i in range(1, 11))
MINUTE = ";".join(f"3 | Shot {i} of the long walk" for i in range(1, 21))


@pytest.fixture
def memkie() -> MemoryKie:
    """kie.ai whose results are real mp4s, so the chain's frames and join are real."""
    kie = MemoryKie(sim_now, video_results=True)
    kie.plan = TaskPlan(waiting=2, duration=20)
    return kie


def sora_is_gone(env, memkie: MemoryKie) -> None:
    """A default install (Sora, with Kling as the fallback) after kie.ai answered that Sora is
    not supported: the bot knows it is unavailable, and kie.ai refuses it."""
    memkie.fake.remove_model(SORA_MODEL)
    env.bot.runtime.models.mark_unavailable(SORA_MODEL, sim_now(), "not supported")


def world(env, locale: str | None = None):
    guild = env.create_guild(preferred_locale=locale) if locale else env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    return guild, channel, alice


async def long_card(env, channel, member, shots=SEED, length=25):
    r = await member.slash(
        channel, "storyboard", image=("ref.png", png_bytes(640, 360)), shots=shots, length=length
    )
    assert "draft is ready" in said(r) or "草稿已创建" in said(r), said(r)
    return card_of(env, channel)


def fields(card) -> dict[str, str]:
    return {f.name: f.value for f in card.embeds[0].fields}


def current(channel, msg):
    return next(m for m in channel.history() if m.id == msg.id)


def shown(env, status) -> list[str]:
    """Every text the status message showed, in order: as posted, then each edit."""
    edits = [
        r.json["content"]
        for r in env.http_requests
        if r.method == "PATCH"
        and r.path.endswith(f"/messages/{status.id}")
        and "content" in (r.json or {})
    ]
    return [status.content, *edits]


async def run_until(env, channel, status, done, *, step=10, limit=120):
    """Let time pass until ``done()``; every text the status message showed, in order."""
    for _ in range(limit):
        if done():
            return shown(env, status)
        await env.advance_time(step)
    raise AssertionError("\n\n".join(shown(env, status)))


def videos(env, channel, card):
    return [m for m in bot_messages(env, channel) if m.attachments and m.id != card.id]


async def test_the_seeds_25_second_storyboard_is_made_in_two_kling_segments(
    simcord_env, memkie, tmp_path
):
    env = simcord_env
    _guild, channel, alice = world(env)
    sora_is_gone(env, memkie)

    card = await long_card(env, channel, alice)
    shown = fields(card)
    assert card.embeds[0].title == "Storyboard · 10 shots · 25 s"
    assert shown["Model"] == "Kling 3.0 Omni"
    assert shown["Estimated cost"] == "364 credits (≈ $1.82) for 2 segments"
    assert shown["Segments"].splitlines() == [
        "2 segments, about 6-10 min",
        "Segment 1: shots 1-5 (12.5 s, 182 credits)",
        "Segment 2: shots 6-10 (12.5 s, 182 credits)",
    ]
    assert shown["Timeline"].count("┃") == 1 and "25/25 s" in shown["Timeline"]

    g = await alice.click(card, label="Generate")
    assert g.ephemeral and said(g).startswith("Started:")
    status = bot_messages(env, channel)[-1]
    # The whole chain's price is reserved before anything is spent.
    job = (await env.bot.runtime.store.recent_jobs(1))[0]
    assert job.is_chain and job.credits == 364
    assert await env.bot.runtime.quotas.usage_state(job.id) == "reserved"

    seen = await run_until(env, channel, status, lambda: videos(env, channel, card))
    assert any(s.startswith("🎞️ Segment 1 of 2 · ") for s in seen), seen
    assert any(s.startswith("🎞️ Segment 2 of 2 · ") for s in seen), seen
    assert any(" · generating · " in s and " elapsed" in s for s in seen), seen

    [result] = videos(env, channel, card)
    assert result.reference.message_id == card.id
    path = tmp_path / "posted.mp4"
    path.write_bytes(await result.attachments[0].read())
    assert probe(path).frames == 13 * FPS * 2 - 1  # two 13 s segments, joined
    # kie.ai received two createTasks, both Kling; the second from the uploaded last frame.
    assert [b["model"] for b in memkie.fake.create_attempts] == [KLING_MODEL, KLING_MODEL]
    first, second = memkie.created
    assert first["input"]["image_urls"] == [memkie.uploads[0]["downloadUrl"]]
    assert second["input"]["image_urls"] == [memkie.uploads[1]["downloadUrl"]]
    assert memkie.uploads[1]["bytes"] != memkie.uploads[0]["bytes"]
    assert await env.bot.runtime.quotas.usage_state(job.id) == "charged"
    # The result offers a redo of either segment.
    selects = [c for row in result.components for c in row.children if c.type.value == 3]
    assert [o.label for o in selects[0].options] == ["Redo segment 1", "Redo segment 2"]


async def test_a_60_second_storyboard_is_four_segments_and_length_40_in_the_thread(
    simcord_env, memkie, tmp_path
):
    env = simcord_env
    _guild, channel, alice = world(env)
    sora_is_gone(env, memkie)
    card = await long_card(env, channel, alice, shots=MINUTE, length=60)
    shown = fields(card)
    assert card.embeds[0].title == "Storyboard · 20 shots · 60 s"
    assert shown["Segments"].splitlines()[0] == "4 segments, about 12-20 min"
    assert shown["Estimated cost"] == "840 credits (≈ $4.20) for 4 segments"
    assert shown["Timeline"].count("┃") == 3

    await alice.click(card, label="Generate")
    status = bot_messages(env, channel)[-1]
    seen = await run_until(env, channel, status, lambda: videos(env, channel, card))
    for k in (1, 2, 3, 4):
        assert any(s.startswith(f"🎞️ Segment {k} of 4 · ") for s in seen), seen
    assert [b["input"]["duration"] for b in memkie.created] == [15, 15, 15, 15]
    [result] = videos(env, channel, card)
    path = tmp_path / "minute.mp4"
    path.write_bytes(await result.attachments[0].read())
    assert probe(path).frames == 4 * 15 * FPS - 3

    # The thread takes a 40 s length (the maximum is 60 s), and refuses one over it.
    thread = channel.threads[0]
    await alice.send(thread, "-#20\n-#19\n-#18\n-#17\n-#16\n-#15\n-#14\nlength 40")
    draft = await env.bot.drafts.get(_draft_id(card))
    assert draft.board.length == 40 and len(draft.board.shots) == 13
    shown = fields(current(channel, card))
    assert shown["Segments"].splitlines()[0] == "3 segments, about 9-15 min"
    await alice.send(thread, "length 70")
    assert "70" in thread.last_message.content
    assert (await env.bot.drafts.get(draft.id)).board.length == 40


def _draft_id(card) -> str:
    return card.embeds[0].footer.text.split()[1]


async def test_a_failed_segment_is_retried_from_it_paying_only_for_it(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    sora_is_gone(env, memkie)
    card = await long_card(env, channel, alice)
    await alice.click(card, label="Generate")
    status = bot_messages(env, channel)[-1]
    await run_until(env, channel, status, lambda: len(memkie.created) == 1, step=5)
    memkie.plan = TaskPlan(waiting=2, duration=20, outcome="fail")  # segment 2 fails
    await run_until(env, channel, status, lambda: len(memkie.created) == 2, step=5)
    memkie.plan = TaskPlan(waiting=2, duration=20)
    job = (await env.bot.runtime.store.recent_jobs(1))[0]

    async def ended() -> bool:
        return not (await env.bot.runtime.store.get_job(job.id)).active

    for _ in range(60):
        if await ended():
            break
        await env.advance_time(10)
    text = current(channel, status).content
    lines = text.splitlines()
    assert lines[0].startswith("❌ The generation failed: segment 2 of 2 was not made: "), text
    assert "Segment 1 was made and is kept: a retry from segment 2 does not pay for it again." in (
        lines
    )
    labels = [c.label for row in current(channel, status).components for c in row.children]
    assert labels == ["Retry from segment 2"]
    # Segment 1 counted (182 credits); the failed one did not.
    async with env.bot.runtime.store.db.execute(
        "SELECT credits, state FROM usage WHERE job_id = ?", (job.id,)
    ) as cur:
        assert tuple(await cur.fetchone()) == (182, "charged")

    # Someone else may not retry it.
    bob = _guild.add_member(env.create_user("bob"))
    r = await bob.click(current(channel, status), label="Retry from segment 2")
    assert r.ephemeral and "Only the author" in said(r)

    r = await alice.click(current(channel, status), label="Retry from segment 2")
    assert r.ephemeral
    assert said(r) == (
        "🔁 Retry from segment 2 of 2: 1 segment is made again for 182 credits (≈ $0.91); the "
        "segment before it is reused and not paid again. Press **Confirm** to start."
    )
    assert len(memkie.created) == 2  # nothing was spent by asking
    ok = await alice.click(r.response.message, label="Confirm")
    assert said(ok).startswith("Started:")
    again = (await env.bot.runtime.store.recent_jobs(1))[0]
    assert again.id != job.id and again.is_chain
    assert await env.bot.runtime.quotas.usage_state(again.id) == "reserved"
    async with env.bot.runtime.store.db.execute(
        "SELECT credits FROM usage WHERE job_id = ?", (again.id,)
    ) as cur:
        assert (await cur.fetchone())[0] == 182
    # The old status no longer offers the retry.
    assert current(channel, status).components == []
    # Pressing the same Confirm again starts nothing more.
    twice = await alice.click(r.response.message, label="Confirm")
    assert said(twice) == "That was started already."

    new_status = bot_messages(env, channel)[-1]
    await run_until(env, channel, new_status, lambda: videos(env, channel, card))
    assert len(memkie.created) == 3  # only segment 2 was made again
    assert memkie.created[2]["input"]["image_urls"] == [memkie.uploads[-1]["downloadUrl"]]
    assert len(videos(env, channel, card)) == 1
    assert (await env.bot.runtime.store.get_job(again.id)).state == JobState.DELIVERED


async def test_redo_a_segment_of_a_delivered_video_shows_its_cost_first(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    sora_is_gone(env, memkie)
    card = await long_card(env, channel, alice)
    await alice.click(card, label="Generate")
    status = bot_messages(env, channel)[-1]
    await run_until(env, channel, status, lambda: videos(env, channel, card))
    [result] = videos(env, channel, card)

    r = await alice.select(result, ["1"])
    assert r.ephemeral
    assert said(r).startswith(
        "🎲 Redo segment 1 of 2: it and the segment after it are made again for 364 credits "
        "(≈ $1.82); nothing before it is reused."
    ), said(r)
    assert len(memkie.created) == 2
    r2 = await alice.select(result, ["2"])
    assert said(r2) == (
        "🎲 Redo segment 2 of 2: it is made again for 182 credits (≈ $0.91); the segment "
        "before it is reused and not paid again. The new video is posted beside this one. "
        "Press **Confirm** to start."
    )
    ok = await alice.click(r2.response.message, label="Confirm")
    assert said(ok).startswith("Started:")
    new_status = bot_messages(env, channel)[-1]
    await run_until(env, channel, new_status, lambda: len(videos(env, channel, card)) == 2)
    assert len(memkie.created) == 3


async def test_a_chinese_server_reads_the_plan_and_the_chain_in_chinese(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env, "zh-CN")
    sora_is_gone(env, memkie)
    card = await long_card(env, channel, alice)
    shown = fields(card)
    assert shown["预计费用"] == "364 积分（约 $1.82），共 2 段"
    assert shown["分段"].splitlines() == [
        "2 段，约 6-10 分钟",
        "第 1 段：镜头 1-5（5 个镜头，12.5 秒，182 积分）",
        "第 2 段：镜头 6-10（5 个镜头，12.5 秒，182 积分）",
    ]
    await alice.click(card, label="生成")
    status = bot_messages(env, channel)[-1]
    seen = await run_until(env, channel, status, lambda: videos(env, channel, card))
    assert any(s.startswith("🎞️ 第 1 段，共 2 段 · ") and "已用时" in s for s in seen), seen
    assert any(s.startswith("🎞️ 第 2 段，共 2 段 · ") for s in seen), seen
    [result] = videos(env, channel, card)
    selects = [c for row in result.components for c in row.children if c.type.value == 3]
    assert selects[0].placeholder == "重做某一段…"


async def test_sora_found_gone_at_the_first_generate_makes_the_seed_in_two_kling_segments(
    simcord_env, memkie, tmp_path
):
    """A default install that does not know yet that Sora is gone: the card plans one Sora
    video; kie.ai answers Sora's createTask "not supported" (no task made), and the same job
    goes on as a chain of two Kling segments, in the same status message."""
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.fake.remove_model(SORA_MODEL)
    card = await long_card(env, channel, alice)
    assert fields(card)["Model"] == "Sora 2 Pro Storyboard"
    assert "Segments" not in fields(card)
    g = await alice.click(card, label="Generate")
    assert said(g).startswith("Started:")
    status = bot_messages(env, channel)[-1]
    job_id = (await env.bot.runtime.store.recent_jobs(1))[0].id

    seen = await run_until(env, channel, status, lambda: videos(env, channel, card))
    lines = [line for text in seen for line in text.splitlines()]
    assert any(line.startswith("🎞️ Segment 1 of 2 · ") for line in lines), seen
    assert any(line.startswith("🎞️ Segment 2 of 2 · ") for line in lines), seen
    assert not any(line.startswith("❌") for line in lines), seen
    assert seen[-1].startswith(
        f"ℹ️ {SORA_MODEL} is unavailable at kie.ai; using {KLING_MODEL} instead (364 credits)."
    )
    [result] = videos(env, channel, card)
    path = tmp_path / "posted.mp4"
    path.write_bytes(await result.attachments[0].read())
    assert probe(path).frames == 13 * FPS * 2 - 1  # two 13 s segments, joined
    # One Sora createTask (refused: no task), then one per Kling segment.
    assert [b["model"] for b in memkie.fake.create_attempts] == [SORA_MODEL, *[KLING_MODEL] * 2]
    assert len(memkie.created) == 2
    # The same job, its status message and its reservation, charged at the chain's price.
    job = await env.bot.runtime.store.get_job(job_id)
    assert job.is_chain and job.state == JobState.DELIVERED and job.status_message_id == status.id
    async with env.bot.runtime.store.db.execute(
        "SELECT credits, state FROM usage WHERE job_id = ?", (job_id,)
    ) as cur:
        assert tuple(await cur.fetchone()) == (364, "charged")
    assert [m.id for m in bot_messages(env, channel) if m.content.startswith("ℹ️")] == [status.id]


async def test_a_server_capping_segments_at_one_refuses_the_seed_at_generate(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    sora_is_gone(env, memkie)
    await env.bot.runtime.quotas.set(guild.id, "max_segments", "1", actor_id=0)
    card = await long_card(env, channel, alice)
    assert fields(card)["Model"] == "Kling 3.0 Omni"
    g = await alice.click(card, label="Generate")
    assert g.ephemeral and said(g) == (
        "This storyboard needs 2 segments; this server allows at most 1 segment per video. "
        "Shorten the shots or remove some."
    )
    assert not any(m.content.startswith("⏳") for m in bot_messages(env, channel))  # no status
    assert memkie.fake.create_attempts == [] and memkie.uploads == []
    assert await env.bot.runtime.store.recent_jobs(1) == []


async def test_a_redo_after_the_server_lowered_its_segment_cap_is_refused_in_one_line(
    simcord_env, memkie
):
    env = simcord_env
    guild, channel, alice = world(env)
    sora_is_gone(env, memkie)
    card = await long_card(env, channel, alice)
    await alice.click(card, label="Generate")
    status = bot_messages(env, channel)[-1]
    await run_until(env, channel, status, lambda: videos(env, channel, card))
    [result] = videos(env, channel, card)
    await env.bot.runtime.quotas.set(guild.id, "max_segments", "1", actor_id=0)

    r = await alice.select(result, ["2"])
    ok = await alice.click(r.response.message, label="Confirm")
    assert said(ok) == (
        "This storyboard needs 2 segments; this server allows at most 1 segment per video. "
        "Shorten the shots or remove some."
    )
    assert len(memkie.created) == 2  # nothing more was sent
    assert len([j for j in await env.bot.runtime.store.recent_jobs(10) if j.is_chain]) == 1


async def _press_together(env, member, message, label):
    """Two presses of one button reaching the bot in the same step (before either is
    answered): both interactions are dispatched, then the bot's work runs."""
    settle = env._settle_internal

    async def later(**_: object) -> None:
        return None

    env._settle_internal = later
    try:
        first = await member.click(message, label=label)
        second = await member.click(message, label=label)
    finally:
        env._settle_internal = settle
    await env.settle()
    return first, second


async def test_two_confirm_presses_at_once_start_one_retry(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    sora_is_gone(env, memkie)
    memkie.plan = TaskPlan(waiting=2, duration=20, outcome="fail")  # segment 1 fails
    card = await long_card(env, channel, alice)
    await alice.click(card, label="Generate")
    status = bot_messages(env, channel)[-1]
    job = (await env.bot.runtime.store.recent_jobs(1))[0]
    for _ in range(60):
        if not (await env.bot.runtime.store.get_job(job.id)).active:
            break
        await env.advance_time(10)
    memkie.plan = TaskPlan(waiting=2, duration=20)
    r = await alice.click(current(channel, status), label="Retry from segment 1")
    before = len(bot_messages(env, channel))

    one, two = await _press_together(env, alice, r.response.message, "Confirm")
    answers = sorted([said(one), said(two)])
    assert answers[0].startswith("Started:") and answers[1] == "That was started already."
    assert len(bot_messages(env, channel)) == before + 1  # one new status message
    jobs = [j for j in await env.bot.runtime.store.recent_jobs(10) if j.parent_id is None]
    assert len(jobs) == 2  # the failed chain and one retry
    new_status = bot_messages(env, channel)[-1]
    await run_until(env, channel, new_status, lambda: videos(env, channel, card))
    assert len(memkie.created) == 3  # the failed segment 1, then both segments once
