"""/storyboard end to end: a member, the card, Generate, and the video in the channel."""

from __future__ import annotations

import discord
import pytest

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import JobState
from bot.quota.policy import QuotaRefused
from tests.cogs.conftest import sim_now
from tests.fakes.fakekie import TaskPlan
from tests.helpers import png_bytes

SHOTS = "7.5 | A kitten with headphones; 7.5 | It licks its lips"


def world(env):
    guild = env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    return guild, channel, alice


def said(r) -> str:
    """What the member was told privately (a deferred answer is edited by the first follow-up)."""
    if r.followups:
        return r.followups[-1].content
    return r.response.content if r.response else ""


def modal_text(r) -> str:
    """The pre-filled text of the shots field of the modal shown."""
    return r.modal["components"][0]["component"]["value"]


def bot_messages(env, channel):
    return [m for m in channel.history() if m.author.id == env.bot.user.id]


def card_of(env, channel):
    return next(m for m in bot_messages(env, channel) if m.embeds)


async def make_card(env, channel, member, shots=SHOTS, **options):
    r = await member.slash(
        channel, "storyboard", image=("ref.png", png_bytes()), shots=shots, **options
    )
    assert r.ephemeral, r
    return card_of(env, channel), r


async def test_slash_generate_and_the_video_is_posted(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.plan = TaskPlan(waiting=2, queuing=3, duration=60)

    card, r = await make_card(env, channel, alice)
    # The answer is private; the card is a normal channel message with the image.
    assert "Your storyboard draft is ready" in said(r)
    embed = card.embeds[0]
    assert embed.title == "Storyboard · 2 shots · 15 s"
    assert "**1.** `7.5 s` A kitten with headphones" in embed.description
    assert "**2.** `7.5 s` It licks its lips" in embed.description
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Aspect"] == "Landscape"
    assert fields["Model"] == "Sora 2 Pro Storyboard"
    assert fields["Estimated cost"] == "270 credits (≈ $1.35)"
    assert fields["Author"] == f"<@{alice.id}>"
    assert "15/15 s" in fields["Timeline"]
    assert card.attachments[0].filename == "reference.png"
    assert embed.image.url == "attachment://reference.png"
    assert [t.name for t in channel.threads] == [f"Storyboard {embed.footer.text.split()[1]}"]

    g = await alice.click(card, label="Generate")
    assert g.ephemeral
    status = bot_messages(env, channel)[-1]
    assert status.reference.message_id == card.id
    # kie.ai got the seed's body shape with the image on its own file host.
    assert memkie.created == [
        {
            "model": "sora-2-pro-storyboard",
            "input": {
                "shots": [
                    {"Scene": "A kitten with headphones", "duration": 7.5},
                    {"Scene": "It licks its lips", "duration": 7.5},
                ],
                "n_frames": "15",
                "image_urls": [memkie.uploads[0]["downloadUrl"]],
                "aspect_ratio": "landscape",
                "upload_method": "s3",
            },
        }
    ]
    assert memkie.uploads[0]["bytes"] == png_bytes()
    shown = next(m for m in channel.history() if m.id == status.id).content
    assert shown.startswith("📨 Sent to kie.ai, waiting to start (started <t:")

    for _ in range(10):
        await env.advance_time(10)
    result = bot_messages(env, channel)[-1]
    assert result.reference.message_id == card.id
    assert result.attachments[0].filename.startswith("storyboard-")
    assert result.attachments[0].filename.endswith(".mp4")
    assert await result.attachments[0].read() == memkie.fake.expected_result()
    assert result.content.startswith(f"<@{alice.id}> your video is ready")
    assert [c.label for row in result.components for c in row.children] == [
        "Regenerate",
        "Edit",
        "Delete",
    ]
    status = next(m for m in channel.history() if m.id == status.id)
    assert status.content.startswith("✅ Done.")
    assert str(result.id) in status.content
    # Exactly one video; the tracker is done with the job.
    assert sum(1 for m in channel.history() if m.attachments and m.id != card.id) == 1
    job = (await env.bot.runtime.store.recent_jobs())[0]
    assert job.state == JobState.DELIVERED and job.result_message_id == result.id


async def test_shots_modal_path_and_fix_keeps_the_text(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    r = await alice.slash(channel, "storyboard", image=("ref.png", png_bytes()))
    assert r.modal is not None
    assert r.modal["title"] == "Storyboard shots"
    # Pre-filled with an example.
    assert modal_text(r).startswith("7.5 | A fluffy orange kitten")

    bad = "5 | first\n20 | far too long"
    e = await alice.submit_modal(r, {"shots": bad})
    assert e.ephemeral
    assert "Shot 2 lasts 20 s; a shot lasts 0.1 to 15 s." in said(e)
    assert not [m for m in bot_messages(env, channel) if m.embeds]  # nothing stored or posted
    fix = await alice.click(e.response.message, label="Fix")
    assert modal_text(fix) == bad  # what was typed comes back

    ok = await alice.submit_modal(fix, {"shots": "5 | first\nsecond"})
    assert "draft is ready" in said(ok)
    embed = card_of(env, channel).embeds[0]
    assert "**2.** `10 s` (auto) second" in embed.description


@pytest.mark.parametrize(
    ("shots", "message"),
    [
        ("16 | too long", "Shot 1 lasts 16 s; a shot lasts 0.1 to 15 s."),
        ("9 | a; 9 | b", "The shots add up to 18 s, more than the 15 s video."),
        ("7,5 | a", 'Shot 1: "7,5" is not a duration'),
        # Up to 20 shots: more than the model takes at once is made in segments.
        (";".join(f"{i}" for i in range(21)), "A storyboard has 1 to 20 shots; this one has 21."),
    ],
)
async def test_invalid_shots_are_refused_privately(simcord_env, memkie, shots, message):
    env = simcord_env
    _guild, channel, alice = world(env)
    r = await alice.slash(channel, "storyboard", image=("ref.png", png_bytes()), shots=shots)
    assert r.ephemeral
    assert message in said(r)
    assert bot_messages(env, channel) == []
    assert memkie.fake.calls == {}


async def test_not_an_image_is_refused(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    r = await alice.slash(channel, "storyboard", image=("notes.txt", b"hello"), shots="a scene")
    assert r.ephemeral
    assert "not an image" in (said(r))
    # Named like an image, but the content is not one.
    r = await alice.slash(channel, "storyboard", image=("fake.png", b"not png"), shots="a scene")
    text = said(r)
    assert "The image was refused" in text and "not an image" in text
    assert bot_messages(env, channel) == []


async def test_only_editors_can_generate(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    card, _ = await make_card(env, channel, alice)
    r = await bob.click(card, label="Generate")
    assert r.ephemeral
    assert r.response.content == (
        f"Only <@{alice.id}>, members with Manage Messages and members the author added can "
        "edit this storyboard."
    )
    assert memkie.created == []
    # A moderator may.
    mods = guild.create_role("mods", permissions=discord.Permissions(manage_messages=True))
    carol = guild.add_member(env.create_user("carol"), roles=[mods])
    await carol.click(card, label="Generate")
    assert len(memkie.created) == 1


async def test_failed_generation_explains_and_does_not_count(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.plan = TaskPlan(
        duration=5, outcome="fail", fail_msg="This content may violate our guardrails."
    )
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    await env.advance_time(15)
    status = bot_messages(env, channel)[-1]
    # The member reads the plain meaning; kie.ai's own words go to the log and the admin log.
    assert status.content.startswith(
        "❌ The generation failed: kie.ai's content rules refused to make this video; "
        "try other scenes or another image."
    )
    assert "guardrails" not in status.content
    assert "did not count against your quota" in status.content


async def test_video_over_the_upload_limit_gets_a_download_button(simcord_env, memkie):
    env = simcord_env
    memkie.fake.result_bytes = 11 * 1024 * 1024  # over the 10 MiB of an unboosted server
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    for _ in range(5):
        await env.advance_time(10)
    result = bot_messages(env, channel)[-1]
    assert result.attachments == []
    assert "larger than this server's upload limit (10 MB)" in result.content
    d = await alice.click(result, label="Download")
    assert d.ephemeral
    assert "valid for 20 minutes: http://kie.test/dl/" in said(d)


async def test_missing_permissions_are_explained(simcord_env, memkie):
    env = simcord_env
    guild = env.create_guild()
    alice = guild.add_member(env.create_user("alice"))
    channel = guild.create_text_channel(
        "locked", overwrites={guild.me: discord.PermissionOverwrite(attach_files=False)}
    )
    r = await alice.slash(channel, "storyboard", image=("ref.png", png_bytes()), shots="a")
    assert r.ephemeral
    assert "I'm missing Attach Files" in r.response.content


async def test_restart_between_submit_and_completion_posts_once(simcord_env, memkie, make_bot):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.plan = TaskPlan(duration=60)
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    assert len(memkie.created) == 1

    await env.restart_bot(make_bot())  # a new Bot over the same database
    for _ in range(10):
        await env.advance_time(10)
    videos = [m for m in bot_messages(env, channel) if m.attachments and m.id != card.id]
    assert len(videos) == 1
    assert len(memkie.created) == 1

    # Buttons on the old card still work with the new process.
    await env.restart_bot(make_bot())
    r = await alice.click(card, label="Generate")
    assert "Started" in said(r)
    assert len(memkie.created) == 2


async def test_edit_and_discard_buttons(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice)
    m = await alice.click(card, label="Edit")
    assert modal_text(m) == "7.5 | A kitten with headphones\n7.5 | It licks its lips"
    done = await alice.submit_modal(m, {"shots": "5 | A kitten\n5 | It yawns\nIt sleeps"})
    assert "revision 2" in said(done)
    card = card_of(env, channel)
    assert card.embeds[0].title == "Storyboard · 3 shots · 15 s"
    assert "**3.** `5 s` (auto) It sleeps" in card.embeds[0].description

    d = await alice.click(card, label="Discard")
    assert d.ephemeral
    card = card_of(env, channel)
    assert "Discarded by" in card.embeds[0].description
    assert card.components == []
    thread = await env.bot.fetch_channel(channel.threads[0].id)
    assert thread.locked and thread.archived


async def test_unknown_create_outcome_is_said_plainly(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.unknown_next = 1
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    status = bot_messages(env, channel)[-1]
    # Without callbacks nothing can ever find the task: the member is told so at once, and
    # that it counts (kie.ai may have charged), instead of a slot held for 30 minutes.
    assert status.content.splitlines()[:2] == [
        "⌛ Gave up: kie.ai did not confirm the job, and without callbacks the bot cannot find "
        "out whether kie.ai made it; it was not sent again. Check kie.ai before trying again.",
        "This counted against your quota.",
    ]
    assert len(memkie.created) == 1


async def test_status_and_help_commands(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    # Acknowledged at once with a private "thinking" (the answer reads the database), then
    # answered in it.
    r = await alice.slash(channel, "storyboard-status")
    assert r.ephemeral and "no storyboard videos here yet" in r.response.content
    assert [q.json for q in env.http_requests if q.path.endswith("/callback")][-1] == {
        "type": 5,
        "data": {"flags": 64},
    }
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    r = await alice.slash(channel, "storyboard-status")
    assert r.ephemeral and "running" in r.response.embeds[0].description
    h = await alice.slash(channel, "storyboard-help")
    assert "7.5 | A fluffy orange kitten" in h.response.embeds[0].description
    assert "1-10 shots" in h.response.embeds[0].description
    thread_help, long_help = h.response.embeds[0].fields
    assert thread_help.name == "Refining a draft in its thread"
    assert long_help.name == "Long storyboards"
    assert long_help.value.startswith("A storyboard can last up to 60 s with up to 20 shots.")
    assert "(10 shots, 25 s) is made in segments" in long_help.value
    assert thread_help.value.startswith("`#3 new scene` replace shot 3's scene")
    assert "`undo` · `show` · `generate` (or `go`)" in thread_help.value


async def test_one_video_at_a_time_per_member(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.plan = TaskPlan(duration=120)
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    r = await alice.click(card, label="Generate")
    assert said(r) == (
        "You have 1 video running; the limit is 1 at once. Try again when one finishes."
    )
    assert len(memkie.created) == 1


async def test_public_messages_follow_the_server_language(simcord_env, memkie):
    env = simcord_env
    guild = env.create_guild(preferred_locale="zh-CN")
    channel = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    card, _ = await make_card(env, channel, alice, shots="7.5 | 小猫; 7.5 | 小猫笑了")
    embed = card.embeds[0]
    assert embed.title == "分镜 · 2 个镜头 · 15 秒"
    fields = {f.name: f.value for f in embed.fields}
    assert fields["画幅"] == "横屏" and fields["预计费用"] == "270 积分（约 $1.35）"
    rows = [
        [getattr(c, "label", None) or c.placeholder for c in row.children]
        for row in card.components
    ]
    assert rows == [
        ["生成", "编辑", "添加镜头", "撤销"],
        ["编辑、移动或删除一个镜头…"],
        ["时长、画幅、图片", "丢弃"],
    ]


async def test_commands_are_synced_only_when_they_change(simcord_env, memkie, make_bot):
    env = simcord_env

    def syncs():
        return [r for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]

    assert len(syncs()) == 1
    await env.restart_bot(make_bot())
    assert len(syncs()) == 1  # same commands: no sync at start


async def test_result_buttons_regenerate_and_delete(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    memkie.plan = TaskPlan(duration=5)
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    await env.advance_time(20)
    result = bot_messages(env, channel)[-1]
    assert result.attachments

    r = await bob.click(result, label="Delete")
    assert "Only the author" in said(r)
    r = await alice.click(result, label="Regenerate")
    assert said(r).startswith("Wait 30 s between videos")  # the default cooldown
    await env.advance_time(15)
    r = await alice.click(result, label="Regenerate")
    assert "Started" in said(r)
    first, second = (dict(c["input"]) for c in memkie.created)
    assert first.pop("image_urls") != second.pop("image_urls")  # each job uploads its image
    assert first == second  # the same storyboard
    assert memkie.uploads[0]["bytes"] == memkie.uploads[1]["bytes"]
    await env.advance_time(20)
    r = await alice.click(result, label="Delete")
    assert "Deleted" in said(r)
    assert all(m.id != result.id for m in channel.history())


async def test_large_video_links_to_the_bots_own_server_when_public(
    simcord_env, memkie, bot_settings, make_bot, tmp_path
):
    env = simcord_env
    data = bot_settings.model_dump()
    for section in ("kie", "discord"):
        for key, value in list(data[section].items()):
            if hasattr(value, "get_secret_value"):
                data[section][key] = value.get_secret_value()
    data["http"]["public_url"] = "https://bot.example.org"
    from bot.config.settings import Settings

    await env.restart_bot(make_bot(Settings(**data)))
    memkie.fake.result_bytes = 11 * 1024 * 1024
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    for _ in range(4):
        await env.advance_time(60)
    result = bot_messages(env, channel)[-1]
    assert result.attachments == []
    assert "https://bot.example.org/media/" in result.content
    assert [c.label for row in result.components for c in row.children] == [
        "Regenerate",
        "Edit",
        "Delete",
    ]


async def test_a_failed_post_is_retried_and_the_video_posted_once(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.plan = TaskPlan(duration=5)
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    env.inject_error("POST", f"/channels/{channel.id}/messages", status=500)
    await env.advance_time(10)
    assert not [m for m in bot_messages(env, channel) if m.attachments and m.id != card.id]
    await env.advance_time(40)
    videos = [m for m in bot_messages(env, channel) if m.attachments and m.id != card.id]
    assert len(videos) == 1


async def test_undeliverable_video_tells_the_author_privately(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.plan = TaskPlan(duration=5)
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    env.inject_error(
        "POST",
        f"/channels/{channel.id}/messages",
        status=403,
        code=50013,
        message="Missing Permissions",
        times=None,
    )
    await env.advance_time(10)
    job = (await env.bot.runtime.store.recent_jobs())[0]
    assert job.state == JobState.UNDELIVERABLE
    status = next(m for m in channel.history() if m.id == job.status_message_id)
    assert "could not be posted" in status.content
    dms = alice.user.dm_channel.history()
    assert [m.content for m in dms] == [
        f"Your storyboard video (job {job.id}) was made but I could not post it in the channel: "
        "the bot may not post there any more, or the channel is gone."
    ]
    # The operator's detail keeps Discord's own words.
    assert job.fail_msg == "I am not allowed to post there (Missing Permissions)"


# -- quotas through /storyboard ----------------------------------------------------------------
async def test_daily_limit_refuses_with_numbers_and_usage_shows_it(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    await env.bot.runtime.quotas.set(guild.id, "user_daily", "1", actor_id=0)
    memkie.plan = TaskPlan(duration=5)
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    await env.advance_time(60)
    r = await alice.click(card, label="Generate")
    assert said(r).startswith("You have used 1 of your 1 videos today; the limit resets <t:")
    assert len(memkie.created) == 1
    u = await alice.slash(channel, "storyboard-usage")
    text = u.response.embeds[0].description
    assert "Today: 1 of 1 videos" in text
    assert "⛔ You have used 1 of your 1 videos today" in text


async def test_a_failed_generation_does_not_use_up_the_day(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    await env.bot.runtime.quotas.set(guild.id, "user_daily", "1", actor_id=0)
    memkie.plan = TaskPlan(duration=5, outcome="fail", fail_msg="guardrails")
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    await env.advance_time(60)
    memkie.plan = TaskPlan(duration=5)
    r = await alice.click(card, label="Generate")
    assert "Started" in said(r)
    assert len(memkie.created) == 2


async def test_blocked_terms_are_refused_when_drafting(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    await env.bot.runtime.quotas.set(guild.id, "blocked_terms", "血腥, gore", actor_id=0)
    r = await alice.slash(
        channel,
        "storyboard",
        image=("ref.png", png_bytes()),
        shots="7.5 | 一个血腥的场景; 7.5 | calm",
    )
    assert "does not allow “血腥” in scenes" in said(r)
    assert bot_messages(env, channel) == []


async def test_the_application_owner_is_never_limited(simcord_env, memkie):
    env = simcord_env
    guild = env.create_guild()
    guild.create_text_channel("general")
    owner_id = (await env.bot.application_info()).owner.id
    quotas = env.bot.runtime.quotas
    assert quotas.is_owner(owner_id)
    await quotas.set(guild.id, "user_daily", "0", actor_id=0)
    await quotas.set(guild.id, "enabled", "false", actor_id=0)
    board = Storyboard(shots=(Shot(scene="a", tenths=100),), length=10)
    common = dict(
        guild_id=guild.id,
        channel_id=None,
        role_ids=[],
        board=board,
        model_name="sora-2-pro-storyboard",
        credits=150,
        now=sim_now(),
    )
    await quotas.reserve(job_id="0a0a0a0a0a0a", user_id=owner_id, **common)  # not refused
    with pytest.raises(QuotaRefused):
        await quotas.reserve(job_id="0b0b0b0b0b0b", user_id=owner_id + 1, **common)


async def test_card_says_whether_the_author_can_generate_now(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.plan = TaskPlan(duration=30)
    card, _ = await make_card(env, channel, alice)
    assert f"✅ <@{alice.id}> can generate now." in card.embeds[0].description
    await alice.click(card, label="Generate")
    card = card_of(env, channel)
    assert "⛔ Not now: You have 1 video running" in card.embeds[0].description
    await env.advance_time(120)
    card = card_of(env, channel)
    assert f"✅ <@{alice.id}> can generate now." in card.embeds[0].description


async def test_refusals_and_failures_reach_the_admin_log(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    log_channel = guild.create_text_channel("storyboard-log")
    quotas = env.bot.runtime.quotas
    await quotas.set(guild.id, "log_channel", str(log_channel.id), actor_id=0)
    await quotas.set(guild.id, "user_daily", "1", actor_id=0)
    memkie.plan = TaskPlan(duration=5, outcome="fail", fail_msg="guardrails")
    await quotas.set(guild.id, "failed_counts", "true", actor_id=0)
    card, _ = await make_card(env, channel, alice)
    await alice.click(card, label="Generate")
    await env.advance_time(60)
    await alice.click(card, label="Generate")
    lines = [m.content for m in log_channel.history()]
    assert lines[0].startswith("❌ Job ")
    assert lines[0].endswith("failed): guardrails (failCode 500)")
    assert lines[1].startswith(f"⛔ <@{alice.id}> was refused a video: You have used 1 of your 1")
    status = next(m for m in bot_messages(env, channel) if "generation failed" in m.content)
    assert "This counted against your quota." in status.content


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("enabled", "false", "Video generation is turned off in this server."),
        ("channels", "{other}", "Videos can be generated only in <#{other}> in this server."),
        ("roles", "{role}", "Generating videos in this server needs one of these roles"),
        ("lengths", "10, 25", "This server allows videos of 10, 25 s; 15 s is not allowed."),
        ("aspects", "portrait", "This server allows the aspect portrait; landscape is not"),
        ("models", "kling-3.0-omni/image-to-video", "does not allow the model sora-2-pro"),
        ("guild_daily", "0", "This server has used 0 of its 0 videos today"),
        ("guild_concurrent", "0", "This server has 0 videos running; the limit is 0 at once."),
        ("guild_monthly_credits", "100", "This server has used 0 of its 100 credits this month"),
        ("blocked_terms", "kitten", "This server does not allow “kitten” in scenes."),
    ],
)
async def test_each_guild_limit_refuses_generate(simcord_env, memkie, setting, value, message):
    env = simcord_env
    guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice)  # drafted before the rule existed
    other = guild.create_text_channel("videos")
    role = guild.create_role("makers")
    value = value.format(other=other.id, role=role.id)
    await env.bot.runtime.quotas.set(guild.id, setting, value, actor_id=0)
    r = await alice.click(card, label="Generate")
    assert message.format(other=other.id) in said(r)
    assert memkie.created == []


async def test_kill_switch_stops_new_videos_for_everyone_but_owners(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    card, _ = await make_card(env, channel, alice)
    await env.bot.runtime.quotas.pause(0, True)
    r = await alice.click(card, label="Generate")
    assert said(r) == "The bot's owners have paused all new videos for now. Try again later."
    await env.bot.runtime.quotas.pause(0, False)
    r = await alice.click(card, label="Generate")
    assert "Started" in said(r)
