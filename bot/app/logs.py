"""Logging set-up, with a filter that blanks configured secrets out of every record.

Two formats: ``text`` (the default), one line per record with the date, time and UTC offset::

    2026-11-24T18:03:12.345+01:00 INFO    bot.tracker: job 3f2a... submitted

and ``json``, one JSON object per line for log shippers, with the keys ``time``, ``level``,
``logger`` and ``message`` (plus ``exception`` / ``stack`` when the record carries one).
Secrets are blanked out of the message, the traceback and the ``extra=`` fields before either
format (or any other formatter) sees them.

The level and format come from ``--log-level`` / ``--log-format`` on the command line, else
the settings' ``[log]`` section (``STORYBOARD_LOG_LEVEL`` / ``STORYBOARD_LOG_FORMAT``, or the
config file); ``-v`` is ``--log-level debug``.
aiosqlite and Pillow log every statement and every image chunk at debug level: they stay at
warning whatever the level.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO

from bot.config.settings import LogSettings, Settings

REDACTED = "[redacted]"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
LEVELS |= {"error": logging.ERROR, "critical": logging.CRITICAL}
FORMATS = ("text", "json")
# Libraries whose debug output drowns everything else; kept at WARNING even with -v.
QUIET = ("aiosqlite", "PIL")


# The attributes every LogRecord has; any other attribute came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class RedactSecrets(logging.Filter):
    """Blanks the configured secrets out of a record: its message (arguments included), its
    traceback and stack, and the fields given with ``extra=``, whatever formats it next."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def _blank(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

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
            if record.stack_info and secret in record.stack_info:
                record.stack_info = record.stack_info.replace(secret, REDACTED)
        if changed:
            record.msg, record.args = text, None
        for name, value in list(vars(record).items()):
            if name in _RECORD_ATTRIBUTES or value is None or isinstance(value, int | float):
                continue
            shown = value if isinstance(value, str) else str(value)
            blanked = self._blank(shown)
            if blanked != shown:
                setattr(record, name, blanked)
        return True


def _time(record: logging.LogRecord) -> str:
    """Local time, ISO 8601, to the millisecond, with the UTC offset."""
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _time(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.discord.token, settings.kie.api_key, settings.kie.webhook_hmac_key]
    return [v.get_secret_value() for v in values if v is not None]


def choose_logging(
    log: LogSettings | None = None,
    *,
    level: str | None = None,
    verbose: bool = False,
    fmt: str | None = None,
    default_level: int = logging.INFO,
) -> tuple[int, str]:
    """The level and format to log at: the command line's, else the settings' (``[log]``,
    ``STORYBOARD_LOG_LEVEL`` / ``STORYBOARD_LOG_FORMAT``), else the defaults."""
    log = LogSettings() if log is None else log
    chosen = LEVELS[log.level] if log.level else default_level
    if verbose:
        chosen = logging.DEBUG
    if level:
        chosen = LEVELS[level.lower()]
    return chosen, (fmt or log.format).lower()


def setup_logging(
    settings: Settings | None,
    *,
    level: int = logging.INFO,
    fmt: str = "text",
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every record to ``stream`` (stderr) in ``fmt``, secrets blanked out."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if settings is not None:
        handler.addFilter(RedactSecrets(secrets_of(settings)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("discord").setLevel(max(level, logging.INFO))
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return handler
