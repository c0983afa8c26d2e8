cmd-storyboard = 用一张图片和一组镜头生成短视频
cmd-storyboard-image = 参考图片（png、jpeg、webp 等）
cmd-storyboard-shots = 用 ; 分隔的镜头，例如 7.5 | 小猫; 7.5 | 它笑了（留空则打开表单）
cmd-storyboard-length = 视频时长（秒）
cmd-storyboard-aspect = 横屏或竖屏（默认跟随图片）
cmd-status = 你最近的分镜视频
cmd-usage = 你今天和本月的剩余额度
cmd-help = 如何编写镜头（含示例）
button-generate = 生成
button-edit = 编辑
button-discard = 丢弃
button-regenerate = 重新生成
button-delete = 删除
button-download = 下载
button-cancel = 取消
button-add_shot = 添加镜头
button-undo = 撤销
button-settings = 时长、画幅、图片
select-shot = 编辑、移动或删除一个镜头…
modal-shot-title = 第 { $shot } 个镜头
modal-add-title = 新镜头
modal-settings-title = 分镜设置
modal-scene = 场景
modal-duration = 时长（秒）
modal-duration-description = 留空则与其他自动时长的镜头平分剩余时长。
modal-duration-placeholder = 例如 4.5
modal-position = 位置
modal-delete = 删除此镜头
modal-length = 视频时长
modal-aspect = 画幅
modal-image = 新参考图（可选）
modal-image-description = JPEG、PNG 或 WebP；其他格式会被转换。
button-fix = 修改
modal-title = 分镜镜头
modal-label = 镜头，每行一个
modal-description = 7.5 | 场景；只写场景则平分时长
modal-example =
    7.5 | 一只戴着耳机的橘色小猫，温暖的灯光
    7.5 | 小猫满足地舔着嘴唇
help-title = 如何编写镜头
help-thread = 在子区中修改草稿
help-body =
    使用 `/storyboard` 并附上一张图片。在表单中每行写一个镜头，或在 `shots` 选项中用 `;` 分隔。

    {"*"}*镜头格式：** `[时长[s|秒] |] 场景`
    ```
    7.5 | 一只戴耳机的橘色小猫
    7.5s | 小猫舔着嘴唇
    7.5秒｜同一只小猫舔着嘴唇
    没有时长的场景
    ```
    没有写时长的镜头会平分剩余时长。时长精确到 0.1 秒。全角符号（`｜`、`；`、全角数字）同样可用。

    {"*"}*限制：** { $limits }
help-limits = { $model }：1-{ $shots } 个镜头，每个 { $min }-{ $max } 秒，总时长不超过 { $lengths }
