"""The index's files written in chunks: temporaries, one flush, then the renames in order.

:class:`dockerpypi.files.Batch` flushes each file on its own (fsync) and keeps
every file until its commit: for a first index of 100,000 wheels that is
100,000 sidecars, each a journal commit and a thread's job, all held in
memory. Here each file goes to a temporary beside the mirror's root at once
(a plain ``O_EXCL`` create: the run holds the mirror's lock, so a counter
names it), and every ``CHUNK`` files are flushed together and renamed into
place in the order they were added: with one ``syncfs`` of the file system
when the chunk is large, else one fsync per file on a few threads. The data
is on disk before any rename, as with :func:`dockerpypi.files.write_atomic`,
and at most a chunk's names are held at a time.

A caller that needs an order between chunks (sidecars before the pages that
link them) calls :meth:`ChunkWriter.flush` between them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from ..files import TEMP_SUFFIX

CHUNK = 4096  # files between flushes
_SYNCFS_FROM = 256  # fewer files than this: one fsync each (syncfs flushes others' data too)
_THREADS = 16  # waiting on the disk, not the CPU


def _syncfs(directory: Path) -> bool:
    """Flush the file system of ``directory`` (Linux's syncfs); False where there is none."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(directory, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(directory))
    finally:
        os.close(fd)
    return True


def write_streamed(path: Path, chunks: Iterable[bytes]) -> None:
    """Replace ``path`` by the ``chunks`` (mode 0644, flushed), as
    :func:`dockerpypi.files.write_atomic` does with one ``bytes``: a large file (the index
    state of 100,000 files) is never whole in memory."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        with temporary.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)  # whatever the umask
            os.fsync(handle.fileno())  # the rename must not land before the data
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ChunkWriter:
    """Files replaced whole, flushed and renamed a chunk at a time; a context manager.

    On an error or interrupt the temporaries not yet renamed are removed (one
    left by a process killed outright is removed by the next index run, by its
    suffix).
    """

    def __init__(self, directory: Path, chunk: int = CHUNK) -> None:
        self._directory = directory
        self._chunk = chunk
        self._pending: list[tuple[Path | None, Path]] = []  # (temporary or None, path)
        self._fresh: list[Path] = []  # written in place since the last flush
        self._count = 0
        self.written = 0

    def add(self, path: Path, data: bytes, *, fresh: bool = False) -> None:
        """Write ``data`` for ``path`` (mode 0644); in place after the next flush.

        ``fresh``: nothing reads ``path`` before the next flush (a sidecar of a
        wheel no page links yet), so when there is no such file it is written
        there directly, without a temporary and a rename (half the work in a
        directory of 100,000 files); it is flushed with the rest.
        """
        if fresh:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pass
            else:
                self._pending.append((None, path))
                self._fresh.append(path)
                self._fill(fd, data)
                return
        while True:
            self._count += 1
            temporary = self._directory / f".{path.name}.{os.getpid()}-{self._count}{TEMP_SUFFIX}"
            try:
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            break
        self._pending.append((temporary, path))
        self._fill(fd, data)

    def _fill(self, fd: int, data: bytes) -> None:
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                os.fchmod(handle.fileno(), 0o644)  # whatever the umask
        except BaseException:
            self.discard()
            raise
        if len(self._pending) >= self._chunk:
            self.flush()

    def flush(self) -> None:
        """Put every file added so far in place, in the order added, once on disk."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            if len(pending) < _SYNCFS_FROM or not _syncfs(self._directory):
                self._fsync_each([temporary or path for temporary, path in pending])
            for number, (temporary, path) in enumerate(pending):
                if temporary is not None:
                    temporary.replace(path)
                self.written += 1
                pending[number] = (None, path)
        except BaseException:
            self._pending = [item for item in pending if item[0] is not None]
            self.discard()
            raise
        self._fresh = []

    @staticmethod
    def _fsync_each(paths: list[Path]) -> None:
        if len(paths) == 1:
            _fsync(paths[0])
            return
        from concurrent.futures import ThreadPoolExecutor

        # The file system commits the fsyncs of the threads together.
        with ThreadPoolExecutor(min(_THREADS, len(paths))) as pool:
            for _ in pool.map(_fsync, paths):
                pass

    def discard(self) -> None:
        for temporary, _ in self._pending:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    temporary.unlink()
        for path in self._fresh:  # not yet flushed: perhaps written in part
            path.unlink(missing_ok=True)
        self._pending, self._fresh = [], []

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is not None:
            self.discard()
