"""The readers of :data:`.locks.LOCK_KINDS` other than uv.lock's: pylock.toml,
poetry.lock, pdm.lock and Pipfile.lock, each with the installer command
that installs it alone.

A pylock.toml names its files. poetry.lock, pdm.lock and Pipfile.lock name
versions and the sha256 of their files: each gives the mirror's files of
its projects whose sha256 it lists (:attr:`.closure.Locked.hashes`), the
files the installer may take, no others. Each raises :class:`CannotTell`
when the step builds something (a project, a package from a path or a
VCS: its build dependencies are listed nowhere), may lock again (and so
resolve from the whole mirror), or reads more than the lock.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

from ...dockerfile.pylocks import locks_named
from ...errors import UserMessageError
from . import CannotTell
from .closure import Locked

# Characters that make a command more than one plain call (the shell's), and a word.
_PLAIN = r"[^;&|()<>`$'\"\\]"
_WORD = r"[^\s;&|()<>`$'\"\\]"
_PROGRAM = rf"(?:{_WORD}*/)?"  # a program, by name or path
_OPTIONS = rf"(?: -{_WORD}*)*"  # the program's own options, before the subcommand
_WORDS = rf"(?: {_PLAIN}*)?"  # the rest of the call

# `pip install` (pip 26.1+), `uv pip install` and `uv pip sync` of pylock.toml files.
PYLOCK_COMMAND = re.compile(rf"{_PROGRAM}(?:pip3?(?:\.\d+)?|python3?(?:\.\d+)? -m pip|uv{_OPTIONS}"
                            rf" pip) (?:install|sync){_WORDS}")
POETRY_COMMAND = re.compile(rf"{_PROGRAM}poetry{_OPTIONS} (?:install|sync){_WORDS}")
PDM_COMMAND = re.compile(rf"{_PROGRAM}pdm{_OPTIONS} (?:install|sync){_WORDS}")
PIPENV_COMMAND = re.compile(rf"{_PROGRAM}pipenv{_OPTIONS} (?:install|sync){_WORDS}")

# Options of pip and uv pip that take a value and change no file read from the mirror.
_PIP_VALUES = ("-r", "--requirement", "--requirements", "--python", "-p", "--target", "-t",
               "--prefix", "--root", "--cache-dir", "--python-version", "--root-user-action")
# Flags of pip and uv pip that change no file read from the mirror.
_PIP_FLAGS = ("-q", "-qq", "-v", "-vv", "--quiet", "--verbose", "--user", "--system",
              "--no-cache-dir", "--no-cache", "-U", "--upgrade", "--force-reinstall",
              "--reinstall", "--no-deps", "--require-hashes", "--break-system-packages",
              "--no-compile", "--compile", "--compile-bytecode", "--strict", "--dry-run",
              "--disable-pip-version-check", "--no-warn-script-location", "--no-input",
              "--only-binary=:all:", "--no-build")
_SHA256 = re.compile(r"--hash=sha256:([0-9a-fA-F]{64})")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _after(command: str, verbs: Iterable[str]) -> tuple[str, list[str]]:
    """(the subcommand, the words after it) of a call whose subcommand is one of ``verbs``."""
    words = _words(command)
    at = next(i for i, word in enumerate(words) if word in verbs)
    return words[at], words[at + 1:]


def pylock_paths(command: str) -> list[str]:
    """The pylock.toml files a pip or uv pip call installs, as written (none: it installs
    no lock); CannotTell when it installs anything else too."""
    verb, words = _after(command, ("install", "sync"))
    named = locks_named(shlex.join(words), positional=verb == "sync")
    if not named:
        return []  # not a lock's install: a plain `pip install NAME`, say
    taking = False
    for word in words:
        if taking:
            taking = False
            continue
        option = word.split("=", 1)[0]
        if word in _PIP_FLAGS or (option in _PIP_VALUES and "=" in word) or \
                (word.startswith("-r") and not word.startswith("--") and len(word) > 2):
            continue
        if word in _PIP_VALUES:
            taking = True
            continue
        if not (verb == "sync" and word in named):
            raise CannotTell(f"{command}: {word} may make it install more than the lock")
    return named


def _hashes(lines: Iterable[str]) -> frozenset[tuple[str, str]]:
    """(project, sha256) of hash-pinned requirement lines (``name==1.0 ; m --hash=sha256:...``)."""
    found: set[tuple[str, str]] = set()
    for line in lines:
        name = _NAME.match(line)
        if name is not None:
            found.update((canonicalize_name(name.group(1)), digest.lower())
                         for digest in _SHA256.findall(line))
    return frozenset(found)


def read_pylock_lock(path: Path, command: str) -> Locked:
    """The files of a pylock.toml: every index file it names (a path file is not the mirror's)."""
    from ...mirror.pylock import pylock_picks, read_pylock

    try:
        lock = read_pylock(path)
        picks = pylock_picks(lock, where=str(path))
    except UserMessageError as error:
        raise CannotTell(str(error)) from None
    for package in lock["packages"]:
        if not isinstance(package, dict):
            continue
        built = next((key for key in ("vcs", "directory", "archive") if key in package), None)
        sdist = package.get("sdist")
        if built is None and isinstance(sdist, dict) and "path" in sdist and \
                not package.get("wheels"):
            built = "sdist path"
        if built is not None:
            raise CannotTell(f"{path.name} installs {package.get('name')} from a {built}, "
                             "whose build dependencies nobody lists")
    requires_python = lock.get("requires-python")
    return Locked(frozenset(pick.filename for pick in picks),
                  requires_python if isinstance(requires_python, str) else None, str(path))


def read_poetry(path: Path, command: str) -> Locked:
    """The files of poetry.lock that ``poetry install``/``sync`` may take: every group's."""
    from ...mirror.poetrylock import builds_root, pinned_requirements, read_poetry_lock

    _, words = _after(command, ("install", "sync"))
    if any(word in ("-C", "-P") or word.startswith(("--directory", "--project")) for word in words):
        raise CannotTell(f"{command}: Poetry reads another project's poetry.lock")
    try:
        lines, left_out = pinned_requirements(read_poetry_lock(path), where=str(path))
        root = "--no-root" not in words and builds_root(path.parent)
    except UserMessageError as error:
        raise CannotTell(str(error)) from None
    if left_out:
        raise CannotTell(f"poetry installs {', '.join(left_out)} of {path.name} from a source "
                         "of its own, not the mirror's files")
    if root:
        raise CannotTell(f"{command} builds the project itself, whose build backend's needs "
                         "are known only by asking it (`--no-root` leaves the project out)")
    return Locked(frozenset(), None, str(path), _hashes(lines))


def read_pdm(path: Path, command: str) -> Locked:
    """The files of pdm.lock that ``pdm sync`` or ``pdm install --check`` may take."""
    from ...mirror.pdmlock import builds_itself, lock_requirements, read_pdm_lock

    verb, words = _after(command, ("install", "sync"))
    if any(word in ("-p", "-L", "-g") or word.startswith(("--project", "--lockfile", "--global"))
           for word in words):
        raise CannotTell(f"{command}: PDM reads another project's pdm.lock")
    if verb == "install" and "--check" not in words:
        raise CannotTell(f"{command} locks again when pdm.lock is out of date (with --check it "
                         "fails instead)")
    try:
        lock = read_pdm_lock(path)
        lines = lock_requirements(lock, where=str(path))
    except UserMessageError as error:
        raise CannotTell(str(error)) from None
    built = [str(p.get("name")) for p in lock.get("package", [])
             if isinstance(p, dict) and not p.get("files")]
    if built:
        raise CannotTell(f"pdm builds {', '.join(built)} of {path.name} (from a path, a URL or "
                         "a VCS), whose build dependencies nobody lists")
    if not {"--no-self", "--no-default"} & set(words) and builds_itself(path.parent):
        raise CannotTell(f"{command} builds the project itself, whose build backend's needs "
                         "are known only by asking it (`--no-self` leaves the project out)")
    return Locked(frozenset(), None, str(path), _hashes(lines))


def read_pipenv(path: Path, command: str) -> Locked:
    """The files of Pipfile.lock that ``pipenv sync`` or ``pipenv install --deploy`` may take.

    pipenv and the seeds of the virtual environment it makes (virtualenv's
    own wheels) are in the image already: the step reads the lock's files alone.
    """
    from ...mirror.pipfile import read_pipfile_lock

    verb, words = _after(command, ("install", "sync"))
    if verb == "install" and not {"--deploy", "--ignore-pipfile"} & set(words):
        raise CannotTell(f"{command} locks again when Pipfile.lock is out of date (with "
                         "--deploy it fails instead)")
    values = {i + 1 for i, word in enumerate(words) if word in ("--python", "--categories")}
    extra = [word for i, word in enumerate(words) if not word.startswith("-") and i not in values]
    if extra or any(word.startswith("--extra-pip-args") for word in words):
        raise CannotTell(f"{command} installs more than {path.name}")
    try:
        lock = read_pipfile_lock(path)
    except UserMessageError as error:
        raise CannotTell(str(error)) from None
    if lock.left_out:
        raise CannotTell(f"pipenv builds {', '.join(lock.left_out)} of {path.name} (from a "
                         "path, a URL or a VCS), whose build dependencies nobody lists")
    return Locked(frozenset(), None, str(path), _hashes(lock.requirements))

