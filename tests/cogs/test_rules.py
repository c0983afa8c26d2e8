"""Rules no member can slip past: disguised blocked terms, invisible scenes, Markdown in
echoed text, failures and the cooldown, and who may use a result's Download button."""

from __future__ import annotations

import re

import discord

from tests.cogs.test_storyboard import bot_messages, card_of, make_card, said, world
from tests.cogs.test_threads import bot_replies, shots_of, thread_of
from tests.fakes.fakekie import TaskPlan
from tests.helpers import png_bytes

LINK = "[free nitro](https://evil.example)"


def rendered(text: str) -> str:
    """What Discord renders as Markdown in ``text``: escaped characters and inline code spans
    are blanked out (a backtick without a partner is literal)."""
    ticks: list[int] = []
    chars = list(text)
    i = 0
    while i < len(chars):
        if chars[i] == "\\" and i + 1 < len(chars):
            chars[i] = chars[i + 1] = "\0"
            i += 2
            continue
        if chars[i] == "`":
            ticks.append(i)
        i += 1
    for start, end in zip(ticks[::2], ticks[1::2], strict=False):
        for k in range(start, end + 1):
            chars[k] = "\0"
    return "".join(chars)


def masked_links(text: str) -> list[str]:
    return re.findall(r"\[[^\]\0]*\]\([^)\0]*\)", rendered(text))


def live_mentions(text: str, *, besides: tuple[str, ...] = ()) -> list[str]:
    """Mentions Discord would render in ``text`` (other than the bot's own ``besides``)."""
    found = re.findall(r"<[@#][!&]?\d+>|@everyone|@here", rendered(text))
    return [m for m in found if m not in besides]


def unescaped(text: str) -> str:
    """The text a reader sees: escapes and the zero-width breaks in @everyone removed."""
    return re.sub(r"\\(.)", r"\1", text).replace("@\u200b", "@")


def reply_to(env, thread, message):
    (answer,) = [
        r for r in bot_replies(env, thread) if r.reference and r.reference.message_id == message.id
    ]
    return answer


def no_pings(env, channel_id: int) -> bool:
    posts = [
        r
        for r in env.http_requests
        if r.method == "POST" and r.path == f"/channels/{channel_id}/messages"
    ]
    return bool(posts) and all(
        r.json["allowed_mentions"]["parse"] == [] and not r.json["allowed_mentions"].get("users")
        for r in posts
    )


# -- blocked terms ----------------------------------------------------------------------------
async def test_disguised_blocked_terms_are_refused(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice, shots="7.5 | so much g\u043ere; 7.5 | calm")
    quotas = env.bot.runtime.quotas
    await quotas.set(guild.id, "blocked_terms", "gore, 血腥", actor_id=0)
    # A draft made before the rule: Generate checks again.
    r = await alice.click(card, label="Generate")
    assert "does not allow “gore” in scenes" in said(r)
    assert memkie.created == []

    for scene, term in [
        ("so much go\u200bre", "gore"),  # a zero-width space
        ("so much go\u00adre", "gore"),  # a soft hyphen
        ("so much g\u043ere", "gore"),  # a Cyrillic о
        ("so much GО\u2060RE", "gore"),  # a Cyrillic О and a word joiner
        ("一个血\u200b腥的场景", "血腥"),
    ]:
        r = await alice.slash(
            channel, "storyboard", image=("ref.png", png_bytes()), shots=f"7.5 | {scene}; 7.5 | a"
        )
        assert f"does not allow “{term}” in scenes" in said(r), scene
    assert [m.id for m in bot_messages(env, channel) if m.embeds] == [card.id]

    await quotas.set(guild.id, "blocked_terms", "none", actor_id=0)
    fresh, _ = await make_card(env, channel, alice, shots="7.5 | a kitten; 7.5 | calm")
    await quotas.set(guild.id, "blocked_terms", "gore", actor_id=0)
    thread = next(t for t in channel.threads if t.id == fresh.id)
    shots = shots_of(env, channel, fresh)
    m = await alice.send(thread, "#1 a kitten in g\u043er\u200be")
    assert "does not allow “gore” in scenes" in reply_to(env, thread, m).content
    assert shots_of(env, channel, fresh) == shots


# -- empty scenes -----------------------------------------------------------------------------
async def test_scenes_with_nothing_visible_are_refused(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    for shots, message in [
        ("\u200b\u200d; 7.5 | a kitten", "Shot 1 has no scene text."),
        ("7.5 | a kitten; \u0301\u00ad\u2060", "Shot 2 has no scene text."),
        ("7.5 | \ufeff\u3164; 7.5 | a kitten", "Shot 1: there is no scene after the duration."),
    ]:
        r = await alice.slash(channel, "storyboard", image=("ref.png", png_bytes()), shots=shots)
        assert r.ephemeral and message in said(r), (shots, said(r))
    assert bot_messages(env, channel) == []

    card, _ = await make_card(env, channel, alice, shots="a kitten; calm")
    thread = thread_of(channel)
    shots = shots_of(env, channel, card)
    for text in ["#1 \u200b", "+ \u2060\u0301", "#2 4 | \u00ad", "shots:\na kitten\n\u200b"]:
        m = await alice.send(thread, text)
        assert "no scene" in reply_to(env, thread, m).content, text
    assert shots_of(env, channel, card) == shots
    assert card_of(env, channel).embeds[0].footer.text.endswith("revision 1")


# -- Markdown in echoed member text -----------------------------------------------------------
async def test_member_markdown_is_shown_as_typed_never_rendered(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    scene = f"{LINK} for <@{bob.id}> @everyone ||spoiler|| **loud**"
    card, _ = await make_card(env, channel, alice, shots=f"7.5 | {scene}; 7.5 | # calm `sea`")
    description = card.embeds[0].description
    author = (f"<@{alice.id}>",)  # "✅ <@alice> can generate now."
    assert masked_links(description) == []
    assert live_mentions(description, besides=author) == []
    assert "**" not in rendered(description).replace("**1.**", "").replace("**2.**", "")
    # Still the member's words, as typed.
    assert f"`7.5 s` {scene}" in unescaped(description)
    assert "`7.5 s` # calm `sea`" in unescaped(description)

    # `show` posts the same card, escaped the same way.
    thread = thread_of(channel)
    await alice.send(thread, "show")
    copy = bot_replies(env, thread)[-1].embeds[0].description
    assert masked_links(copy) == [] and live_mentions(copy, besides=author) == []

    # Refusals quote the member's line: in code, or escaped, never as a link.
    for text in [
        f"#9 {LINK} <@{bob.id}>",
        f"#1 = {LINK} 1",
        f"#9 `x` {LINK} `y` <@{bob.id}> @here",
        f"move #1 {LINK}",
    ]:
        m = await alice.send(thread, text)
        answer = reply_to(env, thread, m).content
        assert masked_links(answer) == [] and live_mentions(answer) == [], answer
        assert "free nitro" in answer
    # The quoted line keeps its shape when no backtick is typed.
    m = await alice.send(thread, f"#9 {LINK}")
    assert reply_to(env, thread, m).content.startswith(f"`#9 {LINK}`: there is no shot 9;")

    # Undo names the edit it took back: inert too.
    await alice.send(thread, f"#1 x` {LINK} `y")
    m = await alice.send(thread, "undo")
    answer = reply_to(env, thread, m).content
    assert answer.startswith("↩️ Undid revision 2")
    assert masked_links(answer) == [] and live_mentions(answer) == [], answer
    assert no_pings(env, thread.id) and no_pings(env, channel.id)


# -- failures and the cooldown ----------------------------------------------------------------
async def test_a_failure_never_starts_the_cooldown_but_failures_are_capped(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    quotas = env.bot.runtime.quotas
    await quotas.set(guild.id, "user_cooldown_seconds", "3600", actor_id=0)
    await quotas.set(guild.id, "failed_counts", "true", actor_id=0)
    await quotas.set(guild.id, "user_daily_failures", "2", actor_id=0)
    memkie.plan = TaskPlan(duration=5, outcome="fail", fail_msg="guardrails")
    card, _ = await make_card(env, channel, alice)
    for _ in range(2):
        r = await alice.click(card, label="Generate")
        assert "Started" in said(r), said(r)  # the failure before did not start the cooldown
        await env.advance_time(30)
    assert len(memkie.created) == 2
    r = await alice.click(card, label="Generate")
    assert said(r).startswith(
        "You have had 2 failed videos today; the limit is 2 failures a day. "
        "You can generate again <t:"
    )
    assert len(memkie.created) == 2
    u = await alice.slash(channel, "storyboard-usage")
    assert "⛔ You have had 2 failed videos today" in u.response.embeds[0].description

    # A video that was made starts it.
    await quotas.set(guild.id, "user_daily_failures", "none", actor_id=0)
    memkie.plan = TaskPlan(duration=5)
    r = await alice.click(card, label="Generate")
    assert "Started" in said(r)
    await env.advance_time(60)
    r = await alice.click(card, label="Generate")
    assert said(r).startswith("Wait 3600 s between videos")


# -- Download ---------------------------------------------------------------------------------
async def test_only_the_owner_or_a_moderator_gets_a_download_link(simcord_env, memkie):
    env = simcord_env
    memkie.fake.result_bytes = 11 * 1024 * 1024  # over the 10 MiB of an unboosted server
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    mods = guild.create_role("mods", permissions=discord.Permissions(manage_messages=True))
    carol = guild.add_member(env.create_user("carol"), roles=[mods])
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    for _ in range(5):
        await env.advance_time(10)
    result = bot_messages(env, channel)[-1]
    asked = memkie.fake.calls["download-url"]

    d = await bob.click(result, label="Download")
    assert d.ephemeral
    assert said(d) == (
        "Only the author of this storyboard (or someone with Manage Messages) can do that."
    )
    assert memkie.fake.calls["download-url"] == asked  # kie.ai was not asked for a link

    for member in (alice, carol):
        d = await member.click(result, label="Download")
        assert d.ephemeral
        assert "valid for 20 minutes: http://kie.test/dl/" in said(d)
