"""Refining a draft in its thread: replies update the card; refusals explain; editors only."""

from __future__ import annotations

import discord

from tests.cogs.test_storyboard import bot_messages, make_card, said, world
from tests.fakes.fakekie import TaskPlan
from tests.helpers import png_bytes


def thread_of(channel):
    (thread,) = channel.threads
    return thread


def card_now(env, channel, card):
    return next(m for m in channel.history() if m.id == card.id)


def shots_of(env, channel, card) -> list[str]:
    """The card's shot lines as people read them."""
    description = card_now(env, channel, card).embeds[0].description
    return [line for line in description.splitlines() if line.startswith("**")]


def revision_of(env, channel, card) -> str:
    return card_now(env, channel, card).embeds[0].footer.text


def bot_replies(env, thread):
    return [m for m in thread.history() if m.author.id == env.bot.user.id]


def reacted(env, thread, message) -> list[str]:
    stored = next(m for m in thread.history() if m.id == message.id)
    return [str(r.emoji) for r in stored.reactions]


THREE = "5 | A kitten wakes up; 5 | It stretches; 5 | It yawns"


async def test_replies_in_the_thread_update_the_card(simcord_env):
    env = simcord_env
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice, shots=THREE)
    thread = thread_of(channel)
    intro = bot_replies(env, thread)[0].content
    assert intro.startswith("**Refine this storyboard here.**")
    assert "`#3 = 5s` set its duration" in intro and "`add @user`" in intro

    m = await alice.send(thread, "#2 It stretches in the sun")
    assert shots_of(env, channel, card) == [
        "**1.** `5 s` A kitten wakes up",
        "**2.** `5 s` It stretches in the sun",
        "**3.** `5 s` It yawns",
    ]
    assert revision_of(env, channel, card).endswith("revision 2")
    assert reacted(env, thread, m) == ["✅"]

    # Several lines are one edit: a new revision, applied in order.
    await alice.send(thread, "-#3\n+#1 2 | Black screen\nlength 25")
    assert shots_of(env, channel, card) == [
        "**1.** `2 s` Black screen",
        "**2.** `5 s` A kitten wakes up",
        "**3.** `5 s` It stretches in the sun",
    ]
    assert card_now(env, channel, card).embeds[0].title == "Storyboard · 3 shots · 25 s"
    assert revision_of(env, channel, card).endswith("revision 3")

    # Conversation is left alone: no reply, no reaction, no revision.
    before = len(bot_replies(env, thread))
    chat = await alice.send(thread, "I think the second shot is great")
    assert len(bot_replies(env, thread)) == before
    assert reacted(env, thread, chat) == []
    assert revision_of(env, channel, card).endswith("revision 3")


async def test_automatic_durations_resplit_gets_a_one_line_reply(simcord_env):
    env = simcord_env
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice, shots="A kitten wakes up; It stretches")
    thread = thread_of(channel)
    m = await alice.send(thread, "＋ 3秒｜It yawns")  # full-width forms work too
    (answer,) = [
        r for r in bot_replies(env, thread) if r.reference and r.reference.message_id == m.id
    ]
    assert answer.content == (
        "✅ Revision 2. The automatic shots now share the time left: #1 6 s, #2 6 s."
    )
    assert shots_of(env, channel, card)[2] == "**3.** `3 s` It yawns"


async def test_a_refused_edit_quotes_the_line_and_changes_nothing(simcord_env):
    env = simcord_env
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice, shots=THREE)
    thread = thread_of(channel)
    shots = shots_of(env, channel, card)
    m = await alice.send(thread, "#1 = 4s\n#2 = 20s")
    (answer,) = [
        r for r in bot_replies(env, thread) if r.reference and r.reference.message_id == m.id
    ]
    assert answer.content == (
        "`#2 = 20s`: a shot lasts 0.1 to 15 s, not 20 s; type a duration in that range."
    )
    # All or nothing: #1 kept its 5 s.
    assert shots_of(env, channel, card) == shots
    assert revision_of(env, channel, card).endswith("revision 1")

    m = await alice.send(thread, "#7 a scene")
    answer = bot_replies(env, thread)[-1]
    assert answer.reference.message_id == m.id
    assert (
        answer.content == "`#7 a scene`: there is no shot 7; this storyboard has 3 shots (#1-#3)."
    )


async def test_a_non_editor_cannot_edit_and_add_lets_them(simcord_env):
    env = simcord_env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    card, _ = await make_card(env, channel, alice, shots=THREE)
    thread = thread_of(channel)

    m = await bob.send(thread, "#1 A dog wakes up")
    answer = bot_replies(env, thread)[-1]
    assert answer.reference.message_id == m.id
    assert answer.content == (
        f"Only <@{alice.id}>, members with Manage Messages and members the author adds "
        "(`add @user`) can edit this storyboard. Nothing was changed."
    )
    assert revision_of(env, channel, card).endswith("revision 1")
    # Nobody was pinged by the bot's answers.
    posts = [
        r
        for r in env.http_requests
        if r.method == "POST" and r.path == f"/channels/{thread.id}/messages"
    ]
    assert posts and all(
        r.json["allowed_mentions"]["parse"] == [] and not r.json["allowed_mentions"].get("users")
        for r in posts
    )

    # Only the author chooses editors.
    await bob.send(thread, f"add <@{bob.id}>")
    assert "Only <@" in bot_replies(env, thread)[-1].content
    await alice.send(thread, f"add <@{bob.id}>")
    assert bot_replies(env, thread)[-1].content == f"<@{bob.id}> can now edit this storyboard."

    await bob.send(thread, "#1 A dog wakes up")
    assert shots_of(env, channel, card)[0] == "**1.** `5 s` A dog wakes up"
    # Bob may press the card's buttons too now.
    r = await bob.click(card_now(env, channel, card), label="Undo")
    assert said(r).startswith("↩️ Undid revision 2 (`#1 A dog wakes up`)")

    await alice.send(thread, f"remove <@{bob.id}>")
    await bob.send(thread, "#1 A cat wakes up")
    assert "Only <@" in bot_replies(env, thread)[-1].content
    assert shots_of(env, channel, card)[0] == "**1.** `5 s` A kitten wakes up"


async def test_undo_show_and_the_grammar_for_a_message_meant_for_the_bot(simcord_env):
    env = simcord_env
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice, shots=THREE)
    thread = thread_of(channel)
    await alice.send(thread, "swap #1 #3")
    await alice.send(thread, "#2 = 3s")
    assert shots_of(env, channel, card)[:2] == [
        "**1.** `5 s` It yawns",
        "**2.** `3 s` It stretches",
    ]
    await alice.send(thread, "undo")
    assert bot_replies(env, thread)[-1].content == (
        "↩️ Undid revision 3 (`#2 = 3s`); the storyboard is now revision 4."
    )
    assert shots_of(env, channel, card)[1] == "**2.** `5 s` It stretches"
    await alice.send(thread, "undo")
    assert shots_of(env, channel, card)[0] == "**1.** `5 s` A kitten wakes up"
    await alice.send(thread, "undo")
    assert bot_replies(env, thread)[-1].content == (
        "There is nothing to undo: this is the storyboard as it was created."
    )

    await alice.send(thread, "show")
    shown = bot_replies(env, thread)[-1]
    assert shown.embeds[0].description == card_now(env, channel, card).embeds[0].description
    assert shown.attachments[0].filename == "reference.png"

    # A reply to the bot that is not an edit gets the grammar; plain chat does not.
    await alice.send(thread, "what can I type?", reply_to=shown)
    assert bot_replies(env, thread)[-1].content.startswith("`#3 new scene` replace shot 3's scene")


async def test_edit_after_a_result_then_generate_makes_a_second_job(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    memkie.plan = TaskPlan(duration=20)
    await make_card(env, channel, alice)
    thread = thread_of(channel)
    await alice.send(thread, "go")
    started = bot_replies(env, thread)[-1]
    assert started.content.startswith(
        "🎬 Generating revision 1; the status and the video will be in the channel: "
        f"https://discord.com/channels/{guild.id}/{channel.id}/"
    )
    for _ in range(4):
        await env.advance_time(10)
    first = bot_messages(env, channel)[-1]
    assert first.attachments and "revision 1" in first.content

    await alice.send(thread, "#2 It licks its lips and smiles")
    await alice.send(thread, "generate")
    for _ in range(4):
        await env.advance_time(10)
    assert len(memkie.created) == 2
    assert memkie.created[1]["input"]["shots"][1] == {
        "Scene": "It licks its lips and smiles",
        "duration": 7.5,
    }
    second = bot_messages(env, channel)[-1]
    assert second.id != first.id and second.attachments
    assert "revision 2" in second.content
    jobs = await env.bot.runtime.store.recent_jobs()
    assert sorted(j.revision for j in jobs) == [1, 2]


async def test_an_image_on_its_own_replaces_the_reference_image(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice)
    thread = thread_of(channel)
    new = png_bytes(color="blue")
    await alice.send(thread, "", attachments=[("new.png", new)])
    assert bot_replies(env, thread)[-1].content.startswith("🖼️ New reference image (revision 2)")
    assert await card_now(env, channel, card).attachments[0].read() == new
    # Not an image: refused before anything is stored.
    await alice.send(thread, "", attachments=[("notes.png", b"not an image")])
    assert "The image was refused" in bot_replies(env, thread)[-1].content
    assert revision_of(env, channel, card).endswith("revision 2")
    await alice.click(card_now(env, channel, card), label="Generate")
    assert memkie.uploads[-1]["bytes"] == new


async def test_a_discarded_draft_locks_its_thread_and_answers(simcord_env):
    env = simcord_env
    guild, channel, alice = world(env)
    mods = guild.create_role(
        "mods", permissions=discord.Permissions(manage_messages=True, manage_threads=True)
    )
    carol = guild.add_member(env.create_user("carol"), roles=[mods])
    card, _ = await make_card(env, channel, alice)
    thread = thread_of(channel)
    await alice.click(card, label="Discard")
    locks = [
        r.json
        for r in env.http_requests
        if r.method == "PATCH" and r.path == f"/channels/{thread.id}"
    ]
    assert locks == [{"archived": True, "locked": True}]
    await carol.send(thread, "#1 a new scene")
    assert bot_replies(env, thread)[-1].content == (
        "This draft was discarded, so it can't be edited or generated any more. Start a new "
        "one with `/storyboard`."
    )


# ---------------------------------------------------------------- the card's controls


def shot_select(env, channel, card):
    return next(
        c.custom_id
        for row in card_now(env, channel, card).components
        for c in row.children
        if c.custom_id and c.custom_id.startswith("sb:shot:")
    )


async def test_every_edit_without_typing_commands(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice, shots=THREE)

    # One shot: its form shows its scene, duration and position.
    r = await alice.select(
        card_now(env, channel, card), ["2"], custom_id=shot_select(env, channel, card)
    )
    assert r.modal["title"] == "Shot 2"
    ok = await alice.submit_modal(
        r, {"scene": "It stretches in the sun", "duration": "", "position": ["1"]}
    )
    assert said(ok) == "✅ Revision 2."
    assert shots_of(env, channel, card) == [
        "**1.** `5 s` (auto) It stretches in the sun",
        "**2.** `5 s` A kitten wakes up",
        "**3.** `5 s` It yawns",
    ]
    # A new shot, inserted as #2.
    r = await alice.click(card_now(env, channel, card), label="Add shot")
    await alice.submit_modal(r, {"scene": "A bird lands", "duration": "", "position": ["2"]})
    assert shots_of(env, channel, card)[:2] == [
        "**1.** `2.5 s` (auto) It stretches in the sun",
        "**2.** `2.5 s` (auto) A bird lands",
    ]
    # Delete one.
    r = await alice.select(
        card_now(env, channel, card), ["4"], custom_id=shot_select(env, channel, card)
    )
    # (A form sends back its pre-filled values as they stand.)
    await alice.submit_modal(r, {"scene": "It stretches", "delete": True})
    assert [s.split("` ", 1)[-1] for s in shots_of(env, channel, card)] == [
        "(auto) It stretches in the sun",
        "(auto) A bird lands",
        "A kitten wakes up",
    ]
    # Length, aspect and a new reference image in one form.
    new = png_bytes(color="blue")
    r = await alice.click(card_now(env, channel, card), label="Length, aspect, image")
    done = await alice.submit_modal(
        r, {"length": ["25"], "aspect": ["portrait"], "image": ("new.png", new)}
    )
    assert "Updated to revision 5." in said(done) and "New reference image" in said(done)
    now = card_now(env, channel, card)
    assert now.embeds[0].title == "Storyboard · 3 shots · 25 s"
    assert {f.name: f.value for f in now.embeds[0].fields}["Aspect"] == "Portrait"
    assert await now.attachments[0].read() == new
    # A refused form keeps what was typed.
    r = await alice.select(now, ["3"], custom_id=shot_select(env, channel, card))
    bad = await alice.submit_modal(r, {"scene": "A kitten wakes up", "duration": "40"})
    assert said(bad).startswith("`#3 = 40s`: a shot lasts 0.1 to 15 s, not 40 s")
    fix = await alice.click(bad.response.message, label="Fix")
    assert fix.modal["title"] == "Shot 3"
    typed = {
        c["component"]["custom_id"]: c["component"].get("value")
        for c in fix.modal["components"]
        if "component" in c
    }
    assert typed["scene"] == "A kitten wakes up" and typed["duration"] == "40"
    # Undo, then generate from the buttons.
    r = await alice.click(card_now(env, channel, card), label="Undo")
    assert said(r).startswith("↩️ Undid revision 6 (`new reference image`)")
    await alice.click(card_now(env, channel, card), label="Generate")
    assert memkie.created[-1]["input"]["aspect_ratio"] == "portrait"
    assert memkie.created[-1]["input"]["n_frames"] == "25"
    assert memkie.uploads[-1]["bytes"] == png_bytes()


async def test_a_form_opened_before_a_renumbering_is_refused(simcord_env):
    env = simcord_env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    card, _ = await make_card(env, channel, alice, shots=THREE)
    thread = thread_of(channel)
    await alice.send(thread, f"add <@{bob.id}>")
    r = await bob.select(
        card_now(env, channel, card), ["3"], custom_id=shot_select(env, channel, card)
    )
    await alice.send(thread, "-#1")
    late = await bob.submit_modal(r, {"scene": "It sleeps", "duration": "5"})
    assert said(late).startswith(
        "`#3 It sleeps`: the shots were renumbered while you wrote this (revision 2: `-#1`)"
    )
    assert shots_of(env, channel, card) == ["**1.** `5 s` It stretches", "**2.** `5 s` It yawns"]


async def test_a_form_left_open_cannot_undo_or_revive(simcord_env):
    env = simcord_env
    guild, channel, alice = world(env)
    mods = guild.create_role("mods", permissions=discord.Permissions(manage_messages=True))
    carol = guild.add_member(env.create_user("carol"), roles=[mods])
    card, _ = await make_card(env, channel, alice, shots=THREE)
    thread = thread_of(channel)

    # Settings left as shown do not undo a change made while the form was open.
    settings = await alice.click(card_now(env, channel, card), label="Length, aspect, image")
    await alice.send(thread, "length 25")
    r = await alice.submit_modal(settings, {"length": ["15"], "aspect": ["portrait"]})
    assert said(r) == "Updated to revision 3."
    assert card_now(env, channel, card).embeds[0].title == "Storyboard · 3 shots · 25 s"

    # The whole list, opened before an edit, is refused rather than dropping that edit.
    form = await alice.click(card_now(env, channel, card), label="Edit")
    await alice.send(thread, "#1 A dog wakes up")
    r = await alice.submit_modal(form, {"shots": "5 | A cat\n5 | naps"})
    assert said(r).startswith(
        "The storyboard changed while the form was open (it is now revision 4)"
    )
    assert shots_of(env, channel, card)[0] == "**1.** `5 s` A dog wakes up"
    fix = await alice.click(r.response.message, label="Fix")
    ok = await alice.submit_modal(fix, {"shots": "5 | A cat\n5 | naps"})
    assert said(ok) == "Updated to revision 5."

    # A form open when the draft is discarded changes nothing and keeps the card discarded.
    form = await alice.click(card_now(env, channel, card), label="Add shot")
    await carol.click(card_now(env, channel, card), label="Discard")
    late = await alice.submit_modal(form, {"scene": "Too late"})
    assert said(late) == "This storyboard was discarded."
    now = card_now(env, channel, card)
    assert now.components == [] and "Discarded by" in now.embeds[0].description
    assert revision_of(env, channel, card).endswith("revision 5")


async def test_show_posts_a_copy_without_controls(simcord_env):
    env = simcord_env
    _guild, channel, alice = world(env)
    await make_card(env, channel, alice)
    thread = thread_of(channel)
    await alice.send(thread, "show")
    shown = bot_replies(env, thread)[-1]
    assert shown.embeds and shown.components == []


async def test_message_order_follows_discord_not_the_hosts_clock(simcord_env):
    """The bot's clock runs a minute fast: an edit sent after a renumbering still applies to
    the renumbered list (messages and revisions are ordered by their snowflakes)."""
    env = simcord_env
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice, shots=THREE)
    thread = thread_of(channel)

    class Fast:
        def now(self) -> float:
            return discord.utils.utcnow().timestamp() + 60

    env.bot.drafts.clock = Fast()
    await alice.send(thread, "-#1")
    m = await alice.send(thread, "#1 It stretches and yawns")
    assert reacted(env, thread, m) == ["✅"]
    assert shots_of(env, channel, card)[0] == "**1.** `5 s` It stretches and yawns"
