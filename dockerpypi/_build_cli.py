"""``dockerpypi build``: ``docker buildx build`` with the mirror supplied.

Only click is imported at the top (see cli.py); planning lives in build.py,
processes and secret files in _runner.py.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._options import settings_from, settings_options, warn

if TYPE_CHECKING:
    from .build import DockerArgs
    from .settings import Settings

# dockerpypi's options come first and everything from the first word click
# does not know is docker's. Only long names: click reads a short option
# cluster letter by letter, so a `-v` of ours would eat the v of `-tapp:dev`,
# and `-h` the h of `-tmy/hub`.
_CONTEXT = {
    "ignore_unknown_options": True,
    "allow_interspersed_args": False,
    "help_option_names": ["--help"],
}


@contextmanager
def _logging_to_stderr(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    logger = logging.getLogger("dockerpypi")
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


@click.command("build", context_settings=_CONTEXT)
@settings_options
@click.option("--dry-run", is_flag=True,
              help="Print the docker command (credentials as ***) instead of running it; "
                   "no secret file is written.")
@click.option("--verbose", is_flag=True, help="Show the docker command on standard error.")
@click.argument("docker_args", nargs=-1, type=click.UNPROCESSED,
                metavar="[DOCKER BUILD OPTIONS] PATH")
@click.pass_context
def build(ctx: click.Context, /, docker_args: tuple[str, ...], dry_run: bool, verbose: bool,
          **kwargs: Any) -> None:
    """Run `docker buildx build` with the mirror and its settings supplied.

    \b
    dockerpypi build -t app .
    dockerpypi build --offline --mirror-dir ./wheels -f Dockerfile.prod --load -t app .

    dockerpypi's options go before docker's; everything else is handed to
    docker unchanged. The local mirror directory becomes the build context
    "pypi-mirror" (unless you give your own), the config files become build
    secrets in a private temporary directory that is removed afterwards, and
    --network=host is added when a mirror is on loopback and you gave no
    --network. Settings are read from the build context PATH unless --context
    says otherwise. The exit code is docker's.
    """
    from .build import credential_strings, parse_docker_args

    given = parse_docker_args(docker_args)
    _refuse_misplaced_options(ctx, given.options)
    if kwargs["context_dir"] is None and given.local_path and Path(given.local_path).is_dir():
        kwargs["context_dir"] = Path(given.local_path)
    settings = settings_from(kwargs)
    for warning in settings.warnings:
        warn(warning)
    secrets = credential_strings(settings)
    debug = bool(ctx.find_root().params.get("debug"))
    with _logging_to_stderr(verbose or debug):
        code = _build(given, settings, secrets, dry_run=dry_run)
    ctx.exit(code)


def _refuse_misplaced_options(ctx: click.Context, options: tuple[tuple[str, str | None], ...]
                              ) -> None:
    from .errors import UsageError

    ours = {name for param in ctx.command.params
            for name in (*param.opts, *param.secondary_opts) if name.startswith("--")}
    for name, _ in options:
        if name in ours:
            raise UsageError(f"{name} is a dockerpypi option: put it before the docker "
                                   f"options, as in `dockerpypi build {name} ... -t app .`")


def _build(given: DockerArgs, settings: Settings, secrets: list[str], *, dry_run: bool) -> int:
    from . import _runner
    from .build import plan_build
    from .render import config_files

    mirror_dir = _mirror_dir(settings, given.build_contexts)
    _warn_about_network(settings, given.network)
    files = config_files(settings)
    if dry_run:
        # The real directory does not exist yet: show where it would be.
        placeholder = Path(tempfile.gettempdir()) / "dockerpypi-XXXXXXXX"
        paths = {f.secret_id: placeholder / f.secret_id for f in files}
        argv = plan_build(given.args, settings, secret_files=paths, mirror_dir=mirror_dir)
        click.echo(_runner.shell_command(argv, secrets))
        return 0
    with _runner.private_files({f.secret_id: f.content for f in files}) as written:
        argv = plan_build(given.args, settings, secret_files=written, mirror_dir=mirror_dir)
        return _runner.run(argv, secrets=secrets)


def _mirror_dir(settings: Settings, build_contexts: list[str]) -> Path | None:
    from .errors import SettingsError
    from .render import MIRROR_STAGE

    path = settings.mirror_dir.value
    if path.is_dir():
        return path
    if path.exists():
        raise SettingsError(f"the mirror directory {path} ({settings.mirror_dir.source}) is not "
                            "a directory: point --mirror-dir at a directory of wheels")
    if MIRROR_STAGE not in build_contexts and any(i.is_local for i in settings.indexes):
        warn(f"the mirror directory {path} ({settings.mirror_dir.source}) does not exist: "
             f"building with the empty {MIRROR_STAGE} stage; fill it (dockerpypi mirror add) "
             "or give --mirror-dir")
    return None


def _warn_about_network(settings: Settings, network: str | None) -> None:
    from .build import loopback_indexes

    loopback = loopback_indexes(settings)
    if loopback and network is not None and network != "host":
        warn(f"{loopback[0]} is on loopback, which --network={network} cannot reach: "
             "drop --network (dockerpypi then uses host) or use a reachable mirror address")
