"""The quota's user errors: a refusal by a limit, and a setting value an admin cannot set."""

from __future__ import annotations

from bot.domain.errors import UserError


class QuotaRefused(UserError):
    """A reservation was refused by a limit; ``code`` names it, ``params`` hold the numbers
    (JSON values: a refused fallback keeps them in the job). Worded as ``err.quota.<code>``."""

    prefix = "err.quota"

    @property
    def until(self) -> int | None:
        value = self.params.get("until")
        return int(value) if value is not None else None


class QuotaSettingError(UserError):
    """A quota setting name or value an admin typed is not valid; the message says why.
    Worded as ``err.<code>`` (its codes start ``quota_``)."""
