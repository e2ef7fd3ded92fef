"""`--prefer-uv`: which pip calls become uv-when-present, and what each side runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dockerpypi.dockerfile.prefer_uv import prefer_uv


@pytest.mark.parametrize(("command", "uv_args"), [
    ("pip install -r requirements.txt",
     '--python "$(command -v python3)" --compile-bytecode -r requirements.txt'),
    ("pip3 install --no-cache-dir --disable-pip-version-check 'numpy<3' flask",
     "--python \"$(command -v python3)\" --compile-bytecode 'numpy<3' flask"),
    ("python3.12 -m pip install -U pip",
     '--python "$(command -v python3.12)" --compile-bytecode -U pip'),
    ("/opt/venv/bin/pip install --no-compile --pre -c c.txt x",
     "--python /opt/venv/bin/python --prerelease allow -c c.txt x"),
    ("pip install --root-user-action=ignore --only-binary=:all: -e .",
     '--python "$(command -v python3)" --compile-bytecode --only-binary :all: -e .'),
    ('pip install "django==4.*"',
     "--python \"$(command -v python3)\" --compile-bytecode 'django==4.*'"),
])
def test_plain_pip_installs_run_uv_when_present(command: str, uv_args: str) -> None:
    choice = prefer_uv(command)
    assert choice.kept is None
    assert choice.command is not None
    assert choice.command.startswith(
        f"if command -v uv >/dev/null 2>&1; then uv pip install {uv_args}; else ")


@pytest.mark.parametrize(("command", "reason"), [
    ("pip install x && echo done", "shell syntax"),
    ("pip install x | tee log", "shell syntax"),
    ("pip install $PACKAGES", "shell syntax"),
    ("pip install `cat reqs`", "shell syntax"),
    ("pip install django==4.*", "shell syntax"),  # an unquoted glob
    ("pip install x # pinned later", "shell syntax"),
    ("pip install --user httpx", "--user has no uv equivalent"),
    ("pip install -r", "-r has no value"),
    ("pip install --no-deps=1 x", "--no-deps takes no value"),
    ("pip download x", "not pip install"),
    ("python -c 'import pip'", "not python -m pip"),
    ("apt-get install python3-pip", "not a pip call"),
    ("pip install 'unclosed", "does not split"),
])
def test_anything_else_keeps_pip_and_says_why(command: str, reason: str) -> None:
    choice = prefer_uv(command)
    assert choice.command is None
    assert choice.kept is not None
    assert reason in choice.kept


def _fake(directory: Path, name: str) -> None:
    program = directory / name
    program.write_text(f'#!/bin/sh\necho "{name} $*"\n')
    program.chmod(0o755)


@pytest.mark.parametrize("has_uv", [True, False])
def test_the_shell_runs_uv_when_it_is_there_and_pip_as_written_otherwise(
    tmp_path: Path, has_uv: bool,
) -> None:
    command = prefer_uv("pip install --no-cache-dir 'numpy<3' -r requirements.txt").command
    assert command is not None
    for name in ("pip", "python3", *(["uv"] if has_uv else [])):
        _fake(tmp_path, name)
    out = subprocess.run(["/bin/sh", "-c", command], env={"PATH": str(tmp_path)},
                         capture_output=True, text=True, check=True).stdout
    if has_uv:
        assert out == (f"uv pip install --python {tmp_path}/python3 --compile-bytecode "
                       "numpy<3 -r requirements.txt\n")
    else:
        assert out == "pip install --no-cache-dir numpy<3 -r requirements.txt\n"
