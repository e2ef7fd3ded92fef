"""A mirror on this machine's loopback, for a builder that cannot reach it.

When the builder runs elsewhere (:mod:`.reach`), a mirror on 127.0.0.1 is
not the build's to ask. dockerpypi asks it instead, here: it reads what the
build installs (:func:`.subset.wanted.read_build`: the Dockerfile's mirror
steps and their requirements files, the build's machines), resolves it with
uv against the build's indexes once for every CPython the image may have
(:data:`.subset.target.PYTHONS`) on each of those machines, fetches the
wheels the resolutions chose from the loopback mirrors (and the local
mirror directory), indexes them in a temporary directory, and sends that as
the ``pypi-mirror`` context; the step's settings name the local mirror
where they named the loopback ones. The installer in the build then
resolves from exactly those files, as it would have from the loopback
mirror. The directory is removed when the build ends.

Where that cannot be done (no uv, a step dockerpypi cannot read, a
requirement no mirror resolves for any Python), the build stops before
docker runs, in one line (:func:`.reach.refusal`).

The whole module (packaging, uv's plan, the downloader) is imported only by
such a build.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..errors import UserMessageError
from ..mirror import resolve
from ..mirror.download import Downloader, origin
from ..mirror.fill import MODE_TARGET, secrets_of
from ..mirror.index import update_index
from ..mirror.picks import Pick
from ..mirror.resolve import UvPlan, choose_resolver, plan_uv, run_uv
from ..mirror.targets import TargetTags, UnmappableTarget
from ..process import signals_held, signals_unwind
from ..settings.urls import MirrorURL
from .reach import FIX, LoopbackPlan, fetched_settings, refusal
from .subset import CannotTell
from .subset.target import PYTHONS, tag_fits
from .subset.wanted import read_build
from .transports import ContextTransport, Delivered

if TYPE_CHECKING:
    from .pipeline import BuildRun

# The newest glibc uv has a target for: the resolution may take any wheel an
# image's C library might install; the files sent are every fitting wheel of
# the versions chosen, so an older image finds its own among them.
_GLIBC = 40
# uv resolutions run at once (one per CPython and machine).
_RESOLVERS = 4


class LoopbackFetchTransport(ContextTransport):
    """The context transport, with the loopback mirrors fetched from here (``plan``)."""

    __slots__ = ("keeps_credentials", "plan")

    def __init__(self, use_buildx: bool, reason: str, plan: LoopbackPlan, *,
                 keeps_credentials: bool) -> None:
        super().__init__(use_buildx, reason)
        self.plan = plan
        # Whether an index the steps still use (one not fetched from) has credentials.
        self.keeps_credentials = keeps_credentials

    def config_form(self, *, credentials: bool) -> str:
        # The fetched mirrors' credentials stay here: the steps read files.
        return "secrets" if self.keeps_credentials else "context"

    def check(self, run: BuildRun) -> None:
        pass  # the loopback mirrors are fetched here: --network does not matter to them

    @contextlib.contextmanager
    def delivered(self, run: BuildRun) -> Iterator[Delivered]:
        run.report(self.plan.summary)
        if run.dry_run:
            yield Delivered(fetched_settings(run.settings, self.plan.indexes),
                            Path(tempfile.gettempdir()) / "dockerpypi-fetched-XXXXXXXX")
            return
        with signals_unwind():
            directory = Path(tempfile.mkdtemp(prefix="dockerpypi-fetched-"))
            try:
                fetched = fetch(run, self.plan, directory)
                run.report(f"sending {fetched} fetched from the loopback mirror")
                yield Delivered(fetched_settings(run.settings, self.plan.indexes), directory)
            finally:
                with signals_held():  # no half of it is left
                    shutil.rmtree(directory, ignore_errors=True)


def resolution_indexes(run: BuildRun) -> tuple[MirrorURL, ...]:
    """The build's indexes as this machine reaches them: the local mirror by its path."""
    local = run.settings.local_mirror_url.rstrip("/")
    found: list[MirrorURL] = []
    for index in run.settings.indexes:
        if index.url.rstrip("/") == local:
            if run.mirror_dir is None:
                continue  # the empty stage: nothing there
            index = MirrorURL(run.mirror_dir.resolve().as_uri() + "/")
        found.append(index)
    return tuple(dict.fromkeys(found))


def _fetched_from(url: str, sources: set[tuple[str, str, int | None]]) -> bool:
    """Whether a file at ``url`` is one to send: on a loopback mirror, or local."""
    return url.startswith("file:") or origin(url) in sources


def wheels_to_send(lock: dict[str, Any], python: tuple[int, int], machine: str,
                   sources: set[tuple[str, str, int | None]]) -> list[Pick]:
    """Every wheel of each version a resolution chose that fits ``python`` on ``machine``
    and comes from ``sources`` (the others stay on indexes the builder reaches)."""
    picks: list[Pick] = []
    for package in lock.get("packages", []):
        for entry in package.get("wheels", []):
            url = entry.get("url")
            if not isinstance(url, str) or not _fetched_from(url, sources):
                continue
            name = entry.get("name") or url.rsplit("/", 1)[-1].split("#", 1)[0]
            try:
                tags = parse_wheel_filename(name)[3]
            except InvalidWheelFilename:
                continue
            if any(tag_fits(tag, python, machine) for tag in tags):
                hashes = entry.get("hashes") or {}
                size = entry.get("size")
                picks.append(Pick(name, url, hashes.get("sha256"),
                                  size if isinstance(size, int) else None))
    return picks


def _resolved(uv_plan: UvPlan) -> dict[str, Any] | UserMessageError:
    """uv's lock for ``uv_plan``, or why it found none."""
    try:
        return run_uv(uv_plan)
    except UserMessageError as error:
        return error


def _problem(error: Exception) -> str:
    """What went wrong, without the fix its message may end with: the refusal has its own."""
    return error.problem if isinstance(error, UserMessageError) else str(error)


def fetch(run: BuildRun, plan: LoopbackPlan, directory: Path) -> str:
    """Fetch what ``run`` installs from ``plan``'s mirrors into ``directory``, indexed;
    a summary of it. A refusal (UsageError) when that cannot be done."""
    try:
        wanted = read_build(run.given, run.engine)
    except CannotTell as reason:
        raise refusal(plan.reach, plan.indexes, f"dockerpypi cannot tell what the build "
                      f"installs from it ({reason})") from None
    if resolve.find_uv() is None:
        raise refusal(plan.reach, plan.indexes, "dockerpypi fetches what the build needs "
                      "from it with uv, which is not installed", fix=f"pip install uv, or {FIX}")
    indexes = resolution_indexes(run)
    sources = {origin(index.url) for index in plan.indexes}
    packages = tuple(str(requirement) for requirement, _ in wanted.requirements)
    secrets = secrets_of(indexes)
    settings = run.settings
    targets: list[tuple[tuple[int, int], str, UvPlan]] = []
    for machine in wanted.machines:
        for python in reversed(PYTHONS):  # the newest first: its failure is said
            tags = TargetTags(python_version=f"{python[0]}.{python[1]}",
                              platforms=(f"manylinux_2_{_GLIBC}_{machine}",))
            try:
                choice = choose_resolver("uv", image=None, tags=tags)
                targets.append((python, machine, plan_uv(
                    directory, packages, [], choice=choice, indexes=indexes, tags=tags,
                    only_binary=True, mode=MODE_TARGET, secrets=secrets,
                    retries=settings.retries.value, timeout=settings.timeout.value)))
            except (UserMessageError, UnmappableTarget) as error:  # no uv, or no target
                raise refusal(plan.reach, plan.indexes,
                              f"dockerpypi cannot resolve the build's requirements here "
                              f"({_problem(error)})") from None
    # Each resolution is a uv process that mostly waits on the index: a few at once.
    with ThreadPoolExecutor(max_workers=_RESOLVERS) as pool:
        locks = list(pool.map(_resolved, (uv_plan for _, _, uv_plan in targets)))
    picks: dict[str, Pick] = {}
    served: list[str] = []
    first_failure: str | None = None
    for (python, machine, _), lock in zip(targets, locks, strict=True):
        if isinstance(lock, UserMessageError):  # not for this Python: the next one
            first_failure = first_failure or f"Python {python[0]}.{python[1]}: {lock.problem}"
            continue
        served.append(f"{python[0]}.{python[1]}/{machine}")
        for pick in wheels_to_send(lock, python, machine, sources):
            picks.setdefault(pick.filename, pick)
    if not served:
        raise refusal(plan.reach, plan.indexes, f"the build's requirements resolve from it "
                      f"for no CPython 3.8 to 3.15 ({first_failure})")
    auth = {origin(index.url): index.credentials for index in indexes
            if index.credentials is not None}
    try:
        Downloader(directory, auth=auth, timeout=settings.timeout.value,
                   retries=settings.retries.value, secrets=secrets).fetch_all(picks.values())
        update_index(directory)
    except (UserMessageError, OSError) as error:
        raise refusal(plan.reach, plan.indexes, f"fetching what the build needs from it "
                      f"failed ({_problem(error)})") from None
    pythons = sorted({entry.split("/")[0] for entry in served}, key=lambda v: int(v[2:]))
    machines = ", ".join(wanted.machines)
    return (f"{len(picks)} file{'s' if len(picks) != 1 else ''} (for CPython "
            f"{pythons[0]}{f' to {pythons[-1]}' if len(pythons) > 1 else ''} on {machines})")
