storage-user_drafts = 你在本服务器有 { $count } 个进行中的草稿，上限为 { $limit } 个：请丢弃一个不再需要的草稿（卡片上的“丢弃”按钮）后再试。{ $days } 天未修改的草稿不再计入。{ $drafts }
storage-user_storage = 你在本服务器存储的图片和视频共 { $used } MB，这张图片还需要 { $need } MB；每位成员的上限为 { $limit } MB。请丢弃不再需要的草稿（其图片随之删除），或等待：存储的文件会在 { $days } 天后删除。
storage-disk_full = 机器人的磁盘快满了（剩余 { $free } MB，至少需保留 { $min } MB），暂时无法存储新的草稿或图片。请稍后再试。
storage-card_image = 图片大小为 { $size } MB，超过本服务器 { $limit } MB 的上传限制，且无法缩小到可以显示在草稿卡片上：{ $reason } 草稿未创建；请发送更小的图片。
storage-card_failed = Discord 拒绝在这里发布草稿卡片（HTTP { $status }），因此没有保留草稿，也未产生费用。请重试。
