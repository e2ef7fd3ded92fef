"""A real Poetry project, locked by the host's Poetry against a fake index on 127.0.0.1.

A project of the public index names no source: its poetry.lock has no
``[package.source]`` and its content-hash covers a pyproject.toml without
``[[tool.poetry.source]]``. Poetry reads the public index through its JSON
API, which the fake index does not serve, so :func:`poetry_lock` locks with
the fake index as a temporary primary source, then makes the lock that
project would have, with Poetry's own API (:data:`_AS_PUBLIC`): the
pyproject.toml without the source, the lock's packages without theirs, and
``Locker.set_lock_data`` writing them with the content-hash Poetry computes
for that pyproject.toml. Poetry then finds the lock fresh (what ``poetry
check --lock`` asks), as it does a lock made against the public index.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PYPROJECT = """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [{dependencies}]

[tool.poetry]
package-mode = false

[tool.poetry.group.dev.dependencies]
{dev}
"""
_SOURCE = """
[[tool.poetry.source]]
name = "fake-upstream"
url = "{url}"
priority = "primary"
"""
# Runs in this environment's Python, with the project as argv[1].
_AS_PUBLIC = """\
import sys
from pathlib import Path

import tomlkit
from poetry.factory import Factory

project = Path(sys.argv[1])
lock = project / "poetry.lock"
document = tomlkit.parse(lock.read_text(encoding="utf-8"))
for package in document["package"]:
    package.pop("source", None)
lock.write_text(tomlkit.dumps(document), encoding="utf-8")
poetry = Factory().create_poetry(project)
locker = poetry.locker
info = locker.locked_packages()  # groups and markers, per package
locker.set_lock_data(poetry.package, {p: info[p] for p in locker.locked_repository().packages})
# What `poetry check --lock` asks: the lock is fresh for the pyproject.toml.
assert Factory().create_poetry(project).locker.is_fresh()
"""


def poetry_binary() -> Path:
    """The Poetry of the test environment (the dev extra pins it)."""
    return Path(sys.executable).with_name("poetry")


def poetry_env(project: Path) -> dict[str, str]:
    """Poetry isolated from the machine: its own cache and config, no keyring, no prompt."""
    home = project.resolve().parent / "poetry-home"
    return {**os.environ, "POETRY_CACHE_DIR": str(home / "cache"),
            "POETRY_CONFIG_DIR": str(home / "config"), "POETRY_DATA_DIR": str(home / "data"),
            "POETRY_NO_INTERACTION": "1", "POETRY_KEYRING_ENABLED": "false",
            "POETRY_VIRTUALENVS_CREATE": "false"}


def run_poetry(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(poetry_binary()), *args], cwd=project, env=poetry_env(project),
                          capture_output=True, text=True, check=False, timeout=300)


def write_project(directory: Path, dependencies: Sequence[str], dev: Sequence[str]) -> Path:
    """A Poetry project (``package-mode = false``) with a ``dev`` group."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(PYPROJECT.format(
        dependencies=", ".join(f'"{name}"' for name in dependencies),
        dev="".join(f'{name} = "*"\n' for name in dev)))
    return directory


def poetry_lock(project: Path, index_url: str) -> Path:
    """``poetry lock`` of ``project`` against ``index_url``, then the lock of the same
    project on the public index (see the module docstring)."""
    pyproject = project / "pyproject.toml"
    public = pyproject.read_text()
    pyproject.write_text(public + _SOURCE.format(url=index_url))
    locked = run_poetry(project, "lock")
    pyproject.write_text(public)
    assert locked.returncode == 0, locked.stdout + locked.stderr
    made = subprocess.run([sys.executable, "-c", _AS_PUBLIC, str(project)],
                          env=poetry_env(project), capture_output=True, text=True, check=False,
                          timeout=120)
    assert made.returncode == 0, made.stderr
    return project / "poetry.lock"
