"""Files written whole, and files only their owner reads: the one place that writes them.

A file is written to a temporary name beside it and renamed into place, so
readers see the old file or the new one, never part of one (:func:`write_atomic`;
:func:`write_private` for secrets and caches: mode 0600 from the first byte).
A directory is written the same way, under a temporary name and renamed when
whole (:func:`place_tree`). The secret files of a build live in a private
temporary directory for as long as it runs (:func:`private_files`).

The flush (fsync) before the rename is what makes it safe across a power
cut, and one at a time it is also slow: a first index of 10,000 wheels writes
10,000 metadata files, and each fsync waits for its own journal commit. A
:class:`Batch` therefore writes and flushes its files on a few threads, whose
fsyncs the file system commits together, and only then renames them, in the
order given. What is only worth keeping (a cache) is written without a flush.

``tempfile``, ``shutil``, the thread pool and :mod:`.process` (for its
signals) are imported by the functions that use them: ``dockerpypi render``
loads this module to read its cache, and usually writes nothing.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future

# The suffix of a file being written; one a killed process left may be removed.
TEMP_SUFFIX = ".dockerpypi-tmp"
# The prefix of a directory being written by place_tree.
WRITING_PREFIX = ".writing-"
# The key and directory name of private_files' readable tree.
TREE = "context"
_THREADS = 16  # waiting on the disk, not the CPU: more than the cores


def _temporary(target: Path, directory: Path) -> tuple[int, Path]:
    import tempfile

    # mkstemp makes the file 0600: nobody else reads a secret before the chmod.
    fd, name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    return fd, Path(name)


def _fill(fd: int, data: bytes, mode: int, sync: bool) -> None:
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fchmod(handle.fileno(), mode)  # whatever the umask
        if sync:
            os.fsync(handle.fileno())  # the rename must not land before the data


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, sync: bool = True) -> None:
    """Replace ``path`` by ``data`` (``mode``: 0644, for a build step running as a
    non-root USER to read). ``sync=False`` skips the flush: for what may be lost."""
    fd, temporary = _temporary(path, path.parent)
    try:
        _fill(fd, data, mode, sync)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_private(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace ``path`` by ``data``, readable by its owner only from the start (0600)."""
    write_atomic(path, data, mode=0o600, sync=sync)


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (relative path: text) as a new directory ``root`` any user can
    read: directories 0755, files 0644, whatever the umask.

    Raises ValueError, before writing anything, for a name that would leave
    ``root`` (absolute, or out through ``..``)."""
    for name in files:
        normal = posixpath.normpath(name.replace("\\", "/"))
        if posixpath.isabs(normal) or normal in (".", "..") or normal.startswith("../"):
            raise ValueError(f"write_tree: {name!r} is not a path inside the tree")
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    for name, text in files.items():
        path = root / name
        for parent in reversed(path.relative_to(root).parents[:-1]):
            (root / parent).mkdir(mode=0o755, exist_ok=True)
            (root / parent).chmod(0o755)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
    return root


def place_tree(directory: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` as :func:`write_tree` does, beside ``directory``, and rename the
    whole into place: a reader sees all of it or nothing.

    Raises OSError when it cannot, and when ``directory`` already exists
    (another process renamed its own in first). What a killed process left is
    a ``WRITING_PREFIX`` directory beside it, for the caller's clean-up.
    """
    import shutil
    import tempfile

    writing = Path(tempfile.mkdtemp(prefix=WRITING_PREFIX, dir=directory.parent))
    try:
        write_tree(writing / "tree", files).rename(directory)
    finally:
        shutil.rmtree(writing, ignore_errors=True)


class Batch:
    """Files written and flushed on threads as they are added, renamed by ``commit``.

    Use it as a context manager: on an error or interrupt, the files not yet
    renamed are removed once the threads are done. The temporary files are
    made in ``directory``, which must be on the same file system as every
    path (the mirror's root, for its pages). The writing overlaps whatever
    the caller does meanwhile, such as reading the next distribution.
    """

    def __init__(self, directory: Path) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._directory = directory
        self._pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="dockerpypi-write")
        self._jobs: list[tuple[Path, Future[Path]]] = []
        self._made: list[Path] = []  # appended on the threads, as each is created

    def add(self, path: Path, data: bytes) -> None:
        """Write ``data`` for ``path`` (mode 0644, flushed); renamed by :meth:`commit`."""
        self._jobs.append((path, self._pool.submit(self._make, path, data)))

    def _make(self, path: Path, data: bytes) -> Path:
        # Made on the threads too: creating a file waits for the journal as well.
        fd, temporary = _temporary(path, self._directory)
        self._made.append(temporary)
        _fill(fd, data, 0o644, True)
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


@contextmanager
def private_files(contents: Mapping[str, str], *,
                  tree: Mapping[str, str] | None = None) -> Iterator[dict[str, Path]]:
    """Write each ``name: text`` to a file only its owner can read; yield ``name: path``.

    ``tree`` (relative path: text) is written as a directory any user can
    read (0755, files 0644), yielded as ``TREE``: a build context whose files
    a non-root build step reads. It sits inside the private directory, so on
    this machine only its owner reaches it.

    The directory (0700) and files (0600) are removed when the block ends,
    however it ends: SIGINT or SIGTERM unwind through the clean-up
    (:func:`.process.signals_unwind`), and one during the clean-up waits
    until it is done (:func:`.process.signals_held`).
    """
    import shutil
    import tempfile

    from .process import LOGGER, signals_held, signals_unwind

    with signals_unwind():
        directory: Path | None = None
        try:
            directory = Path(tempfile.mkdtemp(prefix="dockerpypi-"))  # mode 0700
            paths = {}
            for name, text in contents.items():
                paths[name] = directory / name
                write_private(paths[name], text.encode(), sync=False)
            if tree is not None:
                paths[TREE] = write_tree(directory / TREE, tree)
            yield paths
        finally:
            with signals_held():
                if directory is not None:
                    shutil.rmtree(directory, ignore_errors=True)
                    if directory.exists():
                        import logging  # unset, Python's last resort prints it to stderr

                        logging.getLogger(LOGGER).warning(
                            "could not remove %s: delete it by hand", directory)
