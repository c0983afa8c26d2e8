thread-name = 分镜 { $draft }
thread-intro =
    {"*"}*在这里修改分镜。** 发送编辑指令，上方的卡片会随之更新；每次修改都是一个新版本。
    { $grammar }
thread-grammar =
    `#3 新场景` 替换第 3 个镜头的场景 · `#3 4.5 | 场景` 替换第 3 个镜头 · `#3 = 5秒` 设置时长（`= auto`：平分剩余时长）
    `+ 场景` 或 `+ 4秒 | 场景` 在末尾添加镜头 · `+#2 4秒 | 场景` 插入为第 2 个镜头
    `-#3` 删除第 3 个镜头 · `move #3 #1` · `swap #1 #2` · `length 25` · `aspect portrait`
    `shots:` 后面每行一个镜头：替换整个列表
    单独发送一张图片可替换参考图。
    单独发送：`undo` · `show` · `generate`（或 `go`）· `add @用户` / `remove @用户`（允许谁编辑）
    一条消息中的多行是一次修改。其他内容视为聊天。卡片上的按钮也能完成这些操作。
thread-degraded = ℹ️ 我无法读取这里的普通消息（此机器人未开启 Discord 的 Message Content 权限）。请回复卡片或我的消息并开启提及，或直接 @我，我就能读取修改；卡片上的按钮同样可用。
thread-discarded = 此草稿已丢弃，无法再修改或生成。请用 `/storyboard` 新建一个。
thread-not_editor = 只有 { $author }、拥有“管理消息”权限的成员以及作者添加的成员（`add @用户`）可以编辑此分镜。未做任何更改。
editors-only_author = 只有 { $author }（或拥有“管理消息”权限的成员）可以决定谁能编辑此分镜。
editors-added = { $user } 现在可以编辑此分镜。
editors-already = { $user } 已经可以编辑。
editors-is_author = { $user } 是作者，始终可以编辑。
editors-removed = { $user } 不能再编辑此分镜。
editors-not_added = { $user } 不在已添加的编辑者名单中。
edit-accepted = ✅ 第 { $revision } 版。
edit-resplit = ✅ 第 { $revision } 版。自动时长的镜头重新平分了剩余时长：{ $shots }。
edit-undone = ↩️ 已撤销第 { $undone } 版（`{ $note }`）；分镜现为第 { $revision } 版。
edit-image_replaced = 🖼️ 已更换参考图（第 { $revision } 版）；下一个视频将以它为起点。
edit-nothing = 没有任何更改。
edit-card_stale = 该镜头已不在分镜中；卡片已刷新。
thread-started = 🎬 正在生成第 { $revision } 版；状态和视频将发在频道中：{ $link }
err-edit-edit_word_alone = `{ $line }` 只能单独作为一条消息发送，因此未做任何更改。请先发送修改，再单独发送 `{ $word }`。
err-edit-edit_mixed = `{ $line }` 不是编辑指令，因此未做任何更改。编辑指令以 `#3`、`+`、`-#3`、`move`、`swap`、`length`、`aspect` 或 `shots:` 开头；聊天内容请另发一条消息。
err-edit-bad_duration = { $where }：“{ $text }”不是有效时长；请写成 7.5 或 7.5s 这样的秒数。
err-edit-duration_precision = { $where }：{ $text } 的小数超过一位；时长精确到 0.1 秒（例如 7.5）。
err-edit-scene_empty-after_duration = { $where }：时长后面没有场景描述。
err-edit-scene_empty = `{ $line }`：第 { $shot } 个镜头没有场景描述。
err-edit-edit_syntax-add = `{ $line }`：请在后面写上新镜头，例如 `+ 4秒 | 场景`。
err-edit-edit_syntax-insert = `{ $line }`：请在后面写上新镜头，例如 `+#{ $at } 4秒 | 场景`。
err-edit-edit_syntax-move = `{ $line }`：请这样写：`move #3 #1` 把第 3 个镜头移到第 1 位。
err-edit-edit_syntax-swap = `{ $line }`：请这样写：`swap #1 #2` 交换第 1 和第 2 个镜头。
err-edit-edit_syntax-shots = `{ $line }`：请在同一条消息的后续行中写镜头，每行一个。
err-edit-edit_empty = 没有可应用的修改。
err-edit-edit_no_shot = `{ $line }`：没有第 { $shot } 个镜头；{ $count ->
        [0] 此分镜没有镜头
        [1] 此分镜只有 1 个镜头（#1）
       *[other] 此分镜有 { $count } 个镜头（#1-#{ $count }）
    }。
err-edit-edit_no_position = `{ $line }`：新镜头只能放在 #1 到 #{ $last }；{ $count ->
        [0] 此分镜没有镜头
        [1] 此分镜只有 1 个镜头（#1）
       *[other] 此分镜有 { $count } 个镜头（#1-#{ $count }）
    }。写 `+ 场景` 可添加到末尾。
err-edit-shot_duration = `{ $line }`：每个镜头应为 { $min } 到 { $max } 秒，不能是 { $seconds } 秒；请输入此范围内的时长。
err-edit-shot_duration-listed = `{ $line }`：每个镜头应为 { $min } 到 { $max } 秒，不能是 { $seconds } 秒（第 { $shot } 个镜头）；请输入此范围内的时长。
err-edit-shot_duration-after = `{ $line }`：第 { $shot } 个镜头将为 { $seconds } 秒；每个镜头应为 { $min } 到 { $max } 秒。请输入此范围内的时长。
err-edit-shot_duration-after_auto = `{ $line }`：第 { $shot } 个镜头将为 { $seconds } 秒；每个镜头应为 { $min } 到 { $max } 秒。请再添加一个镜头来分担时长，或写明它的时长。
err-edit-total_over = `{ $line }`：各镜头总时长将为 { $total } 秒，超过了 { $length } 秒的视频时长；请缩短一个镜头，或写 `length { $longer }`。
err-edit-total_over-shorten = `{ $line }`：各镜头总时长将为 { $total } 秒，超过了 { $length } 秒的视频时长；请缩短或删除一个镜头。
err-edit-no_time_left = `{ $line }`：已写明的时长合计将为 { $fixed } 秒（视频 { $length } 秒），只剩 { $left } 秒分给 { $autos } 个未写时长的镜头（每个至少需要 { $min } 秒）；请缩短一个镜头，或写 `length { $longer }`。
err-edit-no_time_left-shorten = `{ $line }`：已写明的时长合计将为 { $fixed } 秒（视频 { $length } 秒），只剩 { $left } 秒分给 { $autos } 个未写时长的镜头（每个至少需要 { $min } 秒）；请缩短或删除一个镜头。
err-edit-shot_count = `{ $line }`：一个分镜最多 { $max } 个镜头；这次修改后将有 { $count } 个。请先删除一个镜头（`-#3`）。
err-edit-shot_count-none = `{ $line }`：一个分镜至少需要一个镜头；请先添加一个（`+ 场景`）。
err-edit-scene_long = `{ $line }`：第 { $shot } 个镜头的场景描述将有 { $chars } 个字符，上限为 { $max }。请缩短或拆成两个镜头。
err-edit-length = `{ $line }`：视频时长可选 { $allowed } 秒；不支持 { $length } 秒。
err-edit-aspect = `{ $line }`：画幅只能是{ $aspects }，不支持{ $aspect ->
        [landscape] 横屏
        [portrait] 竖屏
       *[other] “{ $aspect }”
    }。
err-edit-edit_stale = `{ $line }`：你编写期间镜头已被重新编号（第 { $changed } 版：`{ $note }`），#编号现在可能指向其他镜头。未做任何更改；请核对第 { $revision } 版中的编号后重新发送。
err-edit-form_stale = 表单打开期间分镜已被修改（现为第 { $revision } 版），因此未做任何更改。请先查看卡片，再点“修改”重新提交你的列表。
err-edit-draft_discarded = 此草稿已丢弃，无法再修改。请用 `/storyboard` 新建一个。
err-edit-nothing_to_undo = 没有可撤销的修改：这是分镜最初创建时的版本。
