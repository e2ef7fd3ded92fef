"""The work of ``dockerpypi build``: from the parsed command line to docker's exit code.

One :class:`BuildRun` holds what the steps of a build read (as copier's
``Worker`` does), so each step takes it instead of a list of parameters:

1. :func:`start`: ask the engine (or read its kept answer), choose the
   transport (:mod:`.transports`) and say which;
2. :func:`build`: with ``--inject``, build a rewritten copy of the
   Dockerfile; refuse what this build cannot do; let the transport deliver
   the mirror; write the step settings (the ``dockerpypi-config`` build
   context, or build secrets in a private directory removed afterwards); run
   docker, or, for a dry run, return the command it would run. All of it
   but running docker is :func:`prepared`, which ``bake``, ``compose`` and
   the CI inputs (:mod:`.frontends`) use for each of their builds.

The command line (:mod:`dockerpypi.cli.build`) parses, prints and exits;
lines meant for people go through the run's ``report``, warnings (classes of
:mod:`dockerpypi.errors`) through its ``warn``.

Imports: what every build runs is imported at the top. What one option or
one transport alone needs is imported where it is used, so that the builds
without it do not pay for it at start-up: csv (``--verify``), the served
mirror (:mod:`.transports`), the subset machinery (the same), ``--inject``'s
rewriter (:mod:`.injected`, imported by the command line).
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .. import caches, process
from ..dockerfile.lock_mounts import LOCKS_STAGE
from ..dockerfile.vocabulary import CONFIG_STAGE
from ..engines import missing_fix
from ..errors import DockerPypiWarning, UsageError, UserMessageError
from ..files import TREE, private_files
from ..render.files import config_context, config_files, uv_cache_pays
from .command import BuildInputs, build_inputs, credential_strings, dockerfile_path, inputs_argv
from .engine import EngineInfo, current_engine
from .engines.base import BuildEngine
from .engines.docker import DockerEngine
from .transports import TRANSPORTS, Delivered, Transport

if TYPE_CHECKING:
    from ..settings.model import Settings
    from .command import DockerArgs
    from .injected import Injecting


class BuildRun:
    """One ``dockerpypi build``: what its steps read, set once when it starts."""

    __slots__ = ("cli", "config", "dry_run", "engine", "given", "mirror_dir", "on_warning",
                 "report", "secrets", "settings", "transport")

    def __init__(self, given: DockerArgs, settings: Settings, mirror_dir: Path | None,
                 transport: Transport, *, report: Callable[[str], None],
                 warn: Callable[[DockerPypiWarning], None] = warnings.warn,
                 engine: EngineInfo | None = None, dry_run: bool = False,
                 cli: BuildEngine | None = None) -> None:
        self.given = given  # the user's docker arguments
        self.cli = cli or DockerEngine()  # the container CLI that builds
        self.settings = settings
        # Every credential in the settings, as typed and encoded: never shown.
        self.secrets = credential_strings(settings)
        self.mirror_dir = mirror_dir  # the local mirror (None: the empty stage)
        self.transport = transport
        self.config = transport.config_form(credentials=bool(self.secrets))
        self.engine = engine  # what the engine said (None: a dry run without an engine)
        self.dry_run = dry_run
        self.report = report  # one line for people (without "dockerpypi: ")
        # Where warnings go: the command line prints them; without one, Python's
        # warnings machinery takes them (they are UserWarnings).
        self.on_warning = warn

    def warn(self, warning: DockerPypiWarning) -> None:
        """Say ``warning`` (a class of :mod:`dockerpypi.errors`, such as BuildWarning)."""
        self.on_warning(warning)

    @property
    def engine_platforms(self) -> tuple[str | None, ...] | None:
        """The engine's and its builder's platforms (None: no engine answered)."""
        if self.engine is None:
            return None
        return self.engine.server_platform, self.engine.builder_platform

    def with_args(self, given: DockerArgs) -> BuildRun:
        """This run with other docker arguments (``--inject``'s copy of the Dockerfile)."""
        return BuildRun(given, self.settings, self.mirror_dir, self.transport,
                        report=self.report, warn=self.on_warning, engine=self.engine,
                        dry_run=self.dry_run, cli=self.cli)


class Outcome(NamedTuple):
    """How a build ended: docker's exit code, and a dry run's command line."""

    code: int
    command: str | None = None  # a dry run: what would run (credentials as ***)


def start(given: DockerArgs, settings: Settings, mirror_dir: Path | None, *,
          requested: str, report: Callable[[str], None],
          warn: Callable[[DockerPypiWarning], None] = warnings.warn,
          dry_run: bool = False, cli: BuildEngine | None = None) -> BuildRun:
    """The run of a build: the engine asked, the transport chosen (and said).

    ``cli`` is the container CLI that builds (None: docker); ``given`` the
    user's arguments as it takes them (:func:`engine_args`).
    """
    cli = cli or DockerEngine()
    engine: EngineInfo | None
    try:
        engine = cli.probe()
    except UserMessageError as error:
        if not dry_run:
            raise
        # A dry run only prints: plan for a current engine and say so.
        engine = None
        kind = "http" if requested == "http" else "context"
        transport = TRANSPORTS[kind](True, f"no engine to ask ({error}); assuming a current one")
    else:
        # A builder that cannot reach this machine's loopback gets its loopback
        # mirrors another way, or the build stops here (the engine's transport).
        transport = cli.transport(engine, requested, given=given, settings=settings,
                                  mirror_dir=mirror_dir)
    report(f"transport {transport.kind}: {transport.reason}")
    return BuildRun(given, settings, mirror_dir, transport, report=report, warn=warn,
                    engine=engine, dry_run=dry_run, cli=cli)


class Prepared(NamedTuple):
    """One build made ready, for any front end that runs docker (``build``, ``bake``,
    ``compose``, the CI inputs): ``run`` as it builds (with ``--inject``, its
    arguments name the rewritten copy of the Dockerfile and its contexts), and
    what dockerpypi gives it (``inputs``; their files exist while the block of
    :func:`prepared` lasts; a dry run's are placeholders)."""

    run: BuildRun
    inputs: BuildInputs


def build(run: BuildRun, injecting: Injecting | None = None) -> Outcome:
    """Build (or, for a dry run, show) ``run``, with ``injecting``'s copy of the Dockerfile."""
    with prepared(run, injecting) as ready:
        # The engine's command (docker buildx build, podman build...) and its environment.
        docker, env = run.cli.command(run.transport), run.cli.env(run.transport)
        argv = [*docker, *inputs_argv(ready.inputs), *ready.run.given.args]
        if run.dry_run:
            prefix = "".join(f"{key}={value} " for key, value in (env or {}).items())
            return Outcome(0, prefix + process.shell_command(argv, run.secrets))
        return Outcome(process.run(argv, secrets=run.secrets, env=env,
                                   missing=missing_fix(run.cli.cli)))


@contextmanager
def prepared(run: BuildRun, injecting: Injecting | None = None) -> Iterator[Prepared]:
    """``run`` made ready to build, without running docker: with ``injecting``'s copy of
    the Dockerfile, what it cannot do refused, the mirror delivered by the transport
    and the step settings written (the ``dockerpypi-config`` build context, or build
    secrets in a private directory removed when the block ends). Steps that mount lock
    files from the ``dockerpypi-locks`` context that ``--inject`` did not supply
    (``render --installer uv-sync``) get it from :mod:`.locks_context`."""
    with injecting.applied(run) if injecting is not None else nullcontext(run) as injected, \
            _locks_supplied(injected) as ready:
        if ready.config == "secrets":
            _refuse_steps_reading_the_config_stage(ready)
        ready.transport.check(ready)
        with ready.transport.delivered(ready) as delivered, \
                _settings_written(ready, delivered) as inputs:
            yield Prepared(ready, inputs)


@contextmanager
def _locks_supplied(run: BuildRun) -> Iterator[BuildRun]:
    if not _reads_stage(run.given, LOCKS_STAGE):
        yield run
        return
    from .locks_context import supplied

    with supplied(run) as with_locks:
        yield with_locks


@contextmanager
def _settings_written(run: BuildRun, delivered: Delivered) -> Iterator[BuildInputs]:
    """Write the step settings (secrets, and the config context when the run's config form
    is ``"context"``); the inputs of the build that name them."""
    settings, mirror_dir = delivered.settings, delivered.mirror
    files = config_files(settings, uv_cache=mirror_dir is None or
                         uv_cache_pays(settings, _names_sent(mirror_dir)))
    # Secrets as well: steps rendered with --secrets (or before 0.2) read those.
    tree = (config_context(files)
            if run.config == "context" and reads_config_stage(run.given) is not False else None)

    def inputs(secret_files: Mapping[str, Path], config_dir: Path | None) -> BuildInputs:
        return build_inputs(run.given, settings, secret_files=secret_files,
                            mirror_dir=mirror_dir, config_dir=config_dir)

    if run.dry_run:
        # The real directory does not exist yet: show where it would be.
        placeholder = Path(tempfile.gettempdir()) / "dockerpypi-XXXXXXXX"
        shown = None
        if tree is not None:
            shown = (caches.kept_tree_path(caches.STEP_CONFIG.name, tree)
                     if not run.secrets and run.cli.keeps_config else placeholder / TREE)
        yield inputs({f.secret_id: placeholder / f.secret_id for f in files}, shown)
        return
    # The same settings context at the same path build after build: BuildKit then
    # has it already. It holds no credentials (config="context" is never chosen
    # with them), but where the cache cannot keep it, or the engine's rw bind
    # mount would write into it (podman), it goes with the secrets.
    kept = (caches.kept_tree(caches.STEP_CONFIG.name, tree)
            if tree is not None and not run.secrets and run.cli.keeps_config else None)
    with private_files({f.secret_id: f.content for f in files},
                       tree=tree if kept is None else None) as written:
        config_dir = kept or written.pop(TREE, None)
        yield inputs(written, config_dir)


def _names_sent(mirror_dir: Path) -> list[str]:
    """The file names of the mirror directory the build is sent.

    A dry run names a subset directory that was never written: the mirror
    it would come from stands in for it.
    """
    for directory in (mirror_dir, mirror_dir.parent):
        try:
            return [entry.name for entry in directory.iterdir()]
        except OSError:
            continue
    return []


# --- what is refused before docker runs -------------------------------------------

def engine_args(given: DockerArgs, cli: BuildEngine, *, report: Callable[[str], None]
                ) -> DockerArgs:
    """The user's arguments as ``cli`` takes them (:meth:`BuildEngine.adapt`: what it does
    without left out, what it cannot do refused), with the build context and the
    Dockerfile it reads there."""
    adapted = cli.adapt(given, report)
    refuse_missing_inputs(adapted)
    return adapted


def refuse_missing_inputs(given: DockerArgs) -> None:
    """Say so before anything runs when the build context or Dockerfile is not there."""
    if given.local_path is not None and not Path(given.local_path).is_dir():
        raise UsageError(f"the build context {given.local_path} is not a directory: end the "
                         "command with the directory to build, such as .")
    dockerfile = dockerfile_path(given)
    if dockerfile is not None and not dockerfile.is_file():
        raise UsageError(f"there is no Dockerfile at {dockerfile}: give -f FILE, or add a "
                         "Dockerfile to the build context")


def reads_config_stage(given: DockerArgs) -> bool | None:
    """Whether a step of the Dockerfile mounts the settings context; None: cannot tell."""
    return _reads_stage(given, CONFIG_STAGE)


def _reads_stage(given: DockerArgs, stage: str) -> bool | None:
    """Whether a step of the Dockerfile mounts from ``stage``; None: cannot tell."""
    source = dockerfile_path(given)
    try:
        text = source.read_text(encoding="utf-8", errors="replace") if source else None
    except OSError:
        text = None
    if text is None:  # stdin, a URL, or unreadable (docker will say why)
        return None
    return re.search(rf"\bfrom={re.escape(stage)}\b", text, re.IGNORECASE) is not None


def _refuse_steps_reading_the_config_stage(run: BuildRun) -> None:
    """Say so when the Dockerfile's steps want the settings context this build cannot send."""
    if not reads_config_stage(run.given):
        return
    why = ("a mirror URL carries credentials, which dockerpypi passes only as build secrets"
           if run.secrets else "this engine has no named build contexts")
    raise UsageError(f"{dockerfile_path(run.given)}: its steps read their settings from the "
                     f"{CONFIG_STAGE} build context, but {why}: render them again with "
                     "`dockerpypi render --secrets`")


# --- what --verify needs of the build ------------------------------------------------

def verify_target(given: DockerArgs, *, dry_run: bool, cli: BuildEngine | None = None) -> str:
    """The image ``--verify`` will read once the build is done; refuse what cannot work."""
    if dry_run:
        raise UsageError("--verify checks the image a build made, and --dry-run builds none: "
                         "drop one of them")
    tags = given.values("--tag")
    if not tags:
        raise UsageError("--verify needs the image's name: add -t NAME to the docker options")
    if not (cli or DockerEngine()).loads_image(given):
        raise UsageError("--verify reads the image from the engine, and this build does not "
                         "put it there: add --load")
    return tags[0]


def loads_image(given: DockerArgs) -> bool:
    """Whether the built image lands in the engine's image store."""
    import csv

    for name, value in given.options:
        if name == "--load" and (value is None or value.lower() in ("true", "1")):
            return True
    to_engine = []
    for spec in given.values("--output"):
        fields = dict(field.partition("=")[::2] for field in next(csv.reader([spec]), []))
        kind = fields.get("type") or ("local" if "=" not in spec else "")  # `-o DIR`, `-o -`
        if kind == "docker" and "dest" not in fields:
            return True
        to_engine.append(kind in ("image", "registry"))
    if to_engine and not any(to_engine):
        return False  # only files or directories are written
    # The docker driver keeps what it builds (no output, or an image output) in the engine.
    return current_engine().driver in (None, "docker")
