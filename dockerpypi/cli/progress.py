"""Progress on standard error while ``mirror add``, ``mirror index`` and ``verify`` work.

One display (:class:`Display`) for all of them, shown on a terminal only,
and never with ``--quiet`` or ``--json`` (:func:`progress_display`). rich is
imported when a display is made: other commands, and these when nobody
watches, do not pay for it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, Task, TaskID


def progress_display(quiet: bool) -> Display | None:
    """A display when someone watches standard error (a terminal), else None."""
    if quiet or not sys.stderr.isatty():
        return None
    return Display()


class Display:
    """rich's spinner and bars on standard error, one at a time: what the resolver
    says, then the files and bytes dockerpypi downloads, then the files indexed;
    or the layers and bytes ``verify`` reads.

    It is a :class:`dockerpypi.mirror.download.Transfer`; :meth:`indexed` is
    ``update_index``'s ``on_progress``; and it is a
    :class:`dockerpypi.verify.archive.ScanProgress`. Use it as a context
    manager: the last bar is left as it ended, but verify's, which is wiped so
    that the report that follows stands alone.
    """

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self._live: Any = None  # the rich Status or Progress shown now
        self._download: tuple[Progress, TaskID] | None = None
        self._index: tuple[Progress, TaskID] | None = None
        self._scan: _ScanBar | None = None
        self._lock = threading.Lock()  # the download threads add to the total
        self._size = 0
        self._saved = 0

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._show(None)

    def _show(self, live: Any) -> None:
        if self._live is not None:
            self._live.stop()
        self._live = live
        if live is not None:
            live.start()

    @property
    def shown_task(self) -> Task | None:
        """The task of the bar shown now (None: a spinner, or nothing)."""
        tasks = getattr(self._live, "tasks", None)
        return tasks[0] if tasks else None

    def status(self, label: str) -> Callable[[str], None]:
        """Show a spinner with ``label``; the handler puts each line beside it."""
        from rich.markup import escape

        status = self.console.status(f"{label}: starting")
        self._show(status)

        def on_line(line: str) -> None:
            if line.strip():
                status.update(f"{label}: {escape(line.strip()[:100])}")

        return on_line

    # --- a Transfer ---------------------------------------------------------------

    def begin(self, files: int, size: int) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        progress = Progress(TextColumn("downloading"), BarColumn(), DownloadColumn(),
                            TransferSpeedColumn(),
                            TextColumn("{task.fields[saved]}/{task.fields[files]} files"),
                            TimeRemainingColumn(), console=self.console)
        self._size, self._saved = size, 0
        task = progress.add_task("downloading", total=size or None, saved=0, files=files)
        self._download = (progress, task)
        self._show(progress)

    def add_total(self, size: int) -> None:
        assert self._download is not None
        progress, task = self._download
        with self._lock:
            self._size += size
            progress.update(task, total=self._size)

    def advance(self, size: int) -> None:
        assert self._download is not None
        progress, task = self._download
        progress.update(task, advance=size)

    def saved(self, name: str) -> None:
        assert self._download is not None
        progress, task = self._download
        self._saved += 1
        progress.update(task, saved=self._saved)

    # --- the index ----------------------------------------------------------------

    def indexed(self, done: int, total: int) -> None:
        """``update_index``'s ``on_progress``: ``done`` files of ``total`` gone through."""
        if self._index is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            progress = Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("files"), console=self.console)
            self._index = (progress, progress.add_task("indexing", total=total))
            self._show(progress)
        progress, task = self._index
        progress.update(task, completed=done, total=total)

    # --- a verify scan --------------------------------------------------------------

    def scan_started(self, total_bytes: int | None, layers: int | None) -> None:
        """The bar of layers and bytes read; ``layers`` None: not known (an archive's)."""
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        progress = Progress(TextColumn("verify"), BarColumn(),
                            TextColumn("{task.fields[layers]}"), DownloadColumn(),
                            TransferSpeedColumn(), console=self.console, transient=True)
        self._scan = _ScanBar(progress, layers, total_bytes or None)
        self._show(progress)

    def scan_advanced(self, count: int) -> None:
        assert self._scan is not None
        self._scan.advanced(count)

    def layer_scanned(self) -> None:
        assert self._scan is not None
        self._scan.layer_done()


class _ScanBar:
    """verify's bar: layers read (of how many, when known), and bytes of the archive."""

    def __init__(self, progress: Progress, layers: int | None, total: int | None) -> None:
        self.progress = progress
        self.layers = layers
        self.done = 0
        self.total = total
        self.read = 0
        self.task = progress.add_task("verify", total=total, layers=self._layers_text())

    def _layers_text(self) -> str:
        total = f"/{self.layers}" if self.layers is not None else ""
        return f"{self.done}{total} layers"

    def advanced(self, count: int) -> None:
        self.read += count
        if self.total is not None and self.read > self.total:
            # The tar's headers add to the layers' own size. A new total restarts
            # rich's speed estimate: grow it by a tenth, not for every chunk.
            self.total = self.read + self.read // 10
        self.progress.update(self.task, completed=self.read, total=self.total)

    def layer_done(self) -> None:
        self.done += 1
        self.progress.update(self.task, layers=self._layers_text())
