# The quota's rules for long storyboards, made as a chain of segments (one generation each).

err-quota-segments = This storyboard needs { $segments ->
        [one] 1 segment
       *[other] { $segments } segments
    }; this server allows at most { $limit ->
        [one] 1 segment
       *[other] { $limit } segments
    } per video. Shorten the shots or remove some.
admin-setting-max_segments = segments a long storyboard may be made of, one video each (a number or none)
