"""Reading the distributions an index run has not seen (hash, core metadata,
Requires-Python), and hashing the files ``mirror check`` compares.

A few files are read in this process. Many (a first index of a large mirror)
are read on a pool of processes, one per core, in batches whose results come
back in order, a few batches ahead at most, so that memory stays bounded: on
two cores a first index of 100,000 small wheels takes about half as long.
The pool's processes only read; every write stays with the caller, in order.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .distfile import (
    ARCHIVE_ERRORS,
    Unreadable,
    parse_distribution,
    read_distribution,
    requires_python,
    sha256_of,
)
from .state import IndexedFile

if TYPE_CHECKING:
    from concurrent.futures import Future

# (file name, size, mtime_ns): a file to read, with what its stat said.
Item = tuple[str, int, int]
# The entry and its sidecar (None for an sdist), or the warning that skips the file.
Result = tuple[IndexedFile, bytes | None] | str

T = TypeVar("T")
R = TypeVar("R")

POOL_FROM = 2000  # files to read before a pool pays for its start
_BATCH = 256  # files per job
_AHEAD = 4  # jobs per process in flight


def read_file(root: Path, name: str, size: int, mtime_ns: int) -> Result:
    """The entry of one file and its sidecar, or the warning that says why it is skipped."""
    try:
        dist = parse_distribution(name)
    except ValueError as exc:
        return f"skipped {name}: {exc}"
    try:
        try:
            digest, metadata = read_distribution(root / name, dist.is_wheel, dist.project)
        except ARCHIVE_ERRORS as exc:
            raise Unreadable(f"{type(exc).__name__}: {exc}") from None
    except Unreadable as exc:
        return f"skipped {name}: cannot read it ({exc}); delete it or download it again"
    sidecar = metadata if dist.is_wheel else None
    indexed = IndexedFile(
        filename=name,
        project=dist.project,
        version=dist.version,
        size=size,
        mtime_ns=mtime_ns,
        sha256=digest,
        requires_python=requires_python(metadata),
        metadata_sha256=hashlib.sha256(sidecar).hexdigest() if sidecar is not None else None,
    )
    return indexed, sidecar


def _read_batch(root: Path, items: Sequence[Item]) -> list[Result]:
    return [read_file(root, *item) for item in items]


def _hash_batch(root: Path, names: Sequence[str]) -> list[str]:
    return [sha256_of(root / name) for name in names]


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def read_files(root: Path, items: Sequence[Item]) -> Iterator[Result]:
    """The result of each of ``items``, in their order."""
    return _in_order(_read_batch, root, items)


def sha256_files(root: Path, names: Sequence[str]) -> Iterator[str]:
    """The sha256 of each of the files ``names`` (in ``root``), in their order."""
    return _in_order(_hash_batch, root, names)


def _in_order(job: Callable[[Path, Sequence[T]], list[R]], root: Path,
              items: Sequence[T]) -> Iterator[R]:
    workers = _workers()
    if len(items) < POOL_FROM or workers < 2:
        yield from job(root, items)
        return
    from concurrent.futures import ProcessPoolExecutor

    batches = (items[start:start + _BATCH] for start in range(0, len(items), _BATCH))
    with ProcessPoolExecutor(workers) as pool:
        running: deque[Future[list[R]]] = deque()
        for batch in batches:
            running.append(pool.submit(job, root, batch))
            if len(running) >= workers * _AHEAD:
                yield from running.popleft().result()
        while running:
            yield from running.popleft().result()
