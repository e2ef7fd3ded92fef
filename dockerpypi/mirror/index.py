"""A PEP 503 simple index over the mirror directory, updated incrementally.

Only new or changed files are read: the state file (:mod:`.state`) remembers,
per file name, the size and mtime it had when it was hashed, and only the
pages of projects whose files changed are written again (the root page only
when the set of projects changed). Every write is a temporary file renamed
into place once flushed, a chunk at a time (:mod:`.writes`; a new wheel's
sidecar, which no page links yet, is written in place), in an order that
never lets a page link something that is not there yet, and the whole update
runs under a lock file. New files are read by :mod:`.reading`, on a process
per core when there are many.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from packaging.utils import NormalizedName, canonicalize_name

from ..errors import UserMessageError
from ..files import TEMP_SUFFIX
from .distfile import (
    ARCHIVE_ERRORS,
    METADATA_SUFFIX,
    PAGE,
    Distribution,
    Unreadable,
    is_index_file,
    parse_distribution,
    sha256_of,
    wheel_metadata,
)
from .filenames import SDIST_SUFFIXES
from .listing import Project, list_projects
from .pages import PAGE_FORMAT, project_page, root_page
from .reading import Item, read_file, read_files
from .state import (
    STATE_FILE,
    IndexedFile,
    Projects,
    State,
    entry_key,
    entry_line,
    key_filename,
    line_has_sidecar,
    line_project,
    load_state,
    pages_outdated,
    parse_line,
    read_lines,
    read_projects,
    save_lines,
)
from .writes import ChunkWriter

# What the rest of dockerpypi imports from here; the modules above hold each part.
__all__ = [
    "ARCHIVE_ERRORS", "DEFAULT_LOCK_TIMEOUT", "LOCK_FILE", "METADATA_SUFFIX", "PAGE",
    "PAGE_FORMAT", "SDIST_SUFFIXES", "STATE_FILE", "TEMP_SUFFIX", "Distribution", "IndexResult",
    "IndexedFile", "Project", "Projects", "State", "Unreadable", "is_index_file", "key_filename",
    "line_project", "list_projects", "load_state", "mirror_lock", "pages_outdated",
    "parse_distribution", "parse_line", "project_page", "read_lines", "read_projects",
    "root_page",
    "sha256_of", "update_index", "wheel_metadata",
]

LOCK_FILE = ".dockerpypi.lock"
DEFAULT_LOCK_TIMEOUT = 600.0  # long enough to wait out a `mirror add` that is indexing


@dataclass(frozen=True)
class IndexResult:
    mirror_dir: Path
    projects: int
    files: int
    files_read: int
    files_reused: int
    pages_written: int
    pages_removed: int
    warnings: tuple[str, ...]
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {
            "mirror_dir": str(self.mirror_dir),
            "projects": self.projects,
            "files": self.files,
            "files_read": self.files_read,
            "files_reused": self.files_reused,
            "pages_written": self.pages_written,
            "pages_removed": self.pages_removed,
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }


# --- the lock --------------------------------------------------------------------------

@contextlib.contextmanager
def mirror_lock(root: Path, timeout: float = DEFAULT_LOCK_TIMEOUT,
                on_wait: Callable[[], None] | None = None, *,
                reading: bool = False) -> Iterator[None]:
    """Hold the mirror's lock file, or fail with what to do after ``timeout`` seconds.

    ``on_wait`` is called once if the lock is busy, so a person knows why nothing
    moves. A ``reading`` caller goes on without the lock where it cannot create
    the lock file (a mirror it may read, not write): every file is replaced
    whole, so at worst it sees an update half done.
    """
    lock = FileLock(root / LOCK_FILE, timeout=timeout)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait()
            lock.acquire()
    except Timeout:
        raise UserMessageError(
            f"another dockerpypi is updating {root} (it holds {root / LOCK_FILE} for more than "
            f"{timeout:g}s): wait for it to finish, then run again") from None
    except OSError as exc:
        if not reading:
            raise UserMessageError(
                f"cannot write {root / LOCK_FILE} ({exc.strerror or exc}): make {root} "
                "writable, or choose another --mirror-dir") from None
    try:
        yield
    finally:
        if lock.is_locked:
            lock.release()


# --- reading the directory -------------------------------------------------------------

@dataclass(frozen=True)
class _Listing:
    """The mirror's top level, from one pass of os.scandir."""

    files: list[tuple[str, int, int]]  # what may be distributions: name, size, mtime_ns
    sidecars: set[str]
    directories: list[os.DirEntry[str]]


def _list(root: Path) -> _Listing:
    # One pass, the files stat-ed as they come and kept as plain tuples: a mirror of
    # 100,000 files would hold 100,000 DirEntry objects (and their paths) otherwise.
    files: list[tuple[str, int, int]] = []
    directories: list[os.DirEntry[str]] = []
    sidecars: set[str] = set()
    sidecar_suffix = ".whl" + METADATA_SUFFIX
    with os.scandir(root) as entries:
        for entry in entries:  # (the commonest kinds first: sidecars, then wheels)
            name = entry.name
            if name.endswith(sidecar_suffix):
                sidecars.add(name)
            elif name.startswith("."):  # dockerpypi's own (a build's subset, the state)
                if name.endswith(TEMP_SUFFIX):
                    # Of a run that was killed (never of a live one: we hold the lock).
                    with contextlib.suppress(OSError):
                        Path(entry.path).unlink()
            elif entry.is_dir(follow_symlinks=False):
                directories.append(entry)
            elif name != PAGE and entry.is_file():
                with contextlib.suppress(FileNotFoundError):  # gone since: not listed
                    stat = entry.stat()
                    files.append((name, stat.st_size, stat.st_mtime_ns))
    # In no order: each project's files are sorted where the order shows (the pages,
    # the state file).
    return _Listing(files, sidecars, directories)


def _differs(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() != data
    except OSError:
        return True


@dataclass
class _Scan:
    """The mirror's files as the state will list them: each a line of the state file
    (:mod:`.state`), by file name; the projects of those read in this run."""

    lines: dict[str, tuple[str, str]]  # file name: (key, line)
    read: dict[str, NormalizedName]  # the files read in this run (new or changed): project
    kept: set[str]  # the keys of the previous state's lines still true
    size: int = 0  # bytes, of the files in ``lines``
    sidecars: int = 0  # of the listed sidecars, those of a file in ``lines`` that has one

    def project(self, name: str) -> NormalizedName:
        project = self.read.get(name)
        return project if project is not None else line_project(self.lines[name][1])


def _scan(root: Path, listing: _Listing, previous: State,
          warnings: list[str], writer: ChunkWriter,
          on_progress: Callable[[int, int], None] | None = None) -> _Scan:
    """Every distribution, read when new or changed; their sidecars go to ``writer``."""
    scan = _Scan({}, {}, set())
    total = len(listing.files)
    unread: list[Item] = []
    known, lines, kept, sidecars = previous.lines, scan.lines, scan.kept, listing.sidecars
    for item in listing.files:  # (the loop of every run over every file: kept lean)
        name, size, mtime_ns = item
        key = entry_key(name)
        line = known.get(key)
        if line is not None and not line.startswith(f"{size}\t{mtime_ns}\t"):
            line = None  # changed since
        if line is not None:
            promised = line_has_sidecar(line)
            if name + METADATA_SUFFIX in sidecars:
                scan.sidecars += promised  # (one not promised is removed later)
            elif promised:
                line = None  # its sidecar is gone: read it again
        if line is not None:
            lines[name] = (key, line)  # unchanged: its name is not even parsed again
            kept.add(key)
            scan.size += size
            continue
        lines[name] = (key, "")  # filled below
        unread.append(item)
    for done, ((name, _, _), result) in enumerate(zip(unread, read_files(root, unread),
                                                      strict=True)):
        if on_progress is not None and done % 256 == 0:
            on_progress(total - len(unread) + done, total)
        if isinstance(result, str):
            warnings.append(result)
            del scan.lines[name]
            continue
        indexed, sidecar = result
        sidecar_path = root / (name + METADATA_SUFFIX)
        if sidecar is not None and sidecar_path.name not in listing.sidecars:
            # No page links it before the writer's next flush, unless the wheel was
            # indexed before (its sidecar deleted since): a reader may ask for it then.
            writer.add(sidecar_path, sidecar, fresh=scan.lines[name][0] not in previous.lines)
        elif sidecar is not None:
            scan.sidecars += 1
            if _differs(sidecar_path, sidecar):
                writer.add(sidecar_path, sidecar)
        scan.lines[name] = (scan.lines[name][0], entry_line(indexed))
        scan.read[name] = indexed.project  # held as its line alone (100,000 entries)
        scan.size += indexed.size
    if on_progress is not None:
        on_progress(total, total)
    return scan


# --- the update ------------------------------------------------------------------------

def _remove_old_temporaries(directory: Path) -> None:
    """Temporaries of a killed run of a version that made them next to the page."""
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(OSError):
                    Path(entry.path).unlink()


def _entries(root: Path, scan: _Scan, names: list[str], warnings: list[str]) -> list[IndexedFile]:
    """The entries of ``names`` (one project's files), parsed from their lines; a file
    whose line is damaged is read again."""
    found = []
    for name in names:
        indexed = parse_line(name, scan.lines[name][1])
        if indexed is None:  # a damaged line
            stat = (root / name).stat()
            result = read_file(root, name, stat.st_size, stat.st_mtime_ns)
            if isinstance(result, str):
                warnings.append(result)
                del scan.lines[name]
                scan.size -= stat.st_size
                continue
            indexed = result[0]
            scan.read[name] = indexed.project
            scan.lines[name] = (scan.lines[name][0], entry_line(indexed))
        found.append(indexed)
    return found


def _write_pages(root: Path, listing: _Listing, previous: State, scan: _Scan,
                 by_project: dict[NormalizedName, list[str]],
                 kept_projects: set[NormalizedName], writer: ChunkWriter,
                 warnings: list[str], *, every_page: bool) -> None:
    """The pages whose content changes: of the projects that gained, lost or changed a
    file, or whose page is missing; and the root page if the set of projects changed.
    ``every_page`` compares them all (the pages were written in an older shape). Each
    page is in place before the root page that links it."""
    changed = set(by_project) if every_page else set(scan.read.values())
    gone = {line_project(line) for key, line in previous.lines.items()
            if key not in scan.kept and line.count("\t") >= 3
            } if len(scan.kept) < len(previous.lines) else set()
    changed.update(gone)
    directories = {entry.name for entry in listing.directories}
    top = str(root)  # (a string path: 10,000 Path objects cost more than the stats)
    changed.update(p for p in by_project
                   if p not in directories or not os.path.isfile(f"{top}/{p}/{PAGE}"))  # noqa: PTH113
    for project in sorted(changed):
        names = by_project.get(project)
        if names is None:
            continue  # gone: its page is removed later
        directory = root / project
        directory.mkdir(exist_ok=True)
        _remove_old_temporaries(directory)
        files = _entries(root, scan, names, warnings)
        if not files:
            continue
        page = project_page(project, files)
        if _differs(directory / PAGE, page):
            writer.add(directory / PAGE, page)
    writer.flush()  # the project pages before the root page that links them
    # The projects the previous state knew: those of its lines still true (all still
    # here) and of the lines gone.
    known = kept_projects | gone
    if every_page or by_project.keys() != known or not (root / PAGE).is_file():
        page = root_page(by_project)
        if _differs(root / PAGE, page):
            writer.add(root / PAGE, page)
    writer.flush()


def _remove_stale(root: Path, listing: _Listing, projects: set[NormalizedName],
                  scan: _Scan) -> int:
    """Drop pages of projects with no files left, and sidecars of gone wheels."""
    removed = 0
    for entry in listing.directories:
        name = entry.name
        if name not in projects and name == canonicalize_name(name):
            page = Path(entry.path) / PAGE
            if page.is_file():
                page.unlink()
                removed += 1
                with contextlib.suppress(OSError):  # it may hold other things: keep them
                    Path(entry.path).rmdir()
    lines = scan.lines
    if scan.sidecars == len(listing.sidecars):
        return removed  # each belongs to a file that has one
    for name in listing.sidecars:
        found = lines.get(name[:-len(METADATA_SUFFIX)])
        if found is None or not line_has_sidecar(found[1]):
            (root / name).unlink(missing_ok=True)
    return removed


def update_index(mirror_dir: Path, *, full: bool = False,
                 lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 on_wait: Callable[[], None] | None = None,
                 on_progress: Callable[[int, int], None] | None = None) -> IndexResult:
    """Bring the index pages of ``mirror_dir`` up to date with its files.

    ``full`` ignores the state file and reads every file again (and compares
    every page); ``on_wait`` is called if another run holds the lock;
    ``on_progress(done, total)`` as the files are gone through.
    """
    started = time.monotonic()
    root = Path(mirror_dir)
    if not root.is_dir():
        raise UserMessageError(f"mirror directory {root} does not exist: create it, or fill it "
                               "with `dockerpypi mirror add PACKAGE`")
    warnings: list[str] = []
    with mirror_lock(root, lock_timeout, on_wait), ChunkWriter(root) as writer:
        listing = _list(root)
        previous = State({}, False) if full else read_lines(root, warnings)
        # Order matters for readers: sidecars (written while scanning), then project
        # pages, then the root page that links them, and only then removals and the state.
        scan = _scan(root, listing, previous, warnings, writer, on_progress)
        writer.flush()
        sidecars = writer.written
        by_project: dict[NormalizedName, list[str]] = defaultdict(list)
        for name in scan.lines:
            by_project[scan.project(name)].append(name)
        # The projects with a file the previous state listed as it is (of those read
        # in this run, the ones with no other file are new).
        kept_projects = set(by_project).difference(
            project for project in set(scan.read.values())
            if all(name in scan.read for name in by_project[project]))
        _write_pages(root, listing, previous, scan, by_project, kept_projects, writer, warnings,
                     every_page=not previous.current)
        removed = _remove_stale(root, listing, set(by_project), scan)
        # Unchanged, the same bytes: not written again.
        if scan.read or len(scan.kept) != len(previous.lines) or not previous.current:
            save_lines(root, ((project, (scan.lines[name] for name in sorted(names)
                                         if name in scan.lines))
                              for project, names in sorted(by_project.items())),
                       len(scan.lines), scan.size)
    files = len(scan.lines)
    return IndexResult(root, len(by_project), files, len(scan.read), files - len(scan.read),
                       writer.written - sidecars, removed, tuple(warnings),
                       time.monotonic() - started)
