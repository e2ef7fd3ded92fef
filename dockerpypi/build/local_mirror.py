"""Whether a build can use the local mirror directory: decided before docker runs.

A build whose every index is the local mirror (offline, or with the public
index switched off) installs from that directory or from nothing. When the
directory is missing, or holds no index an installer can read, the build
would run until its first ``pip install`` and fail there with "No matching
distribution", far from the cause; it is refused up front instead, with the
command that fills or indexes the directory. With any other index to fall
back on, a missing directory is only worth a warning.

Every offline build asks, so the mirror's index modules (and packaging) are
not imported for the question.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..dockerfile.vocabulary import MIRROR_STAGE
from ..errors import BuildWarning, SettingsError
from ..mirror.filenames import SDIST_SUFFIXES

if TYPE_CHECKING:
    from ..settings.model import Settings

# mirror/distfile.py's PAGE, spelt out here: every offline build asks, and the
# index modules are not imported for that.
PAGE = "index.html"


class LocalMirror(NamedTuple):
    """The directory to send as the mirror context (None: the empty stage), and a
    warning to print about it."""

    directory: Path | None
    warning: BuildWarning | None = None


def local_mirror(settings: Settings, build_contexts: list[str]) -> LocalMirror:
    """The local mirror a build gets; SettingsError when it cannot be used at all."""
    path = settings.mirror_dir.value
    where = f"{path} ({settings.mirror_dir.source})"
    if path.exists() and not path.is_dir():
        raise SettingsError(f"the mirror directory {where} is not a directory: point "
                            "--mirror-dir at a directory of wheels")
    if MIRROR_STAGE in build_contexts:  # the user gives the context: theirs to fill
        return LocalMirror(path if path.is_dir() else None)
    local = settings.local_mirror_url.rstrip("/")
    used = any(index.is_local for index in settings.indexes)
    only = bool(settings.indexes) and all(index.url.rstrip("/") == local
                                          for index in settings.indexes)
    if not path.is_dir():
        if only:
            raise SettingsError(f"the mirror directory {where} does not exist, and {_why(settings)}"
                                f": fill it with {_fill(path)}, or point --mirror-dir "
                                "(DOCKERPYPI_MIRROR_DIR, DIB_IMAGE_CACHE) at your mirror")
        if used:
            return LocalMirror(None, BuildWarning(
                f"the mirror directory {where} does not exist: building with the empty "
                f"{MIRROR_STAGE} stage; fill it (dockerpypi mirror add) or give --mirror-dir"))
        return LocalMirror(None)
    if only and not _is_file(path / PAGE):
        _refuse_unindexed(path, where, settings)
    return LocalMirror(path)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a directory not to be searched: said when it is listed
        return False


def _why(settings: Settings) -> str:
    if settings.offline.value:
        reason = f"offline: {settings.offline.source}"
    else:
        reason = f"public index switched off: {settings.public_fallback.source}"
    return f"the build can install from nothing else ({reason})"


def _fill(path: Path) -> str:
    return f"`dockerpypi mirror add --mirror-dir {shlex.quote(str(path))} -r requirements.txt`"


def _refuse_unindexed(path: Path, where: str, settings: Settings) -> None:
    """Refuse a directory pip and uv find nothing in: no page, for the root or any
    project. (A tree with project pages and no root page serves them both.)"""
    holds_files = False
    try:
        for entry in path.iterdir():
            if entry.name.startswith("."):  # the state, the lock, kept subsets
                continue
            if _is_file(entry / PAGE):
                return
            holds_files = holds_files or entry.name.endswith((".whl", *SDIST_SUFFIXES))
    except OSError as error:
        raise SettingsError(f"cannot read the mirror directory {where} ({error.strerror}): "
                            "check its permissions, or point --mirror-dir elsewhere") from None
    if holds_files:
        raise SettingsError(f"the mirror directory {where} holds packages but no index pages, "
                            f"and {_why(settings)}: run `dockerpypi mirror index --mirror-dir "
                            f"{shlex.quote(str(path))}`")
    raise SettingsError(f"the mirror directory {where} holds no packages, and {_why(settings)}: "
                        f"fill it with {_fill(path)}")
