"""Steps that install a lock file: the files they read, one reader per kind of lock.

A step with a command of its own (not a rendered requirements step) still
gets a subset when it installs a lock file: the lock names every file the
step can read from the mirror, and :func:`.closure.select` sends those that
fit the target (:class:`.closure.Locked`). uv.lock is read here; another kind
of lock plugs in with one entry in :data:`LOCK_KINDS`, keyed by the lock
file's name::

    LOCK_KINDS["poetry.lock"] = LockKind(command=re.compile(r"poetry install( .*)?"),
                                         read=read_poetry_lock)

- ``command`` must match the step's whole command (what it runs after the
  prefix dockerpypi writes, blanks made single): a step that runs anything
  more (``uv sync && pip install x``) is not followed, and the whole mirror
  is sent, as for any custom command.
- ``read(path, command)`` returns the :class:`.closure.Locked` of the lock at
  ``path`` for a step running ``command``: the mirror file names it names
  (every platform's wheels and the sdists; the subset keeps what fits the
  target), its requires-python, and ``origin`` (the lock, for messages). It
  raises :class:`CannotTell` when the step needs more than the lock's files
  (a project it builds: its build dependencies are listed nowhere) or the
  lock cannot be read. A lock that names versions, not files, gives the
  names of the mirror's files of those versions.

A step reads the lock it bind-mounts: from the build context, or the copy
that ``dockerpypi build`` rewrites for the mirror, bind-mounted from the
``dockerpypi-locks`` context (``--inject`` and ``dockerpypi render
--installer uv-sync`` mount it over the lock, with the same source path).
A lock a ``COPY`` put into the image and that no mount lays over is not
followed (the whole mirror is sent).
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ...dockerfile.lock_mounts import LOCKS_STAGE, context_path
from ...dockerfile.steps import OtherStep
from ...dockerfile.vocabulary import UV_LOCK
from ...errors import UserMessageError
from . import CannotTell
from .closure import Locked


class LockKind(NamedTuple):
    """How the subset follows one kind of lock file (see the module's docstring)."""

    command: re.Pattern[str]  # the whole command of a step that installs the lock
    read: Callable[[Path, str], Locked]  # (the lock in the build context, the command)


class StepLocks(NamedTuple):
    """What a step installs from lock files, and their texts (for the kept subset)."""

    locked: tuple[Locked, ...]
    sources: dict[str, str]  # the lock files read: path in the build context -> text


# A `uv sync` alone, with options (none that moves the project or needs a
# shell): the command --inject and `render --installer uv-sync` mount a lock for.
_UV_SYNC = re.compile(r"(?:[^\s;&|()<>`$'\"\\]*/)?uv(?: -[^\s;&|()<>`$'\"\\]*)* sync"
                      r"(?: [^;&|()<>`$'\"\\]*)?")
# Options that make uv sync read another lock, or build every package from source.
_NOT_FOLLOWED = re.compile(r"(?:^| )--(?:project|directory|no-binary)\b")


def _uv_built(lock: Mapping[str, Any], words: list[str]) -> str | None:
    """A package ``uv sync`` (with ``words``) builds from the lock, as "name (where)"; or None."""
    packages = [p for p in lock.get("package", []) if isinstance(p, dict)]
    members = (lock.get("manifest") or {}).get("members") or [
        p.get("name") for p in packages if (p.get("source") or {}).get("editable") == "."
        or (p.get("source") or {}).get("virtual") == "."]
    for package in packages:
        source = package.get("source") or {}
        kind, where = next(iter(source.items()), (None, None))
        if kind in ("registry", "virtual") or str(where).endswith(".whl"):
            continue  # from the mirror, never built, or a wheel from elsewhere
        if "--no-install-local" in words and kind in ("editable", "directory", "path"):
            continue
        if package.get("name") in members and (
                "--no-install-workspace" in words
                or ("--no-install-project" in words and where == ".")):
            continue
        return f"{package.get('name')} ({kind} {where})"
    return None


def read_uv_lock(path: Path, command: str) -> Locked:
    """The files a ``uv sync`` step (``command``) reads from the mirror: the lock's own."""
    from ...mirror.lockfile import lock_filenames, read_lock

    if _NOT_FOLLOWED.search(command):
        raise CannotTell(f"{command}: its options make uv read more than {path.name}")
    try:
        lock = read_lock(path)
        files = lock_filenames(lock, where=str(path))
    except UserMessageError as error:
        raise CannotTell(str(error)) from None
    built = _uv_built(lock, command.split())
    if built is not None:
        raise CannotTell(f"uv sync builds {built} of {path.name}, whose build dependencies "
                         "nobody lists (`--no-install-project` leaves the project out)")
    requires_python = lock.get("requires-python")
    return Locked(files, requires_python if isinstance(requires_python, str) else None, str(path))


# The kinds of lock file the subset follows, by file name.
LOCK_KINDS: dict[str, LockKind] = {
    UV_LOCK: LockKind(_UV_SYNC, read_uv_lock),
}


def step_locks(context: Path, step: OtherStep) -> StepLocks | None:
    """The lock files ``step`` installs from, read from ``context``; None when it installs none.

    None means the step is a custom command whose needs cannot be told.
    """
    if step.command is None:
        return None
    locked: list[Locked] = []
    sources: dict[str, str] = {}
    for name, kind in LOCK_KINDS.items():
        if not kind.command.fullmatch(step.command):
            continue
        found = dict.fromkeys(context_path(source) for stage, source, target in step.binds
                              if stage.lower() in ("", LOCKS_STAGE)
                              and posixpath.basename(target) == name)
        for relative in found:
            path = context / relative
            try:
                sources[relative] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise CannotTell(f"cannot read the lock file {relative} ({error})") from None
            locked.append(dataclasses.replace(kind.read(path, step.command), origin=relative))
    return StepLocks(tuple(locked), sources) if locked else None
