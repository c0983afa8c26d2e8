# storyboard-bot: the Discord bot (`storyboard-bot run`) in a small image.
#
#   docker build -t storyboard-bot .
#   docker run -d --env-file deploy/storyboard-bot.env -v storyboard-data:/data storyboard-bot
#
# or deploy/compose.yaml. Secrets come from the environment or from secret files
# (KIE_API_KEY_FILE=/run/secrets/...), never baked into the image; the database and the
# stored media live in the /data volume (STORYBOARD_DATA_DIR).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STORYBOARD_DATA_DIR=/data \
    STORYBOARD_HTTP_HOST=0.0.0.0 \
    STORYBOARD_HTTP_PORT=8080

# A dedicated user without a login shell; it owns /data and nothing else.
RUN groupadd --system --gid 10001 storyboard \
    && useradd --system --uid 10001 --gid storyboard --home-dir /data \
       --shell /usr/sbin/nologin storyboard \
    && mkdir -p /data \
    && chown storyboard:storyboard /data

# The README's install step (`pip install .`), from the source tree.
WORKDIR /opt/storyboard-bot
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-cache-dir .

USER 10001:10001
# ./config.toml (optional) is read from the working directory: mount one at /data/config.toml.
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# The bot's own health route (GET /healthz answers {"ok": true} while the database answers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('STORYBOARD_HTTP_PORT', '8080'), timeout=4)"]

# `docker stop` sends SIGTERM; give the bot time to finish (e.g. `docker stop -t 90`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["storyboard-bot"]
CMD ["run"]
