"""The index's memory of what it read: one line per file, read lazily.

An entry holds what the pages need (hash, Requires-Python, the sidecar's hash)
and what tells whether the file changed since (size, mtime), plus the project
and version its name parses to, so that a re-index of a large mirror parses
only the names it has not seen. The file is written last, after the pages it
describes, so it never claims more than the pages hold.

The format (version 3) is made for a mirror of 100,000 files, where parsing
every entry (as JSON of version 2 had to be) cost more than the rest of an
incremental run. The first line is a JSON header, always begun the same way
(:func:`pages_outdated` reads it alone)::

    {"version":3,"pages":2,"files":100000,"bytes":123456789}

then each project: a line ``@<project>``, and one line per file of it, in
file-name order, its fields apart by tabs::

    <file name as a JSON string> <size> <mtime_ns> <project> <JSON>

where JSON is ``[metadata_sha256,sha256,requires_python,version]``.

A JSON string never holds a raw tab or newline, nor does compact JSON, and a
normalized project name is letters, digits and dashes: so a line splits on its
tabs without parsing, and whether a file is unchanged is one dictionary lookup
and one string comparison (:meth:`State.unchanged`). Only the entries a run
needs (the projects whose pages change; those a build walks) are parsed, and a
build's subset (:func:`read_projects`) does not even split the lines of the
projects it does not reach: it splits the file at the project lines.
Versions 1 and 2 (JSON objects) are taken over: their entries are all parsed
once, and the file is written again in version 3.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import NamedTuple, cast

from packaging.utils import NormalizedName

from .distfile import parse_distribution
from .pages import PAGE_FORMAT
from .writes import write_streamed

STATE_FILE = ".dockerpypi-index.json"
_PROJECT = "@"  # begins a project's line (a key begins with a quote)
_STATE_VERSION = 3
_OLD_VERSIONS = (1, 2)
# The pages' own shape is recorded apart (``pages``: pages.PAGE_FORMAT, 1 when
# absent): when it differs, the entries still hold, and only the pages are
# written again.


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


def entry_key(filename: str) -> str:
    """How a line begins: the file name as a JSON string (no raw tab or newline in it)."""
    return encode_basestring_ascii(filename)


def entry_line(indexed: IndexedFile) -> str:
    """The line of ``indexed``, without its key (see :func:`entry_key`) and newline."""
    rest = json.dumps([indexed.metadata_sha256, indexed.sha256, indexed.requires_python,
                       indexed.version], separators=(",", ":"))
    return f"{indexed.size}\t{indexed.mtime_ns}\t{indexed.project}\t{rest}"


def key_filename(key: str) -> str | None:
    """The file name a key spells (None for a damaged one)."""
    try:
        name = json.loads(key)
    except ValueError:
        return None
    return name if type(name) is str else None


def line_has_sidecar(line: str) -> bool:
    """Whether a line's file has a PEP 658 sidecar (the JSON part begins with its hash)."""
    return "\t[null," not in line


def line_project(line: str) -> NormalizedName:
    """The project field of a line (as :func:`entry_line` writes it)."""
    return cast(NormalizedName, line.split("\t", 3)[2])


def parse_line(filename: str, line: str) -> IndexedFile | None:
    """The entry a line holds; None when it is damaged (its file is read again)."""
    try:
        size, mtime_ns, project, rest = line.split("\t", 3)
        metadata, sha256, requires, version = json.loads(rest)
        files = IndexedFile(filename, cast(NormalizedName, project), version, int(size),
                            int(mtime_ns), sha256, requires, metadata)
    except ValueError:  # too few fields, not JSON, not four values, not a number
        return None
    if (type(sha256) is not str or type(version) is not str or not project
            or (requires is not None and type(requires) is not str)
            or (metadata is not None and type(metadata) is not str)):
        return None
    return files


class State:
    """The entries of the state file, by key (:func:`entry_key`), each a line unparsed."""

    def __init__(self, lines: dict[str, str], current: bool) -> None:
        self.lines = lines
        self.current = current  # the file and its pages are in this version's formats

    def entries(self) -> dict[str, IndexedFile]:
        """Every entry, parsed (a damaged one left out)."""
        found: dict[str, IndexedFile] = {}
        for key, line in self.lines.items():
            filename = key_filename(key)
            indexed = parse_line(filename, line) if filename is not None else None
            if filename is not None and indexed is not None:
                found[filename] = indexed
        return found


def _old_entry(name: str, raw: object) -> IndexedFile:
    """A version 1 entry: an object without project or version, so the name is parsed."""
    if not isinstance(raw, dict):
        raise TypeError("not an entry")
    dist = parse_distribution(name)
    requires, metadata = raw.get("requires_python"), raw.get("metadata_sha256")
    if not (requires is None or isinstance(requires, str)) or not (
            metadata is None or isinstance(metadata, str)):
        raise TypeError("not a string")
    return IndexedFile(name, dist.project, dist.version, int(raw["size"]), int(raw["mtime_ns"]),
                       str(raw["sha256"]), requires, metadata)


def _version_2_entry(name: str, raw: object) -> IndexedFile:
    """``[size, mtime_ns, sha256, requires_python, metadata_sha256, project, version]``."""
    if type(raw) is not list or len(raw) != 7:
        raise TypeError("not an entry")
    size, mtime_ns, sha256, requires, metadata, project, version = raw
    if not (type(size) is int and type(mtime_ns) is int and type(sha256) is str
            and type(project) is str and type(version) is str
            and (requires is None or type(requires) is str)
            and (metadata is None or type(metadata) is str)):
        raise TypeError("not an entry")
    return IndexedFile(name, cast(NormalizedName, project), version, size, mtime_ns, sha256,
                       requires, metadata)


def _taken_over(data: dict[str, object], version: int) -> State:
    raw_files = data.get("files")
    if not isinstance(raw_files, dict):
        return State({}, False)
    convert = _old_entry if version == 1 else _version_2_entry
    lines = {}
    for name, raw in raw_files.items():
        try:
            lines[entry_key(name)] = entry_line(convert(name, raw))
        except (ValueError, KeyError, TypeError):
            continue  # that file is simply read again
    return State(lines, False)  # written again in this version's format


def read_lines(root: Path, warnings: list[str]) -> State:
    """The state file as :class:`State`; empty (every file is read again) when there is none
    usable. An unreadable file adds a warning; a damaged entry is just left out."""
    try:
        text = (root / STATE_FILE).read_bytes().decode("utf-8")
    except FileNotFoundError:
        return State({}, False)
    except (OSError, ValueError) as exc:
        warnings.append(f"{STATE_FILE} is unreadable ({exc}); every file was read again")
        return State({}, False)
    head, _, body = text.partition("\n")
    try:
        header = json.loads(head)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("version") in _OLD_VERSIONS:
        try:  # versions 1 and 2: one JSON object (version 1 indented over many lines)
            header, body = json.loads(text), ""
        except ValueError as exc:
            warnings.append(f"{STATE_FILE} is unreadable ({exc}); every file was read again")
            return State({}, False)
    version = header.get("version") if isinstance(header, dict) else None
    if version in _OLD_VERSIONS:
        return _taken_over(header, version)
    if version != _STATE_VERSION or not isinstance(header.get("files"), int):
        return State({}, False)  # another format: read everything once
    lines = {}
    for line in body.split("\n"):
        key, tab, rest = line.partition("\t")
        if tab:
            lines[key] = rest
    return State(lines, header.get("pages", 1) == PAGE_FORMAT
                 and type(header.get("bytes")) is int)


def load_state(root: Path, warnings: list[str]) -> dict[str, IndexedFile]:
    """Every entry of the state file, parsed; empty when there is none usable."""
    return read_lines(root, warnings).entries()


def read_state(root: Path, warnings: list[str]) -> tuple[dict[str, IndexedFile], bool]:
    """The entries, and whether the file and the pages it describes are in this
    version's formats."""
    state = read_lines(root, warnings)
    return state.entries(), state.current


def pages_outdated(root: Path) -> bool:
    """Whether the state file says the pages were written in an older shape (False
    when there is no state file, or it cannot be read: nothing to tell then).

    Read from the file's first bytes alone, which :func:`save_lines` writes in a
    fixed order: a build asks this of the whole mirror it sends, which may hold
    100,000 entries not worth parsing for one number.
    """
    try:
        with (root / STATE_FILE).open("rb") as handle:
            head = handle.read(64)
    except OSError:
        return False
    if head.startswith(b'{"version":1'):
        return True  # the older entries: older pages too
    for version in (2, _STATE_VERSION):
        if head.startswith(b'{"version":%d,' % version):
            return not head.startswith(b'{"version":%d,"pages":%d,' % (version, PAGE_FORMAT))
    return False


def save_lines(root: Path, projects: Iterable[tuple[str, Iterable[tuple[str, str]]]],
               count: int, size: int) -> None:
    """Write the state: for each project in name order, its (key, line) pairs in file-name
    order; ``count`` files of ``size`` bytes in all."""
    header = json.dumps({"version": _STATE_VERSION, "pages": PAGE_FORMAT, "files": count,
                         "bytes": size}, separators=(",", ":"))
    write_streamed(root / STATE_FILE, _joined(header, projects))


def _joined(header: str, projects: Iterable[tuple[str, Iterable[tuple[str, str]]]]
            ) -> Iterator[bytes]:
    """The file in pieces of about a megabyte (not 25 MB of text, then as many of bytes)."""
    pieces = [header]
    length = 0
    for project, lines in projects:
        pieces.append(f"\n{_PROJECT}{project}")
        for key, line in lines:
            pieces.append(f"\n{key}\t{line}")
            length += len(line)
        if length > 1 << 20:
            yield "".join(pieces).encode("utf-8")
            pieces, length = [], 0
    pieces.append("\n")
    yield "".join(pieces).encode("utf-8")


def save_state(root: Path, files: dict[str, IndexedFile]) -> None:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for name, indexed in sorted(files.items()):
        grouped.setdefault(indexed.project, []).append((entry_key(name), entry_line(indexed)))
    save_lines(root, sorted(grouped.items()), len(files), sum(f.size for f in files.values()))


class Projects(NamedTuple):
    """The state file split at its project lines: each project's lines, unsplit."""

    blocks: dict[str, str]  # project: its lines, as one text
    files: int
    size: int  # bytes

    @classmethod
    def of(cls, state: State) -> Projects:
        """Those of a state read whole (of an older format, say)."""
        grouped: dict[str, list[str]] = {}
        size = 0
        for key, line in state.lines.items():
            if line.count("\t") >= 3:
                grouped.setdefault(line_project(line), []).append(f"{key}\t{line}")
                with contextlib.suppress(ValueError):
                    size += int(line.partition("\t")[0])
        return cls({project: "\n".join(lines) for project, lines in grouped.items()},
                   sum(map(len, grouped.values())), size)

    def lines(self, project: str) -> list[tuple[str, str]]:
        """(key, line) of each file of ``project``."""
        found = []
        for text in self.blocks.get(project, "").split("\n"):
            key, tab, line = text.partition("\t")
            if tab:
                found.append((key, line))
        return found


def read_projects(root: Path) -> Projects | None:
    """The state file as :class:`Projects`; None when there is none, or it is not in this
    version's format (:meth:`Projects.of` makes them of an older one)."""
    try:
        text = (root / STATE_FILE).read_bytes().decode("utf-8")
    except (OSError, ValueError):
        return None
    head, _, body = text.partition("\n")
    try:
        header = json.loads(head)
    except ValueError:
        return None
    if (not isinstance(header, dict) or header.get("version") != _STATE_VERSION
            or type(header.get("files")) is not int or type(header.get("bytes")) is not int):
        return None
    blocks = {}
    for block in body.split(f"\n{_PROJECT}"):
        project, _, lines = block.removeprefix(_PROJECT).partition("\n")
        if project:
            blocks[project] = lines
    return Projects(blocks, header["files"], header["bytes"])
