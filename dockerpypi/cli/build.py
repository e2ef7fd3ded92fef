"""``dockerpypi build``: ``docker buildx build`` with the mirror supplied.

This module parses the command line, calls the pipeline
(:mod:`dockerpypi.build.pipeline`), prints and exits; the planning of the
docker command is :mod:`dockerpypi.build.command`'s. What one option alone
needs is imported where that option is handled, so that other builds do not
load it: logging (``--verbose``), ``--inject``'s rewriter, the verifier.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..build import pipeline
from ..build.command import parse_docker_args
from ..build.engines.choice import build_engine
from ..build.local_mirror import local_mirror
from ..build.transports import TRANSPORTS
from ..engines import DOCKER
from ..errors import UsageError
from ..process import LOGGER
from .options import (
    PASS_THROUGH,
    PassThroughCommand,
    inject_options,
    refuse_prefer_uv_alone,
    settings_from,
    settings_options,
)
from .output import warn

if TYPE_CHECKING:
    from ..build.command import DockerArgs
    from ..settings.model import Settings

@contextmanager
def _logging_to_stderr() -> Iterator[None]:
    """--verbose, --debug: the commands run are said on stderr (process.py logs them)."""
    import logging

    logger = logging.getLogger(LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dockerpypi: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@click.command("build", cls=PassThroughCommand, context_settings=PASS_THROUGH)
@settings_options
@click.option("--dry-run", is_flag=True,
              help="Print the docker command (credentials as ***) instead of running it; "
                   "no secret file is written.")
@click.option("--verbose", is_flag=True, help="Show the docker command on standard error.")
@inject_options
@click.option("--transport", type=click.Choice(["auto", *TRANSPORTS]), default="auto",
              show_default=True,
              help="How the local mirror reaches the build: a named build context, or "
                   "served on 127.0.0.1 for engines without named contexts.")
@click.option("--verify", is_flag=True,
              help="Then look through the image for traces of the mirror (`dockerpypi "
                   "verify`) and exit 1 if there are any; needs -t NAME and --load (or the "
                   "docker driver).")
@click.argument("docker_args", nargs=-1, type=click.UNPROCESSED,
                metavar="[DOCKER BUILD OPTIONS] PATH")
@click.pass_context
def build(ctx: click.Context, /, docker_args: tuple[str, ...], dry_run: bool, verbose: bool,
          transport: str, inject: bool, uid: int | None, prefer_uv: bool, verify: bool,
          **kwargs: Any) -> None:
    """Run `docker buildx build` with the mirror and its settings supplied.

    \b
    dockerpypi build -t app .
    dockerpypi build --offline --mirror-dir ./wheels -f Dockerfile.prod --load -t app .

    dockerpypi's options go before docker's; everything else is handed to
    docker unchanged. The local mirror directory becomes the build context
    "pypi-mirror" (unless you give your own), the step settings the build
    context "dockerpypi-config" (build secrets instead, in a private temporary
    directory removed afterwards, when a mirror URL carries credentials or the
    engine has no named contexts), and --network=host is added when a mirror
    is on loopback and you gave no --network. Settings are read from the build
    context PATH unless --context says otherwise. The exit code is docker's.

    With --engine podman or buildah (auto: the first of docker, podman,
    buildah on PATH), `podman build` or `buildah build` runs instead, with the
    same contexts and secrets.
    """
    refuse_prefer_uv_alone(inject=inject, prefer_uv=prefer_uv)
    given = parse_docker_args(docker_args)
    _refuse_misplaced_options(ctx, given.options)
    if kwargs["context_dir"] is None and given.local_path and Path(given.local_path).is_dir():
        kwargs["context_dir"] = Path(given.local_path)
    settings = settings_from(kwargs)
    cli = build_engine(settings.container_engine.value, settings.container_engine.source)
    if cli.name != DOCKER:
        _report(f"engine {cli.name}: {cli.why}")
    given = pipeline.engine_args(given, cli, report=_report)  # refused before anything runs
    warn(*settings.warnings)
    mirror = local_mirror(settings, given.build_contexts)  # refused before docker is asked
    if mirror.warning is not None:
        warn(mirror.warning)
    debug = bool(ctx.find_root().params.get("debug"))
    image = pipeline.verify_target(given, dry_run=dry_run, cli=cli) if verify else None
    with _logging_to_stderr() if verbose or debug else nullcontext():
        injecting = None
        if inject:
            from ..build.injected import read_for_injection

            injecting = read_for_injection(given, settings, uid=uid, prefer_uv=prefer_uv)
        run = pipeline.start(given, settings, mirror.directory, requested=transport,
                             report=_report, warn=warn, dry_run=dry_run, cli=cli)
        outcome = pipeline.build(run, injecting)
    if outcome.command is not None:
        click.echo(outcome.command)
    code = outcome.code
    if image is not None and code == 0:
        code = _verify_built(image, given, settings, cli.cli)
    ctx.exit(code)


def _refuse_misplaced_options(ctx: click.Context, options: tuple[tuple[str, str | None], ...]
                              ) -> None:
    ours = {name for param in ctx.command.params
            for name in (*param.opts, *param.secondary_opts) if name.startswith("--")}
    for name, _ in options:
        if name in ours:
            raise UsageError(f"{name} is a dockerpypi option: put it before the docker "
                             f"options, as in `dockerpypi build {name} ... -t app .`")


def _verify_built(image: str, given: DockerArgs, settings: Settings, cli: str) -> int:
    """``dockerpypi verify`` on the image just built; 1 when it keeps a trace of the mirror."""
    from ..verify.report import failure, report_lines, summary
    from ..verify.scan import verify_settings

    metadata = given.values("--metadata-file")
    result, needles = verify_settings(settings, image, cli=cli,
                                      metadata_file=Path(metadata[-1]) if metadata else None)
    for line in [*report_lines(result, needles), summary(result)]:
        _report(f"verify: {line}")
    error = failure(result)
    if error is not None:
        _report(f"error: {error}")
    return 0 if error is None else 1


def _report(line: str) -> None:
    click.echo(f"dockerpypi: {line}", err=True)
