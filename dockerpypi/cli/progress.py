"""Progress on standard error while ``mirror add`` and ``mirror index`` work.

Shown on a terminal only, and never with ``--quiet`` or ``--json``
(:func:`progress_display`). rich is imported when a display is made: other
commands, and these when nobody watches, do not pay for it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


def progress_display(quiet: bool) -> Display | None:
    """A display when someone watches standard error (a terminal), else None."""
    if quiet or not sys.stderr.isatty():
        return None
    return Display()


class Display:
    """rich's spinner and bars on standard error, one at a time: what the resolver
    says, then the files and bytes dockerpypi downloads, then the files indexed.

    It is a :class:`dockerpypi.mirror.download.Transfer`; :meth:`indexed` is
    ``update_index``'s ``on_progress``. Use it as a context manager: the last
    bar is left as it ended.
    """

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self._live: Any = None  # the rich Status or Progress shown now
        self._download: tuple[Progress, TaskID] | None = None
        self._index: tuple[Progress, TaskID] | None = None
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
