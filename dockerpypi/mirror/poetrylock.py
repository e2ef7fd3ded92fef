"""A ``poetry.lock`` read: its pinned files, its content-hash, and its copy for the mirror.

poetry.lock names, for each package, its version and the names and hashes of
its files, but no URL: a package from the public index has no
``[package.source]``, and Poetry fetches it from the index it calls "pypi"
(the JSON API of the public index, which no mirror serves), or, when a
source of priority ``primary`` disables that one, from the first source of
the project's pool (Poetry's ``Chooser._get_repository``). Poetry has no
setting that replaces the public index without editing pyproject.toml, and
the ``[[tool.poetry.source]]`` tables are part of the lock's
``content-hash``, which ``poetry install`` checks against pyproject.toml.

So a build step reads copies of both (:func:`mirror_copies`): pyproject.toml
with one more source, the mirror, of priority ``primary``, and poetry.lock
with the content-hash Poetry computes for that pyproject.toml. Only when the
same computation reproduces the user's own lock's hash from the user's own
pyproject.toml: that proves the algorithm (:func:`content_hash`, after
Poetry's ``Locker._get_content_hash``) is the one the lock was made with.

``dockerpypi mirror add poetry.lock`` reads the lock as hash-pinned
requirements (:func:`pinned_requirements`), as ``poetry export`` writes
them, so that the usual fill fetches exactly the locked versions, each a
file whose sha256 the lock lists.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..dockerfile.vocabulary import POETRY_LOCK
from ..errors import UsageError, UserMessageError
from .arguments import names_path

PYPROJECT = "pyproject.toml"
# The name of the mirror's source in the copy of pyproject.toml a step reads.
MIRROR_SOURCE = "dockerpypi-mirror"
# Poetry's Locker: the keys of [project] and [tool.poetry] the content-hash covers.
_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")
_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")
_POETRY_KEYS = (*_LEGACY_KEYS, "group")
# The one line of [metadata] that holds the hash, as Poetry writes it.
_CONTENT_HASH = re.compile(r'^(content-hash\s*=\s*)"([0-9a-f]*)"', re.MULTILINE)


class NoMirrorCopy(UserMessageError):
    """Why a Poetry project's step reads its own pyproject.toml and lock (one line)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem, fix="")  # the whole line is the problem: the caller says more


def _load(path: Path, what: str) -> dict[str, Any]:
    from ..tomlparser import load_file

    return load_file(path, fix=f"give {what}")


def read_poetry_lock(path: Path) -> dict[str, Any]:
    """The lock, parsed; a ``UsageError`` naming the file when Poetry did not write it."""
    lock = _load(path, "the poetry.lock Poetry wrote")
    if not isinstance(lock.get("package", []), list) or \
            not isinstance((lock.get("metadata") or {}).get("content-hash"), str):
        raise UsageError(f"{path} has no [metadata] content-hash, so it is no poetry.lock",
                         fix="run `poetry lock`")
    return lock


def content_hash(pyproject: Mapping[str, Any]) -> str:
    """The content-hash Poetry (2.3 and later) writes into the lock of ``pyproject``.

    The sha256 of the sorted JSON of what the lock depends on: [project]'s
    dependency keys, [dependency-groups], and [tool.poetry]'s dependencies,
    sources, extras and groups (its legacy keys at the top level when the
    other two tables say nothing, as Poetry 1 wrote them).
    """
    project = pyproject.get("project") or {}
    groups = pyproject.get("dependency-groups") or {}
    poetry = (pyproject.get("tool") or {}).get("poetry") or {}
    relevant_project = {key: project[key] for key in _PROJECT_KEYS
                        if project.get(key) is not None}
    relevant_poetry = {}
    for key in _POETRY_KEYS:
        value = poetry.get(key)
        if value is None and (key not in _LEGACY_KEYS or relevant_project or groups):
            continue
        relevant_poetry[key] = value
    content: dict[str, Any] = {}
    if relevant_project:
        content["project"] = relevant_project
    if groups:
        content["dependency-groups"] = groups
    if content:
        content["tool"] = {"poetry": relevant_poetry}
    else:
        content = relevant_poetry
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _marker(package: Mapping[str, Any]) -> str | None:
    """The environment marker under which the lock installs ``package`` (None: always)."""
    markers = package.get("markers")
    if isinstance(markers, str):
        return markers
    if isinstance(markers, Mapping) and markers:
        values = list(dict.fromkeys(str(value) for value in markers.values()))
        # Any of its groups may install it: a group without a marker always does.
        if any(value in ("", "*") for value in values):
            return None
        return " or ".join(f"({value})" for value in values)
    return None


def _sha256s(package: Mapping[str, Any]) -> list[str]:
    hashes = []
    for entry in package.get("files") or []:
        value = str((entry or {}).get("hash", ""))
        if value.startswith("sha256:"):
            hashes.append(value.removeprefix("sha256:").lower())
    return hashes


def from_index(package: Mapping[str, Any]) -> bool:
    """Whether Poetry installs ``package`` from its pool's first index (no source of its own)."""
    return not package.get("source")


def pinned_requirements(lock: Mapping[str, Any], *, where: str) -> tuple[list[str], list[str]]:
    """(hash-pinned requirement lines, packages left out) of every locked package.

    As ``poetry export --without-hashes=false`` writes them: ``name==version ;
    marker --hash=sha256:...``, every group. A package with a source of its
    own (a path, a VCS, a URL, another index) is left out: the mirror cannot
    stand in for it. A package of the index without a sha256 is refused.
    """
    lines, left_out = [], []
    for package in lock.get("package") or []:
        name, version = package.get("name"), package.get("version")
        if not from_index(package):
            left_out.append(f"{name} ({(package.get('source') or {}).get('type', 'source')})")
            continue
        hashes = _sha256s(package)
        if not hashes:
            raise UsageError(f"{where}: {name} {version} has no sha256 of its files, so its "
                             "files cannot be checked", fix="run `poetry lock --regenerate`")
        marker = _marker(package)
        lines.append(f"{name}=={version}" + (f" ; {marker}" if marker else "") +
                     "".join(f" --hash=sha256:{value}" for value in hashes))
    return lines, left_out


def _applies_here(marker: str | None) -> bool:
    """Whether a package under ``marker`` is installed on this machine (as ``mirror add``
    fills the mirror for it by default); a marker that cannot be evaluated here applies."""
    if marker is None:
        return True
    from packaging.markers import InvalidMarker, Marker, UndefinedEnvironmentName

    try:
        return Marker(marker).evaluate({"extra": ""})
    except (InvalidMarker, UndefinedEnvironmentName):
        return True


def locked_files(lock: Mapping[str, Any]) -> dict[str, list[str]]:
    """{package: its file names} of the packages Poetry takes from the index here.

    A package whose markers leave it out on this machine (Windows-only, say)
    is left out, as :func:`pinned_requirements` leaves it out of the mirror.
    """
    return {str(package.get("name")): [str((entry or {}).get("file", ""))
                                       for entry in package.get("files") or []]
            for package in lock.get("package") or []
            if from_index(package) and _applies_here(_marker(package))}


def lock_path(argument: str) -> Path | None:
    """The poetry.lock ``argument`` names (the file, or a directory holding one and no
    uv.lock, which :mod:`.uvlock` takes), else None."""
    from ..dockerfile.vocabulary import UV_LOCK

    path = Path(argument)
    if not names_path(argument) and not (path.name == POETRY_LOCK and path.is_file()):
        return None
    if path.name == POETRY_LOCK and path.is_file():
        return path
    if (path / POETRY_LOCK).is_file() and not (path / UV_LOCK).is_file():
        return path / POETRY_LOCK
    return None

def with_mirror_source(pyproject_text: str, url: str) -> str:
    """``pyproject_text`` with the mirror as its one, primary source, after every other line."""
    ending = "\r\n" if "\r\n" in pyproject_text else "\n"
    text = pyproject_text if pyproject_text.endswith(("\n", "\r")) or not pyproject_text \
        else pyproject_text + ending
    block = ["", "[[tool.poetry.source]]", f'name = "{MIRROR_SOURCE}"', f'url = "{url}"',
             'priority = "primary"', ""]
    return text + ending.join(block)


def mirror_copies(pyproject_text: str, lock_text: str, url: str, *,
                  where: str) -> tuple[str, str]:
    """(pyproject.toml, poetry.lock) for a step that installs the lock from ``url``.

    Raises :class:`NoMirrorCopy` when the copies could not be trusted: the
    user's lock's content-hash is not the one computed here from the user's
    pyproject.toml (another Poetry, or a lock out of date), the project has
    sources of its own, or the lock takes packages from another index.
    """
    from ..tomlparser import tomllib

    try:
        pyproject = tomllib.loads(pyproject_text)
        lock = tomllib.loads(lock_text)
    except tomllib.TOMLDecodeError as exc:
        raise NoMirrorCopy(f"{where}: pyproject.toml or poetry.lock is no TOML ({exc})") \
            from None
    written = _CONTENT_HASH.findall(lock_text)
    if len(written) != 1 or written[0][1] != (lock.get("metadata") or {}).get("content-hash"):
        raise NoMirrorCopy(f"{where}: poetry.lock has no one content-hash line as Poetry "
                           "writes it")
    if ((pyproject.get("tool") or {}).get("poetry") or {}).get("source"):
        raise NoMirrorCopy(f"{where}: pyproject.toml has [[tool.poetry.source]] tables of its "
                           "own, which Poetry would ask before the mirror")
    others = sorted({str((p.get("source") or {}).get("reference"))
                     for p in lock.get("package") or []
                     if (p.get("source") or {}).get("type") == "legacy"})
    if others:
        raise NoMirrorCopy(f"{where}: poetry.lock takes packages from the sources "
                           f"{', '.join(others)}, not from the mirror")
    if content_hash(pyproject) != written[0][1]:
        raise NoMirrorCopy(f"{where}: poetry.lock's content-hash is not the one computed "
                           "from pyproject.toml (a lock out of date, or made by a Poetry "
                           "before 2.3)")
    copy = with_mirror_source(pyproject_text, url)
    try:
        new_hash = content_hash(tomllib.loads(copy))
    except tomllib.TOMLDecodeError:  # [tool.poetry] as an inline table cannot grow a source
        raise NoMirrorCopy(f"{where}: pyproject.toml cannot take a [[tool.poetry.source]] "
                           "table after its last line") from None
    return copy, _CONTENT_HASH.sub(lambda m: f'{m.group(1)}"{new_hash}"', lock_text, count=1)


def write_requirements(locks: Sequence[Path], directory: Path) -> tuple[Path, list[str]]:
    """The hash-pinned requirements of ``locks``, as one file in ``directory``, and the
    packages left out (:func:`pinned_requirements`)."""
    lines, left_out = [], []
    for path in locks:
        pinned, skipped = pinned_requirements(read_poetry_lock(path), where=str(path))
        lines += pinned
        left_out += [f"{name} of {path}" for name in skipped]
    if not lines:
        raise UsageError(f"{', '.join(map(str, locks))} lock no package of an index",
                         fix="give the lock of a project with dependencies")
    target = directory / "poetry-lock-requirements.txt"
    target.write_text("".join(f"{line}\n" for line in dict.fromkeys(lines)), encoding="utf-8")
    return target, left_out


def builds_root(directory: Path) -> bool:
    """Whether ``poetry install`` in ``directory`` installs the project itself
    (``package-mode`` is not false)."""
    data = _load(directory / PYPROJECT, "the project's pyproject.toml")
    return ((data.get("tool") or {}).get("poetry") or {}).get("package-mode", True) is not False
