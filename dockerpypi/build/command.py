"""Planning of ``dockerpypi build``: the ``docker buildx build`` command line, and nothing else.

Everything here is pure (no files, no processes, no engine), in the manner of
python-on-whales: the caller decides what exists on disk and passes it in, and
gets an argv back. The user's docker arguments are never rewritten or
reordered; dockerpypi's own options go in front of them, right after
``docker buildx build``, so the user's PATH stays where it was typed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from ..dockerfile.vocabulary import CONFIG_STAGE, MIRROR_STAGE
from ..errors import UsageError
from ..settings.model import Settings
from ..settings.urls import MirrorURL

DOCKER_BUILD = ("docker", "buildx", "build")
# Without buildx: the engine's own BuildKit, which --secret and RUN --mount need.
LEGACY_BUILD = ("docker", "build")
LEGACY_ENV = {"DOCKER_BUILDKIT": "1"}

# The options of `docker buildx build` that take a value, written by hand:
# no library parses docker's command line (it is Go's pflag/cobra), and
# without this table `-t app .` would make `app` look like the build PATH.
# It lists the current and hidden/legacy options (checked against buildx 0.13
# with BUILDX_EXPERIMENTAL=1) plus a few newer ones; an option missing from
# here is taken for a flag, so `--new-option=value` always works.
_LONG_WITH_VALUE = frozenset({
    "--add-host", "--allow", "--annotation", "--attest", "--build-arg", "--build-context",
    "--builder", "--cache-from", "--cache-to", "--call", "--cgroup-parent", "--cpu-period",
    "--cpu-quota", "--cpu-shares", "--cpuset-cpus", "--cpuset-mems", "--file", "--iidfile",
    "--invoke", "--isolation", "--label", "--memory", "--memory-swap", "--metadata-file",
    "--network", "--no-cache-filter", "--output", "--platform", "--print", "--progress",
    "--provenance", "--root", "--sbom", "--secret", "--security-opt", "--server-config",
    "--shm-size", "--ssh", "--tag", "--target", "--ulimit",
})
# -t --tag, -f --file, -o --output, -c --cpu-shares, -m --memory (-q is a flag).
_SHORT_WITH_VALUE = frozenset("tfocm")
_LONG_NAMES = {"-t": "--tag", "-f": "--file", "-o": "--output", "-c": "--cpu-shares",
               "-m": "--memory"}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class DockerArgs(NamedTuple):
    """What dockerpypi needs to know about the user's ``docker buildx build`` arguments."""

    args: tuple[str, ...]
    path: str
    # (long option name, value) in the order given; flags have the value None.
    options: tuple[tuple[str, str | None], ...]

    def values(self, name: str) -> list[str]:
        return [value for option, value in self.options if option == name and value is not None]

    @property
    def network(self) -> str | None:
        given = self.values("--network")
        return given[-1] if given else None

    @property
    def build_contexts(self) -> list[str]:
        """The names given to ``--build-context name=value``."""
        return [value.split("=", 1)[0] for value in self.values("--build-context")]

    @property
    def secret_ids(self) -> list[str]:
        ids: list[str] = []
        specs = self.values("--secret")
        if not specs:
            return ids
        import csv  # only for builds given --secret

        for spec in specs:
            # buildx reads the value as one CSV record, as csv does.
            for field in next(csv.reader([spec]), []):
                key, _, value = field.partition("=")
                if key.strip() == "id":
                    ids.append(value.strip())
        return ids

    @property
    def local_path(self) -> str | None:
        """PATH when it names a local directory: not ``-`` (stdin) and not a URL."""
        if self.path == "-" or _SCHEME.match(self.path) or self.path.startswith(
                ("git@", "github.com/")):
            return None
        return self.path


def parse_docker_args(args: Sequence[str]) -> DockerArgs:
    """Find the options and the PATH among ``docker buildx build`` arguments."""
    options: list[tuple[str, str | None]] = []
    positional: list[str] = []
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            positional += words[i:]
            break
        if word.startswith("--"):
            name, equals, value = word.partition("=")
            if equals:
                options.append((name, value))
            elif name in _LONG_WITH_VALUE and i < len(words):
                options.append((name, words[i]))
                i += 1
            else:
                options.append((name, None))
        elif word.startswith("-") and word != "-":
            # A cluster of short options (pflag): flags, then at most one
            # option whose value is the rest of the word or the next word.
            for position, letter in enumerate(word[1:], start=1):
                if letter not in _SHORT_WITH_VALUE:
                    options.append((f"-{letter}", None))
                    continue
                rest = word[position + 1:].removeprefix("=")
                if not rest and i < len(words):
                    rest = words[i]
                    i += 1
                options.append((_LONG_NAMES[f"-{letter}"], rest))
                break
        else:
            positional.append(word)
    if len(positional) != 1:
        found = "no PATH" if not positional else f"{len(positional)} arguments " \
            f"({' '.join(positional)}) where one PATH belongs"
        raise UsageError(f"docker buildx build needs exactly one PATH, URL or -, and got {found}: "
                         "end the command with the build context, such as ., and give any "
                         "docker option newer than this dockerpypi as --option=value")
    return DockerArgs(tuple(args), positional[0], tuple(options))


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: only the host network reaches them."""
    if not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def loopback_indexes(settings: Settings) -> list[MirrorURL]:
    """The indexes the build step uses that live on this machine's loopback."""
    return [index for index in settings.indexes if is_loopback(index.hostname)]


def credential_strings(settings: Settings) -> list[str]:
    """Every password (and token-as-user-name), as typed and percent-encoded, for redaction."""
    found = []
    for index in (*settings.mirrors.value, settings.public_index.value):
        credentials = index.credentials
        if credentials is None:
            continue
        # A user name alone is usually a token; next to a password it is not a
        # secret, and scrubbing a common word like "builder" would mangle output.
        secret = credentials.password if credentials.password is not None \
            else credentials.username
        found += [secret, quote(secret, safe="")]
    return [text for text in found if text]


def secret_spec(secret_id: str, path: Path) -> str:
    """A ``--secret`` value (bake's ``secret`` entry too): buildx reads it as one CSV
    record, so a path holding , or " is quoted."""
    source = f"src={path}"
    if "," in source or '"' in source:
        source = '"' + source.replace('"', '""') + '"'
    return f"id={secret_id},{source}"


class BuildInputs(NamedTuple):
    """What dockerpypi gives one build, beside the user's own inputs: named build
    contexts (name: directory), build secrets (id: file) and whether the build
    needs the host's network. Any front end writes them its own way: ``docker
    buildx build`` options, a bake or compose override, CI action inputs."""

    contexts: dict[str, str]
    secrets: dict[str, Path]
    host_network: bool


def build_inputs(
    given: DockerArgs,
    settings: Settings,
    *,
    secret_files: Mapping[str, Path],
    mirror_dir: Path | None,
    config_dir: Path | None = None,
) -> BuildInputs:
    """The contexts, secrets and network dockerpypi adds to the build ``given``.

    ``secret_files`` maps each secret id to the file holding it; ``mirror_dir``
    is the local mirror, or None when there is none (the Dockerfile's empty
    ``pypi-mirror`` stage is then used); ``config_dir`` the step settings as
    the ``dockerpypi-config`` context (None: as secrets only). What the user
    already gave wins: their own ``--build-context pypi-mirror=...``, a
    ``--secret`` with one of our ids, and any ``--network``.
    """
    contexts: dict[str, str] = {}
    if mirror_dir is not None and MIRROR_STAGE not in given.build_contexts:
        contexts[MIRROR_STAGE] = str(mirror_dir)
    if config_dir is not None and CONFIG_STAGE not in given.build_contexts:
        contexts[CONFIG_STAGE] = str(config_dir)
    secrets = {secret_id: path for secret_id, path in secret_files.items()
               if secret_id not in given.secret_ids}
    # A mirror on 127.0.0.1 is this machine's; a build step only sees it
    # through the host's network stack.
    host_network = given.network is None and bool(loopback_indexes(settings))
    return BuildInputs(contexts, secrets, host_network)


def inputs_argv(inputs: BuildInputs) -> list[str]:
    """``inputs`` as ``docker buildx build`` options."""
    argv: list[str] = []
    for name, directory in inputs.contexts.items():
        argv += ["--build-context", f"{name}={directory}"]
    for secret_id, path in inputs.secrets.items():
        argv += ["--secret", secret_spec(secret_id, path)]
    if inputs.host_network:
        argv.append("--network=host")
    return argv


def plan_build(
    docker_args: Sequence[str],
    settings: Settings,
    *,
    secret_files: Mapping[str, Path],
    mirror_dir: Path | None,
    config_dir: Path | None = None,
    docker: Sequence[str] = DOCKER_BUILD,
) -> list[str]:
    """The full ``docker buildx build`` argv that gives the build its mirror
    (:func:`build_inputs`, before the user's arguments)."""
    given = parse_docker_args(docker_args)
    inputs = build_inputs(given, settings, secret_files=secret_files, mirror_dir=mirror_dir,
                          config_dir=config_dir)
    return [*docker, *inputs_argv(inputs), *given.args]


def served_settings(settings: Settings, url: str) -> Settings:
    """``settings`` with the local mirror (``file://<mount point>``) replaced by ``url``.

    For the HTTP transport: the build step reaches the mirror directory that
    dockerpypi serves on loopback instead of a bind mount.
    """
    local = settings.local_mirror_url.rstrip("/")
    served = MirrorURL(url)
    mirrors = tuple(served if mirror.url.rstrip("/") == local else mirror
                    for mirror in settings.mirrors.value)
    return replace(settings, mirrors=replace(settings.mirrors, value=mirrors))


def dockerfile_path(given: DockerArgs) -> Path | None:
    """The Dockerfile the build reads: ``-f`` (from the current directory), else PATH/Dockerfile."""
    files = given.values("--file")
    if files:
        return None if files[-1] == "-" else Path(files[-1])
    if given.local_path is None:
        return None
    return Path(given.local_path) / "Dockerfile"


def with_dockerfile(given: DockerArgs, path: Path, *more: str) -> list[str]:
    """The user's arguments with the Dockerfile replaced by ``path`` (for ``--inject``),
    and the options ``more``.

    Added rather than substituted: docker's flag parser keeps the last value
    of a repeated ``--file``, and the user's own ``-f`` may sit inside a
    cluster of short options (``-qf x``) that is best left untouched. They go
    at the end, or before a ``--``, after which every word is the PATH.
    """
    args = list(given.args)
    end = args.index("--") if "--" in args else len(args)
    return [*args[:end], "--file", str(path), *more, *args[end:]]
