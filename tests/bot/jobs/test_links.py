"""Callback tokens, kie.ai's webhook signature, replays, where a callback keeps its task id,
and the expiring tokens of /media links."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from bot.jobs.links import (
    MAX_SIGNATURE_AGE,
    ReplayGuard,
    callback_token,
    callback_url,
    check_media_token,
    expected_signature,
    media_token,
    media_url,
    signature_ok,
    task_id_of,
    token_ok,
)

SECRET = "0f" * 32
KEY = "whsec-test-key"
TASK = "task_sora-2-pro-storyboard_1765188271139"
NOW = 1_765_188_300.0


def kie_signature(key: str, task_id: str, timestamp: str) -> str:
    """kie.ai's documented signature, computed independently of bot.jobs.links."""
    mac = hmac.new(key.encode("utf-8"), (task_id + "." + timestamp).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


# -- the per-job token -----------------------------------------------------------------------


def test_the_token_binds_one_job_under_one_secret():
    token = callback_token(SECRET, "job1")
    assert token == callback_token(SECRET, "job1")  # stable
    assert token_ok(SECRET, "job1", token)
    assert not token_ok(SECRET, "job2", token)  # another job
    assert not token_ok("1a" * 32, "job1", token)  # another database's secret
    assert callback_token(SECRET, "job2") != token
    assert len(token) >= 32 and SECRET not in token


@pytest.mark.parametrize("token", ["", "x", "é" * 32, "\ud800", "../job1", "0" * 32])
def test_a_wrong_or_strange_token_is_refused_without_raising(token):
    assert token_ok(SECRET, "job1", token) is False


def test_callback_url_carries_the_job_and_its_token():
    url = callback_url("https://bot.example.com/", SECRET, "job1")
    assert url == f"https://bot.example.com/kie/callback/job1/{callback_token(SECRET, 'job1')}"


# -- kie.ai's signature ----------------------------------------------------------------------


def test_signature_matches_kies_documented_scheme():
    ts = str(int(NOW))
    sig = kie_signature(KEY, TASK, ts)
    assert expected_signature(KEY, TASK, ts) == sig
    assert signature_ok(KEY, TASK, ts, sig, NOW)


def test_a_known_vector():
    # printf 'task_1.1700000000' | openssl dgst -sha256 -hmac key -binary | base64
    sig = "ID58Rce2nAwtIpfn+sD7iUUJ8ZOCNyiML2w9xRpkngg="
    assert kie_signature("key", "task_1", "1700000000") == sig
    assert expected_signature("key", "task_1", "1700000000") == sig
    assert signature_ok("key", "task_1", "1700000000", sig, 1_700_000_000.0)


@pytest.mark.parametrize(
    ("task_id", "key"), [("task_other", KEY), (TASK, "another-key")], ids=["task", "key"]
)
def test_a_signature_for_another_task_or_key_is_refused(task_id, key):
    ts = str(int(NOW))
    assert not signature_ok(KEY, TASK, ts, kie_signature(key, task_id, ts), NOW)


@pytest.mark.parametrize(
    "age", [MAX_SIGNATURE_AGE + 1, 3600, -(MAX_SIGNATURE_AGE + 1), -3600], ids=str
)
def test_stale_and_future_timestamps_are_refused(age):
    ts = str(int(NOW - age))
    assert not signature_ok(KEY, TASK, ts, kie_signature(KEY, TASK, ts), NOW)


@pytest.mark.parametrize("age", [0, 60, MAX_SIGNATURE_AGE - 1, -30])
def test_recent_timestamps_are_accepted(age):
    ts = str(int(NOW - age))
    assert signature_ok(KEY, TASK, ts, kie_signature(KEY, TASK, ts), NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [(None, "sig"), ("", "sig"), ("1765188300", None), ("1765188300", ""), (None, None)],
)
def test_missing_headers_are_refused(timestamp, signature):
    if signature == "sig":
        signature = kie_signature(KEY, TASK, "1765188300")
    assert not signature_ok(KEY, TASK, timestamp, signature, NOW)


@pytest.mark.parametrize("timestamp", ["soon", "nan", "inf", "-inf", "1e400"])
def test_timestamps_that_are_not_a_time_are_refused(timestamp):
    # Even correctly signed: "nan" would otherwise slip past the age check.
    assert not signature_ok(KEY, TASK, timestamp, kie_signature(KEY, TASK, timestamp), NOW)


@pytest.mark.parametrize("signature", ["ä" * 44, "\udcff", "not base64 at all"])
def test_a_garbled_signature_is_refused_without_raising(signature):
    assert signature_ok(KEY, TASK, str(int(NOW)), signature, NOW) is False


# -- the task id in a callback body ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"code": 200, "data": {"taskId": "t1", "state": "success"}}, "t1"),
        ({"code": 200, "data": {"task_id": "t2"}}, "t2"),
        ({"code": 200, "taskId": "t3", "data": None}, "t3"),
        ({"taskId": "t4"}, "t4"),
        ({"data": {"taskId": "inner"}, "taskId": "outer"}, "inner"),
        ({"data": {"taskId": ""}, "taskId": "t5"}, "t5"),
        ({"data": {"taskId": 123}}, None),
        ({"data": "t6"}, None),
        ({"code": 200, "msg": "no id"}, None),
        ({}, None),
        ([{"taskId": "t7"}], None),
        ("taskId", None),
        (None, None),
        (42, None),
    ],
)
def test_task_id_of(body, expected):
    assert task_id_of(body) == expected


# -- replays ---------------------------------------------------------------------------------


def test_a_signed_pair_is_taken_once():
    guard = ReplayGuard()
    ts = str(int(NOW))
    assert guard.first_time(TASK, ts, NOW)
    assert not guard.first_time(TASK, ts, NOW + 1)
    assert guard.first_time(TASK, str(int(NOW) + 1), NOW + 1)  # signed anew
    assert guard.first_time("task_other", ts, NOW + 1)


def test_a_pair_is_forgotten_once_its_timestamp_is_too_old_to_pass():
    guard = ReplayGuard()
    ts = str(int(NOW))
    assert guard.first_time(TASK, ts, NOW)
    assert not guard.first_time(TASK, ts, NOW + MAX_SIGNATURE_AGE)  # still inside the window
    assert guard.first_time("task_b", str(int(NOW) + 200), NOW + MAX_SIGNATURE_AGE + 1)
    assert len(guard) == 1  # the first one expired
    # Any later replay of it is refused by the age check of the signature itself.
    assert not signature_ok(
        KEY, TASK, ts, kie_signature(KEY, TASK, ts), NOW + MAX_SIGNATURE_AGE + 1
    )


def test_the_memory_is_bounded():
    guard = ReplayGuard(limit=100)
    for i in range(1000):
        assert guard.first_time(f"task_{i}", str(int(NOW) + i % 50), NOW)
    assert len(guard) == 100


def test_a_callback_that_could_not_be_acted_on_is_let_in_again():
    guard = ReplayGuard()
    ts = str(int(NOW))
    assert guard.first_time(TASK, ts, NOW)
    guard.forget(TASK, ts)
    assert guard.first_time(TASK, ts, NOW)


# -- /media tokens ---------------------------------------------------------------------------

MEDIA_SECRET = "2a" * 32
EXPIRES = int(NOW) + 14 * 86400


def test_a_media_token_carries_its_expiry_and_binds_one_job():
    token = media_token(MEDIA_SECRET, "job1", EXPIRES)
    assert token.startswith(f"{EXPIRES}-") and MEDIA_SECRET not in token
    assert check_media_token(MEDIA_SECRET, "job1", token, NOW) == "valid"
    assert check_media_token(MEDIA_SECRET, "job2", token, NOW) == "invalid"
    assert check_media_token(SECRET, "job1", token, NOW) == "invalid"  # e.g. the callback one
    assert check_media_token(MEDIA_SECRET, "job1", token, EXPIRES) == "expired"


def test_media_url_rounds_the_expiry_up():
    url = media_url("https://bot.example.com/", MEDIA_SECRET, "job1", expires=EXPIRES - 0.5)
    token = media_token(MEDIA_SECRET, "job1", EXPIRES)
    assert url == f"https://bot.example.com/media/job1/{token}.mp4"


def test_a_token_with_another_expiry_is_invalid_not_expired():
    token = media_token(MEDIA_SECRET, "job1", EXPIRES)
    moved = f"{EXPIRES + 86400}-{token.split('-', 1)[1]}"
    assert check_media_token(MEDIA_SECRET, "job1", moved, NOW) == "invalid"
    past = f"{int(NOW) - 10}-{token.split('-', 1)[1]}"
    assert check_media_token(MEDIA_SECRET, "job1", past, NOW) == "invalid"


@pytest.mark.parametrize(
    "token",
    ["", "x", "-", f"{EXPIRES}-", "0" * 32, "１２３-abc", "9" * 40 + "-abc", "\ud800-x", "1e9-ab"],
)
def test_a_strange_media_token_is_invalid_without_raising(token):
    assert check_media_token(MEDIA_SECRET, "job1", token, NOW) == "invalid"
