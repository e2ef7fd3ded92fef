"""Which container CLI dockerpypi drives: docker, podman or buildah (a leaf module).

The ``container-engine`` setting (``--engine``, ``DOCKERPYPI_CONTAINER_ENGINE``,
``container-engine`` in the settings file) names one, or ``auto``: the first of
docker, podman and buildah found on ``PATH``, so that a machine with podman
alone builds with podman without being told. Builds run that CLI
(:mod:`dockerpypi.build.engines`); ``verify`` and ``mirror add --image``
read and run images through :func:`image_cli`: buildah has no ``image
inspect``, ``save`` or ``run`` of docker's shape, and its images live in
the storage podman reads, so podman's CLI stands in for it.

Nothing here imports a stage: build, verify and mirror all ask it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

AUTO = "auto"
DOCKER, PODMAN, BUILDAH = "docker", "podman", "buildah"
# The order `auto` looks for them in, and the setting's choices.
ENGINES = (DOCKER, PODMAN, BUILDAH)
CHOICES = (AUTO, *ENGINES)

# What to do when the CLI is not on PATH, by engine.
MISSING = {
    DOCKER: "install Docker with the buildx plugin, or put docker on PATH",
    PODMAN: "install podman, or put it on PATH (or choose another --engine)",
    BUILDAH: "install buildah, or put it on PATH (or choose another --engine)",
}

Which = Callable[[str], "str | None"]


def resolve_engine(setting: str, which: Which = shutil.which) -> str:
    """The engine ``setting`` names; for ``auto``, the first of :data:`ENGINES` on PATH
    (docker when none is: its error then says what to install)."""
    if setting != AUTO:
        return setting
    for name in ENGINES:
        if which(name):
            return name
    return DOCKER


def image_cli(engine: str, which: Which = shutil.which) -> str:
    """The CLI that inspects, saves and runs the images ``engine`` builds."""
    if engine == BUILDAH and which(PODMAN):
        return PODMAN
    return engine


def missing_fix(cli: str) -> str:
    """The fix when ``cli`` is not found."""
    return MISSING.get(cli, MISSING[DOCKER])
