"""What the Docker engine and builder can do, and how the mirror reaches the build.

Two transports carry the local mirror into a build step:

- ``context``: the mirror directory is the named build context
  ``pypi-mirror`` (needs buildx 0.8+ and a Dockerfile frontend 1.4+, built
  into Engine 23+ or any recent BuildKit).
- ``http``: dockerpypi serves the directory on 127.0.0.1 for the length of
  the build and points the step's config at it, with host networking. This
  is what Docker 20.10's built-in BuildKit (no named contexts) and a
  ``docker`` without buildx get. The same Dockerfile works with both: the
  ``pypi-mirror`` stage is then simply empty.

The probe asks docker three quick questions at once; ``dockerpypi build``
keeps the answer between runs (:mod:`dockerpypi.build.engine_cache`) until
something about the engine or the CLI changes. The decision itself
(:func:`choose_transport`) is pure.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import NamedTuple

from ..errors import UserMessageError

# Drivers whose builder runs inside the engine's own network namespace rules:
# host networking reaches the host's loopback.
LOCAL_DRIVERS = ("docker", "docker-container")


class EngineInfo(NamedTuple):
    """What docker said about the engine and the selected builder.

    (A named tuple, not a frozen dataclass: see "records" in dockerpypi/_entry.py.)
    """

    server_version: str | None  # None: no engine answered
    buildx_version: str | None  # None: no buildx plugin
    driver: str | None  # the selected builder's driver
    buildkit_version: str | None  # as the builder reports it (may be "v0.0.0+unknown")
    server_platform: str | None = None  # the engine's own, "linux/amd64"
    builder_platform: str | None = None  # the selected builder's first platform

    @property
    def server(self) -> EngineVersion | None:
        return _version(self.server_version)


class Transport(NamedTuple):
    """How the mirror reaches the build, and why, in one sentence.

    (A named tuple, not a frozen dataclass: see "records" in dockerpypi/_entry.py.)
    """

    kind: str  # "context" or "http"
    use_buildx: bool
    reason: str


# Docker, buildx and BuildKit versions as (major, minor, patch): "26.1.5+dfsg1",
# "v0.13.1-desktop.1" and "v0.12" are compared by their leading numbers only.
# These are not Python package versions, so not packaging's (PEP 440) to
# parse, and every build would pay its import (~3 ms) to read the kept answer.
EngineVersion = tuple[int, int, int]


def _version(text: str | None) -> EngineVersion | None:
    if not text:
        return None
    match = re.match(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text.strip())
    if not match:
        return None
    major, minor, patch = (int(number or 0) for number in match.groups())
    return major, minor, patch


# Each question is a process start and a round trip to the engine, about a
# tenth of a second: they go out together, and are waited for this long.
_TIMEOUT = 30


def _start(argv: list[str]) -> subprocess.Popen[str] | None:
    try:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)
    except FileNotFoundError:
        return None


def _finish(process: subprocess.Popen[str] | None) -> subprocess.CompletedProcess[str] | None:
    if process is None:
        return None
    try:
        out, err = process.communicate(timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return None
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def probe_engine(builder: str | None = None) -> EngineInfo:
    """Ask docker about the engine and the builder; raise if no engine answers."""
    started = [
        _start(["docker", "version", "--format", "{{json .}}"]),
        _start(["docker", "buildx", "version"]),
        _start(["docker", "buildx", "inspect", *([builder] if builder else [])]),
    ]
    version, buildx, inspect = (_finish(process) for process in started)
    if version is None:
        raise UserMessageError("docker is not installed or not on PATH: install Docker "
                               "(Engine 20.10 or later) and try again")
    server = platform = None
    try:
        data = (json.loads(version.stdout or "{}") or {}).get("Server") or {}
        server = data.get("Version")
        if data.get("Os") and data.get("Arch"):
            platform = f"{data['Os']}/{data['Arch']}"
    except (json.JSONDecodeError, AttributeError):
        pass
    if not server:
        detail = (version.stderr.strip().splitlines() or ["no answer"])[-1]
        raise UserMessageError(f"no Docker engine answers ({detail}): start the engine, "
                               "or point DOCKER_HOST at one")
    buildx_version = None
    if buildx is not None and buildx.returncode == 0:
        words = buildx.stdout.split()
        buildx_version = words[1] if len(words) > 1 else "unknown"
    driver = buildkit = platforms = None
    # Asked at once with the others; it means something only with buildx there.
    if buildx_version and inspect is not None and inspect.returncode == 0:
        for line in inspect.stdout.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Driver" and driver is None:
                driver = value.strip()
            elif key.strip() == "BuildKit version" and buildkit is None:
                buildkit = value.strip()
            elif key.strip() == "Platforms" and platforms is None and value.strip():
                platforms = value.split(",")[0].strip()
    return EngineInfo(server, buildx_version, driver, buildkit, platform, platforms)


def current_engine() -> EngineInfo:
    """:func:`probe_engine` for the selected builder, or its answer kept from an earlier run.

    The kept answer is used only while nothing that could change it has
    changed (see :mod:`dockerpypi.build.engine_cache`); otherwise docker is asked
    again, and the new answer kept.
    """
    from . import engine_cache

    key = engine_cache.engine_key()
    if key is not None:
        kept = engine_cache.load(key)
        # Exactly this class's fields: an answer written by another version of
        # it is asked again, not completed with defaults.
        if kept is not None and set(kept) == set(EngineInfo._fields):
            return EngineInfo(**kept)
    info = probe_engine()
    if key is not None and info.driver in engine_cache.KEPT_DRIVERS:
        engine_cache.store(key, info._asdict())
    return info


def choose_transport(info: EngineInfo, requested: str = "auto") -> Transport:
    """Pick how the mirror reaches the build, and say why in one sentence."""
    buildx = _version(info.buildx_version)
    has_buildx = info.buildx_version is not None
    if requested == "http":
        return Transport("http", has_buildx, "asked for with --transport http")
    if requested == "context":
        if not has_buildx:
            raise UserMessageError("--transport context needs the docker buildx plugin: "
                                   "install it, or use --transport http")
        return Transport("context", True, "asked for with --transport context")
    if not has_buildx:
        return Transport("http", False, "docker buildx is not installed, so named build "
                                        "contexts are not available")
    if buildx is not None and buildx < (0, 8, 0):
        return Transport("http", True, f"buildx {info.buildx_version} predates named build "
                                       "contexts (0.8)")
    if info.driver == "docker" or info.driver is None:
        server = info.server
        if server is not None and server < (23, 0, 0):
            return Transport("http", True, f"Engine {info.server_version}'s built-in BuildKit "
                                           "has no named build contexts")
        return Transport("context", True, f"Engine {info.server_version} with buildx "
                                          f"{info.buildx_version} supports named build contexts")
    kit = _version(info.buildkit_version)
    if kit is not None and (0, 0, 0) < kit < (0, 10, 0):
        return Transport("http", True, f"the builder's BuildKit {info.buildkit_version} "
                                       "has no named build contexts")
    return Transport("context", True, f"the {info.driver} builder supports named build "
                                      "contexts")
