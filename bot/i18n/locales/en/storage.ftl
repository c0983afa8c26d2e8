storage-user_drafts = You have { $count ->
        [one] 1 active draft
       *[other] { $count } active drafts
    } in this server and the limit is { $limit }: discard one you no longer need (the Discard button on its card) and try again. Drafts left unchanged for { $days } days stop counting.{ $drafts }
storage-user_storage = Your images and videos in this server take { $used } MB and this image needs { $need } MB more; the limit is { $limit } MB a member. Discard drafts you no longer need (their images are removed then) or wait: stored files are removed after { $days } days.
storage-disk_full = The bot's disk is nearly full ({ $free } MB free; it keeps at least { $min } MB free), so no new drafts or images can be stored right now. Please try again later.
storage-card_image = The image is { $size } MB, over this server's upload limit of { $limit } MB, and could not be made small enough to show on the draft card: { $reason } No draft was made; send a smaller image.
storage-card_failed = Discord refused to post the draft card here (HTTP { $status }), so no draft was kept and nothing was spent. Please try again.
