"""kie.ai's error taxonomy: each documented code's meaning for a person, and what it proves."""

from __future__ import annotations

import pytest

from bot.kie import CreateOutcomeUnknown, KieError

PAUSED = "This interface is temporarily paused"


@pytest.mark.parametrize(
    ("code", "msg", "words"),
    [
        (401, "You do not have access permissions", ["API key", "KIE_API_KEY"]),
        (402, "The current credits are insufficient. Please top up.", ["out of credits"]),
        (422, "input.shots[0].duration must be between 0.1 and 15", ["refused", "duration"]),
        (429, "Rate limit exceeded", ["rate limiting", "try again"]),
        (433, "Sub-key usage limit", ["usage limit"]),
        (455, "Service maintenance", ["maintenance", "try again later"]),
        (500, "Server exception", ["server error", "Server exception"]),
        (501, "This content may violate our guardrails", ["generation failed", "guardrails"]),
        (505, "Feature disabled", ["disabled"]),
    ],
)
def test_each_documented_code_has_its_meaning(code, msg, words):
    err = KieError(code, msg, endpoint="createTask")
    for word in words:
        assert word in err.meaning
    assert err.code == code and err.msg == msg
    assert str(code) in str(err) and msg in str(err) and "createTask" in str(err)


def test_meanings_are_distinct_per_code():
    codes = [401, 402, 422, 429, 433, 455, 500, 501, 505]
    meanings = {KieError(code, "").meaning for code in codes}
    assert len(meanings) == len(codes)
    assert KieError(500, PAUSED).meaning not in meanings


def test_kies_own_message_is_kept_where_it_is_the_useful_part():
    assert KieError(422, "model xyz is not supported").meaning.endswith(
        "model xyz is not supported)"
    )
    assert KieError(500, "aspect_ratio is required").meaning == (
        "kie.ai refused the request as invalid: aspect_ratio is required (field: aspect_ratio)"
    )
    assert KieError(501, "We currently do not support photorealistic people.").meaning.endswith(
        ": We currently do not support photorealistic people."
    )
    # Where kie.ai's text adds nothing, the meaning stands alone.
    assert ":" not in KieError(402, "insufficient").meaning
    assert KieError(422, "").meaning == "kie.ai refused the request"


def test_a_paused_model():
    err = KieError(500, PAUSED)
    assert err.paused
    assert err.model_unavailable
    assert err.task_not_created
    assert "paused" in err.meaning
    assert "server error" not in err.meaning
    # Case does not matter; a plain 500 is not a pause.
    assert KieError(500, "this interface is TEMPORARILY PAUSED.").paused
    plain = KieError(500, "Internal Server Error")
    assert not plain.paused and not plain.model_unavailable and not plain.task_not_created


@pytest.mark.parametrize(
    "msg",
    [
        "model xyz is not supported",
        "model kling-3.0-omni/image-to-video is not supported",
        "unknown model",
        "Unknown model: sora-3",
        "Invalid model",
        "The model does not exist",
        "model: unknown",
    ],
)
def test_an_unknown_model_is_model_unavailable(msg):
    assert KieError(422, msg).model_unavailable


@pytest.mark.parametrize(
    "msg",
    [
        "input.shots[0].duration must be between 0.1 and 15, got 20",
        "total shot duration 16s exceeds n_frames 15",
        "Model sora-2-pro-storyboard: shots[0].duration is invalid",
        "model sora-2-pro-storyboard does not support a shot duration of 20s",
        "The duration is invalid for model sora-2-pro-storyboard",
        "model is required",
        "input.image_urls[0] is not a valid image",
    ],
)
def test_a_422_about_the_request_is_not_model_unavailable(msg):
    err = KieError(422, msg)
    assert not err.model_unavailable
    assert err.task_not_created


def test_model_unavailable_needs_the_right_code():
    assert KieError(505, "Feature disabled").model_unavailable
    assert not KieError(500, "model xyz is not supported").model_unavailable
    assert not KieError(401, "unknown model").model_unavailable


@pytest.mark.parametrize("code", [401, 402, 422, 429, 433, 455, 501, 505])
def test_refusal_codes_prove_no_task_was_created(code):
    assert KieError(code, "x").task_not_created


@pytest.mark.parametrize("code", [500, 502, 503, 504, 200])
def test_server_errors_prove_nothing(code):
    assert not KieError(code, "Internal Server Error").task_not_created


def test_an_undocumented_code_still_names_the_code():
    assert "418" in KieError(418, "teapot").meaning


def test_create_outcome_unknown_keeps_the_reason():
    err = CreateOutcomeUnknown("no answer before the timeout")
    assert err.reason == "no answer before the timeout"
    assert "outcome unknown" in str(err) and "timeout" in str(err)


# --------------------------------------------------------------------------- live kie.ai

LIVE_UNSUPPORTED = (
    "The model name you specified is not supported. Please verify your input and try again."
)


@pytest.mark.parametrize("code", [422, 404])
def test_live_unknown_model_wording_is_model_unavailable(code):
    err = KieError(code, LIVE_UNSUPPORTED, endpoint="createTask")
    assert err.unknown_model and err.model_unavailable and err.task_not_created
    assert err.reason == "model_unavailable"
    assert not err.validation


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        ("This field is required", None),
        ("aspect_ratio is required", "aspect_ratio"),
        ("text is required", "text"),
        ("input.shots[0].duration must be between 0.1 and 15, got 20", "input.shots[0].duration"),
        ("upload_method must be one of s3, oss", "upload_method"),
        ("input.n_frames is invalid", "input.n_frames"),
        ("input.prompt exceeds 3072 characters", "input.prompt"),
        ("input.foo is not a valid parameter", "input.foo"),
    ],
)
def test_a_500_in_validation_wording_proves_no_task(msg, field):
    err = KieError(500, msg, endpoint="createTask")
    assert err.validation and err.task_not_created
    assert not err.model_unavailable and not err.paused
    assert err.field == field
    assert err.reason == "invalid_request"
    assert msg in err.meaning


@pytest.mark.parametrize(
    "msg", ["Internal Server Error", "Server exception", "", "upstream timeout", "busy"]
)
def test_a_500_with_any_other_text_proves_nothing(msg):
    err = KieError(500, msg)
    assert not err.validation and not err.task_not_created and not err.model_unavailable
    assert err.reason == "kie_error"


@pytest.mark.parametrize(("status", "proves"), [(403, True), (404, True), (429, True)])
def test_a_cdn_page_with_a_4xx_proves_nothing_was_created(status, proves):
    err = KieError(status, f"HTTP {status} page", endpoint="createTask", html=True)
    assert err.task_not_created is proves
    assert not err.validation and not err.model_unavailable
    assert "web page" in err.meaning


def test_plain_reasons_for_members():
    assert KieError(402, "Credits insufficient").reason == "out_of_credits"
    assert KieError(401, "You do not have access permissions").reason == "kie_auth"
    assert KieError(500, PAUSED).reason == "model_unavailable"
    assert KieError(505, "Feature disabled").reason == "model_unavailable"
    assert KieError(403, "x", html=True).reason == "kie_blocked"
    assert KieError(422, "input.image_urls[0] is not a valid image").reason == "invalid_request"
