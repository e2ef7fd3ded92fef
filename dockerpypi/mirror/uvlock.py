"""``dockerpypi mirror add uv.lock``: the lock an argument names, and the plan to fetch.

The same plan serves a ``pylock.toml`` (PEP 751, read by :mod:`.pylock`):
its files are fetched, and checked, exactly as a uv.lock's.

A ``uv.lock`` lists every file of every locked package with its URL and
sha256. ``dockerpypi mirror add uv.lock`` fetches exactly those files (the
wheels that fit the target tags when they are given) with :mod:`.download`,
checked against the lock's hashes. Reading a lock, its files and its copy
for the mirror are :mod:`.lockfile`'s (a leaf the build imports); telling
this kind of lock from the others among the arguments is :mod:`.locks`'s.

uv keeps the index URL in the lock on purpose, and ``uv sync --locked``
refuses a lock whose indexes are not the ones configured; ``--frozen``
downloads from the URLs written in it. Inside a build, a copy of the lock
in which every remote ``registry`` is the mirror directory's path (as the
step sees it, ``/tmp/pypi``) and every file ``url`` a ``path`` into it is
exactly the lock uv writes itself against that directory: ``uv sync
--locked`` and ``--frozen`` accept it offline and install the same files
(same names, same hashes). ``dockerpypi build --inject`` bind-mounts that
copy over the lock for the step alone (:func:`.lockfile.rewrite_lock`); the user's
file is never changed.

The lock is rewritten as text, one ``[[package]]`` block at a time: uv
writes it in one fixed layout, and keeping every other byte as written is
what keeps ``--locked``'s comparison with pyproject.toml unchanged.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from packaging.tags import Tag

from ..dockerfile.vocabulary import PYLOCK, UV_LOCK, is_pylock_name
from ..settings.urls import Credentials
from .arguments import names_path
from .lockfile import lock_picks, read_lock
from .picks import Pick


def lock_path(argument: str) -> Path | None:
    """The lock ``argument`` names, else None.

    A uv.lock or a pylock.toml (``pylock.<name>.toml`` too), or a directory
    holding one: its uv.lock when it has both, as uv.lock is the project's
    own and a pylock.toml beside it is exported from it. Only an argument
    that names a path (:func:`.arguments.names_path`) can.
    """
    path = Path(argument)
    if not names_path(argument):
        return None
    if (path.name == UV_LOCK or is_pylock_name(path.name)) and path.is_file():
        return path
    for name in (UV_LOCK, PYLOCK):
        if (path / name).is_file():
            return path / name
    return None


def lock_kind(path: Path) -> str:
    """:data:`UV_LOCK` or :data:`PYLOCK`: how the lock at ``path`` is read, by its name."""
    return PYLOCK if is_pylock_name(path.name) else UV_LOCK


def read_picks(path: Path, supported: Sequence[Tag] = ()) -> tuple[Pick, ...]:
    """The files of the lock at ``path`` (either kind) to fetch for ``supported``."""
    if lock_kind(path) == PYLOCK:
        from .pylock import pylock_picks, read_pylock

        return pylock_picks(read_pylock(path), supported, where=str(path))
    return lock_picks(read_lock(path), supported, where=str(path))

@dataclass(frozen=True)
class LockPlan:
    """Fetch the files of lock files (uv.lock, pylock.toml) into the mirror: no resolver runs."""

    mirror_dir: Path
    locks: tuple[Path, ...]
    picks: tuple[Pick, ...]
    mode: str
    auth: tuple[tuple[tuple[str, str, int | None], Credentials], ...] = ()
    secrets: tuple[str, ...] = ()
    timeout: float | None = None
    retries: int | None = None
    resolver: str = UV_LOCK  # the kinds of the locks, "uv.lock+pylock.toml" for both
    image: None = None

    @property
    def indexes(self) -> tuple[str, ...]:
        """The indexes the lock's files come from (scheme and host), for display."""
        return tuple(dict.fromkeys(
            f"{urlsplit(p.url).scheme}://{urlsplit(p.url).netloc}/" for p in self.picks))

    @property
    def shown(self) -> str:
        return shlex.join(["mirror", "add", *(str(path) for path in self.locks)])


def plan_locks(mirror_dir: Path, locks: Iterable[Path], *, supported: Sequence[Tag], mode: str,
               auth: tuple[tuple[tuple[str, str, int | None], Credentials], ...] = (),
               secrets: tuple[str, ...] = (), timeout: float | None = None,
               retries: int | None = None) -> LockPlan:
    """What ``mirror add uv.lock`` downloads: every lock read now, errors before any download."""
    locks = tuple(locks)
    picks: dict[str, Pick] = {}
    for path in locks:
        for pick in read_picks(path, supported):
            picks.setdefault(pick.filename, pick)
    kinds = "+".join(sorted({lock_kind(path) for path in locks})) or UV_LOCK
    return LockPlan(mirror_dir, locks, tuple(picks.values()), mode, auth, secrets, timeout,
                    retries, kinds)
