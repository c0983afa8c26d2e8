# 等待提交到 kie.ai 的任务：在机器人提交队列中的位置（$position，1 = 下一个提交）和预计提交时间
# （$starts，Discord 时间戳）。显示在状态消息中，随队列前进而更新。
queue-status = ⏳ 队列第 { $position } 位，预计开始于 { $starts }。仍可取消。
# /storyboard-status 中的一行。
queue-line = 队列第 { $position } 位，预计开始于 { $starts }
