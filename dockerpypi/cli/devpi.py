"""``dockerpypi devpi``: start, stop and ask about a local devpi-server mirror.

The work is in devpi/, imported by each command (the rule: cli/__init__.py).
``start`` prints the index URL alone on standard output, so that
``DOCKERPYPI_MIRRORS=$(dockerpypi devpi start)`` works; what it did goes to
standard error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import DevpiWarning
from ..settings.model import Settings
from ..settings.resolve import resolve_settings
from .options import context_option
from .output import Output, json_option, lines

if TYPE_CHECKING:
    from ..devpi.server import ServerStatus

F = TypeVar("F", bound=Callable[..., Any])


def _location_options(func: F) -> F:
    options = [
        click.option("--serverdir", metavar="DIR", type=click.Path(path_type=Path),
                     help="devpi-server's data directory (default: devpi beside the local "
                          "mirror directory, e.g. ~/.cache/image-create/pypi/devpi)."),
        click.option("--mirror-dir", metavar="DIR",
                     help="The local mirror directory, whose sibling is the default "
                          "--serverdir."),
        context_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(mirror_dir: str | None, context_dir: Path | None, *,
              public_index: str | None = None, offline: bool | None = None) -> Settings:
    # The settings warnings are about builds ("no mirror configured"): not repeated here.
    return resolve_settings({"mirror_dir": mirror_dir, "public_index": public_index,
                             "offline": offline}, context_dir=context_dir)


def _server_dir(serverdir: Path | None, settings: Settings) -> Path:
    from ..devpi.serverdir import default_server_dir

    if serverdir is not None:
        return serverdir.expanduser().absolute()
    return default_server_dir(settings.mirror_dir.value)


def _describe(result: ServerStatus) -> str:
    mode = "offline: cache only" if result.offline else "online"
    return (f"pid {result.pid}, port {result.port}, serverdir {result.serverdir}, "
            f"upstream {result.upstream}, {mode}, log {result.log}")


@click.group()
def devpi() -> None:
    """Run a local devpi-server: a caching mirror of the public index.

    \b
    dockerpypi devpi start            # prints the index URL to build with
    dockerpypi build --index-url "$(dockerpypi devpi start)" -t app .
    dockerpypi devpi start --offline  # serve only what is cached
    dockerpypi devpi status --json
    dockerpypi devpi stop

    The mirror fills on first use and serves its cache when the upstream
    cannot be reached. It needs devpi-server: pip install 'dockerpypi[devpi]'.
    """


@devpi.command("start")
@_location_options
@click.option("--port", type=click.IntRange(1, 65535), default=None, metavar="PORT",
              help="The port on 127.0.0.1 [default: 3141].")
@click.option("--public-index", metavar="URL",
              help="The upstream that root/pypi mirrors (default: the configured public "
                   "index).")
@click.option("--offline/--online", default=None,
              help="Offline: serve only what is cached, never ask the upstream "
                   "(DOCKERPYPI_OFFLINE and DIB_OFFLINE say the same).")
@click.option("--start-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="How long to wait for the server to answer [default: 60].")
@json_option
def start_command(serverdir: Path | None, mirror_dir: str | None, context_dir: Path | None,
                  port: int | None, public_index: str | None, offline: bool | None,
                  start_timeout: float | None, as_json: bool) -> Output:
    """Start devpi-server in the background and print the index URL to use."""
    from ..devpi import server

    settings = _settings(mirror_dir, context_dir, public_index=public_index, offline=offline)
    options = server.StartOptions(
        serverdir=_server_dir(serverdir, settings),
        upstream=settings.public_index.value,
        port=server.DEFAULT_PORT if port is None else port,
        offline=settings.offline.value,
        timeout=server.DEFAULT_START_TIMEOUT if start_timeout is None else start_timeout,
    )
    result = server.start(options)
    said = "already runs" if result.already_running else "started"
    return Output(text=lines([result.url or ""]),
                  json={**result.as_dict(), "already_running": result.already_running},
                  warnings=tuple(DevpiWarning(note) for note in result.notes),
                  notes=(f"devpi-server {said}: {_describe(result)}",))


@devpi.command("stop")
@_location_options
@json_option
def stop_command(serverdir: Path | None, mirror_dir: str | None, context_dir: Path | None,
                 as_json: bool) -> Output:
    """Stop the devpi-server started from the server directory."""
    from ..devpi import server

    result = server.stop(_server_dir(serverdir, _settings(mirror_dir, context_dir)))
    if not result.was_running:
        said = f"devpi-server was not running (serverdir {result.serverdir})"
    else:
        how = " (killed: it ignored SIGTERM)" if result.killed else ""
        said = f"stopped devpi-server, pid {result.pid}{how} (serverdir {result.serverdir})"
    return Output(text=lines([said]), json=result.as_dict())


@devpi.command("status")
@_location_options
@json_option
def status_command(serverdir: Path | None, mirror_dir: str | None, context_dir: Path | None,
                   as_json: bool) -> Output:
    """Say whether devpi-server runs, and its index URL."""
    from ..devpi import server

    result = server.status(_server_dir(serverdir, _settings(mirror_dir, context_dir)))
    if result.running:
        said = [f"devpi-server runs: {result.url}", f"  {_describe(result)}"]
    else:
        said = [f"devpi-server is not running (serverdir {result.serverdir})"]
    return Output(text=lines(said), json=result.as_dict())
