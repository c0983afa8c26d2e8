"""kie.ai's error taxonomy: one exception carrying kie.ai's code and message, and what it means."""

from __future__ import annotations

import re

_MEANINGS: dict[int, str] = {
    400: "kie.ai says a parameter is missing",
    401: "kie.ai refused the API key; the operator should check KIE_API_KEY",
    402: "the kie.ai account is out of credits; the operator should top it up",
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
_NOT_CREATED_CODES = frozenset({400, 401, 402, 404, 422, 429, 433, 455, 501, 505})
# The verdict must be about the model itself ("model xyz is not supported", "unknown model"),
# not about a parameter of a request that names the model ("model xyz: shots[0].duration is
# invalid", "model xyz does not support a shot duration of 20 s"): at most the model's name may
# stand between "model" and the verdict.
_UNKNOWN_MODEL = re.compile(
    r"\bmodel\b(?:\s+[\w./:-]+)??\s*(?::|\bis\b|\bwas\b)?\s*"
    r"(?:unknown|unsupported|invalid|unavailable|not\s+(?:supported|available|found|exists?)"
    r"|(?:does\s+not|doesn't)\s+exist)\b"
    r"|\b(?:unknown|unsupported|invalid)\s+model\b",
    re.IGNORECASE,
)


class KieError(Exception):
    """kie.ai answered with a non-200 ``code`` (in the body or the HTTP status)."""

    def __init__(self, code: int, msg: str, *, endpoint: str = "") -> None:
        self.code = code
        self.msg = msg
        self.endpoint = endpoint
        super().__init__(f"kie.ai {endpoint or 'request'}: {code} {msg}".strip())

    @property
    def paused(self) -> bool:
        """kie.ai paused this model ("This interface is temporarily paused")."""
        return self.code == 500 and "temporarily paused" in self.msg.lower()

    @property
    def model_unavailable(self) -> bool:
        """The answer proves the model cannot take tasks now (a fallback may)."""
        if self.paused or self.code == 505:
            return True
        return self.code == 422 and bool(_UNKNOWN_MODEL.search(self.msg))

    @property
    def task_not_created(self) -> bool:
        """On createTask: kie.ai's answer proves no task exists (so nothing was charged)."""
        return self.code in _NOT_CREATED_CODES or self.paused

    @property
    def meaning(self) -> str:
        """One plain sentence for a person, with kie.ai's own message where it helps."""
        if self.paused:
            return 'kie.ai has paused this model upstream ("temporarily paused")'
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
    """kie.ai could not be reached at all (nothing was sent), after the allowed retries."""
