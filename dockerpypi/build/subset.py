"""Send a build only the part of the mirror it can need.

A named build context is transferred whole: with a 2 GB mirror of which a
build installs 40 MB, the first build on a builder spends most of its time
copying files no step reads. ``dockerpypi build`` therefore hands the builder a
directory of hard links to the files the build's requirements can resolve to,
with PEP 503 pages for just those files. The directory is named by what it
holds and stays in the mirror for the next build (:mod:`.kept_subset` finds
it again without this module); unused ones are pruned.

What the build can need is decided without running an installer:

1. The requirements: the Dockerfile's ``RUN`` steps that bind-mount the
   ``pypi-mirror`` stage must be the steps ``dockerpypi render`` writes (a
   requirements file mounted under ``/run/dockerpypi/requirements/`` and the
   default pip or uv command: :mod:`dockerpypi.dockerfile.steps` reads them);
   their requirements files are read from the build context.
2. The target: Linux on the builder's architecture (or docker's
   ``--platform``), CPython. The Python version is not in the Dockerfile, so
   every CPython from 3.8 to 3.15 is tried and kept when the mirror can serve
   the whole requirement set to it from wheels alone; a mirror filled for the
   image (``mirror add --python-version ...``) serves exactly the image's
   Python, a pure-Python set serves all of them.
3. The closure: for every requirement, every version in the mirror that
   satisfies it (not only the one an installer would pick) with the wheels
   that fit the target, then the dependencies of each of those wheels, their
   markers evaluated for the target (with the extras asked for). The result
   is a superset of every resolution pip or uv can reach from the whole
   mirror: each version an installer may try satisfies some requirement of a
   version it already tried, so it is in the set, and the installer in the
   build behaves as it would with the whole mirror.

The metadata comes from the index (``.dockerpypi-index.json`` and the PEP 658
``.metadata`` sidecars), which is also what the installers in the build read.
When any of this cannot be told, the whole mirror is sent, as before, and
one line says why: no requirements found, a custom command, a requirement
that is not a name from an index, a version the mirror has only as an sdist
(building it needs build dependencies nobody lists), a requirement the mirror
cannot satisfy, an index out of date, an unknown platform.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ..dockerfile.steps import UnreadableSteps, read_steps
from ..dockerfile.vocabulary import MIRROR_STAGE
from ..errors import UserMessageError
from ..mirror import index as _index
from ..process import signals_held, signals_unwind
from . import engine

if TYPE_CHECKING:
    from .command import DockerArgs

SUBSET_PREFIX = ".dockerpypi-subset-"
# A subset being written (renamed to its final name when whole).
_WRITING_PREFIX = f"{SUBSET_PREFIX}writing-"
# Subsets stay for the next build: pruned when unused for this long, or when
# more than KEEP_LIMIT are and one has not been used for IN_USE_SECONDS.
KEEP_SECONDS = 7 * 24 * 3600
KEEP_LIMIT = 16
IN_USE_SECONDS = 3600
# CPython versions tried when the mirror does not say which one the image has.
PYTHONS = tuple((3, minor) for minor in range(8, 16))
# A leftover of a process that was killed outright is removed after this long.
STALE_SECONDS = 24 * 3600
_LOCK_TIMEOUT = 60.0
# docker's architecture names (with variant) as Python's platform.machine()
# and the wheel platform tags spell them.
_MACHINES = {
    "amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64",
    "arm64/v8": "aarch64", "arm/v7": "armv7l", "arm": "armv7l", "arm/v6": "armv6l",
    "386": "i686", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}
# Options a requirements file may hold that cannot change which files are used.
_HARMLESS_OPTIONS = ("--pre", "--prefer-binary", "--only-binary", "--require-hashes")
# A dependency of one extra alone, the commonest marker: `; extra == "test"`.
_ONLY_EXTRA = re.compile(r"""^[^;]*;\s*extra\s*==\s*(['"])([^'"]+)\1\s*$""")
# pip takes a "name" that ends like an archive for a file next to the requirements.
_ARCHIVE = re.compile(r"\.(whl|zip|tar|tgz|tar\.gz|tar\.bz2|tar\.xz)$", re.IGNORECASE)


class CannotTell(Exception):
    """Why the part of the mirror a build needs cannot be told (the whole mirror is sent)."""


# --- what the Dockerfile installs --------------------------------------------

def _dockerfile_steps(text: str) -> tuple[list[str], set[str]]:
    """The requirements sources of the dockerpypi steps in ``text`` and the platforms of FROM
    (:func:`dockerpypi.dockerfile.steps.read_steps`); CannotTell when they cannot be told."""
    try:
        steps = read_steps(text)
    except UnreadableSteps as reason:
        raise CannotTell(str(reason)) from None
    return steps.requirements, steps.platforms


def parse_requirements(text: str, origin: str) -> list[Requirement]:
    """The requirements in a requirements file; CannotTell for anything but names from an index."""
    found: list[Requirement] = []
    logical: list[tuple[int, str]] = []
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            first = number
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1]
            continue
        logical.append((first, pending + raw))
        pending = ""
    if pending:
        logical.append((first, pending))
    for number, raw in logical:
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        where = f"{origin} line {number}"
        if not line:
            continue
        if "${" in line:
            raise CannotTell(f"{where}: {line} holds a variable")
        if line.startswith("-"):
            option = line.split()[0].split("=", 1)[0]
            if option in _HARMLESS_OPTIONS:
                continue
            raise CannotTell(f"{where}: the option {option} may bring files dockerpypi cannot "
                             "follow")
        words = line.split()
        spec: list[str] = []
        position = 0
        while position < len(words) and not words[position].startswith("--"):
            spec.append(words[position])
            position += 1
        while position < len(words):  # per-requirement options: only hashes
            option = words[position]
            if option == "--hash":
                position += 2
            elif option.startswith("--hash="):
                position += 1
            else:
                raise CannotTell(f"{where}: the option {option} is not understood here")
        try:
            requirement = Requirement(" ".join(spec))
        except InvalidRequirement:
            raise CannotTell(f"{where}: {line} is not a name from an index (a path, an URL or "
                             "an editable install)") from None
        if requirement.url or _ARCHIVE.search(requirement.name):
            raise CannotTell(f"{where}: {requirement.name} is a file or an URL, not a name "
                             "from the index")
        found.append(requirement)
    return found


# --- the target --------------------------------------------------------------

def machine_of(platform: str) -> str:
    """``linux/arm64`` → ``aarch64``; CannotTell for anything but Linux on a known machine."""
    os_name, _, arch = platform.strip().lower().partition("/")
    machine = _MACHINES.get(arch) or _MACHINES.get(arch.split("/")[0]) if arch else None
    if os_name != "linux" or machine is None:
        raise CannotTell(f"the platform {platform} is not one dockerpypi knows wheels for")
    return machine


def builder_platform(builder: str | None) -> str:
    """The platform the builder builds for by default (its first platform)."""
    platform = engine.default_platform(builder)
    if not platform:
        raise CannotTell("docker did not say which platform the builder builds for")
    return platform


def target_machines(given: DockerArgs, from_platforms: Iterable[str]) -> tuple[str, ...]:
    """The machines the build's steps run on: --platform, FROM --platform, or the builder's."""
    asked = [p for value in given.values("--platform") for p in value.split(",") if p.strip()]
    builders = given.values("--builder")
    builder = builders[-1] if builders else None
    platforms = asked or [builder_platform(builder)]
    for value in from_platforms:
        if value in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
            continue
        if value in ("$BUILDPLATFORM", "${BUILDPLATFORM}"):
            platforms.append(builder_platform(builder))
        elif "$" in value:
            raise CannotTell(f"a stage is FROM --platform={value}, which dockerpypi cannot "
                             "evaluate")
        else:
            platforms.append(value)
    return tuple(dict.fromkeys(machine_of(p) for p in platforms))


def _linux_platform(platform: str, machine: str) -> bool:
    # Any glibc or musl: the image's C library is not known, and a wheel for a
    # newer one than the image has is simply skipped by the installer.
    return re.fullmatch(rf"(manylinux(1|2010|2014|_\d+_\d+)|musllinux_\d+_\d+|linux)"
                        rf"_{re.escape(machine)}", platform) is not None


def tag_fits(tag: Tag, python: tuple[int, int], machine: str) -> bool:
    """Whether CPython ``python`` on Linux ``machine`` installs a wheel with ``tag``.

    The rules of packaging.tags' cpython_tags and compatible_tags, applied to
    one tag instead of listing every tag (thousands, for every manylinux).
    """
    major, minor = python
    linux = _linux_platform(tag.platform, machine)
    cpython = f"cp{major}{minor}"
    if tag.abi == cpython:
        return tag.interpreter == cpython and linux
    if tag.abi == "abi3":
        found = re.fullmatch(rf"cp{major}(\d+)", tag.interpreter)
        return linux and found is not None and 2 <= int(found.group(1)) <= minor
    if tag.abi != "none" or not (linux or tag.platform == "any"):
        return False
    if tag.interpreter in (cpython, f"py{major}"):
        return True
    found = re.fullmatch(rf"py{major}(\d+)", tag.interpreter)
    return found is not None and int(found.group(1)) <= minor


def _environments(python: tuple[int, int], machine: str) -> list[dict[str, str]]:
    version = f"{python[0]}.{python[1]}"
    # The patch level is unknown (markers that name it are sent anyway, see
    # _holds): python_version markers are judged for the first and a late one.
    return [{
        "implementation_name": "cpython", "implementation_version": full,
        "os_name": "posix", "platform_machine": machine, "platform_release": "",
        "platform_system": "Linux", "platform_version": "", "python_full_version": full,
        "platform_python_implementation": "CPython", "python_version": version,
        "sys_platform": "linux",
    } for full in (f"{version}.0", f"{version}.99")]


# --- the closure -------------------------------------------------------------

def requires_dist(metadata: bytes) -> list[str]:
    """The Requires-Dist values of a core metadata file (headers only; the body is skipped).

    A plain reading of the RFC 822 header block, an order of magnitude faster
    than an email parser on files that carry a long description.
    """
    text = metadata.decode("utf-8", "replace").replace("\r\n", "\n")
    headers = text.split("\n\n", 1)[0]
    found: list[str] = []
    current: list[str] | None = None
    for line in headers.split("\n"):
        if line[:1] in (" ", "\t") and current is not None:
            current.append(line.strip())  # a folded line goes on the header above
            continue
        if current is not None:
            found.append(" ".join(current))
        name, colon, value = line.partition(":")
        current = [value.strip()] if colon and name.strip().lower() == "requires-dist" \
            else None
    if current is not None:
        found.append(" ".join(current))
    return [value for value in found if value]


@dataclass
class _Mirror:
    """The indexed files of a mirror, grouped for the walk; metadata read on demand."""

    root: Path
    files: dict[str, _index.IndexedFile]
    by_project: dict[NormalizedName, list[_index.IndexedFile]] = field(default_factory=dict)
    _requires: dict[tuple[str, str], list[Requirement]] = field(default_factory=dict)
    _raw: dict[str, list[str]] = field(default_factory=dict)
    _parsed: dict[str, Requirement] = field(default_factory=dict)
    _tags: dict[str, frozenset[Tag] | None] = field(default_factory=dict)
    _fits: dict[tuple[str, tuple[int, int], str], bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grouped: dict[NormalizedName, list[_index.IndexedFile]] = defaultdict(list)
        for indexed in self.files.values():
            grouped[indexed.project].append(indexed)
        self.by_project = dict(grouped)

    def tags(self, filename: str) -> frozenset[Tag] | None:
        """A wheel's tags; None for an sdist."""
        if filename not in self._tags:
            try:
                self._tags[filename] = parse_wheel_filename(filename)[3] \
                    if filename.endswith(".whl") else None
            except InvalidWheelFilename:
                self._tags[filename] = None
        return self._tags[filename]

    def fits(self, filename: str, python: tuple[int, int], machine: str) -> bool:
        """Whether the file is a wheel CPython ``python`` on ``machine`` installs."""
        key = (filename, python, machine)
        if key not in self._fits:
            tags = self.tags(filename)
            self._fits[key] = tags is not None and any(
                tag_fits(tag, python, machine) for tag in tags)
        return self._fits[key]

    def requires(self, indexed: _index.IndexedFile, extra: str) -> list[Requirement]:
        """The Requires-Dist of a wheel that may hold when ``extra`` ("" for none) is asked for.

        From its PEP 658 sidecar (or the wheel itself); a dependency of another
        extra alone is skipped unparsed, which saves most of the parsing.
        """
        key = (indexed.filename, extra)
        if key not in self._requires:
            found = []
            for text in self._texts(indexed):
                only = _ONLY_EXTRA.match(text)
                if only and canonicalize_name(only.group(2)) != extra:
                    continue
                found.append(self._parse(indexed.filename, text))
            self._requires[key] = found
        return self._requires[key]

    def _texts(self, indexed: _index.IndexedFile) -> list[str]:
        name = indexed.filename
        if name not in self._raw:
            sidecar = self.root / (name + _index.METADATA_SUFFIX)
            try:
                data = sidecar.read_bytes() if indexed.metadata_sha256 else \
                    _index.wheel_metadata(self.root / name, indexed.project)
            except (*_index.ARCHIVE_ERRORS, _index.Unreadable) as error:
                raise CannotTell(f"cannot read the metadata of {name} ({error}): run "
                                 "`dockerpypi mirror index --full`") from None
            self._raw[name] = requires_dist(data)
        return self._raw[name]

    def _parse(self, filename: str, text: str) -> Requirement:
        if text not in self._parsed:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                raise CannotTell(f"{filename} has a dependency dockerpypi cannot read: "
                                 f"{text}") from None
            if requirement.url:
                raise CannotTell(f"{filename} depends on {requirement.name} from an URL")
            self._parsed[text] = requirement
        return self._parsed[text]


@dataclass
class _Walk:
    """The closure for one Python and machine; ``problems`` say why it cannot serve them."""

    files: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


# Marker variables whose value in the image cannot be known from outside it
# (the exact patch level, the kernel): a marker on them may hold, so the
# dependency is sent. Sending too much costs bytes; too little fails the build.
_UNKNOWABLE = ("python_full_version", "implementation_version", "platform_release",
               "platform_version")


def _holds(marker: Marker | None, environments: list[dict[str, str]], extra: str) -> bool:
    if marker is None:
        return True
    if any(name in str(marker) for name in _UNKNOWABLE):
        return True
    return any(marker.evaluate({**env, "extra": extra}) for env in environments)


def _python_fits(requires_python: str | None, python: tuple[int, int]) -> bool:
    if not requires_python:
        return True
    try:
        allowed = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True  # installers ignore a Requires-Python they cannot read
    return any(allowed.contains(f"{python[0]}.{python[1]}.{patch}", prereleases=True)
               for patch in (0, 99))


def _walk(mirror: _Mirror, roots: Sequence[tuple[Requirement, str]], python: tuple[int, int],
          machine: str) -> _Walk:
    environments = _environments(python, machine)
    result = _Walk()
    queue: list[tuple[Requirement, str]] = [
        (req, origin) for req, origin in roots if _holds(req.marker, environments, "")]
    seen_edges: set[tuple[str, str, frozenset[str]]] = set()
    walked: set[tuple[str, str]] = set()
    while queue:
        requirement, origin = queue.pop()
        name = canonicalize_name(requirement.name)
        extras = frozenset(canonicalize_name(extra) for extra in requirement.extras)
        edge = (name, str(requirement.specifier), extras)
        if edge in seen_edges:
            continue
        seen_edges.add(edge)
        by_version: dict[Version, list[_index.IndexedFile]] = defaultdict(list)
        for indexed in mirror.by_project.get(name, []):
            try:
                version = Version(indexed.version)
            except InvalidVersion:
                continue
            if requirement.specifier.contains(version, prereleases=True) and \
                    _python_fits(indexed.requires_python, python):
                by_version[version].append(indexed)
        usable = False
        for version, files in sorted(by_version.items()):
            wheels = [f for f in files if mirror.fits(f.filename, python, machine)]
            if not wheels:
                if any(mirror.tags(f.filename) is None for f in files):
                    result.problems.append(f"{name} {version} is only an sdist in the mirror "
                                           "(building it needs build dependencies)")
                continue
            usable = True
            result.files.update(f.filename for f in files if mirror.tags(f.filename) is None)
            for wheel in wheels:
                result.files.add(wheel.filename)
                for extra in ("", *sorted(extras)):
                    if (wheel.filename, extra) in walked:
                        continue
                    walked.add((wheel.filename, extra))
                    for dependency in mirror.requires(wheel, extra):
                        if _holds(dependency.marker, environments, extra):
                            queue.append((dependency, f"{name} {version}"))
        if not usable:
            result.problems.append(f"no wheel of {name}{requirement.specifier} in the mirror "
                                   f"fits (needed by {origin})")
        if result.problems:
            break  # this Python is out: the rest of its walk would change nothing
    return result


@dataclass(frozen=True)
class Selection:
    """The files a build can need, and how they were found."""

    files: tuple[_index.IndexedFile, ...]
    pythons: tuple[tuple[int, int], ...]
    machines: tuple[str, ...]
    total_files: int
    total_bytes: int

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def summary(self) -> str:
        shown = ", ".join(f"{major}.{minor}" for major, minor in self.pythons)
        if len(self.pythons) > 2:
            first, last = self.pythons[0], self.pythons[-1]
            shown = f"{first[0]}.{first[1]} to {last[0]}.{last[1]}"
        return (f"{len(self.files)} of {self.total_files} mirror files "
                f"({_megabytes(self.size)} of {_megabytes(self.total_bytes)}) "
                f"for CPython {shown} on {', '.join(self.machines)}")


def _megabytes(size: int) -> str:
    if size < 1_000_000:
        return f"{size / 1e3:,.1f} kB"
    return f"{size / 1e6:,.1f} MB" if size < 1_000_000_000 else f"{size / 1e9:,.2f} GB"


def load_index(root: Path) -> dict[str, _index.IndexedFile]:
    """What the mirror's index pages list: its state file; CannotTell when there is none."""
    warnings: list[str] = []
    files = _index.load_state(root, warnings)
    if warnings or not files:
        raise CannotTell(f"{root} has no usable dockerpypi index (run `dockerpypi mirror "
                         "index`)")
    return files


def select(root: Path, requirements: Sequence[tuple[Requirement, str]],
           machines: Sequence[str], *, files: Mapping[str, _index.IndexedFile] | None = None,
           pythons: Sequence[tuple[int, int]] = PYTHONS) -> Selection:
    """The files of the mirror at ``root`` that ``requirements`` can resolve to.

    ``requirements`` pairs each requirement with where it was written, for
    messages. A Python is kept when the mirror serves every requirement to it
    from wheels; CannotTell when no Python is kept for some machine.
    """
    indexed = dict(files) if files is not None else load_index(root)
    mirror = _Mirror(root, indexed)
    chosen: set[str] = set()
    served: set[tuple[int, int]] = set()
    for machine in machines:
        fitting = furthest = 0
        first_problems: list[str] = []
        for python in pythons:
            walk = _walk(mirror, requirements, python, machine)
            if walk.problems:
                if len(walk.files) >= furthest:  # the Python that got furthest explains best
                    furthest, first_problems = len(walk.files), walk.problems
                continue
            fitting += 1
            served.add(python)
            chosen |= walk.files
        if not fitting:
            raise CannotTell(f"the mirror cannot serve the requirements from wheels to any "
                             f"CPython 3.{pythons[0][1]}-3.{pythons[-1][1]} on {machine}: "
                             f"{first_problems[0]}")
    for name in sorted(chosen):
        try:
            size = (root / name).stat().st_size
        except OSError:
            size = -1
        if size != indexed[name].size:
            raise CannotTell(f"the index is out of date for {name} (run `dockerpypi mirror "
                             "index`)")
    return Selection(tuple(indexed[name] for name in sorted(chosen)), tuple(sorted(served)),
                     tuple(machines), len(indexed), sum(f.size for f in indexed.values()))


# --- the directory -----------------------------------------------------------

def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, target)


def subset_name(selection: Selection) -> str:
    """The directory name of a subset: what it holds, so an equal choice finds it again."""
    # The pages' shape is part of it: a subset written in an older one is not taken.
    listed = [f"pages {_index.PAGE_FORMAT}", *map(repr, selection.files)]
    digest = hashlib.sha256("\n".join(listed).encode()).hexdigest()
    return f"{SUBSET_PREFIX}{digest[:32]}"


def write_subset(root: Path, selection: Selection) -> tuple[Path, bool]:
    """The directory of hard links to the selected files, with their PEP 503 pages.

    It is made inside the mirror, as a dot-directory the index and the server
    ignore, so that links work, and kept there for the next build that needs
    the same files (returned at once when it exists; ``remove_stale`` prunes
    those unused). It is written under a temporary name and renamed when
    whole, so a directory with the final name is always complete. Where the
    mirror is read-only it goes to the temporary directory instead (links, or
    copies across file systems), and the second value, True, says it is the
    caller's to remove.
    """
    final = root / subset_name(selection)
    if final.is_dir():
        with contextlib.suppress(OSError):
            os.utime(final)  # in use: the pruning goes by this time
        return final, False
    temporary = True
    try:
        directory = Path(tempfile.mkdtemp(prefix=_WRITING_PREFIX, dir=root))
        temporary = False
    except OSError:
        directory = Path(tempfile.mkdtemp(prefix=SUBSET_PREFIX.lstrip(".")))
    try:
        directory.chmod(0o755)  # mkdtemp's 0700 would hide it from a non-root USER
        by_project: dict[str, list[_index.IndexedFile]] = defaultdict(list)
        for indexed in selection.files:
            _link(root / indexed.filename, directory / indexed.filename)
            if indexed.metadata_sha256:
                sidecar = indexed.filename + _index.METADATA_SUFFIX
                _link(root / sidecar, directory / sidecar)
            by_project[indexed.project].append(indexed)
        for project, files in by_project.items():
            (directory / project).mkdir(mode=0o755)
            page = directory / project / _index.PAGE
            page.write_bytes(_index.project_page(project, files))
            page.chmod(0o644)
        (directory / _index.PAGE).write_bytes(_index.root_page(by_project))
        (directory / _index.PAGE).chmod(0o644)
        if temporary:
            return directory, True
        try:
            directory.rename(final)
        except OSError:  # another build wrote it meanwhile: theirs is as good
            shutil.rmtree(directory, ignore_errors=True)
            if not final.is_dir():
                raise
        return final, False
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def remove_stale(root: Path, *, now: float | None = None) -> None:
    """Prune the subsets in ``root``: unused for a week, or not among the most recent.

    A subset in use was touched when its build began, so it is never pruned
    while the build runs (``KEEP_LIMIT`` recent ones stay, and none younger
    than an hour goes). Half-written ones of a process killed outright go
    after a day.
    """
    now = time.time() if now is None else now
    kept: list[tuple[float, str]] = []
    with contextlib.suppress(OSError), os.scandir(root) as entries:
        for entry in entries:
            if not entry.name.startswith(SUBSET_PREFIX):
                continue
            with contextlib.suppress(OSError):
                if not entry.is_dir(follow_symlinks=False):
                    continue
                age = now - entry.stat(follow_symlinks=False).st_mtime
                if entry.name.startswith(_WRITING_PREFIX):
                    if age > STALE_SECONDS:
                        shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    kept.append((age, entry.path))
    kept.sort()
    for rank, (age, path) in enumerate(kept):
        if age > KEEP_SECONDS or (rank >= KEEP_LIMIT and age > IN_USE_SECONDS):
            shutil.rmtree(path, ignore_errors=True)


# --- for dockerpypi build ----------------------------------------------------

def build_requirements(given: DockerArgs) -> tuple[list[tuple[Requirement, str]], tuple[str, ...]]:
    """The requirements the build ``given`` installs from the mirror, and its machines."""
    requirements, machines, _ = _read_build(given)
    return requirements, machines


def _read_build(given: DockerArgs
                ) -> tuple[list[tuple[Requirement, str]], tuple[str, ...], dict[str, str]]:
    """:func:`build_requirements`, and the requirements files read (path: text)."""
    from .command import dockerfile_path

    path = dockerfile_path(given)
    context = given.local_path
    if path is None or context is None or not Path(context).is_dir():
        raise CannotTell("the Dockerfile or the build context is not a local directory")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CannotTell(f"cannot read {path} ({error})") from None
    sources, from_platforms = _dockerfile_steps(text)
    requirements: list[tuple[Requirement, str]] = []
    texts: dict[str, str] = {}
    for source in dict.fromkeys(sources):
        try:
            content = (Path(context) / source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CannotTell(f"cannot read the requirements file {source} ({error})") from None
        texts[source] = content
        requirements += [(req, source) for req in parse_requirements(content, source)]
    if not requirements:
        raise CannotTell(f"{', '.join(dict.fromkeys(sources))} names no requirement")
    return requirements, target_machines(given, from_platforms), texts


@dataclass(frozen=True)
class _Chosen:
    selection: Selection
    directory: Path | None  # None: a dry run, nothing written
    temporary: bool  # outside the mirror: removed after the build
    sources: dict[str, str]  # the requirements files read, for the kept answer


def _selected(given: DockerArgs, mirror_dir: Path, *, dry_run: bool) -> _Chosen:
    requirements, machines, sources = _read_build(given)
    if dry_run:
        return _Chosen(select(mirror_dir, requirements, machines), None, False, sources)
    try:
        # The files and the state that lists them must not change while they are linked.
        with _index.mirror_lock(mirror_dir, _LOCK_TIMEOUT, reading=True):
            selection = select(mirror_dir, requirements, machines)
            directory, temporary = write_subset(mirror_dir, selection)
            remove_stale(mirror_dir)
            return _Chosen(selection, directory, temporary, sources)
    except UserMessageError as error:  # another dockerpypi kept the lock
        raise CannotTell(str(error)) from None
    except OSError as error:  # no room for the links, say
        raise CannotTell(f"cannot write the subset ({error})") from None


def _rewrite_old_pages(mirror_dir: Path, echo: Callable[[str], None]) -> None:
    """Pages an older dockerpypi wrote are written again before the whole mirror is
    sent: their shape may fail an installer (pages.PAGE_FORMAT says which changed)."""
    if not _index.pages_outdated(mirror_dir):
        return
    try:
        _index.update_index(mirror_dir, lock_timeout=_LOCK_TIMEOUT)
    except (UserMessageError, OSError) as error:
        echo(f"warning: the mirror's pages are in an older dockerpypi's shape and could not "
             f"be written again ({error}): run `dockerpypi mirror index`")
    else:
        echo("wrote the mirror's pages again in this dockerpypi's shape")


@contextlib.contextmanager
def mirror_context(given: DockerArgs, mirror_dir: Path | None, *, dry_run: bool,
                   echo: Callable[[str], None],
                   remember: Callable[[Path, str, dict[str, str]], None] | None = None,
                   ) -> Iterator[Path | None]:
    """The directory to send as the ``pypi-mirror`` context: a subset, or ``mirror_dir``.

    ``echo`` gets one line: what is sent, or why the whole mirror is. The
    subset stays in the mirror for the next build (``remember`` is told of
    it: directory, summary, requirements files read); one written outside
    the mirror is removed when the block ends, however it ends (SIGTERM too).
    Nothing changes when there is no mirror or the user gave the context.
    """
    if mirror_dir is None or MIRROR_STAGE in given.build_contexts:
        yield mirror_dir
        return
    with signals_unwind():
        temporary: Path | None = None
        try:
            try:
                chosen = _selected(given, mirror_dir, dry_run=dry_run)
            except CannotTell as reason:
                echo(f"sending the whole mirror: {reason}")
                if not dry_run:
                    _rewrite_old_pages(mirror_dir, echo)
                sent: Path = mirror_dir
            else:
                summary = chosen.selection.summary()
                if chosen.directory is None:  # a dry run: where it would be
                    echo(f"would send {summary}")
                    sent = mirror_dir / subset_name(chosen.selection)
                else:
                    echo(f"sending {summary}")
                    sent = chosen.directory
                    if chosen.temporary:
                        temporary = sent
                    elif remember is not None:
                        remember(sent, summary, chosen.sources)
            yield sent
        finally:
            if temporary is not None:
                with signals_held():  # no half of it is left
                    shutil.rmtree(temporary, ignore_errors=True)
