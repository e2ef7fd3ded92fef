"""The read-only mirror server: files, content types, nothing else."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dockerpypi._serve import serving


def fetch(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "index.html").write_text("<a href='../demo-1.0-py3-none-any.whl'>x</a>")
    (tmp_path / "demo-1.0-py3-none-any.whl").write_bytes(b"PK\x03\x04wheel")
    (tmp_path / "demo-1.0-py3-none-any.whl.metadata").write_text("Name: demo\n")
    (tmp_path / ".dockerpypi-index.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    return tmp_path


def test_serves_pages_and_files_with_their_types(mirror: Path) -> None:
    with serving(mirror) as url:
        status, kind, body = fetch(url + "demo/")
        assert (status, kind) == (200, "text/html; charset=utf-8")
        assert b"demo-1.0" in body
        assert fetch(url + "demo-1.0-py3-none-any.whl")[:2] == (200, "application/zip")
        assert fetch(url + "demo-1.0-py3-none-any.whl.metadata")[1].startswith("text/plain")


@pytest.mark.parametrize(("path", "method"), [
    (".dockerpypi-index.json", "GET"), ("empty/", "GET"), ("demo/index.html", "PUT"),
    ("demo/index.html", "POST"), ("../../etc/passwd", "GET"), ("missing.whl", "HEAD"),
])
def test_refuses_what_an_index_must_not_do(mirror: Path, path: str, method: str) -> None:
    with serving(mirror) as url:
        status, _, body = fetch(url + path, method)
        assert status in (404, 501)
        assert b"root:" not in body


def test_serves_on_ipv6_loopback(mirror: Path) -> None:
    import socket

    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    with serving(mirror, host="::1") as url:
        assert url.startswith("http://[::1]:")
        assert fetch(url + "demo/")[0] == 200
