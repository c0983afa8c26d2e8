"""Why a job ended: every reason has a sentence in every language, and kie.ai's failMsg is read
into the reason a member understands."""

from __future__ import annotations

import re
import string

import pytest

from bot.i18n.strings import LANGS, STRINGS, reason_text
from bot.jobs.reasons import REASONS, generation_failure


def test_every_reason_has_a_sentence_in_every_language_with_the_same_values():
    keys = {k.removeprefix("reason.") for k in STRINGS if k.startswith("reason.")}
    assert keys == REASONS | {"other"}
    for code in keys:
        entry = STRINGS[f"reason.{code}"]
        fields = [
            {name for _, name, _, _ in string.Formatter().parse(entry[lang]) if name}
            for lang in LANGS
        ]
        assert all(f == fields[0] for f in fields), code


@pytest.mark.parametrize(
    ("fail_msg", "code"),
    [
        (
            "This content may violate our guardrails concerning similarity to third-party content.",
            "content_policy",
        ),
        ("Your prompt was flagged by our content policy", "content_policy"),
        (
            "We currently do not support uploads of images containing photorealistic people.",
            "people_in_image",
        ),
        ("Generation failed: upstream error", "generation_failed"),
        ("", "generation_failed"),
    ],
)
def test_kies_fail_message_becomes_a_plain_reason(fail_msg, code):
    assert generation_failure(fail_msg) == code


def test_an_unknown_code_reads_as_something_went_wrong_never_the_code():
    assert reason_text("kie:402", None, "en") == "something went wrong"
    assert reason_text(None, None, "zh") == "出现了问题"


def test_a_fallback_refusal_renders_the_guilds_rule_in_the_readers_language():
    params = {
        "model": "sora-2-pro-storyboard",
        "fallback": "kling-3.0-omni/image-to-video",
        "rule": "audio",
        "rule_msg": "This server does not allow videos with audio; "
        "kling-3.0-omni/image-to-video is set to make them.",
        "rule_params": {"model": "kling-3.0-omni/image-to-video"},
    }
    en = reason_text("fallback_refused", params, "en")
    assert en.endswith(
        ": This server does not allow videos with audio; "
        "kling-3.0-omni/image-to-video is set to make them"
    )
    zh = reason_text("fallback_refused", params, "zh")
    assert not re.search(r"This server|does not", zh), zh
