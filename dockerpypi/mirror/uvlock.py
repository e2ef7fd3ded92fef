"""uv projects with ``uv.lock``: the files a lock names, and a copy of it for the mirror.

A ``uv.lock`` lists every file of every locked package with its URL and
sha256. ``dockerpypi mirror add uv.lock`` fetches exactly those files (the
wheels that fit the target tags when they are given) with :mod:`.download`,
checked against the lock's hashes.

uv keeps the index URL in the lock on purpose, and ``uv sync --locked``
refuses a lock whose indexes are not the ones configured; ``--frozen``
downloads from the URLs written in it. Inside a build, a copy of the lock
in which every remote ``registry`` is the mirror directory's path (as the
step sees it, ``/tmp/pypi``) and every file ``url`` a ``path`` into it is
exactly the lock uv writes itself against that directory: ``uv sync
--locked`` and ``--frozen`` accept it offline and install the same files
(same names, same hashes). ``dockerpypi build --inject`` bind-mounts that
copy over the lock for the step alone (:func:`rewrite_lock`); the user's
file is never changed.

The lock is rewritten as text, one ``[[package]]`` block at a time: uv
writes it in one fixed layout, and keeping every other byte as written is
what keeps ``--locked``'s comparison with pyproject.toml unchanged.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.tags import Tag

from ..errors import UsageError, UserMessageError
from ..settings.urls import Credentials
from .arguments import LOCK_NAME, names_path
from .download import Pick
from .targets import wheel_rank

_REMOTE = ("http://", "https://")
# `source = { registry = "URL" }`, the line that says a package came from an index.
_REGISTRY = re.compile(r'^(source\s*=\s*\{\s*registry\s*=\s*)"([^"]*)"', re.MULTILINE)
# A file entry of a registry package: `{ url = "URL", hash = ... }` (wheels and sdist).
_FILE_URL = re.compile(r'(\{\s*)url(\s*=\s*)"([^"]*)"')


def lock_path(argument: str) -> Path | None:
    """The uv.lock ``argument`` names (the file, or a directory holding one), else None.

    Only an argument that names a path (:func:`.arguments.names_path`) can.
    """
    path = Path(argument)
    if not names_path(argument):
        return None
    if path.name == LOCK_NAME and path.is_file():
        return path
    if (path / LOCK_NAME).is_file():
        return path / LOCK_NAME
    return None


def split_locks(arguments: Sequence[str]) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """The uv.lock files among ``mirror add``'s arguments, and the other arguments."""
    locks, rest = [], []
    for argument in arguments:
        found = lock_path(argument)
        if found is None:
            rest.append(argument)
        else:
            locks.append(found.resolve())
    return tuple(dict.fromkeys(locks)), tuple(rest)


def read_lock(path: Path) -> dict[str, Any]:
    """The lock, parsed; a ``UsageError`` naming the file when it is no TOML uv wrote."""
    from ..tomlparser import tomllib

    try:
        with path.open("rb") as handle:
            lock: dict[str, Any] = tomllib.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not a TOML file ({exc}): give the uv.lock uv wrote") from None
    if not isinstance(lock.get("package"), list):
        raise UsageError(f"{path} has no [[package]] tables, so it is no uv.lock: run `uv lock`")
    return lock


def _filename(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def _pick(entry: Mapping[str, Any]) -> Pick | None:
    url = entry.get("url")
    if not isinstance(url, str):
        return None
    digest = entry.get("hash")
    sha256 = digest.removeprefix("sha256:") if isinstance(digest, str) and \
        digest.startswith("sha256:") else None
    size = entry.get("size")
    return Pick(_filename(url), url, sha256, size if isinstance(size, int) else None)


def lock_picks(lock: Mapping[str, Any], supported: Sequence[Tag] = ()) -> tuple[Pick, ...]:
    """The files of every package the lock takes from a remote index, hashes included.

    ``supported`` (the target's tags) keeps only the wheels that fit it, and a
    package's sdist only when none does; without it every file is kept, as the
    lock serves every platform it was made for. Packages from a path, a VCS or
    a direct URL are not an index's and are left to the build.
    """
    ranks = {tag: number for number, tag in enumerate(supported)}
    picks: list[Pick] = []
    for package in lock.get("package", []):
        registry = (package.get("source") or {}).get("registry")
        if not isinstance(registry, str) or not registry.startswith(_REMOTE):
            continue
        wheels = [pick for entry in package.get("wheels", []) if (pick := _pick(entry))]
        sdist = _pick(package.get("sdist") or {})
        if supported:
            wheels = [pick for pick in wheels if wheel_rank(pick.filename, ranks) is not None]
        picks += wheels
        if sdist is not None and not wheels:
            picks.append(sdist)
        missing = [pick.filename for pick in [*wheels, *([sdist] if sdist else [])]
                   if pick.sha256 is None]
        if missing:
            raise UserMessageError(f"{package.get('name')} {package.get('version')}: the lock "
                                   f"gives no sha256 for {', '.join(missing)}, so it cannot be "
                                   "checked: run `uv lock --refresh`")
        if not wheels and sdist is None:
            raise UserMessageError(f"the lock lists no file of {package.get('name')} "
                                   f"{package.get('version')} that fits the target tags: give "
                                   "the image's --platform tags, or drop them")
    return tuple(picks)


def rewrite_lock(text: str, mirror_path: str) -> str:
    """``text`` (a uv.lock) with its remote indexes replaced by the directory ``mirror_path``.

    Every package whose ``registry`` is an http(s) index gets ``mirror_path``
    as its registry and a ``path`` into it for each file instead of the
    ``url``; everything else is left byte for byte. This is the lock uv writes
    itself against that directory.
    """
    mirror_path = mirror_path.rstrip("/") or "/"
    quoted = _toml_string(mirror_path)
    blocks = re.split(r"(?m)^(?=\[\[package\]\]\s*$)", text)
    out = []
    for block in blocks:
        match = _REGISTRY.search(block)
        if match is None or not match.group(2).startswith(_REMOTE):
            out.append(block)
            continue
        block = _REGISTRY.sub(lambda m: f"{m.group(1)}{quoted}", block, count=1)
        block = _FILE_URL.sub(
            lambda m: f"{m.group(1)}path{m.group(2)}"
                      f"{_toml_string(f'{mirror_path}/{_filename(m.group(3))}')}", block)
        out.append(block)
    return "".join(out)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class LockPlan:
    """Fetch the files of uv.lock files into the mirror: no resolver runs."""

    mirror_dir: Path
    locks: tuple[Path, ...]
    picks: tuple[Pick, ...]
    mode: str
    auth: tuple[tuple[tuple[str, str, int | None], Credentials], ...] = ()
    secrets: tuple[str, ...] = ()
    timeout: float | None = None
    retries: int | None = None
    resolver: str = "uv.lock"
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
        for pick in lock_picks(read_lock(path), supported):
            picks.setdefault(pick.filename, pick)
    return LockPlan(mirror_dir, locks, tuple(picks.values()), mode, auth, secrets, timeout,
                    retries)
