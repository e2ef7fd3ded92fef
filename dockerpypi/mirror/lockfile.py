"""A ``uv.lock`` read: its files (:func:`lock_picks`), and its copy for the mirror.

A leaf that ``dockerpypi build --inject`` imports: it reads the lock, tells
which files it names and rewrites it for the mirror, without the downloader
(:mod:`.download`, urllib and http) or packaging's tags, which are imported
only when target tags are given. Why the lock is rewritten, and how, is
:mod:`.uvlock`'s docstring. Which of a locked package's files to fetch
(:func:`keep_fitting`) is the same for every lock kind: :mod:`.pylock` uses it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..dockerfile.vocabulary import UV_LOCK
from ..errors import UsageError, UserMessageError
from .filenames import SDIST_SUFFIXES
from .picks import Pick, is_plain_name

if TYPE_CHECKING:
    from packaging.tags import Tag

REMOTE = ("http://", "https://")  # the schemes of an index's files
_DISTRIBUTIONS = (".whl", *SDIST_SUFFIXES)
# `source = { registry = "URL" }`, the line that says a package came from an index.
_REGISTRY = re.compile(r'^(source\s*=\s*\{\s*registry\s*=\s*)"([^"]*)"', re.MULTILINE)
# A file entry of a registry package: `{ url = "URL", hash = ... }` (wheels and sdist).
_FILE_URL = re.compile(r'(\{\s*)url(\s*=\s*)"([^"]*)"')


def read_lock(path: Path) -> dict[str, Any]:
    """The lock, parsed; a ``UsageError`` naming the file when it is no TOML uv wrote."""
    from ..tomlparser import load_file

    lock = load_file(path, fix="give the uv.lock uv wrote")
    if not isinstance(lock.get("package"), list):
        raise UsageError(f"{path} has no [[package]] tables, so it is no uv.lock",
                         fix="run `uv lock`")
    return lock


def url_filename(url: str) -> str:
    """The file name a file URL ends in, unquoted."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def is_distribution_name(name: str) -> bool:
    """Whether ``name`` is a plain wheel or sdist file name (no directory, not hidden)."""
    return is_plain_name(name) and name.endswith(_DISTRIBUTIONS)


def _pick(entry: Mapping[str, Any], package: Mapping[str, Any], where: str) -> Pick | None:
    url = entry.get("url")
    if not isinstance(url, str):
        return None
    if not is_distribution_name(url_filename(url)):
        raise UserMessageError(f"{where}: {package.get('name')} {package.get('version')} has a "
                               f"file {url_filename(url)!r} that is no wheel or sdist name",
                               fix="check where the lock came from, and run `uv lock --refresh`")
    digest = entry.get("hash")
    sha256 = digest.removeprefix("sha256:") if isinstance(digest, str) and \
        digest.startswith("sha256:") else None
    size = entry.get("size")
    return Pick(url_filename(url), url, sha256, size if isinstance(size, int) else None)


def tag_ranks(supported: Sequence[Tag]) -> dict[Tag, int]:
    """{tag: its place in ``supported``}, for :func:`keep_fitting`."""
    return {tag: number for number, tag in enumerate(supported)}


def keep_fitting(name: str, wheels: Sequence[Pick], sdist: Pick | None,
                 ranks: dict[Tag, int], *, where: str, fix: str) -> tuple[Pick, ...]:
    """The files of the locked package ``name`` to fetch (any lock file's).

    With ``ranks`` (:func:`tag_ranks` of the target's tags), only the wheels
    that fit it, and the sdist only when none does; without, every file, as
    the lock serves every platform it was made for. A file without a sha256
    is refused (``fix`` says how to lock again), and so is a package none of
    whose files fits the target.
    """
    if ranks:
        # packaging's tags are imported only for target tags (start-up of build --inject)
        from .targets import wheel_rank

        fitting = [pick for pick in wheels if wheel_rank(pick.filename, ranks) is not None]
    else:
        fitting = list(wheels)
    missing = [pick.filename for pick in [*fitting, *([sdist] if sdist else [])]
               if pick.sha256 is None]
    if missing:
        raise UserMessageError(f"{where}: {name}: the lock gives no sha256 for "
                               f"{', '.join(missing)}, so it cannot be checked", fix=fix)
    picks = (*fitting, *([sdist] if sdist is not None and not fitting else []))
    if not picks:
        raise UserMessageError(f"{where}: the lock lists no file of {name} that fits the "
                               "target tags",
                               fix="give the image's --platform tags, or drop them")
    return picks


def package_picks(lock: Mapping[str, Any], supported: Sequence[Tag] = (), *,
                  where: str = UV_LOCK) -> dict[str, tuple[Pick, ...]]:
    """{package name: its files} for every package the lock takes from a remote index.

    ``supported`` (the target's tags) keeps only the wheels that fit it
    (:func:`keep_fitting`). Packages from a path, a VCS or a direct URL are
    not an index's and are left to the build. ``where`` names the lock in
    errors; a file whose name is no plain wheel or sdist name
    (``..%2F.bashrc``) is refused, and so is a file without a sha256.
    """
    ranks = tag_ranks(supported) if supported else {}
    found: dict[str, tuple[Pick, ...]] = {}
    for package in lock.get("package", []):
        registry = (package.get("source") or {}).get("registry")
        if not isinstance(registry, str) or not registry.startswith(REMOTE):
            continue
        name = f"{package.get('name')} {package.get('version')}"
        wheels = [pick for entry in package.get("wheels", [])
                  if (pick := _pick(entry, package, where))]
        sdist = _pick(package.get("sdist") or {}, package, where)
        found[name] = (*found.get(name, ()),
                       *keep_fitting(name, wheels, sdist, ranks, where=where,
                                     fix="run `uv lock --refresh`"))
    return found


def lock_picks(lock: Mapping[str, Any], supported: Sequence[Tag] = (), *,
               where: str = UV_LOCK) -> tuple[Pick, ...]:
    """The files of every package the lock takes from a remote index (:func:`package_picks`)."""
    return tuple(pick for picks in package_picks(lock, supported, where=where).values()
                 for pick in picks)


def lock_filenames(lock: Mapping[str, Any], *, where: str = UV_LOCK) -> frozenset[str]:
    """Every file of every package the lock takes from a remote index: wheels and sdists.

    What a step installing the lock may read, on any platform; checked as
    :func:`package_picks` checks them.
    """
    names = {pick.filename for picks in package_picks(lock, where=where).values()
             for pick in picks}
    for package in lock.get("package", []):
        registry = (package.get("source") or {}).get("registry")
        if isinstance(registry, str) and registry.startswith(REMOTE):
            sdist = _pick(package.get("sdist") or {}, package, where)
            names.update([sdist.filename] if sdist is not None else [])
    return frozenset(names)


def rewrite_lock(text: str, mirror_path: str) -> str:
    """``text`` (a uv.lock) with its remote indexes replaced by the directory ``mirror_path``.

    Every package whose ``registry`` is an http(s) index gets ``mirror_path``
    as its registry and a ``path`` into it for each file instead of the
    ``url``; everything else is left byte for byte. This is the lock uv writes
    itself against that directory.
    """
    mirror_path = mirror_path.rstrip("/") or "/"
    quoted = toml_string(mirror_path)
    blocks = re.split(r"(?m)^(?=\[\[package\]\]\s*$)", text)
    out = []
    for block in blocks:
        match = _REGISTRY.search(block)
        if match is None or not match.group(2).startswith(REMOTE):
            out.append(block)
            continue
        block = _REGISTRY.sub(lambda m: f"{m.group(1)}{quoted}", block, count=1)
        block = _FILE_URL.sub(
            lambda m: f"{m.group(1)}path{m.group(2)}"
                      f"{toml_string(f'{mirror_path}/{url_filename(m.group(3))}')}", block)
        out.append(block)
    return "".join(out)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
