"""``dockerpypi build --inject``: a build of a rewritten copy of the user's Dockerfile.

The rewriting is :mod:`dockerpypi.dockerfile.inject`'s; this module reads
the user's file before anything runs (a file inject refuses is said before
docker is asked), and gives the build a copy of it in a private directory
for as long as the build lasts. Only ``--inject`` imports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import files
from ..dockerfile.inject import InjectResult, inject
from ..errors import BuildWarning, UsageError
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

    def result(self, settings: Settings, config: str) -> InjectResult:
        """The rewritten text, for steps that read their settings in the ``config`` form."""
        return inject(self.text, mount_point=settings.mount_point.value, uid=self.uid,
                      prefer_uv=self.prefer_uv, config=config)

    @contextmanager
    def applied(self, run: BuildRun) -> Iterator[BuildRun]:
        """``run`` building the rewritten copy (its notes are said as warnings)."""
        result = self.result(run.settings, run.config)
        for note in result.notes:
            run.warn(BuildWarning(note))
        with files.private_files({"Dockerfile": result.text}) as written:
            # BuildKit looks for <Dockerfile>.dockerignore beside the Dockerfile
            # first: keep the user's, if they have one.
            ignore = self.source.with_name(self.source.name + ".dockerignore")
            if ignore.is_file():
                target = written["Dockerfile"].with_name("Dockerfile.dockerignore")
                target.write_bytes(ignore.read_bytes())
            yield run.with_args(parse_docker_args(with_dockerfile(run.given,
                                                                  written["Dockerfile"])))


def read_for_injection(given: DockerArgs, settings: Settings, *, uid: int | None,
                       prefer_uv: bool) -> Injecting:
    """The user's Dockerfile, checked now: a file inject refuses is said before docker is asked."""
    source = dockerfile_path(given)
    if source is None:
        raise UsageError("--inject needs a Dockerfile on disk: give -f FILE or a local build "
                         "context, not - or a URL")
    try:
        # newline="" keeps CRLF files as they are (inject preserves them)
        with source.open(encoding="utf-8", newline="") as handle:
            text = handle.read()
    except OSError as error:
        raise UsageError(f"cannot read {source} ({error.strerror}): check -f or the "
                         "build context") from None
    injecting = Injecting(source, text, uid, prefer_uv)
    injecting.result(settings, "context")  # raises what inject refuses
    return injecting
