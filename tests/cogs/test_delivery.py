"""Posting the finished video: exactly once, recognised only by what the bot itself sets."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import discord
import pytest

from bot.jobs.delivery import DeliveryRetry
from tests.cogs.test_storyboard import SHOTS, bot_messages, make_card, world
from tests.fakes.fakekie import TaskPlan
from tests.helpers import png_bytes

MIB = 1024 * 1024


class Crash(Exception):
    """Stands for the process dying right after Discord took the result message."""


def crash_after_posting_the_video(monkeypatch) -> None:
    """The next result message reaches the channel, but the bot never learns its id."""
    send = discord.abc.Messageable.send

    async def sending(self, *args, **kwargs):
        message = await send(self, *args, **kwargs)
        if "your video is ready" in (kwargs.get("content") or ""):
            monkeypatch.undo()
            raise Crash
        return message

    monkeypatch.setattr(discord.abc.Messageable, "send", sending)


def videos(env, channel):
    return [
        m
        for m in bot_messages(env, channel)
        if any(a.filename.endswith(".mp4") for a in m.attachments)
    ]


def result_posts(env, channel):
    """The bot's requests to post a result in ``channel``, failed ones included."""
    return [
        r
        for r in env.http_requests
        if r.method == "POST"
        and r.path == f"/channels/{channel.id}/messages"
        and "your video is ready" in ((r.json or {}).get("content") or "")
    ]


def job_id_of(status) -> str:
    """The job id as members read it in the status message's footer."""
    match = re.search(r"job ([0-9a-f]+)", status.content)
    assert match, status.content
    return match.group(1)


async def generate(env, channel, member, memkie, duration=20):
    memkie.plan = TaskPlan(duration=duration)
    card, _ = await make_card(env, channel, member)
    await member.click(card, label="Generate")
    status = bot_messages(env, channel)[-1]
    return card, status, job_id_of(status)


async def echo_through_the_bot(env, channel, member, text):
    """``member`` makes the bot repeat ``text`` in the channel: a shot rewritten by a reply to
    their own card, then ``undo``, whose answer quotes the edit."""
    await member.slash(channel, "storyboard", image=("ref.png", png_bytes()), shots=SHOTS)
    own_card = [m for m in bot_messages(env, channel) if m.embeds][-1]
    await member.send(channel, f"#1 {text}", reply_to=own_card)
    await member.send(channel, "undo", reply_to=own_card)
    echo = bot_messages(env, channel)[-1]
    assert text in echo.content, echo.content
    return echo


async def until_delivered(env, store, job_id, steps=10):
    for _ in range(steps):
        job = await store.get_job(job_id)
        if job.result_message_id is not None:
            return job
        await env.advance_time(10)
    return await store.get_job(job_id)


async def test_quoting_another_members_job_does_not_suppress_her_video(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    card, _status, job_id = await generate(env, channel, alice, memkie)

    # Bob copies alice's job id (and the marker results used to carry) into the channel,
    # himself and through the bot's own answers.
    await bob.send(
        channel,
        f"🎞 {job_id} sb:regen:{job_id}",
        attachments=[(f"storyboard-{job_id}.mp4", b"not a video")],
    )
    echo = await echo_through_the_bot(env, channel, bob, f"🎞 {job_id} sb:regen:{job_id}")
    assert echo.author.id == env.bot.user.id

    job = await until_delivered(env, env.bot.runtime.store, job_id)
    (video,) = videos(env, channel)
    assert video.content.startswith(f"<@{alice.id}> your video is ready")
    assert video.reference.message_id == card.id
    assert job.result_message_id == video.id


async def test_an_echo_after_a_crash_is_not_taken_for_the_result(
    simcord_env, memkie, make_bot, monkeypatch
):
    env = simcord_env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    _card, status, job_id = await generate(env, channel, alice, memkie)
    crash_after_posting_the_video(monkeypatch)
    for _ in range(4):
        await env.advance_time(10)
    (posted,) = videos(env, channel)
    assert (await env.bot.runtime.store.get_job(job_id)).result_message_id is None

    # Newer than the result, from the bot, carrying the job id: still not the result.
    await echo_through_the_bot(env, channel, bob, f"🎞 {job_id} sb:regen:{job_id}")
    await env.restart_bot(make_bot())  # a new Bot over the same database
    job = await until_delivered(env, env.bot.runtime.store, job_id)

    assert [m.id for m in videos(env, channel)] == [posted.id]
    assert job.result_message_id == posted.id
    status = next(m for m in channel.history() if m.id == status.id)
    assert str(posted.id) in status.content


async def test_a_crash_after_posting_in_a_busy_channel_does_not_post_twice(
    simcord_env, memkie, make_bot, monkeypatch
):
    env = simcord_env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    _card, _status, job_id = await generate(env, channel, alice, memkie)
    crash_after_posting_the_video(monkeypatch)
    for _ in range(4):
        await env.advance_time(10)
    (posted,) = videos(env, channel)

    for n in range(35):  # the channel moves on before the bot is back
        await bob.send(channel, f"message {n}")
    await env.restart_bot(make_bot())
    job = await until_delivered(env, env.bot.runtime.store, job_id)

    assert [m.id for m in videos(env, channel)] == [posted.id]
    assert job.result_message_id == posted.id


async def test_the_result_post_carries_a_nonce_discord_enforces(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    _card, _status, job_id = await generate(env, channel, alice, memkie)
    await until_delivered(env, env.bot.runtime.store, job_id)
    (post,) = result_posts(env, channel)
    assert post.json["nonce"] == job_id
    assert post.json["enforce_nonce"] is True


async def test_a_file_discord_refuses_as_too_large_is_posted_as_a_download_at_once(
    simcord_env, memkie, monkeypatch, caplog
):
    env = simcord_env
    caplog.set_level(logging.INFO)
    # The cached guild still allows 50 MB (its boosts just ran out); Discord allows 10.
    monkeypatch.setattr(discord.Guild, "filesize_limit", property(lambda self: 50 * MIB))
    memkie.fake.result_bytes = 11 * MIB
    _guild, channel, alice = world(env)
    _card, _status, job_id = await generate(env, channel, alice, memkie, duration=5)
    env.inject_error(
        "POST",
        f"/channels/{channel.id}/messages",
        status=413,
        code=40005,
        message="Request entity too large",
    )
    await env.advance_time(10)

    job = await env.bot.runtime.store.get_job(job_id)
    result = bot_messages(env, channel)[-1]
    assert job.result_message_id == result.id
    assert result.attachments == []
    assert result.content.startswith(f"<@{alice.id}> your video is ready")
    assert "The video (11.0 MB) is larger than this server's upload limit (10 MB)" in (
        result.content
    )
    labels = [c.label for row in result.components for c in row.children]
    assert "Download" in labels
    posts = result_posts(env, channel)
    assert [bool(r.json.get("attachments")) for r in posts] == [True, False]
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("status", [500, 502, 429])
async def test_a_transient_discord_error_asks_for_a_retry(simcord_env, memkie, caplog, status):
    env = simcord_env
    _guild, channel, alice = world(env)
    _card, _status, job_id = await generate(env, channel, alice, memkie, duration=5)
    done = await until_delivered(env, env.bot.runtime.store, job_id)
    # The same finished video for a job that has posted nothing yet.
    job = done.model_copy(update={"id": "0123456789ab", "result_message_id": None})
    before = len(bot_messages(env, channel))

    caplog.set_level(logging.DEBUG, logger="cogs.delivery")
    env.inject_error("POST", f"/channels/{channel.id}/messages", status=status)
    with pytest.raises(DeliveryRetry) as raised:
        await env.bot.delivery.deliver_video(job, Path(job.video_path))
    assert str(status) in str(raised.value)
    assert "\n" not in str(raised.value)
    assert len(bot_messages(env, channel)) == before
    assert not [r for r in caplog.records if r.name == "cogs.delivery" and r.exc_info]
