"""The closure over the mirror's index: every file a build's requirements can resolve to.

For every requirement, every version in the mirror that satisfies it, with
the wheels that fit the target (CPython on Linux on one machine), then the
dependencies of each of those wheels, their markers evaluated for the
target: :func:`select` walks it for each CPython from 3.8 to 3.15
(:data:`PYTHONS`) and each machine, and keeps the Pythons the mirror can
serve from wheels alone. The metadata comes from the index's state and the
PEP 658 sidecars (:mod:`dockerpypi.mirror.index`), read on demand.

A step that installs a lock file needs no walk: the lock names its files
(:class:`Locked`, read by :mod:`.locks`) by name or by sha256, and the
step reads no others.
Of those, the wheels that fit the target are sent, with the sdists, and a
Python is served when every locked release the mirror holds has a wheel for
it, or no sdist either (a release only for other platforms, which the lock's
markers keep off this one).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ...mirror import index
from . import CannotTell
from .target import PYTHONS, environments, holds, python_fits, tag_fits

# A dependency of one extra alone, the commonest marker: `; extra == "test"`.
_ONLY_EXTRA = re.compile(r"""^[^;]*;\s*extra\s*==\s*(['"])([^'"]+)\1\s*$""")


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
    state: index.Projects  # each project's lines of the state file, parsed when reached
    files: dict[str, index.IndexedFile] = field(default_factory=dict)  # parsed so far
    _projects: dict[NormalizedName, list[index.IndexedFile]] = field(default_factory=dict)
    _requires: dict[tuple[str, str], list[Requirement]] = field(default_factory=dict)
    _raw: dict[str, list[str]] = field(default_factory=dict)
    _parsed: dict[str, Requirement] = field(default_factory=dict)
    _tags: dict[str, frozenset[Tag] | None] = field(default_factory=dict)
    _fits: dict[tuple[str, tuple[int, int], str], bool] = field(default_factory=dict)

    def file(self, filename: str) -> index.IndexedFile | None:
        """The indexed file of that name (its project's entries parsed), or None."""
        if filename not in self.files:
            try:
                project = index.parse_distribution(filename).project
            except ValueError:
                return None
            self.project_files(project)
        return self.files.get(filename)

    def project_files(self, project: NormalizedName) -> list[index.IndexedFile]:
        """The indexed files of ``project`` (CannotTell when an entry is damaged)."""
        if project not in self._projects:
            found = []
            for key, line in self.state.lines(project):
                filename = index.key_filename(key)
                indexed = index.parse_line(filename, line) if filename is not None else None
                if indexed is None:
                    raise CannotTell(f"the index of {self.root} has a damaged entry (run "
                                     "`dockerpypi mirror index --full`)")
                self.files[indexed.filename] = indexed
                found.append(indexed)
            self._projects[project] = found
        return self._projects[project]

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

    def requires(self, indexed: index.IndexedFile, extra: str) -> list[Requirement]:
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

    def _texts(self, indexed: index.IndexedFile) -> list[str]:
        name = indexed.filename
        if name not in self._raw:
            sidecar = self.root / (name + index.METADATA_SUFFIX)
            try:
                data = sidecar.read_bytes() if indexed.metadata_sha256 else \
                    index.wheel_metadata(self.root / name, indexed.project)
            except (*index.ARCHIVE_ERRORS, index.Unreadable) as error:
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


@dataclass(frozen=True)
class Locked:
    """The files a step's lock file names: the step installs from those and no others."""

    files: frozenset[str]  # file names, as in the mirror
    requires_python: str | None  # the lock's own (None: any)
    origin: str  # the lock file, for messages
    # (project, sha256) of files a lock names by version and hash, not by name:
    # the mirror's files of that project with that sha256.
    hashes: frozenset[tuple[str, str]] = frozenset()


def _walk(mirror: _Mirror, roots: Sequence[tuple[Requirement, str]], python: tuple[int, int],
          machine: str) -> _Walk:
    marker_envs = environments(python, machine)
    result = _Walk()
    queue: list[tuple[Requirement, str]] = [
        (req, origin) for req, origin in roots if holds(req.marker, marker_envs, "")]
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
        by_version: dict[Version, list[index.IndexedFile]] = defaultdict(list)
        for indexed in mirror.project_files(name):
            try:
                version = Version(indexed.version)
            except InvalidVersion:
                continue
            if requirement.specifier.contains(version, prereleases=True) and \
                    python_fits(indexed.requires_python, python):
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
                        if holds(dependency.marker, marker_envs, extra):
                            queue.append((dependency, f"{name} {version}"))
        if not usable:
            result.problems.append(f"no wheel of {name}{requirement.specifier} in the mirror "
                                   f"fits (needed by {origin})")
        if result.problems:
            break  # this Python is out: the rest of its walk would change nothing
    return result


def _locked_walk(mirror: _Mirror, locked: Sequence[Locked], python: tuple[int, int],
                 machine: str) -> _Walk:
    """The locked files for one Python and machine (see the module's docstring)."""
    result = _Walk()
    for lock in locked:
        if not python_fits(lock.requires_python, python):
            result.problems.append(f"{lock.origin} requires Python {lock.requires_python}")
            return result
        releases: dict[tuple[str, str], list[index.IndexedFile]] = defaultdict(list)
        # A locked file the mirror lacks is left out: the step fails for want of
        # it whether or not the rest of the mirror is sent.
        named = filter(None, map(mirror.file, lock.files))
        # A lock that names hashes, not files: only its projects' entries are read.
        hashed = (indexed for project in sorted({project for project, _ in lock.hashes})
                  for indexed in mirror.project_files(canonicalize_name(project))
                  if (indexed.project, indexed.sha256.lower()) in lock.hashes)
        for indexed in {indexed.filename: indexed for indexed in (*named, *hashed)}.values():
            releases[(indexed.project, indexed.version)].append(indexed)
        for (project, version), files in sorted(releases.items()):
            wheels = [f for f in files if mirror.fits(f.filename, python, machine)
                      and python_fits(f.requires_python, python)]
            sdists = [f for f in files if mirror.tags(f.filename) is None]
            if wheels:
                result.files.update(f.filename for f in (*wheels, *sdists))
            elif sdists:
                result.problems.append(f"{project} {version} of {lock.origin} is only an sdist "
                                       "in the mirror (building it needs build dependencies)")
                return result
    return result


@dataclass(frozen=True)
class Selection:
    """The files a build can need, and how they were found."""

    files: tuple[index.IndexedFile, ...]
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


def load_index(root: Path) -> index.Projects:
    """What the mirror's index pages list: its state file, each entry parsed when the walk
    reaches its project; CannotTell when there is none."""
    files = index.read_projects(root)
    if files is not None and files.files:
        return files
    warnings: list[str] = []
    state = index.read_lines(root, warnings)  # an older format: read whole
    if warnings or not state.lines:
        raise CannotTell(f"{root} has no usable dockerpypi index (run `dockerpypi mirror "
                         "index`)")
    return index.Projects.of(state)


def select(root: Path, requirements: Sequence[tuple[Requirement, str]],
           machines: Sequence[str], *, locked: Sequence[Locked] = (),
           pythons: Sequence[tuple[int, int]] = PYTHONS) -> Selection:
    """The files of the mirror at ``root`` that ``requirements`` can resolve to,
    and the files of ``locked`` that fit the target.

    ``requirements`` pairs each requirement with where it was written, for
    messages. A Python is kept when the mirror serves every requirement and
    every lock to it from wheels; CannotTell when no Python is kept for some
    machine.
    """
    mirror = _Mirror(root, load_index(root))
    indexed = mirror.files
    chosen: set[str] = set()
    served: set[tuple[int, int]] = set()
    for machine in machines:
        fitting = furthest = 0
        first_problems: list[str] = []
        for python in pythons:
            walk = _walk(mirror, requirements, python, machine)
            if locked and not walk.problems:
                from_locks = _locked_walk(mirror, locked, python, machine)
                walk.files |= from_locks.files
                walk.problems += from_locks.problems
            if walk.problems:
                if len(walk.files) >= furthest:  # the Python that got furthest explains best
                    furthest, first_problems = len(walk.files), walk.problems
                continue
            fitting += 1
            served.add(python)
            chosen |= walk.files
        if not fitting:
            raise CannotTell(f"the mirror cannot serve the build from wheels to any "
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
                     tuple(machines), mirror.state.files, mirror.state.size)
