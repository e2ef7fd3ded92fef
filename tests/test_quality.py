"""ruff and mypy are part of the test run, so CI keeps them clean.

Both are pinned to one minor version in the dev extra: a new release may add
rules or checks, and must not turn the suite red with no change in the code.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("ruff", "mypy")


def dev_requirement(name: str) -> Requirement:
    """The dev extra's requirement on ``name``, as pyproject.toml states it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for line in project["optional-dependencies"]["dev"]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == name:
            return requirement
    raise AssertionError(f"the dev extra does not name {name}")


@pytest.mark.parametrize("name", TOOLS)
def test_tool_is_pinned_and_the_pin_is_installed(name: str) -> None:
    requirement = dev_requirement(name)
    operators = {spec.operator for spec in requirement.specifier}
    # An upper bound (or an exact pin): the next minor release is a deliberate change.
    assert operators & {"<", "==", "~="}, f"{requirement} has no upper bound"
    installed = version(name)
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{name} {installed} is installed, the dev extra wants {requirement}: "
        "reinstall with pip install -e '.[dev]'")


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "ruff", "check", "."],
    [sys.executable, "-m", "mypy"],
], ids=list(TOOLS))
def test_tool_is_clean(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
