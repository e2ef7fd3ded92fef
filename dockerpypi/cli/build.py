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
from .options import settings_from, settings_options
from .output import warn

if TYPE_CHECKING:
    from ..build.command import DockerArgs
    from ..settings.model import Settings

# dockerpypi's options come first and everything from the first word click
# does not know is docker's (_BuildCommand puts it after `--`). So -h can be
# help as everywhere else: a cluster such as -tmy/hub is docker's whole, and
# click never reads it letter by letter, where -h would eat its h.
_CONTEXT = {
    "ignore_unknown_options": True,
    "allow_interspersed_args": False,
    "help_option_names": ["-h", "--help"],
}


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


class _BuildCommand(click.Command):
    """``build``, whose words from the first one that is not a dockerpypi option are
    docker's, handed on as they are.

    Click would look each of docker's options up among ours, and for every one
    it does not know, find the nearest of our names (importing difflib) for an
    error it then ignores: ~3 ms of every build. Those words are put after
    ``--`` instead, where click takes them as they are.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        cut = _first_docker_word(self.get_params(ctx), args)
        if cut < len(args):
            args = [*args[:cut], "--", *args[cut:]]
        return super().parse_args(ctx, args)


def _first_docker_word(params: list[click.Parameter], args: list[str]) -> int:
    """The index of the first word of ``args`` that is not one of our options (or its
    value); ``len(args)`` when there is none, or when ``--`` comes first."""
    takes_value = {name: not (isinstance(param, click.Option) and param.is_flag)
                   for param in params if isinstance(param, click.Option)
                   for name in (*param.opts, *param.secondary_opts)}
    index = 0
    while index < len(args):
        name, equals, _ = args[index].partition("=")
        if args[index] == "--":
            return len(args)
        if name not in takes_value:
            return index
        index += 2 if takes_value[name] and not equals else 1
    return index


@click.command("build", cls=_BuildCommand, context_settings=_CONTEXT)
@settings_options
@click.option("--dry-run", is_flag=True,
              help="Print the docker command (credentials as ***) instead of running it; "
                   "no secret file is written.")
@click.option("--verbose", is_flag=True, help="Show the docker command on standard error.")
@click.option("--inject", is_flag=True,
              help="Build a copy of a Dockerfile not written for dockerpypi, with the mirror "
                   "added to every RUN that calls pip or uv (your file is not changed).")
@click.option("--uid", type=click.IntRange(min=0),
              help="With --inject: the uid of a named USER, who must read the secrets.")
@click.option("--prefer-uv", is_flag=True,
              help="With --inject: a step that is one plain `pip install` runs `uv pip "
                   "install` instead when the image has uv (pip otherwise).")
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
    if prefer_uv and not inject:
        raise UsageError("--prefer-uv rewrites steps of --inject: add --inject, or render "
                         "steps that pick uv themselves (dockerpypi render)")
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
