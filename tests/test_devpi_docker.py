"""``dockerpypi devpi`` with a real devpi-server, a real engine and pip.

The upstream is a fake index on 127.0.0.1 that records what it serves; the
first build must fetch the packages from it through devpi. Then the upstream
goes away and devpi restarts (which forgets when it last asked the upstream,
so it asks again, is refused, and falls back to its cache): a build from
scratch still succeeds. Last, devpi restarts offline and still serves its cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import UPSTREAM_PACKAGES
from support.devpi import end_servers_of, free_port, servers_of
from support.docker import scan_image, unique_tag
from support.dockerfiles import installed, write_dockerfile
from support.server import serve_directory
from support.wheels import wheel_filename
from test_build_docker import dockerpypi_build

from dockerpypi.devpi.serverdir import LOG_FILE

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=180)


@pytest.fixture
def serverdir(tmp_path: Path) -> Iterator[Path]:
    """devpi's directory for one test; no server of it outlives the test, pass or fail."""
    path = tmp_path / "devpi"
    yield path
    assert end_servers_of(path) == [], "a devpi-server outlived its test"


def test_builds_install_through_devpi_and_from_its_cache_once_the_upstream_is_gone(
    tmp_path: Path, base_image: str, make_mirror: Callable[..., Path], serverdir: Path,
) -> None:
    timings: dict[str, float] = {}
    port = free_port()
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, base_image, "pip", requirements=("dockerpypi-probe-app",))
    no_local_mirror = tmp_path / "no-local-mirror"  # keeps the user's cache out of it

    def build(url: str, tag: str) -> None:
        began = time.monotonic()
        result = dockerpypi_build(
            ["--index-url", url, "--no-public-fallback", "--mirror-dir", str(no_local_mirror)],
            ["--no-cache", "--progress=plain", "-t", tag, "--load", str(context)])
        timings[tag] = time.monotonic() - began
        assert result.returncode == 0, result.stderr[-4000:]

    def start(upstream: str, *more: str) -> str:
        began = time.monotonic()
        result = dockerpypi("devpi", "start", "--public-index", upstream, "--port", str(port),
                            "--serverdir", str(serverdir), *more)
        timings.setdefault("start", time.monotonic() - began)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    root = make_mirror(UPSTREAM_PACKAGES, origin="upstream")
    with serve_directory(root) as upstream:
        url = start(upstream)
        assert url == f"http://127.0.0.1:{port}/root/pypi/+simple/"
        first = unique_tag("devpi-online")
        build(url, first)
        # Through devpi from the upstream: nothing else served these files.
        assert sorted(upstream.downloads()) == sorted([
            wheel_filename("dockerpypi-probe", "1.0"),
            wheel_filename("dockerpypi-probe-app", "1.0")])
    expected = {"dockerpypi-probe-app": ("1.0", "upstream"),
                "dockerpypi-probe": ("1.0", "upstream")}
    assert installed(first, "dockerpypi-probe-app", "dockerpypi-probe") == expected

    # The upstream is gone; a fresh devpi-server has to ask it, and falls back.
    assert dockerpypi("devpi", "stop", "--serverdir", str(serverdir)).returncode == 0
    assert start(upstream) == url
    second = unique_tag("devpi-cached")
    build(url, second)
    assert installed(second, "dockerpypi-probe-app", "dockerpypi-probe") == expected
    # devpi's own words for the fallback: it did ask the upstream, and was refused.
    log = (serverdir / LOG_FILE).read_text()
    assert "serving stale links" in log, log[-3000:]
    assert scan_image(second, [f"127.0.0.1:{port}"]) == []

    # Offline, devpi serves what it holds without asking anyone.
    assert dockerpypi("devpi", "stop", "--serverdir", str(serverdir)).returncode == 0
    assert start(upstream, "--offline") == url
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    page = no_proxy.open(f"{url}dockerpypi-probe/", timeout=30).read().decode()
    assert wheel_filename("dockerpypi-probe", "1.0") in page

    status = json.loads(dockerpypi("devpi", "status", "--json", "--serverdir",
                                   str(serverdir)).stdout)
    assert (status["running"], status["url"], status["upstream"], status["offline"]) == (
        True, url, upstream, True)
    assert b"--offline-mode" in Path(f"/proc/{status['pid']}/cmdline").read_bytes()
    stopped = dockerpypi("devpi", "stop", "--serverdir", str(serverdir))
    assert stopped.returncode == 0
    assert stopped.stdout.startswith(f"stopped devpi-server, pid {status['pid']}")
    assert servers_of(serverdir) == []
    print("timings (s):", {key: round(value, 1) for key, value in timings.items()})
