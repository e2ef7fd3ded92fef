"""A throwaway HTTP server for a directory, optionally behind HTTP Basic auth.

It stands in for a PyPI mirror or the public index. It listens on 127.0.0.1
only (a build reaches it with ``--network=host``), on a port the kernel picks,
so parallel tests never collide. It records every request, so a test can say
which server a package was downloaded from, and whether credentials arrived.
"""

from __future__ import annotations

import base64
import functools
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int


class ServedURL(str):
    """The base URL ("http://127.0.0.1:<port>/"), plus what the server saw.

    A ``str`` so it can go wherever a URL goes; ``requests`` grows while the
    server runs (list.append is atomic, so the handler threads may share it).
    """

    requests: list[Request]
    root: Path

    def downloads(self) -> list[str]:
        """Distinct file names of distributions served with status 200, first first.

        Distinct because an installer may fetch a file twice: uv first reads a
        wheel's METADATA with a range request, which this server answers in full.
        """
        names = (
            r.path.rsplit("/", 1)[-1]
            for r in self.requests
            if r.status == 200 and r.method == "GET" and r.path.endswith(DIST_SUFFIXES)
        )
        return list(dict.fromkeys(names))

    def statuses(self) -> set[int]:
        return {r.status for r in self.requests}


class _Handler(SimpleHTTPRequestHandler):
    expected_auth: str | None = None  # the whole "Basic ..." header value
    log: list[Request]

    def _authorized(self) -> bool:
        if self.expected_auth is None:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), self.expected_auth.encode())

    def _challenge(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="dockerpypi-test"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self._authorized():
            super().do_GET()
        else:
            self._challenge()

    def do_HEAD(self) -> None:
        if self._authorized():
            super().do_HEAD()
        else:
            self._challenge()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # send_response calls this once per response: the one place that sees
        # the path and the final status together. (HTTPStatus is an int.)
        self.log.append(Request(self.command, self.path.split("?", 1)[0], int(code)))

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest's captured output for the test's own messages


@contextmanager
def serve_directory(
    root: Path, *, username: str | None = None, password: str | None = None
) -> Iterator[ServedURL]:
    """Serve ``root`` on 127.0.0.1:<free port> until the ``with`` block ends."""
    log: list[Request] = []
    expected = None
    if username is not None or password is not None:
        token = base64.b64encode(f"{username or ''}:{password or ''}".encode()).decode()
        expected = f"Basic {token}"
    handler = type("Handler", (_Handler,), {"expected_auth": expected, "log": log})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    server.daemon_threads = True  # a hung client must not block the test's exit
    # A short poll interval: shutdown() waits for the loop to notice, and the
    # default 0.5 s would be paid by every test that serves something.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"serve {root}",
        daemon=True,
    )
    thread.start()
    url = ServedURL(f"http://127.0.0.1:{server.server_address[1]}/")
    url.requests = log
    url.root = root
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
