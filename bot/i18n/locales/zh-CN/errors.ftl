error-not_editor = 只有 { $author }、拥有“管理消息”权限的成员以及作者添加的成员可以编辑此分镜。
error-not_author = 只有此分镜的作者（或拥有“管理消息”权限的成员）可以这样做。
error-busy = 你在这里已有一个视频正在生成，请等待完成。
error-draft_gone = 此分镜已不存在。
error-draft_discarded = 此分镜已被丢弃。
error-job_gone = 该任务已不存在。
error-image_gone = 参考图片已按保留策略删除；请重新运行 /storyboard。
error-not_image = 该附件不是图片（{ $kind }）。请附上 png、jpeg 或 webp 图片。
error-image_too_large = 图片大小为 { $size } MB，最大允许 { $max } MB。
error-image = 图片被拒绝：{ $reason }
error-missing_permissions = 我无法在此频道工作：缺少 { $perms } 权限。请联系管理员授予。
error-guild_only = 此命令只能在服务器中使用。
error-unexpected = 出了点问题，未产生费用。请重试。
error-invalid = { $error }
error-fix_hint = 点击**修改**以编辑你输入的内容。

err-shot_count = 一个分镜包含 1 到 { $max } 个镜头；当前有 { $count } 个。
err-shot_count-none = 请至少写一个镜头。
err-length = 视频时长可选 { $allowed } 秒；不支持 { $length } 秒。
err-aspect = 画幅只能是{ $aspects }，不支持{ $aspect ->
        [landscape] 横屏
        [portrait] 竖屏
       *[other] “{ $aspect }”
    }。
err-scene_empty = 第 { $shot } 个镜头没有场景描述。
err-scene_empty-after_duration = { $where }：时长后面没有场景描述。
err-scene_empty-bare = 时长后面没有场景描述。
err-scene_long = 第 { $shot } 个镜头的场景描述有 { $chars } 个字符，上限为 { $max }。请缩短或拆成两个镜头。
err-shot_duration = 第 { $shot } 个镜头时长为 { $seconds } 秒；每个镜头应为 { $min } 到 { $max } 秒。
err-shot_duration-auto = 第 { $shot } 个镜头时长为 { $seconds } 秒；每个镜头应为 { $min } 到 { $max } 秒。请再添加一个镜头来分担时长。
err-total_over = 各镜头总时长为 { $total } 秒，超过了 { $length } 秒的视频时长。请缩短镜头，或选择 { $longer } 秒的时长。
err-total_over-shorten = 各镜头总时长为 { $total } 秒，超过了 { $length } 秒的视频时长。请缩短镜头。
err-total_over-model = { $model } 最长只能生成 { $length } 秒的视频；这些镜头共 { $total } 秒。
err-no_time_left = 已写明的时长共 { $fixed } 秒（视频 { $length } 秒），只剩 { $left } 秒分给 { $autos } 个未写时长的镜头；每个至少需要 { $min } 秒。请缩短已写明的时长，或选择更长的视频。
err-shot_over_segment = 第 { $shot } 个镜头时长为 { $seconds } 秒；{ $model } 的一个片段最长 { $max } 秒，镜头不会拆到两个片段里。请把它拆成两个镜头。
err-segments_over = 这 { $shots } 个镜头（{ $total } 秒）在 { $model } 上需要 { $needed } 个片段（每个最多 { $segment_shots } 个镜头、{ $segment_max } 秒）；最多允许 { $max } 个。请缩短镜头或删掉一些。
err-long_total = 一个分镜最长 { $max } 秒；这些镜头共 { $total } 秒。请缩短或删掉一个镜头。
where-shot = 第 { $shot } 个镜头
err-bad_duration = { $where }：“{ $text }”不是有效时长；请写成 7.5 或 7.5s 这样的秒数。
err-bad_duration-bare = “{ $text }”不是有效时长；请写成 7.5 或 7.5s 这样的秒数。
err-duration_precision = { $where }：{ $text } 的小数超过一位；时长精确到 0.1 秒（例如 7.5）。
err-duration_precision-bare = { $text } 的小数超过一位；时长精确到 0.1 秒（例如 7.5）。
