"""What members may store, and the draft card's copy of a large image, end to end."""

from __future__ import annotations

import io
import os
import random
import sys
from pathlib import Path
from types import SimpleNamespace

import discord
import pytest
from aiohttp.test_utils import make_mocked_request
from PIL import Image

from bot.media.images import PreparedImage, shrink_to_fit
from bot.storage import retention
from bot.web import server as web
from tests.cogs.test_delivery import job_id_of, until_delivered
from tests.cogs.test_storyboard import SHOTS, bot_messages, card_of, said, world
from tests.cogs.test_threads import bot_replies, card_now, revision_of, thread_of
from tests.fakes.fakekie import TaskPlan

MIB = 1024 * 1024


def noise_png(side: int, seed: int = 0) -> bytes:
    """A PNG that does not compress: about 3 bytes a pixel."""
    pixels = random.Random(seed).randbytes(side * side * 3)
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buf, "PNG")
    return buf.getvalue()


SMALL = noise_png(400)  # 0.48 MB
BIG = noise_png(800, seed=1)  # 1.92 MB


async def draft_rows(env) -> list[dict]:
    async with env.bot.runtime.store.db.execute("SELECT * FROM drafts ORDER BY created_at") as cur:
        return [dict(r) for r in await cur.fetchall()]


def stored_drafts(env) -> set[str]:
    folder = Path(env.bot.settings.storage.media_dir) / "drafts"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def cards(env, channel):
    return [m for m in bot_messages(env, channel) if m.embeds]


async def storyboard(member, channel, image: bytes, name: str = "ref.png"):
    return await member.slash(channel, "storyboard", image=(name, image), shots=SHOTS)


async def media_link_status(bot, job_id: str) -> int:
    """What the job's /media link answers, asked of the bot's own handler."""
    url = await bot.runtime.tracker.media_url(job_id)
    job, token = url.rsplit("/", 2)[-2:]
    token = token.removesuffix(".mp4")
    app = web.make_app(bot.runtime.tracker, hmac_key=None, max_body=1024)
    request = make_mocked_request(
        "GET", f"/media/{job}/{token}.mp4", match_info={"job": job, "token": token}, app=app
    )
    return (await web.media(request)).status


def low_disk(monkeypatch, free: int) -> None:
    def disk_usage(path):
        return SimpleNamespace(total=10**12, used=10**12 - free, free=free)

    monkeypatch.setattr(retention.shutil, "disk_usage", disk_usage)


# -- the attack ------------------------------------------------------------------------------


async def test_one_members_big_drafts_cannot_push_out_anothers_video_or_image(simcord_env, memkie):
    env = simcord_env
    guild, channel, alice = world(env)
    mallory = guild.add_member(env.create_user("mallory"))
    await env.bot.runtime.quotas.set(guild.id, "user_storage_mb", "4", actor_id=0)
    env.bot.settings.retention.max_disk_mb = 5

    # Alice makes a draft and a video from it.
    memkie.plan = TaskPlan(duration=5)
    await storyboard(alice, channel, SMALL)
    card = card_of(env, channel)
    await alice.click(card, label="Generate")
    job_id = job_id_of(bot_messages(env, channel)[-1])
    job = await until_delivered(env, env.bot.runtime.store, job_id)
    assert job.video_path and await media_link_status(env.bot, job_id) == 200
    (her_draft,) = await draft_rows(env)

    # Mallory posts four big drafts: two fit her share, the others are refused privately.
    answers = [said(await storyboard(mallory, channel, BIG, f"big{n}.png")) for n in range(4)]
    assert all("draft is ready" in a for a in answers[:2]), answers
    for answer in answers[2:]:
        assert answer == (
            "Your images and videos in this server take 3.8 MB and this image needs 1.9 MB "
            "more; the limit is 4 MB a member. Discard drafts you no longer need (their images "
            "are removed then) or wait: stored files are removed after 14 days."
        )
    assert len(cards(env, channel)) == 3

    await env.bot._retention()  # a sweep, as the bot runs it

    # Her video's link still answers, and her draft still has its image.
    assert Path(job.video_path).is_file()
    assert await media_link_status(env.bot, job_id) == 200
    assert Path(her_draft["image_path"]).read_bytes() == SMALL
    await alice.click(card_now(env, channel, card), label="Generate")
    assert memkie.uploads[-1]["bytes"] == SMALL


# -- caps ------------------------------------------------------------------------------------


async def test_the_cap_on_active_drafts_refuses_privately_before_anything_is_stored(simcord_env):
    env = simcord_env
    guild, channel, alice = world(env)
    await env.bot.runtime.quotas.set(guild.id, "user_active_drafts", "2", actor_id=0)
    await storyboard(alice, channel, SMALL)
    await storyboard(alice, channel, SMALL)
    first, second = cards(env, channel)
    files = stored_drafts(env)

    r = await storyboard(alice, channel, SMALL)

    assert r.ephemeral
    assert said(r) == (
        "You have 2 active drafts in this server and the limit is 2: discard one you no longer "
        "need (the Discard button on its card) and try again. Drafts left unchanged for 14 days "
        f"stop counting.\n{first.jump_url} {second.jump_url}"
    )
    assert len(await draft_rows(env)) == 2 and stored_drafts(env) == files
    assert len(cards(env, channel)) == 2
    # Discarding one makes room; the bot's owners have no cap.
    await alice.click(first, label="Discard")
    assert "draft is ready" in said(await storyboard(alice, channel, SMALL))
    env.bot.runtime.quotas.add_owners([alice.id])
    assert "draft is ready" in said(await storyboard(alice, channel, SMALL))


async def test_the_cap_on_storage_applies_to_an_image_added_in_the_thread(simcord_env):
    env = simcord_env
    guild, channel, alice = world(env)
    await env.bot.runtime.quotas.set(guild.id, "user_storage_mb", "1", actor_id=0)
    await storyboard(alice, channel, SMALL)
    card = card_of(env, channel)
    thread = thread_of(channel)
    files = stored_drafts(env)

    await alice.send(thread, "", attachments=[("bigger.png", BIG)])

    assert bot_replies(env, thread)[-1].content == (
        "Your images and videos in this server take 0.5 MB and this image needs 1.9 MB more; "
        "the limit is 1 MB a member. Discard drafts you no longer need (their images are "
        "removed then) or wait: stored files are removed after 14 days."
    )
    assert revision_of(env, channel, card).endswith("revision 1")
    assert stored_drafts(env) == files
    # A smaller image fits.
    await alice.send(thread, "", attachments=[("small.png", noise_png(300, seed=2))])
    assert bot_replies(env, thread)[-1].content.startswith("🖼️ New reference image (revision 2)")


async def test_a_nearly_full_disk_refuses_new_drafts(simcord_env, monkeypatch):
    env = simcord_env
    _guild, channel, alice = world(env)
    low_disk(monkeypatch, free=120 * 1_000_000)

    r = await storyboard(alice, channel, SMALL)

    assert r.ephemeral
    assert said(r) == (
        "The bot's disk is nearly full (120 MB free; it keeps at least 300 MB free), so no new "
        "drafts or images can be stored right now. Please try again later."
    )
    assert await draft_rows(env) == [] and stored_drafts(env) == set()
    assert cards(env, channel) == []


# -- the card's copy of the image ------------------------------------------------------------


def card_floor(env, monkeypatch, size: int) -> None:
    """What every guild takes, for a card refused as too large (the module the bot loaded)."""
    module = sys.modules[type(env.bot.get_cog("Storyboard")).__module__]
    monkeypatch.setattr(module, "CARD_UPLOAD_FLOOR", size, raising=False)


def upload_limit(monkeypatch, limit: int) -> None:
    monkeypatch.setattr(discord.Guild, "filesize_limit", property(lambda self: limit))


async def test_an_image_over_the_upload_limit_is_shown_shrunk_on_the_card(
    simcord_env, memkie, monkeypatch
):
    env = simcord_env
    _guild, channel, alice = world(env)
    upload_limit(monkeypatch, 300_000)

    r = await storyboard(alice, channel, BIG)

    assert "draft is ready" in said(r)
    card = card_of(env, channel)
    (attachment,) = card.attachments
    assert attachment.filename == "reference.png"
    shown = await attachment.read()
    assert len(shown) <= 300_000
    assert Image.open(io.BytesIO(shown)).format == "PNG"
    # The full image is kept for the video.
    (row,) = await draft_rows(env)
    assert Path(row["image_path"]).read_bytes() == BIG
    await alice.click(card, label="Generate")
    assert memkie.uploads[-1]["bytes"] == BIG
    # A new image added in the thread is shrunk on the card the same way.
    other = noise_png(700, seed=3)
    await alice.send(thread_of(channel), "", attachments=[("other.png", other)])
    redrawn = await card_now(env, channel, card).attachments[0].read()
    assert len(redrawn) <= 300_000 and redrawn != shown


async def test_a_card_discord_refuses_as_too_large_is_posted_with_a_smaller_copy(
    simcord_env, monkeypatch
):
    env = simcord_env
    _guild, channel, alice = world(env)
    # The cached guild still allows 50 MB (its boosts just ran out); Discord allows less.
    upload_limit(monkeypatch, 50 * MIB)
    card_floor(env, monkeypatch, 300_000)
    env.inject_error(
        "POST", f"/channels/{channel.id}/messages", status=413, code=40005,
        message="Request entity too large",
    )  # fmt: skip

    r = await storyboard(alice, channel, BIG)

    assert "draft is ready" in said(r)
    (card,) = cards(env, channel)
    assert len(await card.attachments[0].read()) <= 300_000
    (row,) = await draft_rows(env)
    assert row["card_message_id"] == card.id


@pytest.mark.parametrize(
    ("status", "code", "times"), [(413, 40005, 2), (500, 0, 1), (403, 50013, 1)]
)
async def test_a_card_that_cannot_be_posted_leaves_no_draft_and_no_file(
    simcord_env, monkeypatch, status, code, times
):
    env = simcord_env
    _guild, channel, alice = world(env)
    card_floor(env, monkeypatch, 300_000)
    upload_limit(monkeypatch, 50 * MIB)
    env.inject_error(
        "POST", f"/channels/{channel.id}/messages", status=status, code=code, times=times
    )

    r = await storyboard(alice, channel, BIG)

    assert said(r) == (
        f"Discord refused to post the draft card here (HTTP {status}), so no draft was kept "
        "and nothing was spent. Please try again."
    )
    assert await draft_rows(env) == [] and stored_drafts(env) == set()
    assert cards(env, channel) == []
    # Nothing counts against her: the next one goes through.
    assert "draft is ready" in said(await storyboard(alice, channel, SMALL))


async def test_an_image_that_cannot_be_made_small_enough_is_refused(simcord_env, monkeypatch):
    env = simcord_env
    _guild, channel, alice = world(env)
    upload_limit(monkeypatch, 40)  # smaller than any PNG

    r = await storyboard(alice, channel, SMALL)

    assert r.ephemeral
    assert said(r).startswith(
        "The image is 0.5 MB, over this server's upload limit of 0 MB, and could not be made "
        "small enough to show on the draft card:"
    )
    assert said(r).endswith("No draft was made; send a smaller image.")
    assert await draft_rows(env) == [] and stored_drafts(env) == set()


async def test_shrink_to_fit_keeps_the_format_and_fits():
    prepared = PreparedImage(BIG, "PNG", 800, 800, "PNG", len(BIG))
    assert await shrink_to_fit(prepared, len(BIG)) is prepared
    smaller = await shrink_to_fit(prepared, 200_000)
    assert smaller.format == "PNG" and len(smaller.data) <= 200_000
    assert smaller.width < 800 and smaller.height < 800
    jpeg = io.BytesIO()
    Image.frombytes("RGB", (800, 800), os.urandom(800 * 800 * 3)).save(jpeg, "JPEG", quality=95)
    data = jpeg.getvalue()
    again = await shrink_to_fit(PreparedImage(data, "JPEG", 800, 800, "JPEG", len(data)), 50_000)
    assert again.format == "JPEG" and len(again.data) <= 50_000
