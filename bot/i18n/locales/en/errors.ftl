error-not_editor = Only { $author }, members with Manage Messages and members the author added can edit this storyboard.
error-not_author = Only the author of this storyboard (or someone with Manage Messages) can do that.
error-busy = You already have a video being made here; wait for it to finish.
error-draft_gone = This storyboard no longer exists.
error-draft_discarded = This storyboard was discarded.
error-job_gone = That job no longer exists.
error-image_gone = The reference image has been removed (retention policy); run /storyboard again.
error-not_image = That attachment is not an image ({ $kind }). Attach a png, jpeg or webp picture.
error-image_too_large = That image is { $size } MB; the largest accepted is { $max } MB.
error-image = The image was refused: { $reason }
error-missing_permissions = I can't work in this channel: I'm missing { $perms }. Ask an admin to grant them.
error-guild_only = This command works in servers only.
error-unexpected = Something went wrong on our side; nothing was spent. Please try again.
error-invalid = { $error }
error-fix_hint = Press **Fix** to edit what you typed.

err-shot_count = A storyboard has 1 to { $max } shots; this one has { $count }.
err-shot_count-none = Write at least one shot.
err-length = A video is { $allowed } s long; { $length } s is not available.
err-aspect = The aspect must be { $aspects }, not { $aspect }.
err-scene_empty = Shot { $shot } has no scene text.
err-scene_empty-after_duration = { $where }: there is no scene after the duration.
err-scene_empty-bare = There is no scene after the duration.
err-scene_long = Shot { $shot }'s scene is { $chars } characters; the limit is { $max }. Shorten it or split it into two shots.
err-shot_duration = Shot { $shot } lasts { $seconds } s; a shot lasts { $min } to { $max } s.
err-shot_duration-auto = Shot { $shot } lasts { $seconds } s; a shot lasts { $min } to { $max } s. Add another shot to share the time.
err-total_over = The shots add up to { $total } s, more than the { $length } s video. Shorten them or choose a length of { $longer } s.
err-total_over-shorten = The shots add up to { $total } s, more than the { $length } s video. Shorten them.
err-total_over-model = { $model } makes videos of at most { $length } s; these shots add up to { $total } s.
err-no_time_left = The typed durations add up to { $fixed } s of the { $length } s video, leaving { $left } s for { $autos ->
        [one] 1 shot
       *[other] { $autos } shots
    } without a duration; each needs at least { $min } s. Shorten a typed duration or choose a longer video.
err-shot_over_segment = Shot { $shot } lasts { $seconds } s; one segment on { $model } holds at most { $max } s and a shot is never split between segments. Split it into two shots.
err-segments_over = These { $shots } shots ({ $total } s) need { $needed } segments on { $model } (at most { $segment_shots } shots and { $segment_max } s each); at most { $max } are allowed. Shorten the shots or remove some.
err-long_total = A storyboard lasts at most { $max } s; these shots add up to { $total } s. Shorten them or remove a shot.
where-shot = Shot { $shot }
err-bad_duration = { $where }: "{ $text }" is not a duration; write seconds like 7.5 or 7.5s.
err-bad_duration-bare = "{ $text }" is not a duration; write seconds like 7.5 or 7.5s.
err-duration_precision = { $where }: { $text } has more than one decimal; durations are in tenths of a second (e.g. 7.5).
err-duration_precision-bare = { $text } has more than one decimal; durations are in tenths of a second (e.g. 7.5).
