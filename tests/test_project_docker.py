"""``pip install .`` of a project in the build context, offline from the mirror.

The Dockerfiles are written as pip's documentation writes them (``COPY . /app``,
``pip install .`` in a venv), not for dockerpypi. The mirror is filled only by
``dockerpypi mirror add DIR`` (or ``-r requirements.txt`` with hashes) from a
fake upstream index on 127.0.0.1 that holds the build backends: a tiny PEP 517
backend whose ``get_requires_for_build_wheel`` asks for a second package,
hatchling with its dependencies packed from the test environment, and the
base image's own setuptools (whose hook asks for wheel) taken out of it. The image is
built with ``dockerpypi build --inject --offline`` on the real engine, with no
network at all, then run.

Each pip case builds with Debian 12's own pip (the venv's, 23.0.1) and with
a current pip (the test environment's, packed by ``tool_wheels``, served by
the fake index, ``mirror add``ed and installed into the venv from the mirror
by the Dockerfile's ``pip install --upgrade pip``). Each case is one build,
so a pip costs a build per case, not a second copy of the suite.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from packaging.version import Version
from support.backend import (
    BACKEND,
    HELPER,
    make_backend,
    setuptools_from_image,
    wheel_of_installed,
    write_project,
)
from support.docker import LABELS, run_in_image, unique_tag
from support.index import write_simple_index
from support.server import ServedURL, serve_directory
from support.wheels import make_wheel, wheel_filename

from dockerpypi.mirror.index import is_index_file

pytestmark = pytest.mark.slow

HATCHLING = ("hatchling", "packaging", "pathspec", "pluggy", "tomlkit", "trove-classifiers")
BACKENDS = {  # name: ([build-system] requires, build-backend, what mirror add must fetch)
    "tiny": ([BACKEND], "dpp_backend", {BACKEND: "1.0", HELPER: "1.0"}),
    "hatchling": (["hatchling"], "hatchling.build",
                  {name: importlib.metadata.version(name) for name in HATCHLING}),
    # Debian 12's setuptools, whose hook asks for wheel (as setuptools did before 70.1).
    "setuptools": (["setuptools"], "setuptools.build_meta",
                   {"setuptools": "66.1.1", "wheel": "0.38.4"}),
}
# A current pip (the dev extra pins it), packed by tool_wheels: another pip than the image's.
CURRENT_PIP = importlib.metadata.version("pip")
DEBIAN_PIP = "23.0.1"
UPGRADE_PIP = "RUN pip install --upgrade pip\n"  # as pip's docs upgrade pip in a venv


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, base_image: str,
             tool_wheels: Callable[..., Path]) -> Iterator[ServedURL]:
    assert Version(CURRENT_PIP) >= Version("26.1"), "the dev extra installs a current pip"
    root = tmp_path_factory.mktemp("upstream")
    make_backend(root)
    setuptools_from_image(base_image, root)
    for name in HATCHLING:
        wheel_of_installed(name, root)
    for wheel in tool_wheels("pip").iterdir():
        shutil.copy2(wheel, root)
    for version in ("1.0", "2.0"):
        make_wheel(root, "dpp-dep", version, origin="upstream")
    write_simple_index(root)
    with serve_directory(root) as served:
        yield served


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    argv = [sys.executable, "-m", "dockerpypi", *args]
    if args[0] == "build":
        argv += labels
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)


def files_of(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def distributions(mirror: Path) -> dict[str, str]:
    """{project: version} of the files in the mirror (one version each here)."""
    found = {}
    for path in mirror.iterdir():
        if path.is_file() and not is_index_file(path.name):
            name, version = path.name.split("-")[:2]
            found[name.replace("_", "-")] = version
    return found


def build_offline(context: Path, mirror: Path, name: str) -> str:
    tag = unique_tag(name)
    built = cli("build", "--inject", "--offline", "--mirror-dir", str(mirror),
                "--network=none", "--no-cache", "--progress=plain", "-t", tag, "--load",
                str(context))
    assert built.returncode == 0, built.stderr[-4000:]
    return tag


def report(tag: str, *names: str) -> dict[str, str]:
    code = ("import importlib.metadata as m\n"
            f"for name in {names!r}: print(name, m.version(name))")
    status, output = run_in_image(tag, ["python", "-I", "-c", code])
    assert status == 0, output
    return dict(line.split() for line in output.splitlines())


def assert_clean(tag: str, upstream: ServedURL, mirror: Path) -> None:
    found = cli("verify", tag, "--index-url", upstream, "--needle", str(mirror))
    assert found.returncode == 0, found.stdout + found.stderr


DOCKERFILE = """\
FROM {base}
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
{upgrade}WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir {target}
"""


# The tiny backend's case (a hook that asks for a package) builds with Debian's
# pip only: the current pip's cases are the backends people use, and the
# suite's time budget pays for a build per case.
@pytest.mark.parametrize(("backend", "pip", "target"), [
    ("tiny", DEBIAN_PIP, "."),
    ("hatchling", DEBIAN_PIP, "/app"), ("hatchling", CURRENT_PIP, "."),
    ("setuptools", DEBIAN_PIP, "."), ("setuptools", CURRENT_PIP, "/app")])
def test_pip_install_dot_builds_offline_from_what_mirror_add_dir_fetched(
        backend: str, pip: str, target: str, upstream: ServedURL, base_image: str,
        tmp_path: Path) -> None:
    requires, build_backend, fetched = BACKENDS[backend]
    context = write_project(tmp_path / "context", "dpp-app", "1.5",
                            dependencies=["dpp-dep<2"], requires=requires,
                            backend=build_backend)
    upgrade = UPGRADE_PIP if pip != DEBIAN_PIP else ""
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=base_image, upgrade=upgrade,
                                                               target=target))
    before = files_of(context)
    mirror = tmp_path / "mirror"

    added = cli("mirror", "add", str(context), *(["pip"] if upgrade else []),
                "--index-url", upstream, "--mirror-dir", str(mirror))

    assert added.returncode == 0, added.stderr
    expected = {"dpp-dep": "1.0", **fetched, **({"pip": pip} if upgrade else {})}
    assert distributions(mirror) == expected
    assert files_of(context) == before  # the backend was asked on a copy
    tag = build_offline(context, mirror, f"project-{backend}")
    assert report(tag, "dpp-app", "dpp-dep", "pip") == {"dpp-app": "1.5", "dpp-dep": "1.0",
                                                        "pip": pip}
    if backend == "tiny":  # built with the package the backend's hook asked for
        status, output = run_in_image(tag, ["python", "-I", "-c",
                                            "from dpp_app._built_with import HELPER as h; "
                                            "print(h)"])
        assert (status, output.strip()) == (0, "1.0")
    assert_clean(tag, upstream, mirror)
    assert files_of(context) == before


@pytest.mark.parametrize("pip", [DEBIAN_PIP, CURRENT_PIP])
def test_require_hashes_builds_offline_from_the_pinned_files(
        pip: str, upstream: ServedURL, base_image: str, tmp_path: Path) -> None:
    upgrade = UPGRADE_PIP if pip != DEBIAN_PIP else ""
    context = tmp_path / "context"
    context.mkdir()
    pinned = upstream.root / wheel_filename("dpp-dep", "1.0")
    other = hashlib.sha256(b"a file of another build").hexdigest()
    (context / "requirements.txt").write_text(
        "dpp-dep==1.0 \\\n"
        f"    --hash=sha256:{other} \\\n"
        f"    --hash=sha256:{hashlib.sha256(pinned.read_bytes()).hexdigest()}\n")
    (context / "Dockerfile").write_text(
        f"FROM {base_image}\nRUN python3 -m venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\n"
        f"{upgrade}COPY requirements.txt .\n"
        "RUN pip install --no-cache-dir --require-hashes -r requirements.txt\n")
    before = files_of(context)
    mirror = tmp_path / "mirror"

    added = cli("mirror", "add", "-r", str(context / "requirements.txt"),
                *(["pip"] if upgrade else []), "--index-url", upstream, "--mirror-dir", str(mirror))

    assert added.returncode == 0, added.stderr
    assert distributions(mirror) == {"dpp-dep": "1.0", **({"pip": pip} if upgrade else {})}
    tag = build_offline(context, mirror, "project-hashes")
    assert report(tag, "dpp-dep", "pip") == {"dpp-dep": "1.0", "pip": pip}
    assert_clean(tag, upstream, mirror)
    assert files_of(context) == before
