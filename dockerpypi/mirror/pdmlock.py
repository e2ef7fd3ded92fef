"""``dockerpypi mirror add pdm.lock``: a PDM lock read as hash-pinned requirements.

pdm.lock names, for every locked package, its version, the environment
markers under which PDM installs it, and every file of that version with its
sha256: by name (``{file = ..., hash = ...}``), or by URL when the lock was
made with ``static_urls``. It names no index: ``pdm install`` and ``pdm
sync`` look each file up by name on the index PDM is given (``PDM_PYPI_URL``,
which every dockerpypi step exports) and check its hash.

So the lock is exactly a hash-pinned requirements file, one line per package
(``name==version ; markers --hash=sha256:...``), and ``mirror add`` fills the
mirror from it the way it fills it from such a file (:mod:`.pinned`): the
locked versions, only files whose sha256 the lock lists, one per package for
the target (this machine, or the tags given). Packages from a path, a VCS or
a URL of their own (no ``files``) are left to the build, as pip would.

What ``dockerpypi build --inject`` checks before a build (:func:`project_sources`,
:func:`has_static_urls`) lives here too: both read the project's own files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..dockerfile.vocabulary import PDM_LOCK, UV_LOCK
from ..errors import UsageError, UserMessageError
from .arguments import names_path
from .picks import is_plain_name

_SHA256 = re.compile(r"sha256:([0-9a-fA-F]{64})")


def pdm_lock_path(argument: str) -> Path | None:
    """The pdm.lock ``argument`` names (the file, or a directory holding one), else None.

    A directory that holds a uv.lock too is uv's (:mod:`.uvlock` reads it first).
    """
    path = Path(argument)
    if path.name == PDM_LOCK and path.is_file():
        return path
    if names_path(argument) and (path / PDM_LOCK).is_file() and not (path / UV_LOCK).is_file():
        return path / PDM_LOCK
    return None

def read_pdm_lock(path: Path) -> dict[str, Any]:
    """The lock, parsed; a ``UsageError`` naming the file when it is no TOML PDM wrote."""
    from ..tomlparser import load_file

    lock = load_file(path, fix="give the pdm.lock PDM wrote")
    if not isinstance(lock.get("metadata"), dict) or not isinstance(lock.get("package", []),
                                                                     list):
        raise UsageError(f"{path} has no [metadata] table and [[package]] list, so it is no "
                         "pdm.lock", fix="run `pdm lock`")
    return lock


def _file_name(entry: Mapping[str, Any]) -> str | None:
    name = entry.get("file")
    if not isinstance(name, str) and isinstance(entry.get("url"), str):
        name = unquote(urlsplit(entry["url"]).path.rsplit("/", 1)[-1])
    return name if isinstance(name, str) else None


def _hashes(package: Mapping[str, Any], where: str) -> list[str]:
    """The sha256 of every file of ``package``; an error for a file without one."""
    found = []
    for entry in package.get("files") or []:
        name = _file_name(entry) if isinstance(entry, Mapping) else None
        if name is None or not is_plain_name(name):
            raise UserMessageError(f"{where}: {package.get('name')} {package.get('version')} "
                                   f"has a file entry {entry!r} with no plain file name",
                                   fix="check where the lock came from, and run `pdm lock`")
        match = _SHA256.fullmatch(str(entry.get("hash", "")))
        if match is None:
            raise UserMessageError(f"{where}: {package.get('name')} {package.get('version')}: "
                                   f"the lock gives no sha256 for {name}, so it cannot be "
                                   "checked", fix="run `pdm lock --refresh`")
        found.append(match.group(1).lower())
    return found


def lock_requirements(lock: Mapping[str, Any], *, where: str = PDM_LOCK) -> list[str]:
    """One hash-pinned requirement line per package the lock takes from an index.

    A package locked with extras is the same files as without them (its extra
    dependencies are packages of their own), so the lines are per name and
    version, their markers joined with ``or`` (no marker on any: none at all).
    """
    markers: dict[tuple[str, str], list[str] | None] = {}
    hashes: dict[tuple[str, str], list[str]] = {}
    for package in lock.get("package", []):
        name, version = package.get("name"), package.get("version")
        if not package.get("files") or not isinstance(name, str) or \
                not isinstance(version, str):
            continue  # a path, VCS or URL requirement: not an index's
        key = (name, version)
        marker = package.get("marker")
        if key not in markers:
            markers[key] = []
        seen = markers[key]
        if seen is not None:
            markers[key] = None if not marker else [*seen, str(marker)]
        hashes[key] = list(dict.fromkeys([*hashes.get(key, []), *_hashes(package, where)]))
    lines = []
    for (name, version), marker in markers.items():
        joined = ("" if not marker else " ; " + " or ".join(
            dict.fromkeys(f"({m})" if len(marker) > 1 else m for m in marker)))
        pins = " ".join(f"--hash=sha256:{digest}" for digest in hashes[(name, version)])
        lines.append(f"{name}=={version}{joined} {pins}")
    return lines


def write_requirements(locks: Sequence[Path], directory: Path) -> Path:
    """The lines of :func:`requirements_text` for ``locks``, in a file in ``directory``."""
    path = directory / f"requirements-from-{PDM_LOCK}.txt"
    path.write_text(requirements_text(locks), encoding="utf-8")
    return path


def requirements_text(locks: Iterable[Path]) -> str:
    """The requirement lines of every lock, read now: a bad lock is refused before any fill."""
    lines: list[str] = []
    for path in locks:
        lines += lock_requirements(read_pdm_lock(path), where=str(path))
    if not lines:
        raise UserMessageError(f"{', '.join(str(p) for p in locks)} locks no package from "
                               "an index", fix="run `pdm lock`, or add packages by name")
    return "".join(f"{line}\n" for line in dict.fromkeys(lines))


def builds_itself(directory: Path) -> bool:
    """Whether ``pdm install`` in ``directory`` builds and installs the project too.

    PDM's own rule (its ``is_distribution``): a project with a name, unless
    ``[tool.pdm]`` says ``distribution = false`` or ``package-type = "application"``.
    """
    from ..tomlparser import tomllib

    try:
        with (directory / "pyproject.toml").open("rb") as handle:
            pyproject = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return False  # read_project says what is wrong with it
    settings = (pyproject.get("tool") or {}).get("pdm") or {}
    if not (pyproject.get("project") or {}).get("name"):
        return False
    if "package-type" in settings:
        return bool(settings["package-type"] == "library")
    return bool(settings.get("distribution", True))


def has_static_urls(lock: Mapping[str, Any]) -> bool:
    """Whether PDM takes the lock's files from the URLs written in it (``static_urls``)."""
    strategy = (lock.get("metadata") or {}).get("strategy") or []
    return "static_urls" in strategy or any(
        isinstance(entry, Mapping) and "url" in entry and "file" not in entry
        for package in lock.get("package", []) for entry in package.get("files") or [])


def project_sources(pyproject: Mapping[str, Any]) -> list[str]:
    """The names of the ``[[tool.pdm.source]]`` tables (PDM's indexes) a project lists."""
    sources = ((pyproject.get("tool") or {}).get("pdm") or {}).get("source") or []
    return [str(source.get("name", "?")) for source in sources if isinstance(source, Mapping)]


def _load(path: Path) -> dict[str, Any] | None:
    from ..tomlparser import tomllib

    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return None  # PDM says what is wrong with it, in the build
    return data


def bypasses(context: Path) -> list[str]:
    """What in the build context would take a ``pdm install`` past the mirror, one line each.

    PDM reads the project at the build context's root, or one directory
    below, in the usual layouts; each such project is read: a
    ``[[tool.pdm.source]]`` of its pyproject.toml outranks every setting PDM
    has (its name ``pypi`` replaces ``PDM_PYPI_URL``, any other is asked
    beside it), and is part of pdm.lock's content hash, so nothing can drop it
    for the build without changing the project. A lock made with
    ``static_urls`` names the URL of every file, which PDM downloads from.
    """
    found = []
    try:
        below = sorted(path for path in context.iterdir()
                       if not path.name.startswith(".") and path.is_dir())
    except OSError:  # docker says what it cannot read of the context
        below = []
    for directory in [context, *below]:
        # What is missing or cannot be read says nothing (_load gives None).
        for name in project_sources(_load(directory / "pyproject.toml") or {}):
            where = directory / "pyproject.toml"
            found.append(
                f"{where}: [[tool.pdm.source]] {name} "
                + ("replaces the mirror (PDM_PYPI_URL) as PDM's index"
                   if name == "pypi" else "is asked beside the mirror by PDM")
                + "; no PDM setting outranks a project's source: to install from the "
                "mirror alone, remove it from pyproject.toml (its packages can be added to "
                "the mirror with --index-url) and run `pdm lock` again")
        lock = _load(directory / PDM_LOCK)
        if lock is not None and has_static_urls(lock):
            found.append(f"{directory / PDM_LOCK} was made with static_urls, so PDM downloads "
                         "each file from the URL written in it, not from the mirror; run "
                         "`pdm lock --refresh -S no_static_urls` to lock file names only (the "
                         "same versions)")
    return found
