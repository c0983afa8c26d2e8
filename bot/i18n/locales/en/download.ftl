# Why a download was refused or failed (bot/media/download.py's DownloadError): download-<code>.
# Each is a clause without a final stop: it is shown inside other messages and in the log.
download-scheme = refusing to download a non-http(s) link: { $url }{ $via }
download-plain_http = refusing a plain-http link: { $url }{ $via } (only https is fetched)
download-address = refusing to fetch { $url }{ $via }: { $address } is { $why }
download-resolves_to = refusing to fetch { $url }{ $via }: { $host } resolves to { $address }, { $why }
download-unresolved = cannot resolve { $host } fetching { $url }{ $via }
download-bad_redirect = refusing an invalid redirect from { $url }
download-redirects = more than { $max } redirects fetching { $url }
download-status = HTTP { $status } fetching { $url }
download-declared_over = the video is { $size } bytes, over the { $max }-byte cap
download-over_cap = the video is over the { $max }-byte cap
download-not_mp4 = the file at { $url } is not an mp4 video (it does not start with an ftyp box)
download-client = { $error } fetching { $url }
# The parts of those messages: a link that cannot be read, where a redirect came from, and why
# an address is not fetched from.
download-invalid_link = (invalid link)
download-redirected = { " " }(redirected from { $origin })
download-why-unspecified = an unspecified address
download-why-loopback = a loopback address
download-why-link_local = a link-local address
download-why-multicast = a multicast address
download-why-reserved = a reserved address
download-why-private = a private address
download-why-site_local = a site-local address
download-why-not_public = not a public address
download-why-embedded = { $why } ({ $address })
