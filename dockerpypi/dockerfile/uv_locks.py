"""Which ``uv sync`` steps read the build context's uv.lock, and where in the step.

uv keeps the index URL in uv.lock, so a step that configures the mirror
must read a copy of the lock that names the mirror instead
(:func:`dockerpypi.mirror.lockfile.rewrite_lock`), mounted over the lock
the step reads (:mod:`.lock_mounts`): the one the step bind-mounts itself
(as uv's Docker guide does), or the one a ``COPY`` or ``ADD`` put into the
step's ``WORKDIR``. What cannot be told (``uv sync --project``) is left
alone, with a note.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from . import grammar
from .lock_mounts import Copy, Overlay, context_path, landed_from
from .vocabulary import CALL_DIR, CALL_OPTIONS, CALL_START, UV_LOCK

LOCK_COMMENT = ("# dockerpypi --inject: uv.lock with the mirror as its index, mounted over "
                "the project's for this step only")
# A call of `uv sync`, after the rules of vocabulary.installers_called; with
# --project or --directory the lock is elsewhere (left alone, with a note).
_UV_SYNC = re.compile(rf"{CALL_START}{CALL_DIR}uv['\"]?({CALL_OPTIONS})\s+sync(?P<rest>[^;&|)\n]*)")
_ELSEWHERE = re.compile(r"(?:^|\s)--(?:project|directory)\b")


def lock_overlays(text: str, mounts: list[dict[str, str]], *, workdir: str | None,
                  copies: tuple[Copy, ...], where: str, notes: list[str],
                  has_lock: Callable[[str, str], bool]) -> list[Overlay]:
    """The uv.lock each of a step's ``uv sync`` calls reads, to be overlaid.

    ``text`` is the step's command, ``mounts`` its own ``--mount`` options,
    ``copies`` what COPY and ADD took from the build context in its stage.
    ``has_lock(UV_LOCK, source)`` says which sources may be overlaid; the
    others get a note.
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
            found.append(Overlay(UV_LOCK, context_path(source), target))
    if not found and workdir is not None:
        target = posixpath.join(workdir, UV_LOCK)
        copied = landed_from(copies, target)
        if copied is not None:
            found.append(Overlay(UV_LOCK, copied, target))
    for source in {overlay.source for overlay in found if not has_lock(UV_LOCK, overlay.source)}:
        notes.append(f"{where}: uv sync reads {source} as it is (not in the build context, "
                     "or not served by the mirror)")
    return [overlay for overlay in found if has_lock(UV_LOCK, overlay.source)]
