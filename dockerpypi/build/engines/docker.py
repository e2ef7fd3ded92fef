"""``docker buildx build`` (or ``DOCKER_BUILDKIT=1 docker build``): what dockerpypi always did.

The engine is asked through :mod:`..engine` (its answer kept between runs),
the transport chosen there, and the command is the transport's.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from ...engines import DOCKER, PODMAN
from ...errors import UserMessageError
from .base import BuildEngine

if TYPE_CHECKING:
    from pathlib import Path

    from ...settings.model import Settings
    from ..command import DockerArgs
    from ..engine import EngineInfo
    from ..transports import Transport


class DockerEngine(BuildEngine):
    """The docker CLI with buildx, or the engine's own BuildKit without it."""

    name = DOCKER

    def probe(self) -> EngineInfo:
        from ..engine import current_engine

        try:
            return current_engine()
        except UserMessageError as error:
            # No Docker engine, and podman is there: say it builds as well.
            if not shutil.which(PODMAN):
                raise
            fix = f"{error.fix}, or build with podman" if error.fix else "build with podman"
            raise UserMessageError(error.problem, fix=f"{fix} (--engine podman)") from None

    def transport(self, info: EngineInfo, requested: str, *, given: DockerArgs | None = None,
                  settings: Settings | None = None, mirror_dir: Path | None = None
                  ) -> Transport:
        from ..engine import choose_transport

        chosen = choose_transport(info, requested)
        if given is None or settings is None:
            return chosen
        from ..reach import for_builder

        # A builder that cannot reach this machine's loopback (a remote engine, a
        # builder of its own) gets its loopback mirrors fetched here, or one line.
        return for_builder(info, chosen, given, settings, mirror_dir, requested=requested)

    def command(self, transport: Transport) -> tuple[str, ...]:
        return transport.docker

    def env(self, transport: Transport) -> dict[str, str] | None:
        return transport.env

    def loads_image(self, given: DockerArgs) -> bool:
        from ..pipeline import loads_image

        return loads_image(given)
