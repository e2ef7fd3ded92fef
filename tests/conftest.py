"""Fixtures shared by every test: installer isolation, fake indexes, Docker.

The helpers themselves live in ``tests/support`` (plain modules, importable as
``support.<module>`` because pytest puts this directory on ``sys.path``).
Docker is imported only by the Docker fixtures, so the unit tests run on a
machine without the engine or the Docker SDK.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from support.index import write_index_of
from support.server import ServedURL, serve_directory
from support.wheels import make_wheel

pytest_plugins = ("pytester",)  # test_harness.py runs the Docker fixtures in a sub-pytest

# Ryuk (testcontainers' reaper) is an image that cannot be pulled here; our
# labels and the session teardown below do its job.
os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"

DEFAULT_BASE_IMAGE = "dockerpypi-test/python:3.11-bookworm"
# Variables an installer or dockerpypi would read. PYPI_MIRROR_URL* is the
# legacy diskimage-builder name that dockerpypi still honours.
_ISOLATED_PREFIXES = ("PIP_", "UV_", "DIB_", "DOCKERPYPI_", "PYPI_MIRROR_URL")
_KEPT_PREFIX = "DOCKERPYPI_TEST_"  # the test suite's own knobs
_DOCKER_FIXTURES = frozenset({"docker_engine", "base_image"})
_PODMAN_FIXTURES = frozenset({"podman_base_image"})
# What the fake public index offers unless a test asks for something else.
UPSTREAM_PACKAGES: tuple[str | Mapping[str, Any], ...] = (
    "dockerpypi-probe==1.0",
    "dockerpypi-probe==2.0",
    {"name": "dockerpypi-probe-app", "version": "1.0", "requires": ["dockerpypi-probe<2"]},
)


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml declares these; registering them here too keeps a
    # sub-pytest (pytester, no ini file) working under --strict-markers.
    declared = " ".join(config.getini("markers"))
    for name, text in (("docker", "needs a real Docker engine"), ("slow", "takes seconds"),
                       ("podman", "needs a real podman")):
        if f"{name}:" not in declared:
            config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Mark by fixture use (the closure includes indirect use), so `-m "not
    # docker"` works without every test having to remember the marker.
    for item in items:
        if _DOCKER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)
        if _PODMAN_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.podman)


# --- isolation from the machine's installer configuration -----------------


@pytest.fixture(autouse=True)
def isolated_installer_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the machine's pip/uv settings from the tests and their subprocesses.

    This machine sets PIP_FIND_LINKS, constraints in /etc/xdg/pip and more;
    a test that passed only because of them would fail anywhere else.
    """
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES) and not name.startswith(_KEPT_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # pip then reads no config file at all
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    # Never wait on a prompt or on the network for something a test did not ask for.
    monkeypatch.setenv("PIP_NO_INPUT", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")


@pytest.fixture(autouse=True)
def isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory of the test's own for dockerpypi (and the CLIs it starts).

    dockerpypi keeps compiled templates and the engine probe in the user's
    cache; a test must neither read what an earlier run left there nor leave
    anything in the real one.
    """
    directory = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(directory))
    return directory


# --- wheels and indexes -----------------------------------------------------


@pytest.fixture
def wheel_factory(tmp_path: Path) -> Callable[..., Path]:
    """``wheel_factory(name, version, *, dest_dir=None, **make_wheel_kwargs) -> Path``.

    Without ``dest_dir`` the wheel goes to ``tmp_path / "wheels"``.
    """

    def factory(name: str, version: str, *, dest_dir: Path | None = None, **kwargs: Any) -> Path:
        return make_wheel(dest_dir or tmp_path / "wheels", name, version, **kwargs)

    return factory


@pytest.fixture
def make_mirror(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``make_mirror(packages, *, origin="mirror") -> Path`` of a new PEP 503 tree.

    ``packages`` holds ``"name==version"`` strings or dicts of ``make_wheel``
    keyword arguments (``name``, ``version``, ``requires``, ...). Every wheel
    gets ``MIRROR_ORIGIN = origin`` unless its dict says otherwise.
    """

    def factory(packages: Iterable[str | Mapping[str, Any]], *, origin: str = "mirror") -> Path:
        return write_index_of(tmp_path_factory.mktemp(f"index-{origin}"), packages,
                              origin=origin)

    return factory


@pytest.fixture
def http_mirror(make_mirror: Callable[..., Path]) -> Iterator[Callable[..., ServedURL]]:
    """``http_mirror(packages=(), *, origin="mirror", username=None, password=None,
    root=None) -> ServedURL``: a mirror served on 127.0.0.1 until the test ends.

    Pass ``root`` to serve an existing tree instead of making one.
    """
    with ExitStack() as servers:

        def factory(
            packages: Iterable[str | Mapping[str, Any]] = (),
            *,
            origin: str = "mirror",
            username: str | None = None,
            password: str | None = None,
            root: Path | None = None,
        ) -> ServedURL:
            root = root or make_mirror(packages, origin=origin)
            served = serve_directory(root, username=username, password=password)
            return servers.enter_context(served)

        yield factory


@pytest.fixture
def upstream_index(http_mirror: Callable[..., ServedURL]) -> ServedURL:
    """The fake public index: UPSTREAM_PACKAGES with ``MIRROR_ORIGIN = "upstream"``."""
    return http_mirror(UPSTREAM_PACKAGES, origin="upstream")


# --- Docker ----------------------------------------------------------------


def unavailable(reason: str) -> None:
    """Skip, or fail under CI: CI must never go green by skipping the Docker tests."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A docker SDK client for an engine with buildx; removes this session's images at the end."""
    from support import docker as support_docker

    problem = support_docker.engine_problem()
    if problem is not None:
        unavailable(f"the Docker tests need an engine with buildx: {problem} "
                    "(../shared/engine/up starts one)")
    yield support_docker.client()
    support_docker.remove_session_artifacts()


@pytest.fixture(scope="session")
def base_image(docker_engine: Any) -> str:
    """The image test builds start FROM; it must already be on the engine (nothing is pulled)."""
    from docker.errors import ImageNotFound

    name = os.environ.get("DOCKERPYPI_TEST_BASE_IMAGE", DEFAULT_BASE_IMAGE)
    try:
        docker_engine.images.get(name)
    except ImageNotFound:
        unavailable(f"base image {name} is not on the engine and cannot be pulled "
                    "(../shared/engine/up makes it; DOCKERPYPI_TEST_BASE_IMAGE picks another)")
    return name


@pytest.fixture(scope="session")
def podman_base_image() -> Iterator[str]:
    """The base image in podman's own storage (rootful podman, no daemon); removes this
    session's podman images at the end. Missing podman: a skip, a failure under CI."""
    from support import podman as support_podman

    name = os.environ.get("DOCKERPYPI_TEST_BASE_IMAGE", DEFAULT_BASE_IMAGE)
    problem = support_podman.engine_problem(name)
    if problem is not None:
        unavailable(f"the podman tests need podman with the base image: {problem} "
                    "(../shared/engine/podman installs it and loads the image)")
    yield name
    support_podman.remove_session_images()


@pytest.fixture(scope="session")
def named_contexts(docker_engine: Any) -> bool:
    """Whether `dockerpypi build` can send named build contexts to this engine.

    Not on Docker 20.10 (the HTTP transport): steps there take their settings
    from secrets (`render --secrets`).
    """
    from dockerpypi.build.engine import choose_transport, probe_engine

    return choose_transport(probe_engine()).kind == "context"


@pytest.fixture(scope="session")
def uv_binary() -> Path:
    """The host's uv (a test dependency), for images that install with uv."""
    import shutil
    import sys

    found = shutil.which("uv", path=str(Path(sys.executable).parent))
    assert found, "uv is a test dependency: pip install -e '.[test]'"
    return Path(found)


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TMPDIR, for this process and its children, to see what is left behind."""
    import tempfile

    directory = tmp_path / "tmpdir"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", None)  # forget the cached choice
    return directory


@pytest.fixture(scope="session")
def tool_wheels(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``tool_wheels("poetry")``: a directory of the wheels that install it (and its closure).

    Packed from this environment (:mod:`support.wheelhouse`), once per set of
    names a session asks for; copy them next to a test's own wheels to serve
    them from a fake index, or ``mirror add`` them from one.
    """
    from support.wheelhouse import pack_installed

    made: dict[tuple[str, ...], Path] = {}

    def factory(*requirements: str) -> Path:
        key = tuple(sorted(requirements))
        if key not in made:
            made[key] = tmp_path_factory.mktemp("tool-wheels")
            pack_installed(key, made[key])
        return made[key]

    return factory
