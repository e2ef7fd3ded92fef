"""A PEP 503 simple index over the mirror directory, updated incrementally.

Every page links its files relatively (``../<file>#sha256=...``) so the same
tree works as ``--index-url file://<dir>`` and served over HTTP at any path.
Only new or changed files are read: a state file remembers, per file name,
the size and mtime it had when it was hashed. Every write is a temporary file
renamed into place, in an order that never lets a page link something that is
not there yet, and the whole update runs under a lock file.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from filelock import FileLock, Timeout
from packaging.metadata import parse_email
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ..errors import UserMessageError

STATE_FILE = ".dockerpypi-index.json"
LOCK_FILE = ".dockerpypi.lock"
PAGE = "index.html"
METADATA_SUFFIX = ".metadata"  # PEP 658: "<file>.metadata" next to the file
TEMP_SUFFIX = ".dockerpypi-tmp"
DEFAULT_LOCK_TIMEOUT = 600.0  # long enough to wait out a `mirror add` that is indexing
SDIST_SUFFIXES = (".tar.gz", ".zip")
_STATE_VERSION = 1  # bump when pages change shape, so every mirror is reindexed once
_CHUNK = 1 << 20
# What a damaged or foreign archive can raise while its metadata is read.
_ARCHIVE_ERRORS = (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, zlib.error,
                   KeyError, ValueError)

_HTML = ('<!DOCTYPE html>\n<html>\n<head>\n'
         '<meta name="pypi:repository-version" content="1.0">\n'
         '<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{links}</body>\n</html>\n')


@dataclass(frozen=True)
class Distribution:
    """What a distribution's file name says."""

    filename: str
    project: NormalizedName
    version: str
    is_wheel: bool


@dataclass(frozen=True)
class IndexedFile:
    """One distribution as the index links it."""

    filename: str
    project: NormalizedName
    version: str
    size: int
    mtime_ns: int
    sha256: str
    requires_python: str | None
    metadata_sha256: str | None  # of the PEP 658 sidecar; wheels only


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


class _Unreadable(Exception):
    """A distribution whose contents cannot be read; it stays out of the index."""


# --- file names ------------------------------------------------------------------

def parse_distribution(filename: str) -> Distribution:
    """Project and version from a wheel or sdist name; ValueError says why not."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return Distribution(filename, name, str(version), True)
        if filename.endswith(SDIST_SUFFIXES):
            name, sdist_version = parse_sdist_filename(filename)
            return Distribution(filename, name, str(sdist_version), False)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise ValueError(f"not a valid distribution file name ({exc})") from None
    raise ValueError("not a wheel or sdist (.whl, .tar.gz, .zip)")


def is_index_file(filename: str) -> bool:
    """Files the index itself writes (or pip leaves hidden): never distributions."""
    return (filename.startswith(".") or filename == PAGE
            or filename.endswith(".whl" + METADATA_SUFFIX))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- reading a distribution's metadata ---------------------------------------

def _wheel_metadata(path: Path, project: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        found = [n for n in archive.namelist()
                 if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(found) > 1:  # a wheel that vendors another's dist-info: take its own
            found = [n for n in found
                     if canonicalize_name(n.split("/")[0][:-10].rpartition("-")[0]) == project]
        if len(found) != 1:
            raise _Unreadable("its .dist-info/METADATA is missing or ambiguous")
        return archive.read(found[0])


def _sdist_metadata(path: Path) -> bytes | None:
    def is_pkg_info(name: str) -> bool:
        name = name.removeprefix("./")
        return name.count("/") == 1 and name.endswith("/PKG-INFO")

    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if is_pkg_info(n)]
            return archive.read(names[0]) if names else None
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:  # streams: PKG-INFO is usually near the start
            if member.isfile() and is_pkg_info(member.name):
                handle = tar.extractfile(member)
                return handle.read() if handle is not None else None
    return None  # very old sdists have none; they are indexed without Requires-Python


def _requires_python(metadata: bytes | None) -> str | None:
    if metadata is None:
        return None
    raw, _ = parse_email(metadata)
    value = raw.get("requires_python")
    return (value.strip() or None) if isinstance(value, str) else None


def _read(root: Path, dist: Distribution, stat: os.stat_result) -> tuple[IndexedFile, bytes | None]:
    path = root / dist.filename
    try:
        digest = sha256_of(path)
        if dist.is_wheel:
            metadata: bytes | None = _wheel_metadata(path, dist.project)
        else:
            metadata = _sdist_metadata(path)
    except _ARCHIVE_ERRORS as exc:
        raise _Unreadable(f"{type(exc).__name__}: {exc}") from None
    sidecar = metadata if dist.is_wheel else None
    indexed = IndexedFile(
        filename=dist.filename,
        project=dist.project,
        version=dist.version,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        sha256=digest,
        requires_python=_requires_python(metadata),
        metadata_sha256=hashlib.sha256(sidecar).hexdigest() if sidecar is not None else None,
    )
    return indexed, sidecar


# --- writing -------------------------------------------------------------------------

def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that readers see the old or the new file, whole."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                     suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not land before the data
        # mkstemp makes 0600; a build step running as a non-root USER must read pages.
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_if_changed(path: Path, data: bytes) -> int:
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return 0
    write_atomic(path, data)
    return 1


def _page(title: str, links: Iterable[str]) -> bytes:
    escaped = html.escape(title)
    return _HTML.format(title=escaped, links="".join(links)).encode("utf-8")


def _anchor(attrs: list[tuple[str, str]], text: str) -> str:
    # Attribute values are escaped: "<4,>=3.8" must not end the tag (PEP 503).
    rendered = " ".join(f'{key}="{html.escape(value)}"' for key, value in attrs)
    return f"<a {rendered}>{html.escape(text)}</a><br>\n"


def _file_link(indexed: IndexedFile) -> str:
    attrs = [("href", f"../{quote(indexed.filename)}#sha256={indexed.sha256}")]
    if indexed.requires_python:
        attrs.append(("data-requires-python", indexed.requires_python))
    if indexed.metadata_sha256:
        # PEP 714 renamed the attribute; older pip reads only the first name.
        value = f"sha256={indexed.metadata_sha256}"
        attrs += [("data-dist-info-metadata", value), ("data-core-metadata", value)]
    return _anchor(attrs, indexed.filename)


def project_page(project: str, files: Iterable[IndexedFile]) -> bytes:
    ordered = sorted(files, key=lambda f: f.filename)
    return _page(f"Links for {project}", (_file_link(f) for f in ordered))


def root_page(projects: Iterable[str]) -> bytes:
    return _page("Simple index", (_anchor([("href", f"{quote(p)}/")], p) for p in sorted(projects)))


# --- state ---------------------------------------------------------------------------

def _load_state(root: Path, warnings: list[str]) -> dict[str, IndexedFile]:
    try:
        data = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        warnings.append(f"{STATE_FILE} is unreadable ({exc}); every file was read again")
        return {}
    if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
        return {}  # another format: read everything once
    files: dict[str, IndexedFile] = {}
    for name, raw in dict(data.get("files") or {}).items():
        try:
            dist = parse_distribution(name)
            files[name] = IndexedFile(name, dist.project, dist.version, int(raw["size"]),
                                      int(raw["mtime_ns"]), str(raw["sha256"]),
                                      raw.get("requires_python"), raw.get("metadata_sha256"))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a damaged entry: that file is simply read again
    return files


def _save_state(root: Path, files: dict[str, IndexedFile]) -> None:
    entries = {name: {"size": f.size, "mtime_ns": f.mtime_ns, "sha256": f.sha256,
                      "requires_python": f.requires_python, "metadata_sha256": f.metadata_sha256}
               for name, f in sorted(files.items())}
    data = {"version": _STATE_VERSION, "files": entries}
    write_atomic(root / STATE_FILE, json.dumps(data, indent=1).encode("utf-8"))


# --- the update ----------------------------------------------------------------------

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


def _scan(root: Path, previous: dict[str, IndexedFile],
          warnings: list[str]) -> tuple[dict[str, IndexedFile], int]:
    files: dict[str, IndexedFile] = {}
    read = 0
    with os.scandir(root) as entries:
        found = sorted((e for e in entries if not is_index_file(e.name)), key=lambda e: e.name)
    for entry in found:
        if not entry.is_file():
            continue
        try:
            dist = parse_distribution(entry.name)
        except ValueError as exc:
            warnings.append(f"skipped {entry.name}: {exc}")
            continue
        stat = entry.stat()
        known = previous.get(entry.name)
        if (known is not None and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
                and (known.metadata_sha256 is None
                     or (root / (entry.name + METADATA_SUFFIX)).is_file())):
            files[entry.name] = known
            continue
        try:
            indexed, sidecar = _read(root, dist, stat)
        except _Unreadable as exc:
            warnings.append(f"skipped {entry.name}: cannot read it ({exc}); "
                            "delete it or download it again")
            continue
        if sidecar is not None:  # before any page links it
            _write_if_changed(root / (entry.name + METADATA_SUFFIX), sidecar)
        files[entry.name] = indexed
        read += 1
    return files, read


def _remove_stale(root: Path, projects: set[str], files: dict[str, IndexedFile]) -> int:
    """Drop pages of projects with no files left, and sidecars of gone wheels."""
    removed = 0
    with os.scandir(root) as entries:
        found = list(entries)
    for entry in found:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            page = Path(entry.path) / PAGE
            if (name not in projects and name == canonicalize_name(name)
                    and page.is_file()):
                page.unlink()
                removed += 1
                with contextlib.suppress(OSError):  # it may hold other things: keep them
                    Path(entry.path).rmdir()
        elif name.endswith(".whl" + METADATA_SUFFIX):
            wheel = files.get(name.removesuffix(METADATA_SUFFIX))
            if wheel is None or wheel.metadata_sha256 is None:
                Path(entry.path).unlink()
    return removed


def _remove_temporaries(root: Path) -> None:
    """Temporary files of a run that was killed (never of a live one: we hold the lock)."""
    for pattern in (f".*{TEMP_SUFFIX}", f"*/.*{TEMP_SUFFIX}"):
        for path in root.glob(pattern):
            with contextlib.suppress(OSError):
                path.unlink()


def update_index(mirror_dir: Path, *, full: bool = False,
                 lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 on_wait: Callable[[], None] | None = None) -> IndexResult:
    """Bring the index pages of ``mirror_dir`` up to date with its files.

    ``full`` ignores the state file and reads every file again; ``on_wait`` is
    called if another run holds the lock.
    """
    started = time.monotonic()
    root = Path(mirror_dir)
    if not root.is_dir():
        raise UserMessageError(f"mirror directory {root} does not exist: create it, or fill it "
                               "with `dockerpypi mirror add PACKAGE`")
    warnings: list[str] = []
    with mirror_lock(root, lock_timeout, on_wait):
        _remove_temporaries(root)
        previous = {} if full else _load_state(root, warnings)
        files, read = _scan(root, previous, warnings)
        by_project: dict[str, list[IndexedFile]] = defaultdict(list)
        for indexed in files.values():
            by_project[indexed.project].append(indexed)
        written = 0
        # Order matters for readers: sidecars (above), then project pages, then
        # the root page that links them, and only then removals and the state.
        for project, project_files in sorted(by_project.items()):
            (root / project).mkdir(exist_ok=True)
            written += _write_if_changed(root / project / PAGE,
                                         project_page(project, project_files))
        written += _write_if_changed(root / PAGE, root_page(by_project))
        removed = _remove_stale(root, set(by_project), files)
        _save_state(root, files)
    return IndexResult(root, len(by_project), len(files), read, len(files) - read, written,
                       removed, tuple(warnings), time.monotonic() - started)


# --- listing -------------------------------------------------------------------------

@dataclass(frozen=True)
class Project:
    name: NormalizedName
    versions: tuple[str, ...]
    files: tuple[str, ...]


def list_projects(mirror_dir: Path) -> tuple[Project, ...]:
    """The projects whose distributions lie in ``mirror_dir``, from the file names alone."""
    root = Path(mirror_dir)
    if not root.is_dir():
        raise UserMessageError(f"mirror directory {root} does not exist: fill it with "
                               "`dockerpypi mirror add PACKAGE`")
    grouped: dict[NormalizedName, list[Distribution]] = defaultdict(list)
    for path in root.iterdir():
        if is_index_file(path.name) or not path.is_file():
            continue
        with contextlib.suppress(ValueError):
            dist = parse_distribution(path.name)
            grouped[dist.project].append(dist)
    return tuple(
        Project(name,
                tuple(sorted({d.version for d in dists}, key=Version)),
                tuple(sorted(d.filename for d in dists)))
        for name, dists in sorted(grouped.items())
    )
