"""A real PDM project, locked with the host's PDM against a fake index on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# What `pdm init` writes for a library with a src layout; hatchling builds it
# (packed from the test environment: no backend is downloaded).
PYPROJECT = """\
[project]
name = "{name}"
version = "0.1.0"
description = ""
readme = "README.md"
requires-python = ">=3.11"
dependencies = [{dependencies}]

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
{tool}"""


def write_project(directory: Path, name: str, dependencies: Sequence[str], *,
                  tool: str = "") -> Path:
    """A project whose ``python -m <module>`` prints every distribution it runs with."""
    package = directory / "src" / name.replace("-", "_")
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import importlib.metadata as m\n"
        "for found in m.distributions():\n"
        "    print(found.metadata['Name'], found.version)\n")
    (directory / "README.md").write_text(f"# {name}\n")
    listed = ", ".join(f'"{d}"' for d in dependencies)
    (directory / "pyproject.toml").write_text(
        PYPROJECT.format(name=name, dependencies=listed, tool=tool))
    return directory


def pdm_environment(work: Path, index_url: str) -> dict[str, str]:
    """The host's PDM with ``index_url`` only: no config, cache or log of the machine's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PDM_")}
    env.update(PDM_PYPI_URL=index_url, PDM_CHECK_UPDATE="false",
               PDM_CONFIG_FILE=str(work / "pdm-config.toml"),
               PDM_CACHE_DIR=str(work / "pdm-cache"), PDM_LOG_DIR=str(work / "pdm-log"),
               PDM_IGNORE_ACTIVE_VENV="1", PDM_USE_VENV="false")
    return env


def pdm_lock(project: Path, index_url: str, *options: str) -> Path:
    """``pdm lock`` of ``project`` against ``index_url``, by the test environment's PDM."""
    pdm = Path(sys.executable).with_name("pdm")
    result = subprocess.run([str(pdm), "lock", *options], cwd=project,
                            env=pdm_environment(project.parent, index_url),
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    # The host interpreter PDM chose: PDM's own .gitignore advice leaves it out of a project.
    (project / ".pdm-python").unlink(missing_ok=True)
    return project / "pdm.lock"
