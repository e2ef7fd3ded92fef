"""Replace files whole: readers see the old file or the new one, never part of one.

Each file is written to a temporary name, flushed to disk and renamed into
place. The flush (fsync) is what makes the rename safe across a power cut, and
one at a time it is also slow: a first index of 10,000 wheels writes 10,000
metadata files, and each fsync waits for its own journal commit. A ``Batch``
therefore writes and flushes its files on a few threads, whose fsyncs the file
system commits together, and only then renames them, in the order given.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

TEMP_SUFFIX = ".dockerpypi-tmp"
_THREADS = 16  # waiting on the disk, not the CPU: more than the cores


def _temporary(target: Path, directory: Path) -> tuple[int, Path]:
    fd, name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    return fd, Path(name)


def _fill(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        # mkstemp makes 0600; a build step running as a non-root USER must read pages.
        os.fchmod(handle.fileno(), 0o644)
        os.fsync(handle.fileno())  # the rename must not land before the data


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data``."""
    fd, temporary = _temporary(path, path.parent)
    try:
        _fill(fd, data)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class Batch:
    """Files written and flushed on threads as they are added, renamed by ``commit``.

    Use it as a context manager: on an error or interrupt, the files not yet
    renamed are removed once the threads are done. The temporary files are
    made in ``directory``, which must be on the same file system as every
    path (the mirror's root, for its pages). The writing overlaps whatever
    the caller does meanwhile, such as reading the next distribution.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="dockerpypi-write")
        self._jobs: list[tuple[Path, Future[Path]]] = []
        self._made: list[Path] = []  # appended on the threads, as each is created

    def add(self, path: Path, data: bytes) -> None:
        self._jobs.append((path, self._pool.submit(self._make, path, data)))

    def _make(self, path: Path, data: bytes) -> Path:
        # Made on the threads too: creating a file waits for the journal as well.
        fd, temporary = _temporary(path, self._directory)
        self._made.append(temporary)
        _fill(fd, data)
        return temporary

    def commit(self) -> None:
        """Rename every file into place, in the order they were added."""
        for path, job in self._jobs:
            job.result().replace(path)  # re-raises a failure to write
        self._jobs = []

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._pool.shutdown(wait=True)  # after an interrupt: every queued job still runs
        if kind is not None:
            for temporary in self._made:  # the renamed ones are no longer there
                temporary.unlink(missing_ok=True)
