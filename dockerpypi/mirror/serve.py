"""A read-only HTTP server over the local mirror directory.

Used where a builder cannot receive the mirror as a named build context
(Docker 20.10's built-in BuildKit, no buildx) and by ``dockerpypi mirror
serve``. The standard library's handler does the file serving; this subclass
only takes away what a package index must not do: writing, listing
directories, showing dot-files (the index state, the lock, the kept subsets)
and reaching outside the mirror.

What is asked is judged as the handler reads it (percent-decoded, then
normalised), not as it was written: ``/%2edockerpypi-index.json`` is the
dot-file. Encoded slashes and control characters, which no PEP 503 page
links to, are refused outright, and a symbolic link in the mirror that
points out of it is served as if absent.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_TYPES = {
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".metadata": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
# Percent-encoded "/" and "\\": a path that needs them is a trick, not a file.
_ENCODED_SEPARATORS = ("%2f", "%5c")


class _MirrorHandler(SimpleHTTPRequestHandler):
    # (an instance attribute in the stubs, a class attribute in practice)
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **_TYPES}  # noqa: RUF012
    server_version = "dockerpypi-mirror"
    quiet = True

    def list_directory(self, path: str | Any) -> None:
        # A directory without index.html is not part of the PEP 503 layout.
        self.send_error(404, "Not Found")

    def _refused(self) -> bool:
        """Whether to answer 404: a dot-file or dot-directory, a trick, or a path that
        leads (through symbolic links) out of the mirror."""
        raw = self.path.split("?", 1)[0].split("#", 1)[0]
        if any(code in raw.lower() for code in _ENCODED_SEPARATORS):
            return True
        # Decoded as translate_path decodes it. No part may start with a dot:
        # normalising only takes parts away, so that covers what it then reads.
        try:
            decoded = urllib.parse.unquote(raw, errors="surrogatepass")
        except UnicodeDecodeError:
            decoded = urllib.parse.unquote(raw)
        if "\\" in decoded or any(ord(char) < 0x20 or char == "\x7f" for char in decoded):
            return True
        if any(part.startswith(".") for part in decoded.split("/")):
            return True
        root = Path(self.directory).resolve()
        target = Path(self.translate_path(self.path))
        # A directory is answered with its index.html (or index.htm).
        served = [target, target / "index.html", target / "index.htm"]
        try:
            return not all(path.resolve().is_relative_to(root) for path in served)
        except (OSError, RuntimeError, ValueError):  # a link loop, an unencodable name
            return True

    def do_GET(self) -> None:
        if self._refused():
            self.send_error(404, "Not Found")
            return
        super().do_GET()

    def do_HEAD(self) -> None:
        if self._refused():
            self.send_error(404, "Not Found")
            return
        super().do_HEAD()

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class MirrorServer:
    """A running server; ``url`` is its base URL, ending in a slash."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, *,
                 quiet: bool = True) -> None:
        handler = type("Handler", (_MirrorHandler,), {"quiet": quiet})
        # ThreadingHTTPServer listens on IPv4 unless told otherwise.
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        self._server = server_class((host.strip("[]"), port),
                                    partial(handler, directory=str(root)))
        self._server.daemon_threads = True
        bound_host, bound_port = self._server.server_address[:2]
        text = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
        shown_host = f"[{text}]" if ":" in text else text
        self.url = f"http://{shown_host}:{bound_port}/"

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.1)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def serving(root: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``root`` in a background thread while the block runs; yield the URL."""
    server = MirrorServer(root, host, port)
    thread = threading.Thread(target=server.serve_forever, name="dockerpypi-mirror",
                              daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.close()
        thread.join(timeout=5)
