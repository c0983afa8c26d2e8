"""bot.kie.schemas: kie.ai's answers, in the shapes its docs give (and live kie.ai's
differences), read leniently; an answer the bot cannot use is pydantic's ValidationError, which
the client turns into a KieError, never another exception."""

from __future__ import annotations

import json
import math
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bot.kie import KieError
from bot.kie.schemas import Envelope, TaskRecord, UploadedFile, credit_balance

# kie.ai's documented recordInfo data (docs: "Status").
RECORD: dict[str, Any] = {
    "taskId": "task_12345678",
    "model": "sora-2-pro-storyboard",
    "state": "success",
    "param": json.dumps({"model": "sora-2-pro-storyboard", "callBackUrl": "https://b/cb"}),
    "resultJson": json.dumps({"resultUrls": ["https://example.com/generated.mp4"]}),
    "failCode": "",
    "failMsg": "",
    "costTime": 15000,
    "completeTime": 1698765432000,
    "createTime": 1698765400000,
    "updateTime": 1698765432000,
    "progress": 100,
}
# The documented callback's data (docs: "Callback").
CALLBACK: dict[str, Any] = {
    "taskId": "e98962",
    "model": "sora-2-pro-storyboard",
    "state": "success",
    "resultJson": json.dumps({"resultUrls": ["https://cdn/x.mp4"]}),
    "param": "{}",
    "consumeCredits": 100,
    "remainedCredits": 2510330,
    "costTime": 8,
    "createTime": 1755599634000,
    "completeTime": 1755599644000,
    "updateTime": 1755599644000,
}
# The documented upload answer's data (docs: "Upload").
UPLOADED: dict[str, Any] = {
    "fileName": "ref.png",
    "filePath": "storyboard/ref.png",
    "downloadUrl": "https://tempfile.redpandaai.co/storyboard/ref.png",
    "fileSize": 154832,
    "mimeType": "image/png",
    "uploadedAt": "2026-11-24T18:03:12Z",
}


def record(**changes: Any) -> TaskRecord:
    return TaskRecord.model_validate({**RECORD, **changes})


# -- the envelope ----------------------------------------------------------------------------
def test_the_envelope_of_every_answer():
    env = Envelope.model_validate({"code": 200, "msg": "success", "data": {"taskId": "t"}})
    assert (env.code, env.msg, env.data) == (200, "success", {"taskId": "t"})


@pytest.mark.parametrize(
    ("answer", "msg"),
    [
        ({"code": 402, "message": "Credits insufficient"}, "Credits insufficient"),  # "message"
        ({"code": 500, "msg": None}, ""),
        ({"code": 500}, ""),
        # The upload host adds "success"; kept, not refused.
        (
            {"success": True, "code": 200, "msg": "File uploaded successfully"},
            "File uploaded successfully",
        ),
    ],
)
def test_the_envelope_is_read_leniently(answer, msg):
    env = Envelope.model_validate(answer)
    assert env.code == answer["code"] and env.msg == msg


def test_an_error_inside_http_200_keeps_its_code():
    # Live kie.ai: HTTP 200 with the error in the envelope's code.
    env = Envelope.model_validate({"code": 401, "msg": "You do not have access permissions"})
    assert env.code == 401 and env.data is None


@pytest.mark.parametrize(
    "answer",
    [{}, {"msg": "success"}, {"code": "two hundred"}, {"code": None}, [], "ok", 200, None],
)
def test_an_answer_without_a_code_is_not_an_envelope(answer):
    with pytest.raises(ValidationError):
        Envelope.model_validate(answer)


# -- a task's record -------------------------------------------------------------------------
def test_the_documented_record():
    rec = record()
    assert (rec.task_id, rec.model, rec.state) == (
        "task_12345678",
        "sora-2-pro-storyboard",
        "success",
    )
    assert rec.video_url == "https://example.com/generated.mp4"
    assert rec.callback_url == "https://b/cb"
    assert (rec.cost_time, rec.create_time, rec.complete_time) == (
        15000,
        1698765400000,
        1698765432000,
    )
    assert rec.progress == 100 and not rec.running


def test_the_documented_callback_with_its_extra_fields():
    rec = TaskRecord.model_validate(CALLBACK)
    assert rec.task_id == "e98962" and rec.video_url == "https://cdn/x.mp4"
    assert rec.progress is None  # absent for models other than sora2
    assert rec.callback_url is None  # param "{}"
    assert rec.model_extra == {
        "consumeCredits": 100,
        "remainedCredits": 2510330,
        "updateTime": 1755599644000,
    }


def test_the_task_id_may_be_spelled_task_id():
    data = {k: v for k, v in RECORD.items() if k != "taskId"}
    assert TaskRecord.model_validate({**data, "task_id": "task_9"}).task_id == "task_9"


@pytest.mark.parametrize(
    ("state", "running"),
    [
        ("waiting", True),
        ("queuing", True),
        ("generating", True),
        ("success", False),
        ("fail", False),
    ],
)
def test_every_documented_state(state, running):
    assert record(state=state).running is running


def test_a_failed_task_carries_its_code_and_message_as_text():
    msg = "We currently do not support uploads of images containing photorealistic people."
    rec = record(state="fail", failCode=500, failMsg=msg, resultJson=None)
    assert (rec.fail_code, rec.fail_msg, rec.video_url) == ("500", msg, None)


@pytest.mark.parametrize(
    "result_json",
    ["", None, "null", "{not json", "[1, 2]", '"https://x/y.mp4"', "{}", '{"resultUrls": null}'],
)
def test_a_result_without_links_is_no_video(result_json):
    # resultJson may be "" or null while running or on failure; anything else odd is no link.
    rec = record(state="generating", resultJson=result_json)
    assert rec.video_url is None


def test_result_links_are_read_leniently():
    links = {
        "resultUrls": [None, "", 7, "https://x/clean.mp4"],
        "resultWaterMarkUrls": "https://x/wm",
    }
    rec = record(resultJson=json.dumps(links))
    assert rec.video_url == "https://x/clean.mp4"
    assert rec.result is not None and rec.result.resultWaterMarkUrls == ["https://x/wm"]
    # Already decoded (a client or a mirror that parsed it): the same.
    assert record(resultJson=links).video_url == "https://x/clean.mp4"


def test_the_clean_video_is_chosen_never_the_watermarked_one():
    both = {"resultWaterMarkUrls": ["https://x/wm.mp4"], "resultUrls": ["https://x/clean.mp4"]}
    assert record(resultJson=json.dumps(both)).video_url == "https://x/clean.mp4"
    only_wm = {"resultWaterMarkUrls": ["https://x/wm.mp4"]}
    assert record(resultJson=json.dumps(only_wm)).video_url is None


@pytest.mark.parametrize(
    ("param", "callback"),
    [
        ("not json", None),
        ("[1]", None),
        ("", None),
        (None, None),
        (json.dumps({"callBackUrl": 7}), None),
        ({"callBackUrl": "https://b/cb2"}, "https://b/cb2"),
    ],
)
def test_the_param_string_is_read_leniently(param, callback):
    assert record(param=param).callback_url == callback


@pytest.mark.parametrize(
    ("progress", "read"),
    [
        (55, 55),
        ("55", 55),
        (55.6, 56),
        (150, 100),
        (-3, 0),
        ("55%", None),
        ("", None),
        (1e999, None),
    ],
)
def test_progress_is_a_percentage_or_none(progress, read):
    assert record(state="generating", progress=progress).progress == read


@pytest.mark.parametrize("value", ["", "soon", None, float("nan"), float("inf"), True, [1]])
def test_an_odd_time_is_no_time(value):
    rec = record(costTime=value, createTime=value, completeTime=value)
    assert (rec.cost_time, rec.create_time, rec.complete_time) == (None, None, None)


def test_times_as_strings_or_decimals_are_read():
    rec = record(createTime="1698765400000", completeTime=1698765432000.4, costTime="15000")
    assert (rec.create_time, rec.complete_time, rec.cost_time) == (
        1698765400000,
        1698765432000,
        15000,
    )


def test_a_missing_model_or_message_is_empty_text():
    rec = record(model=None, failCode=None, failMsg=None)
    assert (rec.model, rec.fail_code, rec.fail_msg) == ("", "", "")


@pytest.mark.parametrize(
    "data",
    [
        {k: v for k, v in RECORD.items() if k != "state"},
        {k: v for k, v in RECORD.items() if k != "taskId"},
        {**RECORD, "state": "processing"},  # not a documented state
        {**RECORD, "state": "SUCCESS"},
        {**RECORD, "state": None},
        {**RECORD, "taskId": None},
        [RECORD],
        "task_12345678",
        42,
    ],
    ids=[
        "no-state",
        "no-id",
        "unknown-state",
        "upper-case",
        "null-state",
        "null-id",
        "list",
        "str",
        "int",
    ],
)
def test_a_record_the_bot_cannot_follow_is_a_validation_error(data):
    with pytest.raises(ValidationError):
        TaskRecord.model_validate(data)


# -- an upload -------------------------------------------------------------------------------
def test_the_documented_upload_answer():
    up = UploadedFile.model_validate(UPLOADED)
    assert up.download_url == UPLOADED["downloadUrl"]
    assert (up.file_name, up.file_size, up.mime_type) == ("ref.png", 154832, "image/png")


def test_some_pages_say_file_url():
    data = {k: v for k, v in UPLOADED.items() if k != "downloadUrl"}
    assert UploadedFile.model_validate({**data, "fileUrl": "https://f/x.png"}).download_url == (
        "https://f/x.png"
    )


@pytest.mark.parametrize(
    ("size", "read"), [("154832", 154832), ("big", None), (None, None), (-1, None)]
)
def test_the_upload_details_are_read_leniently(size, read):
    up = UploadedFile.model_validate(
        {**UPLOADED, "fileSize": size, "fileName": None, "mimeType": None}
    )
    assert (up.file_size, up.file_name, up.mime_type) == (read, "", "")


@pytest.mark.parametrize("link", [None, "", 7, ["https://f/x.png"], {"url": "https://f/x.png"}])
def test_an_upload_without_a_link_is_a_validation_error(link):
    with pytest.raises(ValidationError):
        UploadedFile.model_validate({**UPLOADED, "downloadUrl": link})
    with pytest.raises(ValidationError):
        UploadedFile.model_validate({k: v for k, v in UPLOADED.items() if k != "downloadUrl"})


# -- the balance -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "credits"), [(100, 100.0), (2510330.5, 2510330.5), ("12.5", 12.5)]
)
def test_the_balance_is_a_number(data, credits):
    # An integer in the schema, a decimal seen in practice.
    assert credit_balance(data) == credits


@pytest.mark.parametrize(
    "data", [None, "", "lots", True, float("nan"), float("inf"), [100], {"credits": 1}]
)
def test_a_balance_that_is_not_a_number_is_a_validation_error(data):
    with pytest.raises(ValidationError):
        credit_balance(data)


# -- anything at all -------------------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        ["success", "generating", "fail", "", "null", "{}", "[]", '{"resultUrls": 1}']
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
record_keys = st.sampled_from(sorted({*RECORD, "task_id", "message"}))


def _only_validation_errors(model: type[BaseModel], data: Any) -> None:
    try:
        model.model_validate(data)
    except ValidationError:
        pass


@hypothesis.settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(record_keys, json_values, max_size=6))
def test_any_record_shape_parses_or_is_a_validation_error(changes):
    _only_validation_errors(TaskRecord, {**RECORD, **changes})
    _only_validation_errors(TaskRecord, changes)


@given(json_values)
def test_any_answer_parses_or_is_a_validation_error(data):
    for model in (Envelope, TaskRecord, UploadedFile):
        _only_validation_errors(model, data)
    try:
        value = credit_balance(data)
    except ValidationError:
        return
    assert math.isfinite(value)


@given(st.dictionaries(st.sampled_from(sorted(RECORD)), json_values, max_size=6))
def test_a_record_that_parses_has_text_and_sane_numbers(changes):
    try:
        rec = TaskRecord.model_validate({**RECORD, **changes})
    except ValidationError:
        return
    assert isinstance(rec.task_id, str) and isinstance(rec.fail_msg, str)
    assert rec.progress is None or 0 <= rec.progress <= 100
    assert rec.video_url is None or (isinstance(rec.video_url, str) and rec.video_url)
    assert rec.callback_url is None or isinstance(rec.callback_url, str)


# -- through the client: a defined KieError, never a traceback ------------------------------
@pytest.mark.parametrize(
    "data", [{"state": "success"}, {"taskId": "t", "state": "processing"}, ["t"], "t"]
)
async def test_a_malformed_record_from_kie_is_a_kie_error(kie, fake, data):
    fake.answer_next("recordInfo", {"code": 200, "msg": "success", "data": data})
    with pytest.raises(KieError) as err:
        await kie.record_info("t")
    assert err.value.code == 500 and err.value.msg.startswith("unexpected recordInfo answer")


@pytest.mark.parametrize("data", [None, "lots", True, [1]])
async def test_a_balance_that_is_not_a_number_from_kie_is_a_kie_error(kie, fake, data):
    fake.answer_next("credit", {"code": 200, "msg": "success", "data": data})
    with pytest.raises(KieError) as err:
        await kie.credits()
    assert err.value.code == 500 and err.value.msg == "unexpected credit answer (not a number)"


async def test_a_nan_balance_from_kie_is_a_kie_error(kie, fake):
    # json.dumps writes NaN, and Python's JSON parser reads it back: the bot must refuse it.
    fake.answer_next("credit", {"code": 200, "msg": "success", "data": float("nan")})
    with pytest.raises(KieError):
        await kie.credits()


async def test_an_upload_answer_without_a_link_from_kie_is_a_kie_error(kie, fake, settings):
    # Taken for kie.ai's transient fault: retried, then given up with a KieError.
    tries = settings.kie.max_retries + 1
    answer = {"code": 200, "msg": "ok", "data": {"fileName": "x.png"}}
    fake.answer_next("upload", answer, times=tries)
    with pytest.raises(KieError) as err:
        await kie.upload(b"\x89PNG", "x.png", "storyboard")
    assert err.value.code == 500 and err.value.msg == "the answer had no downloadUrl"
    assert fake.calls["upload"] == tries
