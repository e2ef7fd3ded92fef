"""``dockerpypi compose build`` (and ``up``): Compose with the mirror given to each service.

Compose reads the user's files (``-f``, ``COMPOSE_FILE``, or the default ones
it looks for); dockerpypi never changes them. It asks Compose for the
resolved project (``config --format json``; read once into
:class:`ComposeService`), makes each service whose Dockerfile installs from
the mirror ready as ``dockerpypi build`` would (:mod:`.frontends`), and adds
one more compose file, an override (:func:`override`): for each such
service its ``build.additional_contexts``, ``build.secrets`` (with the
top-level ``secrets`` they name, as files), ``build.dockerfile`` with
``--inject`` and ``build.network: host`` for a mirror on loopback, every
path absolute. Compose merges it over the user's files.

Everything here but :func:`read_services` and :func:`compose` is pure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import process
from ..errors import UsageError, UserMessageError
from .frontends import (
    InjectOptions,
    Ran,
    Target,
    TargetInputs,
    absolute,
    refuse_without_named_contexts,
    run_with_override,
    scan_options,
    target_args,
)

if TYPE_CHECKING:
    from .pipeline import BuildRun

COMPOSE = ("docker", "compose")
# The commands that build, and the options of each that take a value (Compose
# 2.26); any other option is a flag, and any other word a service.
COMMANDS = {
    "build": frozenset({"--build-arg", "--builder", "--memory", "-m", "--progress", "--ssh"}),
    "up": frozenset({"--attach", "--exit-code-from", "--no-attach", "--pull", "--scale",
                     "--timeout", "-t", "--wait-timeout"}),
}
_GLOBAL_WITH_VALUE = frozenset({
    "--ansi", "--env-file", "--file", "-f", "--parallel", "--profile", "--progress",
    "--project-directory", "--project-name", "-p",
})
# The files Compose looks for without -f or COMPOSE_FILE, in the project
# directory or the nearest parent that has one (compose-go's DefaultFileNames
# and DefaultOverrideFileNames): the first of these, then the first override.
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml",
                  "docker-compose.override.yml", "docker-compose.override.yaml")
OVERRIDE_NAME = "dockerpypi.compose.yaml"


class ComposeArgs(NamedTuple):
    """The user's ``docker compose`` arguments: global options, the command, its words."""

    global_options: tuple[tuple[str, str | None], ...]
    global_args: tuple[str, ...]
    command: str
    command_args: tuple[str, ...]
    services: tuple[str, ...]
    command_options: tuple[tuple[str, str | None], ...]

    def values(self, name: str, *, short: str | None = None) -> list[str]:
        return [value for option, value in self.global_options
                if option in (name, short) and value is not None]

    def flag(self, name: str) -> bool:
        return any(option == name for option, _ in self.command_options)

    @property
    def builder(self) -> str | None:
        """``build --builder``: the builder Compose builds with (None: the selected one)."""
        given = [value for option, value in self.command_options if option == "--builder"]
        return given[-1] if given else None


def parse_compose_args(args: Sequence[str]) -> ComposeArgs:
    """Split ``docker compose`` arguments into global options, the command and its words."""
    words = list(args)
    cut = 0
    while cut < len(words) and words[cut].startswith("-"):
        name, equals, _ = words[cut].partition("=")
        cut += 2 if name in _GLOBAL_WITH_VALUE and not equals else 1
    if cut >= len(words) or words[cut] not in COMMANDS:
        found = f"`{words[cut]}`" if cut < len(words) else "no command"
        raise UsageError(f"dockerpypi compose runs `build` or `up`, and got {found}",
                         fix="use `dockerpypi compose build [SERVICE...]` or `dockerpypi "
                             "compose up --build`; run other commands with docker compose")
    global_options, _ = scan_options(words[:cut], _GLOBAL_WITH_VALUE)
    command = words[cut]
    command_options, services = scan_options(words[cut + 1:], COMMANDS[command])
    return ComposeArgs(tuple(global_options), tuple(words[:cut]), command,
                       tuple(words[cut + 1:]), tuple(services), tuple(command_options))


def files_in_use(given: ComposeArgs, cwd: Path, environ: Mapping[str, str]) -> list[str]:
    """The compose files the user's command reads: its ``-f``, ``COMPOSE_FILE``, or the
    default ones Compose finds from the project directory upwards."""
    files = given.values("--file", short="-f")
    if files:
        return files
    if environ.get("COMPOSE_FILE"):
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return [str(absolute(name, cwd)) for name in environ["COMPOSE_FILE"].split(separator)
                if name]
    directories = given.values("--project-directory")
    start = absolute(directories[-1], cwd) if directories else cwd
    for directory in (start, *start.parents):
        found = [directory / name for name in DEFAULT_FILES if (directory / name).is_file()]
        if found:
            overrides = [directory / name for name in OVERRIDE_FILES
                         if (directory / name).is_file()]
            return [str(path) for path in (found[0], *overrides[:1])]
    raise UsageError(f"there is no compose file in {start} or above",
                     fix="give -f FILE, or add a compose.yaml")


def config_argv(given: ComposeArgs, files: Iterable[str]) -> list[str]:
    """``docker compose config --format json``: the resolved project."""
    return [*COMPOSE, *_files_args(given, files), *given.global_args, "config", "--format",
            "json"]


def _files_args(given: ComposeArgs, files: Iterable[str]) -> list[str]:
    # One -f turns Compose's own lookup off: name what it would have found.
    if given.values("--file", short="-f"):
        return []
    return [arg for name in files for arg in ("--file", name)]


class ComposeService(NamedTuple):
    """One service with a ``build`` section, as ``docker compose config`` resolves it."""

    name: str
    context: str  # absolute, or a URL
    dockerfile: str  # relative to the context, unless absolute
    inline: bool  # dockerfile_inline: no Dockerfile on disk
    contexts: tuple[str, ...]  # the names of its additional contexts
    secret_ids: tuple[str, ...]
    platforms: tuple[str, ...]
    network: str | None


def parse_config(text: str) -> list[ComposeService]:
    """``docker compose config --format json`` as the services that build."""
    try:
        services: dict[str, dict[str, Any]] = json.loads(text).get("services") or {}
        found = []
        for name, service in services.items():
            build = service.get("build")
            if not isinstance(build, dict):
                continue
            secrets = tuple(str(secret.get("target") or secret["source"])
                            for secret in build.get("secrets") or ())
            found.append(ComposeService(
                name, str(build.get("context") or "."),
                str(build.get("dockerfile") or "Dockerfile"),
                bool(build.get("dockerfile_inline")),
                tuple(build.get("additional_contexts") or {}), secrets,
                tuple(str(platform) for platform in build.get("platforms") or ()),
                build.get("network")))
        return found
    except (ValueError, AttributeError, TypeError, KeyError) as error:
        raise UserMessageError(f"cannot read what `docker compose config` printed ({error})",
                               fix="use Compose 2.17 or later") from None


def target_of(service: ComposeService, cwd: Path, builder: str | None) -> Target:
    """The ``docker buildx build`` arguments a service's build stands for."""
    if service.inline or "://" in service.context or service.context.startswith("git@"):
        return Target(service.name, None)
    context = absolute(service.context, cwd)
    return Target(service.name, target_args(
        context, absolute(service.dockerfile, context), platforms=service.platforms,
        contexts=service.contexts, secrets=[f"id={secret}" for secret in service.secret_ids],
        network=service.network, builder=builder))


def secret_name(service: str, secret_id: str) -> str:
    """The top-level secret that carries ``secret_id`` to ``service``'s build."""
    return f"{secret_id}-{service}"


def override(ready: Mapping[str, TargetInputs]) -> dict[str, Any]:
    """The compose file that gives each service's build its mirror."""
    services: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for name, inputs in ready.items():
        build: dict[str, Any] = {}
        if inputs.contexts:
            build["additional_contexts"] = dict(inputs.contexts)
        if inputs.secrets:
            build["secrets"] = [{"source": secret_name(name, secret_id), "target": secret_id}
                                for secret_id in inputs.secrets]
            secrets.update({secret_name(name, secret_id): {"file": str(path)}
                            for secret_id, path in inputs.secrets.items()})
        if inputs.dockerfile is not None:
            build["dockerfile"] = str(inputs.dockerfile)
        if inputs.host_network:
            build["network"] = "host"
        services[name] = {"build": build}
    document: dict[str, Any] = {"services": services}
    if secrets:
        document["secrets"] = secrets
    return document


def compose_argv(given: ComposeArgs, files: Sequence[str], override_file: Path) -> list[str]:
    """The user's compose command with the override as its last file."""
    return [*COMPOSE, *_files_args(given, files), *given.global_args, "--file",
            str(override_file), given.command, *given.command_args]


def read_services(given: ComposeArgs, files: Sequence[str], cwd: Path) -> list[Target]:
    """The services the command builds (those named, or every one with a build)."""
    done = process.output_of(config_argv(given, files), timeout=60)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise UserMessageError(f"docker compose config failed: "
                               f"{lines[-1] if lines else f'exit {done.returncode}'}",
                               fix="check the compose files")
    services = parse_config(done.stdout)
    # `up` also builds the services the named ones depend on; so does `build
    # --with-dependencies`: then every service is made ready.
    named = set(given.services) if given.command == "build" and not given.flag(
        "--with-dependencies") else set()
    return [target_of(service, cwd, given.builder)
            for service in services if not named or service.name in named]


def compose(run: BuildRun, given: ComposeArgs, *, cwd: Path,
            inject: InjectOptions | None) -> Ran:
    """Run ``given`` with the mirror (``run``: :func:`dockerpypi.build.pipeline.start`'s)."""
    refuse_without_named_contexts(run, "compose")
    files = files_in_use(given, cwd, os.environ)
    return run_with_override(run, read_services(given, files, cwd), inject=inject,
                             name=OVERRIDE_NAME, document=override,
                             argv=lambda path: compose_argv(given, files, path))
