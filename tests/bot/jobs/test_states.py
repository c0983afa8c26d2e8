"""The transition table: what the store allows, and the README's copy of it."""

from __future__ import annotations

import re
from pathlib import Path

from bot.jobs.states import (
    ACTIVE_STATES,
    SENT_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    JobState,
    diagram,
)

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_shows_the_table_the_code_enforces():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- transitions -->\n```\n(.*?)\n```\n<!-- /transitions -->", text, re.S)
    assert block is not None, "README.md lost its transitions block"
    assert block[1] == diagram()


def test_terminal_states_go_nowhere_and_every_active_state_can_end():
    for state in TERMINAL_STATES - {JobState.DELIVERED}:
        assert TRANSITIONS[state] == frozenset()
    # `storyboard-bot resume` of a delivered job writes the video again, nothing else.
    assert TRANSITIONS[JobState.DELIVERED] == {JobState.FETCHED}
    for state in ACTIVE_STATES:
        assert TRANSITIONS[state], state


def test_a_job_kie_may_have_is_never_queued_again():
    # Never resend: from any state in which kie.ai has (or may have) the task, no path leads
    # back to queued except from submitting, where the connection may never have opened.
    for state in SENT_STATES - {JobState.SUBMITTING}:
        seen, todo = set(), [state]
        while todo:
            s = todo.pop()
            for nxt in TRANSITIONS[s]:
                assert nxt not in (JobState.QUEUED, JobState.SUBMITTING), (state, s, nxt)
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
