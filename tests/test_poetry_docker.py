"""Poetry projects with poetry.lock build offline from the mirror, project files unchanged.

The project is locked by the host's Poetry (the dev extra's) against a fake
index on 127.0.0.1 and then made the project of the public index it stands
for (:mod:`support.poetryproject`). The fake index also serves Poetry's own
wheels (``tool_wheels``), so that the mirror is filled only by ``dockerpypi
mirror add poetry.lock`` and ``dockerpypi mirror add poetry==X``. The
Dockerfiles are the ones Poetry users write (Poetry installed with pip, the
project's files copied or bind-mounted, ``poetry install --without dev
--no-root``), built unchanged with ``--inject --offline``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.docker import LABELS, run_in_image, unique_tag
from support.index import write_index_of
from support.poetryproject import poetry_lock, write_project
from support.server import ServedURL

from dockerpypi.mirror.poetrylock import read_poetry_lock

pytestmark = [pytest.mark.docker, pytest.mark.slow]

POETRY = importlib.metadata.version("poetry")
UPSTREAM = (
    "dockerpypi-probe==1.0",
    "dockerpypi-probe==2.0",
    "dockerpypi-tool==1.0",
    {"name": "dockerpypi-probe-app", "version": "1.0", "requires": ["dockerpypi-probe<2"]},
)
HEAD = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${{BASE_IMAGE}}
ENV POETRY_NO_INTERACTION=1 \\
    POETRY_VIRTUALENVS_IN_PROJECT=1 \\
    POETRY_VIRTUALENVS_CREATE=1 \\
    POETRY_CACHE_DIR=/tmp/poetry_cache
RUN pip install poetry=={poetry}
WORKDIR /app
"""
DOCKERFILES = {
    # The files copied in, the cache mount at Poetry's cache directory.
    "copy": HEAD + """\
COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=$POETRY_CACHE_DIR poetry install --without dev --no-root
""",
    # The files bind-mounted for the step, as uv's guide does for uv.lock.
    "bind": HEAD + """\
RUN --mount=type=cache,target=$POETRY_CACHE_DIR \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    --mount=type=bind,source=poetry.lock,target=poetry.lock \\
    poetry install --without dev --no-root
""",
}


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=900, env=os.environ.copy())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("layout", sorted(DOCKERFILES))
def test_poetry_install_of_the_lock_builds_offline_with_the_project_unchanged(
        tmp_path: Path, http_mirror: Callable[..., ServedURL],
        tool_wheels: Callable[..., Path], base_image: str, layout: str) -> None:
    upstream_root = tmp_path / "upstream"
    shutil.copytree(tool_wheels("poetry"), upstream_root)
    upstream = http_mirror(root=write_index_of(upstream_root, UPSTREAM, origin="upstream"))
    context = write_project(tmp_path / "context", ["dockerpypi-probe-app"], ["dockerpypi-tool"])
    lock = poetry_lock(context, upstream)
    (context / "Dockerfile").write_text(DOCKERFILES[layout].format(poetry=POETRY))
    mirror = tmp_path / "mirror"
    for what in (str(lock), f"poetry=={POETRY}"):
        added = dockerpypi("mirror", "add", what, "--index-url", upstream,
                           "--mirror-dir", str(mirror))
        assert added.returncode == 0, added.stderr
    # Exactly the locked versions (every group), each a file whose sha256 the lock lists.
    locked = read_poetry_lock(lock)["package"]
    hashes = {f["file"]: f["hash"].removeprefix("sha256:") for p in locked for f in p["files"]}
    probes = sorted(p.name for p in mirror.glob("dockerpypi_*.whl"))
    assert probes == sorted(hashes)
    assert all(digest(mirror / name) == hashes[name] for name in probes)
    before = {name: digest(context / name) for name in ("Dockerfile", "pyproject.toml",
                                                        "poetry.lock")}
    tag = unique_tag(f"poetry-{layout}")
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]

    built = dockerpypi("build", "--inject", "--offline", "--mirror-dir", str(mirror), *labels,
                       "--build-arg", f"BASE_IMAGE={base_image}", "--no-cache",
                       "--progress=plain", "-t", tag, "--load", str(context))

    assert built.returncode == 0, built.stderr[-6000:]
    assert "poetry reads pyproject.toml and poetry.lock in /app" in built.stderr
    assert {name: digest(context / name) for name in before} == before
    main = {p["name"]: p["version"] for p in locked if "main" in p["groups"]}
    check = "; ".join(f"import {n.replace('-', '_')} as m; print({n!r}, m.__version__, "
                      "m.MIRROR_ORIGIN)" for n in main)
    status, output = run_in_image(tag, ["/app/.venv/bin/python", "-c", check])
    assert status == 0, output
    assert {line.split()[0]: line.split()[1] for line in output.splitlines()} == main
    assert {line.split()[2] for line in output.splitlines()} == {"upstream"}
    status, output = run_in_image(tag, ["/app/.venv/bin/python", "-c", "import dockerpypi_tool"])
    assert status != 0, "the dev group was installed: --without dev was not honoured"
    if layout == "copy":  # the image holds the user's files, not the copies the step read
        status, output = run_in_image(tag, ["sha256sum", "/app/pyproject.toml",
                                            "/app/poetry.lock"])
        assert status == 0, output
        assert [line.split()[0] for line in output.splitlines()] == [
            before["pyproject.toml"], before["poetry.lock"]]
    verified = dockerpypi("verify", tag)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert ": clean (" in verified.stdout, verified.stdout
