"""Lock files a step reads, and the mirror's copy of each mounted over it for that step.

Some installers take file URLs from a lock rather than from the index the
step configures: ``uv sync`` with uv.lock (:mod:`.uv_locks`), ``pip install
-r pylock.toml`` and ``uv pip install``/``sync`` with a PEP 751 lock
(:mod:`.pylocks`). ``--inject`` gives such a step a copy of the lock that
names the mirror instead, bind-mounted from :data:`LOCKS_STAGE` over the
lock the step reads, so the lock in the build context and in the image stays
the user's. What is shared by every kind is here: where a path of the step
comes from in the build context (a bind mount of the step, or a ``COPY`` or
``ADD`` of its stage), and the mount itself. Pure text, after the rules of
:mod:`.grammar`; what cannot be told (a variable in a path) is left alone.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import NamedTuple

from . import grammar

# The stage a step takes the copies from. `dockerpypi build` fills it with
# the build context's locks, rewritten; the locks in the image stay the user's.
LOCKS_STAGE = "dockerpypi-locks"


class Overlay(NamedTuple):
    """The copy of the lock ``source`` (of the build context), read as ``kind``, at ``target``."""

    kind: str  # vocabulary.UV_LOCK or vocabulary.PYLOCK
    source: str
    target: str


class Copy(NamedTuple):
    """A COPY or ADD from the build context: its sources, and where they went."""

    into: str  # the destination, absolute
    # (path in the context, "" for its root; whether written as a directory, a/)
    sources: tuple[tuple[str, bool], ...]
    directory: bool  # the destination is a directory: file sources keep their names


def next_workdir(workdir: str | None, given: str) -> str | None:
    """The working directory after ``WORKDIR given``; None when it cannot be told."""
    given = given.strip().strip('"')
    if "$" in given or (workdir is None and not given.startswith("/")):
        return None
    return posixpath.normpath(posixpath.join(workdir or "/", given))


def in_step(workdir: str | None, path: str) -> str | None:
    """``path`` as written in a step, made absolute; None when it cannot be told."""
    if "$" in path or (workdir is None and not path.startswith("/")):
        return None
    return posixpath.normpath(posixpath.join(workdir or "/", path))


def context_path(source: str) -> str:
    """``source`` (a COPY source or bind-mount ``source``) as a path inside the build context.

    BuildKit reads such paths relative to the context's root, and a ``..``
    stops there (``../uv.lock`` is the context's ``uv.lock``): the same here,
    so no path read or rewritten leaves the context. ``""`` is the root.
    """
    return posixpath.normpath(posixpath.join("/", source)).lstrip("/")


def copied(workdir: str | None, flags: list[str], rest: str) -> tuple[Copy, ...]:
    """What a COPY or ADD (its ``flags`` and the ``rest``) takes from the build context."""
    if any(flag.startswith("--from=") for flag in flags):
        return ()
    words = grammar.exec_form(rest)
    try:
        words = words if words is not None else shlex.split(rest)
    except ValueError:
        return ()
    if len(words) < 2 or any("$" in word for word in words):
        return ()
    *sources, dest = words
    if workdir is None and not dest.startswith("/"):
        return ()
    into = posixpath.normpath(posixpath.join(workdir or "/", dest))
    # Docker copies into a destination that is an existing directory: the
    # WORKDIR is one, with or without its trailing slash.
    directory = len(sources) > 1 or dest.endswith("/") or dest in (".", "..") or into == workdir
    # Globs are not followed, nor what ADD fetches from elsewhere (a URL, a git repository).
    return (Copy(into, tuple((context_path(word), word.endswith("/") or context_path(word) == "")
                             for word in sources if not any(c in word for c in "*?[")
                             and "://" not in word and not word.startswith("git@")),
                 directory),)


def _under(path: str, directory: str) -> str | None:
    """``path`` relative to ``directory`` ("" for itself), or None when not under it."""
    if path == directory:
        return ""
    prefix = directory.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


def landed_from(copies: tuple[Copy, ...], path: str) -> str | None:
    """The build context's file that the last of ``copies`` to reach ``path`` put there.

    A source written as a directory (``.``, ``app/``) brings its whole tree;
    a file source lands in the destination under its own name, or as the
    destination itself. A source that may be a directory but is written as
    a file (``COPY app /app``) is read as a file.
    """
    for copy in reversed(copies):
        for source, tree in reversed(copy.sources):
            if tree:
                relative = _under(path, copy.into)
                if relative:
                    return posixpath.join(source, relative) if source else relative
            elif path == (posixpath.join(copy.into, posixpath.basename(source))
                          if copy.directory else copy.into):
                return source
    return None


def mounted_from(mounts: list[dict[str, str]], workdir: str | None, path: str
                 ) -> tuple[bool, str | None]:
    """(whether a mount of the step covers ``path``, the context file there or None).

    The deepest mount whose target holds ``path`` decides, the last of equal
    ones (BuildKit's order); only a bind mount of the build context (no
    ``from=``) has a file of it there.
    """
    best: tuple[int, dict[str, str], str] | None = None
    for mount in mounts:
        written = grammar.mount_target(mount)
        # No target: a secret or ssh mount at its own default place, never a lock's.
        target = in_step(workdir, written) if written else None
        relative = None if target is None else _under(path, target)
        if target is not None and relative is not None and \
                (best is None or len(target) >= best[0]):
            best = (len(target), mount, relative)
    if best is None:
        return False, None
    _, mount, relative = best
    if mount["type"] != "bind" or "from" in mount:
        return True, None
    source = mount.get("source") or mount.get("src") or ""
    if "$" in source:
        return True, None
    return True, context_path(posixpath.join(source, relative) if relative else source)


def overlay_mount(overlay: Overlay) -> str:
    """The mount of the copy of ``overlay.source`` at ``overlay.target``."""
    return f"--mount=type=bind,from={LOCKS_STAGE},source={overlay.source},target={overlay.target}"
