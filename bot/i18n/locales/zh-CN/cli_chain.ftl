# 命令行自己的拒绝原因（bot/app/render.py）：无法读取的参考图片文件。
image-no_file = { $path }：没有这个文件
image-directory = { $path } 是一个文件夹，不是图片
image-unreadable = 无法读取 { $path }（{ $detail }）
