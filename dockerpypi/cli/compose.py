"""``dockerpypi compose build`` and ``compose up``: Compose with the mirror given to each
service. The work is :mod:`dockerpypi.build.compose`'s; this module parses and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .frontend import inject_from, start_run
from .options import PASS_THROUGH, PassThroughCommand, inject_options, settings_options_but_engine
from .output import Output


@click.command("compose", cls=PassThroughCommand, context_settings=PASS_THROUGH)
@settings_options_but_engine
@click.option("--dry-run", is_flag=True,
              help="Print the compose command and dockerpypi's override file instead of "
                   "running it; no secret file is written.")
@inject_options
@click.argument("compose_args", nargs=-1, type=click.UNPROCESSED,
                metavar="[COMPOSE OPTIONS] build|up [OPTIONS] [SERVICE...]")
@click.pass_context
def compose(ctx: click.Context, /, compose_args: tuple[str, ...], dry_run: bool, inject: bool,
            uid: int | None, prefer_uv: bool, **kwargs: Any) -> Output:
    """Run `docker compose build` (or `up`) with the mirror given to each service.

    \b
    dockerpypi compose --offline build
    dockerpypi compose --inject -f compose.yaml up --build web

    dockerpypi's options go before Compose's; everything else is handed to
    Compose unchanged. Each service whose Dockerfile installs from the mirror
    gets its part of the mirror, its step settings and, with --inject, a
    rewritten copy of its Dockerfile, through one more compose file laid over
    yours (additional_contexts, build secrets; your files are not changed).
    Settings are read from the current directory unless --context says
    otherwise. The exit code is Compose's.
    """
    from ..build.compose import compose as run_compose
    from ..build.compose import parse_compose_args

    given = parse_compose_args(compose_args)
    options = inject_from(inject, uid, prefer_uv)
    run = start_run(kwargs, dry_run=dry_run, builder=given.builder)
    ran = run_compose(run, given, cwd=Path.cwd(), inject=options)
    if ran.command is None:
        ctx.exit(ran.code)
    return Output(text=f"{ran.command}\n{ran.override}")
