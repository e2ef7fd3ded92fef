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

The probe runs two quick docker commands once per ``dockerpypi build``; the
decision itself (:func:`choose_transport`) is pure.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from .errors import UserMessageError

# Drivers whose builder runs inside the engine's own network namespace rules:
# host networking reaches the host's loopback.
LOCAL_DRIVERS = ("docker", "docker-container")


@dataclass(frozen=True)
class EngineInfo:
    server_version: str | None  # None: no engine answered
    buildx_version: str | None  # None: no buildx plugin
    driver: str | None  # the selected builder's driver
    buildkit_version: str | None  # as the builder reports it (may be "v0.0.0+unknown")

    @property
    def server(self) -> Version | None:
        return _version(self.server_version)


@dataclass(frozen=True)
class Transport:
    kind: str  # "context" or "http"
    use_buildx: bool
    reason: str


def _version(text: str | None) -> Version | None:
    if not text:
        return None
    match = re.match(r"v?(\d+(?:\.\d+){0,2})", text.strip())
    if not match:
        return None
    try:
        return Version(match.group(1))
    except InvalidVersion:
        return None


def _run(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except FileNotFoundError:
        return None
    except subprocess.TimeoutExpired:
        return None


def probe_engine(builder: str | None = None) -> EngineInfo:
    """Ask docker about the engine and the builder; raise if no engine answers."""
    version = _run(["docker", "version", "--format", "{{json .}}"])
    if version is None:
        raise UserMessageError("docker is not installed or not on PATH: install Docker "
                               "(Engine 20.10 or later) and try again")
    server = None
    try:
        data = json.loads(version.stdout or "{}")
        server = (data.get("Server") or {}).get("Version")
    except json.JSONDecodeError:
        pass
    if not server:
        detail = (version.stderr.strip().splitlines() or ["no answer"])[-1]
        raise UserMessageError(f"no Docker engine answers ({detail}): start the engine, "
                               "or point DOCKER_HOST at one")
    buildx = _run(["docker", "buildx", "version"])
    buildx_version = None
    if buildx is not None and buildx.returncode == 0:
        words = buildx.stdout.split()
        buildx_version = words[1] if len(words) > 1 else "unknown"
    driver = buildkit = None
    if buildx_version:
        inspect = _run(["docker", "buildx", "inspect", *([builder] if builder else [])])
        if inspect is not None and inspect.returncode == 0:
            for line in inspect.stdout.splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "Driver" and driver is None:
                    driver = value.strip()
                elif key.strip() == "BuildKit version" and buildkit is None:
                    buildkit = value.strip()
    return EngineInfo(server, buildx_version, driver, buildkit)


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
    if buildx is not None and buildx < Version("0.8"):
        return Transport("http", True, f"buildx {info.buildx_version} predates named build "
                                       "contexts (0.8)")
    if info.driver == "docker" or info.driver is None:
        server = info.server
        if server is not None and server < Version("23"):
            return Transport("http", True, f"Engine {info.server_version}'s built-in BuildKit "
                                           "has no named build contexts")
        return Transport("context", True, f"Engine {info.server_version} with buildx "
                                          f"{info.buildx_version} supports named build contexts")
    kit = _version(info.buildkit_version)
    if kit is not None and Version("0") < kit < Version("0.10"):
        return Transport("http", True, f"the builder's BuildKit {info.buildkit_version} "
                                       "has no named build contexts")
    return Transport("context", True, f"the {info.driver} builder supports named build "
                                      "contexts")
