"""Serve the mirror directory read-only over HTTP on the build step's own loopback.

Not imported by dockerpypi: ``dockerpypi build --inject`` sends this file to
a Poetry step (in the ``dockerpypi-locks`` build context), whose prefix runs
it with the image's own Python before Poetry starts, because Poetry reads
an index only over HTTP(S) (it does not read a ``file://`` source). So it
uses the standard library alone and runs on any Python 3 a Poetry runs on.

``python3 -B loopback_index.py DIRECTORY PORT`` binds 127.0.0.1:PORT, then
forks: the parent exits 0 once the socket listens (so Poetry, started next,
finds it ready; 1 with one line when the port is taken), and the child serves
GET and HEAD from DIRECTORY with no output. It ends with the step: BuildKit
ends every process of a step when its command ends, and the child also exits
within a second once the step's shell is gone. Each step runs in a network
namespace of its own, so its loopback and the fixed port are its own; a step
on the host's network shares them, and then a taken port fails the step.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(404)  # a PEP 503 index has an index.html wherever a listing is read


def _watch(pid: int) -> None:
    """Exit once process ``pid`` (the step's shell) is gone."""
    while True:
        time.sleep(1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def main(argv: list[str]) -> int:
    directory, port = argv[1], int(argv[2])
    handler = functools.partial(_Quiet, directory=directory)
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as error:
        print(f"dockerpypi: cannot serve the mirror to Poetry on 127.0.0.1:{port} "
              f"({error.strerror}): this step shares the host's network, whose port is taken; "
              "run it without --network=host", file=sys.stderr)
        return 1
    shell = os.getppid()
    if os.fork():
        return 0  # listening: the step goes on
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(null, stream)  # no pipe of the step held open by the server
    threading.Thread(target=_watch, args=(shell,), daemon=True).start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
