"""``dockerpypi build``: ``docker buildx build`` with the mirror supplied.

Only click is imported at the top (see cli.py); planning lives in build.py,
processes in process.py, secret files in files.py.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from .options import settings_from, settings_options, warn

if TYPE_CHECKING:
    from ..build.command import DockerArgs
    from ..build.engine import Transport
    from ..dockerfile.inject import InjectResult
    from ..settings.resolve import Settings

# dockerpypi's options come first and everything from the first word click
# does not know is docker's (_BuildCommand puts it after `--`). So -h can be
# help as everywhere else: a cluster such as -tmy/hub is docker's whole, and
# click never reads it letter by letter, where -h would eat its h.
_CONTEXT = {
    "ignore_unknown_options": True,
    "allow_interspersed_args": False,
    "help_option_names": ["-h", "--help"],
}


@contextmanager
def _logging_to_stderr(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    import logging

    from ..process import LOGGER

    logger = logging.getLogger(LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dockerpypi: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


class _BuildCommand(click.Command):
    """``build``, whose words from the first one that is not a dockerpypi option are
    docker's, handed on as they are.

    Click would look each of docker's options up among ours, and for every one
    it does not know, find the nearest of our names (importing difflib) for an
    error it then ignores: ~3 ms of every build. Those words are put after
    ``--`` instead, where click takes them as they are.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        cut = _first_docker_word(self.get_params(ctx), args)
        if cut < len(args):
            args = [*args[:cut], "--", *args[cut:]]
        return super().parse_args(ctx, args)


def _first_docker_word(params: list[click.Parameter], args: list[str]) -> int:
    """The index of the first word of ``args`` that is not one of our options (or its
    value); ``len(args)`` when there is none, or when ``--`` comes first."""
    takes_value = {name: not (isinstance(param, click.Option) and param.is_flag)
                   for param in params if isinstance(param, click.Option)
                   for name in (*param.opts, *param.secondary_opts)}
    index = 0
    while index < len(args):
        name, equals, _ = args[index].partition("=")
        if args[index] == "--":
            return len(args)
        if name not in takes_value:
            return index
        index += 2 if takes_value[name] and not equals else 1
    return index


@click.command("build", cls=_BuildCommand, context_settings=_CONTEXT)
@settings_options
@click.option("--dry-run", is_flag=True,
              help="Print the docker command (credentials as ***) instead of running it; "
                   "no secret file is written.")
@click.option("--verbose", is_flag=True, help="Show the docker command on standard error.")
@click.option("--inject", is_flag=True,
              help="Build a copy of a Dockerfile not written for dockerpypi, with the mirror "
                   "added to every RUN that calls pip or uv (your file is not changed).")
@click.option("--uid", type=click.IntRange(min=0),
              help="With --inject: the uid of a named USER, who must read the secrets.")
@click.option("--prefer-uv", is_flag=True,
              help="With --inject: a step that is one plain `pip install` runs `uv pip "
                   "install` instead when the image has uv (pip otherwise).")
@click.option("--transport", type=click.Choice(["auto", "context", "http"]), default="auto",
              show_default=True,
              help="How the local mirror reaches the build: a named build context, or "
                   "served on 127.0.0.1 for engines without named contexts.")
@click.option("--verify", is_flag=True,
              help="Then look through the image for traces of the mirror (`dockerpypi "
                   "verify`) and exit 1 if there are any; needs -t NAME and --load (or the "
                   "docker driver).")
@click.argument("docker_args", nargs=-1, type=click.UNPROCESSED,
                metavar="[DOCKER BUILD OPTIONS] PATH")
@click.pass_context
def build(ctx: click.Context, /, docker_args: tuple[str, ...], dry_run: bool, verbose: bool,
          transport: str, inject: bool, uid: int | None, prefer_uv: bool, verify: bool,
          **kwargs: Any) -> None:
    """Run `docker buildx build` with the mirror and its settings supplied.

    \b
    dockerpypi build -t app .
    dockerpypi build --offline --mirror-dir ./wheels -f Dockerfile.prod --load -t app .

    dockerpypi's options go before docker's; everything else is handed to
    docker unchanged. The local mirror directory becomes the build context
    "pypi-mirror" (unless you give your own), the config files become build
    secrets in a private temporary directory that is removed afterwards, and
    --network=host is added when a mirror is on loopback and you gave no
    --network. Settings are read from the build context PATH unless --context
    says otherwise. The exit code is docker's.
    """
    from ..build.command import credential_strings, parse_docker_args
    from ..build.local_mirror import local_mirror

    if prefer_uv and not inject:
        from ..errors import UsageError

        raise UsageError("--prefer-uv rewrites steps of --inject: add --inject, or render "
                         "steps that pick uv themselves (dockerpypi render)")
    given = parse_docker_args(docker_args)
    _refuse_misplaced_options(ctx, given.options)
    _refuse_missing_inputs(given)
    if kwargs["context_dir"] is None and given.local_path and Path(given.local_path).is_dir():
        kwargs["context_dir"] = Path(given.local_path)
    settings = settings_from(kwargs)
    for warning in settings.warnings:
        warn(warning)
    mirror = local_mirror(settings, given.build_contexts)  # refused before docker is asked
    if mirror.warning is not None:
        warn(mirror.warning)
    secrets = credential_strings(settings)
    debug = bool(ctx.find_root().params.get("debug"))
    verified = _verify_target(given, dry_run=dry_run) if verify else None
    with _logging_to_stderr(verbose or debug):
        injecting = _read_for_injection(given, settings, uid, prefer_uv) if inject else None
        code = _build(given, settings, secrets, mirror.directory, dry_run=dry_run,
                      transport=transport, injecting=injecting)
    if verified is not None and code == 0:
        code = _verify_built(verified, given, settings)
    ctx.exit(code)


def _verify_target(given: DockerArgs, *, dry_run: bool) -> str:
    """The image ``--verify`` will read once the build is done; refuse what cannot work."""
    from ..errors import UsageError

    if dry_run:
        raise UsageError("--verify checks the image a build made, and --dry-run builds none: "
                         "drop one of them")
    tags = given.values("--tag")
    if not tags:
        raise UsageError("--verify needs the image's name: add -t NAME to the docker options")
    if not _loads_image(given):
        raise UsageError("--verify reads the image from the engine, and this build does not "
                         "put it there: add --load")
    return tags[0]


def _loads_image(given: DockerArgs) -> bool:
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
    from ..build.engine import current_engine

    return current_engine().driver in (None, "docker")


def _verify_built(image: str, given: DockerArgs, settings: Settings) -> int:
    """``dockerpypi verify`` on the image just built; 1 when it keeps a trace of the mirror."""
    from ..verify.report import failure, report_lines, summary
    from ..verify.scan import verify_settings

    metadata = given.values("--metadata-file")
    result, needles = verify_settings(settings, image,
                                      metadata_file=Path(metadata[-1]) if metadata else None)
    for line in report_lines(result, needles):
        click.echo(f"dockerpypi: verify: {line}", err=True)
    click.echo(f"dockerpypi: verify: {summary(result)}", err=True)
    if result.clean:
        return 0
    click.echo(f"dockerpypi: error: {failure(result)}", err=True)
    return 1


class _Injecting(NamedTuple):
    """--inject: the user's Dockerfile as read, and the options.

    (A named tuple, not a frozen dataclass: see "records" in dockerpypi/_entry.py.)
    """

    source: Path
    text: str
    uid: int | None
    prefer_uv: bool

    def result(self, settings: Settings, config: str) -> InjectResult:
        from ..dockerfile.inject import inject

        return inject(self.text, mount_point=settings.mount_point.value, uid=self.uid,
                      prefer_uv=self.prefer_uv, config=config)


def _read_for_injection(given: DockerArgs, settings: Settings, uid: int | None,
                        prefer_uv: bool) -> _Injecting:
    """The user's Dockerfile, checked now: a file inject refuses is said before docker is asked."""
    from ..build.command import dockerfile_path
    from ..errors import UsageError

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
    injecting = _Injecting(source, text, uid, prefer_uv)
    injecting.result(settings, "context")  # raises what inject refuses
    return injecting


@contextmanager
def _injected(given: DockerArgs, settings: Settings, injecting: _Injecting | None,
              config: str) -> Iterator[DockerArgs]:
    """The user's arguments pointing at an injected copy of their Dockerfile (if injecting)."""
    from .. import files
    from ..build.command import parse_docker_args, with_dockerfile

    if injecting is None:
        yield given
        return
    result = injecting.result(settings, config)
    for note in result.notes:
        warn(note)
    source = injecting.source
    with files.private_files({"Dockerfile": result.text}) as written:
        # BuildKit looks for <Dockerfile>.dockerignore beside the Dockerfile
        # first: keep the user's, if they have one.
        ignore = source.with_name(source.name + ".dockerignore")
        if ignore.is_file():
            target = written["Dockerfile"].with_name("Dockerfile.dockerignore")
            target.write_bytes(ignore.read_bytes())
        yield parse_docker_args(with_dockerfile(given, written["Dockerfile"]))


def _refuse_missing_inputs(given: DockerArgs) -> None:
    """Say so before anything runs when the build context or Dockerfile is not there."""
    from ..build.command import dockerfile_path
    from ..errors import UsageError

    if given.local_path is not None and not Path(given.local_path).is_dir():
        raise UsageError(f"the build context {given.local_path} is not a directory: end the "
                         "command with the directory to build, such as .")
    dockerfile = dockerfile_path(given)
    if dockerfile is not None and not dockerfile.is_file():
        raise UsageError(f"there is no Dockerfile at {dockerfile}: give -f FILE, or add a "
                         "Dockerfile to the build context")


def _refuse_misplaced_options(ctx: click.Context, options: tuple[tuple[str, str | None], ...]
                              ) -> None:
    from ..errors import UsageError

    ours = {name for param in ctx.command.params
            for name in (*param.opts, *param.secondary_opts) if name.startswith("--")}
    for name, _ in options:
        if name in ours:
            raise UsageError(f"{name} is a dockerpypi option: put it before the docker "
                                   f"options, as in `dockerpypi build {name} ... -t app .`")


def _build(given: DockerArgs, settings: Settings, secrets: list[str], mirror_dir: Path | None,
           *, dry_run: bool, transport: str, injecting: _Injecting | None) -> int:
    chosen = _transport(transport, dry_run=dry_run)
    click.echo(f"dockerpypi: transport {chosen.kind}: {chosen.reason}", err=True)
    # The step settings travel as the dockerpypi-config build context where
    # they can: a step that mounts secrets waits ~2 s in BuildKit. Never when a
    # URL carries credentials (a context stays in the builder's cache), nor
    # without named contexts.
    config = "context" if chosen.kind == "context" and not secrets else "secrets"
    with _injected(given, settings, injecting, config) as built:
        return _build_with(built, settings, secrets, mirror_dir, chosen, config,
                           dry_run=dry_run)


def _build_with(given: DockerArgs, settings: Settings, secrets: list[str],
                mirror_dir: Path | None, chosen: Transport, config: str, *,
                dry_run: bool) -> int:
    from ..build.command import DOCKER_BUILD, LEGACY_BUILD, LEGACY_ENV
    from ..dockerfile.vocabulary import MIRROR_STAGE

    if config == "secrets":
        _refuse_steps_reading_the_config_stage(given, credentials=bool(secrets))
    docker = DOCKER_BUILD if chosen.use_buildx else LEGACY_BUILD
    env = None if chosen.use_buildx else LEGACY_ENV
    if chosen.kind == "http":
        if given.network not in (None, "host"):
            from ..errors import UsageError

            raise UsageError(f"the http transport serves the mirror on 127.0.0.1, which "
                             f"--network={given.network} cannot reach: drop --network")
        if MIRROR_STAGE in given.build_contexts:
            from ..errors import UsageError

            raise UsageError(f"--build-context {MIRROR_STAGE}=... needs named build contexts, "
                             "which this builder lacks: drop it and give --mirror-dir")
        return _build_served(given, settings, secrets, mirror_dir, docker=docker, env=env,
                             dry_run=dry_run)
    _warn_about_network(settings, given.network)
    # Only what the build can need travels (hard links, kept for the next build).
    with _mirror_sent(given, mirror_dir, dry_run=dry_run) as sent:
        return _run_build(given, settings, secrets, sent, docker=docker, env=env,
                          dry_run=dry_run, config=config)


def _echo(line: str) -> None:
    click.echo(f"dockerpypi: {line}", err=True)


def _engine_platforms() -> tuple[str | None, ...] | None:
    """The engine's and its builder's platforms, as the transport's probe learnt them."""
    from ..build.engine import current_engine
    from ..errors import UserMessageError

    try:
        info = current_engine()
    except UserMessageError:
        return None
    return info.server_platform, info.builder_platform


@contextmanager
def _mirror_sent(given: DockerArgs, mirror_dir: Path | None, *,
                 dry_run: bool) -> Iterator[Path | None]:
    """The pypi-mirror context: the subset an earlier build chose, when nothing it read
    changed (no import of the subset machinery then), or one chosen now."""
    from ..build import kept_subset
    from ..dockerfile.vocabulary import MIRROR_STAGE

    platforms = _engine_platforms()
    if (mirror_dir is not None and not dry_run and platforms is not None
            and MIRROR_STAGE not in given.build_contexts):
        kept = kept_subset.lookup(given, mirror_dir, platforms)
        if kept is not None:
            _echo(f"sending {kept[1]} (as chosen for an earlier build)")
            yield kept[0]
            return
    from ..build.subset import mirror_context

    def remember(directory: Path, summary: str, sources: dict[str, str]) -> None:
        if mirror_dir is not None and platforms is not None:
            kept_subset.remember(given, mirror_dir, platforms, sources, directory, summary)

    with mirror_context(given, mirror_dir, dry_run=dry_run, echo=_echo,
                        remember=remember) as sent:
        yield sent


def _reads_config_stage(given: DockerArgs) -> bool | None:
    """Whether a step of the Dockerfile mounts the settings context; None: cannot tell."""
    from ..build.command import dockerfile_path
    from ..dockerfile.vocabulary import CONFIG_STAGE

    source = dockerfile_path(given)
    try:
        text = source.read_text(encoding="utf-8", errors="replace") if source else None
    except OSError:
        text = None
    if text is None:  # stdin, a URL, or unreadable (docker will say why)
        return None
    return re.search(rf"\bfrom={re.escape(CONFIG_STAGE)}\b", text, re.IGNORECASE) is not None


def _refuse_steps_reading_the_config_stage(given: DockerArgs, *, credentials: bool) -> None:
    """Say so when the Dockerfile's steps want the settings context this build cannot send."""
    from ..build.command import dockerfile_path
    from ..dockerfile.vocabulary import CONFIG_STAGE
    from ..errors import UsageError

    if not _reads_config_stage(given):
        return
    source = dockerfile_path(given)
    why = ("a mirror URL carries credentials, which dockerpypi passes only as build secrets"
           if credentials else "this engine has no named build contexts")
    raise UsageError(f"{source}: its steps read their settings from the {CONFIG_STAGE} "
                     f"build context, but {why}: render them again with `dockerpypi render "
                     "--secrets`")


def _transport(requested: str, *, dry_run: bool) -> Transport:
    from ..build.engine import Transport, choose_transport, current_engine
    from ..errors import UserMessageError

    try:
        info = current_engine()
    except UserMessageError as error:
        if not dry_run:
            raise
        # A dry run only prints: plan for a current engine and say so.
        kind = "http" if requested == "http" else "context"
        return Transport(kind, True, f"no engine to ask ({error}); assuming a current one")
    return choose_transport(info, requested)


def _build_served(given: DockerArgs, settings: Settings, secrets: list[str],
                  mirror_dir: Path | None, *, docker: tuple[str, ...],
                  env: dict[str, str] | None, dry_run: bool) -> int:
    from ..build.command import served_settings
    from ..mirror.serve import serving

    if mirror_dir is None:  # nothing to serve: the step sees the empty stage
        return _run_build(given, settings, secrets, None, docker=docker, env=env,
                          dry_run=dry_run)
    if dry_run:
        shown = served_settings(settings, "http://127.0.0.1:PORT/")
        return _run_build(given, shown, secrets, None, docker=docker, env=env, dry_run=True)
    with serving(mirror_dir) as url:
        click.echo(f"dockerpypi: serving {mirror_dir} at {url} for this build", err=True)
        return _run_build(given, served_settings(settings, url), secrets, None, docker=docker,
                          env=env, dry_run=False)


def _run_build(given: DockerArgs, settings: Settings, secrets: list[str],
               mirror_dir: Path | None, *, docker: tuple[str, ...],
               env: dict[str, str] | None, dry_run: bool, config: str = "secrets") -> int:
    """Write the settings (secrets, and the config context for ``config="context"``), build."""
    from .. import caches, process
    from ..build.command import plan_build
    from ..files import TREE, private_files
    from ..render.files import config_context, config_files, uv_cache_pays

    files = config_files(settings, uv_cache=mirror_dir is None or
                         uv_cache_pays(settings, _names_sent(mirror_dir)))
    # Secrets as well: steps rendered with --secrets (or before 0.2) read those.
    tree = (config_context(files)
            if config == "context" and _reads_config_stage(given) is not False else None)
    if dry_run:
        # The real directory does not exist yet: show where it would be.
        import tempfile

        placeholder = Path(tempfile.gettempdir()) / "dockerpypi-XXXXXXXX"
        paths = {f.secret_id: placeholder / f.secret_id for f in files}
        shown = None
        if tree is not None:
            shown = (caches.kept_tree_path(caches.STEP_CONFIG.name, tree) if not secrets
                     else placeholder / TREE)
        argv = plan_build(given.args, settings, secret_files=paths, mirror_dir=mirror_dir,
                          config_dir=shown, docker=docker)
        prefix = "".join(f"{key}={value} " for key, value in (env or {}).items())
        click.echo(prefix + process.shell_command(argv, secrets))
        return 0
    # The same settings context at the same path build after build: BuildKit then
    # has it already. It holds no credentials (config="context" is never chosen
    # with them), but where the cache cannot keep it, it goes with the secrets.
    kept = (caches.kept_tree(caches.STEP_CONFIG.name, tree)
            if tree is not None and not secrets else None)
    with private_files({f.secret_id: f.content for f in files},
                       tree=tree if kept is None else None) as written:
        config_dir = kept or written.pop(TREE, None)
        argv = plan_build(given.args, settings, secret_files=written, mirror_dir=mirror_dir,
                          config_dir=config_dir, docker=docker)
        return process.run(argv, secrets=secrets, env=env)


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


def _warn_about_network(settings: Settings, network: str | None) -> None:
    from ..build.command import loopback_indexes

    loopback = loopback_indexes(settings)
    if loopback and network is not None and network != "host":
        warn(f"{loopback[0]} is on loopback, which --network={network} cannot reach: "
             "drop --network (dockerpypi then uses host) or use a reachable mirror address")
