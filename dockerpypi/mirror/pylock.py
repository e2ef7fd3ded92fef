"""A ``pylock.toml`` (PEP 751) read: its files, and its copy for the mirror.

``pip install -r pylock.toml`` (pip 26.1+), ``uv pip install -r
pylock.toml`` and ``uv pip sync pylock.toml`` install the files the lock
names, from the URLs written in it: no index is asked, so a step that
configures the mirror still downloads from where the lock was made, and
fails offline. Both installers take a file's ``path`` before its ``url``.

``dockerpypi mirror add pylock.toml`` fetches exactly the lock's files
(:func:`pylock_package_picks`, the target's wheels with the same rule as a
uv.lock, :func:`.lockfile.keep_fitting`), checked against its sha256
hashes. ``dockerpypi build --inject`` mounts, over the lock the step reads,
a copy in which each such file's ``url`` is a ``path`` into the mirror as
the step sees it (:func:`rewrite_pylock`); the user's file is never changed.

A file entry with neither ``url`` nor ``path`` (only the package's
``index``) is refused: PEP 751 asks for one of them, and pip and uv refuse
such a lock too. Packages from a VCS, a directory or a direct archive URL
are not an index's and are left to the build, as are files that already
have a ``path``.

The copy is the user's text with only those ``url = "..."`` pairs changed,
so that comments and layout stay; it is parsed again and compared with the
expected data, and a lock written in a layout this cannot change safely is
refused rather than half rewritten. A leaf, like :mod:`.lockfile`:
``build --inject`` imports it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..dockerfile.vocabulary import PYLOCK
from ..errors import UsageError, UserMessageError
from .lockfile import (
    REMOTE,
    is_distribution_name,
    keep_fitting,
    tag_ranks,
    toml_string,
    url_filename,
)
from .picks import Pick

if TYPE_CHECKING:
    from packaging.tags import Tag

# Keys of a package that say it is no index's: left to the build.
_NOT_AN_INDEX = ("vcs", "directory", "archive")
_RELOCK = ("lock it again with `pip lock -r ...` or `uv pip compile --format pylock.toml`, "
           "which write each file's url and sha256")
# A `url = "..."` (or '...') pair, in an inline table or on a line of its own.
_URL_PAIR = re.compile(r"""(?<![\w.\-"'])url(\s*=\s*)("(?:[^"\\\n]|\\.)*"|'[^'\n]*')""")


def read_pylock(path: Path) -> dict[str, Any]:
    """The lock, parsed; a ``UsageError`` naming the file when it is no PEP 751 lock."""
    from ..tomlparser import load_file

    lock = load_file(path, fix=_RELOCK)
    if not isinstance(lock.get("packages"), list):
        raise UsageError(f"{path} has no [[packages]] tables, so it is no pylock.toml "
                         "(PEP 751)", fix=_RELOCK)
    version = str(lock.get("lock-version", ""))
    if version.split(".")[0] != "1":
        raise UsageError(f"{path} has lock-version {version or '(none)'}, and PEP 751 "
                         "defines 1.x only", fix=_RELOCK)
    return lock


def _index_entries(lock: Mapping[str, Any], where: str
                   ) -> Iterator[tuple[str, str, dict[str, Any], Pick | None]]:
    """(package, "wheel" or "sdist", entry, its Pick) of each file of an index package.

    The Pick is None for a file the build reads as it is (a ``path``, a
    ``file:`` URL); an entry with neither ``url`` nor ``path`` is refused.
    """
    for package in lock.get("packages", []):
        if not isinstance(package, dict) or any(key in package for key in _NOT_AN_INDEX):
            continue
        name = " ".join(str(package[key]) for key in ("name", "version") if key in package)
        sdist = package.get("sdist")
        entries = [("wheel", entry) for entry in package.get("wheels") or []] + \
            ([("sdist", sdist)] if isinstance(sdist, dict) else [])
        for kind, entry in entries:
            if not isinstance(entry, dict):
                continue
            url, given = entry.get("url"), entry.get("name")
            if "path" in entry or (isinstance(url, str) and not url.startswith(REMOTE)):
                yield name, kind, entry, None
                continue
            if not isinstance(url, str):
                index = package.get("index")
                raise UserMessageError(
                    f"{where}: {name}: its {kind}{f' {given}' if given else ''} has no url "
                    f"or path{f' (only the index {index})' if index else ''}, which pip and "
                    "uv cannot install either", fix=_RELOCK)
            filename = given if isinstance(given, str) else url_filename(url)
            if not is_distribution_name(filename):
                raise UserMessageError(f"{where}: {name} has a file {filename!r} that is no "
                                       "wheel or sdist name",
                                       fix=f"check where the lock came from, or {_RELOCK}")
            hashes = entry.get("hashes")
            sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
            size = entry.get("size")
            yield name, kind, entry, Pick(filename, url, sha256 if isinstance(sha256, str)
                                          else None, size if isinstance(size, int) else None)


def pylock_package_picks(lock: Mapping[str, Any], supported: Sequence[Tag] = (), *,
                         where: str = PYLOCK) -> dict[str, tuple[Pick, ...]]:
    """{package: its files} of every package the lock takes from a remote index.

    ``supported`` keeps the wheels that fit the target, and the sdist only
    when none does (:func:`.lockfile.keep_fitting`); a file without a
    sha256, or whose name is no wheel or sdist name, is refused.
    """
    ranks = tag_ranks(supported) if supported else {}
    files: dict[str, tuple[list[Pick], list[Pick]]] = {}
    for name, kind, _, pick in _index_entries(lock, where):
        if pick is not None:
            wheels, sdists = files.setdefault(name, ([], []))
            (wheels if kind == "wheel" else sdists).append(pick)
    found: dict[str, tuple[Pick, ...]] = {}
    for name, (wheels, sdists) in files.items():
        found[name] = keep_fitting(name, wheels, sdists[0] if sdists else None, ranks,
                                   where=where, fix=_RELOCK)
    return found


def pylock_picks(lock: Mapping[str, Any], supported: Sequence[Tag] = (), *,
                 where: str = PYLOCK) -> tuple[Pick, ...]:
    """The files of :func:`pylock_package_picks`, one after the other."""
    return tuple(pick for picks in pylock_package_picks(lock, supported, where=where).values()
                 for pick in picks)


def rewrite_pylock(text: str, mirror_path: str, *, where: str = PYLOCK) -> str:
    """``text`` (a pylock.toml) with each index file a ``path`` into ``mirror_path``.

    Every wheel and sdist with a remote ``url`` gets ``path =
    "<mirror_path>/<file name>"`` in its place; every other byte is kept.
    A ``UserMessageError`` when the result would not be that lock (a layout
    the text rewrite cannot follow).
    """
    from ..tomlparser import tomllib

    try:
        lock = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where} is not a TOML file ({exc})", fix=_RELOCK) from None
    mirror_path = mirror_path.rstrip("/") or "/"
    expected = copy.deepcopy(lock)
    paths: dict[str, str] = {}
    for _, _, entry, pick in _index_entries(expected, where):
        if pick is not None:
            paths[pick.url] = f"{mirror_path}/{pick.filename}"
            del entry["url"]
            entry["path"] = paths[pick.url]

    def replace(match: re.Match[str]) -> str:
        url = tomllib.loads(f"url = {match.group(2)}")["url"]
        if url not in paths:
            return match.group(0)
        return f"path{match.group(1)}{toml_string(paths[url])}"

    rewritten = _URL_PAIR.sub(replace, text)
    try:
        same = tomllib.loads(rewritten) == expected
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise UserMessageError(f"{where}: its file URLs are written in a way dockerpypi "
                               "cannot rewrite without changing the lock",
                               fix="write each file's url as `url = \"...\"`, as pip and uv do")
    return rewritten
