"""Steps that install a lock file: the files they read, one reader per kind of lock.

A step with a command of its own (not a rendered requirements step) still
gets a subset when it installs a lock file: the lock names every file the
step can read from the mirror, and :func:`.closure.select` sends those that
fit the target (:class:`.closure.Locked`). uv.lock is read here, pylock.toml,
poetry.lock, pdm.lock and Pipfile.lock in :mod:`.readers`; another kind of
lock plugs in with one entry in :data:`LOCK_KINDS`, keyed by the kind's name::

    LOCK_KINDS["poetry.lock"] = LockKind(command=re.compile(r"poetry install( .*)?"),
                                         read=read_poetry, paths=lambda command: ["poetry.lock"])

- ``command`` must match the step's whole command (what it runs after the
  prefix dockerpypi writes, blanks made single, and for Poetry after the
  line that starts the mirror's loopback server): a step that runs anything
  more (``uv sync && pip install x``) is not followed, and the whole mirror
  is sent, as for any custom command.
- ``paths(command)`` are the lock files the command reads, as it would
  write them (relative to the step's WORKDIR): none means the command
  installs no lock of this kind; :class:`CannotTell` when it installs more.
- ``read(path, command)`` returns the :class:`.closure.Locked` of the lock at
  ``path`` for a step running ``command``: the mirror file names it names
  (every platform's wheels and the sdists; the subset keeps what fits the
  target), or the sha256 of its files when it names versions, not files;
  its requires-python, and ``origin`` (the lock, for messages). It raises
  :class:`CannotTell` when the step needs more than the lock's files (a
  project it builds: its build dependencies are listed nowhere; a lock it
  may write again) or the lock cannot be read.

The lock a step reads must be told to be a file of the build context: the
copy that ``dockerpypi build`` rewrites for the mirror, bind-mounted from the
``dockerpypi-locks`` context over it (as ``--inject`` and ``dockerpypi
render --installer uv-sync`` write it; the copy is of the context's file);
a file the step bind-mounts from the context; or one a ``COPY`` or ``ADD``
of its stage put there, with nothing seen to change it since: no later
COPY or ADD whose files cannot be told, no RUN that names the file or runs
a ``lock``. Otherwise the step is a custom command (the whole mirror is sent).
"""

from __future__ import annotations

import contextlib
import dataclasses
import posixpath
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ...dockerfile.lock_mounts import (
    LOCKS_STAGE,
    context_path,
    in_step,
    landed_from,
    mounted_from,
)
from ...dockerfile.poetry_steps import (
    OVERLAY_DIR,
    PROJECT_FILES,
    PYPROJECT,
    SERVER_SOURCE,
    server_prefix,
)
from ...dockerfile.steps import OtherStep
from ...dockerfile.vocabulary import PDM_LOCK, PIPFILE_LOCK, POETRY_LOCK, PYLOCK, UV_LOCK
from ...errors import UserMessageError
from . import CannotTell
from .closure import Locked
from .readers import (
    PDM_COMMAND,
    PIPENV_COMMAND,
    POETRY_COMMAND,
    PYLOCK_COMMAND,
    pylock_paths,
    read_pdm,
    read_pipenv,
    read_poetry,
    read_pylock_lock,
)


class LockKind(NamedTuple):
    """How the subset follows one kind of lock file (see the module's docstring)."""

    command: re.Pattern[str]  # the whole command of a step that installs the lock
    read: Callable[[Path, str], Locked]  # (the lock in the build context, the command)
    paths: Callable[[str], list[str]]  # the locks the command reads, as written
    # Files beside the lock that ``read`` reads too (whether the project is built):
    # a kept subset is chosen again when they change.
    beside: tuple[str, ...] = ()


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


# The kinds of lock file the subset follows, by name.
LOCK_KINDS: dict[str, LockKind] = {
    UV_LOCK: LockKind(_UV_SYNC, read_uv_lock, lambda command: [UV_LOCK]),
    PYLOCK: LockKind(PYLOCK_COMMAND, read_pylock_lock, pylock_paths),
    POETRY_LOCK: LockKind(POETRY_COMMAND, read_poetry, lambda command: [POETRY_LOCK],
                          (PYPROJECT,)),
    PDM_LOCK: LockKind(PDM_COMMAND, read_pdm, lambda command: [PDM_LOCK], (PYPROJECT,)),
    PIPFILE_LOCK: LockKind(PIPENV_COMMAND, read_pipenv, lambda command: [PIPFILE_LOCK]),
}

# The line before a Poetry step's command that starts the mirror's loopback server.
_SERVER = re.compile(re.escape(" ".join(server_prefix("MOUNT-POINT").split()) + " ")
                     .replace("MOUNT\\-POINT", r"\S+"))
# A RUN that may change a lock file without naming it: one that locks again.
_LOCKS_AGAIN = re.compile(r"(?:^|[\s;&|(])(?:uv|poetry|pdm|pipenv)\b[^;&|\n]*\slock\b")


def _command(step: OtherStep) -> str | None:
    """The step's command, after the server line of a Poetry step of ``--inject``."""
    if step.command is None:
        return None
    if any(stage.lower() == LOCKS_STAGE and source == SERVER_SOURCE
           for stage, source, _ in step.binds):
        return _SERVER.sub("", step.command, count=1)
    return step.command


def _copy_of(source: str) -> str:
    """The build context's file whose copy is ``source`` of the dockerpypi-locks context."""
    head, _, rest = context_path(source).partition("/")
    if head == OVERLAY_DIR and posixpath.basename(rest) in PROJECT_FILES:
        return rest  # Poetry's copies: poetry/<project directory>/poetry.lock
    return context_path(source)


def _changed(step: OtherStep, path: str, since: int) -> bool:
    """Whether something after the ``since``-th COPY of the stage may have changed ``path``."""
    name = posixpath.basename(path)
    for copies, instruction in step.changes:
        if copies < since:
            continue
        verb, _, text = instruction.partition(" ")
        if verb != "RUN" or name in text or _LOCKS_AGAIN.search(text):
            return True
    return False


def context_file(step: OtherStep, written: str) -> str | None:
    """The build context's file that the step reads at ``written`` (as its command
    writes it); None when that cannot be told (see the module's docstring)."""
    target = in_step(step.workdir, written)
    if target is None:
        return None
    for stage, source, mounted in step.binds:
        if stage.lower() == LOCKS_STAGE and in_step(step.workdir, mounted) == target:
            return _copy_of(source)
    mounts = [{"type": "bind", "source": source, "target": mounted,
               **({"from": stage} if stage else {})} for stage, source, mounted in step.binds]
    mounts += [dict(pairs) for pairs in step.mounts if dict(pairs).get("type") != "bind"]
    covered, bound = mounted_from(mounts, step.workdir, target)
    if covered:
        return bound
    landed = [i for i, copy in enumerate(step.copies) if landed_from((copy,), target)]
    if not landed or _changed(step, target, landed[-1] + 1):
        return None
    return landed_from(step.copies, target)


def step_locks(context: Path, step: OtherStep) -> StepLocks | None:
    """The lock files ``step`` installs from, read from ``context``; None when it installs none.

    None means the step is a custom command whose needs cannot be told.
    """
    command = _command(step)
    if command is None:
        return None
    locked: list[Locked] = []
    sources: dict[str, str] = {}
    for kind in LOCK_KINDS.values():
        if not kind.command.fullmatch(command):
            continue
        written = kind.paths(command)
        found = [context_file(step, path) for path in written]
        if not written or None in found:
            return None
        for relative in dict.fromkeys(path for path in found if path is not None):
            path = context / relative
            try:
                sources[relative] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise CannotTell(f"cannot read the lock file {relative} ({error})") from None
            locked.append(dataclasses.replace(kind.read(path, command), origin=relative))
            for name in kind.beside:
                beside = posixpath.join(posixpath.dirname(relative), name)
                with contextlib.suppress(OSError, UnicodeDecodeError):  # none: nothing to follow
                    sources[beside] = (context / beside).read_text(encoding="utf-8")
        break
    return StepLocks(tuple(locked), sources) if locked else None
