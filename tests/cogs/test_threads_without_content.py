"""Without the Message Content intent: pings, replies to the bot and the buttons still edit."""

from __future__ import annotations

import discord
import pytest

from bot.client import StoryboardBot
from tests.cogs.test_storyboard import make_card, said, world
from tests.cogs.test_threads import THREE, bot_replies, card_now, shots_of, thread_of

# Discord grants the non-privileged intents only.
pytestmark = pytest.mark.simcord(approved_intents=discord.Intents(guilds=True, guild_messages=True))

NOTICE = "ℹ️ I can't read plain messages here"


@pytest.fixture
def simcord_bot(make_bot) -> StoryboardBot:
    # What the launcher starts after Discord refused the intent.
    return make_bot(message_content=False)


async def test_the_thread_says_once_how_to_edit_and_pings_and_buttons_work(simcord_env):
    env = simcord_env
    assert env.bot.content_degraded and env.bot.content_mode == "degraded"
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice, shots=THREE)
    thread = thread_of(channel)
    (intro,) = bot_replies(env, thread)
    assert NOTICE in intro.content

    # A plain message: its text is withheld, nothing changes, and the notice is not repeated.
    await alice.send(thread, "#1 A dog wakes up")
    assert shots_of(env, channel, card)[0] == "**1.** `5 s` A kitten wakes up"
    assert len(bot_replies(env, thread)) == 1

    # A reply to the bot (ping on) is read.
    await alice.send(thread, "#1 A dog wakes up", reply_to=intro)
    assert shots_of(env, channel, card)[0] == "**1.** `5 s` A dog wakes up"
    # So is a mention, with the mention itself not part of the edit.
    await alice.send(thread, f"<@{env.bot.user.id}> #2 = 3s")
    assert shots_of(env, channel, card)[1] == "**2.** `3 s` It stretches"
    # And a reply to the card in the channel.
    await alice.send(channel, "+ 1 | It sleeps", reply_to=card)
    assert shots_of(env, channel, card)[3] == "**4.** `1 s` It sleeps"

    # The buttons need no message content at all.
    r = await alice.click(card_now(env, channel, card), label="Add shot")
    await alice.submit_modal(r, {"scene": "The end", "duration": "1"})
    assert shots_of(env, channel, card)[4] == "**5.** `1 s` The end"
    r = await alice.click(card_now(env, channel, card), label="Undo")
    assert said(r).startswith("↩️ Undid revision 5")


async def test_a_thread_made_before_is_told_once(simcord_env, make_bot):
    env = simcord_env
    _guild, channel, alice = world(env)
    await make_card(env, channel, alice, shots=THREE)
    thread = thread_of(channel)
    # Pretend the thread was created while the bot could read messages.
    draft = await env.bot.drafts.by_thread(thread.id)
    await env.bot.runtime.store.write(
        "UPDATE drafts SET content_notice = 0 WHERE id = ?", (draft.id,)
    )
    await alice.send(thread, "#1 A dog wakes up")
    await alice.send(thread, "#2 A cat stretches")
    notices = [m for m in bot_replies(env, thread) if m.content.startswith(NOTICE)]
    assert len(notices) == 1
    # ... and after a restart it is still said only once.
    await env.restart_bot(make_bot(message_content=False))
    await alice.send(thread, "#3 It sleeps")
    assert len([m for m in bot_replies(env, thread) if m.content.startswith(NOTICE)]) == 1
