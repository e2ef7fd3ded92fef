"""``dockerpypi mirror add``: fill the mirror, then index it.

Only click and the settings are imported at the top; the fill machinery
(packaging, requests, uv's plan) is imported when the command runs.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import MirrorWarning, UsageError
from ..settings.model import Settings
from ..settings.urls import MirrorURL, parse_mirror_url
from .mirror_common import (
    index_summary,
    index_warnings,
    mirror_dir_options,
    mirror_settings,
    waiting,
)
from .output import Output, json_option, lines
from .progress import progress_display

if TYPE_CHECKING:
    from ..mirror.fill import DownloadPlan, FillResult, TargetTags
    from ..mirror.project import Project
    from ..mirror.resolve import UvPlan
    from ..mirror.uvlock import LockPlan
    from .progress import Display


_RESOLVERS = ("pip", "uv")  # what resolves; a LockPlan's resolver names its locks' kinds


def _on_line(plan: DownloadPlan | UvPlan | LockPlan, quiet: bool,
             display: Display | None) -> Callable[[str], None] | None:
    """Where the resolver's lines go: beside a spinner on a terminal, else printed as
    they come (a log), or nowhere with --quiet."""
    if quiet:
        return None
    if display is None:
        return lambda line: click.echo(f"  {line}", err=True)
    return display.status({"pip": "pip download", "uv": "uv resolves, dockerpypi downloads"}
                          .get(plan.resolver, "dockerpypi downloads the locked files"))


def _mode_line(plan: DownloadPlan | UvPlan | LockPlan, platforms: tuple[str, ...],
               python_version: str | None) -> str:
    from ..mirror.fill import MODE_HOST

    if plan.image is not None:
        files = "wheels only" if "--only-binary=:all:" in plan.argv else "sdists allowed"
        return (f"mode: {plan.mode} (pip runs inside it: the image's own Python, platform "
                f"and environment markers; {files})")
    if plan.resolver not in _RESOLVERS and plan.mode == MODE_HOST:
        return "mode: every file the lock lists (give --platform and --python-version for fewer)"
    if plan.mode == MODE_HOST:
        # The files fit this machine; an image on another Python or libc needs the tags.
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        return (f"mode: host (wheels for this machine's Python {here} and platform; give "
                "--image, or --python-version and --platform, to fetch for another image)")
    return (f"mode: target tags (Python {python_version or 'of this machine'}, platforms "
            f"{', '.join(platforms) or 'of this machine'}; wheels only)")


def _resolver_line(plan: DownloadPlan | UvPlan | LockPlan, note: str | None) -> str:
    if plan.resolver not in _RESOLVERS:  # a lock's kinds
        return ("resolver: none, the lock's own versions and files (dockerpypi downloads them, "
                "checking the lock's hashes)")
    if plan.resolver == "uv":
        return "resolver: uv (dockerpypi downloads the files it chose, in parallel)"
    return f"resolver: pip download{f' ({note})' if note else ''}"


def _host_plan(resolver: str, root: Path, packages: tuple[str, ...], files: list[Path], *,
               indexes: tuple[MirrorURL, ...], tags: TargetTags, only_binary: bool | None,
               retries: int | None, timeout: float | None
               ) -> tuple[DownloadPlan | UvPlan, str | None]:
    """uv's plan or pip's, with the reason pip was taken when uv was the default."""
    from ..mirror.fill import plan_download
    from ..mirror.resolve import choose_resolver, plan_uv

    # pip's plan checks the request (and is cheap): the same refusals either way.
    pip_plan = plan_download(root, packages, files, indexes=indexes, tags=tags,
                             only_binary=only_binary, retries=retries, timeout=timeout)
    choice = choose_resolver(resolver, image=None, tags=tags)
    if choice.name == "pip":
        return pip_plan, choice.note
    from ..mirror.project import is_project, uv_request

    if any(is_project(package) for package in packages):
        packages, files = uv_request(packages, files)  # uv reads a project from its file
    from ..mirror.pinned import pinned_hashes

    return replace(plan_uv(root, packages, files, choice=choice, indexes=indexes, tags=tags,
                           only_binary=only_binary, mode=pip_plan.mode,
                           secrets=pip_plan.secrets, retries=retries, timeout=timeout),
                   pins=pinned_hashes(files)), None


def _lock_plan(locks: tuple[Path, ...], root: Path, *, packages: tuple[str, ...],
               files: list[Path], image: str | None, indexes: tuple[MirrorURL, ...],
               given_indexes: bool, tags: TargetTags, settings: Settings) -> LockPlan:
    """The plan of ``mirror add uv.lock`` (or pylock.toml): the lock's own files, nothing
    resolved."""
    from ..mirror.download import origin
    from ..mirror.fill import MODE_HOST, MODE_TARGET, secrets_of
    from ..mirror.targets import supported_tags
    from ..mirror.uvlock import plan_locks

    if packages or files or image is not None or given_indexes:
        raise UsageError("a lock file names every file to add and where it is",
                         fix="give it alone, without packages, -r, --image or --index-url")
    # The lock's URLs may be on a configured index that wants credentials.
    auth = tuple((origin(m.url), m.credentials) for m in indexes if m.credentials is not None)
    plan = plan_locks(root, locks, supported=supported_tags(tags) if tags.given else (),
                      mode=MODE_TARGET if tags.given else MODE_HOST, auth=auth,
                      secrets=secrets_of(indexes), timeout=settings.timeout.value,
                      retries=settings.retries.value)
    if settings.offline.value:
        # Offline: only the configured mirrors may be asked, whatever the lock names.
        allowed = {origin(m.url) for m in indexes}
        elsewhere = [index for index in plan.indexes if origin(index) not in allowed]
        if elsewhere:
            raise UsageError(f"offline, but the lock's files come from {', '.join(elsewhere)}, "
                             "which is no configured mirror",
                             fix="configure that index as a mirror (DOCKERPYPI_MIRRORS), or "
                                 "add the lock with --online")
    return plan


def _pdm_requirements(locks: tuple[Path, ...]) -> Path:
    """pdm.lock files as one hash-pinned requirements file, removed when the command ends."""
    import shutil
    import tempfile

    from ..mirror.pdmlock import write_requirements

    directory = Path(tempfile.mkdtemp(prefix="dockerpypi-pdm-"))
    click.get_current_context().call_on_close(lambda: shutil.rmtree(directory, True))
    return write_requirements(locks, directory)


def _pipfile_request(locks: tuple[Path, ...], indexes: tuple[MirrorURL, ...], *,
                     public: MirrorURL, given_indexes: bool, offline: bool, quiet: bool
                     ) -> tuple[list[Path], tuple[MirrorURL, ...]]:
    """Pipfile.lock files as hash-pinned requirements files (removed when the command
    ends), and the indexes to ask: the lock's own sources other than the public index
    come after the configured ones (not with --index-url or offline)."""
    import shutil
    import tempfile

    from ..mirror.pipfile import expanded, other_sources, read_pipfile_lock, write_requirements

    read = [read_pipfile_lock(path) for path in locks]
    for lock in read:
        if not lock.requirements:
            raise UsageError(f"{lock.path} locks no package from an index",
                             fix="lock the Pipfile (pipenv lock), or give packages instead")
        if not quiet:
            click.echo(f"{lock.path}: {len(lock.requirements)} packages, each at its locked "
                       "version, only files with the lock's sha256", err=True)
            if lock.left_out:
                click.echo(f"  left to the build (a path, a URL or a VCS): "
                           f"{', '.join(lock.left_out)}", err=True)
    if not given_indexes and not offline:
        for lock in read:
            for source in other_sources(lock.sources, public.url):
                url = expanded(source.url)
                if url is not None:
                    indexes = (*indexes, parse_mirror_url(
                        url, origin=f"{lock.path.name} source {source.name}"))
    directory = Path(tempfile.mkdtemp(prefix="dockerpypi-pipfile-"))
    click.get_current_context().call_on_close(lambda: shutil.rmtree(directory, True))
    return write_requirements(read, directory), tuple(dict.fromkeys(indexes))


def _poetry_requirements(locks: tuple[Path, ...]) -> tuple[Path, list[str]]:
    """poetry.lock files as one hash-pinned requirements file, removed when the command
    ends, and the packages they take from elsewhere than an index."""
    import shutil
    import tempfile

    from ..mirror.poetrylock import write_requirements

    directory = Path(tempfile.mkdtemp(prefix="dockerpypi-poetry-"))
    click.get_current_context().call_on_close(lambda: shutil.rmtree(directory, True))
    return write_requirements(locks, directory)


def _refuse_image_conflicts(image: str | None, labels: tuple[str, ...],
                            tag_options: dict[str, object]) -> None:
    if image is None:
        if labels:
            raise UsageError("--label labels the container of --image",
                             fix="give --image IMAGE, or drop --label")
        return
    given = [name for name, value in tag_options.items() if value]
    if given:
        raise UsageError("--image resolves for the image's own Python and platform",
                         fix=f"drop {', '.join(given)} (they are for downloading without --image)")


@click.command("add")
@click.argument("packages", nargs=-1)
@click.option("-r", "--requirement", "requirement_files", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Add what a requirements file names; repeat for more.")
@click.option("--python-version", metavar="X.Y", help="The image's Python version.")
@click.option("--platform", "platforms", multiple=True, metavar="TAG",
              help="The image's platform tag (manylinux_2_28_x86_64, ...); repeat for more, "
                   "and give each machine's tags for images of several platforms.")
@click.option("--implementation", metavar="IMPL", help="The image's Python implementation (cp).")
@click.option("--abi", "abis", multiple=True, metavar="TAG",
              help="The image's ABI tag (cp312, abi3, none); repeat for more.")
@click.option("--index-url", "index_urls", multiple=True, metavar="URL",
              help="Download only from these indexes (default: the configured http(s) "
                   "mirrors, then the public index unless offline).")
@click.option("--only-binary/--allow-sdist", default=None,
              help="Wheels only, or sdists too (default: wheels only with target tags).")
@click.option("--offline/--online", default=None,
              help="Offline: the configured mirrors only, never the public index.")
@click.option("--image", metavar="IMAGE",
              help="Resolve and download inside this image (docker run, host network): "
                   "exact for its Python, platform, environment markers and sdists.")
@click.option("--engine", metavar="auto|docker|podman|buildah",
              help="With --image: the CLI that runs it (podman for podman's and buildah's "
                   "images; default: the engine setting, auto).")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE",
              help="With --image: a label for the temporary container; repeat for more.")
@click.option("--resolver", type=click.Choice(["auto", "uv", "pip"]), default="auto",
              show_default=True,
              help="Who resolves: uv (dockerpypi then downloads in parallel) or pip download; "
                   "auto takes uv when it is installed and can target the tags, and pip "
                   "with --image.")
@mirror_dir_options
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@json_option
def add_command(packages: tuple[str, ...], requirement_files: tuple[Path, ...],
                python_version: str | None, platforms: tuple[str, ...],
                implementation: str | None, abis: tuple[str, ...], index_urls: tuple[str, ...],
                only_binary: bool | None, offline: bool | None, image: str | None,
                labels: tuple[str, ...], engine: str | None, resolver: str,
                mirror_dir: str | None,
                context_dir: Path | None, quiet: bool, as_json: bool) -> Output:
    """Download packages and their dependencies into the mirror, then index it.

    A uv.lock or pylock.toml (or a project directory holding one) adds
    exactly the files the lock lists, checked against its hashes: nothing is
    resolved again. A
    project directory beside its lock then also gets what uv needs to build
    the project, as below (the lock does not list that), unless uv syncs it
    as a virtual project (no [build-system], no tool.uv.package = true).

    uv resolves and dockerpypi downloads the files in parallel, checking their
    hashes, for this machine or for the target tags given (pip download does
    it when uv is missing or cannot target the tags, or with --resolver pip).
    With --image, the image's own pip does it (the mirror directory and
    requirements files are mounted into a temporary container).

    A project directory (with pyproject.toml or setup.py) brings what `pip
    install DIR` needs: its dependencies, its [build-system] requires and what
    its backend asks for to build a wheel (asked on a copy of the project).
    As for pip, an argument is a path when it holds a `/` or starts with `.`
    (./build, ../app, .), or when it is a directory holding pyproject.toml or
    setup.py; any other word is a package name, even where a directory of
    that name exists.
    A hash-pinned requirements file admits only the files whose hashes it lists;
    a Pipfile.lock (or a directory holding one) is read as one: every locked
    package at its version, only files whose sha256 the lock lists.
    A pdm.lock (or a directory holding one) is read as one: its locked
    versions, and only files whose hashes it lists; a directory also gets what
    PDM needs to build the project, as above, when PDM installs the project.
    A poetry.lock (or a directory holding one) likewise, every group; a
    directory also gets what `pip install DIR` builds the project with.

    \b
    dockerpypi mirror add .
    dockerpypi mirror add -r requirements.txt
    dockerpypi mirror add -r requirements.txt --image python:3.12-slim
    dockerpypi mirror add uv.lock
    dockerpypi mirror add pylock.toml
    dockerpypi mirror add pdm.lock
    dockerpypi mirror add Pipfile.lock
    dockerpypi mirror add poetry.lock
    dockerpypi mirror add numpy --python-version 3.12 --platform manylinux_2_28_x86_64 \\
        --implementation cp --abi cp312
    """
    from ..mirror.arguments import installable, names_path
    from ..mirror.fill import TargetTags, fill_mirror, remote_indexes
    from ..mirror.pdmlock import split_pdm_locks
    from ..mirror.pipfile import split_pipfile_locks
    from ..mirror.poetrylock import split_poetry_locks
    from ..mirror.uvlock import split_locks
    from ..process import signals_unwind

    _refuse_image_conflicts(image, labels, {
        "--python-version": python_version, "--platform": platforms,
        "--implementation": implementation, "--abi": abis})
    settings = mirror_settings(mirror_dir, context_dir, offline, engine)
    if index_urls:
        indexes = tuple(parse_mirror_url(url, origin="--index-url") for url in index_urls)
    else:
        public = settings.public_index.value if settings.uses_public_index else None
        indexes = remote_indexes(settings.mirrors.value, public)
    root = settings.mirror_dir.value
    files = [path.resolve() for path in requirement_files]
    tags = TargetTags(python_version, platforms, implementation, abis)
    plan: DownloadPlan | UvPlan | LockPlan
    more: list[DownloadPlan | UvPlan] = []  # a plan for each further machine
    note = None
    arguments = packages
    locks, packages = split_locks(arguments)
    pdm_locks, packages = split_pdm_locks(packages)
    pipfile_locks, packages = split_pipfile_locks(packages)
    if pipfile_locks:  # the locks as hash-pinned requirements: the pinned path below
        pinned, indexes = _pipfile_request(pipfile_locks, indexes,
                                           public=settings.public_index.value,
                                           given_indexes=bool(index_urls),
                                           offline=settings.offline.value,
                                           quiet=quiet or as_json)
        files += pinned
    poetry_locks, packages = split_poetry_locks(packages)
    projects: list[Project] = []
    if any(names_path(argument) for argument in arguments):
        from ..mirror.project import read_projects

        # Before any download: a bad one is refused. A project beside its uv.lock
        # gets the lock's files, then what uv needs to build it (the lock has not that).
        beside_locks = [a for a in arguments if a not in packages and installable(Path(a))]
        projects = read_projects(packages) if not locks else [
            p for p in read_projects(beside_locks) if p.uv_builds]
        if pdm_locks and not locks:  # the same for PDM, when it builds the project
            from ..mirror.pdmlock import builds_itself

            projects += [p for p in read_projects(beside_locks) if builds_itself(p.directory)]
        if poetry_locks and not locks:  # a Poetry project that installs itself
            from ..mirror.poetrylock import builds_root

            projects += [p for p in read_projects(beside_locks)
                         if p.directory / "poetry.lock" in poetry_locks and p.uv_builds
                         and builds_root(p.directory)]
    if pdm_locks:  # the locks as hash-pinned requirements: the pinned path below
        files.append(_pdm_requirements(pdm_locks))
    left_out: list[str] = []
    if poetry_locks:  # the same for Poetry
        written, left_out = _poetry_requirements(poetry_locks)
        files.append(written)
    if locks:
        plan = _lock_plan(locks, root, packages=packages, files=files, image=image,
                          indexes=indexes, given_indexes=bool(index_urls), tags=tags,
                          settings=settings)
    elif image is not None:
        if projects:
            raise UsageError("--image does not see project directories",
                             fix="drop --image and give the image's --python-version and "
                                 "--platform")
        from ..engines import image_cli, resolve_engine
        from ..mirror.image import plan_image_download, requirement_closure
        from ..mirror.resolve import choose_resolver

        choose_resolver(resolver, image=image, tags=tags)  # refuses --resolver uv
        plan = plan_image_download(
            root, packages, files, image=image, indexes=indexes, only_binary=only_binary,
            retries=settings.retries.value, timeout=settings.timeout.value,
            mounted_files=requirement_closure(files), labels=labels,
            docker=image_cli(resolve_engine(settings.container_engine.value)))
    else:
        from ..mirror.targets import by_machine

        # Several machines' platforms: one plan each, filled one after the other.
        plan, note = _host_plan(resolver, root, packages, files, indexes=indexes,
                                tags=by_machine(tags)[0], only_binary=only_binary,
                                retries=settings.retries.value, timeout=settings.timeout.value)
        more = [_host_plan(resolver, root, packages, files, indexes=indexes, tags=target,
                           only_binary=only_binary, retries=settings.retries.value,
                           timeout=settings.timeout.value)[0]
                for target in by_machine(tags)[1:]]
    quiet = quiet or as_json
    if not quiet:
        click.echo(f"downloading into {root} from {' '.join(plan.indexes)}", err=True)
        click.echo(_mode_line(plan, platforms, python_version), err=True)
        click.echo(_resolver_line(plan, note), err=True)
    display = progress_display(quiet)
    warnings = [MirrorWarning(f"{name} is not from an index: the build installs it from its "
                              "own source") for name in left_out]
    # SIGTERM unwinds as Ctrl-C does: temporary directories (the project copy
    # the backend is asked on) are removed and the children ended.
    with signals_unwind(), display or contextlib.nullcontext():
        def fill(plan: DownloadPlan | UvPlan | LockPlan) -> FillResult:
            return fill_mirror(plan, on_line=_on_line(plan, quiet, display), transfer=display,
                               on_indexed=None if display is None else display.indexed,
                               on_wait=None if quiet else waiting(root))

        result = fill(plan)
        for target in more:
            result = result.then(fill(target))
        if projects:  # what `pip install DIR` builds with, beside what it installs
            from ..mirror.project import fill_projects

            def fill_build(requirements: tuple[str, ...]) -> FillResult:
                return fill(_host_plan(resolver, root, requirements, [], indexes=indexes,
                                       tags=tags, only_binary=only_binary,
                                       retries=settings.retries.value,
                                       timeout=settings.timeout.value)[0])

            result = fill_projects(
                projects, result, fill_build, root,
                on_step=None if quiet else lambda text: click.echo(text, err=True),
                on_warning=lambda text: warnings.append(MirrorWarning(text)))
    if quiet and not as_json:
        return Output(warnings=tuple(warnings))
    added = f"added {len(result.added)} files" if result.added else "nothing new to add"
    return Output(text=lines([*(f"+ {name}" for name in result.added),
                              f"{added} in {result.seconds:.1f}s; "
                              f"{index_summary(result.index)}"]),
                  json=result.to_json(), warnings=tuple(warnings),
                  text_warnings=index_warnings(result.index))
