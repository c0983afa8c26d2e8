"""The user-facing error base: a stable code and every parameter its message needs.

An error never carries a sentence. Its words live in the message catalogs
(``bot/i18n/locales/<catalog>/*.ftl``), under the key ``<prefix>.<code>`` (``err.shot_count``;
a subclass sets its own ``prefix``: ``err.edit`` for thread edits, ``err.quota`` for quota
refusals, ``storage`` for storage refusals), or ``<prefix>.<code>.<shape>`` when one code is
worded in two shapes (``shape="none"``). ``str(err)`` is the English catalog's rendering (the
command line and logs use it); ``bot.i18n.strings.error_text(err, lang)`` renders it in the
reader's language.

To give a new error a message:

1. add the message to every catalog, e.g. in ``locales/en/errors.ftl``::

       err-scene_long = Shot { $shot }'s scene is { $chars ->
           [one] 1 character
          *[other] { $chars } characters
       }; the limit is { $max }.

   and the same id, with the same ``$parameters``, in ``locales/zh-CN/errors.ftl``;
2. raise it with its code and its parameters, and no text:
   ``raise StoryboardError("scene_long", shot=3, chars=400, max=350)``. Numbers stay numbers
   (the catalog picks plurals from them); a list is shown as ``a, b`` and a :class:`OneOf` as
   ``a, b or c``, in the reader's words; a :class:`Ref` is another message of the catalog.

``tests/bot/i18n`` checks that every code raised in ``bot/`` has a message in every catalog with
the same parameters. The older form ``UserError(code, "English sentence", **params)`` is still
accepted while callers move over: the sentence is used only when the catalog lacks the code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

Renderer = Callable[[str, Mapping[str, Any]], "str | None"]

_renderer: list[Renderer] = []


def use_renderer(render: Renderer) -> None:
    """Installed by the catalog (``bot.i18n.catalog``), which sits above the core: ``render(key,
    params)`` is the English text of a message, or None when the catalog lacks it."""
    _renderer[:] = [render]


class OneOf(tuple[Any, ...]):
    """A choice among values (the lengths a model takes): worded "10, 15 or 25". A JSON list
    when stored."""


@dataclass(frozen=True)
class Ref:
    """A parameter that is itself a catalog message (why a value was refused, a setting's help),
    rendered in the reader's language with its own ``params``."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, key: str, /, **params: Any) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "params", params)


class UserError(ValueError):
    """Bad input that a person can fix. Never carries a traceback to the user."""

    prefix: ClassVar[str] = "err"

    def __init__(
        self, code: str, message: str | None = None, /, *, shape: str | None = None, **params: Any
    ) -> None:
        super().__init__(code)
        self.code = code
        self.shape = shape
        self.params = params
        self._fallback = message

    @property
    def key(self) -> str:
        """The catalog key of this error's message."""
        base = f"{self.prefix}.{self.code}"
        return f"{base}.{self.shape}" if self.shape else base

    def __str__(self) -> str:
        if not _renderer:
            # The catalog is above the core and installs itself when imported; a program that
            # has not imported it yet (a script, a test of the core) loads it on first use.
            importlib.import_module("bot.i18n.catalog")
        for render in _renderer:
            text = render(self.key, self.params)
            if text is not None:
                return text
        if self._fallback is not None:
            return self._fallback
        return self.key

    @property
    def message(self) -> str:
        return str(self)
