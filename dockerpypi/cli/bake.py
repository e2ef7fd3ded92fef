"""``dockerpypi bake``: ``docker buildx bake`` with the mirror given to each target.

The work is :mod:`dockerpypi.build.bake`'s; this module parses and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .frontend import inject_from, start_run
from .options import PASS_THROUGH, PassThroughCommand, inject_options, settings_options_but_engine
from .output import Output


@click.command("bake", cls=PassThroughCommand, context_settings=PASS_THROUGH)
@settings_options_but_engine
@click.option("--dry-run", is_flag=True,
              help="Print the bake command and dockerpypi's override file instead of "
                   "running it; no secret file is written.")
@inject_options
@click.argument("bake_args", nargs=-1, type=click.UNPROCESSED,
                metavar="[BAKE OPTIONS] [TARGET...]")
@click.pass_context
def bake(ctx: click.Context, /, bake_args: tuple[str, ...], dry_run: bool, inject: bool,
         uid: int | None, prefer_uv: bool, **kwargs: Any) -> Output:
    """Run `docker buildx bake` with the mirror given to each target.

    \b
    dockerpypi bake --offline
    dockerpypi bake --inject -f docker-bake.hcl app worker

    dockerpypi's options go before bake's; everything else is handed to bake
    unchanged. Each target whose Dockerfile installs from the mirror gets its
    part of the mirror ("pypi-mirror"), its step settings and, with --inject,
    a rewritten copy of its Dockerfile, through one more bake file laid over
    yours (your files are not changed). Settings are read from the current
    directory unless --context says otherwise. The exit code is bake's.
    """
    from ..build.bake import bake as run_bake
    from ..build.bake import parse_bake_args

    given = parse_bake_args(bake_args)
    options = inject_from(inject, uid, prefer_uv)
    run = start_run(kwargs, dry_run=dry_run, builder=given.builder)
    ran = run_bake(run, given, cwd=Path.cwd(), inject=options)
    if ran.command is None:
        ctx.exit(ran.code)
    return Output(text=f"{ran.command}\n{ran.override}")
