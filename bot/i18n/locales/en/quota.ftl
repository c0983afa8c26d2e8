usage-title = Your storyboard videos here
usage-owner = You are one of the bot's owners: no limits apply.
usage-today = Today: { $used } of { $limit } videos (resets <t:{ $reset }:R>)
usage-running = Running now: { $running } of { $limit }
usage-month = This month: { $videos } videos, { $credits } credits (resets <t:{ $reset }:R>)
usage-guild_budget = This server this month: { $used } of { $budget } credits
usage-unlimited = unlimited
usage-ok = ✅ You can generate now.
usage-blocked = ⛔ { $reason }
err-quota-paused = The bot's owners have paused all new videos for now. Try again later.
err-quota-disabled = Video generation is turned off in this server.
err-quota-channel = Videos can be generated only in { $channels } in this server.
err-quota-role = Generating videos in this server needs one of these roles: { $roles }.
err-quota-model = This server does not allow the model { $model }; allowed: { $allowed }.
err-quota-resolution = This server allows { $allowed } videos; { $model } is set to { $resolution }.
err-quota-audio = This server does not allow videos with audio; { $model } is set to make them.
err-quota-length = This server allows videos of { $allowed } s; { $length } s is not allowed.
err-quota-aspect = This server allows the aspect { $allowed }; { $aspect } is not allowed.
err-quota-blocked_term = This server does not allow “{ $term }” in scenes. Remove it and try again.
err-quota-guild_budget = This server has used { $used } of its { $limit } credits this month and this video costs { $credits }; the budget resets <t:{ $until }:R>.
err-quota-guild_budget-spent = This server has used { $used } of its { $limit } credits this month; the budget resets <t:{ $until }:R>.
err-quota-guild_daily = This server has used { $used } of its { $limit } videos today; the limit resets <t:{ $until }:R>.
err-quota-user_daily = You have used { $used } of your { $limit } videos today; the limit resets <t:{ $until }:R>.
err-quota-guild_concurrent = This server has { $running ->
        [one] 1 video
       *[other] { $running } videos
    } running; the limit is { $limit } at once. Try again when one finishes.
err-quota-user_concurrent = You have { $running ->
        [one] 1 video
       *[other] { $running } videos
    } running; the limit is { $limit } at once. Try again when one finishes.
err-quota-cooldown = Wait { $seconds } s between videos; you can generate again <t:{ $until }:R>.
err-quota-user_daily_failures = You have had { $failed ->
        [one] 1 failed video
       *[other] { $failed } failed videos
    } today; the limit is { $limit } failures a day. You can generate again <t:{ $until }:R>.
err-quota_unknown_setting = There is no quota setting '{ $name }'. Settings: { $known }.
err-quota_bad_value = { $name } cannot be '{ $value }': { $reason }. Expected { $expected }.
err-quota_bad_value-models = { $name } cannot include { $unknown }: known models are { $known }.
err-quota_days = The period is at least 1 day.
quota-reason-not_int = '{ $text }' is not a whole number
quota-reason-not_bool = '{ $text }' is not true or false
quota-reason-negative = Input should be greater than or equal to 0
quota-reason-not_positive = Input should be greater than 0
quota-reason-aspects = Input should be 'landscape' or 'portrait'
quota-reason-resolutions = Input should be '720p', '1080p' or '4k'
quota-reason-timezone = unknown time zone '{ $zone }'; use an IANA name such as 'UTC', 'Europe/Paris' or 'Asia/Shanghai'
quota-reason-other = not a valid value
