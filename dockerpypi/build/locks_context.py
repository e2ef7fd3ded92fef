"""The ``dockerpypi-locks`` build context for steps that mount lock files from it.

``--inject`` adds such mounts and supplies the context itself
(:mod:`.injected`). Steps written by ``dockerpypi render --installer
uv-sync`` mount it as they stand, and a plain ``dockerpypi build`` supplies
it here: every lock file a ``RUN`` mounts from :data:`LOCKS_STAGE` (uv.lock
or pylock.toml), read from the build context and rewritten for the mirror at
the steps' mount point (:func:`dockerpypi.mirror.lockfile.rewrite_lock`,
:func:`dockerpypi.mirror.pylock.rewrite_pylock`), in a private directory for
as long as the build lasts. The user's files are never changed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .. import files
from ..dockerfile import grammar
from ..dockerfile.lock_mounts import LOCKS_STAGE, context_path
from ..dockerfile.vocabulary import UV_LOCK, is_pylock_name
from ..errors import UsageError, UserMessageError
from .command import dockerfile_path, parse_docker_args

if TYPE_CHECKING:
    from .pipeline import BuildRun


def mounted_locks(text: str) -> list[str]:
    """The lock files (paths in the build context) that the ``RUN`` steps of ``text`` mount
    from :data:`LOCKS_STAGE`."""
    try:
        lines = grammar.split_lines(text).lines
        directives = grammar.read_directives(lines)
        instructions = grammar.parse_instructions(lines, directives.end, directives.escape)
    except UserMessageError:
        return []  # docker will say what is wrong with it
    found: list[str] = []
    for instruction in instructions:
        if instruction.keyword.upper() != "RUN":
            continue
        flags, _ = grammar.split_flags(instruction.args)
        for flag in flags:
            if not flag.startswith("--mount="):
                continue
            mount = grammar.mount_options(flag)
            if mount["type"] == "bind" and mount.get("from", "").lower() == LOCKS_STAGE:
                found.append(context_path(mount.get("source") or mount.get("src") or ""))
    return list(dict.fromkeys(found))


@contextmanager
def supplied(run: BuildRun) -> Iterator[BuildRun]:
    """``run`` with the :data:`LOCKS_STAGE` context its Dockerfile's steps mount from, if any."""
    dockerfile = dockerfile_path(run.given)
    if LOCKS_STAGE in run.given.build_contexts or dockerfile is None:
        yield run
        return
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""  # docker will say why it cannot read it
    sources = mounted_locks(text)
    if not sources:
        yield run
        return
    where = f"{dockerfile}: a step mounts {sources[0]} from {LOCKS_STAGE}"
    if run.given.local_path is None:
        raise UsageError(f"{where}, which dockerpypi writes from the build context's lock, "
                         "and the build context is not a local directory",
                         fix="build a local directory")
    if run.transport.kind != "context" or run.mirror_dir is None or not any(
            mirror.is_local for mirror in run.settings.mirrors.value):
        raise UsageError(f"{where}, a lock naming the local mirror directory, which this build "
                         "does not mount (no local mirror, or the http transport)",
                         fix="build with a local mirror on an engine with named build contexts")
    from ..mirror.lockfile import rewrite_lock

    context = Path(run.given.local_path)
    rewritten: dict[str, str] = {}
    for source in sources:
        name = posixpath.basename(source)
        if name != UV_LOCK and not is_pylock_name(name):
            raise UsageError(f"{dockerfile}: a step mounts {source} from {LOCKS_STAGE}, and "
                             f"dockerpypi writes only {UV_LOCK} and pylock.toml files there",
                             fix=f"mount such a lock from it, or give --build-context "
                                 f"{LOCKS_STAGE}=DIR yourself")
        try:
            lock = (context / source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{dockerfile}: a step mounts {source} from {LOCKS_STAGE}, and "
                             f"the build context has no readable {source} ({error})",
                             fix="run `uv lock` in the project, or fix the step's source=") \
                from None
        mount_point = run.settings.mount_point.value
        if name == UV_LOCK:
            rewritten[source] = rewrite_lock(lock, mount_point)
        else:
            from ..mirror.pylock import rewrite_pylock

            rewritten[source] = rewrite_pylock(lock, mount_point, where=str(context / source))
    with files.private_files({}, tree=rewritten) as written:
        args = list(run.given.args)
        end = args.index("--") if "--" in args else len(args)
        args[end:end] = ["--build-context", f"{LOCKS_STAGE}={written[files.TREE]}"]
        yield run.with_args(parse_docker_args(args))
