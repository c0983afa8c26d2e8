"""Every user-facing string, in English and Simplified Chinese.

``t(key, lang, **params)`` formats a string; a missing translation falls back to English.
Errors from the core (:class:`bot.domain.errors.UserError`) carry a code and parameters, so they are
rendered here in the reader's language too; a thread edit's refusal (:class:`bot.domain.edit_grammar.EditError`)
has strings of its own, ``err.edit.<code>``, as it words the same codes differently, and so has a
quota refusal (:class:`bot.quota.policy.QuotaRefused`), ``err.quota.<code>``. An admin's bad quota
setting (:class:`bot.quota.policy.QuotaSettingError`) reads ``err.<code>`` (its codes start ``quota_``).
"""

from __future__ import annotations

import re
import string
from typing import Any

# bot.domain.edit_grammar imports only the core (bot.domain.shot_grammar, bot.domain.storyboard), never this module; nor does
# bot.quota.policy (the core, the config and the store).
from bot.domain.edit_grammar import EditError
from bot.domain.errors import UserError
from bot.quota.policy import SETTINGS_HELP, QuotaRefused, QuotaSettingError

LANGS = ("en", "zh")

STRINGS: dict[str, dict[str, str]] = {
    # -- commands (names stay English; descriptions are localized) ---------------------------
    "cmd.storyboard": {
        "en": "Make a short video from an image and a list of shots",
        "zh": "用一张图片和一组分镜生成短视频",
    },
    "cmd.storyboard.image": {
        "en": "The reference image (png, jpeg, webp...)",
        "zh": "参考图片（png、jpeg、webp 等）",
    },
    "cmd.storyboard.shots": {
        "en": "Shots separated by ; e.g. 7.5 | a kitten; 7.5 | it smiles (leave empty for a form)",
        "zh": "用 ; 分隔的分镜，例如 7.5 | 小猫; 7.5 | 它笑了（留空则打开表单）",
    },
    "cmd.storyboard.length": {"en": "Video length in seconds", "zh": "视频时长（秒）"},
    "cmd.storyboard.aspect": {
        "en": "Landscape or portrait (default: like the image)",
        "zh": "横屏或竖屏（默认跟随图片）",
    },
    "cmd.status": {"en": "Your recent storyboard videos", "zh": "你最近的分镜视频"},
    "cmd.usage": {"en": "What you have left today and this month", "zh": "你今天和本月的剩余额度"},
    "usage.title": {"en": "Your storyboard videos here", "zh": "你在这里的分镜视频额度"},
    "usage.owner": {
        "en": "You are one of the bot's owners: no limits apply.",
        "zh": "你是机器人的所有者：不受任何限制。",
    },
    "usage.today": {
        "en": "Today: {used} of {limit} videos (resets <t:{reset}:R>)",
        "zh": "今天：已用 {used}/{limit} 个视频（<t:{reset}:R>重置）",
    },
    "usage.running": {
        "en": "Running now: {running} of {limit}",
        "zh": "正在生成：{running}/{limit}",
    },
    "usage.month": {
        "en": "This month: {videos} videos, {credits} credits (resets <t:{reset}:R>)",
        "zh": "本月：{videos} 个视频，{credits} 积分（<t:{reset}:R>重置）",
    },
    "usage.guild_budget": {
        "en": "This server this month: {used} of {budget} credits",
        "zh": "本服务器本月：已用 {used}/{budget} 积分",
    },
    "usage.unlimited": {"en": "unlimited", "zh": "不限"},
    "usage.ok": {"en": "✅ You can generate now.", "zh": "✅ 你现在可以生成。"},
    "usage.blocked": {"en": "⛔ {reason}", "zh": "⛔ {reason}"},
    "cmd.help": {"en": "How to write shots, with examples", "zh": "如何编写分镜（含示例）"},
    "aspect.landscape": {"en": "Landscape", "zh": "横屏"},
    "aspect.portrait": {"en": "Portrait", "zh": "竖屏"},
    # -- the draft card -------------------------------------------------------------------------
    "card.title": {
        "en": "Storyboard · {shots} shots · {length} s",
        "zh": "分镜 · {shots} 个镜头 · {length} 秒",
    },
    "card.auto": {"en": "(auto)", "zh": "（自动）"},
    "card.timeline": {"en": "Timeline", "zh": "时间线"},
    "card.aspect": {"en": "Aspect", "zh": "画幅"},
    "card.model": {"en": "Model", "zh": "模型"},
    "card.cost": {"en": "Estimated cost", "zh": "预计费用"},
    "card.cost_value": {"en": "{credits} credits (≈ ${usd})", "zh": "{credits} 积分（约 ${usd}）"},
    "card.author": {"en": "Author", "zh": "作者"},
    "card.footer": {
        "en": "Draft {draft} · revision {revision}",
        "zh": "草稿 {draft} · 第 {revision} 版",
    },
    "card.thread_hint": {
        "en": "Refine it in the thread (`#2 new scene`, `+ 4s | scene`, `undo`, `go`) or with "
        "the buttons.",
        "zh": "在子区中修改（`#2 新场景`、`+ 4s | 场景`、`undo`、`go`），或使用按钮。",
    },
    "card.no_thread": {
        "en": "No thread here: the buttons edit this draft.",
        "zh": "这里无法创建子区：请用按钮修改草稿。",
    },
    "card.discarded": {"en": "Discarded by {user}.", "zh": "已被 {user} 丢弃。"},
    "card.image_removed": {
        "en": "The reference image has been removed (retention policy); run /storyboard again.",
        "zh": "参考图片已按保留策略删除；请重新运行 /storyboard。",
    },
    "card.can_generate": {"en": "✅ {user} can generate now.", "zh": "✅ {user} 现在可以生成。"},
    "card.blocked": {"en": "⛔ Not now: {reason}", "zh": "⛔ 暂时不能生成：{reason}"},
    "log.refused": {
        "en": "⛔ {user} was refused a video: {reason}",
        "zh": "⛔ {user} 的视频请求被拒绝：{reason}",
    },
    "log.ended": {
        "en": "❌ Job {job} of {user} ended ({state}): {reason}",
        "zh": "❌ {user} 的任务 {job} 已结束（{state}）：{reason}",
    },
    "dm.low_balance": {
        "en": "The kie.ai credit balance is {credits}, under the warning level of {threshold}. Top it up at https://kie.ai before videos start failing.",
        "zh": "kie.ai 积分余额为 {credits}，低于预警值 {threshold}。请在视频开始失败前到 https://kie.ai 充值。",
    },
    "thread.name": {"en": "Storyboard {draft}", "zh": "分镜 {draft}"},
    "thread.intro": {
        "en": "**Refine this storyboard here.** Send edit lines and the card above updates; "
        "every edit is a new revision.\n{grammar}",
        "zh": "**在这里修改分镜。** 发送编辑指令，上方的卡片会随之更新；每次修改都是一个新版本。\n"
        "{grammar}",
    },
    "thread.grammar": {
        "en": "`#3 new scene` replace shot 3's scene · `#3 4.5 | scene` replace shot 3 · "
        "`#3 = 5s` set its duration (`= auto`: share the time left)\n"
        "`+ scene` or `+ 4s | scene` add a shot at the end · `+#2 4s | scene` insert it as "
        "shot 2\n"
        "`-#3` delete shot 3 · `move #3 #1` · `swap #1 #2` · `length 25` · `aspect portrait`\n"
        "`shots:` and one shot per line on the next lines: replace the whole list\n"
        "An image on its own replaces the reference image.\n"
        "On their own: `undo` · `show` · `generate` (or `go`) · `add @user` / `remove @user` "
        "(who else may edit)\n"
        "Several lines in one message are one edit. Anything else is conversation. The card's "
        "buttons do all of this too.",
        "zh": "`#3 新场景` 替换第 3 个镜头的场景 · `#3 4.5 | 场景` 替换第 3 个镜头 · "
        "`#3 = 5秒` 设置时长（`= auto`：平分剩余时长）\n"
        "`+ 场景` 或 `+ 4秒 | 场景` 在末尾添加镜头 · `+#2 4秒 | 场景` 插入为第 2 个镜头\n"
        "`-#3` 删除第 3 个镜头 · `move #3 #1` · `swap #1 #2` · `length 25` · "
        "`aspect portrait`\n"
        "`shots:` 后面每行一个镜头：替换整个列表\n"
        "单独发送一张图片可替换参考图。\n"
        "单独发送：`undo` · `show` · `generate`（或 `go`）· `add @用户` / `remove @用户`"
        "（允许谁编辑）\n"
        "一条消息中的多行是一次修改。其他内容视为聊天。卡片上的按钮也能完成这些操作。",
    },
    "thread.degraded": {
        "en": "ℹ️ I can't read plain messages here (Discord's Message Content intent is off for "
        "this bot). Reply to the card or to my messages with the ping on, or mention me, and "
        "I'll read the edit; the card's buttons work too.",
        "zh": "ℹ️ 我无法读取这里的普通消息（此机器人未开启 Discord 的 Message Content 权限）。"
        "请回复卡片或我的消息并开启提及，或直接 @我，我就能读取修改；卡片上的按钮同样可用。",
    },
    "thread.discarded": {
        "en": "This draft was discarded, so it can't be edited or generated any more. Start a "
        "new one with `/storyboard`.",
        "zh": "此草稿已丢弃，无法再修改或生成。请用 `/storyboard` 新建一个。",
    },
    "thread.not_editor": {
        "en": "Only {author}, members with Manage Messages and members the author adds "
        "(`add @user`) can edit this storyboard. Nothing was changed.",
        "zh": "只有 {author}、拥有“管理消息”权限的成员以及作者添加的成员（`add @用户`）"
        "可以编辑此分镜。未做任何更改。",
    },
    "editors.only_author": {
        "en": "Only {author} (or someone with Manage Messages) can choose who edits this "
        "storyboard.",
        "zh": "只有 {author}（或拥有“管理消息”权限的成员）可以决定谁能编辑此分镜。",
    },
    "editors.added": {
        "en": "{user} can now edit this storyboard.",
        "zh": "{user} 现在可以编辑此分镜。",
    },
    "editors.already": {"en": "{user} could already edit it.", "zh": "{user} 已经可以编辑。"},
    "editors.is_author": {
        "en": "{user} is the author and can always edit it.",
        "zh": "{user} 是作者，始终可以编辑。",
    },
    "editors.removed": {
        "en": "{user} can no longer edit this storyboard.",
        "zh": "{user} 不能再编辑此分镜。",
    },
    "editors.not_added": {
        "en": "{user} was not on the list of added editors.",
        "zh": "{user} 不在已添加的编辑者名单中。",
    },
    "edit.accepted": {"en": "✅ Revision {revision}.", "zh": "✅ 第 {revision} 版。"},
    "edit.resplit": {
        "en": "✅ Revision {revision}. The automatic shots now share the time left: {shots}.",
        "zh": "✅ 第 {revision} 版。自动时长的镜头重新平分了剩余时长：{shots}。",
    },
    "edit.undone": {
        "en": "↩️ Undid revision {undone} (`{note}`); the storyboard is now revision {revision}.",
        "zh": "↩️ 已撤销第 {undone} 版（`{note}`）；分镜现为第 {revision} 版。",
    },
    "edit.image_replaced": {
        "en": "🖼️ New reference image (revision {revision}); the next video starts from it.",
        "zh": "🖼️ 已更换参考图（第 {revision} 版）；下一个视频将以它为起点。",
    },
    "edit.nothing": {"en": "Nothing changed.", "zh": "没有任何更改。"},
    "edit.card_stale": {
        "en": "That shot is no longer on the storyboard; the card has been redrawn.",
        "zh": "该镜头已不在分镜中；卡片已刷新。",
    },
    # -- buttons and modals ---------------------------------------------------------------------
    "button.generate": {"en": "Generate", "zh": "生成"},
    "button.edit": {"en": "Edit", "zh": "编辑"},
    "button.discard": {"en": "Discard", "zh": "丢弃"},
    "button.regenerate": {"en": "Regenerate", "zh": "重新生成"},
    "button.delete": {"en": "Delete", "zh": "删除"},
    "button.download": {"en": "Download", "zh": "下载"},
    "button.cancel": {"en": "Cancel", "zh": "取消"},
    "button.add_shot": {"en": "Add shot", "zh": "添加镜头"},
    "button.undo": {"en": "Undo", "zh": "撤销"},
    "button.settings": {"en": "Length, aspect, image", "zh": "时长、画幅、图片"},
    "select.shot": {"en": "Edit, move or delete one shot…", "zh": "编辑、移动或删除一个镜头…"},
    "modal.shot.title": {"en": "Shot {shot}", "zh": "第 {shot} 个镜头"},
    "modal.add.title": {"en": "New shot", "zh": "新镜头"},
    "modal.settings.title": {"en": "Storyboard settings", "zh": "分镜设置"},
    "modal.scene": {"en": "Scene", "zh": "场景"},
    "modal.duration": {"en": "Duration (seconds)", "zh": "时长（秒）"},
    "modal.duration.description": {
        "en": "Leave it empty to share the time left with the other automatic shots.",
        "zh": "留空则与其他自动时长的镜头平分剩余时长。",
    },
    "modal.duration.placeholder": {"en": "e.g. 4.5", "zh": "例如 4.5"},
    "modal.position": {"en": "Position", "zh": "位置"},
    "modal.delete": {"en": "Delete this shot", "zh": "删除此镜头"},
    "modal.length": {"en": "Video length", "zh": "视频时长"},
    "modal.aspect": {"en": "Aspect", "zh": "画幅"},
    "modal.image": {"en": "New reference image (optional)", "zh": "新参考图（可选）"},
    "modal.image.description": {
        "en": "JPEG, PNG or WebP; other images are converted.",
        "zh": "JPEG、PNG 或 WebP；其他格式会被转换。",
    },
    "button.fix": {"en": "Fix", "zh": "修改"},
    "modal.title": {"en": "Storyboard shots", "zh": "分镜"},
    "modal.label": {"en": "Shots, one per line", "zh": "分镜，每行一个"},
    "modal.description": {
        "en": "7.5 | scene, or a scene alone to share the time evenly",
        "zh": "7.5 | 场景；只写场景则平分时长",
    },
    "modal.example": {
        "en": "7.5 | A fluffy orange kitten with headphones, warm light\n"
        "7.5 | The kitten licks its lips, content",
        "zh": "7.5 | 一只戴着耳机的橘色小猫，温暖的灯光\n7.5 | 小猫满足地舔着嘴唇",
    },
    # -- answers ----------------------------------------------------------------------------
    "draft.created": {
        "en": "Your storyboard draft is ready: {link}",
        "zh": "分镜草稿已创建：{link}",
    },
    "draft.image_note": {"en": "Note: {summary}", "zh": "注意：{summary}"},
    "draft.updated": {"en": "Updated to revision {revision}.", "zh": "已更新为第 {revision} 版。"},
    "draft.discarded": {"en": "Draft discarded.", "zh": "草稿已丢弃。"},
    "generate.started": {"en": "Started: {link}", "zh": "已开始：{link}"},
    "thread.started": {
        "en": "🎬 Generating revision {revision}; the status and the video will be in the channel: "
        "{link}",
        "zh": "🎬 正在生成第 {revision} 版；状态和视频将发在频道中：{link}",
    },
    "cancel.done": {"en": "Cancelled. Nothing was spent.", "zh": "已取消，未产生费用。"},
    "cancel.too_late": {
        "en": "kie.ai has already accepted this job; it cannot be cancelled there.",
        "zh": "kie.ai 已接受此任务，无法在那里取消。",
    },
    "delete.done": {"en": "Deleted.", "zh": "已删除。"},
    "download.link": {
        "en": "Here is a fresh link, valid for 20 minutes: {url}",
        "zh": "这是新的下载链接，20 分钟内有效：{url}",
    },
    "download.failed": {
        "en": "kie.ai could not give a download link: {reason}",
        "zh": "kie.ai 无法提供下载链接：{reason}",
    },
    "error.not_editor": {
        "en": "Only {author}, members with Manage Messages and members the author added can "
        "edit this storyboard.",
        "zh": "只有 {author}、拥有“管理消息”权限的成员以及作者添加的成员可以编辑此分镜。",
    },
    "error.not_author": {
        "en": "Only the author of this storyboard (or someone with Manage Messages) can do that.",
        "zh": "只有此分镜的作者（或拥有“管理消息”权限的成员）可以这样做。",
    },
    "error.busy": {
        "en": "You already have a video being made here; wait for it to finish.",
        "zh": "你在这里已有一个视频正在生成，请等待完成。",
    },
    "error.draft_gone": {"en": "This storyboard no longer exists.", "zh": "此分镜已不存在。"},
    "error.draft_discarded": {"en": "This storyboard was discarded.", "zh": "此分镜已被丢弃。"},
    "error.job_gone": {"en": "That job no longer exists.", "zh": "该任务已不存在。"},
    "error.image_gone": {
        "en": "The reference image has been removed (retention policy); run /storyboard again.",
        "zh": "参考图片已按保留策略删除；请重新运行 /storyboard。",
    },
    "error.not_image": {
        "en": "That attachment is not an image ({kind}). Attach a png, jpeg or webp picture.",
        "zh": "该附件不是图片（{kind}）。请附上 png、jpeg 或 webp 图片。",
    },
    "error.image_too_large": {
        "en": "That image is {size} MB; the largest accepted is {max} MB.",
        "zh": "图片大小为 {size} MB，最大允许 {max} MB。",
    },
    "error.image": {"en": "The image was refused: {reason}", "zh": "图片被拒绝：{reason}"},
    "error.missing_permissions": {
        "en": "I can't work in this channel: I'm missing {perms}. Ask an admin to grant them.",
        "zh": "我无法在此频道工作：缺少 {perms} 权限。请联系管理员授予。",
    },
    "error.guild_only": {
        "en": "This command works in servers only.",
        "zh": "此命令只能在服务器中使用。",
    },
    "error.unexpected": {
        "en": "Something went wrong on our side; nothing was spent. Please try again.",
        "zh": "出了点问题，未产生费用。请重试。",
    },
    # -- stored files (bot.storage.retention): what a member may keep, and the card's copy of an image
    "storage.user_drafts": {
        "en": "You have {count} active drafts in this server and the limit is {limit}: discard "
        "one you no longer need (the Discard button on its card) and try again. Drafts left "
        "unchanged for {days} days stop counting.{drafts}",
        "zh": "你在本服务器有 {count} 个进行中的草稿，上限为 {limit} 个：请丢弃一个不再需要的"
        "草稿（卡片上的“丢弃”按钮）后再试。{days} 天未修改的草稿不再计入。{drafts}",
    },
    "storage.user_storage": {
        "en": "Your images and videos in this server take {used} MB and this image needs {need} "
        "MB more; the limit is {limit} MB a member. Discard drafts you no longer need (their "
        "images are removed then) or wait: stored files are removed after {days} days.",
        "zh": "你在本服务器存储的图片和视频共 {used} MB，这张图片还需要 {need} MB；每位成员的"
        "上限为 {limit} MB。请丢弃不再需要的草稿（其图片随之删除），或等待：存储的文件会在 "
        "{days} 天后删除。",
    },
    "storage.disk_full": {
        "en": "The bot's disk is nearly full ({free} MB free; it keeps at least {min} MB free), "
        "so no new drafts or images can be stored right now. Please try again later.",
        "zh": "机器人的磁盘快满了（剩余 {free} MB，至少需保留 {min} MB），暂时无法存储新的草稿"
        "或图片。请稍后再试。",
    },
    "storage.card_image": {
        "en": "The image is {size} MB, over this server's upload limit of {limit} MB, and could "
        "not be made small enough to show on the draft card: {reason} No draft was made; send "
        "a smaller image.",
        "zh": "图片大小为 {size} MB，超过本服务器 {limit} MB 的上传限制，且无法缩小到可以显示"
        "在草稿卡片上：{reason} 草稿未创建；请发送更小的图片。",
    },
    "storage.card_failed": {
        "en": "Discord refused to post the draft card here (HTTP {status}), so no draft was kept "
        "and nothing was spent. Please try again.",
        "zh": "Discord 拒绝在这里发布草稿卡片（HTTP {status}），因此没有保留草稿，也未产生费用。"
        "请重试。",
    },
    "error.invalid": {"en": "{error}", "zh": "{error}"},
    "error.fix_hint": {
        "en": "Press **Fix** to edit what you typed.",
        "zh": "点击**修改**以编辑你输入的内容。",
    },
    # -- the status message ---------------------------------------------------------------------
    "status.queued": {"en": "⏳ Queued, started {started}", "zh": "⏳ 排队中，开始于 {started}"},
    "status.queued_position": {
        "en": "⏳ Queued: position {position} (the bot sends at most 20 jobs per 10 s to kie.ai), "
        "started {started}. You can still cancel.",
        "zh": "⏳ 排队中：第 {position} 位（每 10 秒最多向 kie.ai 提交 20 个任务），开始于 {started}。"
        "仍可取消。",
    },
    "status.kie.waiting": {
        "en": "📨 Sent to kie.ai, waiting to start (started {started})",
        "zh": "📨 已提交到 kie.ai，等待开始（开始于 {started}）",
    },
    "status.kie.queuing": {
        "en": "🕒 In kie.ai's queue (started {started})",
        "zh": "🕒 在 kie.ai 的队列中（开始于 {started}）",
    },
    "status.kie.generating": {
        "en": "🎬 Generating (started {started})",
        "zh": "🎬 生成中（开始于 {started}）",
    },
    "status.kie.success": {"en": "🎬 Finishing", "zh": "🎬 即将完成"},
    "status.kie.fail": {"en": "❌ Failed", "zh": "❌ 失败"},
    "status.fetching": {
        "en": "📥 Done at kie.ai, fetching the video",
        "zh": "📥 kie.ai 已完成，正在获取视频",
    },
    "status.done": {"en": "✅ Done.", "zh": "✅ 完成。"},
    "status.posting": {"en": "📤 Posting the video", "zh": "📤 正在发布视频"},
    "status.unknown": {
        "en": "⚠️ {reason}. It was not sent again, so you are not charged twice; "
        "check kie.ai before trying again.",
        "zh": "⚠️ {reason}。任务没有被重复提交，不会重复扣费；重试前请先在 kie.ai 查看。",
    },
    "status.cancelled": {"en": "🚫 Cancelled before it was sent.", "zh": "🚫 已在提交前取消。"},
    "status.refused": {"en": "❌ Not sent: {reason}.", "zh": "❌ 未提交：{reason}。"},
    "status.failed": {"en": "❌ The generation failed: {reason}.", "zh": "❌ 生成失败：{reason}。"},
    "status.expired": {"en": "⌛ Gave up: {reason}.", "zh": "⌛ 已放弃：{reason}。"},
    "status.undeliverable": {
        "en": "⚠️ The video was made but could not be posted: {reason}.",
        "zh": "⚠️ 视频已生成但无法发布：{reason}。",
    },
    "status.not_counted": {"en": "Nothing was spent.", "zh": "未产生费用。"},
    "status.counted": {
        "en": "This counted against your quota.",
        "zh": "此次已计入你的配额。",
    },
    "status.failed_not_counted": {
        "en": "This did not count against your quota.",
        "zh": "此次不计入你的配额。",
    },
    "status.footer": {"en": "job {job} · {model}", "zh": "任务 {job} · {model}"},
    "status.fallback": {
        "en": "ℹ️ {primary} is unavailable at kie.ai; using {fallback} instead ({credits} credits).",
        "zh": "ℹ️ kie.ai 上的 {primary} 暂不可用；改用 {fallback}（{credits} 积分）。",
    },
    "status.unreachable": {
        "en": "⚠️ kie.ai ({host}) cannot be reached right now; the bot keeps trying until "
        "{until}, then gives up. Nothing has been charged.",
        "zh": "⚠️ 暂时无法连接 kie.ai（{host}）；机器人会一直重试到 {until}，之后放弃。"
        "目前没有产生任何费用。",
    },
    # -- why a job ended (bot.jobs.reasons): a clause for the status lines above --------------------
    "reason.cancelled": {"en": "cancelled", "zh": "已取消"},
    "reason.deadline_queued": {
        "en": "the job waited too long to be sent to kie.ai",
        "zh": "任务等待提交到 kie.ai 的时间过长",
    },
    "reason.image": {
        "en": "the reference image could not be prepared for kie.ai",
        "zh": "参考图片无法按 kie.ai 的要求处理",
    },
    "reason.invalid_request": {
        "en": "kie.ai refused the request as invalid; the bot's operator can see kie.ai's "
        "answer in the log",
        "zh": "kie.ai 认为请求无效并拒绝了它；机器人管理者可以在日志中看到 kie.ai 的回复",
    },
    "reason.model_unavailable": {
        "en": "kie.ai does not offer {model} right now, and no other model is configured",
        "zh": "kie.ai 目前不提供 {model}，也没有配置其他模型",
    },
    "reason.model_unavailable_misfit": {
        "en": "kie.ai does not offer {model} right now, and the other model, {fallback}, "
        "cannot make this storyboard",
        "zh": "kie.ai 目前不提供 {model}，而备用模型 {fallback} 无法生成这个分镜",
    },
    "reason.models_unavailable": {
        "en": "kie.ai does not offer {model} or the other model, {fallback}, right now; try "
        "again later",
        "zh": "kie.ai 目前既不提供 {model}，也不提供备用模型 {fallback}；请稍后再试",
    },
    "reason.fallback_refused": {
        "en": "kie.ai does not offer {model} right now, and this server's rules do not allow "
        "the other model, {fallback}: {rule}",
        "zh": "kie.ai 目前不提供 {model}，而本服务器的规则不允许改用 {fallback}：{rule}",
    },
    "reason.out_of_credits": {
        "en": "the bot's kie.ai account is out of credits; its operator has to top it up",
        "zh": "机器人的 kie.ai 账户积分不足，需要管理者充值",
    },
    "reason.kie_auth": {
        "en": "kie.ai refused the bot's API key; its operator has to check it",
        "zh": "kie.ai 拒绝了机器人的 API 密钥，需要管理者检查",
    },
    "reason.key_limit": {
        "en": "the bot's kie.ai key reached its usage limit",
        "zh": "机器人的 kie.ai 密钥已达到用量上限",
    },
    "reason.kie_blocked": {
        "en": "kie.ai's network refused the bot's request",
        "zh": "kie.ai 的网络拒绝了机器人的请求",
    },
    "reason.rate_limited": {
        "en": "kie.ai is too busy with this bot's requests; try again in a minute",
        "zh": "kie.ai 正忙于处理本机器人的请求，请一分钟后再试",
    },
    "reason.maintenance": {
        "en": "kie.ai is under maintenance; try again later",
        "zh": "kie.ai 正在维护，请稍后再试",
    },
    "reason.unreachable": {
        "en": "kie.ai ({host}) could not be reached",
        "zh": "无法连接 kie.ai（{host}）",
    },
    "reason.kie_error": {
        "en": "kie.ai refused the request",
        "zh": "kie.ai 拒绝了请求",
    },
    "reason.content_policy": {
        "en": "kie.ai's content rules refused to make this video; try other scenes or another "
        "image",
        "zh": "kie.ai 的内容规则拒绝生成这个视频；请换用其他镜头描述或图片",
    },
    "reason.people_in_image": {
        "en": "kie.ai does not accept reference images with photorealistic people; try another "
        "image",
        "zh": "kie.ai 不接受包含写实人物的参考图片；请换一张图片",
    },
    "reason.generation_failed": {
        "en": "kie.ai could not make this video",
        "zh": "kie.ai 无法生成这个视频",
    },
    "reason.no_result": {
        "en": "kie.ai reported success without a video",
        "zh": "kie.ai 报告成功，但没有返回视频",
    },
    "reason.deadline": {
        "en": "kie.ai did not finish within {minutes} minutes",
        "zh": "kie.ai 没有在 {minutes} 分钟内完成",
    },
    "reason.unknown": {
        "en": "kie.ai did not confirm the job; it may or may not have been accepted",
        "zh": "kie.ai 没有确认这个任务；它可能已被接受，也可能没有",
    },
    "reason.unknown_stopped": {
        "en": "the bot stopped while sending the job to kie.ai; it may or may not have been "
        "accepted",
        "zh": "机器人在向 kie.ai 提交任务时停止了；任务可能已被接受，也可能没有",
    },
    "reason.unknown_deadline": {
        "en": "kie.ai never confirmed the job; check kie.ai before trying again",
        "zh": "kie.ai 始终没有确认这个任务；重试前请先在 kie.ai 查看",
    },
    "reason.unknown_no_callback": {
        "en": "kie.ai did not confirm the job, and without callbacks the bot cannot find out "
        "whether kie.ai made it; it was not sent again. Check kie.ai before trying again",
        "zh": "kie.ai 没有确认这个任务，而在未启用回调时机器人无法得知 kie.ai 是否已生成；"
        "任务没有被重复提交。重试前请先在 kie.ai 查看",
    },
    "reason.download": {
        "en": "the video was made but could not be downloaded from kie.ai",
        "zh": "视频已生成，但无法从 kie.ai 下载",
    },
    "reason.undeliverable": {
        "en": "the bot may not post there any more, or the channel is gone",
        "zh": "机器人已无权在该频道发布，或频道已不存在",
    },
    "reason.other": {"en": "something went wrong", "zh": "出现了问题"},
    # -- results --------------------------------------------------------------------------------
    "result.ready": {
        "en": "{mention} your video is ready ({shots} shots, {length} s).",
        "zh": "{mention} 你的视频已完成（{shots} 个镜头，{length} 秒）。",
    },
    "result.too_large_link": {
        "en": "The video ({size} MB) is larger than this server's upload limit ({limit} MB): {url}",
        "zh": "视频（{size} MB）超过了本服务器的上传限制（{limit} MB）：{url}",
    },
    "result.too_large_button": {
        "en": "The video ({size} MB) is larger than this server's upload limit ({limit} MB). "
        "Press **Download** for a private link (valid 20 minutes each time).",
        "zh": "视频（{size} MB）超过了本服务器的上传限制（{limit} MB）。"
        "点击**下载**获取私人链接（每次 20 分钟内有效）。",
    },
    "result.from": {
        "en": "made from draft {draft}, revision {revision}",
        "zh": "由草稿 {draft} 第 {revision} 版生成",
    },
    "result.file_removed": {
        "en": "The stored video has been removed (retention policy).",
        "zh": "存储的视频已按保留策略删除。",
    },
    "dm.undeliverable": {
        "en": "Your storyboard video (job {job}) was made but I could not post it in the channel: "
        "{reason}.",
        "zh": "你的分镜视频（任务 {job}）已生成，但无法在频道中发布：{reason}。",
    },
    # -- job states (status lists) -------------------------------------------------------------
    "state.queued": {"en": "queued", "zh": "排队中"},
    "state.submitting": {"en": "sending", "zh": "提交中"},
    "state.running": {"en": "running", "zh": "生成中"},
    "state.succeeded": {"en": "finishing", "zh": "即将完成"},
    "state.fetched": {"en": "fetched", "zh": "已获取"},
    "state.posting": {"en": "posting", "zh": "发布中"},
    "state.delivered": {"en": "✅ done", "zh": "✅ 完成"},
    "state.failed": {"en": "❌ failed", "zh": "❌ 失败"},
    "state.refused": {"en": "❌ not sent", "zh": "❌ 未提交"},
    "state.unknown": {"en": "⚠️ unconfirmed", "zh": "⚠️ 未确认"},
    "state.expired": {"en": "⌛ gave up", "zh": "⌛ 已放弃"},
    "state.cancelled": {"en": "🚫 cancelled", "zh": "🚫 已取消"},
    "state.undeliverable": {"en": "⚠️ not posted", "zh": "⚠️ 未发布"},
    "status.list_title": {"en": "Your recent videos here", "zh": "你在这里最近的视频"},
    "status.list_empty": {
        "en": "You have no storyboard videos here yet. Try /storyboard.",
        "zh": "你在这里还没有分镜视频。试试 /storyboard。",
    },
    # -- help -----------------------------------------------------------------------------------
    "help.title": {"en": "Writing shots", "zh": "如何编写分镜"},
    "help.thread": {
        "en": "Refining a draft in its thread",
        "zh": "在子区中修改草稿",
    },
    "help.body": {
        "en": "Run `/storyboard` with an image. Write one shot per line in the form, or "
        "separate shots with `;` in the `shots` option.\n\n"
        "**A shot:** `[DURATION[s|秒] |] SCENE`\n"
        "```\n7.5 | A fluffy orange kitten with headphones\n7.5s | The kitten licks its lips\n"
        "7.5秒｜同一只小猫舔着嘴唇\nA scene without a duration\n```\n"
        "Shots without a duration share the time left evenly. Durations are in tenths of a "
        "second. Full-width forms (`｜`, `；`, full-width digits) work too.\n\n"
        "**Limits:** {limits}",
        "zh": "使用 `/storyboard` 并附上一张图片。在表单中每行写一个分镜，或在 `shots` "
        "选项中用 `;` 分隔。\n\n"
        "**分镜格式：** `[时长[s|秒] |] 场景`\n"
        "```\n7.5 | 一只戴耳机的橘色小猫\n7.5s | 小猫舔着嘴唇\n7.5秒｜同一只小猫舔着嘴唇\n"
        "没有时长的场景\n```\n"
        "没有写时长的分镜会平分剩余时长。时长精确到 0.1 秒。全角符号（`｜`、`；`、全角数字）"
        "同样可用。\n\n**限制：** {limits}",
    },
    "help.limits": {
        "en": "{model}: 1-{shots} shots, each {min}-{max} s, total at most {lengths}",
        "zh": "{model}：1-{shots} 个镜头，每个 {min}-{max} 秒，总时长不超过 {lengths}",
    },
    # -- /storyboard-admin ----------------------------------------------------------------------
    "admin.cmd.group": {
        "en": "Storyboard bot settings for this server (admins)",
        "zh": "本服务器的分镜机器人设置（管理员）",
    },
    "admin.cmd.quota": {"en": "Quota settings", "zh": "配额设置"},
    "admin.cmd.quota.show": {
        "en": "Every quota setting and the latest changes",
        "zh": "查看所有配额设置和最近的更改",
    },
    "admin.cmd.quota.set": {"en": "Change one quota setting", "zh": "修改一项配额设置"},
    "admin.cmd.quota.set.setting": {"en": "The setting to change", "zh": "要修改的设置"},
    "admin.cmd.quota.set.value": {
        "en": "The new value, e.g. 3, none, true, 10,15",
        "zh": "新的值，例如 3、none、true、10,15",
    },
    "admin.cmd.quota.reset": {
        "en": "Put this server's settings back to the defaults",
        "zh": "将本服务器的设置恢复为默认值",
    },
    "admin.cmd.quota.reset.setting": {
        "en": "Only this setting (default: all of them)",
        "zh": "只恢复这一项（默认：全部）",
    },
    "admin.cmd.channels": {
        "en": "Channels where members may generate videos",
        "zh": "允许成员生成视频的频道",
    },
    "admin.cmd.channels.add": {"en": "Allow videos in a channel", "zh": "允许在某个频道生成视频"},
    "admin.cmd.channels.remove": {
        "en": "Remove a channel from the allowed list",
        "zh": "从允许列表中移除频道",
    },
    "admin.cmd.channels.list": {"en": "The allowed channels", "zh": "查看允许的频道"},
    "admin.cmd.channels.channel": {"en": "The channel", "zh": "频道"},
    "admin.cmd.roles": {
        "en": "Roles allowed to generate videos",
        "zh": "允许生成视频的身份组",
    },
    "admin.cmd.roles.add": {
        "en": "Allow a role to generate videos",
        "zh": "允许某个身份组生成视频",
    },
    "admin.cmd.roles.remove": {
        "en": "Remove a role from the allowed list",
        "zh": "从允许列表中移除身份组",
    },
    "admin.cmd.roles.list": {"en": "The allowed roles", "zh": "查看允许的身份组"},
    "admin.cmd.roles.role": {"en": "The role", "zh": "身份组"},
    "admin.cmd.usage": {
        "en": "Videos and credits used in this server",
        "zh": "本服务器使用的视频和积分",
    },
    "admin.cmd.usage.days": {
        "en": "How many days back, today included (default 30)",
        "zh": "统计最近多少天，含今天（默认 30）",
    },
    "admin.cmd.pause": {
        "en": "Bot owners: pause all new videos in every server",
        "zh": "机器人所有者：暂停所有服务器的新视频",
    },
    "admin.cmd.resume": {
        "en": "Bot owners: allow new videos again",
        "zh": "机器人所有者：恢复生成新视频",
    },
    "admin.denied": {
        "en": "You need the Manage Server permission to use the storyboard bot's admin commands.",
        "zh": "你需要“管理服务器”权限才能使用分镜机器人的管理命令。",
    },
    "admin.owner_only": {
        "en": "Only the bot's owners can pause or resume new videos: it applies to every server.",
        "zh": "只有机器人的所有者可以暂停或恢复新视频：这会影响所有服务器。",
    },
    "admin.show.title": {"en": "Storyboard settings in {guild}", "zh": "{guild} 的分镜设置"},
    "admin.show.overridden": {"en": "set here", "zh": "本服务器设置"},
    "admin.show.default": {"en": "default", "zh": "默认"},
    "admin.show.paused": {
        "en": "The bot's owners have paused all new videos for now.",
        "zh": "机器人的所有者已暂停所有新视频。",
    },
    "admin.show.policy": {"en": "What counts", "zh": "计费规则"},
    "admin.show.changes": {"en": "Latest changes", "zh": "最近的更改"},
    "admin.show.no_changes": {"en": "No changes yet.", "zh": "还没有更改。"},
    "admin.show.change": {
        "en": "{when} {user} `{setting}`: {old} → {new}",
        "zh": "{when} {user} `{setting}`：{old} → {new}",
    },
    "admin.release_policy": {
        "en": "A video that never reached kie.ai (refused, cancelled, rate-limited, model paused) "
        "is not counted. A video kie.ai failed counts only if failed_counts is on (default: off). "
        "A video whose submission outcome is unknown keeps its slot and counts until it is "
        "resolved.",
        "zh": "未到达 kie.ai 的视频（被拒绝、已取消、被限流、模型暂停）不计入。kie.ai 生成失败的视频"
        "只有在 failed_counts 开启时才计入（默认关闭）。提交结果未知的视频在确认之前占用名额并计入。",
    },
    "admin.value.none": {"en": "none", "zh": "无"},
    "admin.value.all": {"en": "all", "zh": "全部"},
    "admin.value.on": {"en": "on", "zh": "开启"},
    "admin.value.off": {"en": "off", "zh": "关闭"},
    "admin.set.done": {"en": "`{setting}`: {old} → {new}", "zh": "`{setting}`：{old} → {new}"},
    "admin.reset.done": {"en": "Back to the defaults:\n{lines}", "zh": "已恢复默认值：\n{lines}"},
    "admin.reset.nothing": {
        "en": "Nothing to reset: this server already uses the defaults.",
        "zh": "无需恢复：本服务器已在使用默认值。",
    },
    "admin.reset.not_overridden": {
        "en": "`{setting}` already uses the default ({value}).",
        "zh": "`{setting}` 已在使用默认值（{value}）。",
    },
    "admin.log.line": {
        "en": "⚙️ {user} changed `{setting}`: {old} → {new}",
        "zh": "⚙️ {user} 修改了 `{setting}`：{old} → {new}",
    },
    "admin.log.pause": {
        "en": "⏸️ {user} paused all new videos in every server.",
        "zh": "⏸️ {user} 暂停了所有服务器的新视频。",
    },
    "admin.log.resume": {
        "en": "▶️ {user} allowed new videos again.",
        "zh": "▶️ {user} 恢复了新视频的生成。",
    },
    "admin.channels.added": {
        "en": "{item} added. Videos can be generated in: {items}.",
        "zh": "已添加 {item}。可以生成视频的频道：{items}。",
    },
    "admin.channels.removed": {
        "en": "{item} removed. Videos can be generated in: {items}.",
        "zh": "已移除 {item}。可以生成视频的频道：{items}。",
    },
    "admin.channels.already": {"en": "{item} is already in the list.", "zh": "{item} 已在列表中。"},
    "admin.channels.absent": {"en": "{item} is not in the list.", "zh": "{item} 不在列表中。"},
    "admin.channels.list": {
        "en": "Videos can be generated in: {items}.",
        "zh": "可以生成视频的频道：{items}。",
    },
    "admin.channels.all": {"en": "every channel", "zh": "所有频道"},
    "admin.roles.added": {
        "en": "{item} added. Roles allowed to generate: {items}.",
        "zh": "已添加 {item}。允许生成视频的身份组：{items}。",
    },
    "admin.roles.removed": {
        "en": "{item} removed. Roles allowed to generate: {items}.",
        "zh": "已移除 {item}。允许生成视频的身份组：{items}。",
    },
    "admin.roles.already": {"en": "{item} is already in the list.", "zh": "{item} 已在列表中。"},
    "admin.roles.absent": {"en": "{item} is not in the list.", "zh": "{item} 不在列表中。"},
    "admin.roles.list": {
        "en": "Roles allowed to generate: {items}.",
        "zh": "允许生成视频的身份组：{items}。",
    },
    "admin.roles.all": {"en": "everyone", "zh": "所有人"},
    "admin.usage.title": {
        "en": "Videos in this server, last {days} days",
        "zh": "本服务器最近 {days} 天的视频",
    },
    "admin.usage.user": {"en": "{user}: {videos} videos", "zh": "{user}：{videos} 个视频"},
    "admin.usage.credits": {"en": ", {credits} credits", "zh": "，{credits} 积分"},
    "admin.usage.running": {"en": " ({running} running)", "zh": "（{running} 个生成中）"},
    "admin.usage.more": {"en": "… and {count} more", "zh": "……还有 {count} 人"},
    "admin.usage.none": {"en": "No videos in this period.", "zh": "这段时间没有视频。"},
    "admin.usage.totals": {"en": "Total", "zh": "合计"},
    "admin.usage.totals_value": {
        "en": "{videos} videos, {credits} credits since <t:{since}:d>",
        "zh": "自 <t:{since}:d> 起 {videos} 个视频，{credits} 积分",
    },
    "admin.usage.limits": {"en": "This server against its limits", "zh": "本服务器的限额使用情况"},
    "admin.usage.limits_value": {
        "en": "Today: {today} of {daily} videos\nRunning now: {running} of {concurrent}\n"
        "This month: {credits} of {budget} credits",
        "zh": "今天：{today}/{daily} 个视频\n正在生成：{running}/{concurrent}\n"
        "本月：{credits}/{budget} 积分",
    },
    "admin.usage.unlimited": {"en": "unlimited", "zh": "不限"},
    "admin.usage.balance": {"en": "kie.ai balance", "zh": "kie.ai 余额"},
    "admin.usage.balance_value": {"en": "{credits} credits", "zh": "{credits} 积分"},
    "admin.usage.balance_error": {
        "en": "Could not read the balance: {error}",
        "zh": "无法读取余额：{error}",
    },
    "admin.pause.done": {
        "en": "⏸️ New videos are paused in every server. Videos already running will finish.",
        "zh": "⏸️ 所有服务器的新视频已暂停。正在生成的视频会继续完成。",
    },
    "admin.resume.done": {
        "en": "▶️ New videos are allowed again.",
        "zh": "▶️ 已恢复生成新视频。",
    },
    "admin.setting.enabled": {
        "en": "whether members can generate videos in this server (true/false)",
        "zh": "本服务器的成员能否生成视频（true/false）",
    },
    "admin.setting.channels": {
        "en": "channels where members may generate (empty: all)",
        "zh": "允许生成视频的频道（留空：全部）",
    },
    "admin.setting.roles": {
        "en": "roles allowed to generate (empty: everyone)",
        "zh": "允许生成视频的身份组（留空：所有人）",
    },
    "admin.setting.user_daily": {
        "en": "videos per member per day (a number or none)",
        "zh": "每位成员每天的视频数（数字或 none）",
    },
    "admin.setting.user_concurrent": {
        "en": "videos per member running at once (a number or none)",
        "zh": "每位成员同时生成的视频数（数字或 none）",
    },
    "admin.setting.user_cooldown_seconds": {
        "en": "seconds a member waits between videos",
        "zh": "成员两次生成之间需等待的秒数",
    },
    "admin.setting.guild_daily": {
        "en": "videos per day for the whole server (a number or none)",
        "zh": "整个服务器每天的视频数（数字或 none）",
    },
    "admin.setting.guild_concurrent": {
        "en": "videos running at once in the server (a number or none)",
        "zh": "服务器内同时生成的视频数（数字或 none）",
    },
    "admin.setting.guild_monthly_credits": {
        "en": "kie.ai credits the server may spend per month (a number or none)",
        "zh": "服务器每月可用的 kie.ai 积分（数字或 none）",
    },
    "admin.setting.lengths": {
        "en": "allowed video lengths in seconds, e.g. 10,15 (empty: all)",
        "zh": "允许的视频时长（秒），例如 10,15（留空：全部）",
    },
    "admin.setting.aspects": {
        "en": "allowed aspects: landscape, portrait (empty: all)",
        "zh": "允许的画幅：landscape、portrait（留空：全部）",
    },
    "admin.setting.models": {"en": "allowed models (empty: all)", "zh": "允许的模型（留空：全部）"},
    "admin.setting.resolutions": {
        "en": "allowed resolutions of models that have them: 720p, 1080p, 4k (empty: all)",
        "zh": "允许的分辨率（适用于有此选项的模型）：720p、1080p、4k（留空：全部）",
    },
    "admin.setting.audio": {
        "en": "whether videos with audio (which cost more) are allowed (true/false)",
        "zh": "是否允许带音频的视频（费用更高）（true/false）",
    },
    "admin.setting.blocked_terms": {
        "en": "words or phrases refused in scenes, comma-separated",
        "zh": "场景中禁止的词语，用逗号分隔",
    },
    "admin.setting.log_channel": {
        "en": "channel for the admin log (or none)",
        "zh": "管理日志频道（或 none）",
    },
    "admin.setting.timezone": {
        "en": "IANA time zone of 'per day' and 'per month', e.g. Europe/Paris",
        "zh": "“每天”和“每月”所用的 IANA 时区，例如 Asia/Shanghai",
    },
    "admin.setting.failed_counts": {
        "en": "whether a video kie.ai failed counts against the limits (true/false)",
        "zh": "kie.ai 生成失败的视频是否计入限额（true/false）",
    },
    "admin.setting.user_daily_failures": {
        "en": "videos kie.ai failed a member may have per day (a number or none)",
        "zh": "每位成员每天允许 kie.ai 生成失败的视频数（数字或 none）",
    },
    "admin.setting.user_active_drafts": {
        "en": "drafts a member may have open at once (a number or none)",
        "zh": "每位成员同时可保留的草稿数（数字或 none）",
    },
    "admin.setting.user_storage_mb": {
        "en": "megabytes of images and videos a member may store (a number or none)",
        "zh": "每位成员可存储的图片和视频大小，单位 MB（数字或 none）",
    },
    # -- core errors, by code -------------------------------------------------------------------
    "err.shot_count": {
        "en": "A storyboard has 1 to {max} shots; this one has {count}.",
        "zh": "一个分镜包含 1 到 {max} 个镜头；当前有 {count} 个。",
    },
    "err.shot_count.none": {"en": "Write at least one shot.", "zh": "请至少写一个镜头。"},
    "err.length": {
        "en": "A video is {allowed} long; {length} s is not available.",
        "zh": "视频时长可选 {allowed}；不支持 {length} 秒。",
    },
    "err.aspect": {"en": "The aspect {aspect} is not available.", "zh": "不支持画幅 {aspect}。"},
    "err.scene_empty": {
        "en": "Shot {shot} has no scene text.",
        "zh": "第 {shot} 个镜头没有场景描述。",
    },
    "err.scene_empty.after_duration": {
        "en": "{where}: there is no scene after the duration.",
        "zh": "{where}：时长后面没有场景描述。",
    },
    "err.scene_long": {
        "en": "Shot {shot}'s scene is {chars} characters; the limit is {max}. "
        "Shorten it or split it into two shots.",
        "zh": "第 {shot} 个镜头的场景描述有 {chars} 个字符，上限为 {max}。请缩短或拆成两个镜头。",
    },
    "err.shot_duration": {
        "en": "Shot {shot} lasts {seconds} s; a shot lasts {min} to {max} s.",
        "zh": "第 {shot} 个镜头时长为 {seconds} 秒；每个镜头应为 {min} 到 {max} 秒。",
    },
    "err.total_over": {
        "en": "The shots add up to {total} s, more than the {length} s video.",
        "zh": "各镜头总时长为 {total} 秒，超过了 {length} 秒的视频时长。",
    },
    "err.no_time_left": {
        "en": "The typed durations add up to {fixed} s of the {length} s video, leaving {left} s "
        "for {autos} shot(s) without a duration; each needs at least {min} s.",
        "zh": "已写明的时长共 {fixed} 秒（视频 {length} 秒），只剩 {left} 秒分给 {autos} "
        "个未写时长的镜头；每个至少需要 {min} 秒。",
    },
    "err.shot_over_segment": {
        "en": "Shot {shot} lasts {seconds} s; one segment holds at most {max} s and a shot is never split between segments. Split it into two shots.",
        "zh": "第 {shot} 个镜头时长为 {seconds} 秒；一个片段最长 {max} 秒，镜头不会拆到两个片段里。请把它拆成两个镜头。",
    },
    "err.segments_over": {
        "en": "These {shots} shots ({total} s) need {needed} segments (at most {segment_shots} shots and {segment_max} s each); at most {max} are allowed. Shorten the shots or remove some.",
        "zh": "这 {shots} 个镜头（{total} 秒）需要 {needed} 个片段（每个最多 {segment_shots} 个镜头、{segment_max} 秒）；最多允许 {max} 个。请缩短镜头或删掉一些。",
    },
    "err.long_total": {
        "en": "A storyboard lasts at most {max} s; these shots add up to {total} s. Shorten them or remove a shot.",
        "zh": "一个分镜最长 {max} 秒；这些镜头共 {total} 秒。请缩短或删掉一个镜头。",
    },
    "where.shot": {"en": "Shot {shot}", "zh": "第 {shot} 个镜头"},
    "err.bad_duration": {
        "en": '{where}: "{text}" is not a duration; write seconds like 7.5 or 7.5s.',
        "zh": "{where}：“{text}”不是有效时长；请写成 7.5 或 7.5s 这样的秒数。",
    },
    "err.duration_precision": {
        "en": "{where}: {text} has more than one decimal; durations are in tenths of a second.",
        "zh": "{where}：{text} 的小数超过一位；时长精确到 0.1 秒。",
    },
    # -- edit refusals (bot.domain.edit_grammar, bot.drafts.editing), by code and shape ------------------------------
    # The English column is each refusal exactly as the core words it: error_text() picks the
    # shape whose English is the message, and reads from it the values the parameters lack.
    "err.edit.edit_word_alone": {
        "en": "`{line}` works only as a whole message, so nothing was changed. Send the edits, "
        "then `{word}` on its own.",
        "zh": "`{line}` 只能单独作为一条消息发送，因此未做任何更改。请先发送修改，再单独发送 "
        "`{word}`。",
    },
    "err.edit.edit_mixed": {
        "en": "`{line}` is not an edit, so nothing was changed. Edit lines start with `#3`, `+`, "
        "`-#3`, `move`, `swap`, `length`, `aspect` or `shots:`; send conversation as a message "
        "of its own.",
        "zh": "`{line}` 不是编辑指令，因此未做任何更改。编辑指令以 `#3`、`+`、`-#3`、`move`、"
        "`swap`、`length`、`aspect` 或 `shots:` 开头；聊天内容请另发一条消息。",
    },
    "err.edit.bad_duration": {
        "en": '{where}: "{text}" is not a duration; write seconds like 7.5 or 7.5s.',
        "zh": "{where}：“{text}”不是有效时长；请写成 7.5 或 7.5s 这样的秒数。",
    },
    "err.edit.duration_precision": {
        "en": "{where}: {text} has more than one decimal; durations are in tenths of a second "
        "(e.g. 7.5).",
        "zh": "{where}：{text} 的小数超过一位；时长精确到 0.1 秒（例如 7.5）。",
    },
    "err.edit.scene_empty": {
        "en": "{where}: there is no scene after the duration.",
        "zh": "{where}：时长后面没有场景描述。",
    },
    "err.edit.scene_empty.shot": {
        "en": "`{line}`: shot {shot} has no scene text.",
        "zh": "`{line}`：第 {shot} 个镜头没有场景描述。",
    },
    "err.edit.edit_syntax.add": {
        "en": "`{line}`: write the new shot after it, like `+ 4s | scene`.",
        "zh": "`{line}`：请在后面写上新镜头，例如 `+ 4秒 | 场景`。",
    },
    "err.edit.edit_syntax.insert": {
        "en": "`{line}`: write the new shot after it, like `+#{at} 4s | scene`.",
        "zh": "`{line}`：请在后面写上新镜头，例如 `+#{at} 4秒 | 场景`。",
    },
    "err.edit.edit_syntax.move": {
        "en": "`{line}`: write it like this: `move #3 #1` moves shot 3 to position 1.",
        "zh": "`{line}`：请这样写：`move #3 #1` 把第 3 个镜头移到第 1 位。",
    },
    "err.edit.edit_syntax.swap": {
        "en": "`{line}`: write it like this: `swap #1 #2` swaps shots 1 and 2.",
        "zh": "`{line}`：请这样写：`swap #1 #2` 交换第 1 和第 2 个镜头。",
    },
    "err.edit.edit_syntax.shots": {
        "en": "`{line}`: write the shots on the next lines of the same message, one a line.",
        "zh": "`{line}`：请在同一条消息的后续行中写镜头，每行一个。",
    },
    "err.edit.edit_empty": {"en": "There is no edit to apply.", "zh": "没有可应用的修改。"},
    "err.edit.edit_no_shot": {
        "en": "`{line}`: there is no shot {shot}; {has}.",
        "zh": "`{line}`：没有第 {shot} 个镜头；{has}。",
    },
    "err.edit.edit_no_position": {
        "en": "`{line}`: a new shot can go at #1 to #{last}; {has}. Write `+ scene` to add it at "
        "the end.",
        "zh": "`{line}`：新镜头只能放在 #1 到 #{last}；{has}。写 `+ 场景` 可添加到末尾。",
    },
    "edit.has.none": {"en": "this storyboard has no shots", "zh": "此分镜没有镜头"},
    "edit.has.one": {"en": "this storyboard has 1 shot (#1)", "zh": "此分镜只有 1 个镜头（#1）"},
    "edit.has.many": {
        "en": "this storyboard has {count} shots (#1-#{count})",
        "zh": "此分镜有 {count} 个镜头（#1-#{count}）",
    },
    "err.edit.shot_duration": {
        "en": "`{line}`: a shot lasts {min} to {max} s, not {seconds} s; type a duration in that "
        "range.",
        "zh": "`{line}`：每个镜头应为 {min} 到 {max} 秒，不能是 {seconds} 秒；请输入此范围内的时长。",
    },
    "err.edit.shot_duration.listed": {
        "en": "`{line}`: a shot lasts {min} to {max} s, not {seconds} s (shot {shot}); type a "
        "duration in that range.",
        "zh": "`{line}`：每个镜头应为 {min} 到 {max} 秒，不能是 {seconds} 秒（第 {shot} 个镜头）；"
        "请输入此范围内的时长。",
    },
    "err.edit.shot_duration.after": {
        "en": "`{line}`: shot {shot} would last {seconds} s; a shot lasts {min} to {max} s. Type "
        "a duration in that range.",
        "zh": "`{line}`：第 {shot} 个镜头将为 {seconds} 秒；每个镜头应为 {min} 到 {max} 秒。"
        "请输入此范围内的时长。",
    },
    "err.edit.shot_duration.after_auto": {
        "en": "`{line}`: shot {shot} would last {seconds} s; a shot lasts {min} to {max} s. Add "
        "another shot to share the time, or type its duration.",
        "zh": "`{line}`：第 {shot} 个镜头将为 {seconds} 秒；每个镜头应为 {min} 到 {max} 秒。"
        "请再添加一个镜头来分担时长，或写明它的时长。",
    },
    "err.edit.total_over": {
        "en": "`{line}`: the shots would add up to {total} s, more than the {length} s video; "
        "shorten a shot or write `length {longer}`.",
        "zh": "`{line}`：各镜头总时长将为 {total} 秒，超过了 {length} 秒的视频时长；"
        "请缩短一个镜头，或写 `length {longer}`。",
    },
    "err.edit.total_over.shorten": {
        "en": "`{line}`: the shots would add up to {total} s, more than the {length} s video; "
        "shorten or delete a shot.",
        "zh": "`{line}`：各镜头总时长将为 {total} 秒，超过了 {length} 秒的视频时长；"
        "请缩短或删除一个镜头。",
    },
    "err.edit.no_time_left": {
        "en": "`{line}`: the typed durations would add up to {fixed} s of the {length} s video, "
        "leaving {left} s for {shots} without a duration (each needs at least {min} s); "
        "shorten a shot or write `length {longer}`.",
        "zh": "`{line}`：已写明的时长合计将为 {fixed} 秒（视频 {length} 秒），只剩 {left} 秒分给 "
        "{shots}未写时长的镜头（每个至少需要 {min} 秒）；请缩短一个镜头，或写 `length {longer}`。",
    },
    "err.edit.no_time_left.shorten": {
        "en": "`{line}`: the typed durations would add up to {fixed} s of the {length} s video, "
        "leaving {left} s for {shots} without a duration (each needs at least {min} s); "
        "shorten or delete a shot.",
        "zh": "`{line}`：已写明的时长合计将为 {fixed} 秒（视频 {length} 秒），只剩 {left} 秒分给 "
        "{shots}未写时长的镜头（每个至少需要 {min} 秒）；请缩短或删除一个镜头。",
    },
    "edit.autos.one": {"en": "1 shot", "zh": "1 个"},
    "edit.autos.many": {"en": "{autos} shots", "zh": "{autos} 个"},
    "err.edit.shot_count": {
        "en": "`{line}`: a storyboard has at most {max} shots; this edit would make {count}. "
        "Delete a shot first (`-#3`).",
        "zh": "`{line}`：一个分镜最多 {max} 个镜头；这次修改后将有 {count} 个。"
        "请先删除一个镜头（`-#3`）。",
    },
    "err.edit.shot_count.none": {
        "en": "`{line}`: a storyboard needs at least one shot; add another first (`+ scene`).",
        "zh": "`{line}`：一个分镜至少需要一个镜头；请先添加一个（`+ 场景`）。",
    },
    "err.edit.scene_long": {
        "en": "`{line}`: shot {shot}'s scene would be {chars} characters; the limit is {max}. "
        "Shorten it or split it into two shots.",
        "zh": "`{line}`：第 {shot} 个镜头的场景描述将有 {chars} 个字符，上限为 {max}。"
        "请缩短或拆成两个镜头。",
    },
    "err.edit.length": {
        "en": "`{line}`: a video is {allowed} long; {length} s is not available.",
        "zh": "`{line}`：视频时长可选 {allowed}；不支持 {length} 秒。",
    },
    "err.edit.aspect": {
        "en": "`{line}`: the aspect is {aspects}, not {aspect}.",
        "zh": "`{line}`：画幅只能是{aspects}，不支持“{aspect}”。",
    },
    "err.edit.aspect.must": {
        "en": "`{line}`: the aspect must be {aspects}, not {aspect}.",
        "zh": "`{line}`：画幅只能是{aspects}，不支持“{aspect}”。",
    },
    "err.edit.edit_stale": {
        "en": "`{line}`: the shots were renumbered while you wrote this (revision {changed}: "
        "`{note}`), so #numbers may now mean other shots. Nothing was changed; check the numbers "
        "in revision {revision} and send it again.",
        "zh": "`{line}`：你编写期间镜头已被重新编号（第 {changed} 版：`{note}`），"
        "#编号现在可能指向其他镜头。未做任何更改；请核对第 {revision} 版中的编号后重新发送。",
    },
    "err.edit.form_stale": {
        "en": "The storyboard changed while the form was open (it is now revision {revision}), "
        "so nothing was changed. Check the card, then press Fix to send your list again.",
        "zh": "表单打开期间分镜已被修改（现为第 {revision} 版），因此未做任何更改。请先查看卡片，"
        "再点“修改”重新提交你的列表。",
    },
    "err.edit.draft_discarded": {
        "en": "This draft was discarded, so it can't be changed any more. Start a new one "
        "with `/storyboard`.",
        "zh": "此草稿已丢弃，无法再修改。请用 `/storyboard` 新建一个。",
    },
    "err.edit.nothing_to_undo": {
        "en": "There is nothing to undo: this is the storyboard as it was created.",
        "zh": "没有可撤销的修改：这是分镜最初创建时的版本。",
    },
    # -- quota refusals and setting errors (bot.quota.policy), by code and shape ----------------------
    # As for edit refusals, the English column is each error exactly as bot.quota.policy words it (a
    # ``{name!r}`` is the parameter's repr): error_text() picks the shape whose English is the
    # message and reads from it the values the parameters lack. A refusal's strings are
    # ``err.quota.<code>``, as its codes "length" and "aspect" are also a storyboard's own.
    "err.quota.paused": {
        "en": "The bot's owners have paused all new videos for now. Try again later.",
        "zh": "机器人的所有者已暂停所有新视频。请稍后再试。",
    },
    "err.quota.disabled": {
        "en": "Video generation is turned off in this server.",
        "zh": "本服务器已关闭视频生成。",
    },
    "err.quota.channel": {
        "en": "Videos can be generated only in {channels} in this server.",
        "zh": "在本服务器中，只能在 {channels} 生成视频。",
    },
    "err.quota.role": {
        "en": "Generating videos in this server needs one of these roles: {roles}.",
        "zh": "在本服务器生成视频需要以下身份组之一：{roles}。",
    },
    "err.quota.model": {
        "en": "This server does not allow the model {model}; allowed: {allowed}.",
        "zh": "本服务器不允许使用模型 {model}；允许的模型：{allowed}。",
    },
    "err.quota.resolution": {
        "en": "This server allows {allowed} videos; {model} is set to {resolution}.",
        "zh": "本服务器只允许 {allowed} 的视频；{model} 当前设置为 {resolution}。",
    },
    "err.quota.audio": {
        "en": "This server does not allow videos with audio; {model} is set to make them.",
        "zh": "本服务器不允许带音频的视频；{model} 当前设置为生成带音频的视频。",
    },
    "err.quota.length": {
        "en": "This server allows videos of {allowed} s; {length} s is not allowed.",
        "zh": "本服务器只允许时长为 {allowed} 秒的视频；不允许 {length} 秒。",
    },
    "err.quota.aspect": {
        "en": "This server allows the aspect {allowed}; {aspect} is not allowed.",
        "zh": "本服务器只允许{allowed}画幅；不允许{aspect}画幅。",
    },
    "err.quota.blocked_term": {
        "en": "This server does not allow “{term}” in scenes. Remove it and try again.",
        "zh": "本服务器不允许在场景中使用“{term}”。请删除后再试。",
    },
    "err.quota.guild_budget": {
        "en": "This server has used {used} of its {limit} credits this month and this video "
        "costs {credits}; the budget resets <t:{until}:R>.",
        "zh": "本服务器本月已用 {used}/{limit} 积分，而这个视频需要 {credits} 积分；"
        "预算将在 <t:{until}:R>重置。",
    },
    "err.quota.guild_budget.spent": {
        "en": "This server has used {used} of its {limit} credits this month; the budget resets "
        "<t:{until}:R>.",
        "zh": "本服务器本月已用 {used}/{limit} 积分；预算将在 <t:{until}:R>重置。",
    },
    "err.quota.guild_daily": {
        "en": "This server has used {used} of its {limit} videos today; the limit resets "
        "<t:{until}:R>.",
        "zh": "本服务器今天已用 {used}/{limit} 个视频；限额将在 <t:{until}:R>重置。",
    },
    "err.quota.user_daily": {
        "en": "You have used {used} of your {limit} videos today; the limit resets <t:{until}:R>.",
        "zh": "你今天已用 {used}/{limit} 个视频；限额将在 <t:{until}:R>重置。",
    },
    "err.quota.guild_concurrent": {
        "en": "This server has {running} video(s) running; the limit is {limit} at once. Try "
        "again when one finishes.",
        "zh": "本服务器正在生成 {running} 个视频，同时最多 {limit} 个。请等其中一个完成后再试。",
    },
    "err.quota.user_concurrent": {
        "en": "You have {running} video(s) running; the limit is {limit} at once. Try again "
        "when one finishes.",
        "zh": "你正在生成 {running} 个视频，同时最多 {limit} 个。请等其中一个完成后再试。",
    },
    "err.quota.cooldown": {
        "en": "Wait {seconds} s between videos; you can generate again <t:{until}:R>.",
        "zh": "两次生成之间需间隔 {seconds} 秒；你可以在 <t:{until}:R>再次生成。",
    },
    "err.quota.user_daily_failures": {
        "en": "You have had {failed} failed video(s) today; the limit is {limit} failures a day. "
        "You can generate again <t:{until}:R>.",
        "zh": "你今天已有 {failed} 个视频生成失败，每天最多允许 {limit} 次失败。"
        "你可以在 <t:{until}:R>再次生成。",
    },
    "err.quota_unknown_setting": {
        "en": "There is no quota setting {name!r}. Settings: {known}.",
        "zh": "没有名为“{name}”的配额设置。可用的设置：{known}。",
    },
    "err.quota_bad_value": {
        "en": "{name} cannot be {value!r}: {reason}. Expected {expected}.",
        "zh": "{name} 不能设为“{value}”：{reason}。应为：{expected}。",
    },
    "err.quota_bad_value.models": {
        "en": "{name} cannot include {unknown}: known models are {known}.",
        "zh": "{name} 不能包含 {unknown}：已知的模型有 {known}。",
    },
    "err.quota_days": {"en": "The period is at least 1 day.", "zh": "统计周期至少为 1 天。"},
    # Why a setting's value was refused (the ``reason`` of quota_bad_value), as worded by
    # bot.quota.policy's parser and the settings' validation.
    "quota.reason.not_int": {"en": "'{text}' is not a whole number", "zh": "“{text}”不是整数"},
    "quota.reason.not_bool": {
        "en": "'{text}' is not true or false",
        "zh": "“{text}”不是 true 或 false",
    },
    "quota.reason.negative": {
        "en": "Input should be greater than or equal to 0",
        "zh": "不能小于 0",
    },
    "quota.reason.not_positive": {"en": "Input should be greater than 0", "zh": "必须大于 0"},
    "quota.reason.aspects": {
        "en": "Input should be 'landscape' or 'portrait'",
        "zh": "只能是 landscape 或 portrait",
    },
    "quota.reason.resolutions": {
        "en": "Input should be '720p', '1080p' or '4k'",
        "zh": "只能是 720p、1080p 或 4k",
    },
    "quota.reason.timezone": {
        "en": "unknown time zone '{zone}'; use an IANA name such as 'UTC', 'Europe/Paris' or "
        "'Asia/Shanghai'",
        "zh": "未知的时区“{zone}”；请使用 IANA 时区名称，例如 UTC、Europe/Paris 或 Asia/Shanghai",
    },
}


def lang_of(locale: object) -> str:
    """A Discord locale (``zh-CN``, ``zh-TW``, ``en-US``...) or None -> ``"zh"`` or ``"en"``."""
    value = str(getattr(locale, "value", locale) or "")
    return "zh" if value.lower().startswith("zh") else "en"


def t(key: str, lang: str = "en", /, **params: Any) -> str:
    entry = STRINGS.get(key)
    if entry is None:
        return key
    template = entry.get(lang) or entry["en"]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return entry["en"].format_map(_Missing(params))


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def reason_text(code: str | None, params: dict[str, Any] | None, lang: str) -> str:
    """Why a job ended (``Job.fail_code`` + ``Job.fail_params``, see bot.jobs.reasons) as a clause
    in ``lang``; never kie.ai's or the operator's English detail."""
    values: dict[str, Any] = dict(params or {})
    if code == "fallback_refused":
        rule = QuotaRefused(
            str(values.get("rule", "")),
            str(values.get("rule_msg", "")),
            **dict(values.get("rule_params") or {}),
        )
        values["rule"] = error_text(rule, lang).rstrip("。.")
    key = f"reason.{code}"
    return t(key if key in STRINGS else "reason.other", lang, **values)


def error_text(err: Exception, lang: str) -> str:
    """A core error in the reader's language (English text when no translation applies)."""
    if lang == "en" or not isinstance(err, UserError):
        return str(err)
    if isinstance(err, EditError):  # StaleEdit and NothingToUndo too
        return _edit_error_text(err, lang)
    if isinstance(err, (QuotaRefused, QuotaSettingError)):
        return _quota_error_text(err, lang)
    params = dict(err.params)
    entry = STRINGS.get(_error_key(err.code, params))
    if entry is None or lang not in entry:
        return str(err)
    where = params.get("where")
    if isinstance(where, str):
        m = _SHOT_WHERE.fullmatch(where)
        params["where"] = t("where.shot", lang, shot=m[1]) if m else where
    if lang == "zh":
        _localize_zh(err.code, params)
    try:
        text = entry[lang].format(**params)
    except (KeyError, IndexError):
        return str(err)
    if where == "":
        # No position to name (``parse_duration`` on its own): drop the empty "{where}：" prefix.
        text = text.removeprefix("：").removeprefix(": ")
    return text


_SHOT_WHERE = re.compile(r"Shot (\d+)")


def _error_key(code: str, params: dict[str, Any]) -> str:
    """The string for an error: a few codes are raised with two shapes of parameters."""
    if code == "shot_count" and "max" not in params:
        return "err.shot_count.none"  # resolve() on no lines at all
    if code == "scene_empty" and "shot" not in params:
        return "err.scene_empty.after_duration"  # "7.5 |" with nothing after the bar
    return f"err.{code}"


def _localize_zh(code: str, params: dict[str, Any]) -> None:
    """Parameters the core words in English: "10, 15 or 25 s", "portrait"."""
    if code == "length" and isinstance(params.get("allowed"), str):
        allowed = params["allowed"].removesuffix(" s")
        params["allowed"] = allowed.replace(", ", "、").replace(" or ", " 或 ") + " 秒"
    if code == "aspect" and f"aspect.{params.get('aspect')}" in STRINGS:
        params["aspect"] = t(f"aspect.{params['aspect']}", "zh")
    if code == "aspect" and isinstance(params.get("aspects"), str):  # "landscape or portrait"
        params["aspects"] = "或".join(
            t(f"aspect.{a}", "zh") if f"aspect.{a}" in STRINGS else a
            for a in params["aspects"].split(" or ")
        )


def _edit_error_text(err: EditError, lang: str) -> str:
    """An edit refusal in ``lang``; its English message when no string words it exactly."""
    match = _edit_match(err)
    if match is None:
        return str(err)
    key, found = match
    template = STRINGS[key].get(lang)
    if template is None:
        return str(err)
    params = {**err.params, **found, **_edit_parts(err.params, lang)}
    if lang == "zh":
        _localize_zh(err.code, params)
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return str(err)


def _edit_match(err: EditError) -> tuple[str, dict[str, str]] | None:
    """The ``err.edit.<code>[.<shape>]`` string whose English is ``err``'s message, if any.

    An edit refusal states some values its parameters lack (the note of the revision that
    renumbered the shots, the length to choose, the aspects there are) and has shapes its
    parameters alone do not tell apart (a typed duration out of range, or a shot that would be).
    The shape is the one whose English, given the parameters, is the message word for word; the
    message supplies the values of its other placeholders. So a translation says exactly what
    the English says, or the English is shown.
    """
    known = {**err.params, **_edit_parts(err.params, "en")}
    return _match(f"err.edit.{err.code}", str(err), known)


def _match(prefix: str, message: str, known: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The string ``prefix`` or ``prefix.<shape>`` whose English, given ``known``, is ``message``;
    with the values of its other placeholders, read from the message."""
    for key in sorted(k for k in STRINGS if k == prefix or k.startswith(prefix + ".")):
        found = _read(STRINGS[key]["en"], message, known)
        if found is not None:
            return key, found
    return None


def _read(template: str, message: str, known: dict[str, Any]) -> dict[str, str] | None:
    """The values of ``template``'s placeholders not in ``known``, if it formats to ``message``.

    A known placeholder may be ``{name!r}`` (the message shows the value's repr).
    """
    pattern: list[str] = []
    unknown: set[str] = set()
    for literal, name, _, conversion in string.Formatter().parse(template):
        pattern.append(re.escape(literal))
        if name is None:
            continue
        if name in known:
            value = known[name]
            pattern.append(re.escape(repr(value) if conversion == "r" else str(value)))
        elif name in unknown:
            pattern.append(f"(?P={name})")
        else:
            unknown.add(name)
            pattern.append(f"(?P<{name}>.+?)")
    m = re.fullmatch("".join(pattern), message, re.DOTALL)
    return None if m is None else m.groupdict()


def _edit_parts(params: dict[str, Any], lang: str) -> dict[str, Any]:
    """Phrases an edit refusal builds from its numbers: "this storyboard has 4 shots (#1-#4)"."""
    parts: dict[str, Any] = {}
    count = params.get("count")
    if isinstance(count, int):
        size = "none" if count == 0 else "one" if count == 1 else "many"
        parts["has"] = t(f"edit.has.{size}", lang, count=count)
        parts["last"] = count + 1  # the last position a new shot can take
    autos = params.get("autos")
    if isinstance(autos, int):
        parts["shots"] = t("edit.autos.one" if autos == 1 else "edit.autos.many", lang, autos=autos)
    return parts


def _quota_error_text(err: QuotaRefused | QuotaSettingError, lang: str) -> str:
    """A quota refusal or setting error in ``lang``; its English message when no string words
    it exactly (or, for a refused setting value, when no string words the reason)."""
    match = _quota_match(err)
    if match is None:
        return str(err)
    key, found = match
    template = STRINGS[key].get(lang)
    if template is None:
        return str(err)
    params = {**err.params, **found, **_quota_parts(err.params, lang)}
    if any(name == "reason" for _, name, _, _ in string.Formatter().parse(template)):
        reason = _quota_reason(str(err.params.get("reason", "")), lang)
        if reason is None:
            return str(err)
        params["reason"] = reason
    if lang == "zh":
        _localize_quota_zh(err.code, params)
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return str(err)


def _quota_match(err: QuotaRefused | QuotaSettingError) -> tuple[str, dict[str, str]] | None:
    """The ``err.quota.<code>[.<shape>]`` (a refusal) or ``err.<code>[.<shape>]`` (a setting
    error) string whose English is ``err``'s message, as :func:`_edit_match` does for edits.

    The parameters lack some values the message states (the model set to another resolution,
    the unknown models and the known ones) and do not tell some shapes apart (a budget spent
    with or without a video's cost); the message supplies them.
    """
    prefix = f"err.quota.{err.code}" if isinstance(err, QuotaRefused) else f"err.{err.code}"
    return _match(prefix, str(err), {**err.params, **_quota_parts(err.params, "en")})


def _quota_parts(params: dict[str, Any], lang: str) -> dict[str, Any]:
    """What a refused setting value should be: the setting's help (``admin.setting.<name>``)."""
    name = params.get("name")
    if not isinstance(name, str) or name not in SETTINGS_HELP:
        return {}
    key = f"admin.setting.{name}"
    if lang == "en" or key not in STRINGS:
        return {"expected": SETTINGS_HELP[name]}
    return {"expected": t(key, lang)}


def _quota_reason(reason: str, lang: str) -> str | None:
    """Why a setting's value was refused, in ``lang``; None when no ``quota.reason.*`` words it."""
    for key in sorted(k for k in STRINGS if k.startswith("quota.reason.")):
        found = _read(STRINGS[key]["en"], reason, {})
        if found is not None:
            template = STRINGS[key].get(lang)
            return None if template is None else template.format(**found)
    return None


def _localize_quota_zh(code: str, params: dict[str, Any]) -> None:
    """Parameters bot.quota.policy words in English: lists ("<#1>, <#2>", "10, 15"), aspects."""
    if code == "aspect":
        for name in ("aspect", "allowed"):
            if isinstance(params.get(name), str):
                params[name] = ", ".join(
                    t(f"aspect.{a}", "zh") if f"aspect.{a}" in STRINGS else a
                    for a in params[name].split(", ")
                )
    for name in ("channels", "roles", "allowed", "known", "unknown"):
        if isinstance(params.get(name), str):
            params[name] = params[name].replace(", ", "、")
