"""Pipenv projects with Pipfile.lock build offline from the mirror, Dockerfile and lock unchanged.

The Pipfile is the one ``pipenv install`` writes (the public index as its
source); the host's real pipenv locks it against a fake index on 127.0.0.1,
given as ``PIPENV_PYPI_MIRROR`` as a user behind a mirror would. The mirror
is filled only by ``dockerpypi mirror add Pipfile.lock`` and ``dockerpypi
mirror add pipenv`` (pipenv's wheels, packed from the test environment, are
on the fake index). The Dockerfiles are Pipenv's: the multi-stage build of
its Docker docs (``pipenv sync`` into the project's ``.venv``), and a
single-stage ``pipenv install --deploy --system``. The base image comes as
a build arg; the build is ``--inject --offline`` with no network at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.docker import LABELS, run_in_image, unique_tag
from support.index import write_simple_index
from support.server import ServedURL, serve_directory
from support.wheels import make_wheel, wheel_filename

from dockerpypi.settings.public_index import public_index_url

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# The Pipfile `pipenv install dpp-app` writes, with the public index as its source.
PIPFILE = """\
[[source]]
url = "{public}"
verify_ssl = true
name = "pypi"

[packages]
dpp-app = "*"

[dev-packages]

[requires]
python_version = "3.11"
"""

# Pipenv's Docker docs, with the base image as a build arg (and the import checked).
DOCS = """\
ARG BASE_IMAGE=python:3.11
FROM ${BASE_IMAGE} AS builder

RUN pip install --user pipenv

# Tell pipenv to create venv in the current directory
ENV PIPENV_VENV_IN_PROJECT=1

# Pipfile contains dpp-app
ADD Pipfile.lock Pipfile /usr/src/

WORKDIR /usr/src

RUN /root/.local/bin/pipenv sync

RUN /usr/src/.venv/bin/python -c "import dpp_app; print(dpp_app.__version__)"

FROM ${BASE_IMAGE} AS runtime

RUN mkdir -v /usr/src/.venv

COPY --from=builder /usr/src/.venv/ /usr/src/.venv/

RUN /usr/src/.venv/bin/python -c "import dpp_app; print(dpp_app.__version__)"

WORKDIR /usr/src/

CMD ["./.venv/bin/python", "-c", "import dpp_app; print(dpp_app.__version__)"]
"""

# One stage, into the image's Python, the lock checked against the Pipfile.
DEPLOY = """\
ARG BASE_IMAGE=python:3.11
FROM ${BASE_IMAGE}
RUN pip install pipenv
WORKDIR /app
COPY Pipfile Pipfile.lock ./
RUN pipenv install --deploy --system
CMD ["python", "-c", "import dpp_app; print(dpp_app.__version__)"]
"""
# Each layout's Dockerfile, the python that sees its packages, and the image's lock (if any).
LAYOUTS = {"docs": (DOCS, "/usr/src/.venv/bin/python", None),
           "deploy": (DEPLOY, "python3", "/app/Pipfile.lock")}


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=600, env=os.environ.copy())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory,
             tool_wheels: Callable[..., Path]) -> Iterator[ServedURL]:
    """The fake index: the project's packages and pipenv with its dependencies."""
    root = tmp_path_factory.mktemp("pipenv-upstream")
    for wheel in tool_wheels("pipenv").iterdir():
        shutil.copy2(wheel, root)
    for version in ("1.0", "2.0"):
        make_wheel(root, "dpp-dep", version, origin="upstream")
    make_wheel(root, "dpp-app", "1.0", requires=["dpp-dep<2"], origin="upstream")
    write_simple_index(root)
    with serve_directory(root) as served:
        yield served


def pipenv_lock(project: Path, index: str, tmp_path: Path) -> Path:
    """The real pipenv's Pipfile.lock of ``project``, resolved against ``index``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PIPENV_", "VIRTUAL_ENV"))}
    env.update(PIPENV_PYPI_MIRROR=index, WORKON_HOME=str(tmp_path / "virtualenvs"),
               PIPENV_CACHE_DIR=str(tmp_path / "pipenv-cache"), PIPENV_IGNORE_VIRTUALENVS="1",
               PIPENV_YES="1", PIPENV_NOSPIN="1", NO_COLOR="1")
    locked = subprocess.run([sys.executable, "-m", "pipenv", "lock"], cwd=project, env=env,
                            capture_output=True, text=True, check=False, timeout=600)
    assert locked.returncode == 0, locked.stdout + locked.stderr
    return project / "Pipfile.lock"


@pytest.fixture(scope="module")
def locked(upstream: ServedURL, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the Pipfile and the Pipfile.lock pipenv made of it."""
    project = tmp_path_factory.mktemp("pipenv-project")
    (project / "Pipfile").write_text(PIPFILE.format(public=public_index_url().rstrip("/")))
    pipenv_lock(project, upstream, tmp_path_factory.mktemp("pipenv-home"))
    return project


def locked_packages(lock: Path) -> dict[str, tuple[str, set[str]]]:
    """{name: (version, sha256 values)} of the lock's default packages."""
    default = json.loads(lock.read_text())["default"]
    return {name: (entry["version"].removeprefix("=="),
                   {h.removeprefix("sha256:") for h in entry["hashes"]})
            for name, entry in default.items()}


def test_mirror_add_pipfile_lock_fetches_only_the_locked_files(
        locked: Path, upstream: ServedURL, tmp_path: Path) -> None:
    # A wheel of the locked version that the lock does not list, and that fits
    # this machine better than the locked one: only the lock's hashes may land.
    stray = make_wheel(tmp_path / "stray", "dpp-dep", "1.0", tag="py311-none-any",
                       origin="stray")
    shutil.copy2(stray, upstream.root)
    write_simple_index(upstream.root)
    mirror = tmp_path / "mirror"
    try:
        added = dockerpypi("mirror", "add", str(locked / "Pipfile.lock"), "--index-url", upstream,
                           "--mirror-dir", str(mirror))
    finally:
        (upstream.root / stray.name).unlink()
        write_simple_index(upstream.root)

    assert added.returncode == 0, added.stderr
    assert sorted(p.name for p in mirror.glob("*.whl")) == [
        wheel_filename("dpp-app", "1.0"), wheel_filename("dpp-dep", "1.0")]
    packages = locked_packages(locked / "Pipfile.lock")
    for path in mirror.glob("*.whl"):
        name = path.name.split("-")[0].replace("_", "-")
        assert digest(path) in packages[name][1]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_pipenv_builds_offline_from_the_locked_files_and_leaves_the_lock_as_it_was(
        locked: Path, upstream: ServedURL, base_image: str, tmp_path: Path,
        layout: str) -> None:
    dockerfile, python, image_lock = LAYOUTS[layout]
    context = tmp_path / "context"
    context.mkdir()
    for name in ("Pipfile", "Pipfile.lock"):
        shutil.copy2(locked / name, context / name)
    (context / "Dockerfile").write_text(dockerfile)
    before = {path.name: digest(path) for path in context.iterdir()}
    mirror = tmp_path / "mirror"
    for what in (str(context / "Pipfile.lock"), "pipenv"):
        added = dockerpypi("mirror", "add", what, "--index-url", upstream,
                           "--mirror-dir", str(mirror))
        assert added.returncode == 0, added.stderr
    tag = unique_tag(f"pipenv-{layout}")
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]

    built = dockerpypi("build", "--inject", "--offline", "--mirror-dir", str(mirror), *labels,
                       "--network=none", "--no-cache", "--progress=plain",
                       "--build-arg", f"BASE_IMAGE={base_image}", "-t", tag, "--load",
                       str(context))

    assert built.returncode == 0, built.stderr[-4000:]
    assert {path.name: digest(path) for path in context.iterdir()} == before
    packages = locked_packages(context / "Pipfile.lock")
    # Each installed package is the mirror's file of it, whose sha256 the lock lists:
    # its RECORD in the image is the one in that wheel.
    check = ("import importlib.metadata as m, json\n"
             f"print(json.dumps({{n: [m.version(n), m.distribution(n).read_text('RECORD')] "
             f"for n in {sorted(packages)!r}}}))")
    status, output = run_in_image(tag, [python, "-c", check])
    assert status == 0, output
    installed = json.loads(output.strip().splitlines()[-1])
    for name, (version, hashes) in packages.items():
        wheel = mirror / wheel_filename(name, version)
        assert digest(wheel) in hashes
        assert installed[name][0] == version
        with zipfile.ZipFile(wheel) as archive:
            record = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
            wheel_lines = set(archive.read(record).decode().splitlines())
        assert wheel_lines <= set(installed[name][1].splitlines())
    status, output = run_in_image(tag, [])
    assert (status, output.strip()) == (0, "1.0")
    # pipenv's cache went to the step's cache mount, not into the image
    status, output = run_in_image(tag, ["sh", "-c", "ls -A /root/.cache 2>/dev/null || true"])
    assert "pipenv" not in output
    if image_lock is not None:  # the image holds the user's lock as it was
        status, output = run_in_image(tag, ["sha256sum", image_lock])
        assert (status, output.split()[0]) == (0, before["Pipfile.lock"]), output
    verified = dockerpypi("verify", tag, "--index-url", upstream, "--needle", str(mirror))
    assert verified.returncode == 0, verified.stdout + verified.stderr
