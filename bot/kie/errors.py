"""kie.ai's error taxonomy: one exception carrying kie.ai's code and message, and what it means.

What an answer *proves* matters more than its code: a createTask answer that proves no task
exists ends the job at once (nothing was charged); anything else may have created a task and is
never sent again. Live kie.ai answers a request that fails validation with code 500 (the same
code as a server error) and kie.ai's own wording ("This field is required", "aspect_ratio is
required", "... must be ...", "... is invalid", "... exceeds ..."); validation runs before any
task exists, so such a 500 proves nothing was created. A 500 with any other text proves nothing.
"""

from __future__ import annotations

import re

_MEANINGS: dict[int, str] = {
    400: "kie.ai says a parameter is missing",
    401: "kie.ai refused the API key; the operator should check KIE_API_KEY",
    402: "the kie.ai account is out of credits; the operator should top it up",
    403: "kie.ai refused access to this request",
    404: "kie.ai does not know that resource",
    408: "kie.ai's upstream gave no result for over 10 minutes",
    422: "kie.ai refused the request",
    429: "kie.ai is rate limiting this bot; try again in a minute",
    433: "the kie.ai key reached its usage limit; the operator should raise it",
    455: "kie.ai is under maintenance; try again later",
    500: "kie.ai had a server error",
    501: "the generation failed",
    505: "this feature is disabled on kie.ai",
}

# Answers on createTask that prove no task was created.
_NOT_CREATED_CODES = frozenset({400, 401, 402, 403, 404, 422, 429, 433, 455, 501, 505})
# The verdict must be about the model itself ("model xyz is not supported", "unknown model",
# live kie.ai's "The model name you specified is not supported. Please verify your input..."),
# not about a parameter of a request that names the model ("model xyz: shots[0].duration is
# invalid", "model xyz does not support a shot duration of 20 s"): at most the model's name may
# stand between "model" and the verdict.
_UNKNOWN_MODEL = re.compile(
    r"\bmodel\b(?:\s+[\w./:-]+)??\s*(?::|\bis\b|\bwas\b)?\s*"
    r"(?:unknown|unsupported|invalid|unavailable|not\s+(?:supported|available|found|exists?)"
    r"|(?:does\s+not|doesn't)\s+exist)\b"
    r"|\b(?:unknown|unsupported|invalid)\s+model\b"
    r"|\bmodel\s+name\s+you\s+specified\s+is\s+not\s+supported\b",
    re.IGNORECASE,
)
_UNKNOWN_MODEL_CODES = frozenset({404, 422})
# kie.ai's validation wording (seen live with code 500): a field is missing, of the wrong type
# or value, or too long. Each names a field, except the bare "This field is required".
_VALIDATION = re.compile(
    r"\b(?:is|are)\s+required\b"
    r"|\bmust\s+(?:be|not|have|contain|match)\b"
    r"|\b(?:is|are)\s+(?:invalid|not\s+(?:a\s+)?valid|too\s+(?:long|short|large|small))\b"
    r"|\bexceeds?\b"
    r"|\binvalid\s+(?:value|parameter|field|type|format)\b",
    re.IGNORECASE,
)
# "aspect_ratio is required", "input.shots[0].duration must be ...": the leading identifier.
_FIELD = re.compile(r"^\s*([A-Za-z_][\w.\[\]]*)\s+(?:is|are|must|exceeds?)\b")
_NOT_FIELDS = frozenset({"this", "the", "that", "it", "field", "value", "request", "input"})


class KieError(Exception):
    """kie.ai answered with a non-200 ``code`` (in the body or the HTTP status).

    ``html``: the answer was a web page, not kie.ai's JSON (a CDN in front of kie.ai answered).
    """

    def __init__(self, code: int, msg: str, *, endpoint: str = "", html: bool = False) -> None:
        self.code = code
        self.msg = msg
        self.endpoint = endpoint
        self.html = html
        super().__init__(f"kie.ai {endpoint or 'request'}: {code} {msg}".strip())

    @property
    def paused(self) -> bool:
        """kie.ai paused this model ("This interface is temporarily paused")."""
        return self.code == 500 and "temporarily paused" in self.msg.lower()

    @property
    def unknown_model(self) -> bool:
        """kie.ai does not (or no longer) offer the model: "The model name you specified is
        not supported" (seen live with 422 and 404)."""
        return (
            not self.html
            and self.code in _UNKNOWN_MODEL_CODES
            and bool(_UNKNOWN_MODEL.search(self.msg))
        )

    @property
    def model_unavailable(self) -> bool:
        """The answer proves the model cannot take tasks now (a fallback may)."""
        return self.paused or self.code == 505 or self.unknown_model

    @property
    def validation(self) -> bool:
        """kie.ai refused the request's content: a field missing or invalid (a 400, a 422, or
        a 500 in kie.ai's validation wording). No task exists."""
        if self.html or self.paused or self.unknown_model:
            return False
        if self.code in (400, 422):
            return True
        return self.code == 500 and bool(_VALIDATION.search(self.msg))

    @property
    def field(self) -> str | None:
        """The field a validation message names ("aspect_ratio is required"), if it names one."""
        m = _FIELD.match(self.msg)
        if m is None or m[1].lower() in _NOT_FIELDS:
            return None
        return m[1]

    @property
    def task_not_created(self) -> bool:
        """On createTask: kie.ai's answer proves no task exists (so nothing was charged)."""
        if self.html:
            return 400 <= self.code < 500
        return self.code in _NOT_CREATED_CODES or self.paused or self.validation

    @property
    def reason(self) -> str:
        """What the answer means for a member, as a code (``reason.<code>`` in bot.i18n.strings)."""
        if self.model_unavailable:
            return "model_unavailable"
        if self.html and self.code in (401, 403):
            return "kie_blocked"
        if self.validation:
            return "invalid_request"
        return {
            401: "kie_auth",
            402: "out_of_credits",
            403: "kie_blocked",
            429: "rate_limited",
            433: "key_limit",
            455: "maintenance",
            501: "generation_failed",
        }.get(self.code, "kie_error")

    @property
    def meaning(self) -> str:
        """One plain English sentence for the operator, with kie.ai's own message where it
        helps. Members see :attr:`reason` rendered in their language instead."""
        if self.paused:
            return 'kie.ai has paused this model upstream ("temporarily paused")'
        if self.unknown_model:
            return f"kie.ai does not offer this model (it answered {self.code}: {self.msg})"
        if self.html:
            return (
                f"kie.ai answered HTTP {self.code} with a web page instead of its JSON "
                "(the CDN in front of kie.ai refused or failed the request)"
            )
        if self.validation and self.code == 500:
            field = f" (field: {self.field})" if self.field else ""
            return f"kie.ai refused the request as invalid: {self.msg}{field}"
        base = _MEANINGS.get(self.code, f"kie.ai answered with code {self.code}")
        if self.code in {400, 422, 500, 501} and self.msg:
            return f"{base}: {self.msg}"
        return base


class CreateOutcomeUnknown(Exception):
    """createTask was sent but its answer was lost (timeout, reset, 5xx).

    The task may exist and be charged: never resubmit as if it had failed.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"createTask outcome unknown: {reason}")


class KieUnreachable(Exception):
    """kie.ai could not be reached at all (nothing was sent), after the allowed retries.

    ``host`` is the host that could not be reached and ``setting`` the setting that names it
    (``KIE_BASE_URL`` or ``KIE_UPLOAD_URL``), so the operator knows where to look.
    """

    def __init__(
        self, message: str, *, host: str = "", setting: str = "", endpoint: str = ""
    ) -> None:
        super().__init__(message)
        self.host = host
        self.setting = setting
        self.endpoint = endpoint
