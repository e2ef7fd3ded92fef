"""Whether the builder reaches this machine's loopback, and what a build does when not.

A mirror on 127.0.0.1 (a devpi-server, ``dockerpypi mirror serve``, the
``http`` transport's server) is this machine's. A build step reaches it
through ``--network=host`` only when the step runs in this machine's network
namespace: the ``docker`` driver of an engine on this machine. It does not
when the engine is elsewhere (``DOCKER_HOST=tcp://...`` or ``ssh://...``, a
docker context whose endpoint is another host), nor from a BuildKit of its
own (the ``docker-container`` driver, unless created with ``--driver-opt
network=host``; ``remote``; ``kubernetes``), whose host network is its own.

:func:`builder_reach` tells which from the engine probe's answer
(:class:`~.engine.EngineInfo`), and :func:`loopback_plan` decides, before
docker runs: nothing to do; the loopback mirrors fetched from on this
machine and sent as the ``pypi-mirror`` context (:mod:`.loopback_fetch`); or
one line that says why the build cannot work and what to do. Both are pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from ..dockerfile.vocabulary import MIRROR_STAGE
from ..errors import UsageError
from .command import is_loopback, loopback_indexes

if TYPE_CHECKING:
    from pathlib import Path

    from ..settings.model import Settings
    from ..settings.urls import MirrorURL
    from .command import DockerArgs
    from .engine import BuilderInfo, EngineInfo
    from .transports import Transport

# Endpoint schemes that are this machine: a socket, a pipe, a file descriptor.
_LOCAL_SCHEMES = ("unix", "npipe", "fd")
# Drivers whose BuildKit is the engine's own: its host network is the engine host's.
_ENGINE_DRIVERS = (None, "docker")
# What to do instead, said by every refusal.
FIX = ("give the mirror an address the builder reaches (such as http://HOST-IP:PORT/... "
       "in DOCKERPYPI_MIRRORS), or fill a local mirror with `dockerpypi mirror add` and "
       "build with --mirror-dir")


class BuilderReach(NamedTuple):
    """Where the build's steps run: named for messages, and whether they reach 127.0.0.1."""

    builder: str  # "the docker builder of the engine at tcp://build-host:2375"
    reaches_loopback: bool


def shown_endpoint(endpoint: str) -> str:
    """An endpoint as messages show it: a password in it, if any, as ***."""
    parts = urlsplit(endpoint)
    if "@" not in parts.netloc:
        return endpoint
    user, _, host = parts.netloc.rpartition("@")
    if ":" in user:
        user = user.split(":", 1)[0] + ":***"
    return parts._replace(netloc=f"{user}@{host}").geturl()


def endpoint_is_local(endpoint: str | None) -> bool:
    """Whether a docker or BuildKit endpoint is on this machine.

    ``unix://`` (and ``npipe://``, ``fd://``) sockets, and ``tcp://`` or
    ``ssh://`` to a loopback address or localhost; None (not said) is taken
    for the default socket, as docker takes it.
    """
    if not endpoint:
        return True
    parts = urlsplit(endpoint if "://" in endpoint else f"tcp://{endpoint}")
    if parts.scheme in _LOCAL_SCHEMES:
        return True
    try:
        host = parts.hostname
    except ValueError:
        return False
    if host is None:
        return False
    try:
        return is_loopback(host) or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _builder_endpoint(info: EngineInfo, endpoint: str | None) -> str | None:
    """The engine a node's endpoint means: a URL as it is; a context's name is the
    current context's engine (the only one the probe asked about)."""
    if endpoint and "://" in endpoint:
        return endpoint
    return info.engine_host


def builder_reach(info: EngineInfo, named: BuilderInfo | None = None) -> BuilderReach:
    """Whether the build's steps reach this machine's loopback with ``--network=host``.

    ``named`` is ``--builder``'s builder when the build names one (the probe
    asked about the selected builder only).
    """
    driver = named.driver if named is not None else info.driver
    name = named.name if named is not None else info.builder_name
    endpoint = named.endpoint if named is not None else info.builder_endpoint
    network = named.network if named is not None else info.builder_network
    if driver in _ENGINE_DRIVERS:
        host = _builder_endpoint(info, endpoint)
        where = f"the engine at {shown_endpoint(host)}" if host else "the engine"
        return BuilderReach(f"the docker builder of {where}", endpoint_is_local(host))
    label = f"the {driver} builder" + (f" {name}" if name else "")
    if driver == "docker-container":
        host = _builder_endpoint(info, endpoint)
        at = f" (on the engine at {shown_endpoint(host)})" if host else ""
        # Its BuildKit runs in a container: its host network is the container's,
        # unless the builder was created with --driver-opt network=host.
        return BuilderReach(label + at, network == "host" and endpoint_is_local(host))
    at = f" at {shown_endpoint(endpoint)}" if endpoint else ""
    # remote: a BuildKit daemon of its own; kubernetes: pods in a cluster.
    local = driver == "remote" and bool(endpoint) and urlsplit(endpoint or "").scheme == "unix"
    return BuilderReach(label + at, local)


class LoopbackPlan(NamedTuple):
    """The build's builder cannot reach ``indexes``, on this machine's loopback: dockerpypi
    fetches what the build needs from them and sends it as the ``pypi-mirror`` context."""

    reach: BuilderReach
    indexes: tuple[MirrorURL, ...]

    @property
    def summary(self) -> str:
        return (f"{self.reach.builder} cannot reach this machine's loopback: fetching what "
                f"the build needs from {', '.join(str(m) for m in self.indexes)} here, sent "
                f"as the {MIRROR_STAGE} context")


def refusal(reach: BuilderReach, mirrors: Sequence[MirrorURL | str], why: str,
            fix: str = FIX) -> UsageError:
    """The one line a build that cannot get its loopback mirror stops with."""
    shown = ", ".join(str(m) for m in mirrors)
    return UsageError(f"{reach.builder} cannot reach {shown} on this machine's loopback, "
                      f"and {why}", fix=fix)


def loopback_plan(reach: BuilderReach, settings: Settings, *, transport: str, requested: str,
                  served: str | None, build_contexts: Sequence[str]) -> LoopbackPlan | None:
    """What a build on the builder ``reach`` does about mirrors on this machine's loopback.

    ``transport`` is the kind chosen (``requested`` what was asked for),
    ``served`` the local mirror directory the http transport would serve (None:
    none). None: nothing to do (the builder reaches them, or there are none);
    a :class:`LoopbackPlan`: fetch and send; UsageError: no way works.
    """
    if reach.reaches_loopback:
        return None
    loopback = loopback_indexes(settings)
    if transport == "http" and (served or loopback):
        fix = ("drop --transport http: the context transport sends the mirror to any builder"
               if requested == "http" else
               "use a builder with named build contexts (buildx 0.8+ and Engine 23+ or "
               "BuildKit 0.10+), which get the mirror as a context")
        if not served:
            raise refusal(reach, loopback, "the http transport cannot send what the build "
                          "needs from it", fix)
        raise UsageError(f"{reach.builder} cannot reach this machine's 127.0.0.1, where the "
                         f"http transport would serve the mirror {served}", fix=fix)
    if not loopback:
        return None
    if MIRROR_STAGE in build_contexts:
        raise refusal(reach, loopback, f"--build-context {MIRROR_STAGE}=... leaves no room "
                      "for the files dockerpypi would fetch from it")
    return LoopbackPlan(reach, tuple(loopback))


def fetched_settings(settings: Settings, fetched: Sequence[MirrorURL]) -> Settings:
    """``settings`` with the mirrors ``fetched`` from replaced by the local mirror (the
    mount point of the ``pypi-mirror`` context that holds their files)."""
    from dataclasses import replace

    from ..settings.urls import MirrorURL

    local = MirrorURL(settings.local_mirror_url)
    gone = {index.url for index in fetched}
    mirrors = tuple(dict.fromkeys(local if mirror.url in gone else mirror
                                  for mirror in settings.mirrors.value))
    changed = replace(settings, mirrors=replace(settings.mirrors, value=mirrors))
    if settings.uses_public_index and settings.public_index.value.url in gone:
        # The public index on loopback: its files are in the context now.
        if local not in mirrors:
            changed = replace(changed, mirrors=replace(changed.mirrors, value=(*mirrors, local)))
        changed = replace(changed, public_fallback=replace(settings.public_fallback,
                                                           value=False))
    return changed


def for_builder(engine: EngineInfo, transport: Transport, given: DockerArgs,
                settings: Settings, mirror_dir: Path | None, *, requested: str) -> Transport:
    """``transport``, or the one that fetches loopback mirrors for a builder that cannot
    reach them; UsageError when no way works (said before docker runs)."""
    from .engine import inspect_builder

    builders = given.values("--builder")
    named = inspect_builder(builders[-1]) if builders else None
    plan = loopback_plan(builder_reach(engine, named), settings, transport=transport.kind,
                         requested=requested,
                         served=str(mirror_dir) if mirror_dir is not None else None,
                         build_contexts=given.build_contexts)
    if plan is None:
        return transport
    from .loopback_fetch import LoopbackFetchTransport

    keeps = any(index.credentials is not None for index in settings.indexes
                if index not in plan.indexes)
    return LoopbackFetchTransport(transport.use_buildx, transport.reason, plan,
                                  keeps_credentials=keeps)
