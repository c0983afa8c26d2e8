"""The README's promises that code can check."""

from __future__ import annotations

import re
from pathlib import Path

from bot.client import invite_url
from cogs.utils.ui import REQUIRED_PERMISSIONS

README = Path(__file__).resolve().parent.parent / "README.md"


def test_invite_url_carries_exactly_the_permissions_the_bot_uses():
    text = README.read_text()
    numbers = set(re.findall(r"permissions=(\d+)", text))
    assert numbers == {str(REQUIRED_PERMISSIONS.value)}
    assert f"permissions={REQUIRED_PERMISSIONS.value}" in invite_url(123)


def test_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    [command] = [line for line in README.read_text().splitlines() if line.startswith("ruff check")]
    assert command.endswith("&& pytest")
    assert command in ci.splitlines()


def test_the_layout_names_every_package_and_every_module_says_what_it_owns():
    text = README.read_text(encoding="utf-8")
    layout = text[text.index("## The code's layout") :]
    root = README.parent
    for package in sorted(p for p in (root / "bot").iterdir() if (p / "__init__.py").exists()):
        assert f"bot/{package.name}/" in layout, package.name
    for module in sorted([*(root / "bot").rglob("*.py"), *(root / "cogs").rglob("*.py")]):
        if module.name == "__init__.py" and module.parent.name == "cogs":
            continue
        source = module.read_text(encoding="utf-8").lstrip()
        assert source.startswith('"""'), f"{module.relative_to(root)} has no docstring"
