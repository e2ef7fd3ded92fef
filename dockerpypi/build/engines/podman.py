"""``podman build`` and ``buildah build``: the same Dockerfiles, contexts and secrets.

Both read the Dockerfile with buildah (no BuildKit, no daemon) and take the
options dockerpypi adds (``--build-context``, ``--secret``,
``--network=host``) as docker does. Where they differ, measured on podman
4.3.1 and buildah 1.28.2:

- ``--build-context`` is asked of ``build --help`` rather than guessed from
  a version; without it the mirror is served over HTTP, as for Docker 20.10;
- a ``rw`` bind mount writes through to the directory on the host, so the
  step settings (mounted ``rw`` at ``/run/dockerpypi``, with the
  requirements file mounted inside) go in a private copy for each build,
  never in the kept directory of the cache (:attr:`BuildEngine.keeps_config`);
- the image always lands in the engine's own storage: docker's ``--load``
  means nothing there and is left out, as ``--progress`` is (podman prints
  one plain log); buildx's own options (``--push``, ``--allow``,
  ``--builder``, attestations, ``--output type=image``...) are refused with
  what to do instead;
- a ``Containerfile`` in the build context is built before a ``Dockerfile``
  there: dockerpypi names it with ``--file``, so that it reads (and
  ``--inject`` rewrites) the file podman builds;
- host networking needs no entitlement, and secrets default to mode 0400
  and root, as BuildKit's do (``uid``/``gid``/``mode`` are honoured).

A remote podman (``podman --remote``, podman machine) builds on another
machine: podman 4 cannot send it a directory as a named context, and it
cannot reach this machine's 127.0.0.1, so such a build is refused.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ... import process
from ...engines import BUILDAH, PODMAN, missing_fix
from ...errors import UsageError, UserMessageError
from ..engine import EngineInfo
from ..transports import ContextTransport, HttpTransport, Transport
from .base import BuildEngine

if TYPE_CHECKING:
    from pathlib import Path

    from ...settings.model import Settings
    from ..command import DockerArgs

_TIMEOUT = 30  # seconds for `version` and `build --help`: both answer at once

# docker options these CLIs do without: left out, with one line saying so.
_DROPPED_FLAGS = ("--load",)
_DROPPED_WITH_VALUE = ("--progress",)
# docker (buildx) options they do not have: refused, with the fix.
_REFUSED = {
    "--push": "build, then `{cli} push IMAGE`",
    "--allow": "drop --allow: {cli} grants no entitlements, and host networking needs none",
    "--builder": "drop --builder: {cli} builds by itself, without buildx builders",
    "--metadata-file": "drop --metadata-file (`{cli} image inspect IMAGE` describes the image)",
    "--provenance": "drop --provenance: {cli} writes no attestations",
    "--sbom": "drop --sbom: {cli} writes no attestations",
    "--attest": "drop --attest: {cli} writes no attestations",
    "--call": "drop --call",
    "--check": "drop --check",
    "--print": "drop --print",
}
_OUTPUT_TYPES = ("local", "tar")  # what `build --output` writes besides the image
# The Dockerfile podman and buildah look for first in the build context.
CONTAINERFILE = "Containerfile"


class PodmanInfo(NamedTuple):
    """What podman (or buildah) said about itself."""

    version: str | None
    platform: str | None  # "linux/amd64"
    contexts: bool  # `build --build-context`
    remote: bool = False  # a podman client of a service elsewhere


def parse_podman_version(text: str) -> tuple[str | None, str | None, bool]:
    """``podman version --format json``: (version, platform, remote).

    A local podman reports a ``Client`` alone; a remote client (podman
    machine, ``--remote``) reports the service as ``Server`` too.
    """
    try:
        data = json.loads(text or "{}") or {}
    except json.JSONDecodeError:
        return None, None, False
    client = data.get("Client") or {}
    return client.get("Version"), client.get("OsArch"), bool(data.get("Server"))


def parse_buildah_version(text: str) -> tuple[str | None, str | None]:
    """``buildah version --json``: (version, platform)."""
    try:
        data = json.loads(text or "{}") or {}
    except json.JSONDecodeError:
        return None, None
    return data.get("version"), data.get("osArch") or data.get("buildPlatform")


def choose_transport(cli: str, found: PodmanInfo, requested: str = "auto") -> Transport:
    """How the mirror reaches a ``cli`` build; refuse what cannot work."""
    shown = f"{cli} {found.version}"
    if found.remote:
        raise UserMessageError(
            f"{shown} builds on a remote service (podman machine or --remote): podman 4 "
            "cannot send it the mirror as a build context, and it cannot reach this "
            "machine's 127.0.0.1",
            fix="build with a local podman (`podman --remote=false`), or with docker")
    if requested == "http":
        return HttpTransport(True, "asked for with --transport http")
    if requested == "context":
        if not found.contexts:
            raise UsageError(f"--transport context needs `{cli} build --build-context`, which "
                             f"{shown} lacks", fix=f"update {cli}, or use --transport http")
        return ContextTransport(True, "asked for with --transport context")
    if not found.contexts:
        return HttpTransport(True, f"{shown} has no `build --build-context`")
    return ContextTransport(True, f"{shown} supports named build contexts (--build-context)")


def adapt_args(args: Sequence[str], given: DockerArgs, cli: str) -> tuple[list[str], list[str]]:
    """``args`` (the user's docker options) as ``cli build`` takes them, and the names of
    the options left out; refuse the options it has no counterpart for."""
    for name, value in given.options:
        if name in _REFUSED:
            raise UsageError(f"{cli} build has no {name}", fix=_REFUSED[name].format(cli=cli))
        if name in ("--cache-from", "--cache-to") and value and "type=" in value:
            raise UsageError(f"{cli} build takes {name} as a repository, not {value}",
                             fix=f"give {name}=REGISTRY/REPOSITORY, or drop it")
        if name == "--output" and value:
            fields = dict(field.partition("=")[::2] for field in next(csv.reader([value]), []))
            kind = fields.get("type")
            if kind is not None and kind not in _OUTPUT_TYPES:
                raise UsageError(f"{cli} build writes --output type=local or type=tar only, "
                                 f"not type={kind}; the image itself goes to {cli}'s storage",
                                 fix=f"drop --output (then `{cli} push` or `{cli} save` the "
                                     "image)")
    kept: list[str] = []
    dropped: list[str] = []
    words = list(args)
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":  # the PATH, and nothing else, follows
            kept += words[index:]
            break
        name, equals, _ = word.partition("=")
        if name in _DROPPED_FLAGS:
            dropped.append(name)
            index += 1
        elif name in _DROPPED_WITH_VALUE:
            dropped.append(name)
            index += 1 if equals else 2
        else:
            kept.append(word)
            index += 1
    return kept, list(dict.fromkeys(dropped))


def containerfile(given: DockerArgs) -> Path | None:
    """The ``Containerfile`` of the build context, which podman and buildah build before a
    ``Dockerfile`` there, when no ``-f`` names another (None: not the case)."""
    from pathlib import Path

    if given.values("--file") or given.local_path is None:
        return None
    found = Path(given.local_path) / CONTAINERFILE
    return found if found.is_file() else None


class PodmanEngine(BuildEngine):
    """``podman build``."""

    name = PODMAN
    keeps_config = False
    found: PodmanInfo | None = None

    def _ask(self, argv: list[str]) -> str | None:
        done = process.output_of(argv, timeout=_TIMEOUT, missing=missing_fix(self.cli),
                                 slow=f"check that `{self.cli} info` answers, and try again")
        return done.stdout if done.returncode == 0 else None

    def _version(self) -> tuple[str | None, str | None, bool]:
        text = self._ask([self.cli, "version", "--format", "json"])
        return parse_podman_version(text or "")

    def probe(self) -> EngineInfo:
        version, platform, remote = self._version()
        if version is None:
            raise UserMessageError(f"`{self.cli} version` gave no answer",
                                   fix=f"check that `{self.cli} info` works, then try again")
        help_text = self._ask([self.cli, "build", "--help"]) or ""
        self.found = PodmanInfo(version, platform, "--build-context" in help_text, remote)
        return EngineInfo(server_version=version, buildx_version=None, driver=self.name,
                          buildkit_version=None, server_platform=platform,
                          builder_platform=platform)

    def transport(self, info: EngineInfo, requested: str, *, given: DockerArgs | None = None,
                  settings: Settings | None = None, mirror_dir: Path | None = None
                  ) -> Transport:
        # A local podman builds in this machine's network namespace (host
        # networking reaches 127.0.0.1); a remote one is refused here.
        found = self.found or PodmanInfo(info.server_version, info.server_platform, True)
        return choose_transport(self.cli, found, requested)

    def command(self, transport: Transport) -> tuple[str, ...]:
        return (self.cli, "build")

    def adapt(self, given: DockerArgs, report: Callable[[str], None]) -> DockerArgs:
        from ..command import parse_docker_args, with_dockerfile

        kept, dropped = adapt_args(given.args, given, self.cli)
        if dropped:
            report(f"{self.cli} build takes no {' or '.join(dropped)}: left out ({self.cli} "
                   "keeps the image in its own storage and prints its steps plainly)")
            given = parse_docker_args(kept)
        own = containerfile(given)
        if own is not None:  # named, so that dockerpypi reads the file podman builds
            given = parse_docker_args(with_dockerfile(given, own))
        return given

    def loads_image(self, given: DockerArgs) -> bool:
        return True  # every build is committed to the engine's storage


class BuildahEngine(PodmanEngine):
    """``buildah build``: podman's builder on its own; its images are podman's to read."""

    name = BUILDAH

    def _version(self) -> tuple[str | None, str | None, bool]:
        version, platform = parse_buildah_version(
            self._ask([self.cli, "version", "--json"]) or "")
        return version, platform, False
