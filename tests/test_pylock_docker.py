"""pylock.toml (PEP 751) installs offline from the mirror, Dockerfile and lock unchanged.

Each lock is made on the host by the real tool (``pip lock``, ``uv export
--format pylock.toml``) against a fake index on 127.0.0.1; the mirror is
filled only by ``dockerpypi mirror add pylock.toml`` (and ``mirror add pip``
for the current pip, whose wheels the fake index serves from the test
environment). The index is stopped before the build, which is ``--inject
--offline --network=none``: pip and uv install the lock's files from the
mirror only because the step reads a copy of the lock whose files are paths
into it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from support.docker import LABELS, run_in_image, unique_tag
from support.dockerfiles import copy_uv
from support.index import write_index_of, write_simple_index
from support.server import serve_directory
from support.uvproject import uv_lock, write_project

from dockerpypi.mirror.pylock import pylock_picks, read_pylock

pytestmark = [pytest.mark.docker, pytest.mark.slow]

UPSTREAM = (
    "dockerpypi-probe==1.0",
    "dockerpypi-probe==2.0",
    {"name": "dockerpypi-probe-app", "version": "1.0", "requires": ["dockerpypi-probe<2"]},
)
PIP = importlib.metadata.version("pip")  # the current pip (26.1+ installs a pylock.toml)

# pip's way: the lock COPYed in, installed into a venv by a current pip.
PIP_DOCKERFILE = """\
FROM {base}
RUN python3 -m venv /venv && /venv/bin/pip install pip=={pip}
WORKDIR /app
COPY pylock.toml ./
RUN /venv/bin/pip install -r pylock.toml
"""

# uv's ways: `uv pip sync` of the bind-mounted lock, `uv pip install -r` of a COPYed one.
UV_DOCKERFILE = """\
FROM {base}
{uv}ENV UV_PYTHON_DOWNLOADS=0
RUN uv venv /venv && uv venv /venv2
WORKDIR /app
RUN --mount=type=bind,source=pylock.toml,target=pylock.toml \\
    uv pip sync --python /venv/bin/python pylock.toml
COPY pylock.toml /srv/
RUN uv pip install --python /venv2/bin/python -r /srv/pylock.toml
"""


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=600)


def digests(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def pip_lock(context: Path, index: str) -> Path:
    """``pip lock`` of the app against ``index`` alone, as pip's documentation runs it."""
    done = subprocess.run([sys.executable, "-m", "pip", "lock", "--index-url", index,
                           "--no-cache-dir", "-o", "pylock.toml", "dockerpypi-probe-app"],
                          cwd=context, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return context / "pylock.toml"


def uv_export(uv_binary: Path, context: Path, index: str) -> Path:
    """``uv export --format pylock.toml`` of a uv project locked against ``index``."""
    write_project(context, ["dockerpypi-probe-app"])
    uv_lock(uv_binary, context, index)
    done = subprocess.run([str(uv_binary), "export", "--frozen", "--format", "pylock.toml",
                           "-o", "pylock.toml"], cwd=context, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return context / "pylock.toml"


def module_digest(wheel: Path, module: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return hashlib.sha256(archive.read(f"{module}/__init__.py")).hexdigest()


@pytest.mark.parametrize("tool", ["pip", "uv"])
def test_a_pylock_installs_offline_from_the_mirror_and_stays_as_it_was(
        tool: str, tmp_path: Path, base_image: str, uv_binary: Path,
        tool_wheels: Callable[..., Path]) -> None:
    root = write_index_of(tmp_path / "upstream", UPSTREAM, origin="upstream")
    if tool == "pip":
        for wheel in tool_wheels("pip").iterdir():
            shutil.copy2(wheel, root)
        write_simple_index(root)
    context = tmp_path / "context"
    context.mkdir()
    mirror = tmp_path / "mirror"
    with serve_directory(root) as upstream:
        if tool == "pip":
            lock = pip_lock(context, upstream)
            (context / "Dockerfile").write_text(PIP_DOCKERFILE.format(base=base_image, pip=PIP))
            tool_added = dockerpypi("mirror", "add", f"pip=={PIP}", "--index-url", upstream,
                                    "--mirror-dir", str(mirror))
            assert tool_added.returncode == 0, tool_added.stderr
        else:
            lock = uv_export(uv_binary, context, upstream)
            (context / "Dockerfile").write_text(UV_DOCKERFILE.format(
                base=base_image, uv=copy_uv(context, uv_binary)))
        added = dockerpypi("mirror", "add", str(lock), "--mirror-dir", str(mirror))
        assert added.returncode == 0, added.stderr
    # Exactly the locked files, not dockerpypi-probe 2.0 that the index also has.
    picks = pylock_picks(read_pylock(lock))
    assert sorted(pick.filename for pick in picks) == [
        "dockerpypi_probe-1.0-py3-none-any.whl", "dockerpypi_probe_app-1.0-py3-none-any.whl"]
    for pick in picks:
        assert hashlib.sha256((mirror / pick.filename).read_bytes()).hexdigest() == pick.sha256
    before = digests(context)
    tag = unique_tag(f"pylock-{tool}")
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]

    built = dockerpypi("build", "--inject", "--offline", "--mirror-dir", str(mirror), *labels,
                       "--network=none", "--no-cache", "--progress=plain", "-t", tag,
                       "--load", str(context))

    assert built.returncode == 0, built.stderr[-4000:]
    assert "is read with its files in the mirror" in built.stderr  # the copy was mounted
    assert digests(context) == before
    locked = {package["name"]: package["version"] for package in read_pylock(lock)["packages"]}
    check = "; ".join(
        f"import {name.replace('-', '_')} as m, hashlib; print({name!r}, m.__version__, "
        "m.MIRROR_ORIGIN, hashlib.sha256(open(m.__file__, 'rb').read()).hexdigest())"
        for name in locked)
    wheels = {pick.filename.split("-")[0].replace("_", "-"): mirror / pick.filename
              for pick in picks}
    for venv in ["/venv"] if tool == "pip" else ["/venv", "/venv2"]:
        status, output = run_in_image(tag, [f"{venv}/bin/python", "-c", check])
        assert status == 0, output
        rows = [line.split() for line in output.splitlines()]
        assert {name: version for name, version, _, _ in rows} == locked
        assert {origin for _, _, origin, _ in rows} == {"upstream"}
        # The installed files are those of the locked wheels (whose sha256 the lock gives).
        assert {name: digest for name, _, _, digest in rows} == {
            name: module_digest(wheels[name], name.replace("-", "_")) for name in locked}
    if tool == "pip":
        status, output = run_in_image(tag, ["/venv/bin/pip", "--version"])
        assert status == 0, output
        assert output.split()[1] == PIP, output
    # The image holds the user's lock, not the copy the steps read.
    kept = "/app/pylock.toml" if tool == "pip" else "/srv/pylock.toml"
    status, output = run_in_image(tag, ["sha256sum", kept])
    assert status == 0, output
    assert output.split()[0] == before["pylock.toml"], output
    verified = dockerpypi("verify", tag, "--needle", str(mirror))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert ": clean (" in verified.stdout, verified.stdout
