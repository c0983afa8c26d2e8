# The quota's rules for long storyboards, made as a chain of segments (one generation each).

err-quota-segments = 这个故事板需要 { $segments } 个片段；本服务器每个视频最多允许 { $limit } 个片段。请缩短镜头或删掉一些。
admin-setting-max_segments = 长故事板最多可由多少个片段组成，每个片段生成一次（数字或 none）
