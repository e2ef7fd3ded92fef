"""Which ``uv sync`` steps read the build context's uv.lock, and where in the step.

uv keeps the index URL in uv.lock, so a step that configures the mirror
must read a copy of the lock that names the mirror instead
(:func:`dockerpypi.mirror.lockfile.rewrite_lock`). ``--inject`` bind-mounts
that copy from :data:`LOCKS_STAGE` over the lock the step reads: the one the
step bind-mounts itself (as uv's Docker guide does), or the one a ``COPY``
or ``ADD`` put into the step's ``WORKDIR``. Pure text, after the rules of
:mod:`.grammar`; what cannot be told (a variable in a path, ``uv sync
--project``) is left alone, with a note.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable

from . import grammar
from .vocabulary import CALL_DIR, CALL_OPTIONS, CALL_START, UV_LOCK

# The stage a `uv sync` step takes its uv.lock from: a copy of the project's
# lock whose index is the mirror. `dockerpypi build` fills it; the lock in the
# image stays the user's.
LOCKS_STAGE = "dockerpypi-locks"
LOCK_COMMENT = ("# dockerpypi --inject: uv.lock with the mirror as its index, mounted over "
                "the project's for this step only")
# A call of `uv sync`, after the rules of vocabulary.installers_called; with
# --project or --directory the lock is elsewhere (left alone, with a note).
_UV_SYNC = re.compile(rf"{CALL_START}{CALL_DIR}uv['\"]?({CALL_OPTIONS})\s+sync(?P<rest>[^;&|)\n]*)")
_ELSEWHERE = re.compile(r"(?:^|\s)--(?:project|directory)\b")


def next_workdir(workdir: str | None, given: str) -> str | None:
    """The working directory after ``WORKDIR given``; None when it cannot be told."""
    given = given.strip().strip('"')
    if "$" in given or (workdir is None and not given.startswith("/")):
        return None
    return posixpath.normpath(posixpath.join(workdir or "/", given))


def context_path(source: str) -> str:
    """``source`` (a COPY source or bind-mount ``source``) as a path inside the build context.

    BuildKit reads such paths relative to the context's root, and a ``..``
    stops there (``../uv.lock`` is the context's ``uv.lock``): the same here,
    so no path read or rewritten leaves the context. ``""`` is the root.
    """
    return posixpath.normpath(posixpath.join("/", source)).lstrip("/")


def copied_locks(workdir: str | None, flags: list[str], rest: str,
                 name: str = UV_LOCK) -> frozenset[str]:
    """Where a COPY or ADD (its ``flags`` and the ``rest``) puts the build context's ``name``."""
    if any(flag.startswith("--from=") for flag in flags):
        return frozenset()
    words = grammar.exec_form(rest)
    try:
        words = words if words is not None else shlex.split(rest)
    except ValueError:
        return frozenset()
    if len(words) < 2 or any("$" in word for word in words):
        return frozenset()
    *sources, dest = words
    if workdir is None and not dest.startswith("/"):
        return frozenset()
    into = posixpath.normpath(posixpath.join(workdir or "/", dest))
    found = set()
    for source in (context_path(word) or "." for word in sources):
        if source == ".":
            found.add(posixpath.join(into, name))
        elif source == name:
            # Docker copies into a destination that is an existing directory:
            # the WORKDIR is one, with or without its trailing slash.
            directory = len(sources) > 1 or dest.endswith("/") or dest in (".", "..") or \
                into == workdir
            found.add(posixpath.join(into, name) if directory else into)
    return frozenset(found)


def lock_overlays(text: str, mounts: list[dict[str, str]], *, workdir: str | None,
                  copied: frozenset[str], where: str, notes: list[str],
                  has_lock: Callable[[str], bool]) -> list[tuple[str, str]]:
    """(source in the build context, target) of each uv.lock a step's ``uv sync`` reads.

    ``text`` is the step's command, ``mounts`` its own ``--mount`` options,
    ``copied`` where COPY and ADD put the context's uv.lock in its stage.
    ``has_lock`` says which sources may be overlaid; the others get a note.
    """
    calls = list(_UV_SYNC.finditer(text))
    if not calls:
        return []
    if any(_ELSEWHERE.search(f"{call.group(1)} {call.group('rest')}") for call in calls):
        notes.append(f"{where}: uv sync --project/--directory: its uv.lock is used as it is "
                     "(naming its own index); run uv sync in the project's WORKDIR instead")
        return []
    found = []
    for mount in mounts:
        target = grammar.mount_target(mount)
        if mount["type"] == "bind" and "from" not in mount and \
                posixpath.basename(target) == UV_LOCK:
            source = mount.get("source") or mount.get("src") or ""
            found.append((context_path(source), target))
    if not found and workdir is not None and posixpath.join(workdir, UV_LOCK) in copied:
        found.append((UV_LOCK, posixpath.join(workdir, UV_LOCK)))
    for source in {source for source, _ in found if not has_lock(source)}:
        notes.append(f"{where}: uv sync reads {source} as it is (not in the build context, "
                     "or not served by the mirror)")
    return [(source, target) for source, target in found if has_lock(source)]


def overlay_mount(source: str, target: str) -> str:
    """The mount of the copy of ``source`` (a uv.lock of the build context) at ``target``."""
    return f"--mount=type=bind,from={LOCKS_STAGE},source={source},target={target}"
