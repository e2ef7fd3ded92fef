"""Which ``poetry install`` steps read the build context's poetry.lock, and where.

Poetry reads no pip or uv configuration, and takes the packages of a
poetry.lock from the public index unless pyproject.toml names another
source; a source is part of the lock's content-hash. So ``--inject`` lays,
for that step alone, copies of the project's pyproject.toml (with the mirror
as its one, primary source) and poetry.lock (with the content-hash of that
copy) over the ones Poetry reads (:func:`dockerpypi.mirror.poetrylock.mirror_copies`
writes them; they travel in the ``dockerpypi-locks`` stage of :mod:`.lock_mounts`).

Poetry reads an index only over HTTP(S), not from a directory, so a step
whose mirror is the local directory also runs a read-only HTTP server on
its own loopback first (:data:`SERVER_PORT`, from ``loopback_index.py``
mounted at :data:`SERVER_TARGET`), with the image's Python. Pure text, after
the rules of :mod:`.grammar`; what cannot be told (a variable in a path,
``poetry -C DIR``) is left alone, with a note.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from .lock_mounts import LOCKS_STAGE, Copy, landed_from, mounted_from
from .vocabulary import POETRY_LOCK, STEP_DIR, poetry_call

PYPROJECT = "pyproject.toml"
PROJECT_FILES = (PYPROJECT, POETRY_LOCK)
# Where the copies are in the dockerpypi-locks context: poetry/<project dir>/<file>.
OVERLAY_DIR = "poetry"
# The server script in that context, and where a step sees it.
SERVER_SOURCE = f"{OVERLAY_DIR}/loopback_index.py"
SERVER_TARGET = f"{STEP_DIR}/loopback_index.py"
# The port of that server on the step's own loopback (each step has its own
# network namespace): fixed, as the copy of pyproject.toml names it, and the
# same for every build, so that an unchanged step stays cached.
SERVER_PORT = 47613
SERVER_URL = f"http://127.0.0.1:{SERVER_PORT}/"
COMMENT = ("# dockerpypi --inject: pyproject.toml and poetry.lock with the mirror as their "
           "source, mounted over the project's for this step only")
_ELSEWHERE = re.compile(r"(?:^|\s)(?:-C|-P|--directory|--project)\b")


def overlay_source(project: str, name: str) -> str:
    """Where the copy of ``name`` of the project directory ``project`` is in the context."""
    return posixpath.join(OVERLAY_DIR, project, name)


def project_overlay(text: str, mounts: list[dict[str, str]], *, workdir: str | None,
                    copies: tuple[Copy, ...], where: str, notes: list[str],
                    has_project: Callable[[str], bool]) -> tuple[str, str] | None:
    """(project directory in the build context, directory in the step) of the
    poetry.lock a step's ``poetry install`` reads, else None.

    ``mounts`` are the step's own ``--mount`` options, ``copies`` what COPY
    and ADD took from the build context in its stage.
    Poetry reads both from its working directory: each is either
    bind-mounted there or was copied there, from one directory of the
    context. ``has_project`` says which directories may be overlaid; the
    others get a note.
    """
    calls = list(poetry_call().finditer(text))
    if not calls:
        return None
    if any(_ELSEWHERE.search(call.group("options")) for call in calls):
        notes.append(f"{where}: poetry -C/--directory/--project: its pyproject.toml and "
                     "poetry.lock are used as they are (the public index); run poetry in the "
                     "project's WORKDIR instead")
        return None
    if workdir is None:
        notes.append(f"{where}: poetry install reads pyproject.toml and poetry.lock as they "
                     "are (the WORKDIR has a variable)")
        return None
    sources = {}
    for name in PROJECT_FILES:
        path = posixpath.join(workdir, name)
        covered, source = mounted_from(mounts, workdir, path)
        if not covered:
            source = landed_from(copies, path)
        if source is not None:
            sources[name] = source
    if len(sources) < len(PROJECT_FILES):
        if sources:
            notes.append(f"{where}: poetry install: {', '.join(sorted(sources))} of the build "
                         f"context is in {workdir}, but not both of {' and '.join(PROJECT_FILES)}"
                         ", so Poetry reads them as they are")
        return None
    directories = {posixpath.dirname(source) for source in sources.values()}
    project = directories.pop()
    if directories or any(posixpath.basename(s) != n for n, s in sources.items()):
        notes.append(f"{where}: poetry install reads pyproject.toml and poetry.lock from two "
                     "places of the build context, so it reads them as they are")
        return None
    if not has_project(project):
        notes.append(f"{where}: poetry install reads {posixpath.join(project, POETRY_LOCK)} "
                     "as it is (not in the build context, or not served by the mirror)")
        return None
    return project, workdir


def overlay_mounts(project: str, directory: str, serve: bool) -> list[str]:
    """The mounts of the copies of ``project``'s files at ``directory``, and of the server."""
    mounts = [f"--mount=type=bind,from={LOCKS_STAGE},source={overlay_source(project, name)},"
              f"target={posixpath.join(directory, name)}" for name in PROJECT_FILES]
    if serve:
        mounts.append(f"--mount=type=bind,from={LOCKS_STAGE},source={SERVER_SOURCE},"
                      f"target={SERVER_TARGET}")
    return mounts


def server_prefix(mount_point: str) -> str:
    """The line of the step's prefix that starts the server (and stops the step if it cannot)."""
    return (f'"$(command -v python3 || command -v python)" -B {SERVER_TARGET} {mount_point} '
            f"{SERVER_PORT} || exit 1;")
