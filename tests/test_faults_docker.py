"""Faults on a real engine, with real servers on 127.0.0.1: what a build does when a mirror fails.

- A dead first mirror (a closed port) with retries 0: pip falls through to
  the next mirror at once (the step's duration is reported, not asserted).
- A mirror that drops the connection on its first requests, then works:
  retried per the retries setting (0 fails, 3 succeeds), by pip through
  pip.conf and by uv through UV_HTTP_RETRIES from the env secret.
- Offline with a package the mirror lacks: the build fails, and the log
  names the package and the mirror.
- A wheel changed after it was indexed: refused by its #sha256.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.docker import LABELS, unique_tag
from support.dockerfiles import installed, write_dockerfile
from support.server import ServedURL
from support.wheels import make_wheel

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def dockerpypi_build(context: Path, tag: str, env: Mapping[str, str],
                     ) -> subprocess.CompletedProcess[str]:
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    command = [sys.executable, "-m", "dockerpypi", "build", *labels, "--no-cache",
               "--progress=plain", "-t", tag, "--load", str(context)]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                          check=False, timeout=600)


def install_step_seconds(log: str) -> float:
    """How long the installing RUN step took, from BuildKit's plain progress."""
    step = re.search(r"^#(\d+) \[[^\]]*\] RUN .*(?:pip install|uv pip install)", log, re.M)
    assert step, log[-3000:]
    done = re.search(rf"^#{step.group(1)} DONE (\d+(?:\.\d+)?)s$", log, re.M)
    assert done, log[-3000:]
    return float(done.group(1))


def step_output(log: str) -> str:
    """What the build steps themselves printed (BuildKit's "#N 1.23 text" lines)."""
    return "\n".join(re.sub(r"^#\d+ \d+\.\d+ ", "", line) for line in log.splitlines()
                     if re.match(r"^#\d+ \d+\.\d+ ", line))


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (refuses connections at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def dropping_server(root: Path, drops: int) -> Iterator[tuple[str, list[str]]]:
    """Serve ``root``, but close the first ``drops`` connections without an answer."""
    left = [drops]
    log: list[str] = []
    lock = threading.Lock()

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                drop = left[0] > 0
                left[0] -= drop
            log.append(f"{'dropped' if drop else 'served'} {self.path}")
            if drop:
                self.close_connection = True  # the client sees the connection end, no answer
                return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_dead_first_mirror_falls_through_to_the_next(
    tmp_path: Path, base_image: str, http_mirror: Callable[..., ServedURL],
    record_property: Callable[[str, object], None],
) -> None:
    alive = http_mirror(["dockerpypi-alpha==1.0.7"], origin="second-mirror")
    dead = f"http://127.0.0.1:{closed_port()}/"
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, base_image, "pip", requirements=("dockerpypi-alpha",))
    tag = unique_tag("fault-dead-mirror")
    result = dockerpypi_build(context, tag, {"DOCKERPYPI_MIRRORS": f"{dead} {alive}",
                                             "DOCKERPYPI_OFFLINE": "1",
                                             "DOCKERPYPI_RETRIES": "0"})
    assert result.returncode == 0, result.stderr[-4000:]
    assert installed(tag, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "second-mirror")}
    seconds = install_step_seconds(result.stderr)
    record_property("install_step_seconds", seconds)
    print(f"\ninstall step with a dead first mirror and retries 0: {seconds:.1f}s")


@pytest.mark.parametrize(("installer", "retries", "succeeds"), [
    ("pip", 0, False), ("pip", 3, True), ("uv", 0, False), ("uv", 3, True)])
def test_a_mirror_that_drops_connections_is_retried_per_the_setting(
    installer: str, retries: int, succeeds: bool, tmp_path: Path, base_image: str,
    make_mirror: Callable[..., Path], uv_binary: Path,
) -> None:
    root = make_mirror(["dockerpypi-alpha==1.0.7"], origin="flaky-mirror")
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, base_image, installer, requirements=("dockerpypi-alpha",),
                     uv_binary=uv_binary)
    tag = unique_tag(f"fault-flaky-{installer}-{retries}")
    with dropping_server(root, drops=2) as (url, log):
        result = dockerpypi_build(context, tag, {"DOCKERPYPI_MIRRORS": url,
                                                 "DOCKERPYPI_OFFLINE": "1",
                                                 "DOCKERPYPI_RETRIES": str(retries)})
    page = "/dockerpypi-alpha/"
    if succeeds:
        assert result.returncode == 0, result.stderr[-4000:]
        # asked, dropped, asked again, dropped, asked a third time and answered
        assert log[:3] == [f"dropped {page}", f"dropped {page}", f"served {page}"], log
        assert installed(tag, "dockerpypi-alpha") == {
            "dockerpypi-alpha": ("1.0.7", "flaky-mirror")}
    else:
        assert result.returncode != 0, result.stderr[-4000:]
        assert log == [f"dropped {page}"], log  # asked once, never again


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_offline_a_package_missing_from_the_mirror_is_named_with_the_mirror(
    installer: str, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
    uv_binary: Path,
) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, base_image, installer,
                     requirements=("dockerpypi-alpha", "dockerpypi-missing"), uv_binary=uv_binary)
    result = dockerpypi_build(context, unique_tag(f"fault-missing-{installer}"),
                              {"DOCKERPYPI_MIRROR_DIR": str(mirror), "DOCKERPYPI_OFFLINE": "1",
                               "DOCKERPYPI_MIRRORS": "file:///tmp/pypi"})
    assert result.returncode != 0
    said = step_output(result.stderr)  # the installer's words, not the RUN line or ours
    assert "dockerpypi-missing" in said, result.stderr[-3000:]
    assert "file:///tmp/pypi" in said, said


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_wheel_changed_after_indexing_is_refused_by_its_hash(
    installer: str, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
    uv_binary: Path,
) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="indexed")
    # Same name and version, other bytes (a valid wheel still): only the hash can tell.
    swapped = make_wheel(tmp_path / "swap", "dockerpypi-alpha", "1.0.7", origin="tampered")
    (mirror / swapped.name).write_bytes(swapped.read_bytes())
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, base_image, installer, requirements=("dockerpypi-alpha",),
                     uv_binary=uv_binary)
    result = dockerpypi_build(context, unique_tag(f"fault-hash-{installer}"),
                              {"DOCKERPYPI_MIRROR_DIR": str(mirror), "DOCKERPYPI_OFFLINE": "1"})
    assert result.returncode != 0
    said = step_output(result.stderr)
    if installer == "pip":
        assert "THESE PACKAGES DO NOT MATCH THE HASHES" in said, result.stderr[-3000:]
    else:
        assert "Hash mismatch for `dockerpypi-alpha==1.0.7`" in said, result.stderr[-3000:]
    assert re.search(r"Expected:?\s+sha256[:=]?\s*[0-9a-f]{64}", said, re.I), said
