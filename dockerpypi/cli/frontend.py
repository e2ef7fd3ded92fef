"""What ``bake``, ``compose`` and ``ci`` share on the command line: the run they start.

Each reads the settings (from the current directory unless ``--context``
says otherwise), checks the local mirror as ``build`` does, and starts one
run (:func:`dockerpypi.build.pipeline.start`: the engine asked once, the
transport chosen and said) whose settings every target or service builds
with.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..engines import AUTO, DOCKER
from ..errors import UsageError
from .options import settings_from
from .output import warn

if TYPE_CHECKING:
    from ..build.command import DockerArgs
    from ..build.frontends import InjectOptions
    from ..build.pipeline import BuildRun


def start_run(kwargs: dict[str, Any], *, dry_run: bool = False, builder: str | None = None,
              given: DockerArgs | None = None) -> BuildRun:
    """The run of a bake, compose or ci command: settings, mirror, engine, transport.

    ``given``: the one build's arguments (``ci build``); else the run's own
    stand for no build (each target brings its own), but for ``builder``, the
    ``--builder`` of the whole command: whether it reaches this machine's
    loopback is asked once.
    """
    from ..build import pipeline
    from ..build.command import parse_docker_args
    from ..build.local_mirror import local_mirror

    settings = settings_from(kwargs)
    engine = settings.container_engine
    if engine.value not in (AUTO, DOCKER):
        raise UsageError(f"bake, compose and ci run docker's own tools, and the container "
                         f"engine is {engine.value} ({engine.source})",
                         fix=f"set it to docker or auto for them, or build each image with "
                             f"`dockerpypi build --engine {engine.value}`")
    warn(*settings.warnings)
    mirror = local_mirror(settings, [])  # refused before docker is asked
    if mirror.warning is not None:
        warn(mirror.warning)
    if given is None:
        given = parse_docker_args([*(["--builder", builder] if builder else []),
                                   str(Path.cwd())])
    return pipeline.start(given, settings, mirror.directory, requested="auto", report=report,
                          warn=warn, dry_run=dry_run)


def inject_from(inject: bool, uid: int | None, prefer_uv: bool) -> InjectOptions | None:
    """``--inject``'s options (None: not asked for)."""
    from ..build.frontends import InjectOptions
    from .options import refuse_prefer_uv_alone

    refuse_prefer_uv_alone(inject=inject, prefer_uv=prefer_uv)
    return InjectOptions(uid, prefer_uv) if inject else None


def report(line: str) -> None:
    """A line about the work as it happens, on standard error."""
    click.echo(f"dockerpypi: {line}", err=True)
