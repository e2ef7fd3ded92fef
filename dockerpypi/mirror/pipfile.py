"""Pipenv's Pipfile.lock: the files ``mirror add`` fetches, and the indexes pipenv reads.

A Pipfile.lock is JSON: ``_meta.sources`` (the Pipfile's ``[[source]]``
tables, part of ``_meta.hash``, which ``pipenv install --deploy`` checks)
and one table per category (``default``, ``develop``, custom ones) that maps
each package to its ``version`` (``==1.0``), ``hashes`` (``sha256:...``),
``markers``, ``extras`` and ``index`` (a source's name). It names no file:
pipenv hands pip the versions and hashes (``pip install --no-deps
--require-hashes``), and pip picks a file whose sha256 the lock lists.

So ``dockerpypi mirror add Pipfile.lock`` writes the lock as the hash-pinned
requirements ``pipenv requirements --hash`` prints (every category, as the
lock does not say which ones a Dockerfile installs) and hands them to the
hash-pinned path (:mod:`.pinned`): exactly the locked versions, and only
files whose sha256 the lock lists. Packages from a path, a URL or a VCS are
left to the build, as for uv.lock.

In a build, pipenv ignores pip's configuration (it runs pip with
``PIP_CONFIG_FILE`` set to the null device) and takes its indexes from the
lock's sources; ``PIPENV_PYPI_MIRROR`` replaces the public index among them,
and only that one (:func:`other_sources` finds the rest, which pipenv asks
itself).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from packaging.utils import canonicalize_name

from ..dockerfile.vocabulary import PIPFILE, PIPFILE_LOCK, UV_LOCK
from ..errors import UsageError
from .arguments import names_path

# A relative path in a Dockerfile's text that ends in Pipfile or Pipfile.lock.
_NAMED = re.compile(r"(?<![^\s\"',\[=])[^\s\"',\[\]=/][^\s\"',\[\]=]*?Pipfile(?:\.lock)?"
                    r"(?=[\s\"',\]]|$)")
# Keys of a locked package that say it comes from no index: left to the build.
_NOT_FROM_AN_INDEX = ("path", "file", "git", "hg", "svn", "bzr", "editable")


@dataclass(frozen=True)
class Source:
    """One ``[[source]]`` of a Pipfile (or ``_meta.sources`` of its lock)."""

    name: str
    url: str


@dataclass(frozen=True)
class PipfileLock:
    """A Pipfile.lock, read: its sources, and its pins as requirement lines."""

    path: Path
    sources: tuple[Source, ...]
    requirements: tuple[str, ...]  # `name==1.0; markers --hash=sha256:...`, one per package
    left_out: tuple[str, ...] = ()  # packages from a path, a URL or a VCS


def lock_path(argument: str) -> Path | None:
    """The Pipfile.lock ``argument`` names (the file, or a directory holding one), else None.

    A directory holding a uv.lock is uv's (:func:`.uvlock.lock_path`).
    """
    path = Path(argument)
    if not names_path(argument):
        return None
    if path.name == PIPFILE_LOCK and path.is_file():
        return path
    if path.name == PIPFILE and path.is_file():
        raise UsageError(f"{path} is a Pipfile, whose versions are not locked",
                         fix=f"give its lock ({path.with_name(PIPFILE_LOCK)}; pipenv lock "
                             "writes it)")
    if path.is_dir() and (path / PIPFILE_LOCK).is_file() and not (path / UV_LOCK).is_file():
        return path / PIPFILE_LOCK
    return None


def split_pipfile_locks(arguments: Sequence[str]) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """The Pipfile.lock files among ``mirror add``'s arguments, and the other arguments."""
    locks, rest = [], []
    for argument in arguments:
        found = lock_path(argument)
        if found is None:
            rest.append(argument)
        else:
            locks.append(found.resolve())
    return tuple(dict.fromkeys(locks)), tuple(rest)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror or exc})",
                         fix="check the path") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON ({exc})",
                         fix="give the Pipfile.lock pipenv wrote (pipenv lock)") from None
    if not isinstance(data, dict) or not isinstance(data.get("_meta"), dict):
        raise UsageError(f"{path} has no _meta table, so it is no Pipfile.lock",
                         fix="give the Pipfile.lock pipenv wrote (pipenv lock)")
    return data


def _sources(entries: object) -> tuple[Source, ...]:
    if not isinstance(entries, list):
        return ()
    return tuple(Source(str(entry.get("name", "")), str(entry["url"]))
                 for entry in entries if isinstance(entry, dict) and entry.get("url"))


def _line(name: str, entry: dict[str, Any], where: str) -> str:
    version = entry.get("version")
    if not isinstance(version, str) or not version.startswith("=="):
        raise UsageError(f"{where}: {name} has no pinned version ({version!r})",
                         fix="lock it again (pipenv lock)")
    extras = entry.get("extras") or []
    line = name + (f"[{','.join(sorted(map(str, extras)))}]" if extras else "") + version
    if entry.get("markers"):
        line += f"; {entry['markers']}"
    hashes = [h for h in entry.get("hashes") or () if isinstance(h, str)]
    return " ".join([line, *(f"--hash={h}" for h in hashes)])


def read_pipfile_lock(path: Path) -> PipfileLock:
    """``path`` read, every category's packages pinned as ``pipenv requirements --hash`` writes.

    A package in two categories at one version is one requirement, with the
    hashes of both; at two versions the lock is refused (no one resolution
    could fetch both).
    """
    data = _load(path)
    merged: dict[str, tuple[str, dict[str, Any], str]] = {}  # key -> (name, entry, category)
    left_out: list[str] = []
    for category, packages in data.items():
        if category == "_meta" or not isinstance(packages, dict):
            continue
        for name, entry in packages.items():
            if not isinstance(entry, dict):
                continue
            if any(key in entry for key in _NOT_FROM_AN_INDEX):
                left_out.append(name)
                continue
            _line(name, entry, str(path))  # refuses an entry without a pinned version
            key = canonicalize_name(name)
            if key not in merged:
                merged[key] = (name, dict(entry), category)
                continue
            first = merged[key][1]
            if first["version"] != entry["version"]:
                raise UsageError(f"{path}: {name} is locked at {first['version']} in "
                                 f"{merged[key][2]} and at {entry['version']} in {category}",
                                 fix="lock it again (pipenv lock)")
            first["hashes"] = list(dict.fromkeys([*(first.get("hashes") or ()),
                                                  *(entry.get("hashes") or ())]))
    return PipfileLock(path, _sources(data["_meta"].get("sources")),
                       tuple(_line(name, entry, str(path)) for name, entry, _ in merged.values()),
                       tuple(dict.fromkeys(left_out)))


def write_requirements(locks: Iterable[PipfileLock], directory: Path) -> list[Path]:
    """One hash-pinned requirements file per lock, written into ``directory``."""
    written = []
    for number, lock in enumerate(locks):
        path = directory / f"{number}-{PIPFILE_LOCK}.txt"
        path.write_text("".join(f"{line}\n" for line in lock.requirements), encoding="utf-8")
        written.append(path)
    return written


def _same_index(url: str, public: str) -> bool:
    """Whether ``url`` is the public index ``public``, as pipenv's mirror test sees it
    (scheme and a trailing slash aside)."""
    one, two = urlsplit(url), urlsplit(public)
    return ((one.hostname or "").lower(), one.port, one.path.rstrip("/")) == \
        ((two.hostname or "").lower(), two.port, two.path.rstrip("/"))


def other_sources(sources: Iterable[Source], public: str) -> list[Source]:
    """The sources that are not the public index, which ``PIPENV_PYPI_MIRROR`` leaves alone.

    The public index is pip's default (the one pipenv replaces) or ``public``,
    the configured one (``--public-index``), which stands for it here.
    """
    from ..settings.public_index import public_index_url

    publics = (public, public_index_url())
    return [source for source in sources
            if not any(_same_index(source.url, url) for url in publics)]


def expanded(url: str) -> str | None:
    """A source URL with pipenv's ``${VARIABLE}``s expanded, None when one is not set."""
    value = os.path.expandvars(url)
    return None if "$" in value else value


def sources_of(path: Path) -> tuple[Source, ...]:
    """The sources a Pipfile (TOML) or a Pipfile.lock (JSON) names; () when it cannot be read.

    Read to warn, not to install: a file pipenv would refuse is pipenv's to say.
    """
    try:
        if path.name == PIPFILE:
            from ..tomlparser import tomllib

            with path.open("rb") as handle:
                return _sources(tomllib.load(handle).get("source"))
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # TOMLDecodeError is a ValueError
        return ()
    return _sources(data.get("_meta", {}).get("sources")) if isinstance(data, dict) else ()


def pipenv_files(context: Path, dockerfile: str) -> list[Path]:
    """The Pipfile and Pipfile.lock files of ``context`` that a Dockerfile may hand pipenv.

    Those at the context's root, and those the text names by a relative path
    (``COPY app/Pipfile app/Pipfile.lock ./``), if they exist inside the context.
    """
    root = context.resolve()
    names = [PIPFILE_LOCK, PIPFILE, *(m.group(0) for m in _NAMED.finditer(dockerfile))]
    found: dict[Path, None] = {}
    for name in names:
        path = (root / name).resolve()
        if path.is_file() and path.is_relative_to(root):
            found[path] = None
    return list(found)


def shown_url(url: str) -> str:
    """``url`` without its user and password, for a message."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def bypassing_sources(files: Iterable[Path], public: str) -> list[tuple[Path, Source]]:
    """(file, source) for each source other than the public index in ``files``: pipenv
    installs those packages from the source's own URL, whatever the step's mirror is."""
    found: list[tuple[Path, Source]] = []
    seen: set[str] = set()
    for path in files:
        for source in other_sources(sources_of(path), public):
            if source.url not in seen:
                seen.add(source.url)
                found.append((path, source))
    return found
