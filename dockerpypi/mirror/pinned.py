"""Hash-pinned requirements: the mirror holds only files whose hashes they list.

``pip install --require-hashes -r requirements.txt`` (or any requirements file
with ``--hash`` options, which turns pip's hash checking on) refuses a file
whose sha256 the file does not list. pip download checks that itself; uv's
``pip compile`` reads the hashes but does not choose by them, so the files
uv's lock offers are narrowed here to the listed ones before one is chosen,
and a requirement none of whose files matches is an error, not a mirror that
fails the build later.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import UserMessageError

Pins = Mapping[str, frozenset[str]]  # normalized name -> the sha256 values allowed
_HASH = re.compile(r"--hash[= ]sha256:([0-9a-fA-F]{64})")
_INCLUDE = (("-r", "--requirement"), ("-c", "--constraint"))


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """pip's lines, each with the number of its first physical line: comments
    dropped, backslash continuations joined."""
    parts: list[str] = []
    start = 0
    for number, physical in enumerate([*text.splitlines(), ""], 1):
        if not parts:
            start = number
        if physical.endswith("\\"):
            parts.append(physical[:-1])
            continue
        line = re.sub(r"(^|\s)#.*$", "", " ".join([*parts, physical])).strip()
        parts = []
        if line:
            yield start, line


def _included(words: list[str]) -> str | None:
    """The file a ``-r``/``-c`` line names, in every spelling pip takes
    (``-r f``, ``-rf``, ``--requirement f``, ``--requirement=f``), else None."""
    first = words[0]
    for short, long in _INCLUDE:
        if first in (short, long):
            return words[1] if len(words) > 1 else None
        if first.startswith(f"{long}="):
            return first[len(long) + 1:]
        if first.startswith(short) and not first.startswith("--"):
            return first[len(short):]
    return None


def _read(path: Path, pins: dict[str, set[str]], seen: set[Path]) -> None:
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserMessageError(f"cannot read {path} ({exc.strerror or exc})",
                               fix="check the requirements file") from None
    for number, line in _logical_lines(text):
        try:
            words = shlex.split(line, posix=True)
        except ValueError as exc:  # an unbalanced quote
            raise UserMessageError(f"{path}, line {number}: {exc}",
                                   fix="balance the quotes of that line") from None
        included = _included(words) if words else None
        if included:
            _read(path.parent / included, pins, seen)
            continue
        hashes = _HASH.findall(line)
        if not hashes or line.startswith("-"):
            continue
        try:
            name = canonicalize_name(Requirement(line.split(" --", 1)[0].strip()).name)
        except InvalidRequirement:
            continue  # pip and uv say what is wrong with it
        pins.setdefault(name, set()).update(h.lower() for h in hashes)


def pinned_hashes(files: Iterable[Path]) -> dict[str, frozenset[str]]:
    """{project: sha256 values} for every requirement with ``--hash`` in ``files``."""
    pins: dict[str, set[str]] = {}
    seen: set[Path] = set()
    for path in files:
        # A project's own files and TOML locks say no --hash: only requirements files do.
        if path.name not in ("setup.py", "setup.cfg") and path.suffix != ".toml":
            _read(path, pins, seen)
    return {name: frozenset(hashes) for name, hashes in pins.items()}


def _allowed(entry: Any, hashes: frozenset[str]) -> bool:
    sha256 = ((entry or {}).get("hashes") or {}).get("sha256")
    return isinstance(sha256, str) and sha256.lower() in hashes


def keep_pinned(lock: Mapping[str, Any], pins: Pins) -> dict[str, Any]:
    """``lock`` (uv's pylock.toml, read) with only the files the pins allow."""
    packages = []
    for package in lock.get("packages", []):
        hashes = pins.get(canonicalize_name(str(package.get("name", ""))))
        if hashes is None:
            packages.append(package)
            continue
        kept = dict(package)
        kept["wheels"] = [w for w in package.get("wheels", []) if _allowed(w, hashes)]
        for key in ("sdist", "archive"):
            if key in kept and not _allowed(kept[key], hashes):
                del kept[key]
        if not kept["wheels"] and "sdist" not in kept and "archive" not in kept:
            raise UserMessageError(
                f"no file of {package.get('name')} {package.get('version', '')} on the index "
                "has a sha256 the requirements file lists, so pip --require-hashes would "
                "refuse it", fix="update the hashes (pip-compile --generate-hashes) or the index")
        packages.append(kept)
    return {**lock, "packages": packages}
