"""The README's promises that code can check."""

from __future__ import annotations

import re
from pathlib import Path

from bot.client import REQUIRED_PERMISSIONS, invite_url

README = Path(__file__).resolve().parent.parent / "README.md"


def test_invite_url_carries_exactly_the_permissions_the_bot_uses():
    text = README.read_text()
    numbers = set(re.findall(r"permissions=(\d+)", text))
    assert numbers == {str(REQUIRED_PERMISSIONS.value)}
    assert f"permissions={REQUIRED_PERMISSIONS.value}" in invite_url(123)


def test_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "ruff check . && pytest" in README.read_text()
    assert "ruff check . && pytest" in ci
