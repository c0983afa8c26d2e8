"""Why a job ended without a video (or is held back), as a code members read in their language.

A job's ``fail_code`` is one of :data:`REASONS` and its ``fail_params`` hold the values the
sentence needs; ``fail_msg`` is the operator's detail (kie.ai's own words, the field it named,
the host that could not be reached). Members see ``reason.<code>`` from ``bot.i18n.strings``
rendered from the code and its values, never kie.ai's English text; the log, the guild's admin
log and the command line show ``fail_msg``.
"""

from __future__ import annotations

import re

# A job that ended without a video.
REASONS: frozenset[str] = frozenset(
    {
        # nothing was sent, or kie.ai proved no task was created
        "cancelled",
        "deadline_queued",  # waited too long to be sent
        "image",  # the reference image could not be prepared or uploaded
        "invalid_request",  # kie.ai refused the request as invalid (a field it names)
        "model_unavailable",  # paused, removed or disabled at kie.ai, and no fallback
        "model_unavailable_misfit",  # ... and the fallback cannot take the storyboard
        "models_unavailable",  # the model and its fallback are both unavailable
        "fallback_refused",  # the fallback that would take it breaks one of the guild's rules
        "out_of_credits",
        "kie_auth",  # kie.ai refused the API key
        "key_limit",  # the key's usage limit
        "kie_blocked",  # the CDN in front of kie.ai refused the request
        "rate_limited",
        "maintenance",
        "unreachable",  # a kie.ai host could not be reached until the job gave up
        "kie_error",  # any other refusal that proves no task exists
        # kie.ai took the task
        "content_policy",  # kie.ai's content rules refused what it was asked to make
        "people_in_image",  # photorealistic people in the reference image
        "generation_failed",  # any other failure kie.ai reports
        "no_result",  # success without a video
        "deadline",  # kie.ai did not finish in time
        "unknown",  # the createTask answer was lost: never sent again
        "unknown_stopped",  # the bot stopped while sending it
        "unknown_deadline",  # kie.ai never confirmed it until the deadline
        "unknown_no_callback",  # ... and without callbacks nothing ever can
        # the video exists
        "download",
        "undeliverable",
        # a long storyboard made as segments (bot.jobs.chaining)
        "segment_failed",  # segment {segment} of {segments} ended without a video: {reason}
        "frame_failed",  # segment {segment}'s last frame could not be handed to the next one
        "join_failed",  # every segment was made, but they could not be joined into one video
    }
)

# kie.ai's failMsg wording for its content rules (seen in clients): "This content may violate
# our guardrails concerning similarity to third-party content.", "... content policy ...".
_CONTENT = re.compile(
    r"guardrail|content\s+polic|violat|moderation|sensitive|prohibited|not\s+allowed"
    r"|inappropriate|nsfw|copyright|third[-\s]party|public\s+figure|celebrit",
    re.IGNORECASE,
)
_PEOPLE = re.compile(r"photorealistic\s+people|real\s+(?:people|person|human)", re.IGNORECASE)


def generation_failure(fail_msg: str) -> str:
    """The reason code of a task kie.ai reports as failed, from its ``failMsg``."""
    if _PEOPLE.search(fail_msg):
        return "people_in_image"
    if _CONTENT.search(fail_msg):
        return "content_policy"
    return "generation_failed"


__all__ = ["REASONS", "generation_failure"]
