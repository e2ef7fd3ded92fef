"""``--inject`` for ``poetry install``: which Poetry projects steps read from the mirror.

:mod:`dockerpypi.dockerfile.poetry_steps` finds the steps and where they read
pyproject.toml and poetry.lock; this module decides, per project directory
of the build context, whether their copies can name the mirror
(:func:`dockerpypi.mirror.poetrylock.mirror_copies`), and writes the files
the ``dockerpypi-locks`` context then holds for them.

Poetry reads an index over HTTP(S) only. The local mirror reaches it from a
server on the step's own loopback, which the step starts with the image's
Python (``loopback_index.py``): measured on Engine 26 in the test image, it
listens within 0.2 s (Python's start and ``http.server``'s import, on a
busy two-core machine), and nothing outside the step changes (no host network,
no port the build must find, the same pyproject.toml copy at every build, so
an unchanged step stays cached). The ``http`` transport (dockerpypi's own
server on the host) would need the host's network and a port chosen per
build, which would change the copy, and so the step's cache key, every time.
An HTTP(S) mirror without credentials is named directly. Not covered (the
project's files are then read as they are, with one warning): a mirror URL
with credentials (they would be written into the copy), and the local mirror
on an engine without named build contexts.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..dockerfile.poetry_steps import (
    PROJECT_FILES,
    PYPROJECT,
    SERVER_SOURCE,
    SERVER_URL,
    overlay_source,
)
from ..dockerfile.vocabulary import POETRY_LOCK
from ..errors import BuildWarning, DockerPypiError, UsageError
from ..settings.model import SOURCE_DEFAULT

if TYPE_CHECKING:
    from .pipeline import BuildRun

# What works where the copies cannot: the lock as hash-pinned requirements, for pip.
_EXPORT = ("write the lock as requirements (`poetry export --format requirements.txt "
           "--output requirements.txt`, or `poetry-plugin-export`) and install them with "
           "`pip install --require-hashes -r requirements.txt`, which reads the mirror")


def mirror_url(run: BuildRun) -> tuple[str | None, str]:
    """(the URL Poetry steps read the mirror at, or None, and why not)."""
    first = run.settings.mirrors.value[0] if run.settings.mirrors.value else None
    if first is None:
        return None, "no mirror is configured"
    if first.is_local:
        if run.transport.kind == "context" and run.mirror_dir is not None:
            return SERVER_URL, ""
        return None, "the local mirror reaches this engine over HTTP, not as a build context"
    if first.credentials is not None:
        return None, "the mirror's URL carries credentials, which the copy would hold"
    return first.url, ""


def project_check(run: BuildRun, context: Path | None) -> Callable[[str], bool]:
    """Whether steps may read a copy of the Poetry project at a relative directory.

    Each project is checked once: its files are in the context, their copies
    can be made (:class:`~dockerpypi.mirror.poetrylock.NoMirrorCopy`), and a
    local mirror holds a locked file of each locked package. If not, a build
    with another index reads the project as it is (one warning), and an
    offline build without another index is refused with what works.
    """
    url, why = mirror_url(run)
    only_index = not run.settings.uses_public_index and len(run.settings.mirrors.value) == 1

    @functools.cache
    def check(relative: str) -> bool:
        from ..mirror.poetrylock import NoMirrorCopy, locked_files, mirror_copies

        if context is None:
            return False
        directory = context / relative
        if not all((directory / name).is_file() for name in PROJECT_FILES):
            return False
        where = str(directory / POETRY_LOCK)
        try:
            if url is None:
                raise NoMirrorCopy(f"{where}: {why}")
            lock_text = (directory / POETRY_LOCK).read_text(encoding="utf-8")
            mirror_copies((directory / PYPROJECT).read_text(encoding="utf-8"), lock_text,
                          url, where=where)
            missing = _missing(run, locked_files(_parse(lock_text)))
        except DockerPypiError as error:
            if only_index:
                raise UsageError(f"{error.problem}, and this build has no other index for "
                                 "poetry install", fix=_EXPORT) from None
            run.warn(BuildWarning(f"{error.problem}, so poetry install reads the project as it "
                                  "is (the public index)"))
            return False
        if not missing:
            return True
        fix = shlex.join(["dockerpypi", "mirror", "add", where, *(
            [] if run.settings.mirror_dir.source == SOURCE_DEFAULT
            else ["--mirror-dir", str(run.mirror_dir)])])
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        if only_index:
            raise UsageError(f"{where}: the mirror {run.mirror_dir} has no file of {len(missing)} "
                             f"of its packages ({shown}), and this build has no other index",
                             fix=f"run `{fix}`")
        run.warn(BuildWarning(f"{where}: the mirror has no file of {len(missing)} of its "
                              f"packages ({shown}), so poetry install reads the project as it "
                              f"is (the public index); `{fix}` lets the steps use the mirror"))
        return False

    return check


def _parse(text: str) -> dict[str, Any]:
    from ..tomlparser import tomllib

    parsed: dict[str, Any] = tomllib.loads(text)
    return parsed


def _missing(run: BuildRun, files: dict[str, list[str]]) -> list[str]:
    """The packages none of whose locked files the local mirror holds (none for HTTP)."""
    mirror_dir = run.mirror_dir
    first = run.settings.mirrors.value[0]
    if mirror_dir is None or not first.is_local:
        return []
    return [package for package, names in files.items()
            if not any((mirror_dir / name).is_file() for name in names)]


def project_copies(run: BuildRun, context: Path, projects: list[str]) -> dict[str, str]:
    """{path in the dockerpypi-locks context: text} of the copies the steps mount."""
    from ..mirror.poetrylock import mirror_copies

    url, _ = mirror_url(run)
    if not projects or url is None:
        return {}
    tree: dict[str, str] = {}
    for project in projects:
        directory = context / project
        copies = mirror_copies((directory / PYPROJECT).read_text(encoding="utf-8"),
                               (directory / POETRY_LOCK).read_text(encoding="utf-8"), url,
                               where=str(directory / POETRY_LOCK))
        for name, text in zip(PROJECT_FILES, copies, strict=True):
            tree[overlay_source(project, name)] = text
    if url == SERVER_URL:
        tree[SERVER_SOURCE] = Path(__file__).with_name("loopback_index.py").read_text(
            encoding="utf-8")
    return tree


def serves(run: BuildRun) -> bool:
    """Whether Poetry steps start the mirror's loopback server (the mirror is local)."""
    return mirror_url(run)[0] == SERVER_URL
