"""``dockerpypi ci``: the mirror as inputs of docker/build-push-action and bake-action.

The work is :mod:`dockerpypi.build.ci`'s; this module parses and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .frontend import inject_from, start_run
from .options import PASS_THROUGH, PassThroughCommand, inject_options, settings_options_but_engine
from .output import Output, json_option

_OUT = click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
                    metavar="DIR",
                    help="Where the files the build reads are kept for the action (the step "
                         "settings, secrets, --inject's copy), such as $RUNNER_TEMP/dockerpypi.")


@click.group("ci")
def ci() -> None:
    """Give the mirror to a build run by docker/build-push-action or docker/bake-action.

    Each command prints the action's inputs as GitHub Actions step outputs
    (append them to "$GITHUB_OUTPUT"), and keeps the files they name in
    --out DIR; the mirror's subset stays in the mirror.
    """


@ci.command("build", cls=PassThroughCommand, context_settings=PASS_THROUGH)
@settings_options_but_engine
@_OUT
@inject_options
@json_option
@click.argument("docker_args", nargs=-1, type=click.UNPROCESSED,
                metavar="[DOCKER BUILD OPTIONS] PATH")
def ci_build(docker_args: tuple[str, ...], out: Path, inject: bool, uid: int | None,
             prefer_uv: bool, as_json: bool, **kwargs: Any) -> Output:
    """Print docker/build-push-action's inputs for this build: build-contexts,
    secret-files (and file with --inject, network for a mirror on loopback).

    \b
    dockerpypi ci build --offline --out "$RUNNER_TEMP/dockerpypi" . >> "$GITHUB_OUTPUT"

    Takes what `dockerpypi build` takes; the action's context and Dockerfile
    must be the ones given here.
    """
    from ..build.ci import ci_build as inputs_of
    from ..build.ci import github_outputs
    from ..build.command import parse_docker_args
    from ..build.pipeline import refuse_missing_inputs

    given = parse_docker_args(docker_args)
    refuse_missing_inputs(given)
    if kwargs["context_dir"] is None and given.local_path and Path(given.local_path).is_dir():
        kwargs["context_dir"] = Path(given.local_path)
    options = inject_from(inject, uid, prefer_uv)
    outputs = inputs_of(start_run(kwargs, given=given), given, out=out, inject=options)
    return Output(text=github_outputs(outputs), json=outputs)


@ci.command("bake", cls=PassThroughCommand, context_settings=PASS_THROUGH)
@settings_options_but_engine
@_OUT
@inject_options
@json_option
@click.argument("bake_args", nargs=-1, type=click.UNPROCESSED,
                metavar="[BAKE OPTIONS] [TARGET...]")
def ci_bake(bake_args: tuple[str, ...], out: Path, inject: bool, uid: int | None,
            prefer_uv: bool, as_json: bool, **kwargs: Any) -> Output:
    """Write the bake override into --out DIR and print docker/bake-action's files input
    (your bake files, then the override).

    \b
    dockerpypi ci bake --offline --out "$RUNNER_TEMP/dockerpypi" >> "$GITHUB_OUTPUT"

    Takes what `dockerpypi bake` takes; the action's targets and --set must be
    the ones given here.
    """
    from ..build.bake import parse_bake_args
    from ..build.ci import ci_bake as inputs_of
    from ..build.ci import github_outputs

    given = parse_bake_args(bake_args)
    options = inject_from(inject, uid, prefer_uv)
    outputs = inputs_of(start_run(kwargs, builder=given.builder), given, cwd=Path.cwd(),
                       out=out, inject=options)
    return Output(text=github_outputs(outputs), json=outputs)
