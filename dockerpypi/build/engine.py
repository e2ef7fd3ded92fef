"""What the Docker engine and builder can do, and which transport carries the mirror.

docker's answers are parsed here, once, into models: :class:`EngineInfo`
(the engine, buildx and the selected builder) and :class:`BuilderInfo` (one
``docker buildx inspect``); the subset (:mod:`.subset`) takes its platforms
from them too. The transports themselves (:mod:`.transports`) carry the
local mirror into a build step: the named build context ``pypi-mirror``
where the builder has named contexts, else the mirror served on 127.0.0.1.

The probe asks docker four quick questions at once; ``dockerpypi build``
keeps the answer between runs (:mod:`dockerpypi.build.engine_cache`) until
something about the engine or the CLI changes. The decision itself
(:func:`choose_transport`) is pure.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from contextlib import ExitStack
from subprocess import CompletedProcess
from typing import NamedTuple

from .. import process
from ..errors import UserMessageError
from . import engine_cache
from .transports import ContextTransport, HttpTransport, Transport


class EngineInfo(NamedTuple):
    """What docker said about the engine and the selected builder."""

    server_version: str | None  # None: no engine answered
    buildx_version: str | None  # None: no buildx plugin
    driver: str | None  # the selected builder's driver
    buildkit_version: str | None  # as the builder reports it (may be "v0.0.0+unknown")
    server_platform: str | None = None  # the engine's own, "linux/amd64"
    builder_platform: str | None = None  # the selected builder's first platform
    # Where the builder runs (read by :mod:`.reach`): the current docker
    # context's name and engine endpoint ("unix:///var/run/docker.sock",
    # "tcp://build-host:2375"), the selected builder's name, its first node's
    # endpoint (a context name, or a URL) and that node's network driver option.
    context: str | None = None
    engine_host: str | None = None
    builder_name: str | None = None
    builder_endpoint: str | None = None
    builder_network: str | None = None

    @property
    def server(self) -> EngineVersion | None:
        return parse_version(self.server_version)


class BuilderInfo(NamedTuple):
    """What ``docker buildx inspect`` says about a builder (its first node's values)."""

    driver: str | None
    buildkit_version: str | None
    platforms: tuple[str, ...]  # as listed, the default one first
    name: str | None = None
    endpoint: str | None = None  # the first node's: a docker context's name, or a URL
    network: str | None = None  # the first node's driver option network="..."

    @property
    def platform(self) -> str | None:
        """The platform the builder builds for by default."""
        return self.platforms[0] if self.platforms else None


def parse_inspect(text: str) -> BuilderInfo:
    """``docker buildx inspect``'s text as a model."""
    driver = buildkit = name = endpoint = network = None
    platforms: tuple[str, ...] = ()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "Driver" and driver is None:
            driver = value
        elif key == "Name" and name is None:  # the builder's; the nodes' come after
            name = value
        elif key == "Endpoint" and endpoint is None:
            endpoint = value
        elif key == "Driver Options" and network is None:
            # network="host" image="moby/buildkit:buildx-stable-1"
            found = re.search(r'(?:^|\s)network="([^"]*)"', value)
            network = found.group(1) if found else ""
        elif key == "BuildKit version" and buildkit is None:
            buildkit = value
        elif key == "Platforms" and not platforms and value:
            platforms = tuple(platform.strip() for platform in value.split(","))
    return BuilderInfo(driver, buildkit, platforms, name, endpoint, network or None)


def parse_context(text: str) -> tuple[str | None, str | None]:
    """``docker context inspect``'s JSON as (the context's name, its engine endpoint)."""
    try:
        data = json.loads(text or "[]")
        first = data[0] if isinstance(data, list) and data else {}
        host = ((first.get("Endpoints") or {}).get("docker") or {}).get("Host")
        name = first.get("Name")
    except (ValueError, AttributeError, TypeError):
        return None, None
    return (name if isinstance(name, str) else None,
            host if isinstance(host, str) and host else None)


# Docker, buildx and BuildKit versions as (major, minor, patch): "26.1.5+dfsg1",
# "v0.13.1-desktop.1" and "v0.12" are compared by their leading numbers only.
# These are not Python package versions, so not packaging's (PEP 440) to
# parse, and every build would pay its import (~3 ms) to read the kept answer.
EngineVersion = tuple[int, int, int]


def parse_version(text: str | None) -> EngineVersion | None:
    """A Docker, buildx or BuildKit version by its leading numbers; None when it has none."""
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


def _ask(argv: Sequence[str]) -> CompletedProcess[str] | None:
    """docker's answer to ``argv``; None when there is no docker or no answer in time."""
    try:
        return process.output_of(argv, timeout=_TIMEOUT)
    except UserMessageError:
        return None


def _ask_at_once(questions: Sequence[Sequence[str]]) -> list[CompletedProcess[str] | None]:
    """:func:`_ask` each of ``questions``, all started before any is waited for."""
    with ExitStack() as started:  # a question still running at the end is killed
        streams: list[process.Streamed | None] = []
        for argv in questions:
            try:
                streams.append(started.enter_context(process.output_stream(argv)))
            except UserMessageError:  # no docker
                streams.append(None)
        return [_answer(stream) for stream in streams]


def _answer(stream: process.Streamed | None) -> CompletedProcess[str] | None:
    # Waited for with its output unread: docker's answers here are a few
    # lines, which the pipe holds.
    ended = stream.ended(_TIMEOUT) if stream is not None else None
    if stream is None or ended is None:
        return None
    code, errors = ended
    return CompletedProcess((), code, stream.stdout.read().decode("utf-8", "replace"), errors)


def _inspect_argv(builder: str | None) -> list[str]:
    return ["docker", "buildx", "inspect", *([builder] if builder else [])]


def probe_engine(builder: str | None = None) -> EngineInfo:
    """Ask docker about the engine and the builder; raise if no engine answers."""
    version, buildx, inspect, context = _ask_at_once([
        ["docker", "version", "--format", "{{json .}}"],
        ["docker", "buildx", "version"],
        _inspect_argv(builder),
        # The current context: DOCKER_HOST's engine when that is set.
        ["docker", "context", "inspect"],
    ])
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
    # Asked at once with the others; it means something only with buildx there.
    builder_info = (parse_inspect(inspect.stdout)
                    if buildx_version and inspect is not None and inspect.returncode == 0
                    else BuilderInfo(None, None, ()))
    context_name, host = (parse_context(context.stdout)
                          if context is not None and context.returncode == 0 else (None, None))
    return EngineInfo(server_version=server, buildx_version=buildx_version,
                      driver=builder_info.driver, buildkit_version=builder_info.buildkit_version,
                      server_platform=platform, builder_platform=builder_info.platform,
                      context=context_name, engine_host=host, builder_name=builder_info.name,
                      builder_endpoint=builder_info.endpoint,
                      builder_network=builder_info.network)


def inspect_builder(builder: str) -> BuilderInfo | None:
    """``docker buildx inspect BUILDER``; None when docker does not answer."""
    done = _ask(_inspect_argv(builder))
    return parse_inspect(done.stdout) if done is not None and done.returncode == 0 else None


def current_engine() -> EngineInfo:
    """:func:`probe_engine` for the selected builder, or its answer kept from an earlier run.

    The kept answer is used only while nothing that could change it has
    changed (see :mod:`dockerpypi.build.engine_cache`); otherwise docker is asked
    again, and the new answer kept.
    """
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


def default_platform(info: EngineInfo | None, builder: str | None) -> str | None:
    """The platform ``builder`` (None: the selected one) builds for when not told; None
    when docker does not say.

    ``info`` is the build's probe (None: no engine answered): what it learnt
    already, with no second question to the engine. Its ``buildx inspect``
    asked about BUILDX_BUILDER's builder, when that is set.
    """
    if builder:  # --builder: another builder than the one the probe asked about
        named = inspect_builder(builder)
        return named.platform if named is not None else None
    if info is None:
        return None
    return info.builder_platform if os.environ.get("BUILDX_BUILDER") else info.server_platform


def choose_transport(info: EngineInfo, requested: str = "auto") -> Transport:
    """Pick how the mirror reaches the build, and say why in one sentence."""
    buildx = parse_version(info.buildx_version)
    has_buildx = info.buildx_version is not None
    if requested == "http":
        return HttpTransport(has_buildx, "asked for with --transport http")
    if requested == "context":
        if not has_buildx:
            raise UserMessageError("--transport context needs the docker buildx plugin: "
                                   "install it, or use --transport http")
        return ContextTransport(True, "asked for with --transport context")
    if not has_buildx:
        return HttpTransport(False, "docker buildx is not installed, so named build "
                                    "contexts are not available")
    if buildx is not None and buildx < (0, 8, 0):
        return HttpTransport(True, f"buildx {info.buildx_version} predates named build "
                                   "contexts (0.8)")
    if info.driver == "docker" or info.driver is None:
        server = info.server
        if server is not None and server < (23, 0, 0):
            return HttpTransport(True, f"Engine {info.server_version}'s built-in BuildKit "
                                       "has no named build contexts")
        return ContextTransport(True, f"Engine {info.server_version} with buildx "
                                      f"{info.buildx_version} supports named build contexts")
    kit = parse_version(info.buildkit_version)
    if kit is not None and (0, 0, 0) < kit < (0, 10, 0):
        return HttpTransport(True, f"the builder's BuildKit {info.buildkit_version} "
                                   "has no named build contexts")
    return ContextTransport(True, f"the {info.driver} builder supports named build contexts")
