"""``dockerpypi verify``: the command line of :mod:`dockerpypi.verify`.

Only click is imported at the top (see cli.py); the scanner, and rich for
the progress display, are imported when the command runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import NoMirrorConfigured
from .options import settings_from, settings_options_for
from .output import Output, json_option, lines, warn

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from ..settings.resolve import Settings
    from ..verify.scan import ScanProgress, VerifyResult

# The settings that change what verify looks for: the mirrors' URLs and
# credentials, the public index's credentials, the mount point. The others
# (retries, timeout, which config files a build writes...) only change builds.
VERIFY_SETTINGS = ("mirrors", "public_index", "mount_point")


def run_verify(settings: Settings, image: str | None, *, needles: tuple[str, ...] = (),
               archive: Path | None = None, metadata_file: Path | None = None,
               progress: ScanProgress | None = None) -> tuple[VerifyResult, list[Any]]:
    """Verify ``image`` (or ``archive``) against ``settings``; return the result and needles."""
    from ..verify.scan import default_needles, read_metadata_file, verify_image

    found, notes = default_needles(settings, needles)
    metadata = read_metadata_file(metadata_file) if metadata_file is not None else None
    result = verify_image(image, found, mount_point=settings.mount_point.value,
                          archive=archive, metadata=metadata,
                          metadata_name=f"metadata file {metadata_file}", notes=notes,
                          progress=progress)
    return result, found


class LayerProgress:
    """verify's progress on ``console``: layers read, and bytes of the archive read."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self.display = Progress(TextColumn("verify"), BarColumn(),
                                TextColumn("{task.fields[layers]}"), DownloadColumn(),
                                TransferSpeedColumn(), console=console, transient=True)
        self._task: TaskID | None = None
        self._layers: int | None = None  # None: not known (an archive's)
        self._done = 0
        self._total: int | None = None
        self._read = 0

    def _layers_text(self) -> str:
        total = f"/{self._layers}" if self._layers is not None else ""
        return f"{self._done}{total} layers"

    def started(self, total_bytes: int | None, layers: int | None) -> None:
        self._layers = layers
        self._total = total_bytes or None
        self._task = self.display.add_task("verify", total=self._total,
                                           layers=self._layers_text())

    def advanced(self, count: int) -> None:
        assert self._task is not None
        self._read += count
        if self._total is not None and self._read > self._total:
            # The tar's headers add to the layers' own size. A new total restarts
            # rich's speed estimate: grow it by a tenth, not for every chunk.
            self._total = self._read + self._read // 10
        self.display.update(self._task, completed=self._read, total=self._total)

    def layer_done(self) -> None:
        assert self._task is not None
        self._done += 1
        self.display.update(self._task, layers=self._layers_text())


@contextmanager
def layer_progress(console: Console | None) -> Iterator[LayerProgress | None]:
    """A progress display on ``console`` while the block runs; None when there is none.

    The display is drawn by rich, and wiped when the block ends, so the report
    that follows stands alone.
    """
    if console is None:
        yield None
        return
    progress = LayerProgress(console)
    with progress.display:
        yield progress


def _progress_console(quiet: bool) -> Console | None:
    """The terminal to draw progress on: stderr, if it is one and nobody asked for quiet."""
    if quiet or not sys.stderr.isatty():
        return None
    from rich.console import Console

    return Console(stderr=True)


def failure_message(result: VerifyResult) -> str:
    count = len(result.findings)
    return (f"{result.image} keeps {count} trace{'' if count == 1 else 's'} of the mirror "
            "configuration (see the report): remove the ARG, ENV, COPY or RUN that put them "
            "there and build with `dockerpypi build`, which passes the mirror as build secrets")


@click.command("verify")
@settings_options_for(*VERIFY_SETTINGS)
@click.argument("image", required=False)
@click.option("--needle", "needles", multiple=True, metavar="TEXT",
              help="Also search for TEXT; repeat for more.")
@click.option("--metadata-file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Also search the file `docker buildx build "
                                   "--metadata-file` wrote, and the provenance in it.")
@click.option("--archive", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Search a tar written by `docker save` or `buildx --output type=oci` "
                   "instead of an image on the engine.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print only the traces found: no summary line, no progress.")
@json_option
def verify(image: str | None, needles: tuple[str, ...], metadata_file: Path | None,
           archive: Path | None, quiet: bool, as_json: bool, **kwargs: Any) -> Output:
    """Look through an image for traces of the mirror configuration.

    \b
    dockerpypi verify app:latest
    dockerpypi verify --needle devpi.internal --metadata-file meta.json app

    Every layer (also files a later layer deleted), the image config and its
    history are searched for installer config files, files left at the mirror's
    mount points, and the configured mirror URLs and credentials (never
    printed: a finding says "credential of mirror N"). Exit 1 when anything is
    found, 0 when the image is clean.

    The image is read from the engine the docker CLI uses, as for `dockerpypi
    build`: DOCKER_HOST, DOCKER_CONTEXT or the current `docker context`.
    """
    from ..errors import UsageError, UserMessageError

    if (image is None) == (archive is None):
        raise UsageError("give an IMAGE or --archive FILE" + (", not both" if image else ""))
    settings = settings_from(kwargs)
    warn(*settings.warnings, ignore=(NoMirrorConfigured,))  # about builds, not this
    from ..verify.scan import report_json, report_lines, summary

    with layer_progress(_progress_console(quiet or as_json)) as progress:
        result, found = run_verify(settings, image, needles=needles, archive=archive,
                                   metadata_file=metadata_file, progress=progress)
    text = list(report_lines(result, found))
    if not quiet:
        text.append(summary(result))
    error = None if result.clean else UserMessageError(failure_message(result))
    return Output(text=lines(text), json=report_json(result, found), error=error)
