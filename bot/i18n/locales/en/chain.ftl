# Long storyboards made as chained segments: the card's plan, a chain's status, its retry and
# redo buttons and their confirmations, and the help.
chain-card-segments = Segments
chain-card-estimate = { $count ->
    [one] 1 segment
   *[other] { $count } segments
}, about { $low }-{ $high } min
chain-card-segment = Segment { $segment }: { $count ->
    [one] shot { $shots }
   *[other] shots { $shots }
} ({ $seconds } s, { $credits } credits)
chain-card-cost_value = { $credits } credits (≈ ${ $usd }) for { $count ->
    [one] 1 segment
   *[other] { $count } segments
}
chain-elapsed = { $minutes ->
    [0] { $seconds } s
   *[other] { $minutes } min { $seconds } s
}
chain-status-segment = 🎞️ Segment { $segment } of { $segments } · { $step } · { $elapsed } elapsed
chain-status-joining = 🎞️ Joining the { $segments } segments into one video · { $elapsed } elapsed
chain-step-starting = starting
chain-step-waiting = sent to kie.ai, waiting to start
chain-step-queuing = in kie.ai's queue
chain-step-generating = generating
chain-step-fetching = made, fetching its video
chain-step-frame = handing its last frame to the next segment
chain-status-made = { $made ->
    [one] Segment 1 was made and is kept
   *[other] Segments 1-{ $made } were made and are kept
}: a retry from segment { $segment } does not pay for { $made ->
    [one] it
   *[other] them
} again.
chain-button-retry = Retry from segment { $segment }
chain-select-redo = Redo a segment…
chain-option-redo = Redo segment { $segment }
chain-option-redo_shots = { $count ->
    [one] shot { $shots }
   *[other] shots { $shots }
}
chain-button-confirm = Confirm
chain-confirm-retry = 🔁 Retry from segment { $segment } of { $segments }: { $count ->
    [one] 1 segment is
   *[other] { $count } segments are
} made again for { $credits } credits (≈ ${ $usd }); { $reused ->
    [0] nothing before it is reused.
    [one] the segment before it is reused and not paid again.
   *[other] the { $reused } segments before it are reused and not paid again.
} Press **Confirm** to start.
chain-confirm-redo = 🎲 Redo segment { $segment } of { $segments }: { $count ->
    [one] it is
   *[other] it and the { $after ->
        [one] segment
       *[other] { $after } segments
    } after it are
} made again for { $credits } credits (≈ ${ $usd }); { $reused ->
    [0] nothing before it is reused.
    [one] the segment before it is reused and not paid again.
   *[other] the { $reused } segments before it are reused and not paid again.
} The new video is posted beside this one. Press **Confirm** to start.
chain-already = That was started already.
chain-gone = That can no longer be done: the video changed since (it is running again, or was deleted).
chain-help-title = Long storyboards
chain-help-body = A storyboard can last up to { $seconds } s with up to { $shots } shots. One longer than { $model } makes in one video ({ $model_shots } shots, { $model_length } s) is made in segments, cut between shots: each segment starts from the last frame of the one before, and they are joined into one video. A shot is never split, so one shot lasts at most { $segment_max } s. The card shows the segments, about how long they take and the total price, which Generate reserves at once. If a segment fails, **Retry from segment N** makes it and the ones after it again and reuses those before it; on a finished video, **Redo a segment** makes one segment (and the ones after it) again. Only what is made again is paid for, and the price is shown before anything starts.
