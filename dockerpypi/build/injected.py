"""``dockerpypi build --inject``: a build of a rewritten copy of the user's Dockerfile.

The rewriting is :mod:`dockerpypi.dockerfile.inject`'s; this module reads
the user's file before anything runs (a file inject refuses is said before
docker is asked), and gives the build a copy of it in a private directory
for as long as the build lasts. Only ``--inject`` imports it.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import files
from ..dockerfile.inject import InjectResult, inject
from ..dockerfile.lock_mounts import LOCKS_STAGE
from ..dockerfile.vocabulary import PIPENV, PYLOCK, UV_LOCK, installers_called
from ..errors import BuildWarning, DockerPypiError, UsageError
from ..mirror.lockfile import package_picks, read_lock, rewrite_lock
from ..mirror.picks import Pick
from ..settings.model import SOURCE_DEFAULT
from .command import DockerArgs, dockerfile_path, parse_docker_args, with_dockerfile

if TYPE_CHECKING:
    from ..settings.model import Settings
    from .pipeline import BuildRun


@dataclass(frozen=True)
class Injecting:
    """The user's Dockerfile as read, and the options of ``--inject``."""

    source: Path
    text: str
    uid: int | None
    prefer_uv: bool
    context: Path | None = None  # the local build context

    def result(self, settings: Settings, config: str,
               has_lock: Callable[[str, str], bool] | None = None,
               has_project: Callable[[str], bool] | None = None,
               serve_poetry: bool = True) -> InjectResult:
        """The rewritten text, for steps that read their settings in the ``config`` form.

        ``has_lock(kind, path)``: which lock files of the build context steps
        may read rewritten for the local mirror (None: none); ``has_project``
        the same for Poetry projects (:mod:`.poetry_projects`).
        """
        return inject(self.text, mount_point=settings.mount_point.value, uid=self.uid,
                      prefer_uv=self.prefer_uv, config=config, has_lock=has_lock,
                      has_project=has_project, serve_poetry=serve_poetry)

    def _lock_check(self, run: BuildRun) -> Callable[[str, str], bool]:
        """Whether a lock of the build context can be read from the mirror instead.

        It must be in the context and name its files as its tool wrote them
        (read as the kind the step reads it as: uv.lock, pylock.toml), and the
        mirror must serve each of its packages (at least one of the package's
        locked files: the installer picks the one that fits, and says so when
        none does).
        If not, a build with another index leaves the lock as it is (one
        warning per lock), and an offline build without another index is
        refused with the command that fills the mirror.
        """
        context, mirror_dir = self.context, run.mirror_dir
        if context is None or mirror_dir is None or not _mirror_is_a_context(run):
            # The steps see no mirror directory the lock could name: said per step.
            return lambda kind, relative: False
        only_index = not run.settings.uses_public_index and len(run.settings.mirrors.value) == 1

        @functools.cache  # each step asks; each lock is read, and warned about, once
        def check(kind: str, relative: str) -> bool:
            path = context / relative
            if not path.is_file():
                return False
            as_it_is = _AS_IT_IS[kind]
            try:
                packages = _packages(kind, path)
                # A lock the copy cannot be made of is said now, as one that cannot be read.
                _rewrite(kind, path.read_text(encoding="utf-8"), run.settings.mount_point.value,
                         where=str(path))
            except DockerPypiError as error:
                if only_index:
                    raise
                run.warn(BuildWarning(f"{error.problem}, so {as_it_is}"))
                return False
            missing = [name for name, picks in packages.items()
                       if not any((mirror_dir / pick.filename).is_file() for pick in picks)]
            if not missing:
                return True
            fix = shlex.join(["dockerpypi", "mirror", "add", str(path), *(
                [] if run.settings.mirror_dir.source == SOURCE_DEFAULT
                else ["--mirror-dir", str(mirror_dir)])])
            shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            if only_index:
                raise UsageError(f"{path}: the mirror {mirror_dir} has no file of {len(missing)} "
                                 f"of its packages ({shown}), and this build has no other index",
                                 fix=f"run `{fix}`")
            run.warn(BuildWarning(f"{path}: the mirror has no file of {len(missing)} of its "
                                  f"packages ({shown}), so {as_it_is}; `{fix}` lets the steps "
                                  "use the mirror"))
            return False

        return check

    @contextmanager
    def applied(self, run: BuildRun) -> Iterator[BuildRun]:
        """``run`` building the rewritten copy (its notes are said as warnings)."""
        from .poetry_projects import project_check, project_copies, serves

        result = self.result(run.settings, run.config, self._lock_check(run),
                             project_check(run, self.context), serves(run))
        for note in result.notes:
            run.warn(BuildWarning(note))
        if self.context is not None and "pdm" in installers_called(result.text):
            from ..mirror.pdmlock import bypasses

            for problem in bypasses(self.context):
                run.warn(BuildWarning(problem))
        self._warn_pipenv_sources(run)
        locks = self._rewritten_locks(result.locks, run.settings.mount_point.value)
        if result.projects and self.context is not None:
            locks = {**(locks or {}), **project_copies(run, self.context, result.projects)}
        with files.private_files({"Dockerfile": result.text}, tree=locks) as written:
            # BuildKit looks for <Dockerfile>.dockerignore beside the Dockerfile
            # first: keep the user's, if they have one.
            ignore = self.source.with_name(self.source.name + ".dockerignore")
            if ignore.is_file():
                target = written["Dockerfile"].with_name("Dockerfile.dockerignore")
                target.write_bytes(ignore.read_bytes())
            more = (["--build-context", f"{LOCKS_STAGE}={written[files.TREE]}"]
                    if locks is not None else [])
            args = with_dockerfile(run.given, written["Dockerfile"], *more)
            yield run.with_args(parse_docker_args(args))

    def _warn_pipenv_sources(self, run: BuildRun) -> None:
        """Say which Pipfile sources pipenv steps take from their own index, not the mirror.

        ``PIPENV_PYPI_MIRROR`` replaces only the public index among a Pipfile's
        sources, and pipenv installs a package of another source from that
        source's URL alone: with network it bypasses the mirror, offline it fails.
        """
        if self.context is None or PIPENV not in installers_called(self.text):
            return
        from ..mirror.pipfile import bypassing_sources, pipenv_files, shown_url

        found = bypassing_sources(pipenv_files(self.context, self.text),
                                  run.settings.public_index.value.url)
        for path, source in found:
            run.warn(BuildWarning(
                f"{path}: pipenv installs the packages of its source {source.name!r} "
                f"({shown_url(source.url)}) from that index, not from the mirror: "
                "PIPENV_PYPI_MIRROR replaces only the public index, and pipenv takes no other "
                "URL for a source without a change to the Pipfile; build with --offline to "
                "make the step fail there instead, or move those packages to the public "
                "index's source"))

    def _rewritten_locks(self, sources: dict[str, str], mount_point: str
                         ) -> dict[str, str] | None:
        """{relative path: the lock with the mirror at ``mount_point`` as its index}.

        ``sources`` is {relative path: kind}, :attr:`InjectResult.locks`.
        """
        if not sources or self.context is None:
            return None
        return {source: _rewrite(kind, (self.context / source).read_text(encoding="utf-8"),
                                 mount_point, where=str(self.context / source))
                for source, kind in sources.items()}


# What a step does with a lock of each kind that is left as it is.
_AS_IT_IS = {UV_LOCK: "uv sync reads it as it is (its own index)",
             PYLOCK: "pip and uv read it as it is (its own file URLs)"}


def _packages(kind: str, path: Path) -> dict[str, tuple[Pick, ...]]:
    """{package: its locked files} of the lock at ``path``, read as ``kind``."""
    if kind == PYLOCK:
        from ..mirror.pylock import pylock_package_picks, read_pylock

        return pylock_package_picks(read_pylock(path), where=str(path))
    return package_picks(read_lock(path), where=str(path))


def _rewrite(kind: str, text: str, mount_point: str, *, where: str) -> str:
    """``text`` (a lock of ``kind``) naming the mirror at ``mount_point`` instead."""
    if kind == PYLOCK:
        from ..mirror.pylock import rewrite_pylock

        return rewrite_pylock(text, mount_point, where=where)
    return rewrite_lock(text, mount_point)


def _mirror_is_a_context(run: BuildRun) -> bool:
    """Whether the steps see the local mirror as a directory (the lock can name its path)."""
    return (run.transport.kind == "context" and run.mirror_dir is not None
            and any(mirror.is_local for mirror in run.settings.mirrors.value))


def read_for_injection(given: DockerArgs, settings: Settings, *, uid: int | None,
                       prefer_uv: bool) -> Injecting:
    """The user's Dockerfile, checked now: a file inject refuses is said before docker is asked."""
    source = dockerfile_path(given)
    if source is None:
        raise UsageError("--inject needs a Dockerfile on disk",
                         fix="give -f FILE or a local build context, not - or a URL")
    try:
        # newline="" keeps CRLF files as they are (inject preserves them)
        with source.open(encoding="utf-8", newline="") as handle:
            text = handle.read()
    except OSError as error:
        raise UsageError(f"cannot read {source} ({error.strerror})",
                         fix="check -f or the build context") from None
    context = Path(given.local_path) if given.local_path is not None else None
    injecting = Injecting(source, text, uid, prefer_uv, context)
    injecting.result(settings, "context")  # raises what inject refuses
    return injecting
