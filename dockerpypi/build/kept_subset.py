"""The mirror subset of an earlier build, used again when nothing it depends on changed.

Choosing the subset (:mod:`.subset`) reads the Dockerfile, the requirements
and the mirror's index, and walks the requirements with ``packaging``: about
half of what ``dockerpypi build`` itself costs. Its result, a directory of
hard links named by what it holds, stays in the mirror for the next build.
This module finds it again without importing any of that: the answer is kept
under a key of everything the choice read, checked before it is used:

- the Dockerfile (path and text) and the build context's path;
- the requirements files the steps mount (their texts);
- the mirror, and its index state file (inode, size, modification time):
  any ``mirror add`` or ``mirror index`` changes it;
- ``--platform``, ``--builder`` and the engine's platforms (the machines);
- this version of dockerpypi, and the shape of the pages it writes.

Texts are compared by :func:`dockerpypi.caches.checksum`, a change
detector rather than a digest (an attacker could edit the Dockerfile
itself). A kept answer whose directory is gone is a miss, and the choice is
made again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from .. import __version__
from ..caches import SUBSETS, checksum, memo_get, memo_put
from ..mirror import pages  # a leaf: the page writer alone, not the index
from .command import DockerArgs, dockerfile_path

# The index state file of a mirror (mirror/state.py's STATE_FILE, spelt out
# here so that a kept answer needs no import of the index).
STATE_FILE = ".dockerpypi-index.json"


class KeptSubset(NamedTuple):
    """The subset an earlier build chose: its directory in the mirror, and its summary."""

    directory: Path
    summary: str


def _key(given: DockerArgs, mirror_dir: Path, engine_platforms: tuple[str | None, ...]
         ) -> str | None:
    dockerfile = dockerfile_path(given)
    if dockerfile is None or given.local_path is None:
        return None
    try:
        text = dockerfile.read_bytes()
        state = (mirror_dir / STATE_FILE).stat()
    except OSError:
        return None
    return json.dumps([
        __version__, pages.PAGE_FORMAT, str(mirror_dir.resolve()),
        [state.st_ino, state.st_size, state.st_mtime_ns],
        str(dockerfile.resolve()), checksum(text),
        str(Path(given.local_path).resolve()), given.values("--platform"),
        given.values("--builder"), list(engine_platforms),
    ])


def _text_checksum(path: Path) -> str | None:
    """Of the text as the subset read it (UTF-8, newlines made \\n)."""
    try:
        return checksum(path.read_text(encoding="utf-8").encode())
    except (OSError, UnicodeDecodeError):
        return None


def lookup(given: DockerArgs, mirror_dir: Path, engine_platforms: tuple[str | None, ...]
           ) -> KeptSubset | None:
    """The kept subset of this build, or None."""
    key = _key(given, mirror_dir, engine_platforms)
    kept = memo_get(SUBSETS.name, key) if key is not None else None
    if kept is None or given.local_path is None:
        return None
    try:
        entry = json.loads(kept)
        name, summary, sources = entry["dir"], entry["summary"], entry["sources"]
    except (ValueError, KeyError, TypeError):
        return None
    context = Path(given.local_path)
    if not isinstance(sources, dict) or any(
            _text_checksum(context / relative) != expected
            for relative, expected in sources.items()):
        return None
    directory = mirror_dir / str(name)
    if "/" in str(name) or not directory.is_dir():
        return None
    try:
        os.utime(directory)  # in use: the clean-up of unused subsets goes by this time
    except OSError:
        return None
    return KeptSubset(directory, str(summary))


def remember(given: DockerArgs, mirror_dir: Path, engine_platforms: tuple[str | None, ...],
             sources: Mapping[str, str], directory: Path, summary: str) -> None:
    """Keep ``directory`` (in ``mirror_dir``) as this build's subset.

    ``sources`` maps each requirements file the choice read (relative to the
    build context) to its text as it was read.
    """
    key = _key(given, mirror_dir, engine_platforms)
    if key is None or directory.parent != mirror_dir:
        return
    checksums = {relative: checksum(text.encode()) for relative, text in sources.items()}
    memo_put(SUBSETS.name, key, json.dumps({"dir": directory.name, "summary": summary,
                                            "sources": checksums}))
