"""What a member sees when kie.ai answers as it does live: validation 500s, a removed model,
a fallback the guild forbids, a CDN page; and that nothing is held or sent twice."""

from __future__ import annotations

import re

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import JobState
from bot.media.images import prepare_image
from bot.models.sora import SoraStoryboard
from tests.cogs.test_storyboard import bot_messages, make_card, world
from tests.fakes.fakekie import KLING_MODEL, SORA_MODEL, UNSUPPORTED_MODEL_MSG, TaskPlan
from tests.helpers import png_bytes

# A Latin-letter word of three or more letters that is not a name the bot may print as it is
# (a model, "kie.ai", a job id, Discord markup).
_NAMES = re.compile(
    r"kie\.ai|sora-2-pro-storyboard|kling-3\.0-omni/image-to-video|<[^>]*>|-# .*|[0-9a-f]{12}"
)


def latin_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{3,}", _NAMES.sub("", text))


async def _generate(env, channel, member):
    card, _ = await make_card(env, channel, member)
    await member.click(card, label="Generate")
    return bot_messages(env, channel)[-1]


async def test_a_validation_error_ends_the_job_at_once_and_releases_the_quota(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    log_channel = guild.create_text_channel("storyboard-log")
    quotas = env.bot.runtime.quotas
    await quotas.set(guild.id, "log_channel", str(log_channel.id), actor_id=0)
    memkie.fake.fail_next("createTask", code=500, msg="This field is required")
    status = await _generate(env, channel, alice)
    await env.advance_time(5)
    status = next(m for m in channel.history() if m.id == status.id)
    assert status.content.splitlines()[:2] == [
        "❌ Not sent: kie.ai refused the request as invalid; the bot's operator can see "
        "kie.ai's answer in the log.",
        "Nothing was spent.",
    ]
    job = (await env.bot.runtime.store.recent_jobs(1))[0]
    assert (job.state, job.fail_code) == (JobState.REFUSED, "invalid_request")
    assert await quotas.usage_state(job.id) == "released"
    # The admin log has kie.ai's own words; the member does not.
    assert "This field is required" in log_channel.last_message.content
    assert "This field is required" not in status.content
    # Nothing is sent again, however long it waits.
    await env.advance_time(3600)
    assert len(memkie.fake.create_attempts) == 1 and memkie.created == []


async def test_a_default_install_whose_sora_is_gone_renders_through_kling(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.fake.remove_model(SORA_MODEL, status=404)
    memkie.plan = TaskPlan(duration=5)
    status = await _generate(env, channel, alice)
    await env.advance_time(30)
    result = bot_messages(env, channel)[-1]
    assert result.attachments and result.attachments[0].filename.endswith(".mp4")
    status = next(m for m in channel.history() if m.id == status.id)
    assert status.content.startswith(
        f"ℹ️ {SORA_MODEL} is unavailable at kie.ai; using {KLING_MODEL} instead (210 credits)."
    )
    assert [b["model"] for b in memkie.fake.create_attempts] == [SORA_MODEL, KLING_MODEL]
    assert len(memkie.created) == 1
    job = (await env.bot.runtime.store.recent_jobs(1))[0]
    assert await env.bot.runtime.quotas.usage_state(job.id) == "charged"


async def test_a_fallback_the_server_forbids_is_refused_with_the_rule(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    quotas = env.bot.runtime.quotas
    await quotas.set(guild.id, "models", SORA_MODEL, actor_id=0)
    memkie.fake.remove_model(SORA_MODEL)
    status = await _generate(env, channel, alice)
    await env.advance_time(5)
    status = next(m for m in channel.history() if m.id == status.id)
    assert status.content.splitlines()[:2] == [
        f"❌ Not sent: kie.ai does not offer {SORA_MODEL} right now, and this server's rules do "
        f"not allow the other model, {KLING_MODEL}: This server does not allow the model "
        f"{KLING_MODEL}; allowed: {SORA_MODEL}.",
        "Nothing was spent.",
    ]
    job = (await env.bot.runtime.store.recent_jobs(1))[0]
    assert await quotas.usage_state(job.id) == "released"
    assert [b["model"] for b in memkie.fake.create_attempts] == [SORA_MODEL]


async def test_a_chinese_server_reads_every_failure_in_chinese(simcord_env, memkie):
    env = simcord_env
    guild = env.create_guild(preferred_locale="zh-CN")
    channel = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    answers = [
        (500, "aspect_ratio is required"),
        (402, "Credits insufficient, please top up"),
        (403, "html"),
        (422, UNSUPPORTED_MODEL_MSG),
    ]
    card, _ = await make_card(env, channel, alice)

    async def generate():
        await alice.click(card, label="生成")
        return bot_messages(env, channel)[-1]

    seen = []
    for code, msg in answers:
        if msg == "html":
            memkie.fake.html_next("createTask", status=code)
        else:
            memkie.fake.fail_next("createTask", code=code, msg=msg)
        memkie.fake.paused.clear()
        env.bot.runtime.models.mark_available(SORA_MODEL)
        env.bot.runtime.models.mark_available(KLING_MODEL)
        if code == 422:  # no fallback can take it either: Kling is gone too
            memkie.fake.remove_model(KLING_MODEL)
        status = await generate()
        await env.advance_time(60)
        seen.append(next(m for m in channel.history() if m.id == status.id).content)
    for text in seen:
        assert text.startswith(("❌ 未提交：", "ℹ️ ")), text
        assert latin_words(text) == [], text
    # Both models gone: it says so, not that no other model is configured.
    assert seen[-1].splitlines()[1] == (
        f"❌ 未提交：kie.ai 目前既不提供 {SORA_MODEL}，也不提供备用模型 {KLING_MODEL}；请稍后再试。"
    )
    memkie.plan = TaskPlan(duration=5, outcome="fail", fail_msg="Generation failed: upstream")
    memkie.fake.removed.clear()
    env.bot.runtime.models.mark_available(SORA_MODEL)
    env.bot.runtime.models.mark_available(KLING_MODEL)
    status = await generate()
    await env.advance_time(60)
    failed = next(m for m in channel.history() if m.id == status.id).content
    assert failed.startswith("❌ 生成失败：kie.ai 无法生成这个视频。")
    assert latin_words(failed) == []


async def test_an_unreachable_upload_host_is_shown_until_it_answers(simcord_env, memkie):
    env = simcord_env
    _guild, channel, alice = world(env)
    memkie.upload_unreachable = True
    memkie.plan = TaskPlan(duration=5)
    status = await _generate(env, channel, alice)
    await env.advance_time(5)
    shown = next(m for m in channel.history() if m.id == status.id).content.splitlines()
    job = (await env.bot.runtime.store.recent_jobs(1))[0]
    assert shown[1] == (
        "⚠️ kie.ai (kieai.redpandaai.co) cannot be reached right now; the bot keeps trying "
        f"until <t:{int(job.deadline_at)}:R>, then gives up. Nothing has been charged."
    )
    # The host answers again: the job goes on and the video is posted.
    memkie.upload_unreachable = False
    await env.advance_time(40)
    await env.advance_time(30)
    assert bot_messages(env, channel)[-1].attachments
    shown = next(m for m in channel.history() if m.id == status.id).content
    assert "cannot be reached" not in shown
    assert len(memkie.created) == 1


async def test_a_job_stored_before_its_status_was_posted_is_finished_after_a_restart(
    simcord_env, memkie, make_bot
):
    """Generate stores the job (holding its reservation) before it posts the status message.
    A crash in between leaves a stored job: the next process posts its status and its video."""
    env = simcord_env
    guild, channel, alice = world(env)
    memkie.plan = TaskPlan(duration=5)
    card, _ = await make_card(env, channel, alice)
    rt = env.bot.runtime
    storyboard = Storyboard(shots=(Shot(scene="A kitten", tenths=150),), length=15)
    await rt.quotas.reserve(
        job_id="0123456789ab",
        guild_id=guild.id,
        user_id=alice.id,
        channel_id=channel.id,
        role_ids=[],
        board=storyboard,
        model_name=rt.models.primary.name,
        credits=270,
        now=env.bot.clock.now(),
    )
    image = prepare_image(png_bytes(), SoraStoryboard.image_spec)
    await rt.tracker.submit(
        storyboard,
        image,
        origin="discord",
        hold=True,
        id="0123456789ab",
        owner_id=alice.id,
        guild_id=guild.id,
        channel_id=channel.id,
        card_message_id=card.id,
    )
    # The process dies here, before the status message was posted.
    await env.restart_bot(make_bot())
    await env.advance_time(10)
    await env.advance_time(10)
    job = await env.bot.runtime.store.get_job("0123456789ab")
    assert job.state == JobState.DELIVERED and job.status_message_id is not None
    status = next(m for m in channel.history() if m.id == job.status_message_id)
    assert status.reference.message_id == card.id
    assert len(memkie.created) == 1
    assert await env.bot.runtime.quotas.usage_state(job.id) == "charged"
