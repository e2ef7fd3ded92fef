"""The read-only mirror server: files, content types, nothing else."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dockerpypi.mirror.serve import serving


def fetch(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""


def raw_request(url: str, target: str, method: str = "GET") -> tuple[int, bytes]:
    """``method target`` sent exactly as written: urllib would normalise some paths."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request(method, target)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


SECRET = b"SECRET-OUTSIDE-THE-MIRROR"


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    root = tmp_path / "mirror"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "index.html").write_text("<a href='../demo-1.0-py3-none-any.whl'>x</a>")
    (root / "demo-1.0-py3-none-any.whl").write_bytes(b"PK\x03\x04wheel")
    (root / "demo-1.0-py3-none-any.whl.metadata").write_text("Name: demo\n")
    (root / ".dockerpypi-index.json").write_text('{"state": "private"}')
    (root / ".dockerpypi-subset-x" / "demo").mkdir(parents=True)
    (root / ".dockerpypi-subset-x" / "demo" / "index.html").write_text("subset page")
    (root / ".dockerpypi-subset-x" / "index.html").write_text("subset root")
    (root / "empty").mkdir()
    # Beside the mirror: what a symbolic link in it may point at.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "index.html").write_bytes(SECRET)
    (root / "leak.whl").symlink_to(outside / "secret.txt")
    (root / "leakdir").symlink_to(outside, target_is_directory=True)
    (root / "demo" / "leak.html").symlink_to("../../outside/secret.txt")
    # A link that stays inside is served as the file it points at.
    (root / "same-1.0-py3-none-any.whl").symlink_to("demo-1.0-py3-none-any.whl")
    return root


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


@pytest.mark.parametrize("target", [
    # the index state and the kept subsets, named in plain and in encoded dots
    "/.dockerpypi-index.json", "/%2edockerpypi-index.json", "/%2Edockerpypi-index.json",
    "/demo/../.dockerpypi-index.json", "/demo/%2e%2e/%2edockerpypi-index.json",
    "/.dockerpypi-subset-x/", "/.dockerpypi-subset-x/demo/", "/%2edockerpypi-subset-x/",
    "/%2edockerpypi-subset-x/index.html",
    # up and out, plain and encoded
    "/../outside/secret.txt", "/../../../../etc/passwd", "/%2e%2e/outside/secret.txt",
    "/%2e%2e%2foutside%2fsecret.txt", "/demo/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt",
    "/..%2f..%2foutside%2fsecret.txt", "/..", "/%2e%2e", "/%2e%2e/", "/./demo/",
    # an encoded slash or backslash is no part of a PEP 503 path, even where it
    # would lead to a file that is served
    "/demo%2Findex.html", "/demo%2findex.html", "/demo%5Cindex.html", "/%2Fdemo/",
    # control characters
    "/demo/%00", "/demo-1.0-py3-none-any.whl%00.html", "/demo%0a/",
    # symbolic links out of the mirror: a file, a directory, its page, a page
    "/leak.whl", "/leakdir/", "/leakdir/secret.txt", "/leakdir/index.html",
    "/leakdir", "/demo/leak.html", "/%6ceak.whl",
])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_nothing_hidden_or_outside_is_served_however_it_is_written(
        mirror: Path, target: str, method: str) -> None:
    with serving(mirror) as url:
        status, body = raw_request(url, target, method)
    assert status == 404, (target, body)
    assert SECRET not in body
    assert b"private" not in body
    assert b"subset" not in body
    assert b"root:" not in body


@pytest.mark.parametrize(("target", "content"), [
    ("/demo/", b"demo-1.0"), ("/demo/index.html", b"demo-1.0"), ("/demo-1.0-py3-none-any.whl",
                                                                 b"PK\x03\x04wheel"),
    # percent-encoding that stands for ordinary characters is still decoded
    ("/%64emo/", b"demo-1.0"), ("/demo-1.0-py3-none-any.whl%2Emetadata", b"Name: demo"),
    ("/demo/?query=ignored", b"demo-1.0"),
    # a link that stays in the mirror
    ("/same-1.0-py3-none-any.whl", b"PK\x03\x04wheel"),
])
def test_what_the_mirror_holds_is_still_served(mirror: Path, target: str, content: bytes) -> None:
    with serving(mirror) as url:
        status, body = raw_request(url, target)
    assert status == 200, target
    assert content in body


def test_a_mirror_reached_through_a_link_is_served(mirror: Path, tmp_path: Path) -> None:
    link = tmp_path / "mirror-link"
    link.symlink_to(mirror, target_is_directory=True)
    with serving(link) as url:
        assert raw_request(url, "/demo/")[0] == 200
        assert raw_request(url, "/same-1.0-py3-none-any.whl")[0] == 200
        assert raw_request(url, "/leak.whl")[0] == 404
        assert raw_request(url, "/%2edockerpypi-index.json")[0] == 404


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
