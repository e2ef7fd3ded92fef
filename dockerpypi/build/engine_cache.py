"""The engine probe's answer, kept between runs of ``dockerpypi build``.

Asking docker what the engine and the builder can do takes four processes
and three round trips to the engine, several times what the rest of
dockerpypi costs on a cached rebuild. The answer changes only when the
engine, the docker CLI or the selected builder does, and each of those leaves
a trace on disk that costs a ``stat`` to read:

- the docker CLI binary that PATH finds, and the buildx plugin in each
  directory docker looks for it (an upgrade or a swap of either replaces the
  file: a new inode, size or modification time);
- the engine's unix socket, which the daemon creates anew each time it
  starts (a restarted or swapped engine: a new inode and times);
- the variables that choose the engine, the configuration and the builder,
  the docker configuration file (contexts), and buildx's selected builder
  and list of builders.

The key is all of that, so a change of any of it is a miss and docker is
asked again. Where the engine cannot be recognised this way (a TCP or SSH
``DOCKER_HOST``, a docker context other than the default) nothing is kept,
and neither is the answer of a builder that runs elsewhere than in the
engine itself (a ``docker-container`` or remote BuildKit can be replaced
without any local trace). Any doubt is a miss; a miss only costs the probe.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..caches import ENGINE, read_cache_file, write_cache_file

# Builders that are the engine's own BuildKit: what they can do follows from
# the engine, which the key recognises. None: no buildx at all.
KEPT_DRIVERS = ("docker", None)
# Even with nothing seen to change, ask again after this long.
MAX_AGE_SECONDS = 24 * 3600
# The directories the docker CLI searches for plugins after its own config
# directory's cli-plugins (docker/cli's pluginmanager, on Linux).
_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
_DEFAULT_SOCKET = "/var/run/docker.sock"
# Everything in the environment that changes which engine, CLI settings or
# builder the probe's docker commands use.
_VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_API_VERSION",
              "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "BUILDX_BUILDER", "BUILDX_CONFIG")
# Bump when the kept answer's shape changes.
_FORMAT = 1


def _stamp(path: Path | str, *, times: bool = True) -> list[Any] | None:
    """What changes when the file at ``path`` is replaced; None when it is not there."""
    try:
        status = Path(path).stat()
    except OSError:
        return None
    found: list[Any] = [str(path), status.st_dev, status.st_ino, status.st_size,
                        stat.S_IFMT(status.st_mode)]
    if times:
        found += [status.st_mtime_ns, status.st_ctime_ns]
    return found


def _read_small(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None


def _socket(environ: Mapping[str, str], config_dir: Path) -> str | None:
    """The unix socket of the engine docker talks to; None when that is not one the key
    can recognise (another transport, or a docker context other than the default)."""
    context = environ.get("DOCKER_CONTEXT", "")
    if context not in ("", "default"):
        return None
    host = environ.get("DOCKER_HOST", "")
    if host:
        return host.removeprefix("unix://") if host.startswith("unix://") else None
    config = config_dir / "config.json"
    if config.exists():
        try:
            current = json.loads(config.read_text(encoding="utf-8")).get("currentContext")
        except (OSError, ValueError, AttributeError):
            return None
        if current not in (None, "", "default"):
            return None
    return _DEFAULT_SOCKET


def engine_key(environ: Mapping[str, str] | None = None) -> str | None:
    """The key of the current engine, CLI and builder; None when it cannot be told."""
    environ = os.environ if environ is None else environ
    docker = shutil.which("docker", path=environ.get("PATH"))
    if docker is None:
        return None
    config_dir = Path(environ.get("DOCKER_CONFIG") or Path("~/.docker").expanduser())
    buildx_dir = Path(environ.get("BUILDX_CONFIG") or config_dir / "buildx")
    socket = _socket(environ, config_dir)
    socket_stamp = _stamp(socket) if socket else None
    if socket_stamp is None or socket_stamp[4] != stat.S_IFSOCK:
        return None
    parts = {
        "format": _FORMAT,
        "docker": [_stamp(docker), _stamp(os.path.realpath(docker))],
        "plugins": [_stamp(Path(directory) / "docker-buildx")
                    for directory in (config_dir / "cli-plugins", *_PLUGIN_DIRS)],
        "socket": socket_stamp,
        "environment": {name: environ.get(name) for name in _VARIABLES},
        "config": _stamp(config_dir / "config.json"),
        # buildx rewrites `current` on every build: its content, not its times.
        "builder": _read_small(buildx_dir / "current"),
        "builders": _stamp(buildx_dir / "instances"),
    }
    return json.dumps(parts, sort_keys=True)


def load(key: str) -> dict[str, Any] | None:
    """The answer kept under ``key``, if it is there, fresh, and well formed."""
    raw = read_cache_file(ENGINE.name)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    written, info = data.get("written"), data.get("info")
    if not isinstance(written, (int, float)) or not isinstance(info, dict):
        return None
    if not 0 <= time.time() - written <= MAX_AGE_SECONDS:
        return None
    if not all(value is None or isinstance(value, str) for value in info.values()):
        return None
    return info


def store(key: str, info: Mapping[str, str | None]) -> None:
    """Keep ``info`` under ``key`` (one entry: the engine in use now)."""
    data = {"key": key, "written": time.time(), "info": dict(info)}
    write_cache_file(ENGINE.name, json.dumps(data, indent=1).encode())
