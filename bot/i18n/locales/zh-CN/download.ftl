# 下载被拒绝或失败的原因（bot/media/download.py 的 DownloadError）：download-<code>。
# 每条都是不带句末标点的分句：它会出现在其他消息里，也会写进日志。
download-scheme = 拒绝下载非 http(s) 链接：{ $url }{ $via }
download-plain_http = 拒绝下载未加密的 HTTP 链接：{ $url }{ $via }（只下载 HTTPS 链接）
download-address = 拒绝下载 { $url }{ $via }：{ $address } 是{ $why }
download-resolves_to = 拒绝下载 { $url }{ $via }：{ $host } 解析到 { $address }，这是{ $why }
download-unresolved = 下载 { $url }{ $via } 时无法解析 { $host }
download-bad_redirect = 拒绝来自 { $url } 的无效重定向
download-redirects = 下载 { $url } 时重定向超过了 { $max } 次
download-status = 下载 { $url } 时对方返回 HTTP { $status }
download-declared_over = 视频为 { $size } 字节，超过了 { $max } 字节的上限
download-over_cap = 视频超过了 { $max } 字节的上限
download-not_mp4 = { $url } 上的文件不是 mp4 视频（文件开头不是 mp4 的文件头）
download-client = 下载 { $url } 时出错（`{ $error }`）
# 这些消息的组成部分：无法解析的链接、重定向的来源、不从某个地址下载的原因。
download-invalid_link = （无效链接）
download-redirected = （由 { $origin } 重定向而来）
download-why-unspecified = 未指定地址
download-why-loopback = 回环地址
download-why-link_local = 链路本地地址
download-why-multicast = 组播地址
download-why-reserved = 保留地址
download-why-private = 私有地址
download-why-site_local = 站点本地地址
download-why-not_public = 非公网地址
download-why-embedded = { $why }（{ $address }）
