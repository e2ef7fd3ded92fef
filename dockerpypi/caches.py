"""dockerpypi's caches: each one listed here, with what it holds and when it is stale.

Everything here is best effort. A cache that cannot be read is a miss, and a
cache that cannot be written is skipped: a read-only home or a full disk must
never fail a command, only make it slower. Deleting any of them is safe.

Each cache is a :class:`Cache` record below (:data:`ALL` lists them); its
users take its name from there:

==========================  ====================  ==========================================
cache                       user                  stale when
==========================  ====================  ==========================================
``templates/``              render/               jinja2 checks each against its source
``renders.json``            render/               a template, its context or the renderer
``engine.json``             build/, engine probe  docker, buildx, the socket or builder
``subsets.json``            build/, kept subset   the Dockerfile, requirements or mirror
``step-config/``            build/, settings      never (read back); 30 days unused
``uv-step/``                build/, uv_step       never (per wheel); 30 days unused
``.dockerpypi-subset-*``    build/, subset        7 days unused, or past the 16 newest
==========================  ====================  ==========================================

All but the last are in :func:`cache_dir`; the subsets are directories in
the local mirror, beside the files they link. Writes go through
:mod:`dockerpypi.files`, unflushed: a cache lost to a power cut is a miss.
``json`` and ``shutil`` are imported by the functions that use them, so that
the commands that only read the cache, or not even that, do not load them.
"""

from __future__ import annotations

import contextlib
import os
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from .files import WRITING_PREFIX, place_tree, write_private

# Enough for every variant a project renders; the oldest entry goes first.
MEMO_LIMIT = 64
# A kept tree nobody used for this long is removed when another is written.
TREE_KEEP_SECONDS = 30 * 24 * 3600
# The mirror's subsets (MIRROR_SUBSETS) stay for the next build: pruned when
# unused for SUBSET_KEEP_SECONDS, or when more than SUBSET_KEEP_LIMIT are and
# one has not been used for SUBSET_IN_USE_SECONDS. One a process killed
# outright left half-written is removed after SUBSET_STALE_SECONDS.
SUBSET_KEEP_SECONDS = 7 * 24 * 3600
SUBSET_KEEP_LIMIT = 16
SUBSET_IN_USE_SECONDS = 3600
SUBSET_STALE_SECONDS = 24 * 3600


class Cache(NamedTuple):
    """One cache: its file or folder name, what it holds, and when that is stale."""

    name: str
    holds: str
    stale: str
    in_mirror: bool = False  # a name prefix in the local mirror, not in cache_dir()

    @property
    def path(self) -> Path:
        """The file or folder in :func:`cache_dir`; the mirror's caches have none."""
        if self.in_mirror:
            raise ValueError(f"{self.name}* are in the mirror directory, not the cache")
        return cache_dir() / self.name


TEMPLATES = Cache(
    "templates", "jinja2's compiled templates, a file per template",
    "checked by jinja2 against the template's source, jinja2's version and the "
    "environment's options at each load: an edited template is compiled again")
RENDERS = Cache(
    "renders.json", "rendered Dockerfile lines, and the config files of settings "
    "without credentials, by template and context (a memo file)",
    "the key holds the template, its context (dockerpypi's version too), Python's "
    "version and the size and time of the template files, the renderer's module, jinja2 and "
    f"MarkupSafe: any change is a miss; the oldest entries past {MEMO_LIMIT} are dropped")
ENGINE = Cache(
    "engine.json", "what the engine and its builder can do (the engine probe's answer)",
    "the key holds the docker CLI and buildx plugin files, the engine's socket, the "
    "DOCKER_*/BUILDX_* variables and the selected builder; asked again after a day, "
    "and never kept for an engine over TCP or SSH, another docker context or a "
    "builder outside the engine")
SUBSETS = Cache(
    "subsets.json", "which subset of the mirror an earlier build sent, by what its "
    "choice read (a memo file)",
    "the key holds the Dockerfile, the mirror's index state, the platforms, the "
    "builder and dockerpypi's version; the requirements files are checked on use; "
    f"a subset directory that is gone is a miss; the oldest past {MEMO_LIMIT} are dropped")
STEP_CONFIG = Cache(
    "step-config", "the dockerpypi-config build contexts of builds without credentials, "
    "a folder per distinct settings named by what it holds",
    "never used unless its files read back the same; removed after "
    f"{TREE_KEEP_SECONDS // 86400} days unused, half-written ones after an hour")
MIRROR_SUBSETS = Cache(
    ".dockerpypi-subset-", "per build, the mirror's files it can need (hard links) "
    "with their pages, a directory named by what it holds",
    "never (a changed choice or page format is another name); removed when unused "
    f"for {SUBSET_KEEP_SECONDS // 86400} days, or past the {SUBSET_KEEP_LIMIT} most recent "
    f"and unused for {SUBSET_IN_USE_SECONDS // 60} minutes; half-written ones after "
    f"{SUBSET_STALE_SECONDS // 3600} hours",
    in_mirror=True)
UV_STEP = Cache(
    "uv-step", "uv's program unpacked from a uv wheel of the mirror, the dockerpypi-uv "
    "build context of steps that run uv where the image has none; a folder per wheel",
    "never (another wheel is another folder); removed after "
    f"{TREE_KEEP_SECONDS // 86400} days unused, half-written ones after an hour")
ALL = (TEMPLATES, RENDERS, ENGINE, SUBSETS, STEP_CONFIG, MIRROR_SUBSETS, UV_STEP)


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/dockerpypi``, else ``~/.cache/dockerpypi``.

    Written out rather than taken from platformdirs: the rule is two lines, and
    this runs on every start of the command line, where each import counts.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME", ""))
    # The XDG spec says a relative value is invalid and is to be ignored.
    root = base if base.is_absolute() else Path("~/.cache").expanduser()
    return root / "dockerpypi"


def ensure_cache_dir(*parts: str) -> Path | None:
    """The cache directory (or a folder in it), created owner-only; None if it cannot be."""
    root = cache_dir()
    directory = root.joinpath(*parts)
    try:
        # Owner-only, the folder of our own as well as what is in it; the
        # folders above are the user's and get the usual mode.
        root.parent.mkdir(parents=True, exist_ok=True)
        for folder in (root, *(root.joinpath(*parts[:n + 1]) for n in range(len(parts)))):
            folder.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return directory if os.access(directory, os.W_OK | os.X_OK) else None


def write_cache_file(name: str, data: bytes) -> bool:
    """Replace the cache file ``name`` atomically (readers see old or new, never half);
    False when it could not be written."""
    directory = ensure_cache_dir()
    if directory is None:
        return False
    try:
        write_private(directory / name, data, sync=False)
    except OSError:
        return False
    return True


def read_cache_file(name: str) -> bytes | None:
    """The cache file ``name``, or None when it is missing or unreadable."""
    try:
        return (cache_dir() / name).read_bytes()
    except OSError:
        return None


# --- texts kept by key ------------------------------------------------------------


# Each memo file as last parsed by this process, under the file's stamp: a
# build reads renders.json once per config file (~0.5 ms a parse at 64
# entries), and another process may replace the file at any time.
_parsed: dict[Path, tuple[tuple[int, int, int], dict[str, str]]] = {}


def _load_memo(name: str) -> dict[str, str]:
    """The memo file ``name`` as a new dict (callers may change it)."""
    import json

    path = cache_dir() / name
    try:
        status = path.stat()
        stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
        parsed = _parsed.get(path)
        if parsed is not None and parsed[0] == stamp:
            return dict(parsed[1])
        raw = path.read_bytes()
    except OSError:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:  # half a file from another tool, or an older format: start over
        return {}
    if not isinstance(data, dict):
        return {}
    memo = {key: value for key, value in data.items() if isinstance(value, str)}
    _parsed[path] = (stamp, memo)
    return dict(memo)


def memo_get(name: str, key: str) -> str | None:
    """The text kept under ``key`` in the cache file ``name`` (a JSON object), if any."""
    return _load_memo(name).get(key)


def memo_put(name: str, key: str, text: str) -> None:
    """Keep ``text`` under ``key``, dropping the oldest entries past :data:`MEMO_LIMIT`."""
    import json

    memo = _load_memo(name)
    memo.pop(key, None)
    memo[key] = text
    kept = dict(list(memo.items())[-MEMO_LIMIT:])
    write_cache_file(name, json.dumps(kept).encode())


# --- directories kept by content ----------------------------------------------------


def checksum(data: bytes) -> str:
    """Length and two checksums of ``data``: a change detector, not a digest. An edit
    goes unseen only if it keeps the length, the CRC-32 and the Adler-32 all three;
    what it guards against is an edit, not an attacker, and hashlib's OpenSSL start
    alone would be ~4 ms of every build."""
    return f"{len(data)}-{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def kept_tree_path(folder: str, files: Mapping[str, str]) -> Path:
    """Where :func:`kept_tree` keeps ``files``: a name taken from what they hold."""
    import json

    # A name, not a proof: kept_tree reads the files back before it trusts one.
    return cache_dir() / folder / checksum(json.dumps(sorted(files.items())).encode())


def _holds(directory: Path, files: Mapping[str, str]) -> bool:
    """Whether ``directory`` holds exactly ``files``, as :func:`.files.write_tree` writes
    them."""
    found = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = Path(root, name)
            found[path.relative_to(directory).as_posix()] = path
    if found.keys() != files.keys():
        return False
    try:
        return all(path.read_text(encoding="utf-8") == files[name]
                   and path.stat().st_mode & 0o777 == 0o644 for name, path in found.items())
    except (OSError, UnicodeDecodeError):
        return False


def kept_tree(folder: str, files: Mapping[str, str]) -> Path | None:
    """``files`` (relative path: text) as a directory any user can read, in the
    owner-only cache directory, kept for the next run with the same files; None when
    the cache cannot hold it.

    Made for a build context that does not change from build to build:
    BuildKit keeps a copy of each local context under its path, so the same
    path again is sent nothing, where a new temporary one was sent whole and
    its copy kept once more. Never for anything secret: the cache outlives
    the build.
    """
    directory = kept_tree_path(folder, files)
    if ensure_cache_dir(folder) is None:
        return None
    if not directory.exists():
        # OSError: another run renamed the same tree in first, or the cache is unusable.
        with contextlib.suppress(OSError):
            place_tree(directory, files)
        _prune_trees(directory.parent)
    if not (directory.is_dir() and _holds(directory, files)):
        return None  # another tree under that name, or none could be written
    try:
        os.utime(directory)  # in use: the clean-up goes by this time
    except OSError:
        return None
    return directory


def _prune_trees(parent: Path) -> None:
    """Remove the kept trees of ``parent`` nobody used for :data:`TREE_KEEP_SECONDS`,
    and what a killed run left half-written (the tree just written is new)."""
    import shutil

    now = time.time()
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        limit = 3600 if entry.name.startswith(WRITING_PREFIX) else TREE_KEEP_SECONDS
        if age > limit:
            shutil.rmtree(entry.path, ignore_errors=True)
