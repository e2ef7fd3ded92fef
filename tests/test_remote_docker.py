"""`dockerpypi build` on a remote engine, whose 127.0.0.1 is not this machine's.

The engine runs on a test host of its own (a network namespace:
``../shared/engine/remote`` starts it and prints its ``DOCKER_HOST``;
DOCKERPYPI_TEST_REMOTE_HOST names another). Builds, runs and ``dockerpypi
verify`` go to it through the docker CLI with DOCKER_HOST set, as a user's
would. A local mirror directory travels as a named context; a mirror on this
machine's loopback (a fake index served on 127.0.0.1, with credentials) is
fetched here and sent the same way; the http transport, which serves on
127.0.0.1, is refused before docker builds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import unavailable
from support.docker import LABELS, SESSION_ID, SESSION_LABEL, unique_tag
from support.dockerfiles import write_dockerfile
from support.server import ServedURL

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REMOTE = os.environ.get("DOCKERPYPI_TEST_REMOTE_HOST", "tcp://10.231.0.2:2375")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PASSWORD = "remote-s3cret-pw"


def _docker(*args: str, check: bool = True, timeout: float = 600,
            **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The docker CLI against the remote engine."""
    return subprocess.run(["docker", *args], env={**os.environ, "DOCKER_HOST": REMOTE},
                          capture_output=True, text=True, check=check, timeout=timeout,
                          **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="session")
def remote_engine(base_image: str) -> Iterator[str]:
    """The remote engine's DOCKER_HOST, with the base image on it; its images from this
    session are removed at the end."""
    try:
        answer = _docker("version", "--format", "{{.Server.Version}}", check=False,
                         timeout=30)
    except subprocess.TimeoutExpired:
        answer = None
    if answer is None or answer.returncode != 0:
        unavailable(f"the remote engine tests need an engine on a test host of its own at "
                    f"{REMOTE} (../shared/engine/remote starts one; "
                    "DOCKERPYPI_TEST_REMOTE_HOST names another)")
    if _docker("image", "inspect", base_image, check=False).returncode != 0:
        # An engine of its own has images of its own: this one's base image is ours.
        saved = subprocess.Popen(["docker", "save", base_image], stdout=subprocess.PIPE,
                                 env={k: v for k, v in os.environ.items() if k != "DOCKER_HOST"})
        _docker("load", stdin=saved.stdout)
        assert saved.wait() == 0
    yield REMOTE
    found = _docker("image", "ls", "-q", "--filter", f"label={SESSION_LABEL}={SESSION_ID}",
                    check=False).stdout.split()
    if found:
        _docker("image", "rm", "-f", *dict.fromkeys(found), check=False)


@pytest.fixture
def on_remote(remote_engine: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST set to the remote engine for this test and what it starts."""
    monkeypatch.setenv("DOCKER_HOST", remote_engine)
    return remote_engine


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=600)


def build(ours: list[str], docker: list[str]) -> subprocess.CompletedProcess[str]:
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    return dockerpypi("build", *ours, *labels, *docker)


def run_remote(image: str, *command: str) -> str:
    return _docker("run", "--rm", image, *command).stdout.strip()


def built_on_the_remote_engine_only(tag: str) -> bool:
    here = subprocess.run(["docker", "image", "inspect", tag], capture_output=True,
                          env={k: v for k, v in os.environ.items() if k != "DOCKER_HOST"},
                          check=False)
    return here.returncode != 0 and _docker("image", "inspect", tag, check=False).returncode == 0


def docker_built(stderr: str) -> bool:
    """Whether the log shows BuildKit's steps (docker ran a build)."""
    return "[internal] load build definition" in stderr


def test_the_example_builds_on_a_remote_engine_from_a_local_mirror_directory(
        on_remote: str, base_image: str, make_mirror: Callable[..., Path]) -> None:
    pinned = (EXAMPLES / "requirements.txt").read_text().split()[-1]
    name, version = pinned.split("==")
    mirror = make_mirror([pinned], origin="local-mirror")
    tag = unique_tag("remote-example")
    result = build(["--offline", "--mirror-dir", str(mirror)],
                   ["--progress=plain", "--build-arg", f"BASE_IMAGE={base_image}", "-t", tag,
                    "--load", str(EXAMPLES)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert "transport context:" in result.stderr
    assert "cannot reach" not in result.stderr  # nothing on loopback: nothing to fetch
    assert built_on_the_remote_engine_only(tag)
    assert run_remote(tag) == f"{name} {version}"
    verified = dockerpypi("verify", tag)  # reads the image through DOCKER_HOST
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "clean" in verified.stdout


def test_a_loopback_mirror_is_fetched_here_and_sent_to_the_remote_build(
        on_remote: str, tmp_path: Path, base_image: str,
        http_mirror: Callable[..., ServedURL]) -> None:
    served = http_mirror([
        {"name": "dockerpypi-alpha", "version": "1.0.7"},
        {"name": "dockerpypi-alpha", "version": "2.0"},
        {"name": "dockerpypi-app", "version": "3.1", "requires": ["dockerpypi-alpha<2"]},
        {"name": "dockerpypi-unused", "version": "1.0"},
    ], origin="loopback", username="builder", password=PASSWORD)
    index = served.replace("http://", f"http://builder:{PASSWORD}@")
    context = tmp_path / "context"
    context.mkdir()
    # The steps take their settings from the context: the credentials stay here.
    write_dockerfile(context, base_image, "pip", requirements=("dockerpypi-app",))
    before = {path.name: path.read_bytes() for path in context.iterdir()}
    tag = unique_tag("remote-loopback")
    result = build(["--offline", "--index-url", index, "--mirror-dir", str(tmp_path / "none")],
                   ["--progress=plain", "-t", tag, "--load", str(context)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert (f"the docker builder of the engine at {on_remote} cannot reach this machine's "
            f"loopback: fetching what the build needs from {served.replace('http://', 'http://***@')}"
            " here, sent as the pypi-mirror context") in result.stderr
    assert "sending 2 files (for CPython 3.8 to 3.15 on x86_64) fetched from the loopback " \
           "mirror" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    # Only what the build installs left the loopback mirror.
    assert sorted(served.downloads()) == ["dockerpypi_alpha-1.0.7-py3-none-any.whl",
                                          "dockerpypi_app-3.1-py3-none-any.whl"]
    code = ("import dockerpypi_app as a, dockerpypi_alpha as b; "
            "print(a.__version__, a.MIRROR_ORIGIN, b.__version__, b.MIRROR_ORIGIN)")
    assert run_remote(tag, "python3", "-c", code) == "3.1 loopback 1.0.7 loopback"
    assert built_on_the_remote_engine_only(tag)
    verified = dockerpypi("verify", "--index-url", index, tag)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert PASSWORD not in verified.stdout + verified.stderr
    assert {path.name: path.read_bytes() for path in context.iterdir()} == before
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("dockerpypi-fetched-*"))


def test_a_local_mirror_and_a_loopback_mirror_reach_the_remote_build_together(
        on_remote: str, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
        http_mirror: Callable[..., ServedURL]) -> None:
    local = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    served = http_mirror([{"name": "dockerpypi-app", "version": "3.1",
                           "requires": ["dockerpypi-alpha>=1"]}], origin="loopback")
    write_dockerfile(tmp_path, base_image, "pip", requirements=("dockerpypi-app",))
    tag = unique_tag("remote-both")
    result = build(["--offline", "--index-url", "file:///tmp/pypi", "--index-url", served,
                    "--mirror-dir", str(local)],
                   ["--progress=plain", "-t", tag, "--load", str(tmp_path)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert "sending 2 files (for CPython 3.8 to 3.15 on x86_64) fetched from the loopback " \
           "mirror" in result.stderr
    code = ("import dockerpypi_app as a, dockerpypi_alpha as b; "
            "print(a.MIRROR_ORIGIN, b.MIRROR_ORIGIN)")
    assert run_remote(tag, "python3", "-c", code) == "loopback local-mirror"
    verified = dockerpypi("verify", "--index-url", "file:///tmp/pypi", "--index-url", served,
                          tag)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_loopback_mirror_that_cannot_serve_the_build_stops_it_in_one_line(
        on_remote: str, tmp_path: Path, base_image: str,
        http_mirror: Callable[..., ServedURL]) -> None:
    served = http_mirror(["dockerpypi-alpha==1.0.7"], origin="loopback")
    write_dockerfile(tmp_path, base_image, "pip", requirements=("dockerpypi-missing",))
    result = build(["--offline", "--index-url", served, "--mirror-dir", str(tmp_path / "none")],
                   ["--progress=plain", "-t", unique_tag("remote-refused"), str(tmp_path)])
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"dockerpypi: error: the docker builder of the engine at {on_remote} "
                           f"cannot reach {served} on this machine's loopback, and the build's "
                           "requirements resolve from it for no CPython 3.8 to 3.15 "
                           "(Python 3.15: uv could not resolve"), last
    assert last.endswith(": give the mirror an address the builder reaches (such as "
                         "http://HOST-IP:PORT/... in DOCKERPYPI_MIRRORS), or fill a local "
                         "mirror with `dockerpypi mirror add` and build with --mirror-dir")
    assert not docker_built(result.stderr)


def test_the_http_transport_is_refused_on_a_remote_engine_before_docker_builds(
        on_remote: str, tmp_path: Path, base_image: str,
        make_mirror: Callable[..., Path]) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    write_dockerfile(tmp_path, base_image, "pip", requirements=("dockerpypi-alpha",),
                     secrets=True)
    result = build(["--offline", "--mirror-dir", str(mirror), "--transport", "http"],
                   ["--progress=plain", "-t", unique_tag("remote-http"), str(tmp_path)])
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"dockerpypi: error: the docker builder of the engine at {on_remote} cannot reach "
        f"this machine's 127.0.0.1, where the http transport would serve the mirror {mirror}: "
        "drop --transport http: the context transport sends the mirror to any builder")
    assert not docker_built(result.stderr)


def test_a_docker_context_whose_endpoint_is_elsewhere_is_told_apart(
        remote_engine: str, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A docker configuration of the test's own, with a context for the remote engine.
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    subprocess.run(["docker", "context", "create", "build-farm", "--docker",
                    f"host={remote_engine}"], check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("DOCKER_CONTEXT", "build-farm")
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    write_dockerfile(tmp_path, base_image, "pip", requirements=("dockerpypi-alpha",),
                     secrets=True)
    result = build(["--offline", "--mirror-dir", str(mirror), "--transport", "http"],
                   ["--progress=plain", "-t", unique_tag("remote-context"), str(tmp_path)])
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"dockerpypi: error: the docker builder of the engine at {remote_engine} cannot "
        "reach this machine's 127.0.0.1"), result.stderr
    assert not docker_built(result.stderr)
