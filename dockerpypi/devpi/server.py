"""A local devpi-server: a caching mirror of the public index for builds.

``root/pypi`` fills on first use and serves its cache when the upstream cannot
be reached (or always, with ``offline``). The server runs detached on
127.0.0.1; its data, log, pid file and secrets live in one server directory
(by default ``devpi`` beside the local mirror directory).

devpi-server has no option for the upstream of ``root/pypi``: it is the index's
``mirror_url``, set through devpi's JSON API. So the server directory is
initialised with ``devpi-init --no-root-pypi`` (the root password comes from a
file kept in the server directory, handed to devpi-init through its
``DEVPISERVER_ROOT_PASSWD`` variable, never on a command line), and once the
server answers, ``root/pypi`` is created (``PUT``) or pointed at the configured
upstream (``PATCH``) as root, with HTTP Basic authentication.

Everything that can be is a pure function (command lines, URLs, what to send
to the API); the functions that touch processes, files and sockets are
:func:`start`, :func:`stop` and :func:`status`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SettingsError, UserMessageError
from ..settings.urls import MirrorURL, parse_mirror_url

HOST = "127.0.0.1"
DEFAULT_PORT = 3141
MIRROR_INDEX = "root/pypi"
ROOT_USER = "root"
INSTALL_HINT = "pip install 'dockerpypi[devpi]'"
DEFAULT_START_TIMEOUT = 60.0  # devpi derives its auth key with argon2: seconds on slow hosts
DEFAULT_STOP_TIMEOUT = 20.0

# Files dockerpypi keeps in the server directory, beside devpi's own.
PID_FILE = "dockerpypi-devpi.pid"
STATE_FILE = "dockerpypi-devpi.json"
LOG_FILE = "dockerpypi-devpi.log"
SECRET_FILE = "dockerpypi-devpi.secret"
PASSWORD_FILE = "dockerpypi-devpi.root-passwd"
# devpi-init writes this; its presence means the directory is initialised.
NODEINFO = ".nodeinfo"

PASSWORD_VARIABLE = "DEVPISERVER_ROOT_PASSWD"

_POLL = 0.2
_LOG_TAIL_LINES = 6


# --- pure parts ------------------------------------------------------------------


def default_server_dir(mirror_dir: Path) -> Path:
    """``<mirror_dir>/../devpi``: ``$DIB_IMAGE_CACHE/pypi/devpi`` by default."""
    return mirror_dir.parent / "devpi"


def base_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def index_url(port: int) -> str:
    """The PEP 503 URL to give installers (devpi's bare index URL is not one)."""
    return f"{base_url(port)}/{MIRROR_INDEX}/+simple/"


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


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def mirror_index_config(upstream: str) -> dict[str, object]:
    """The configuration ``root/pypi`` is created with."""
    return {"type": "mirror", "mirror_url": upstream, "volatile": False,
            "title": "PyPI mirror (dockerpypi)"}


@dataclass(frozen=True)
class APIRequest:
    """One call to devpi's JSON API: method, path under the server, JSON body."""

    method: str
    path: str
    body: object


def mirror_update(current: Mapping[str, Any] | None, upstream: str) -> APIRequest | None:
    """What makes ``root/pypi`` mirror ``upstream``, given its config (None: no index).

    Returns None when nothing needs to change.
    """
    path = f"/{MIRROR_INDEX}"
    if current is None:
        return APIRequest("PUT", path, mirror_index_config(upstream))
    if current.get("type") != "mirror":
        raise UserMessageError(f"{MIRROR_INDEX} on this devpi-server is a {current.get('type')!r} "
                               "index, not a mirror: use a new --serverdir")
    if _same_url(current.get("mirror_url"), upstream):
        return None
    # devpi's "key=value" list form changes this one key and keeps the rest.
    return APIRequest("PATCH", path, [f"mirror_url={upstream}"])


def _same_url(a: object, b: str) -> bool:
    return isinstance(a, str) and a.rstrip("/") == b.rstrip("/")


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


def parse_pid(text: str) -> int | None:
    stripped = text.strip()
    if stripped.isdigit() and int(stripped) > 0:
        return int(stripped)
    return None


def log_tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    """The last non-empty lines of a log, joined into one line."""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(the log is empty)"


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


# --- processes ----------------------------------------------------------------------


def _proc_argv(pid: int) -> list[str] | None:
    """A process's argv from /proc; None where /proc cannot tell."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return [] if Path("/proc/self").exists() else None  # gone, or no /proc here
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_zombie(pid: int) -> bool:
    """Whether the process has ended, all of it, and only its entry is left."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        threads = sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    # "pid (comm) state ...": comm may hold spaces and parentheses. The main
    # thread shows Z as soon as it has ended, while the other threads (devpi
    # runs fifty) may still hold the process's files, its listening socket
    # among them: ended only once it is the last one.
    return stat.rpartition(")")[2].split()[:1] == ["Z"] and threads <= 1


def _alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _reap(pid: int) -> None:
    # Only a server started by this very process is our child; reaping it
    # keeps it from lingering as a zombie that os.kill still reaches.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _our_server(pid: int, serverdir: Path) -> bool:
    if not _alive(pid):
        return False
    argv = _proc_argv(pid)
    if argv is None:  # no /proc (macOS): trust the pid file
        return True
    return is_devpi_server_cmdline(argv, serverdir)


def _read_pid(serverdir: Path) -> int | None:
    try:
        return parse_pid((serverdir / PID_FILE).read_text(encoding="utf-8"))
    except OSError:
        return None


def _read_state(serverdir: Path) -> dict[str, Any]:
    try:
        data = json.loads((serverdir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remove_run_files(serverdir: Path) -> None:
    for name in (PID_FILE, STATE_FILE):
        (serverdir / name).unlink(missing_ok=True)


def status(serverdir: Path) -> ServerStatus:
    """Whether dockerpypi's devpi-server runs from ``serverdir``."""
    serverdir = serverdir.expanduser()
    pid = _read_pid(serverdir)
    if pid is None or not _our_server(pid, serverdir):
        return ServerStatus(serverdir, running=False)
    state = _read_state(serverdir)
    port = state.get("port")
    upstream = state.get("upstream")
    return ServerStatus(
        serverdir, running=True, pid=pid,
        port=port if isinstance(port, int) else None,
        offline=bool(state.get("offline")),
        upstream=upstream if isinstance(upstream, str) else None,
    )


def stop(serverdir: Path, *, timeout: float = DEFAULT_STOP_TIMEOUT) -> StopResult:
    """SIGTERM the server of ``serverdir``, wait for it, remove the pid file."""
    serverdir = serverdir.expanduser()
    pid = _read_pid(serverdir)
    if pid is None or not _our_server(pid, serverdir):
        _remove_run_files(serverdir)  # stale, if there were any
        return StopResult(serverdir, was_running=False)
    killed = not _terminate(pid, timeout)
    _remove_run_files(serverdir)
    return StopResult(serverdir, was_running=True, pid=pid, killed=killed)


def _terminate(pid: int, timeout: float) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True when SIGTERM was enough."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_gone(pid, 5.0):
        raise UserMessageError(f"devpi-server (pid {pid}) did not end after SIGKILL: "
                               "check it with ps and end it by hand")
    return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


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
    if _port_answers(options.port):
        raise UserMessageError(f"port {options.port} on {HOST} is in use: choose another "
                               "with --port")
    _prepare(serverdir, devpi_init)
    process = _spawn(serverdir, devpi_server, options)
    try:
        _wait_ready(process, options.port, serverdir, options.timeout)
        notes = _configure_mirror(options.port, serverdir, options.upstream)
        if options.upstream.credentials is not None:
            notes.append(f"devpi shows {MIRROR_INDEX}'s mirror_url, credentials included, to "
                         f"anyone who can reach {base_url(options.port)}")
    except BaseException:
        _terminate(process.pid, DEFAULT_STOP_TIMEOUT)
        _remove_run_files(serverdir)
        raise
    return ServerStatus(serverdir, running=True, pid=process.pid, port=options.port,
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


def _port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((HOST, port)) == 0


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, readable by its owner only, from the start."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    temporary.chmod(0o600)
    temporary.replace(path)


def _prepare(serverdir: Path, devpi_init: Path) -> None:
    """Initialise the server directory once; make sure the secret file exists."""
    try:
        serverdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise UserMessageError(f"cannot create the devpi server directory {serverdir} "
                               f"({error.strerror}): choose another with --serverdir") from None
    password_file = serverdir / PASSWORD_FILE
    if not (serverdir / NODEINFO).exists():
        password = secrets.token_urlsafe(24)
        # devpi-init wants an empty directory (it refuses one holding two or
        # more files it does not know), so dockerpypi's files come after it.
        result = subprocess.run(init_argv(devpi_init, serverdir),
                                env=init_env(password, os.environ), capture_output=True,
                                text=True, check=False, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise UserMessageError(
                f"devpi-init failed in {serverdir} (exit {result.returncode}): "
                f"{log_tail(result.stdout + result.stderr)}; give an empty or new --serverdir")
        _write_private(password_file, password.encode())
    secret = serverdir / SECRET_FILE
    if not secret.exists():
        # What devpi itself would make: 32 random bytes, base64.
        _write_private(secret, base64.b64encode(secrets.token_bytes(32)))


def _spawn(serverdir: Path, devpi_server: Path, options: StartOptions
           ) -> subprocess.Popen[bytes]:
    argv = server_argv(devpi_server, serverdir, options.port, offline=options.offline)
    log_path = serverdir / LOG_FILE
    if log_path.exists():  # the previous run's log is kept, once
        log_path.replace(log_path.with_name(LOG_FILE + ".1"))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=serverdir, env=server_env(os.environ), start_new_session=True,
            close_fds=True)
    (serverdir / PID_FILE).write_text(f"{process.pid}\n", encoding="utf-8")
    state = {"pid": process.pid, "port": options.port, "offline": options.offline,
             "upstream": str(options.upstream)}
    (serverdir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return process


def _read_log_tail(serverdir: Path) -> str:
    try:
        return log_tail((serverdir / LOG_FILE).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return "(no log)"


def _wait_ready(process: subprocess.Popen[bytes], port: int, serverdir: Path,
                timeout: float) -> None:
    url = f"{base_url(port)}/+api"
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            raise UserMessageError(
                f"devpi-server exited with code {code} before answering on {url} "
                f"(log {serverdir / LOG_FILE}): {_read_log_tail(serverdir)}")
        try:
            with _opener().open(url, timeout=2.0) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() >= deadline:
            raise UserMessageError(
                f"devpi-server did not answer on {url} within {timeout:g}s "
                f"(log {serverdir / LOG_FILE}): {_read_log_tail(serverdir)}; "
                "give it longer with --start-timeout")
        time.sleep(_POLL)


def _opener() -> urllib.request.OpenerDirector:
    # The server is on loopback: never through a proxy from the environment.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _api(port: int, request: APIRequest, *, auth: str | None = None) -> Any:
    """Call devpi's JSON API; the decoded ``result``, or None for a 404."""
    data = None if request.method == "GET" else json.dumps(request.body).encode()
    call = urllib.request.Request(f"{base_url(port)}{request.path}", data=data,
                                  method=request.method)
    call.add_header("Accept", "application/json")
    if data is not None:
        call.add_header("Content-Type", "application/json")
    if auth is not None:
        call.add_header("Authorization", auth)
    try:
        with _opener().open(call, timeout=30.0) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        if error.code == 404 and request.method == "GET":
            return None
        raise UserMessageError(
            f"devpi-server refused {request.method} {request.path} "
            f"(HTTP {error.code}: {_error_message(error)}); start again with a new "
            "--serverdir") from None
    except (OSError, ValueError) as error:
        raise UserMessageError(f"devpi-server's API failed ({request.method} {request.path}: "
                               f"{error}); see its log") from None
    return body.get("result") if isinstance(body, dict) else None


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read())
    except (OSError, ValueError):
        return error.reason or "no message"
    message = body.get("message") if isinstance(body, dict) else None
    # devpi's messages run over several lines ("Access was denied ...\n\n\nUnauthorized: ...").
    return " ".join(str(message or error.reason).split())


def _configure_mirror(port: int, serverdir: Path, upstream: MirrorURL) -> list[str]:
    """Make ``root/pypi`` mirror ``upstream``; notes for the user."""
    current = _api(port, APIRequest("GET", f"/{MIRROR_INDEX}?no_projects=", None))
    change = mirror_update(current, upstream.with_credentials())
    if change is None:
        return []
    try:
        password = (serverdir / PASSWORD_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        raise UserMessageError(
            f"{MIRROR_INDEX} must mirror {upstream}, but {serverdir} has no root password "
            f"of dockerpypi's ({PASSWORD_FILE}): use a --serverdir that dockerpypi "
            "initialised") from None
    _api(port, change, auth=basic_auth(ROOT_USER, password))
    if change.method == "PATCH" and current is not None:
        return [f"{MIRROR_INDEX} now mirrors {upstream} (was "
                f"{_redacted(current.get('mirror_url'))}); what it cached from the old "
                "upstream stays available: use a new --serverdir for a clean mirror"]
    return []


def _redacted(raw: object) -> str:
    try:
        return str(parse_mirror_url(str(raw), origin="devpi's mirror_url"))
    except SettingsError:
        return "another URL"
