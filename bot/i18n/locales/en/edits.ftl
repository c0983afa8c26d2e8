thread-name = Storyboard { $draft }
thread-intro =
    {"*"}*Refine this storyboard here.** Send edit lines and the card above updates; every edit is a new revision.
    { $grammar }
thread-grammar =
    `#3 new scene` replace shot 3's scene · `#3 4.5 | scene` replace shot 3 · `#3 = 5s` set its duration (`= auto`: share the time left)
    `+ scene` or `+ 4s | scene` add a shot at the end · `+#2 4s | scene` insert it as shot 2
    `-#3` delete shot 3 · `move #3 #1` · `swap #1 #2` · `length 25` · `aspect portrait`
    `shots:` and one shot per line on the next lines: replace the whole list
    An image on its own replaces the reference image.
    On their own: `undo` · `show` · `generate` (or `go`) · `add @user` / `remove @user` (who else may edit)
    Several lines in one message are one edit. Anything else is conversation. The card's buttons do all of this too.
thread-degraded = ℹ️ I can't read plain messages here (Discord's Message Content intent is off for this bot). Reply to the card or to my messages with the ping on, or mention me, and I'll read the edit; the card's buttons work too.
thread-discarded = This draft was discarded, so it can't be edited or generated any more. Start a new one with `/storyboard`.
thread-not_editor = Only { $author }, members with Manage Messages and members the author adds (`add @user`) can edit this storyboard. Nothing was changed.
editors-only_author = Only { $author } (or someone with Manage Messages) can choose who edits this storyboard.
editors-added = { $user } can now edit this storyboard.
editors-already = { $user } could already edit it.
editors-is_author = { $user } is the author and can always edit it.
editors-removed = { $user } can no longer edit this storyboard.
editors-not_added = { $user } was not on the list of added editors.
edit-accepted = ✅ Revision { $revision }.
edit-resplit = ✅ Revision { $revision }. The automatic shots now share the time left: { $shots }.
edit-undone = ↩️ Undid revision { $undone } (`{ $note }`); the storyboard is now revision { $revision }.
edit-image_replaced = 🖼️ New reference image (revision { $revision }); the next video starts from it.
edit-nothing = Nothing changed.
edit-card_stale = That shot is no longer on the storyboard; the card has been redrawn.
thread-started = 🎬 Generating revision { $revision }; the status and the video will be in the channel: { $link }
err-edit-edit_word_alone = `{ $line }` works only as a whole message, so nothing was changed. Send the edits, then `{ $word }` on its own.
err-edit-edit_mixed = `{ $line }` is not an edit, so nothing was changed. Edit lines start with `#3`, `+`, `-#3`, `move`, `swap`, `length`, `aspect` or `shots:`; send conversation as a message of its own.
err-edit-bad_duration = { $where }: "{ $text }" is not a duration; write seconds like 7.5 or 7.5s.
err-edit-duration_precision = { $where }: { $text } has more than one decimal; durations are in tenths of a second (e.g. 7.5).
err-edit-scene_empty-after_duration = { $where }: there is no scene after the duration.
err-edit-scene_empty = `{ $line }`: shot { $shot } has no scene text.
err-edit-edit_syntax-add = `{ $line }`: write the new shot after it, like `+ 4s | scene`.
err-edit-edit_syntax-insert = `{ $line }`: write the new shot after it, like `+#{ $at } 4s | scene`.
err-edit-edit_syntax-move = `{ $line }`: write it like this: `move #3 #1` moves shot 3 to position 1.
err-edit-edit_syntax-swap = `{ $line }`: write it like this: `swap #1 #2` swaps shots 1 and 2.
err-edit-edit_syntax-shots = `{ $line }`: write the shots on the next lines of the same message, one a line.
err-edit-edit_empty = There is no edit to apply.
err-edit-edit_no_shot = `{ $line }`: there is no shot { $shot }; { $count ->
        [0] this storyboard has no shots
        [one] this storyboard has 1 shot (#1)
       *[other] this storyboard has { $count } shots (#1-#{ $count })
    }.
err-edit-edit_no_position = `{ $line }`: a new shot can go at #1 to #{ $last }; { $count ->
        [0] this storyboard has no shots
        [one] this storyboard has 1 shot (#1)
       *[other] this storyboard has { $count } shots (#1-#{ $count })
    }. Write `+ scene` to add it at the end.
err-edit-shot_duration = `{ $line }`: a shot lasts { $min } to { $max } s, not { $seconds } s; type a duration in that range.
err-edit-shot_duration-listed = `{ $line }`: a shot lasts { $min } to { $max } s, not { $seconds } s (shot { $shot }); type a duration in that range.
err-edit-shot_duration-after = `{ $line }`: shot { $shot } would last { $seconds } s; a shot lasts { $min } to { $max } s. Type a duration in that range.
err-edit-shot_duration-after_auto = `{ $line }`: shot { $shot } would last { $seconds } s; a shot lasts { $min } to { $max } s. Add another shot to share the time, or type its duration.
err-edit-total_over = `{ $line }`: the shots would add up to { $total } s, more than the { $length } s video; shorten a shot or write `length { $longer }`.
err-edit-total_over-shorten = `{ $line }`: the shots would add up to { $total } s, more than the { $length } s video; shorten or delete a shot.
err-edit-no_time_left = `{ $line }`: the typed durations would add up to { $fixed } s of the { $length } s video, leaving { $left } s for { $autos ->
        [one] 1 shot
       *[other] { $autos } shots
    } without a duration (each needs at least { $min } s); shorten a shot or write `length { $longer }`.
err-edit-no_time_left-shorten = `{ $line }`: the typed durations would add up to { $fixed } s of the { $length } s video, leaving { $left } s for { $autos ->
        [one] 1 shot
       *[other] { $autos } shots
    } without a duration (each needs at least { $min } s); shorten or delete a shot.
err-edit-shot_count = `{ $line }`: a storyboard has at most { $max } shots; this edit would make { $count }. Delete a shot first (`-#3`).
err-edit-shot_count-none = `{ $line }`: a storyboard needs at least one shot; add another first (`+ scene`).
err-edit-scene_long = `{ $line }`: shot { $shot }'s scene would be { $chars } characters; the limit is { $max }. Shorten it or split it into two shots.
err-edit-length = `{ $line }`: a video is { $allowed } s long; { $length } s is not available.
err-edit-aspect = `{ $line }`: the aspect is { $aspects }, not { $aspect }.
err-edit-edit_stale = `{ $line }`: the shots were renumbered while you wrote this (revision { $changed }: `{ $note }`), so #numbers may now mean other shots. Nothing was changed; check the numbers in revision { $revision } and send it again.
err-edit-form_stale = The storyboard changed while the form was open (it is now revision { $revision }), so nothing was changed. Check the card, then press Fix to send your list again.
err-edit-draft_discarded = This draft was discarded, so it can't be changed any more. Start a new one with `/storyboard`.
err-edit-nothing_to_undo = There is nothing to undo: this is the storyboard as it was created.
