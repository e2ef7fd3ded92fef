"""The lock files among ``mirror add``'s arguments: one registry of their kinds.

Each kind (a :class:`LockKind`, listed in :data:`KINDS`) says

- how its file is recognised among the arguments (:meth:`LockKind.find`:
  the file, or a directory holding one; the kinds are asked in
  :data:`KINDS` order, so a directory holding a uv.lock is uv's);
- whether the lock is fetched by its exact files (uv.lock and pylock.toml:
  :attr:`LockKind.exact`, a :class:`.uvlock.LockPlan`, nothing resolved) or
  read as hash-pinned requirements (pdm.lock, Pipfile.lock, poetry.lock:
  :meth:`LockKind.pinned` writes them, for the path of :mod:`.pinned`),
  with the indexes the lock adds (a Pipfile.lock's own sources);
- which project directory given beside its lock needs what its build
  backend asks for (:meth:`LockKind.builds`, filled by :mod:`.project`).

``mirror add`` calls :func:`read_locks` once and gets what to fetch
(:class:`LockRequest`), then :func:`plan_exact` when the locks are exact.
What each lock says is its own module's: :mod:`.uvlock` (with
:mod:`.pylock`), :mod:`.pdmlock`, :mod:`.pipfile`, :mod:`.poetrylock`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..settings.urls import MirrorURL, parse_mirror_url
from .arguments import installable, names_path

if TYPE_CHECKING:
    from .project import Project
    from .targets import TargetTags
    from .uvlock import LockPlan


@dataclass(frozen=True)
class Pinned:
    """A kind's locks as hash-pinned requirements: what the fill adds to its request."""

    files: tuple[Path, ...]  # requirements files, in the scratch directory
    indexes: tuple[MirrorURL, ...]  # the indexes to ask, the lock's own among them
    left_out: tuple[str, ...] = ()  # packages not from an index, each a warning
    notes: tuple[str, ...] = ()  # lines for a person, printed before the fill


class LockKind(ABC):
    """One kind of lock file: how ``mirror add`` finds it, fetches it, and what it builds."""

    name = ""  # as the messages name it
    exact = False  # fetched by the exact files it lists, not as hash-pinned requirements
    scratch = "dockerpypi-lock-"  # the prefix of the temporary directory of its pins

    @abstractmethod
    def find(self, argument: str) -> Path | None:
        """The lock file ``argument`` names (the file, or a directory holding one)."""

    def builds(self, project: Project) -> bool:
        """Whether installing the lock in ``project`` builds the project itself too."""
        return False

    def pinned(self, locks: tuple[Path, ...], directory: Path, *,
               indexes: tuple[MirrorURL, ...], public: str, given_indexes: bool,
               offline: bool) -> Pinned:
        """``locks`` as hash-pinned requirements written into ``directory``, and the
        indexes to ask (``indexes``, the configured ones, and the lock's own)."""
        raise NotImplementedError(f"{self.name} is fetched by its exact files")


class UvLocks(LockKind):
    """uv.lock and pylock.toml: every file listed with its URL and hash."""

    name = "uv.lock or pylock.toml"
    exact = True

    def find(self, argument: str) -> Path | None:
        from .uvlock import lock_path

        return lock_path(argument)

    def builds(self, project: Project) -> bool:
        # uv builds the project unless it syncs it as a virtual project.
        return project.uv_builds


class PdmLocks(LockKind):
    """pdm.lock: versions and the hashes of their files, looked up by name."""

    name = "pdm.lock"
    scratch = "dockerpypi-pdm-"

    def find(self, argument: str) -> Path | None:
        from .pdmlock import pdm_lock_path

        return pdm_lock_path(argument)

    def builds(self, project: Project) -> bool:
        from .pdmlock import builds_itself

        return builds_itself(project.directory)

    def pinned(self, locks: tuple[Path, ...], directory: Path, *,
               indexes: tuple[MirrorURL, ...], public: str, given_indexes: bool,
               offline: bool) -> Pinned:
        from .pdmlock import write_requirements

        return Pinned((write_requirements(locks, directory),), indexes)


class PipfileLocks(LockKind):
    """Pipfile.lock: versions and hashes, and the sources pipenv asks."""

    name = "Pipfile.lock"
    scratch = "dockerpypi-pipfile-"

    def find(self, argument: str) -> Path | None:
        from .pipfile import lock_path

        return lock_path(argument)

    def pinned(self, locks: tuple[Path, ...], directory: Path, *,
               indexes: tuple[MirrorURL, ...], public: str, given_indexes: bool,
               offline: bool) -> Pinned:
        """The lock's sources other than the public index come after the configured
        indexes (not with --index-url or offline)."""
        from .pipfile import expanded, other_sources, read_pipfile_lock, write_requirements

        read = [read_pipfile_lock(path) for path in locks]
        notes = []
        for lock in read:
            if not lock.requirements:
                raise UsageError(f"{lock.path} locks no package from an index",
                                 fix="lock the Pipfile (pipenv lock), or give packages instead")
            notes.append(f"{lock.path}: {len(lock.requirements)} packages, each at its locked "
                         "version, only files with the lock's sha256")
            if lock.left_out:
                notes.append(f"  left to the build (a path, a URL or a VCS): "
                             f"{', '.join(lock.left_out)}")
        if not given_indexes and not offline:
            for lock in read:
                for source in other_sources(lock.sources, public):
                    url = expanded(source.url)
                    if url is not None:
                        indexes = (*indexes, parse_mirror_url(
                            url, origin=f"{lock.path.name} source {source.name}"))
        return Pinned(tuple(write_requirements(read, directory)),
                      tuple(dict.fromkeys(indexes)), notes=tuple(notes))


class PoetryLocks(LockKind):
    """poetry.lock: versions and the hashes of their files, every group."""

    name = "poetry.lock"
    scratch = "dockerpypi-poetry-"

    def find(self, argument: str) -> Path | None:
        from .poetrylock import lock_path

        return lock_path(argument)

    def builds(self, project: Project) -> bool:
        from .poetrylock import builds_root

        return project.uv_builds and builds_root(project.directory)

    def pinned(self, locks: tuple[Path, ...], directory: Path, *,
               indexes: tuple[MirrorURL, ...], public: str, given_indexes: bool,
               offline: bool) -> Pinned:
        from .poetrylock import write_requirements

        written, left_out = write_requirements(locks, directory)
        return Pinned((written,), indexes, tuple(left_out))


UV = UvLocks()
PDM = PdmLocks()
PIPFILE = PipfileLocks()
POETRY = PoetryLocks()
KINDS: tuple[LockKind, ...] = (UV, PDM, PIPFILE, POETRY)  # asked in this order


def split(kind: LockKind, arguments: Sequence[str]) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """The locks of ``kind`` among ``arguments`` (resolved, each once), and the others."""
    locks, rest = [], []
    for argument in arguments:
        found = kind.find(argument)
        if found is None:
            rest.append(argument)
        else:
            locks.append(found.resolve())
    return tuple(dict.fromkeys(locks)), tuple(rest)


@dataclass(frozen=True)
class LockRequest:
    """What ``mirror add``'s arguments ask for, once their lock files are read."""

    packages: tuple[str, ...]  # the arguments no kind took: names, projects, files
    exact: tuple[Path, ...]  # locks fetched by their exact files (plan_exact)
    files: tuple[Path, ...]  # hash-pinned requirements written from the other locks
    indexes: tuple[MirrorURL, ...]  # the indexes to ask
    projects: tuple[Project, ...]  # directories whose build backend is asked
    left_out: tuple[str, ...] = ()  # packages the locks take from elsewhere, one warning each
    notes: tuple[str, ...] = ()  # lines for a person


def read_locks(arguments: Sequence[str], *, indexes: tuple[MirrorURL, ...], public: str,
               given_indexes: bool, offline: bool,
               scratch: Callable[[str], Path]) -> LockRequest:
    """The locks among ``arguments``, read now: a bad one is refused before any download.

    ``scratch(prefix)`` makes a temporary directory for a kind's requirements
    files, which the caller removes when it is done. ``public`` is the public
    index's URL, ``given_indexes`` whether ``indexes`` were given on the
    command line.
    """
    rest = tuple(arguments)
    taken: dict[LockKind, tuple[tuple[Path, ...], list[str]]] = {}
    for kind in KINDS:
        locks, others = split(kind, rest)
        if locks:
            taken[kind] = (locks, [a for a in rest if a not in others])
        rest = others
    files: list[Path] = []
    left_out: list[str] = []
    notes: list[str] = []
    for kind, (locks, _) in taken.items():
        if not kind.exact:
            pinned = kind.pinned(locks, scratch(kind.scratch), indexes=indexes, public=public,
                                 given_indexes=given_indexes, offline=offline)
            files += pinned.files
            indexes = pinned.indexes
            left_out += pinned.left_out
            notes += pinned.notes
    exact = tuple(lock for kind, (locks, _) in taken.items() if kind.exact for lock in locks)
    projects: list[Project] = []
    if any(names_path(argument) for argument in arguments):
        from .project import read_projects

        # A project beside its exact lock gets the lock's files, then what its
        # build needs (the lock has not that); beside a pinned lock, the same
        # when its tool builds the project.
        projects = [] if exact else read_projects(rest)
        for kind, (_, given) in taken.items():
            projects += [project for project in read_projects(
                [a for a in given if installable(Path(a))]) if kind.builds(project)]
    return LockRequest(rest, exact, tuple(files), indexes, tuple(projects), tuple(left_out),
                       tuple(notes))


def plan_exact(locks: tuple[Path, ...], root: Path, *, packages: tuple[str, ...],
               files: Sequence[Path], image: str | None, indexes: tuple[MirrorURL, ...],
               given_indexes: bool, tags: TargetTags, offline: bool,
               timeout: float | None, retries: int | None) -> LockPlan:
    """The plan of ``mirror add uv.lock`` (or pylock.toml): the lock's own files, nothing
    resolved."""
    from .download import origin
    from .fill import MODE_HOST, MODE_TARGET, secrets_of
    from .targets import supported_tags
    from .uvlock import plan_locks

    if packages or files or image is not None or given_indexes:
        raise UsageError("a lock file names every file to add and where it is",
                         fix="give it alone, without packages, -r, --image or --index-url")
    # The lock's URLs may be on a configured index that wants credentials.
    auth = tuple((origin(m.url), m.credentials) for m in indexes if m.credentials is not None)
    plan = plan_locks(root, locks, supported=supported_tags(tags) if tags.given else (),
                      mode=MODE_TARGET if tags.given else MODE_HOST, auth=auth,
                      secrets=secrets_of(indexes), timeout=timeout, retries=retries)
    if offline:
        # Offline: only the configured mirrors may be asked, whatever the lock names.
        allowed = {origin(m.url) for m in indexes}
        elsewhere = [index for index in plan.indexes if origin(index) not in allowed]
        if elsewhere:
            raise UsageError(f"offline, but the lock's files come from {', '.join(elsewhere)}, "
                             "which is no configured mirror",
                             fix="configure that index as a mirror (DOCKERPYPI_MIRRORS), or "
                                 "add the lock with --online")
    return plan
