"""A real devpi-server in the tests: its environment, free ports, and its processes.

devpi-server derives its authentication key from the secret file with argon2,
tuned to take seconds (half a GiB, sixteen passes). The tests lower that cost
with devpi's own (hidden) settings, read from ``DEVPISERVER_*`` variables as
every devpi setting is: the server is otherwise the one users run, and starts
in about a second instead of ten.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Mapping
from pathlib import Path

from dockerpypi.devpi import server

CHEAP_KEY_DERIVATION = {
    "DEVPISERVER_ARGON2_MEMORY_COST": "8",  # KiB, argon2's minimum for one lane
    "DEVPISERVER_ARGON2_PARALLELISM": "1",
    "DEVPISERVER_ARGON2_TIME_COST": "1",
}
# What the machine may set that would send a child elsewhere than the tests mean.
_DROPPED_PREFIXES = ("PIP_", "UV_", "DIB_", "DOCKERPYPI_", "PYPI_MIRROR_URL", "DEVPISERVER_")
_PROXIES = {"http_proxy", "https_proxy", "all_proxy"}


def environment(base: Mapping[str, str], cache: Path) -> dict[str, str]:
    """``base`` cleared of installer, dockerpypi and proxy settings, for a devpi test's children."""
    env = {key: value for key, value in base.items()
           if not key.startswith(_DROPPED_PREFIXES) and key.lower() not in _PROXIES}
    env.update(CHEAP_KEY_DERIVATION, PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", XDG_CACHE_HOME=str(cache))
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def servers_of(serverdir: Path) -> list[int]:
    """Pids of live devpi-server processes whose --serverdir is ``serverdir``.

    Alive is any thread of it: its main thread shows Z, and its argv reads
    empty, as soon as that one thread has ended, while the others may hold
    the listening socket still; so each thread is asked.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for task in (entry / "task").iterdir():
                state = (task / "stat").read_text().rpartition(")")[2].split()[:1]
                argv = [part.decode() for part in (task / "cmdline").read_bytes().split(b"\0")
                        if part]
                if state != ["Z"] and server.is_devpi_server_cmdline(argv, serverdir):
                    found.append(int(entry.name))
                    break
    return found


def end_servers_of(serverdir: Path, timeout: float = 10.0) -> list[int]:
    """Stop the server of ``serverdir``, kill any other of it; the pids that outlived that."""
    server.stop(serverdir, timeout=timeout)
    for pid in servers_of(serverdir):  # started, but its pid file was lost
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while servers_of(serverdir) and time.monotonic() < deadline:
        time.sleep(0.1)
    return servers_of(serverdir)
