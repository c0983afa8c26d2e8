"""A long storyboard as people read it: its plan on the card (the cuts on the timeline, the
segments, the time and the total price), a chain's status line, and what a failed chain keeps."""

from __future__ import annotations

from bot.chain.plan import plan_segments
from bot.chain.record import ChainRecord
from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.store import Job, JobState
from bot.models.kling import KlingOmni
from bot.present.cards import draft_card, progress_bar, status_text, timeline
from bot.present.chains import chain_line, confirm_text

CREATED = 1_700_000_000.0
SEED = Storyboard(
    shots=tuple(Shot(scene=f"Scene {i}", tenths=25) for i in range(1, 11)),
    length=25,
    aspect="landscape",
)
MINUTE = Storyboard(
    shots=tuple(Shot(scene=f"Shot {i}", tenths=30) for i in range(1, 21)), length=60
)
KLING = KlingOmni()


def chain_job(state: JobState, board: Storyboard = MINUTE, **kw: object) -> Job:
    plan = plan_segments(board, KLING)
    fields: dict[str, object] = {
        "id": "abc123def456",
        "model": KLING.name,
        "storyboard": board,
        "image_path": "/media/images/abc.png",
        "state": state,
        "created_at": CREATED,
        "deadline_at": CREATED + 3600,
        "updated_at": CREATED,
        "chain": ChainRecord.from_plan(plan).dump(),
        "segments": plan.count,
        "segment": 0,
    }
    fields.update(kw)
    return Job(**fields)  # type: ignore[arg-type]


def card_fields(lang: str = "en", board: Storyboard = SEED) -> dict[str, str]:
    card = draft_card(
        draft_id="d1",
        revision=1,
        board=board,
        model=KLING,
        author_mention="<@1>",
        credit_usd=0.005,
        lang=lang,
        has_thread=True,
        plan=plan_segments(board, KLING),
    )
    return {name: value for name, value, _inline in card.fields}


def test_the_card_shows_the_segments_their_time_and_the_total_price() -> None:
    fields = card_fields()
    assert fields["Estimated cost"] == "364 credits (≈ $1.82) for 2 segments"
    assert fields["Segments"] == (
        "2 segments, about 6-10 min\n"
        "Segment 1: shots 1-5 (12.5 s, 182 credits)\n"
        "Segment 2: shots 6-10 (12.5 s, 182 credits)"
    )
    # The cut between segment 1 and 2 is drawn where shot 6 begins, half way.
    assert fields["Timeline"] == f"`{'███▒▒▒' * 2}███┃{'▒▒▒███' * 2}▒▒▒` 25/25 s"
    assert list(fields) == ["Timeline", "Segments", "Aspect", "Model", "Estimated cost", "Author"]


def test_a_storyboard_of_one_segment_shows_no_plan() -> None:
    board = Storyboard(shots=SEED.shots[:4], length=10)
    fields = card_fields(board=board)
    assert "Segments" not in fields and "┃" not in fields["Timeline"]
    assert timeline(board) == timeline(board, cuts=[0])


def test_the_card_reads_chinese() -> None:
    fields = card_fields("zh-CN", MINUTE)
    assert fields["预计费用"] == "840 积分（约 $4.20），共 4 段"
    assert fields["分段"].splitlines()[0] == "4 段，约 12-20 分钟"
    assert fields["时间线"].count("┃") == 3


def test_a_chain_says_which_segment_how_far_and_how_long() -> None:
    job = chain_job(JobState.CHAINING, segment=1, kie_state="generating", progress=40)
    now = CREATED + 200
    assert chain_line(job, "en", now, progress_bar) == (
        f"🎞️ Segment 2 of 4 · generating {progress_bar(40)} · 3 min 20 s elapsed"
    )
    assert chain_line(job, "zh-CN", now, progress_bar) == (
        f"🎞️ 第 2 段，共 4 段 · 生成中 {progress_bar(40)} · 已用时 3 分 20 秒"
    )
    text = status_text(job, "en", now=now)
    assert text.splitlines()[0].startswith("🎞️ Segment 2 of 4 · generating")
    frame = chain_job(JobState.EXTRACTING, segment=2)
    assert status_text(frame, "en", now=CREATED + 5).startswith(
        "🎞️ Segment 3 of 4 · handing its last frame to the next segment · 5 s elapsed"
    )
    joining = chain_job(JobState.JOINING, segment=3)
    assert status_text(joining, "en", now=CREATED + 65).startswith(
        "🎞️ Joining the 4 segments into one video · 1 min 5 s elapsed"
    )
    # Without a clock (an old caller), the line the engine's state names.
    assert status_text(job, "en").startswith("🎞️ Making the video in segments")


def test_a_failed_chain_says_which_segment_why_and_what_it_keeps() -> None:
    job = chain_job(
        JobState.FAILED,
        segment=2,
        fail_code="segment_failed",
        fail_params={"segment": 3, "segments": 4, "reason": "content_policy"},
    )
    lines = status_text(job, "en", counted=True).splitlines()
    assert lines[0].startswith("❌ The generation failed: segment 3 of 4 was not made: ")
    assert lines[1] == (
        "Segments 1-2 were made and are kept: a retry from segment 3 does not pay for them again."
    )
    zh = status_text(job, "zh-CN", counted=True).splitlines()
    assert zh[0].startswith("❌ 生成失败：第 3/4 段没有生成：")
    assert zh[1] == "第 1-2 段已生成并保留：从第 3 段重试时不会再次为其付费。"


def test_the_confirmations_name_what_is_made_again_and_its_price() -> None:
    assert confirm_text("retry", 1, 2, 364, 0.005, "en") == (
        "🔁 Retry from segment 1 of 2: 2 segments are made again for 364 credits (≈ $1.82); "
        "nothing before it is reused. Press **Confirm** to start."
    )
    assert confirm_text("redo", 2, 4, 420, 0.005, "en") == (
        "🎲 Redo segment 2 of 4: it and the 2 segments after it are made again for 420 credits "
        "(≈ $2.10); the segment before it is reused and not paid again. The new video is "
        "posted beside this one. Press **Confirm** to start."
    )
    assert confirm_text("redo", 4, 4, 210, 0.005, "zh-CN").startswith(
        "🎲 重做第 4 段（共 4 段）：重新生成这一段，费用 210 积分（约 $1.05）；之前的 3 段直接复用"
    )
