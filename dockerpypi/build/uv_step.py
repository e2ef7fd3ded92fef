"""uv for the step, not for the image: uv's binary from the mirror, for the steps that want it.

A step that may run uv where the image has none (the ``auto`` step of
``dockerpypi render``, a step ``--inject --prefer-uv`` rewrote) bind-mounts
the ``dockerpypi-uv`` stage at :data:`~dockerpypi.dockerfile.vocabulary.UV_DIR`,
and the env file puts that directory on PATH after the image's own, when the
binary runs there. This module fills the stage: it takes the uv wheel for the
builder's machine from the local mirror (``dockerpypi mirror add uv`` puts it
there), unpacks its ``uv`` program once into the cache (:data:`UV_STEP`, the
same directory build after build, so BuildKit sends it once), and names that
directory as the ``dockerpypi-uv`` build context. Without a wheel that fits,
the stage is an empty directory and the step runs pip, as it says.

The binary is the builder's (``linux/amd64`` -> an ``x86_64`` wheel): steps run
on the builder's kernel, and uv asks the step's interpreter for its platform,
so it installs what the image needs. A ``musllinux`` wheel (a static program)
is preferred to a ``manylinux`` one (linked to glibc), and a newer uv to an
older; a binary that cannot run in the image (glibc's against musl) is left
off PATH by the env file's check, and the step runs pip.

Only builds whose Dockerfile mounts the stage import this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .. import caches
from ..dockerfile.vocabulary import UV_STAGE
from ..files import WRITING_PREFIX, write_atomic

if TYPE_CHECKING:
    from packaging.version import Version

    from .command import BuildInputs
    from .pipeline import BuildRun

# The project whose wheel carries the program, and where in the wheel it is.
UV_PROJECT = "uv"
_PROGRAM = re.compile(r"[^/]+\.data/scripts/uv")
# A wheel's Linux platform tag for a machine: manylinux_2_17_x86_64,
# manylinux2014_x86_64, musllinux_1_1_aarch64, linux_x86_64.
_LINUX_TAG = re.compile(r"(?P<kind>manylinux|musllinux|linux)(?:_?\d+(?:_\d+)?)?_(?P<machine>.+)")
# An unpacked binary nobody used for this long goes when another is unpacked.
_KEEP_SECONDS = caches.TREE_KEEP_SECONDS


class UvBinary(NamedTuple):
    """What the ``dockerpypi-uv`` context holds: a directory, and one line saying what."""

    directory: Path | None  # None: no directory could be made (the Dockerfile's stage is used)
    summary: str
    found: bool  # whether it holds uv


def pick_wheel(names: list[str], machine: str) -> str | None:
    """The uv wheel among ``names`` (file names) whose program runs on ``machine``.

    The newest version; of one version, musllinux (static) before manylinux.
    """
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

    best: tuple[Version, int, str] | None = None
    for name in names:
        if not name.endswith(".whl"):
            continue
        try:
            project, version, _, tags = parse_wheel_filename(name)
        except InvalidWheelFilename:
            continue
        if canonicalize_name(project) != UV_PROJECT:
            continue
        kinds = {match["kind"] for tag in tags
                 if (match := _LINUX_TAG.fullmatch(tag.platform)) and match["machine"] == machine}
        if not kinds:
            continue
        rank = (version, 1 if "musllinux" in kinds else 0, name)
        if best is None or rank[:2] > best[:2]:
            best = rank
    return best[2] if best is not None else None


def unpacked(wheel: Path, *, write: bool = True) -> Path | None:
    """A cache directory holding ``wheel``'s ``uv`` program (mode 0755), made once per wheel.

    None when the wheel has no program, cannot be read, or the cache cannot be written.
    ``write=False`` (a dry run) only names the directory it would be.
    """
    try:
        stat = wheel.stat()
    except OSError:
        return None
    key = hashlib.sha256(f"{wheel.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    name = f"{wheel.name.split('-')[1]}-{key[:16]}"
    if not write:
        return caches.UV_STEP.path / name
    root = caches.ensure_cache_dir(caches.UV_STEP.name)
    if root is None:
        return None
    directory = root / name
    if (directory / "uv").is_file():
        with contextlib.suppress(OSError):
            os.utime(directory)  # used: kept from pruning
        return directory
    try:
        with zipfile.ZipFile(wheel) as archive:
            member = next((info for info in archive.infolist()
                           if _PROGRAM.fullmatch(info.filename)), None)
            if member is None:
                return None
            data = archive.read(member)
        writing = Path(tempfile.mkdtemp(prefix=WRITING_PREFIX, dir=root))
        try:
            write_atomic(writing / "uv", data, mode=0o755, sync=False)
            writing.rename(directory)
        except OSError:
            shutil.rmtree(writing, ignore_errors=True)
            if not (directory / "uv").is_file():  # another build did not put one there first
                return None
    except (OSError, zipfile.BadZipFile):
        return None
    _prune(root, keep=directory)
    return directory


def empty_directory(*, write: bool = True) -> Path | None:
    """The cache's empty directory: the context of a build whose mirror has no uv that fits."""
    if not write:
        return caches.UV_STEP.path / "none"
    root = caches.ensure_cache_dir(caches.UV_STEP.name)
    if root is None:
        return None
    directory = root / "none"
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return directory


def _prune(root: Path, keep: Path) -> None:
    """Remove unpacked binaries unused for :data:`_KEEP_SECONDS`, and half-written ones."""
    now = time.time()
    for entry in root.iterdir():
        if entry == keep or entry.name == "none":
            continue
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > (3600 if entry.name.startswith(WRITING_PREFIX)
                                               else _KEEP_SECONDS):
                shutil.rmtree(entry, ignore_errors=True)


def uv_binary(mirror_dir: Path | None, platform: str | None, *, write: bool = True
              ) -> UvBinary:
    """The ``dockerpypi-uv`` context for a builder of ``platform`` (``linux/amd64``).

    ``write=False`` (a dry run) names the directories without making them.
    """
    from .subset import CannotTell
    from .subset.wanted import machine_of

    why = None
    name = None
    if mirror_dir is None:
        why = "no local mirror"
    elif platform is None:
        why = "docker did not say which platform the builder runs"
    else:
        try:
            machine = machine_of(platform)
        except CannotTell as error:
            why = str(error)
        else:
            try:
                names = [entry.name for entry in os.scandir(mirror_dir)
                         if entry.name.startswith(("uv-", "UV-"))]
            except OSError:
                names = []
            name = pick_wheel(names, machine)
            if name is None:
                why = f"the mirror has no uv wheel for {platform} (`dockerpypi mirror add uv`)"
    if name is not None and mirror_dir is not None:
        directory = unpacked(mirror_dir / name, write=write)
        if directory is not None:
            return UvBinary(directory, f"uv for the steps that want it: {name} from the mirror, "
                                       "mounted for those steps only", True)
        why = f"{name} has no uv program that could be unpacked into the cache"
    return UvBinary(empty_directory(write=write), f"no uv for the steps that want it ({why}): "
                    "where the image has no uv they run pip", False)


def with_uv_context(run: BuildRun, inputs: BuildInputs) -> BuildInputs:
    """``inputs`` with the ``dockerpypi-uv`` build context, for ``run``, whose Dockerfile
    mounts that stage.

    Only with named build contexts (the context transport; the http one
    leaves the Dockerfile's empty stage, and its steps run pip), and never
    over the user's own ``--build-context dockerpypi-uv=...``.
    """
    if run.transport.kind != "context" or UV_STAGE in run.given.build_contexts:
        return inputs
    from .engine import default_platform

    builders = run.given.values("--builder")
    platform = default_platform(run.engine, builders[-1] if builders else None)
    binary = uv_binary(run.mirror_dir, platform, write=not run.dry_run)
    run.report(binary.summary)
    if binary.directory is None:
        return inputs  # the Dockerfile's own empty stage
    return inputs._replace(contexts={**inputs.contexts, UV_STAGE: str(binary.directory)})
