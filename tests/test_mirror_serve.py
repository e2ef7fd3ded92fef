"""``dockerpypi mirror serve`` as a user runs it: a process that serves until a signal."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""


def raw_status(url: str, target: str) -> int:
    """The status of ``GET target``, sent as written (urllib would normalise it)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def first_line(process: subprocess.Popen[str], timeout: float = 15) -> str:
    """The first line the process prints, without hanging the test if it prints none."""
    stream = process.stdout
    assert stream is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    printed = "".join(lines)  # at most one line
    assert printed, f"no URL printed within {timeout}s"
    return printed.strip()


@pytest.fixture
def serve() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(mirror: Path, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "dockerpypi", "mirror", "serve", "--mirror-dir", str(mirror),
             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield start
    for process in started:  # only if a test failed before stopping its server
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serves_the_mirror_until_a_signal_then_exits_0(
        stop: signal.Signals, make_mirror: Callable[..., Path],
        serve: Callable[..., subprocess.Popen[str]]) -> None:
    mirror = make_mirror([{"name": "dockerpypi-served", "version": "1.2",
                           "requires": ["dockerpypi-dep"]}])
    process = serve(mirror, "--host", "127.0.0.1", "--port", "0")

    url = first_line(process)
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/")
    status, kind, page = fetch(url + "dockerpypi-served/")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert b"dockerpypi_served-1.2-py3-none-any.whl" in page
    status, kind, wheel = fetch(url + "dockerpypi_served-1.2-py3-none-any.whl")
    assert (status, kind) == (200, "application/zip")
    assert wheel == (mirror / "dockerpypi_served-1.2-py3-none-any.whl").read_bytes()
    assert fetch(url + "no-such-project/")[0] == 404

    process.send_signal(stop)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert f"serving {mirror} read-only at {url}" in err
    assert "stopped serving" in err
    assert out == ""  # the URL was the only line on standard output


def test_serves_no_dot_file_and_nothing_outside_however_the_path_is_written(
        make_mirror: Callable[..., Path], serve: Callable[..., subprocess.Popen[str]],
        tmp_path: Path) -> None:
    mirror = make_mirror(["dockerpypi-served==1.0"])
    (mirror / ".dockerpypi-index.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("secret")
    (mirror / "leak.whl").symlink_to(tmp_path / "secret.txt")
    (mirror / "leakdir").symlink_to(tmp_path, target_is_directory=True)
    process = serve(mirror, "--port", "0")
    url = first_line(process)

    assert raw_status(url, "/dockerpypi-served/") == 200
    assert raw_status(url, "/%64ockerpypi-served/") == 200
    for target in ("/.dockerpypi-index.json", "/%2edockerpypi-index.json", "/%2e%2e%2fsecret.txt",
                   "/dockerpypi-served%2Findex.html", "/leak.whl", "/leakdir/secret.txt"):
        assert raw_status(url, target) == 404, target
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def test_a_port_in_use_is_one_line_exit_1(
        make_mirror: Callable[..., Path], serve: Callable[..., subprocess.Popen[str]]) -> None:
    mirror = make_mirror(["dockerpypi-served==1.0"])
    first = serve(mirror, "--port", "0")
    port = first_line(first).rstrip("/").rpartition(":")[2]

    second = serve(mirror, "--port", port)
    _, err = second.communicate(timeout=10)

    assert second.returncode == 1
    assert err.startswith(f"dockerpypi: error: cannot listen on 127.0.0.1 port {port}")
    assert err.count("\n") == 1
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=10) == 0
