"""The user-facing error base: a stable code, its parameters, and an English sentence.

The translation layer renders ``code`` + ``params`` in the reader's language; ``str(err)`` is the
English text, used by the command line and logs.
"""

from __future__ import annotations

from typing import Any


class UserError(ValueError):
    """Bad input that a person can fix. Never carries a traceback to the user."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params

    @property
    def message(self) -> str:
        return str(self)
