"""The draft card, the status line and the result text, as a person reads them."""

from __future__ import annotations

import pytest

from bot.domain.storyboard import Shot, Storyboard
from bot.jobs.queue import QueueSpot
from bot.jobs.store import Job, JobState
from bot.models.kling import KlingOmni
from bot.models.sora import SoraStoryboard
from bot.present.cards import (
    BAR_WIDTH,
    TIMELINE_WIDTH,
    Card,
    draft_card,
    job_line,
    progress_bar,
    result_text,
    status_text,
    timeline,
)

CREATED = 1_700_000_000.0
STARTED = "<t:1700000000:R>"
BLURPLE = 0x5865F2
GRAY = 0x747F8D


def board(*tenths: int, length: int = 15, aspect: str = "landscape") -> Storyboard:
    return Storyboard(
        shots=tuple(Shot(scene=f"scene {i}", tenths=x) for i, x in enumerate(tenths, 1)),
        length=length,
        aspect=aspect,
    )


KITTEN = Storyboard(
    shots=(
        Shot(scene="A fluffy orange kitten with headphones", tenths=75),
        Shot(scene="The kitten licks its lips", tenths=75, auto=True),
    ),
    length=15,
    aspect="landscape",
)


def card(lang: str = "en", **kw) -> Card:
    args = {
        "draft_id": "d1e2f3",
        "revision": 3,
        "board": KITTEN,
        "model": SoraStoryboard(),
        "author_mention": "<@42>",
        "credit_usd": 0.005,
        "lang": lang,
        "has_thread": True,
    }
    args.update(kw)
    return draft_card(**args)


def job(state: JobState, **kw) -> Job:
    fields = {
        "id": "abc123def456",
        "model": "sora-2-pro-storyboard",
        "storyboard": KITTEN,
        "image_path": "/media/images/abc.png",
        "state": state,
        "created_at": CREATED,
        "deadline_at": CREATED + 3600,
        "updated_at": CREATED,
    }
    fields.update(kw)
    return Job(**fields)


def bar_of(text: str) -> str:
    """The cells between the backticks of a timeline or a progress bar."""
    start, end = text.index("`"), text.rindex("`")
    return text[start + 1 : end]


def runs(cells: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for c in cells:
        if out and out[-1][0] == c:
            out[-1] = (c, out[-1][1] + 1)
        else:
            out.append((c, 1))
    return out


# -- the draft card --------------------------------------------------------------------------


def test_draft_card_in_english():
    c = card("en")
    assert c.title == "Storyboard · 2 shots · 15 s"
    lines = c.description.split("\n")
    assert lines[0] == "**1.** `7.5 s` A fluffy orange kitten with headphones"
    assert lines[1] == "**2.** `7.5 s` (auto) The kitten licks its lips"
    assert lines[2] == ""
    assert lines[3] == (
        "-# Refine it in the thread (`#2 new scene`, `+ 4s | scene`, `undo`, `go`) or with the "
        "buttons."
    )
    assert len(lines) == 4
    assert c.fields == [
        ("Timeline", "`███████████████▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒` 15/15 s", False),
        ("Aspect", "Landscape", True),
        ("Model", "Sora 2 Pro Storyboard", True),
        ("Estimated cost", "270 credits (≈ $1.35)", True),
        ("Author", "<@42>", True),
    ]
    assert c.footer == "Draft d1e2f3 · revision 3"
    assert c.color == BLURPLE


def test_draft_card_in_chinese():
    c = card("zh")
    assert c.title == "分镜 · 2 个镜头 · 15 秒"
    lines = c.description.split("\n")
    assert lines[0] == "**1.** `7.5 s` A fluffy orange kitten with headphones"
    assert lines[1] == "**2.** `7.5 s` （自动） The kitten licks its lips"
    assert lines[3] == "-# 在子区中修改（`#2 新场景`、`+ 4s | 场景`、`undo`、`go`），或使用按钮。"
    names = [name for name, _, _ in c.fields]
    assert names == ["时间线", "画幅", "模型", "预计费用", "作者"]
    values = dict((name, value) for name, value, _ in c.fields)
    assert values["画幅"] == "横屏"
    assert values["模型"] == "Sora 2 Pro Storyboard"
    assert values["预计费用"] == "270 积分（约 $1.35）"
    assert values["作者"] == "<@42>"
    assert values["时间线"].endswith(" 15/15 s")
    assert c.footer == "草稿 d1e2f3 · 第 3 版"


def test_portrait_aspect_and_the_cost_of_another_length():
    portrait = board(50, 50, length=10, aspect="portrait")
    c = card("en", board=portrait, credit_usd=0.01)
    values = {name: value for name, value, _ in c.fields}
    assert values["Aspect"] == "Portrait"
    assert values["Estimated cost"] == "150 credits (≈ $1.50)"
    assert card("zh", board=portrait).fields[1][1] == "竖屏"


def test_another_models_label_and_price():
    c = card("en", model=KlingOmni(), board=board(50, 50, length=10))
    values = {name: value for name, value, _ in c.fields}
    assert values["Model"] == "Kling 3.0 Omni"
    assert values["Estimated cost"] == "140 credits (≈ $0.70)"  # 14 credits x 10 s at 720p


def test_no_thread_note_instead_of_the_hint():
    c = card("en", has_thread=False)
    assert c.description.endswith("\n\n-# No thread here: the buttons edit this draft.")
    assert "talk it over in the thread" not in c.description
    assert card("zh", has_thread=False).description.endswith(
        "-# 这里无法创建子区：请用按钮修改草稿。"
    )


def test_discarded_card_is_gray_and_says_who():
    c = card("en", discarded_by="<@7>")
    assert c.description.endswith("\n\n-# Discarded by <@7>.")
    assert "talk it over in the thread" not in c.description
    assert c.color == GRAY
    assert card("zh", discarded_by="<@7>").description.endswith("-# 已被 <@7> 丢弃。")


def test_image_removed_note():
    c = card("en", image_removed=True)
    assert c.description.endswith(
        "\n\n-# Refine it in the thread (`#2 new scene`, `+ 4s | scene`, `undo`, `go`) or with "
        "the buttons.\n"
        "-# The reference image has been removed (retention policy); run /storyboard again."
    )
    assert c.color == BLURPLE
    gone = card("en", image_removed=True, discarded_by="<@7>").description
    assert gone.endswith("-# Discarded by <@7>.\n-# The reference image has been removed "
                         "(retention policy); run /storyboard again.")  # fmt: skip
    assert "参考图片已按保留策略删除" in card("zh", image_removed=True).description


def test_no_image_note_by_default():
    assert "removed" not in card("en").description


# -- the timeline ----------------------------------------------------------------------------


def test_timeline_full_video_in_two_halves():
    text = timeline(board(75, 75))
    assert text == "`" + "█" * 15 + "▒" * 15 + "` 15/15 s"
    assert len(bar_of(text)) == TIMELINE_WIDTH


def test_unused_time_is_shown_empty():
    text = timeline(board(50, 50))  # 10 s of shots in a 15 s video: a third left
    assert text == "`" + "█" * 10 + "▒" * 10 + "░" * 10 + "` 10/15 s"


def test_timeline_with_fractional_total():
    text = timeline(board(20, 45, length=10))
    assert text.endswith("` 6.5/10 s")
    assert runs(bar_of(text)) == [("█", 6), ("▒", 14), ("░", 10)]


def test_neighbouring_shots_alternate():
    text = timeline(board(50, 50, 50, 50, 50, length=25))
    assert runs(bar_of(text)) == [("█", 6), ("▒", 6), ("█", 6), ("▒", 6), ("█", 6)]
    assert text.endswith(" 25/25 s")


def test_a_tenth_of_a_second_shot_is_still_visible():
    for shots in [(1, 149), (149, 1), (70, 1, 79), (1, 1, 1, 147)]:
        cells = bar_of(timeline(board(*shots)))
        assert len(cells) == TIMELINE_WIDTH, shots
        assert len(runs(cells)) == len(shots), (shots, cells)
        assert "░" not in cells, shots  # the shots fill the video: nothing shows as unused


def test_a_tenth_of_a_second_shot_at_the_end_of_a_shorter_board():
    cells = bar_of(timeline(board(50, 1)))
    assert runs(cells) == [("█", 10), ("▒", 1), ("░", 19)]


def test_ten_short_shots_each_keep_a_cell():
    text = timeline(board(*[1] * 9, 141))
    assert len(runs(bar_of(text))) == 10
    assert len(bar_of(text)) == TIMELINE_WIDTH
    assert text.endswith(" 15/15 s")


def test_timeline_width_parameter():
    assert bar_of(timeline(board(50, 50), width=15)) == "█" * 5 + "▒" * 5 + "░" * 5


# -- the progress bar ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pct", "expected"),
    [
        (0, "`░░░░░░░░░░░░` 0%"),
        (50, "`██████░░░░░░` 50%"),
        (100, "`████████████` 100%"),
        (-20, "`░░░░░░░░░░░░` 0%"),
        (180, "`████████████` 100%"),
        (25, "`███░░░░░░░░░` 25%"),
    ],
)
def test_progress_bar(pct, expected):
    assert progress_bar(pct) == expected
    assert len(bar_of(expected)) == BAR_WIDTH


def test_progress_bar_width():
    assert progress_bar(50, width=4) == "`██░░` 50%"


# -- the status message ----------------------------------------------------------------------

FOOTER_EN = "-# job abc123def456 · sora-2-pro-storyboard"
FOOTER_ZH = "-# 任务 abc123def456 · sora-2-pro-storyboard"

STATUS_EN = {
    JobState.QUEUED: [f"⏳ Queued, started {STARTED}"],
    JobState.SUBMITTING: [f"⏳ Queued, started {STARTED}"],
    JobState.RUNNING: [f"📨 Sent to kie.ai, waiting to start (started {STARTED})"],
    JobState.SUCCEEDED: ["📥 Done at kie.ai, fetching the video"],
    JobState.FETCHED: ["📤 Posting the video"],
    JobState.POSTING: ["📤 Posting the video"],
    JobState.DELIVERED: ["✅ Done."],
    JobState.UNKNOWN: [
        "⚠️ kie.ai did not confirm the job; it may or may not have been accepted. It was not "
        "sent again, so you are not charged twice; check kie.ai before trying again."
    ],
    JobState.CANCELLED: ["🚫 Cancelled before it was sent.", "Nothing was spent."],
    JobState.REFUSED: [
        "❌ Not sent: the bot's kie.ai account is out of credits; its operator has to top it up.",
        "Nothing was spent.",
    ],
    JobState.FAILED: [
        "❌ The generation failed: kie.ai's content rules refused to make this video; try "
        "other scenes or another image.",
        "This did not count against your quota.",
    ],
    JobState.EXPIRED: [
        "⌛ Gave up: kie.ai did not finish within 30 minutes.",
        "This did not count against your quota.",
    ],
    JobState.UNDELIVERABLE: [
        "⚠️ The video was made but could not be posted: the bot may not post there any more, "
        "or the channel is gone."
    ],
    # A long storyboard made as segments (bot.jobs.chaining).
    JobState.CHAINING: [f"🎞️ Making the video in segments (started {STARTED})"],
    JobState.EXTRACTING: ["🎞️ Handing a segment's last frame to the next one"],
    JobState.UPLOADING_FRAME: ["🎞️ Handing a segment's last frame to the next one"],
    JobState.JOINING: ["🎞️ Joining the segments into one video"],
}

STATUS_ZH = {
    JobState.QUEUED: [f"⏳ 排队中，开始于 {STARTED}"],
    JobState.SUBMITTING: [f"⏳ 排队中，开始于 {STARTED}"],
    JobState.RUNNING: [f"📨 已提交到 kie.ai，等待开始（开始于 {STARTED}）"],
    JobState.SUCCEEDED: ["📥 kie.ai 已完成，正在获取视频"],
    JobState.FETCHED: ["📤 正在发布视频"],
    JobState.POSTING: ["📤 正在发布视频"],
    JobState.DELIVERED: ["✅ 完成。"],
    JobState.UNKNOWN: [
        "⚠️ kie.ai 没有确认这个任务；它可能已被接受，也可能没有。任务没有被重复提交，不会重复扣费；"
        "重试前请先在 kie.ai 查看。"
    ],
    JobState.CANCELLED: ["🚫 已在提交前取消。", "未产生费用。"],
    JobState.REFUSED: ["❌ 未提交：机器人的 kie.ai 账户积分不足，需要管理者充值。", "未产生费用。"],
    JobState.FAILED: [
        "❌ 生成失败：kie.ai 的内容规则拒绝生成这个视频；请换用其他镜头描述或图片。",
        "此次不计入你的配额。",
    ],
    JobState.EXPIRED: ["⌛ 已放弃：kie.ai 没有在 30 分钟内完成。", "此次不计入你的配额。"],
    JobState.UNDELIVERABLE: ["⚠️ 视频已生成但无法发布：机器人已无权在该频道发布，或频道已不存在。"],
    JobState.CHAINING: [f"🎞️ 正在分段生成视频（开始于 {STARTED}）"],
    JobState.EXTRACTING: ["🎞️ 正在把上一段的最后一帧交给下一段"],
    JobState.UPLOADING_FRAME: ["🎞️ 正在把上一段的最后一帧交给下一段"],
    JobState.JOINING: ["🎞️ 正在把各段合成为一个视频"],
}

# Why each state ended; kie.ai's own words (fail_msg) are for the operator and never shown.
REASON_OF = {
    JobState.UNKNOWN: ("unknown", None),
    JobState.REFUSED: ("out_of_credits", None),
    JobState.FAILED: ("content_policy", None),
    JobState.EXPIRED: ("deadline", {"minutes": "30"}),
    JobState.UNDELIVERABLE: ("undeliverable", None),
}
RAW = "This content may violate our guardrails concerning similarity to third-party content."


def test_every_state_has_an_expected_status():
    assert set(STATUS_EN) == set(JobState) == set(STATUS_ZH)


@pytest.mark.parametrize("state", list(JobState))
def test_status_text_for_every_state(state):
    code, params = REASON_OF.get(state, (None, None))
    j = job(state, fail_code=code, fail_params=params, fail_msg=RAW)
    assert status_text(j, "en").split("\n") == [*STATUS_EN[state], FOOTER_EN]
    assert status_text(j, "zh").split("\n") == [*STATUS_ZH[state], FOOTER_ZH]
    assert "guardrails" not in status_text(j, "en")


def test_a_queued_job_that_cannot_reach_kie_says_so_and_until_when():
    stall = {"host": "kieai.redpandaai.co", "setting": "KIE_UPLOAD_URL", "since": 1, "until": 2000}
    lines = status_text(job(JobState.QUEUED, stall=stall), "en").split("\n")
    assert lines[1] == (
        "⚠️ kie.ai (kieai.redpandaai.co) cannot be reached right now; the bot keeps trying "
        "until <t:2000:R>, then gives up. Nothing has been charged."
    )
    zh = status_text(job(JobState.QUEUED, stall=stall), "zh").split("\n")[1]
    assert zh.startswith("⚠️ 暂时无法连接 kie.ai（kieai.redpandaai.co）")


def test_a_job_waiting_out_kie_maintenance_says_so_and_when_it_is_sent_again():
    stall = {"kind": "maintenance", "tries": 1, "until": 2000}
    lines = status_text(job(JobState.QUEUED, stall=stall), "en").split("\n")
    assert lines[1] == (
        "🛠️ kie.ai is under maintenance; the bot sends it again <t:2000:R>. "
        "Nothing has been charged."
    )
    zh = status_text(job(JobState.QUEUED, stall=stall), "zh").split("\n")[1]
    assert zh == "🛠️ kie.ai 正在维护；机器人将在 <t:2000:R> 重新提交。目前没有产生任何费用。"


def test_a_queued_job_shows_its_place_and_start():
    spot = QueueSpot(position=37, starts_at=CREATED + 40.7, length=80)
    assert status_text(job(JobState.QUEUED), "en", spot=spot).split("\n") == [
        "⏳ #37 in the queue, starts <t:1700000040:R>. You can still cancel.",
        FOOTER_EN,
    ]
    zh = status_text(job(JobState.QUEUED), "zh", spot=spot)
    assert zh.startswith("⏳ 队列第 37 位，预计开始于 <t:1700000040:R>。仍可取消。\n")


def test_the_head_of_the_queue_shows_number_one():
    spot = QueueSpot(position=1, starts_at=CREATED, length=1)
    assert status_text(job(JobState.QUEUED), "en", spot=spot).startswith(
        "⏳ #1 in the queue, starts <t:1700000000:R>."
    )


def test_without_a_spot_or_once_sending_no_place_is_shown():
    spot = QueueSpot(position=2, starts_at=CREATED, length=2)
    assert status_text(job(JobState.QUEUED), "en").startswith(f"⏳ Queued, started {STARTED}\n")
    sending = status_text(job(JobState.SUBMITTING), "en", spot=spot)
    assert sending.startswith(f"⏳ Queued, started {STARTED}\n")


def test_a_job_list_line_says_a_queued_jobs_place():
    spot = QueueSpot(position=3, starts_at=CREATED + 20, length=9)
    line = job_line(job(JobState.QUEUED), "en", spot=spot)
    assert "queued · #3 in the queue, starts <t:1700000020:R> · " in line
    assert "队列第 3 位，预计开始于 <t:1700000020:R>" in job_line(
        job(JobState.QUEUED), "zh", spot=spot
    )


@pytest.mark.parametrize(
    ("kie_state", "line"),
    [
        (None, f"📨 Sent to kie.ai, waiting to start (started {STARTED})"),
        ("waiting", f"📨 Sent to kie.ai, waiting to start (started {STARTED})"),
        ("queuing", f"🕒 In kie.ai's queue (started {STARTED})"),
        ("generating", f"🎬 Generating (started {STARTED})"),
        ("success", "🎬 Finishing"),
        ("fail", "❌ Failed"),
    ],
)
def test_running_follows_kie_state(kie_state, line):
    assert status_text(job(JobState.RUNNING, kie_state=kie_state), "en").split("\n")[0] == line


def test_progress_bar_while_generating():
    j = job(JobState.RUNNING, kie_state="generating", progress=50)
    assert status_text(j, "en").split("\n")[0] == (
        f"🎬 Generating (started {STARTED}) `██████░░░░░░` 50%"
    )
    assert status_text(j, "zh").split("\n")[0] == (
        f"🎬 生成中（开始于 {STARTED}） `██████░░░░░░` 50%"
    )


def test_no_progress_bar_unless_generating_with_a_progress():
    assert "%" not in status_text(job(JobState.RUNNING, kie_state="generating"), "en")
    assert "%" not in status_text(job(JobState.RUNNING, kie_state="queuing", progress=40), "en")


def test_fallback_line_comes_first():
    j = job(
        JobState.RUNNING,
        model="kling-3.0-omni/image-to-video",
        fallback_from="sora-2-pro-storyboard",
        credits=210,
    )
    lines = status_text(j, "en").split("\n")
    assert lines[0] == (
        "ℹ️ sora-2-pro-storyboard is unavailable at kie.ai; using "
        "kling-3.0-omni/image-to-video instead (210 credits)."
    )
    assert lines[-1] == "-# job abc123def456 · kling-3.0-omni/image-to-video"
    zh = status_text(j, "zh").split("\n")[0]
    assert zh == (
        "ℹ️ kie.ai 上的 sora-2-pro-storyboard 暂不可用；改用 kling-3.0-omni/image-to-video"
        "（210 积分）。"
    )


def test_no_fallback_line_without_a_fallback():
    assert "paused" not in status_text(job(JobState.RUNNING, credits=270), "en")


# -- results and lists -----------------------------------------------------------------------


def test_result_text():
    j = job(JobState.DELIVERED, draft_id="d1e2f3", revision=2)
    assert result_text(j, "<@42>", "en").split("\n") == [
        "<@42> your video is ready (2 shots, 15 s).",
        "-# made from draft d1e2f3, revision 2",
    ]
    assert result_text(j, "<@42>", "zh").split("\n") == [
        "<@42> 你的视频已完成（2 个镜头，15 秒）。",
        "-# 由草稿 d1e2f3 第 2 版生成",
    ]
    card = "https://discord.com/channels/1/2/3"
    assert result_text(j, "<@42>", "en", source_link=card).split("\n")[1] == (
        "-# [made from draft d1e2f3, revision 2](<https://discord.com/channels/1/2/3>)"
    )


def test_result_text_with_a_link_note_and_no_draft():
    j = job(JobState.DELIVERED)
    text = result_text(j, "<@42>", "en", link_note="The video is too large: https://x/y")
    assert text.split("\n") == [
        "<@42> your video is ready (2 shots, 15 s).",
        "The video is too large: https://x/y",
    ]
    assert "draft" not in text
    assert j.id not in text  # the result is recognised by its file and buttons, not its text


def test_job_line():
    j = job(JobState.DELIVERED)
    assert job_line(j, "en") == f"`abc123def456` ✅ done · 2 × 15 s · {STARTED}"
    assert job_line(j, "zh", "https://discord.com/x") == (
        f"`abc123def456` ✅ 完成 · 2 × 15 s · {STARTED} · https://discord.com/x"
    )
    assert job_line(job(JobState.REFUSED), "en").startswith("`abc123def456` ❌ not sent · ")


STATE_EN = {
    JobState.QUEUED: "queued",
    JobState.SUBMITTING: "sending",
    JobState.RUNNING: "running",
    JobState.SUCCEEDED: "finishing",
    JobState.FETCHED: "fetched",
    JobState.POSTING: "posting",
    JobState.DELIVERED: "✅ done",
    JobState.FAILED: "❌ failed",
    JobState.REFUSED: "❌ not sent",
    JobState.UNKNOWN: "⚠️ unconfirmed",
    JobState.EXPIRED: "⌛ gave up",
    JobState.CANCELLED: "🚫 cancelled",
    JobState.UNDELIVERABLE: "⚠️ not posted",
    JobState.CHAINING: "🎞️ in segments",
    JobState.EXTRACTING: "🎞️ in segments",
    JobState.UPLOADING_FRAME: "🎞️ in segments",
    JobState.JOINING: "🎞️ joining",
}


@pytest.mark.parametrize("state", list(JobState))
def test_job_line_names_every_state(state):
    assert job_line(job(state), "en") == (
        f"`abc123def456` {STATE_EN[state]} · 2 × 15 s · {STARTED}"
    )
    assert "state." not in job_line(job(state), "zh")


def test_a_failed_segment_says_which_and_why_in_the_readers_language():
    j = job(JobState.FAILED).model_copy(
        update={
            "fail_code": "segment_failed",
            "fail_params": {"segment": 2, "segments": 3, "reason": "content_policy"},
        }
    )
    assert status_text(j, "en").split("\n")[0] == (
        "❌ The generation failed: segment 2 of 3 was not made: kie.ai's content rules refused "
        "to make this video; try other scenes or another image."
    )
    assert status_text(j, "zh").split("\n")[0] == (
        "❌ 生成失败：第 2/3 段没有生成：kie.ai 的内容规则拒绝生成这个视频；"
        "请换用其他镜头描述或图片。"
    )
