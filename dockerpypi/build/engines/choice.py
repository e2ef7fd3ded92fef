"""The build engine the ``engine`` setting names (``auto``: the first CLI on PATH).

The docker variant is imported by every build; podman's only when chosen.
"""

from __future__ import annotations

import shutil

from ...engines import AUTO, BUILDAH, DOCKER, ENGINES, PODMAN, Which, resolve_engine
from .base import BuildEngine
from .docker import DockerEngine


def build_engine(setting: str, source: str = "", which: Which = shutil.which) -> BuildEngine:
    """The engine for ``setting`` (auto, docker, podman, buildah), with why it was chosen
    (``source``: where the setting came from, as ``config`` says it)."""
    name = resolve_engine(setting, which)
    if setting != AUTO:
        why = f"asked for ({source})" if source else "asked for"
    elif not which(name):
        why = f"none of {', '.join(ENGINES)} is on PATH"
    else:
        before = ENGINES[:ENGINES.index(name)]  # looked for first, and not found
        why = f"{name} is on PATH" + (f" and {' or '.join(before)} is not" if before else "")
    if name == DOCKER:
        return DockerEngine(why)
    from .podman import BuildahEngine, PodmanEngine

    return {PODMAN: PodmanEngine, BUILDAH: BuildahEngine}[name](why)
