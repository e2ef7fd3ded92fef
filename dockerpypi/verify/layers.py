"""One layer of an image, read as a stream: every trace in its files, names and links.

Nothing is unpacked to disk and no file is held in memory whole: each file is
searched chunk by chunk (:func:`search_stream`), but the small installer
config files, which are read whole to check their shape too.

Empty *directories* at the mount points are not traces: BuildKit before
about 0.12 (Docker 20.10) leaves the mount points of a ``RUN`` step in its
layer, and an empty directory holds nothing.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass, field
from typing import IO

from .needles import CONFIG_FILE_NAMES, INDEX_SETTING, NETRC_ENTRY, Needle, Rules

# How much of a file is read at a time.
CHUNK = 1024 * 1024


@dataclass
class LayerScan:
    """What :func:`scan_layer` found in one layer; it names no layer, the archive does."""

    findings: list[tuple[str, str]] = field(default_factory=list)  # (path, problem)
    files_read: int = 0
    skipped: list[str] = field(default_factory=list)  # files over the size read


def search_stream(handle: IO[bytes], rules: Rules, first: bytes = b"") -> set[Needle]:
    """Needles in a file read chunk by chunk (a needle may straddle two chunks).

    ``first``: what was already read from ``handle``.
    """
    found: set[Needle] = set()
    keep = max((len(n.data) for n in rules.needles), default=1) - 1
    tail = b""
    data = first
    while True:
        if data:
            window = tail + data
            found.update(n for n in rules.needles if n not in found and n.found_in(window))
            tail = window[-keep:] if keep else b""
        if len(found) == len(rules.needles):
            break
        data = handle.read(CHUNK)
        if not data:
            break
    return found


def scan_layer(blob: IO[bytes], rules: Rules) -> LayerScan:
    """Every trace in one layer tar (plain or gzip), read as a stream."""
    result = LayerScan()
    with tarfile.open(fileobj=blob, mode="r|*") as layer:
        for entry in layer:
            path = "/" + entry.name.removeprefix("./").strip("/")
            name = posixpath.basename(path)
            if name.startswith(".wh."):
                continue  # a deletion marker: the deleted file is reported in its own layer
            for needle in rules.hits(path.encode()):
                result.findings.append((path, f"its name {needle.found}"))
            if entry.isdir():
                continue  # empty mount points (20.10's BuildKit) hold nothing
            if path in rules.secret_targets and entry.isfile() and entry.size == 0:
                result.findings.append((path, "empty stub file left at a secret mount target"))
            elif (scratch := rules.in_scratch(path)) is not None:
                result.findings.append((path, f"file left under {scratch}, which only a "
                                              "build step may use"))
            if entry.issym() or entry.islnk():
                _check_link(entry, path, rules, result)
                continue  # a hard link's data is read where its first name is
            if not entry.isfile():
                continue
            if entry.size > rules.max_read:
                result.skipped.append(path)
                continue
            handle = layer.extractfile(entry)
            if handle is None:  # pragma: no cover - isfile() members always have data
                continue
            result.files_read += 1
            first = b""
            if name in CONFIG_FILE_NAMES:
                first = handle.read()
                if name == ".netrc":
                    if NETRC_ENTRY.search(b" " + first):
                        result.findings.append((path, ".netrc with credentials for HTTP hosts"))
                elif INDEX_SETTING.search(first):
                    result.findings.append((path, "installer config file that selects an "
                                                  "index"))
            for needle in sorted(search_stream(handle, rules, first),
                                 key=rules.needles.index):
                result.findings.append((path, needle.found))
    return result


def _check_link(entry: tarfile.TarInfo, path: str, rules: Rules, result: LayerScan) -> None:
    """A link into a build step's own directories, or whose target names a needle."""
    target = entry.linkname
    if entry.issym() and not target.startswith("/"):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    elif entry.islnk():
        target = "/" + target.removeprefix("./").strip("/")
    if rules.in_scratch(target) or target in rules.secret_targets:
        result.findings.append((path, f"links to {target}, which exists only "
                                      "while a build step runs"))
    for needle in rules.hits(entry.linkname.encode()):
        result.findings.append((path, f"its link target {needle.found}"))
