"""``dockerpypi mirror``: fill, index, check, list and serve the local mirror directory.

``mirror add`` is a module of its own (:mod:`.mirror_add`); what the
commands share is in :mod:`.mirror_common`.

What every mirror command needs (click, the settings) is imported at the
top; what one command needs is imported in that command when it runs, so the
others do not pay for packaging, filelock or rich.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import click

from ..errors import MirrorWarning, UserMessageError
from .mirror_add import add_command
from .mirror_common import (
    index_summary,
    index_warnings,
    mirror_dir_options,
    mirror_settings,
    waiting,
)
from .output import Output, json_option, lines
from .progress import progress_display


@click.group()
def mirror() -> None:
    """Fill, index and check the local mirror directory builds install from."""


@mirror.command("path")
@mirror_dir_options
def path_command(mirror_dir: str | None, context_dir: Path | None) -> Output:
    """Print the local mirror directory."""
    return Output(text=lines([str(mirror_settings(mirror_dir, context_dir).mirror_dir.value)]))


@mirror.command("index")
@mirror_dir_options
@click.option("--full", is_flag=True, help="Read every file again, not only new or changed ones.")
@json_option
def index_command(mirror_dir: str | None, context_dir: Path | None, full: bool,
                  as_json: bool) -> Output:
    """Write the PEP 503 index pages for the files in the mirror."""
    from ..mirror.index import update_index

    root = mirror_settings(mirror_dir, context_dir).mirror_dir.value
    display = progress_display(as_json)
    with display or contextlib.nullcontext():
        result = update_index(root, full=full, on_wait=waiting(root),
                              on_progress=None if display is None else display.indexed)
    return Output(text=lines([index_summary(result)]), json=result.to_json(),
                  text_warnings=index_warnings(result))


@mirror.command("list")
@mirror_dir_options
@json_option
def list_command(mirror_dir: str | None, context_dir: Path | None, as_json: bool) -> Output:
    """List the projects in the mirror directory, with their versions."""
    from ..mirror.index import list_projects

    root = mirror_settings(mirror_dir, context_dir).mirror_dir.value
    projects = list_projects(root)
    data = {"mirror_dir": str(root), "projects": [
        {"name": p.name, "versions": list(p.versions), "files": list(p.files)}
        for p in projects]}
    if not projects:
        return Output(json=data, text_warnings=(MirrorWarning(
            f"{root} holds no distributions: add some with `dockerpypi mirror add PACKAGE`"),))
    width = max(len(p.name) for p in projects)
    rows = []
    for project in projects:
        count = len(project.files)
        rows.append(f"{project.name.ljust(width)}  {', '.join(project.versions)}  "
                    f"({count} file{'s' if count != 1 else ''})")
    return Output(text=lines(rows), json=data)


@mirror.command("check")
@mirror_dir_options
@json_option
def check_command(mirror_dir: str | None, context_dir: Path | None, as_json: bool) -> Output:
    """Verify the index against the files; exit 1 on any problem."""
    from ..mirror.check import check_mirror

    root = mirror_settings(mirror_dir, context_dir).mirror_dir.value
    result = check_mirror(root, on_wait=waiting(root))
    if not result.ok:
        count = len(result.problems)
        return Output(
            text=lines(f"{problem.kind:8}  {problem}" for problem in result.problems),
            json=result.to_json(),
            error=UserMessageError(f"{count} problem{'s' if count != 1 else ''} in {root} "
                                   "(listed above)",
                                   fix="fix each as it says, then run `dockerpypi mirror check`"))
    return Output(text=lines([f"ok: {result.projects} projects, {result.files} files in {root} "
                              f"checked in {result.seconds:.2f}s"]), json=result.to_json())


def _serving_url(url: str, host: str) -> str:
    """The URL to give installers: a wildcard address is reached on loopback here."""
    if host in ("", "0.0.0.0", "::"):
        port = url.rstrip("/").rpartition(":")[2]
        return f"http://127.0.0.1:{port}/"
    return url


@mirror.command("serve")
@mirror_dir_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (0.0.0.0: every address of this machine).")
@click.option("--port", type=click.IntRange(0, 65535), default=3141, show_default=True,
              help="The port to listen on (0: any free port).")
@click.option("--verbose", is_flag=True, help="Log every request on standard error.")
def serve_command(mirror_dir: str | None, context_dir: Path | None, host: str, port: int,
                  verbose: bool) -> None:
    """Serve the mirror directory read-only over HTTP until Ctrl-C.

    Prints the index URL on standard output. Builds use it as any HTTP mirror:

    \b
    dockerpypi mirror serve --port 3141 &
    dockerpypi build --offline --index-url http://127.0.0.1:3141/ -t app .
    """
    from ..mirror.index import PAGE
    from ..mirror.serve import MirrorServer
    from ..process import signals_recorded

    root = mirror_settings(mirror_dir, context_dir).mirror_dir.value
    if not root.is_dir():
        raise UserMessageError(f"mirror directory {root} does not exist: fill it with "
                               "`dockerpypi mirror add PACKAGE` first")
    if not (root / PAGE).is_file():
        raise UserMessageError(f"{root} has no {PAGE}, so it is no index yet: run "
                               "`dockerpypi mirror index` (or `dockerpypi mirror add PACKAGE`)")
    try:
        server = MirrorServer(root, host, port, quiet=not verbose)
    except OSError as exc:
        raise UserMessageError(f"cannot listen on {host} port {port} ({exc.strerror or exc}): "
                               "choose another --port or --host") from None
    url = _serving_url(server.url, host)
    listening = f" (listening on {server.url})" if url != server.url else ""
    thread = threading.Thread(target=server.serve_forever, name="dockerpypi-mirror-serve",
                              daemon=True)
    # The handlers go in before the URL is printed: whoever reads the URL may
    # stop the server at once, and that is a clean stop (exit 0).
    with signals_recorded() as stopped:
        thread.start()
        try:
            click.echo(url)
            click.echo(f"dockerpypi: serving {root} read-only at {url}{listening}; "
                       "Ctrl-C stops", err=True)
            while not stopped and thread.is_alive():
                time.sleep(0.1)
        finally:
            server.close()
            thread.join(timeout=5)
    if not stopped:
        raise UserMessageError(f"the server at {url} stopped unexpectedly: run "
                               "`dockerpypi mirror serve` again")
    click.echo("dockerpypi: stopped serving", err=True)


mirror.add_command(add_command)
