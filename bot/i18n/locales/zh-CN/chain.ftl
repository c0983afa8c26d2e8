# 分段生成的长分镜：草稿卡上的分段计划、分段任务的状态、重试与重做按钮及其确认、帮助。
chain-card-segments = 分段
chain-card-estimate = { $count } 段，约 { $low }-{ $high } 分钟
chain-card-segment = 第 { $segment } 段：镜头 { $shots }（{ $count } 个镜头，{ $seconds } 秒，{ $credits } 积分）
chain-card-cost_value = { $credits } 积分（约 ${ $usd }），共 { $count } 段
chain-elapsed = { $minutes ->
    [0] { $seconds } 秒
   *[other] { $minutes } 分 { $seconds } 秒
}
chain-status-segment = 🎞️ 第 { $segment } 段，共 { $segments } 段 · { $step } · 已用时 { $elapsed }
chain-status-joining = 🎞️ 正在把 { $segments } 段合成为一个视频 · 已用时 { $elapsed }
chain-step-starting = 正在开始
chain-step-waiting = 已提交到 kie.ai，等待开始
chain-step-queuing = 在 kie.ai 的队列中
chain-step-generating = 生成中
chain-step-fetching = 已生成，正在获取视频
chain-step-frame = 正在把这一段的最后一帧交给下一段
chain-status-made = { $made ->
    [1] 第 1 段已生成并保留
   *[other] 第 1-{ $made } 段已生成并保留
}：从第 { $segment } 段重试时不会再次为其付费。
chain-button-retry = 从第 { $segment } 段重试
chain-select-redo = 重做某一段…
chain-option-redo = 重做第 { $segment } 段
chain-option-redo_shots = 镜头 { $shots }（{ $count } 个）
chain-button-confirm = 确认
chain-confirm-retry = 🔁 从第 { $segment } 段重试（共 { $segments } 段）：重新生成 { $count } 段，费用 { $credits } 积分（约 ${ $usd }）；{ $reused ->
    [0] 之前没有可复用的段。
   *[other] 之前的 { $reused } 段直接复用，不再付费。
} 点击**确认**开始。
chain-confirm-redo = 🎲 重做第 { $segment } 段（共 { $segments } 段）：{ $count ->
    [1] 重新生成这一段
   *[other] 重新生成这一段及其后的 { $after } 段
}，费用 { $credits } 积分（约 ${ $usd }）；{ $reused ->
    [0] 之前没有可复用的段。
   *[other] 之前的 { $reused } 段直接复用，不再付费。
} 新视频会另行发布。点击**确认**开始。
chain-already = 已经开始了。
chain-gone = 无法再执行此操作：视频已有变化（正在重新生成，或已被删除）。
chain-help-title = 长分镜
chain-help-body = 一个分镜最长 { $seconds } 秒，最多 { $shots } 个镜头。超过 { $model } 单个视频上限（{ $model_shots } 个镜头、{ $model_length } 秒）的分镜会在镜头之间切分成若干段生成：每段从上一段的最后一帧开始，最后合成为一个视频。镜头不会被拆开，所以单个镜头最长 { $segment_max } 秒。草稿卡会显示分段、大约耗时和总价，点击生成时一次性预留全部费用。某一段失败时，**从第 N 段重试**会重新生成这一段及其后的段，并复用之前的段；视频完成后，**重做某一段**会重新生成该段（及其后的段）。只为重新生成的部分付费，开始前会先显示价格。
