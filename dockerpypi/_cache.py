"""dockerpypi's own cache directory: things worth keeping between runs, never needed.

Everything here is best effort. A cache that cannot be read is a miss, and a
cache that cannot be written is skipped: a read-only home or a full disk must
never fail a command, only make it slower.
"""

from __future__ import annotations

import os
from pathlib import Path


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
    import tempfile  # only on a write: most runs only read

    directory = ensure_cache_dir()
    if directory is None:
        return False
    temporary = None
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(temporary).replace(directory / name)
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        return False
    return True


def read_cache_file(name: str) -> bytes | None:
    """The cache file ``name``, or None when it is missing or unreadable."""
    try:
        return (cache_dir() / name).read_bytes()
    except OSError:
        return None


# --- texts kept by key ------------------------------------------------------------

# Enough for every variant a project renders; the oldest entry goes first.
MEMO_LIMIT = 64


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
