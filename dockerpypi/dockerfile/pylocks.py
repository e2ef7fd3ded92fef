"""Which steps install a pylock.toml (PEP 751) of the build context, and where in the step.

``pip install -r pylock.toml`` (pip 26.1+), ``uv pip install -r
pylock.toml`` and ``uv pip sync pylock.toml`` download each file from the
URL the lock gives, whatever index the step configures. The step must read a
copy whose files are paths into the mirror
(:func:`dockerpypi.mirror.pylock.rewrite_pylock`), mounted over the lock it
names (:mod:`.lock_mounts`): the lock's path as the command writes it, taken
from the step's WORKDIR, must be a file of the build context, bind-mounted by
the step or put there by a ``COPY`` or ``ADD`` of its stage. What cannot be
told (a variable in the path, a lock from another stage) is left alone, with
a note.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterator

from .lock_mounts import Copy, Overlay, in_step, landed_from, mounted_from
from .vocabulary import CALL_DIR, CALL_OPTIONS, CALL_PIP, CALL_START, PYLOCK, is_pylock_name

LOCK_COMMENT = ("# dockerpypi --inject: pylock.toml with its files in the mirror, mounted over "
                "the project's for this step only")
# `pip install`, `uv pip install` and `uv pip sync`, after the rules of
# vocabulary.installers_called, and the rest of that shell command.
_CALL = re.compile(rf"{CALL_START}(?:{CALL_PIP}\s+install|{CALL_DIR}uv['\"]?{CALL_OPTIONS}"
                   rf"\s+pip\s+(?P<uv>install|sync))(?P<rest>[^;&|)\n]*)")
_REQUIREMENT = ("-r", "--requirement", "--requirements")
_EXTRAS = re.compile(r"\[[^\]]*\]$")  # pip takes `-r pylock.toml[extra]`


def _named(rest: str, *, positional: bool) -> Iterator[str]:
    """The lock paths one call names: ``-r PATH`` (any spelling), and with
    ``positional`` (uv pip sync) its arguments too."""
    try:
        words = shlex.split(rest)
    except ValueError:
        words = rest.split()
    taking = False
    for word in words:
        if taking:
            value, taking = word, False
        elif word in _REQUIREMENT:
            taking = True
            continue
        elif word.startswith(tuple(f"{flag}=" for flag in _REQUIREMENT[1:])):
            value = word.split("=", 1)[1]
        elif word.startswith("-r") and not word.startswith("--"):
            value = word[2:]
        elif positional and not word.startswith("-"):
            value = word
        else:
            continue
        value = _EXTRAS.sub("", value)
        if is_pylock_name(posixpath.basename(value)):
            yield value


def locks_named(rest: str, *, positional: bool) -> list[str]:
    """The pylock.toml paths of a pip or uv pip call's arguments ``rest``, as written
    (``positional``: uv pip sync, whose arguments are locks too)."""
    return list(dict.fromkeys(_named(rest, positional=positional)))


def pylock_overlays(text: str, mounts: list[dict[str, str]], *, workdir: str | None,
                    copies: tuple[Copy, ...], where: str, notes: list[str],
                    has_lock: Callable[[str, str], bool]) -> list[Overlay]:
    """The pylock.toml each of a step's pip and uv pip calls installs, to be overlaid.

    ``text`` is the step's command, ``mounts`` its own ``--mount`` options,
    ``copies`` what COPY and ADD took from the build context in its stage.
    ``has_lock(PYLOCK, source)`` says which sources may be overlaid; the
    others get a note.
    """
    found: dict[str, Overlay] = {}
    for call in _CALL.finditer(text):
        for named in _named(call.group("rest"), positional=call.group("uv") == "sync"):
            target = in_step(workdir, named)
            if target is None:
                notes.append(f"{where}: {named} is read as it is (its path is not known "
                             "before the step runs)")
                continue
            covered, source = mounted_from(mounts, workdir, target)
            if not covered:
                source = landed_from(copies, target)
            if source is None:
                notes.append(f"{where}: {named} is read as it is (not a file of the build "
                             "context that the step mounts or a COPY put there)")
            elif not has_lock(PYLOCK, source):
                notes.append(f"{where}: {named} is read as it is (not in the build context, "
                             "or not served by the mirror)")
            else:
                found.setdefault(target, Overlay(PYLOCK, source, target))
    return list(found.values())
