"""``dockerpypi bake``: ``docker buildx bake`` with the mirror given to each target.

bake reads the user's files (``-f``, or the default ones in the current
directory); dockerpypi never changes them. It asks bake for the targets'
resolved definitions (``--print``, JSON; read once into
:class:`BakeTarget`), makes each target whose Dockerfile installs from the
mirror ready as ``dockerpypi build`` would (:mod:`.frontends`: its own mirror
subset, the step settings, ``--inject``'s copy), and adds one more bake file,
an override (:func:`override`) naming for each such target its ``contexts``,
its ``secret`` entries and, with ``--inject``, its ``dockerfile``. bake
merges it over the user's definitions: contexts by name, secrets appended.

Everything here but :func:`read_targets` and :func:`bake` is pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import process
from ..errors import UsageError, UserMessageError
from .command import loopback_indexes, secret_spec
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
    from ..settings.model import Settings
    from .pipeline import BuildRun

BAKE = ("docker", "buildx", "bake")
# The files bake reads when given no -f: each of these that exists in the
# current directory, in this order (buildx 0.13's defaultFilenames: compose's
# default names, then its own).
DEFAULT_FILES = (
    "compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml",
    "docker-bake.json", "docker-bake.override.json", "docker-bake.hcl",
    "docker-bake.override.hcl",
)
# The options of `docker buildx bake` that take a value (buildx 0.13, and a few
# newer ones); any other option is a flag, and any other word a target.
_WITH_VALUE = frozenset({
    "--allow", "--builder", "--call", "--file", "--list", "--metadata-file", "--progress",
    "--provenance", "--sbom", "--set",
})
OVERRIDE_NAME = "dockerpypi.bake.json"


class BakeArgs(NamedTuple):
    """The user's ``docker buildx bake`` arguments: options (long names) and targets."""

    args: tuple[str, ...]
    options: tuple[tuple[str, str | None], ...]
    targets: tuple[str, ...]

    def values(self, name: str) -> list[str]:
        return [value for option, value in self.options if option == name and value is not None]

    @property
    def builder(self) -> str | None:
        given = self.values("--builder")
        return given[-1] if given else None


def parse_bake_args(args: Sequence[str]) -> BakeArgs:
    """Find the options and the targets among ``docker buildx bake`` arguments."""
    options, targets = scan_options(args, _WITH_VALUE | {"-f"}, long_names={"-f": "--file"},
                                    needs={"-f": ("a bake file", "FILE")})
    if any(name == "--print" for name, _ in options):
        raise UsageError("--print shows bake's own definitions, without the mirror",
                         fix="run `docker buildx bake --print`, or `dockerpypi bake --dry-run` "
                             "for dockerpypi's override")
    return BakeArgs(tuple(args), tuple(options), tuple(targets))


def files_in_use(given: BakeArgs, cwd: Path) -> list[str]:
    """The bake files the user's command reads: its ``-f``, else the default ones."""
    files = given.values("--file")
    if files:
        return files
    found = [name for name in DEFAULT_FILES if (cwd / name).is_file()]
    if not found:
        raise UsageError(f"there is no bake file in {cwd}",
                         fix="give -f FILE, or add a docker-bake.hcl")
    return found


def print_argv(given: BakeArgs, files: Iterable[str]) -> list[str]:
    """``docker buildx bake --print``: the resolved definitions of the user's targets."""
    argv = [*BAKE]
    for name in files:
        argv += ["--file", name]
    for value in given.values("--set"):
        argv += ["--set", value]
    if given.builder is not None:
        argv += ["--builder", given.builder]
    return [*argv, "--print", *given.targets]


class BakeTarget(NamedTuple):
    """One target as ``docker buildx bake --print`` resolves it (what dockerpypi reads)."""

    name: str
    context: str  # as written: relative to the current directory, or a URL
    dockerfile: str  # relative to the context, unless absolute
    inline: bool  # dockerfile-inline: no Dockerfile on disk
    contexts: tuple[str, ...]  # the names of its named contexts
    secrets: tuple[str, ...]  # its secret entries
    platforms: tuple[str, ...]


def parse_definition(text: str) -> list[BakeTarget]:
    """``docker buildx bake --print``'s JSON as targets."""
    try:
        document = json.loads(text)
        targets: dict[str, dict[str, Any]] = document.get("target") or {}
        return [BakeTarget(
            name,
            str(body.get("context") or "."),
            str(body.get("dockerfile") or "Dockerfile"),
            bool(body.get("dockerfile-inline")),
            tuple(body.get("contexts") or {}),
            tuple(str(spec) for spec in body.get("secret") or ()),
            tuple(str(platform) for platform in body.get("platforms") or ()),
        ) for name, body in targets.items()]
    except (ValueError, AttributeError, TypeError) as error:
        raise UserMessageError(f"cannot read what `docker buildx bake --print` printed "
                               f"({error})", fix="check that buildx is 0.8 or later") from None


def target_of(target: BakeTarget, cwd: Path, builder: str | None) -> Target:
    """The ``docker buildx build`` arguments a bake target stands for."""
    if target.inline or "://" in target.context or target.context.startswith("git@"):
        return Target(target.name, None)
    context = absolute(target.context, cwd)
    return Target(target.name, target_args(
        context, absolute(target.dockerfile, context), platforms=target.platforms,
        contexts=target.contexts, secrets=target.secrets, builder=builder))


def override(ready: Mapping[str, TargetInputs]) -> dict[str, Any]:
    """The bake file that gives each target its mirror: laid over the user's files."""
    targets: dict[str, Any] = {}
    for name, inputs in ready.items():
        body: dict[str, Any] = {}
        if inputs.contexts:
            body["contexts"] = dict(inputs.contexts)
        if inputs.secrets:
            body["secret"] = [secret_spec(secret_id, path)
                              for secret_id, path in inputs.secrets.items()]
        if inputs.dockerfile is not None:
            body["dockerfile"] = str(inputs.dockerfile)
        targets[name] = body
    return {"target": targets}


def bake_argv(given: BakeArgs, files: Sequence[str], override_file: Path) -> list[str]:
    """The user's bake command with the override as its last file.

    With no ``-f`` the default files are named, since one ``-f`` turns bake's
    own lookup off.
    """
    defaults = [] if given.values("--file") else [arg for name in files
                                                  for arg in ("--file", name)]
    args = list(given.args)
    end = args.index("--") if "--" in args else len(args)
    return [*BAKE, *defaults, *args[:end], "--file", str(override_file), *args[end:]]


def read_targets(given: BakeArgs, files: Sequence[str], cwd: Path) -> list[Target]:
    """The user's targets, as bake resolves them."""
    done = process.output_of(print_argv(given, files), timeout=60)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise UserMessageError(f"docker buildx bake --print failed: "
                               f"{lines[-1] if lines else f'exit {done.returncode}'}",
                               fix="check the bake files and targets")
    return [target_of(target, cwd, given.builder) for target in parse_definition(done.stdout)]


def refuse_host_network(ready: Mapping[str, TargetInputs], settings: Settings) -> None:
    """bake (buildx 0.13) cannot give a target the host's network, which a step needs
    to reach a mirror on this machine's loopback."""
    needing = [name for name, inputs in ready.items() if inputs.host_network]
    if needing:
        loopback = loopback_indexes(settings)
        raise UsageError(f"{loopback[0] if loopback else 'a mirror'} is on loopback, which "
                         f"only the host's network reaches, and bake cannot give that network "
                         f"to {', '.join(needing)}",
                         fix="use the local mirror directory (--mirror-dir), a mirror address "
                             "the builder reaches, or `dockerpypi compose build`")


def bake(run: BuildRun, given: BakeArgs, *, cwd: Path, inject: InjectOptions | None) -> Ran:
    """Bake ``given`` with the mirror (``run``: :func:`dockerpypi.build.pipeline.start`'s)."""
    refuse_without_named_contexts(run, "bake")
    files = files_in_use(given, cwd)

    def document(ready: Mapping[str, TargetInputs]) -> dict[str, Any]:
        refuse_host_network(ready, run.settings)
        return override(ready)

    return run_with_override(run, read_targets(given, files, cwd), inject=inject,
                             name=OVERRIDE_NAME, document=document,
                             argv=lambda path: bake_argv(given, files, path))
