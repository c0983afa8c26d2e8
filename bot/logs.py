"""Logging set-up, with a filter that blanks configured secrets out of every record."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from bot.config import Settings

REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        changed = False
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
                changed = True
            if record.exc_text and secret in record.exc_text:
                record.exc_text = record.exc_text.replace(secret, REDACTED)
        if changed:
            record.msg, record.args = text, None
        return True


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.discord.token, settings.kie.api_key, settings.kie.webhook_hmac_key]
    return [v.get_secret_value() for v in values if v is not None]


def setup_logging(settings: Settings | None, *, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    if settings is not None:
        handler.addFilter(RedactSecrets(secrets_of(settings)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("discord").setLevel(max(level, logging.INFO))
