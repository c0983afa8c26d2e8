usage-title = 你在这里的分镜视频额度
usage-owner = 你是机器人的所有者：不受任何限制。
usage-today = 今天：已用 { $used }/{ $limit } 个视频（<t:{ $reset }:R>重置）
usage-running = 正在生成：{ $running }/{ $limit }
usage-month = 本月：{ $videos } 个视频，{ $credits } 积分（<t:{ $reset }:R>重置）
usage-guild_budget = 本服务器本月：已用 { $used }/{ $budget } 积分
usage-unlimited = 不限
usage-ok = ✅ 你现在可以生成。
usage-blocked = ⛔ { $reason }
err-quota-paused = 机器人的所有者已暂停所有新视频。请稍后再试。
err-quota-disabled = 本服务器已关闭视频生成。
err-quota-channel = 在本服务器中，只能在 { $channels } 生成视频。
err-quota-role = 在本服务器生成视频需要以下身份组之一：{ $roles }。
err-quota-model = 本服务器不允许使用模型 { $model }；允许的模型：{ $allowed }。
err-quota-resolution = 本服务器只允许 { $allowed } 的视频；{ $model } 当前设置为 { $resolution }。
err-quota-audio = 本服务器不允许带音频的视频；{ $model } 当前设置为生成带音频的视频。
err-quota-length = 本服务器只允许时长为 { $allowed } 秒的视频；不允许 { $length } 秒。
err-quota-aspect = 本服务器只允许{ $allowed }画幅；不允许{ $aspect ->
        [landscape] 横屏
        [portrait] 竖屏
       *[other] “{ $aspect }”
    }画幅。
err-quota-blocked_term = 本服务器不允许在场景中使用“{ $term }”。请删除后再试。
err-quota-guild_budget = 本服务器本月已用 { $used }/{ $limit } 积分，而这个视频需要 { $credits } 积分；预算将在 <t:{ $until }:R>重置。
err-quota-guild_budget-spent = 本服务器本月已用 { $used }/{ $limit } 积分；预算将在 <t:{ $until }:R>重置。
err-quota-guild_daily = 本服务器今天已用 { $used }/{ $limit } 个视频；限额将在 <t:{ $until }:R>重置。
err-quota-user_daily = 你今天已用 { $used }/{ $limit } 个视频；限额将在 <t:{ $until }:R>重置。
err-quota-guild_concurrent = 本服务器正在生成 { $running } 个视频，同时最多 { $limit } 个。请等其中一个完成后再试。
err-quota-user_concurrent = 你正在生成 { $running } 个视频，同时最多 { $limit } 个。请等其中一个完成后再试。
err-quota-cooldown = 两次生成之间需间隔 { $seconds } 秒；你可以在 <t:{ $until }:R>再次生成。
err-quota-user_daily_failures = 你今天已有 { $failed } 个视频生成失败，每天最多允许 { $limit } 次失败。你可以在 <t:{ $until }:R>再次生成。
err-quota_unknown_setting = 没有名为“{ $name }”的配额设置。可用的设置：{ $known }。
err-quota_bad_value = { $name } 不能设为“{ $value }”：{ $reason }。应为：{ $expected }。
err-quota_bad_value-models = { $name } 不能包含 { $unknown }：已知的模型有 { $known }。
err-quota_days = 统计周期至少为 1 天。
quota-reason-not_int = “{ $text }”不是整数
quota-reason-not_bool = “{ $text }”不是 true 或 false
quota-reason-negative = 不能小于 0
quota-reason-not_positive = 必须大于 0
quota-reason-aspects = 只能是 landscape 或 portrait
quota-reason-resolutions = 只能是 720p、1080p 或 4k
quota-reason-timezone = 未知的时区“{ $zone }”；请使用 IANA 时区名称，例如 UTC、Europe/Paris 或 Asia/Shanghai
quota-reason-other = 不是有效的值
