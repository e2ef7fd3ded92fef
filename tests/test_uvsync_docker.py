"""uv sync builds offline from the part of the mirror its lock names.

A uv project locked by the host's uv against a fake index on 127.0.0.1; the
mirror filled by ``dockerpypi mirror add uv.lock`` and padded with a large
wheel no step reads; the fake index stopped before the build.

- ``--inject`` of uv's guide Dockerfile: the build sends the lock's files,
  not the whole mirror, and the image runs with the locked versions.
- The step ``dockerpypi render --installer uv-sync`` writes, built with plain
  ``dockerpypi build`` (no ``--inject``): the build supplies the lock's copy.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.docker import LABELS, run_in_image, unique_tag
from support.dockerfiles import copy_uv
from support.server import ServedURL
from support.uvproject import uv_lock, write_project
from support.wheels import make_wheel

from dockerpypi.mirror.index import update_index
from dockerpypi.mirror.lockfile import read_lock

pytestmark = [pytest.mark.docker, pytest.mark.slow]

UPSTREAM = (
    "dockerpypi-probe==1.0",
    "dockerpypi-probe==2.0",
    {"name": "dockerpypi-probe-app", "version": "1.0", "requires": ["dockerpypi-probe<2"]},
)

GUIDE = """\
FROM {base}
{uv}ENV UV_PYTHON_DOWNLOADS=0
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --locked --no-install-project
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --locked
"""


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=600, env=os.environ.copy())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locked_project(tmp_path: Path, http_mirror: Callable[..., ServedURL],
                   uv_binary: Path) -> tuple[Path, Path]:
    """(build context, mirror): locked upstream; the mirror filled from the lock and padded."""
    context = write_project(tmp_path / "context", ["dockerpypi-probe-app"])
    upstream = http_mirror(UPSTREAM, origin="upstream")
    lock = uv_lock(uv_binary, context, upstream)
    mirror = tmp_path / "mirror"
    added = dockerpypi("mirror", "add", str(lock), "--mirror-dir", str(mirror))
    assert added.returncode == 0, added.stderr
    # 4 MB, incompressible: the transfer shows whether it travelled.
    make_wheel(mirror, "dockerpypi-padding", "1.0", files={"blob.bin": os.urandom(4_000_000)})
    update_index(mirror)
    return context, mirror


def build(context: Path, mirror: Path, tag: str, *options: str
          ) -> subprocess.CompletedProcess[str]:
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    return dockerpypi("build", *options, "--offline", "--mirror-dir", str(mirror), *labels,
                      "--no-cache", "--progress=plain", "-t", tag, "--load", str(context))


def transferred(stderr: str) -> float:
    """The largest transfer of the pypi-mirror context BuildKit reported, in bytes."""
    sizes = [float(size) * {"B": 1, "kB": 1e3, "MB": 1e6}[unit] for size, unit in
             re.findall(r"transferring pypi-mirror: ([\d.]+)(B|kB|MB)", stderr)]
    assert sizes, stderr[-4000:]
    return max(sizes)


def assert_locked_versions_installed(context: Path, tag: str, python: str, *,
                                     verify: bool = True) -> None:
    locked = {p["name"]: p["version"] for p in read_lock(context / "uv.lock")["package"]
              if "registry" in p["source"]}
    check = "; ".join(f"import {n.replace('-', '_')} as m; print({n!r}, m.__version__, "
                      "m.MIRROR_ORIGIN)" for n in locked)
    status, output = run_in_image(tag, [python, "-c", check])
    assert status == 0, output
    assert {line.split()[0]: line.split()[1] for line in output.splitlines()} == locked
    assert {line.split()[2] for line in output.splitlines()} == {"upstream"}
    if not verify:
        return
    verified = dockerpypi("verify", tag)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert ": clean (" in verified.stdout, verified.stdout


def test_an_injected_uv_sync_build_sends_only_the_locks_files(
        tmp_path: Path, http_mirror: Callable[..., ServedURL], uv_binary: Path,
        base_image: str) -> None:
    context, mirror = locked_project(tmp_path, http_mirror, uv_binary)
    (context / "Dockerfile").write_text(GUIDE.format(base=base_image,
                                                     uv=copy_uv(context, uv_binary)))
    before = {name: digest(context / name) for name in ("Dockerfile", "uv.lock")}
    tag = unique_tag("uvsync-subset")

    built = build(context, mirror, tag, "--inject")

    assert built.returncode == 0, built.stderr[-4000:]
    assert re.search(r"dockerpypi: sending 2 of 3 mirror files \(.*\) for CPython 3\.8 to "
                     r"3\.15 on \w+", built.stderr), built.stderr[-4000:]
    assert transferred(built.stderr) < 100_000  # the padding stayed home
    assert {name: digest(context / name) for name in before} == before
    assert_locked_versions_installed(context, tag, "/app/.venv/bin/python")


def render(*args: str) -> str:
    rendered = dockerpypi("render", *args)
    assert rendered.returncode == 0, rendered.stderr
    return rendered.stdout


def test_rendered_uv_sync_steps_build_offline_with_plain_build(
        tmp_path: Path, http_mirror: Callable[..., ServedURL], uv_binary: Path,
        base_image: str) -> None:
    """uv's guide written with `render --installer uv-sync`: the build supplies the lock's copy."""
    context, mirror = locked_project(tmp_path, http_mirror, uv_binary)
    (context / "Dockerfile").write_text(
        render("stage") + f"FROM {base_image}\n" + copy_uv(context, uv_binary)
        + "ENV UV_PYTHON_DOWNLOADS=0\nWORKDIR /app\n" + render("--installer", "uv-sync")
        + "COPY . /app\n" + render("--installer", "uv-sync", "--", "uv", "sync", "--locked"))
    before = {name: digest(context / name) for name in ("Dockerfile", "uv.lock")}
    tag = unique_tag("uvsync-render")

    built = build(context, mirror, tag)

    assert built.returncode == 0, built.stderr[-4000:]
    assert "dockerpypi: sending 2 of 3 mirror files" in built.stderr, built.stderr[-4000:]
    assert {name: digest(context / name) for name in before} == before
    assert_locked_versions_installed(context, tag, "/app/.venv/bin/python")
    status, output = run_in_image(tag, ["sha256sum", "/app/uv.lock"])
    assert status == 0, output
    assert output.split()[0] == before["uv.lock"], output


# Everything a project or its image may say to point uv elsewhere: none of it
# may win over the step's settings, or the offline build would fail.
OUTVOTING_ENV = """\
ENV UV_DEFAULT_INDEX=http://127.0.0.1:9/simple/ UV_INDEX_URL=http://127.0.0.1:9/simple/ \\
    UV_INDEX=http://127.0.0.1:9/simple/ UV_FIND_LINKS=http://127.0.0.1:9/links/ \\
    UV_TORCH_BACKEND=cu126 PIP_INDEX_URL=http://127.0.0.1:9/simple/ \\
    PIP_FIND_LINKS=http://127.0.0.1:9/links/
"""


def test_the_projects_own_index_and_the_images_variables_do_not_outvote_the_mirror(
        tmp_path: Path, http_mirror: Callable[..., ServedURL], uv_binary: Path,
        base_image: str) -> None:
    """pyproject.toml's default index, a uv.toml beside it and ENV index variables lose."""
    context, mirror = locked_project(tmp_path, http_mirror, uv_binary)
    upstream = re.search(r'registry = "([^"]+)"', (context / "uv.lock").read_text())
    assert upstream is not None
    pyproject = context / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uv]\nindex-url = "http://127.0.0.1:9/"\n'
                         '\n[[tool.uv.index]]\nname = "own"\n'
                         f'url = "{upstream.group(1)}"\ndefault = true\n')
    (context / "uv.toml").write_text('[[index]]\nurl = "http://127.0.0.1:9/uv-toml/"\n'
                                     'default = true\n')
    (context / "Dockerfile").write_text(
        GUIDE.format(base=base_image, uv=copy_uv(context, uv_binary) + OUTVOTING_ENV)
        + "RUN uv pip install --reinstall --python /app/.venv/bin/python dockerpypi-probe-app\n")
    tag = unique_tag("uvsync-outvoted")

    built = build(context, mirror, tag, "--inject")

    assert built.returncode == 0, built.stderr[-4000:]
    # (verify would rightly report the image's own ENV and uv.toml: they are the user's)
    assert_locked_versions_installed(context, tag, "/app/.venv/bin/python", verify=False)
