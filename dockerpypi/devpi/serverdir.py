"""The server directory: devpi's data, and what dockerpypi keeps beside it.

One directory per server (by default ``devpi`` beside the local mirror
directory) holds devpi-server's own data and these files of dockerpypi's:

- the secrets, written once and kept, readable by their owner only: the
  root password devpi-init was given (:data:`PASSWORD_FILE`) and the key
  devpi derives its signing key from (:data:`SECRET_FILE`);
- while a server runs: its pid (:data:`PID_FILE`) and how it was started
  (:data:`STATE_FILE`: port, offline, upstream with credentials redacted);
- its log (:data:`LOG_FILE`), and the previous run's once (``.1``).

Nothing here starts or asks a server (:mod:`.server` does).
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

from ..errors import UserMessageError
from ..files import write_atomic, write_private

PID_FILE = "dockerpypi-devpi.pid"
STATE_FILE = "dockerpypi-devpi.json"
LOG_FILE = "dockerpypi-devpi.log"
SECRET_FILE = "dockerpypi-devpi.secret"
PASSWORD_FILE = "dockerpypi-devpi.root-passwd"
# devpi-init writes this; its presence means the directory is initialised.
NODEINFO = ".nodeinfo"

_LOG_TAIL_LINES = 6


def default_server_dir(mirror_dir: Path) -> Path:
    """``<mirror_dir>/../devpi``: ``$DIB_IMAGE_CACHE/pypi/devpi`` by default."""
    return mirror_dir.parent / "devpi"


# --- made once ----------------------------------------------------------------------


def create(serverdir: Path) -> None:
    """Make ``serverdir`` (owner-only) if it is not there."""
    try:
        serverdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise UserMessageError(f"cannot create the devpi server directory {serverdir} "
                               f"({error.strerror}): choose another with --serverdir") from None


def is_initialised(serverdir: Path) -> bool:
    """Whether devpi-init has made its data in ``serverdir``."""
    return (serverdir / NODEINFO).exists()


def new_password() -> str:
    """A root password for devpi-init."""
    return secrets.token_urlsafe(24)


def keep_password(serverdir: Path, password: str) -> None:
    """Keep the root password devpi-init was given, for later changes of ``root/pypi``."""
    write_private(serverdir / PASSWORD_FILE, password.encode())


def read_password(serverdir: Path) -> str | None:
    """The root password dockerpypi gave devpi-init; None when it has none (another
    tool initialised the directory, or the file was removed)."""
    try:
        return (serverdir / PASSWORD_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def ensure_secret(serverdir: Path) -> Path:
    """The secret file devpi-server is started with, made now if missing."""
    secret = serverdir / SECRET_FILE
    if not secret.exists():
        # What devpi itself would make: 32 random bytes, base64.
        write_private(secret, base64.b64encode(secrets.token_bytes(32)))
    return secret


# --- while a server runs -------------------------------------------------------------


def parse_pid(text: str) -> int | None:
    stripped = text.strip()
    if stripped.isdigit() and int(stripped) > 0:
        return int(stripped)
    return None


def read_pid(serverdir: Path) -> int | None:
    """The pid of the server last started from ``serverdir`` (running or not)."""
    try:
        return parse_pid((serverdir / PID_FILE).read_text(encoding="utf-8"))
    except OSError:
        return None


def read_state(serverdir: Path) -> dict[str, Any]:
    """How that server was started (see :func:`write_run_files`); {} when unknown."""
    try:
        data = json.loads((serverdir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_run_files(serverdir: Path, pid: int, *, port: int, offline: bool,
                    upstream: str) -> None:
    """Say which server runs from ``serverdir``: its pid, and how it was started."""
    # Whole or not at all: `devpi status` and `stop` may read them at any moment.
    write_atomic(serverdir / PID_FILE, f"{pid}\n".encode())
    state = {"pid": pid, "port": port, "offline": offline, "upstream": upstream}
    write_atomic(serverdir / STATE_FILE, (json.dumps(state, indent=2) + "\n").encode())


def remove_run_files(serverdir: Path) -> None:
    """No server runs from ``serverdir`` any more."""
    for name in (PID_FILE, STATE_FILE):
        (serverdir / name).unlink(missing_ok=True)


# --- the log ---------------------------------------------------------------------------


def new_log(serverdir: Path) -> Path:
    """The log for a new run; the previous run's is kept, once."""
    log = serverdir / LOG_FILE
    if log.exists():
        log.replace(log.with_name(LOG_FILE + ".1"))
    return log


def log_tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    """The last non-empty lines of a log, joined into one line."""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(the log is empty)"


def read_log_tail(serverdir: Path) -> str:
    """:func:`log_tail` of the server's log."""
    try:
        return log_tail((serverdir / LOG_FILE).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return "(no log)"
