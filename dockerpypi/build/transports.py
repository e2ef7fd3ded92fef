"""How the local mirror reaches a build: one small interface, two transports.

- ``context`` (:class:`ContextTransport`): the mirror directory, or the
  subset of it the build can need (:mod:`.subset`), is the named build
  context ``pypi-mirror`` (needs buildx 0.8+ and a Dockerfile frontend 1.4+,
  built into Engine 23+ or any recent BuildKit).
- ``http`` (:class:`HttpTransport`): dockerpypi serves the directory on
  127.0.0.1 for the length of the build and points the step's settings at
  it, with host networking. This is what Docker 20.10's built-in BuildKit
  (no named contexts) and a ``docker`` without buildx get. The same
  Dockerfile works with both: the ``pypi-mirror`` stage is then simply empty.

:func:`dockerpypi.build.engine.choose_transport` picks one from what the
engine can do; the pipeline (:mod:`.pipeline`) calls the same few methods of
either: :meth:`Transport.config_form`, :meth:`Transport.check` and
:meth:`Transport.delivered`.

Imports: the served mirror (http.server and its threads) and the subset
machinery (packaging, the index) are imported where they are used: most
builds start without either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..dockerfile.vocabulary import MIRROR_STAGE
from ..errors import BuildWarning, UsageError
from . import kept_subset
from .command import DOCKER_BUILD, LEGACY_BUILD, LEGACY_ENV, loopback_indexes, served_settings

if TYPE_CHECKING:
    from ..settings.model import Settings
    from .pipeline import BuildRun


class Delivered(NamedTuple):
    """What a transport gives the build: the settings its steps get, and the directory
    sent as the ``pypi-mirror`` context (None: the Dockerfile's empty stage)."""

    settings: Settings
    mirror: Path | None


class Transport:
    """How the mirror reaches the build (``kind``), and why, in one sentence (``reason``)."""

    kind = ""
    __slots__ = ("reason", "use_buildx")

    def __init__(self, use_buildx: bool, reason: str) -> None:
        self.use_buildx = use_buildx  # False: `docker build` with the engine's BuildKit
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}(use_buildx={self.use_buildx!r}, reason={self.reason!r})"

    @property
    def docker(self) -> tuple[str, ...]:
        """The command that builds."""
        return DOCKER_BUILD if self.use_buildx else LEGACY_BUILD

    @property
    def env(self) -> dict[str, str] | None:
        """What that command needs in its environment (None: nothing more)."""
        return None if self.use_buildx else LEGACY_ENV

    def config_form(self, *, credentials: bool) -> str:
        """How the step settings travel: ``"context"`` (the ``dockerpypi-config``
        build context) or ``"secrets"`` (build secrets)."""
        return "secrets"

    def check(self, run: BuildRun) -> None:
        """Refuse (or warn about) what ``run`` asks that this transport cannot give."""

    def delivered(self, run: BuildRun) -> AbstractContextManager[Delivered]:
        """The mirror made available to the build, for the length of the block."""
        raise NotImplementedError


class ContextTransport(Transport):
    """The mirror as the named build context ``pypi-mirror``."""

    kind = "context"
    __slots__ = ()

    def config_form(self, *, credentials: bool) -> str:
        # The step settings travel as the dockerpypi-config build context where
        # they can: a step that mounts secrets waits ~2 s in BuildKit. Never
        # when a URL carries credentials (a context stays in the builder's cache).
        return "secrets" if credentials else "context"

    def check(self, run: BuildRun) -> None:
        loopback = loopback_indexes(run.settings)
        network = run.given.network
        if loopback and network is not None and network != "host":
            run.warn(BuildWarning(f"{loopback[0]} is on loopback, which --network={network} "
                                  "cannot reach: drop --network (dockerpypi then uses host) "
                                  "or use a reachable mirror address"))

    @contextmanager
    def delivered(self, run: BuildRun) -> Iterator[Delivered]:
        # Only what the build can need travels (hard links, kept for the next build).
        with mirror_sent(run) as sent:
            yield Delivered(run.settings, sent)


class HttpTransport(Transport):
    """The mirror served on 127.0.0.1, reached through the host network."""

    kind = "http"
    __slots__ = ()

    def check(self, run: BuildRun) -> None:
        network = run.given.network
        if network not in (None, "host"):
            raise UsageError(f"the http transport serves the mirror on 127.0.0.1, which "
                             f"--network={network} cannot reach: drop --network")
        if MIRROR_STAGE in run.given.build_contexts:
            raise UsageError(f"--build-context {MIRROR_STAGE}=... needs named build contexts, "
                             "which this builder lacks: drop it and give --mirror-dir")

    @contextmanager
    def delivered(self, run: BuildRun) -> Iterator[Delivered]:
        if run.mirror_dir is None:  # nothing to serve: the step sees the empty stage
            yield Delivered(run.settings, None)
        elif run.dry_run:
            yield Delivered(served_settings(run.settings, "http://127.0.0.1:PORT/"), None)
        else:
            from ..mirror.serve import serving

            with serving(run.mirror_dir) as url:
                run.report(f"serving {run.mirror_dir} at {url} for this build")
                yield Delivered(served_settings(run.settings, url), None)


# Each transport by its kind, as --transport names it.
TRANSPORTS: dict[str, type[Transport]] = {"context": ContextTransport, "http": HttpTransport}


@contextmanager
def mirror_sent(run: BuildRun) -> Iterator[Path | None]:
    """The directory the context transport sends as ``pypi-mirror`` for ``run``.

    The subset an earlier build chose, when nothing it read changed (without
    importing the subset machinery: :mod:`.kept_subset`), or one chosen now
    (:func:`dockerpypi.build.subset.send.mirror_context`), or the whole mirror.
    """
    mirror_dir, platforms = run.mirror_dir, run.engine_platforms
    if mirror_dir is None or MIRROR_STAGE in run.given.build_contexts:
        yield mirror_dir  # no mirror of ours to choose from
        return
    if not run.dry_run and platforms is not None:
        kept = kept_subset.lookup(run.given, mirror_dir, platforms)
        if kept is not None:
            run.report(f"sending {kept.summary} (as chosen for an earlier build)")
            yield kept.directory
            return
    from .subset.send import mirror_context

    def remember(directory: Path, summary: str, sources: dict[str, str]) -> None:
        if platforms is not None:
            kept_subset.remember(run.given, mirror_dir, platforms, sources, directory, summary)

    with mirror_context(run.given, mirror_dir, engine=run.engine, dry_run=run.dry_run,
                        echo=run.report, remember=remember, warn=run.warn) as sent:
        yield sent
