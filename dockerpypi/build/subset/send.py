"""The directory a build is sent as ``pypi-mirror``: a subset, or the whole mirror.

:func:`mirror_context` is what the context transport calls
(:func:`dockerpypi.build.transports.mirror_sent`) when no earlier build's
subset fits: it reads the build (:mod:`.wanted`), chooses the files
(:mod:`.closure`) and writes them (:mod:`.directory`), under the mirror's
lock; when any of that cannot be told, the whole mirror is sent and one
line says why.
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...dockerfile.vocabulary import MIRROR_STAGE
from ...errors import BuildWarning, DockerPypiWarning, UserMessageError
from ...mirror import index
from ...process import signals_held, signals_unwind
from . import CannotTell
from .closure import Selection, select
from .directory import remove_stale, subset_name, write_subset
from .wanted import read_build

if TYPE_CHECKING:
    from ..command import DockerArgs
    from ..engine import EngineInfo

_LOCK_TIMEOUT = 60.0


@dataclass(frozen=True)
class _Chosen:
    selection: Selection
    directory: Path | None  # None: a dry run, nothing written
    temporary: bool  # outside the mirror: removed after the build
    sources: dict[str, str]  # the requirements files read, for the kept answer


def _selected(given: DockerArgs, mirror_dir: Path, engine: EngineInfo | None, *,
              dry_run: bool) -> _Chosen:
    wanted = read_build(given, engine)
    if dry_run:
        return _Chosen(select(mirror_dir, wanted.requirements, wanted.machines,
                              locked=wanted.locked), None, False, wanted.sources)
    try:
        # The files and the state that lists them must not change while they are linked.
        with index.mirror_lock(mirror_dir, _LOCK_TIMEOUT, reading=True):
            selection = select(mirror_dir, wanted.requirements, wanted.machines,
                               locked=wanted.locked)
            directory, temporary = write_subset(mirror_dir, selection)
            remove_stale(mirror_dir)
            return _Chosen(selection, directory, temporary, wanted.sources)
    except UserMessageError as error:  # another dockerpypi kept the lock
        raise CannotTell(str(error)) from None
    except OSError as error:  # no room for the links, say
        raise CannotTell(f"cannot write the subset ({error})") from None


def _rewrite_old_pages(mirror_dir: Path, echo: Callable[[str], None],
                       warn: Callable[[DockerPypiWarning], None]) -> None:
    """Pages an older dockerpypi wrote are written again before the whole mirror is
    sent: their shape may fail an installer (pages.PAGE_FORMAT says which changed)."""
    if not index.pages_outdated(mirror_dir):
        return
    try:
        index.update_index(mirror_dir, lock_timeout=_LOCK_TIMEOUT)
    except (UserMessageError, OSError) as error:
        warn(BuildWarning(f"the mirror's pages are in an older dockerpypi's shape and could "
                          f"not be written again ({error}): run `dockerpypi mirror index`"))
    else:
        echo("wrote the mirror's pages again in this dockerpypi's shape")


@contextlib.contextmanager
def mirror_context(given: DockerArgs, mirror_dir: Path | None, *, engine: EngineInfo | None,
                   dry_run: bool, echo: Callable[[str], None],
                   remember: Callable[[Path, str, dict[str, str]], None] | None = None,
                   warn: Callable[[DockerPypiWarning], None] = warnings.warn,
                   ) -> Iterator[Path | None]:
    """The directory to send as the ``pypi-mirror`` context: a subset, or ``mirror_dir``.

    ``engine`` is the build's engine probe (None: no engine answered): the
    builder's platform, when the build names none. ``echo`` gets one line:
    what is sent, or why the whole mirror is. The subset stays in the mirror
    for the next build (``remember`` is told of it: directory, summary,
    requirements files read); one written outside the mirror is removed when
    the block ends, however it ends (SIGTERM too); ``warn`` gets what the build
    should be warned of. Nothing changes when there is no mirror or the user
    gave the context.
    """
    if mirror_dir is None or MIRROR_STAGE in given.build_contexts:
        yield mirror_dir
        return
    with signals_unwind():
        temporary: Path | None = None
        try:
            try:
                chosen = _selected(given, mirror_dir, engine, dry_run=dry_run)
            except CannotTell as reason:
                echo(f"sending the whole mirror: {reason}")
                if not dry_run:
                    _rewrite_old_pages(mirror_dir, echo, warn)
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
