"""Users get a compatible textual range; the SVG snapshots get the exact version they were drawn
with, pinned in the test extra (the one `.ci/run` installs)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def requirement(specs: list[str], name: str) -> str:
    [spec] = [s for s in specs if re.match(rf"^{name}\s*[=<>!~]", s)]
    return spec


def test_textual_is_a_range_for_users_and_exact_for_the_snapshots():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    runtime = requirement(project["dependencies"], "textual")
    assert "==" not in runtime and "<" in runtime and ">=" in runtime, runtime
    pinned = requirement(project["optional-dependencies"]["test"], "textual")
    assert pinned.startswith("textual=="), pinned
    pytest.importorskip("pytest_textual_snapshot")
    assert version("textual") == pinned.removeprefix("textual=="), \
        "the snapshots were drawn with the pinned textual: pip install -e '.[test]'"
