"""requirements/constraints.txt pins exactly every dependency pyproject.toml names (the test
extra's included), so CI installs the versions that were tested. README, "Dependencies", says
how to refresh it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO / "requirements" / "constraints.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def pin_lines() -> list[str]:
    lines = (line.strip() for line in CONSTRAINTS.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in pin_lines():
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        found[canonicalize_name(match[1])] = match[2]
    return found


def test_every_line_is_an_exact_pin_of_another_package():
    assert len(pins()) == len(pin_lines()) > 0


def test_every_dependency_of_pyproject_is_pinned_within_its_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pinned = pins()
    for text in wanted:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pinned, (
            f"{req.name} is not pinned in requirements/constraints.txt: refresh it "
            "(README, Dependencies)"
        )
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"{req.name}=={pinned[name]} is outside pyproject.toml's {req.specifier}: refresh "
            "requirements/constraints.txt (README, Dependencies)"
        )
