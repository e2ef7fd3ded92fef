"""The subset directories in the mirror: written once, found by name, pruned when unused.

A subset is a dot-directory of the mirror (the index and the server ignore
it) of hard links to the selected files and their PEP 658 sidecars, with
PEP 503 pages for just those files. Its name is taken from what it holds
(:func:`subset_name`), so the next build that needs the same files finds it
again; :data:`dockerpypi.caches.MIRROR_SUBSETS` names the prefix and says
when an unused one goes (:func:`remove_stale`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from ...caches import (
    MIRROR_SUBSETS,
    SUBSET_IN_USE_SECONDS,
    SUBSET_KEEP_LIMIT,
    SUBSET_KEEP_SECONDS,
    SUBSET_STALE_SECONDS,
)
from ...mirror import index
from .closure import Selection

# A subset being written (renamed to its final name when whole).
_WRITING_PREFIX = f"{MIRROR_SUBSETS.name}writing-"


def subset_name(selection: Selection) -> str:
    """The directory name of a subset: what it holds, so an equal choice finds it again."""
    # The pages' shape is part of it: a subset written in an older one is not taken.
    listed = [f"pages {index.PAGE_FORMAT}", *map(repr, selection.files)]
    digest = hashlib.sha256("\n".join(listed).encode()).hexdigest()
    return f"{MIRROR_SUBSETS.name}{digest[:32]}"


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, target)


def write_subset(root: Path, selection: Selection) -> tuple[Path, bool]:
    """The directory of hard links to the selected files, with their PEP 503 pages.

    It is made inside the mirror, as a dot-directory the index and the server
    ignore, so that links work, and kept there for the next build that needs
    the same files (returned at once when it exists; ``remove_stale`` prunes
    those unused). It is written under a temporary name and renamed when
    whole, so a directory with the final name is always complete. Where the
    mirror is read-only it goes to the temporary directory instead (links, or
    copies across file systems), and the second value, True, says it is the
    caller's to remove.

    (Not :func:`dockerpypi.files.place_tree`, which writes texts: this one
    links files, falls back to a directory outside a read-only mirror, and
    names its half-written directories for :func:`remove_stale`.)
    """
    final = root / subset_name(selection)
    if final.is_dir():
        with contextlib.suppress(OSError):
            os.utime(final)  # in use: the pruning goes by this time
        return final, False
    temporary = True
    try:
        directory = Path(tempfile.mkdtemp(prefix=_WRITING_PREFIX, dir=root))
        temporary = False
    except OSError:
        directory = Path(tempfile.mkdtemp(prefix=MIRROR_SUBSETS.name.lstrip(".")))
    try:
        directory.chmod(0o755)  # mkdtemp's 0700 would hide it from a non-root USER
        by_project: dict[str, list[index.IndexedFile]] = defaultdict(list)
        for indexed in selection.files:
            _link(root / indexed.filename, directory / indexed.filename)
            if indexed.metadata_sha256:
                sidecar = indexed.filename + index.METADATA_SUFFIX
                _link(root / sidecar, directory / sidecar)
            by_project[indexed.project].append(indexed)
        for project, files in by_project.items():
            (directory / project).mkdir(mode=0o755)
            page = directory / project / index.PAGE
            page.write_bytes(index.project_page(project, files))
            page.chmod(0o644)
        (directory / index.PAGE).write_bytes(index.root_page(by_project))
        (directory / index.PAGE).chmod(0o644)
        if temporary:
            return directory, True
        try:
            directory.rename(final)
        except OSError:  # another build wrote it meanwhile: theirs is as good
            shutil.rmtree(directory, ignore_errors=True)
            if not final.is_dir():
                raise
        return final, False
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def remove_stale(root: Path, *, now: float | None = None) -> None:
    """Prune the subsets in ``root``: unused for a week, or not among the most recent.

    A subset in use was touched when its build began, so it is never pruned
    while the build runs (``SUBSET_KEEP_LIMIT`` recent ones stay, and none
    younger than an hour goes). Half-written ones of a process killed outright
    go after a day. The numbers are :mod:`dockerpypi.caches`'.
    """
    now = time.time() if now is None else now
    kept: list[tuple[float, str]] = []
    with contextlib.suppress(OSError), os.scandir(root) as entries:
        for entry in entries:
            if not entry.name.startswith(MIRROR_SUBSETS.name):
                continue
            with contextlib.suppress(OSError):
                if not entry.is_dir(follow_symlinks=False):
                    continue
                age = now - entry.stat(follow_symlinks=False).st_mtime
                if entry.name.startswith(_WRITING_PREFIX):
                    if age > SUBSET_STALE_SECONDS:
                        shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    kept.append((age, entry.path))
    kept.sort()
    for rank, (age, path) in enumerate(kept):
        if age > SUBSET_KEEP_SECONDS or (rank >= SUBSET_KEEP_LIMIT and age > SUBSET_IN_USE_SECONDS):
            shutil.rmtree(path, ignore_errors=True)
