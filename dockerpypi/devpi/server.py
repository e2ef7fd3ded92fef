"""The devpi-server process: start it detached, find it again, stop it.

``root/pypi`` fills on first use and serves its cache when the upstream cannot
be reached (or always, with ``offline``). The server runs detached on
127.0.0.1, from a server directory that holds its data, log, pid file and
secrets (:mod:`.serverdir`); once it answers, ``root/pypi`` is pointed at the
configured upstream through devpi's JSON API (:mod:`.api`).

The server directory is initialised once with ``devpi-init --no-root-pypi``
(the root password, kept in the server directory, reaches devpi-init through
its ``DEVPISERVER_ROOT_PASSWD`` variable, never on a command line).

Everything that can be is a pure function (command lines, environments);
:func:`start`, :func:`stop` and :func:`status` are the ones that act, through
:mod:`dockerpypi.process`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import process
from ..errors import UserMessageError
from ..settings.urls import MirrorURL
from .api import (
    HOST,
    MIRROR_INDEX,
    api_answers,
    base_url,
    configure_mirror,
    index_url,
    port_answers,
)
from .serverdir import (
    LOG_FILE,
    SECRET_FILE,
    create,
    ensure_secret,
    is_initialised,
    keep_password,
    log_tail,
    new_log,
    new_password,
    read_log_tail,
    read_pid,
    read_state,
    remove_run_files,
    write_run_files,
)

DEFAULT_PORT = 3141
INSTALL_HINT = "pip install 'dockerpypi[devpi]'"
DEFAULT_START_TIMEOUT = 60.0  # devpi derives its auth key with argon2: seconds on slow hosts
DEFAULT_STOP_TIMEOUT = 20.0

PASSWORD_VARIABLE = "DEVPISERVER_ROOT_PASSWD"

_POLL = 0.2


# --- command lines --------------------------------------------------------------------


def init_argv(devpi_init: Path | str, serverdir: Path) -> list[str]:
    # Without --no-root-pypi devpi would make root/pypi mirror its built-in
    # upstream; dockerpypi creates the index itself, with the configured one.
    return [str(devpi_init), "--serverdir", str(serverdir), "--no-root-pypi"]


def init_env(password: str, environ: Mapping[str, str]) -> dict[str, str]:
    """devpi-init's environment: the root password travels here, not in argv."""
    return {**environ, PASSWORD_VARIABLE: password}


def server_argv(devpi_server: Path | str, serverdir: Path, port: int, *,
                offline: bool) -> list[str]:
    argv = [str(devpi_server), "--serverdir", str(serverdir), "--host", HOST,
            "--port", str(port), "--secretfile", str(serverdir / SECRET_FILE)]
    if offline:
        argv.append("--offline-mode")
    return argv


def server_env(environ: Mapping[str, str]) -> dict[str, str]:
    # The root password is for devpi-init only.
    return {key: value for key, value in environ.items() if key != PASSWORD_VARIABLE}


def is_devpi_server_cmdline(argv: Sequence[str], serverdir: Path) -> bool:
    """Whether a process's argv is a devpi-server serving ``serverdir``.

    Guards against a pid file that outlived its process and a pid the system
    has since given to something else.
    """
    if not any(Path(arg).name == "devpi-server" for arg in argv[:2]):
        return False
    for index, arg in enumerate(argv):
        if arg == "--serverdir" and index + 1 < len(argv):
            return _same_path(argv[index + 1], serverdir)
        if arg.startswith("--serverdir="):
            return _same_path(arg.split("=", 1)[1], serverdir)
    return False


def _same_path(a: str, b: Path) -> bool:
    with contextlib.suppress(OSError):
        return Path(a).resolve() == b.resolve()
    return Path(a) == b


def find_executables(*, bindir: Path | None = None,
                     which: Callable[[str], str | None] = shutil.which) -> tuple[Path, Path]:
    """(devpi-init, devpi-server): beside this Python first, then on PATH."""
    bindir = Path(sys.executable).parent if bindir is None else bindir
    found: list[Path] = []
    for name in ("devpi-init", "devpi-server"):
        beside = bindir / name
        if beside.is_file() and os.access(beside, os.X_OK):
            found.append(beside)
            continue
        on_path = which(name)
        if on_path is None:
            raise UserMessageError(f"{name} is not installed: {INSTALL_HINT}")
        found.append(Path(on_path))
    return found[0], found[1]


# --- what status reports ------------------------------------------------------------


@dataclass(frozen=True)
class ServerStatus:
    """Whether a devpi-server runs from ``serverdir``, and how it was started."""

    serverdir: Path
    running: bool
    pid: int | None = None
    port: int | None = None
    offline: bool | None = None
    upstream: str | None = None  # credentials redacted
    already_running: bool = False  # start found it running and left it alone
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def url(self) -> str | None:
        return index_url(self.port) if self.running and self.port is not None else None

    @property
    def log(self) -> Path:
        return self.serverdir / LOG_FILE

    def as_dict(self) -> dict[str, object]:
        return {
            "running": self.running,
            "url": self.url,
            "pid": self.pid if self.running else None,
            "port": self.port if self.running else None,
            "serverdir": str(self.serverdir),
            "offline": self.offline if self.running else None,
            "upstream": self.upstream if self.running else None,
            "log": str(self.log),
        }


@dataclass(frozen=True)
class StopResult:
    serverdir: Path
    was_running: bool
    pid: int | None = None
    killed: bool = False  # SIGTERM was not enough

    def as_dict(self) -> dict[str, object]:
        return {"serverdir": str(self.serverdir), "was_running": self.was_running,
                "pid": self.pid, "killed": self.killed}


# --- status and stop ----------------------------------------------------------------


def _our_server(pid: int, serverdir: Path) -> bool:
    if not process.alive(pid):
        return False
    argv = process.argv_of(pid)
    if argv is None:  # no /proc (macOS): trust the pid file
        return True
    return is_devpi_server_cmdline(argv, serverdir)


def status(serverdir: Path) -> ServerStatus:
    """Whether dockerpypi's devpi-server runs from ``serverdir``."""
    serverdir = serverdir.expanduser()
    pid = read_pid(serverdir)
    if pid is None or not _our_server(pid, serverdir):
        return ServerStatus(serverdir, running=False)
    started = read_state(serverdir)
    port = started.get("port")
    upstream = started.get("upstream")
    return ServerStatus(
        serverdir, running=True, pid=pid,
        port=port if isinstance(port, int) else None,
        offline=bool(started.get("offline")),
        upstream=upstream if isinstance(upstream, str) else None,
    )


def _terminate(pid: int, timeout: float) -> bool:
    return process.terminate(pid, timeout, name="devpi-server")


def stop(serverdir: Path, *, timeout: float = DEFAULT_STOP_TIMEOUT) -> StopResult:
    """SIGTERM the server of ``serverdir``, wait for it, remove the pid file."""
    serverdir = serverdir.expanduser()
    pid = read_pid(serverdir)
    if pid is None or not _our_server(pid, serverdir):
        remove_run_files(serverdir)  # stale, if there were any
        return StopResult(serverdir, was_running=False)
    killed = not _terminate(pid, timeout)
    remove_run_files(serverdir)
    return StopResult(serverdir, was_running=True, pid=pid, killed=killed)


# --- start --------------------------------------------------------------------------


@dataclass(frozen=True)
class StartOptions:
    serverdir: Path
    upstream: MirrorURL
    port: int = DEFAULT_PORT
    offline: bool = False
    timeout: float = DEFAULT_START_TIMEOUT


def start(options: StartOptions, *, executables: tuple[Path, Path] | None = None
          ) -> ServerStatus:
    """Start devpi-server for ``options`` (or find it already running); wait until it answers.

    Raises :class:`UserMessageError` when devpi-server is not installed, the
    port is taken, the server does not come up, or ``root/pypi`` cannot be
    pointed at the upstream; a server started here is stopped again then.
    """
    devpi_init, devpi_server = executables or find_executables()
    serverdir = options.serverdir.expanduser().absolute()
    current = status(serverdir)
    if current.running:
        return _already_running(current, options)
    if port_answers(options.port):
        raise UserMessageError(f"port {options.port} on {HOST} is in use: choose another "
                               "with --port")
    _prepare(serverdir, devpi_init)
    server = _spawn(serverdir, devpi_server, options)
    try:
        _wait_ready(server, options.port, serverdir, options.timeout)
        notes = configure_mirror(options.port, serverdir, options.upstream)
        if options.upstream.credentials is not None:
            notes.append(f"devpi shows {MIRROR_INDEX}'s mirror_url, credentials included, to "
                         f"anyone who can reach {base_url(options.port)}")
    except BaseException:
        _terminate(server.pid, DEFAULT_STOP_TIMEOUT)
        remove_run_files(serverdir)
        raise
    return ServerStatus(serverdir, running=True, pid=server.pid, port=options.port,
                        offline=options.offline, upstream=str(options.upstream),
                        notes=tuple(notes))


def _already_running(current: ServerStatus, options: StartOptions) -> ServerStatus:
    wanted = {"port": options.port, "offline": options.offline,
              "upstream": str(options.upstream)}
    running = {"port": current.port, "offline": current.offline, "upstream": current.upstream}
    differs = [f"{key} {running[key]} (asked for {value})" for key, value in wanted.items()
               if running[key] != value]
    if differs:
        raise UserMessageError(
            f"devpi-server already runs from {current.serverdir} (pid {current.pid}) with "
            f"{', '.join(differs)}: stop it first with `dockerpypi devpi stop`")
    return ServerStatus(current.serverdir, running=True, pid=current.pid, port=current.port,
                        offline=current.offline, upstream=current.upstream,
                        already_running=True)


def _prepare(serverdir: Path, devpi_init: Path) -> None:
    """Initialise the server directory once; make sure the secret file exists."""
    create(serverdir)
    if not is_initialised(serverdir):
        password = new_password()
        # devpi-init wants an empty directory (it refuses one holding two or
        # more files it does not know), so dockerpypi's files come after it.
        result = process.output_of(init_argv(devpi_init, serverdir), timeout=None,
                                   environ=init_env(password, os.environ),
                                   missing=INSTALL_HINT)
        if result.returncode != 0:
            raise UserMessageError(
                f"devpi-init failed in {serverdir} (exit {result.returncode}): "
                f"{log_tail(result.stdout + result.stderr)}; give an empty or new --serverdir")
        keep_password(serverdir, password)
    ensure_secret(serverdir)


def _spawn(serverdir: Path, devpi_server: Path, options: StartOptions) -> process.Detached:
    server = process.start_detached(
        server_argv(devpi_server, serverdir, options.port, offline=options.offline),
        log=new_log(serverdir), cwd=serverdir, environ=server_env(os.environ),
        missing=INSTALL_HINT)
    write_run_files(serverdir, server.pid, port=options.port, offline=options.offline,
                    upstream=str(options.upstream))
    return server


def _wait_ready(server: process.Detached, port: int, serverdir: Path, timeout: float) -> None:
    url = f"{base_url(port)}/+api"
    deadline = time.monotonic() + timeout
    while True:
        code = server.exit_code()
        if code is not None:
            raise UserMessageError(
                f"devpi-server exited with code {code} before answering on {url} "
                f"(log {serverdir / LOG_FILE}): {read_log_tail(serverdir)}")
        if api_answers(port):
            return
        if time.monotonic() >= deadline:
            raise UserMessageError(
                f"devpi-server did not answer on {url} within {timeout:g}s "
                f"(log {serverdir / LOG_FILE}): {read_log_tail(serverdir)}; "
                "give it longer with --start-timeout")
        time.sleep(_POLL)
