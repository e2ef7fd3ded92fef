"""Replace files whole: readers see the old file or the new one, never part of one.

Each file is written to a temporary name, flushed to disk and renamed into
place. The flush (fsync) is what makes the rename safe across a power cut, and
one at a time it is also slow: a first index of 10,000 wheels writes 10,000
metadata files, and each fsync waits for its own journal commit. ``write_all``
therefore writes and flushes the files on a few threads, whose fsyncs the file
system commits together, and only then renames the files, in the given order.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def write_all(writes: Sequence[tuple[Path, bytes]], directory: Path) -> None:
    """Replace each path by its data, renaming in the order given.

    The temporary files are made in ``directory``, which must be on the same
    file system as every path (the mirror's root, for its pages). On any
    error or interrupt, the files not yet renamed are removed.
    """
    # Made on the threads too: creating a file waits for the journal as well.
    made: list[Path | None] = [None] * len(writes)

    def make(number: int) -> None:
        path, data = writes[number]
        fd, made[number] = _temporary(path, directory)
        _fill(fd, data)

    renamed = 0
    try:
        with ThreadPoolExecutor(min(_THREADS, len(writes) or 1)) as pool:
            for _ in pool.map(make, range(len(writes))):
                pass  # re-raises the first failure
        for temporary, (path, _) in zip(made, writes, strict=True):
            assert temporary is not None  # every job ran
            temporary.replace(path)
            renamed += 1
    except BaseException:
        # After an interrupt the pool has still run every job it had queued.
        for temporary in made[renamed:]:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
        raise
