"""What a build asks of the container CLI that runs it (one class per engine).

In the manner of pipx's backends: the pipeline (:mod:`..pipeline`) calls the
same few methods whichever CLI builds, and each engine says how it differs:
how it is asked what it can do (:meth:`BuildEngine.probe`), how the mirror
reaches its builds (:meth:`BuildEngine.transport`), the command that builds
(:meth:`BuildEngine.command`, :meth:`BuildEngine.env`), which of docker's
options it takes (:meth:`BuildEngine.adapt`), and whether the step settings
may travel from the kept cache directory (:attr:`BuildEngine.keeps_config`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from ...settings.model import Settings
    from ..command import DockerArgs
    from ..engine import EngineInfo
    from ..transports import Transport


class BuildEngine:
    """One container CLI that builds (``name``), and why it was chosen (``why``)."""

    name = ""
    # Whether the step settings may be the kept directory of the cache (the same
    # path build after build, which BuildKit finds unchanged), or go in a private
    # copy made for the build: an engine whose rw bind mounts write through to
    # the host would change the kept directory.
    keeps_config = True

    def __init__(self, why: str = "") -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"{type(self).__name__}(why={self.why!r})"

    @property
    def cli(self) -> str:
        """The program run, and the one that reads its images."""
        return self.name

    def probe(self) -> EngineInfo:
        """What the engine can do; raise UserMessageError when it cannot build."""
        raise NotImplementedError

    def transport(self, info: EngineInfo, requested: str, *, given: DockerArgs | None = None,
                  settings: Settings | None = None, mirror_dir: Path | None = None
                  ) -> Transport:
        """How the mirror reaches the build (``requested``: auto, context or http).

        ``given``, ``settings`` and ``mirror_dir`` are the build's (None: not a
        build, such as ``doctor``'s question): an engine whose builder may not
        reach this machine's loopback decides with them what the build does.
        """
        raise NotImplementedError

    def command(self, transport: Transport) -> tuple[str, ...]:
        """The words that build, before dockerpypi's and the user's options."""
        raise NotImplementedError

    def env(self, transport: Transport) -> dict[str, str] | None:
        """What that command needs in its environment (None: nothing more)."""
        return None

    def adapt(self, given: DockerArgs, report: Callable[[str], None]) -> DockerArgs:
        """The user's arguments as this CLI takes them; refuse what it cannot do."""
        return given

    def loads_image(self, given: DockerArgs) -> bool:
        """Whether the built image lands where :attr:`cli` reads images."""
        raise NotImplementedError
