"""A real uv project, locked with the host's uv against a fake index on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

PYPROJECT = """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [{dependencies}]
"""


def write_project(directory: Path, dependencies: Sequence[str]) -> Path:
    """A pyproject.toml without a build system: uv syncs it as a virtual project."""
    directory.mkdir(parents=True, exist_ok=True)
    listed = ", ".join(f'"{name}"' for name in dependencies)
    (directory / "pyproject.toml").write_text(PYPROJECT.format(dependencies=listed))
    return directory


def uv_lock(uv_binary: Path, project: Path, index_url: str) -> Path:
    """``uv lock`` of ``project`` against ``index_url`` only, no configuration read."""
    env = {**os.environ, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never",
           "UV_CACHE_DIR": str(project.parent / "uv-cache")}
    result = subprocess.run([str(uv_binary), "lock", "--default-index", index_url],
                            cwd=project, env=env, capture_output=True, text=True, check=False,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return project / "uv.lock"
