"""PDM projects with pdm.lock build offline from the mirror, Dockerfile and lock unchanged.

The project is locked by the host's PDM (the dev extra's) against a fake index
on 127.0.0.1 that also serves PDM and hatchling (their wheels packed from the
test environment). The mirror is filled only by ``dockerpypi mirror add`` of
the project (its pdm.lock, and what PDM needs to build it) and of ``pdm``;
the fake index is stopped before the build, which is ``--inject --offline``
with no network at all. The Dockerfile is the multi-stage one of PDM's
documentation, with the base image as a build argument.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.docker import LABELS, run_in_image, unique_tag
from support.index import write_index_of
from support.pdmproject import pdm_lock, write_project
from support.server import serve_directory

from dockerpypi.mirror.index import is_index_file
from dockerpypi.mirror.pdmlock import read_pdm_lock

pytestmark = [pytest.mark.docker, pytest.mark.slow]

UPSTREAM = (
    "dpp-dep==1.0",
    "dpp-dep==2.0",
    {"name": "dpp-lib", "version": "1.0", "requires": ["dpp-dep<2"]},
)

# PDM's documentation ("Use PDM in a multi-stage Dockerfile"), with one change:
# Debian's own Python refuses a system-wide `pip install` (PEP 668), so PDM is
# installed in a virtual environment of its own, as the base image has no other.
PDM_DOCS = """\
ARG PYTHON_BASE={base}
# build stage
FROM $PYTHON_BASE AS builder

# install PDM
RUN python3 -m venv /opt/pdm
ENV PATH="/opt/pdm/bin:$PATH"
RUN pip install -U pdm
# disable update check
ENV PDM_CHECK_UPDATE=false
# copy files
COPY pyproject.toml pdm.lock README.md /project/
COPY src/ /project/src

# install dependencies and project into the local packages directory
WORKDIR /project
RUN pdm install --check --prod --no-editable

# run stage
FROM $PYTHON_BASE

# retrieve packages from build stage
COPY --from=builder /project/.venv/ /project/.venv
ENV PATH="/project/.venv/bin:$PATH"
# set command/entrypoint, adapt to fit your needs
COPY src /project/src
CMD ["python", "-m", "dpp_app"]
"""


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args,
                           *(labels if args[0] == "build" else [])],
                          capture_output=True, text=True, check=False, timeout=600,
                          env=os.environ.copy())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pdm_install_of_the_lock_builds_offline_from_what_mirror_add_fetched(
        tmp_path: Path, tool_wheels: Callable[..., Path], base_image: str) -> None:
    upstream_root = write_index_of(tmp_path / "upstream", UPSTREAM, origin="upstream")
    for wheel in tool_wheels("pdm", "hatchling").iterdir():
        shutil.copy2(wheel, upstream_root)
    write_index_of(upstream_root, (), origin="upstream")  # the pages, with the tools' wheels
    context = write_project(tmp_path / "context", "dpp-app", ["dpp-lib"])
    mirror = tmp_path / "mirror"
    with serve_directory(upstream_root) as upstream:
        lock = pdm_lock(context, upstream)
        # Released after the lock was made: a resolution would take it, the lock does not.
        write_index_of(upstream_root, ["dpp-dep==1.5"], origin="upstream")
        (context / "Dockerfile").write_text(PDM_DOCS.format(base=base_image))
        before = {name: digest(context / name) for name in ("Dockerfile", "pdm.lock")}
        for what in (str(context), "pdm"):
            added = dockerpypi("mirror", "add", what, "--index-url", upstream,
                               "--mirror-dir", str(mirror))
            assert added.returncode == 0, added.stderr

    locked = {p["name"]: p for p in read_pdm_lock(lock)["package"]}
    assert set(locked) == {"dpp-lib", "dpp-dep"}
    # Exactly the locked files of the project's dependencies: not dpp-dep 1.5,
    # which the index also has and which nothing but the lock excludes.
    in_mirror = {path.name: digest(path) for path in mirror.iterdir()
                 if path.is_file() and not is_index_file(path.name)}
    for name, package in locked.items():
        files = [f for f in in_mirror if f.startswith(f"{name.replace('-', '_')}-")]
        assert files == [f"{name.replace('-', '_')}-{package['version']}-py3-none-any.whl"]
        assert f"sha256:{in_mirror[files[0]]}" in {f["hash"] for f in package["files"]}
    assert any(f.startswith("hatchling-") for f in in_mirror)  # what PDM builds the project with

    tag = unique_tag("pdm-docs")
    built = dockerpypi("build", "--inject", "--offline", "--mirror-dir", str(mirror),
                       "--network=none", "--no-cache", "--progress=plain", "-t", tag,
                       "--load", str(context))

    assert built.returncode == 0, built.stderr[-6000:]
    status, output = run_in_image(tag, ["python", "-m", "dpp_app"])  # the image's CMD
    assert status == 0, output
    assert dict(line.split() for line in output.splitlines()) == {
        "dpp-lib": "1.0", "dpp-dep": "1.0", "dpp-app": "0.1.0"}
    status, output = run_in_image(tag, ["python", "-c", "import dpp_dep; "
                                        "print(dpp_dep.MIRROR_ORIGIN)"])
    assert (status, output.strip()) == (0, "upstream"), output
    assert {name: digest(context / name) for name in before} == before
    verified = dockerpypi("verify", tag, "--needle", str(mirror))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert ": clean (" in verified.stdout, verified.stdout
