"""The index's memory of what it read: one entry per file, in a compact JSON file.

An entry holds what the pages need (hash, Requires-Python, the sidecar's hash)
and what tells whether the file changed since (size, mtime), plus the project
and version its name parses to, so that a re-index of a large mirror parses
only the names it has not seen. The file is written last, after the pages it
describes, so it never claims more than the pages hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from packaging.utils import NormalizedName

from ..files import write_atomic
from .distfile import parse_distribution
from .pages import PAGE_FORMAT

STATE_FILE = ".dockerpypi-index.json"
# The format of the entries. Version 1 (indented, one object per file, no
# project or version) is taken over. The pages' own shape is recorded apart
# (``pages``: pages.PAGE_FORMAT, 1 when absent): when it differs, the entries
# still hold, and only the pages are written again.
_STATE_VERSION = 2
_OLD_VERSIONS = (1,)


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


def _optional_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError("not a string")


def _entries(raw_files: dict[str, object]) -> dict[str, IndexedFile]:
    """Version 2 entries: ``[size, mtime_ns, sha256, requires_python, metadata_sha256,
    project, version]``; one that is not that is left out. (One loop, no call per
    entry: this runs on every re-index, over every file of the mirror.)"""
    files: dict[str, IndexedFile] = {}
    for name, raw in raw_files.items():
        if type(raw) is not list or len(raw) != 7:
            continue
        size, mtime_ns, sha256, requires, metadata, project, version = raw
        if (type(size) is int and type(mtime_ns) is int and type(sha256) is str
                and type(project) is str and type(version) is str
                and (requires is None or type(requires) is str)
                and (metadata is None or type(metadata) is str)):
            files[name] = IndexedFile(name, cast(NormalizedName, project), version, size,
                                      mtime_ns, sha256, requires, metadata)
    return files


def _old_entry(name: str, raw: object) -> IndexedFile:
    """A version 1 entry: an object without project or version, so the name is parsed."""
    if not isinstance(raw, dict):
        raise TypeError("not an entry")
    dist = parse_distribution(name)
    return IndexedFile(name, dist.project, dist.version, int(raw["size"]), int(raw["mtime_ns"]),
                       str(raw["sha256"]), _optional_str(raw.get("requires_python")),
                       _optional_str(raw.get("metadata_sha256")))


def load_state(root: Path, warnings: list[str]) -> dict[str, IndexedFile]:
    """The entries of the state file; empty (every file is read again) when there is none
    usable. An unreadable file adds a warning; a damaged entry is just left out."""
    return read_state(root, warnings)[0]


def read_state(root: Path, warnings: list[str]) -> tuple[dict[str, IndexedFile], bool]:
    """The entries, and whether the file and the pages it describes are in this
    version's formats (else every page is compared, and the file written again, even
    when no file changed)."""
    try:
        data = json.loads((root / STATE_FILE).read_bytes())
    except FileNotFoundError:
        return {}, False
    except (OSError, ValueError) as exc:
        warnings.append(f"{STATE_FILE} is unreadable ({exc}); every file was read again")
        return {}, False
    version = data.get("version") if isinstance(data, dict) else None
    raw_files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(raw_files, dict) or (version != _STATE_VERSION
                                           and version not in _OLD_VERSIONS):
        return {}, False  # another format: read everything once
    if version == _STATE_VERSION:
        return _entries(raw_files), data.get("pages", 1) == PAGE_FORMAT
    files: dict[str, IndexedFile] = {}
    for name, raw in raw_files.items():
        try:
            files[name] = _old_entry(name, raw)
        except (ValueError, KeyError, TypeError):
            continue  # that file is simply read again
    return files, False


def pages_outdated(root: Path) -> bool:
    """Whether the state file says the pages were written in an older shape (False
    when there is no state file, or it cannot be read: nothing to tell then).

    Read from the file's first bytes alone, which :func:`save_state` writes in a
    fixed order: a build asks this of the whole mirror it sends, which may hold
    100,000 entries not worth parsing for one number.
    """
    try:
        with (root / STATE_FILE).open("rb") as handle:
            head = handle.read(64)
    except OSError:
        return False
    if not head.startswith(b'{"version":%d,' % _STATE_VERSION):
        return head.startswith(b'{"version":1')  # the older entries: older pages too
    return not head.startswith(b'{"version":%d,"pages":%d,' % (_STATE_VERSION, PAGE_FORMAT))


def save_state(root: Path, files: dict[str, IndexedFile]) -> None:
    # Compact, and through the C encoder (indent= makes json use its pure-Python
    # one, which took longer than everything else in an incremental run).
    entries = {name: [f.size, f.mtime_ns, f.sha256, f.requires_python, f.metadata_sha256,
                      f.project, f.version]
               for name, f in sorted(files.items())}
    data = {"version": _STATE_VERSION, "pages": PAGE_FORMAT, "files": entries}
    write_atomic(root / STATE_FILE, json.dumps(data, separators=(",", ":")).encode("utf-8"))
