"""uv projects with uv.lock build offline from the mirror, Dockerfile and lock unchanged.

Each case is a real uv project locked by the host's uv against a fake index
on 127.0.0.1, with a Dockerfile written the way uv's Docker guide writes it.
The mirror is filled only by ``dockerpypi mirror add uv.lock``; the fake
index is stopped before the build, which is ``--inject --offline``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.docker import LABELS, run_in_image, unique_tag
from support.dockerfiles import copy_uv
from support.server import ServedURL
from support.uvproject import uv_lock, write_project

from dockerpypi.mirror.lockfile import read_lock

pytestmark = [pytest.mark.docker, pytest.mark.slow]

UPSTREAM = (
    "dockerpypi-probe==1.0",
    "dockerpypi-probe==2.0",
    {"name": "dockerpypi-probe-app", "version": "1.0", "requires": ["dockerpypi-probe<2"]},
)
ENV = "ENV UV_PYTHON_DOWNLOADS=0\n"

# uv's guide: dependencies from the bind-mounted lock, then the project COPYed in.
GUIDE = """\
FROM {base}
{uv}{env}WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --{mode} --no-install-project
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --{mode}
"""

# Multi-stage, the lock COPYed: the final image gets the builder's /app only.
MULTI_STAGE = """\
FROM {base} AS builder
{uv}{env}WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --{mode} --no-install-project
COPY . .
RUN uv sync --{mode}

FROM {base}
COPY --from=builder /app /app
"""

DOCKERFILES = {"guide": GUIDE, "multi-stage": MULTI_STAGE}


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=600, env=os.environ.copy())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_with_mirror(tmp_path: Path, http_mirror: Callable[..., ServedURL],
                        uv_binary: Path, layout: str, mode: str, base_image: str,
                        ) -> tuple[Path, Path]:
    """(build context, mirror): the project locked upstream, the mirror filled from its lock."""
    context = write_project(tmp_path / "context", ["dockerpypi-probe-app"])
    upstream = http_mirror(UPSTREAM, origin="upstream")
    lock = uv_lock(uv_binary, context, upstream)
    mirror = tmp_path / "mirror"
    added = dockerpypi("mirror", "add", str(lock), "--mirror-dir", str(mirror))
    assert added.returncode == 0, added.stderr
    # Exactly the locked files, not dockerpypi-probe 2.0 that the index also has.
    assert sorted(p.name for p in mirror.glob("*.whl")) == [
        "dockerpypi_probe-1.0-py3-none-any.whl", "dockerpypi_probe_app-1.0-py3-none-any.whl"]
    (context / "Dockerfile").write_text(DOCKERFILES[layout].format(
        base=base_image, uv=copy_uv(context, uv_binary), env=ENV, mode=mode))
    return context, mirror


def build(context: Path, mirror: Path, tag: str) -> subprocess.CompletedProcess[str]:
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    return dockerpypi("build", "--inject", "--offline", "--mirror-dir", str(mirror), *labels,
                      "--no-cache", "--progress=plain", "-t", tag, "--load", str(context))


@pytest.mark.parametrize(("layout", "mode"), [("guide", "locked"), ("guide", "frozen"),
                                              ("multi-stage", "locked"),
                                              ("multi-stage", "frozen")])
def test_uv_sync_of_the_lock_builds_offline_and_leaves_the_lock_as_it_was(
        tmp_path: Path, http_mirror: Callable[..., ServedURL], uv_binary: Path,
        base_image: str, layout: str, mode: str) -> None:
    context, mirror = project_with_mirror(tmp_path, http_mirror, uv_binary, layout, mode,
                                          base_image)
    before = {name: digest(context / name) for name in ("Dockerfile", "uv.lock")}
    tag = unique_tag(f"uvlock-{layout}")

    built = build(context, mirror, tag)

    assert built.returncode == 0, built.stderr[-4000:]
    assert "uv sync reads" in built.stderr  # the lock's copy was mounted
    assert {name: digest(context / name) for name in before} == before
    locked = {p["name"]: p["version"] for p in read_lock(context / "uv.lock")["package"]
              if "registry" in p["source"]}
    check = "; ".join(f"import {n.replace('-', '_')} as m; print({n!r}, m.__version__, "
                      "m.MIRROR_ORIGIN)" for n in locked)
    status, output = run_in_image(tag, ["/app/.venv/bin/python", "-c", check])
    assert status == 0, output
    assert {line.split()[0]: line.split()[1] for line in output.splitlines()} == locked
    assert {line.split()[2] for line in output.splitlines()} == {"upstream"}
    # The image holds the user's lock, not the copy the steps read.
    status, output = run_in_image(tag, ["sha256sum", "/app/uv.lock"])
    assert status == 0, output
    assert output.split()[0] == before["uv.lock"], output
    verified = dockerpypi("verify", tag)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert ": clean (" in verified.stdout, verified.stdout


def test_a_lock_out_of_date_with_pyproject_still_fails_uv_sync_locked(
        tmp_path: Path, http_mirror: Callable[..., ServedURL], uv_binary: Path,
        base_image: str) -> None:
    context, mirror = project_with_mirror(tmp_path, http_mirror, uv_binary, "guide", "locked",
                                          base_image)
    pyproject = context / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        '"dockerpypi-probe-app"', '"dockerpypi-probe-app", "dockerpypi-probe<2"'))

    built = build(context, mirror, unique_tag("uvlock-outdated"))

    assert built.returncode != 0
    assert "needs to be updated, but `--locked` was provided" in built.stderr, \
        built.stderr[-4000:]
