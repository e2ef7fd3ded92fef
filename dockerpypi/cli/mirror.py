"""``dockerpypi mirror``: fill, index, check, list and serve the local mirror directory.

What every mirror command needs (click, the settings) is imported at the
top; what one command needs is imported in that command when it runs, so the
others do not pay for packaging, filelock or rich.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import MirrorWarning, UsageError, UserMessageError
from ..settings.model import Settings
from ..settings.resolve import resolve_settings
from ..settings.urls import MirrorURL, parse_mirror_url
from .options import context_option
from .output import Output, json_option, lines, warn
from .progress import progress_display

if TYPE_CHECKING:
    from ..mirror.fill import DownloadPlan, FillResult, TargetTags
    from ..mirror.index import IndexResult
    from ..mirror.project import Project
    from ..mirror.resolve import UvPlan
    from ..mirror.uvlock import LockPlan
    from .progress import Display

F = TypeVar("F", bound=Callable[..., Any])


def _mirror_dir_options(func: F) -> F:
    func = context_option(func)
    return click.option("--mirror-dir", metavar="DIR",
                        help="The local mirror directory (default: the configured one).")(func)


def _settings(mirror_dir: str | None, context_dir: Path | None,
              offline: bool | None = None) -> Settings:
    # Settings warnings (such as "no mirror configured") are about builds, not
    # about this directory, so the mirror commands do not repeat them.
    return resolve_settings({"mirror_dir": mirror_dir, "offline": offline},
                            context_dir=context_dir)


def _waiting(root: Path) -> Callable[[], None]:
    return lambda: warn(MirrorWarning(f"another dockerpypi is using {root}; waiting for it "
                                      "to finish"))


def _index_summary(result: IndexResult) -> str:
    return (f"indexed {result.projects} projects, {result.files} files in {result.mirror_dir} "
            f"({result.files_read} read, {result.files_reused} unchanged; "
            f"{result.pages_written} pages written, {result.pages_removed} removed) "
            f"in {result.seconds:.2f}s")


@click.group()
def mirror() -> None:
    """Fill, index and check the local mirror directory builds install from."""


@mirror.command("path")
@_mirror_dir_options
def path_command(mirror_dir: str | None, context_dir: Path | None) -> Output:
    """Print the local mirror directory."""
    return Output(text=lines([str(_settings(mirror_dir, context_dir).mirror_dir.value)]))


@mirror.command("index")
@_mirror_dir_options
@click.option("--full", is_flag=True, help="Read every file again, not only new or changed ones.")
@json_option
def index_command(mirror_dir: str | None, context_dir: Path | None, full: bool,
                  as_json: bool) -> Output:
    """Write the PEP 503 index pages for the files in the mirror."""
    from ..mirror.index import update_index

    root = _settings(mirror_dir, context_dir).mirror_dir.value
    display = progress_display(as_json)
    with display or contextlib.nullcontext():
        result = update_index(root, full=full, on_wait=_waiting(root),
                              on_progress=None if display is None else display.indexed)
    return Output(text=lines([_index_summary(result)]), json=result.to_json(),
                  text_warnings=_index_warnings(result))


def _index_warnings(result: IndexResult) -> tuple[MirrorWarning, ...]:
    return tuple(MirrorWarning(text) for text in result.warnings)


@mirror.command("list")
@_mirror_dir_options
@json_option
def list_command(mirror_dir: str | None, context_dir: Path | None, as_json: bool) -> Output:
    """List the projects in the mirror directory, with their versions."""
    from ..mirror.index import list_projects

    root = _settings(mirror_dir, context_dir).mirror_dir.value
    projects = list_projects(root)
    data = {"mirror_dir": str(root), "projects": [
        {"name": p.name, "versions": list(p.versions), "files": list(p.files)}
        for p in projects]}
    if not projects:
        return Output(json=data, text_warnings=(MirrorWarning(
            f"{root} holds no distributions: add some with `dockerpypi mirror add PACKAGE`"),))
    width = max(len(p.name) for p in projects)
    rows = []
    for project in projects:
        count = len(project.files)
        rows.append(f"{project.name.ljust(width)}  {', '.join(project.versions)}  "
                    f"({count} file{'s' if count != 1 else ''})")
    return Output(text=lines(rows), json=data)


@mirror.command("check")
@_mirror_dir_options
@json_option
def check_command(mirror_dir: str | None, context_dir: Path | None, as_json: bool) -> Output:
    """Verify the index against the files; exit 1 on any problem."""
    from ..mirror.check import check_mirror

    root = _settings(mirror_dir, context_dir).mirror_dir.value
    result = check_mirror(root, on_wait=_waiting(root))
    if not result.ok:
        count = len(result.problems)
        return Output(
            text=lines(f"{problem.kind:8}  {problem}" for problem in result.problems),
            json=result.to_json(),
            error=UserMessageError(f"{count} problem{'s' if count != 1 else ''} in {root} "
                                   "(listed above)",
                                   fix="fix each as it says, then run `dockerpypi mirror check`"))
    return Output(text=lines([f"ok: {result.projects} projects, {result.files} files in {root} "
                              f"checked in {result.seconds:.2f}s"]), json=result.to_json())


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
    if plan.resolver == "uv.lock" and plan.mode == MODE_HOST:
        return "mode: every file the lock lists (give --platform and --python-version for fewer)"
    if plan.mode == MODE_HOST:
        # The files fit this machine; an image on another Python or libc needs the tags.
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        return (f"mode: host (wheels for this machine's Python {here} and platform; give "
                "--image, or --python-version and --platform, to fetch for another image)")
    return (f"mode: target tags (Python {python_version or 'of this machine'}, platforms "
            f"{', '.join(platforms) or 'of this machine'}; wheels only)")


def _resolver_line(plan: DownloadPlan | UvPlan | LockPlan, note: str | None) -> str:
    if plan.resolver == "uv.lock":
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
    if any(Path(package).is_dir() for package in packages):
        from ..mirror.project import uv_request

        packages, files = uv_request(packages, files)  # uv reads a project from its file
    from ..mirror.pinned import pinned_hashes

    return replace(plan_uv(root, packages, files, choice=choice, indexes=indexes, tags=tags,
                           only_binary=only_binary, mode=pip_plan.mode,
                           secrets=pip_plan.secrets, retries=retries, timeout=timeout),
                   pins=pinned_hashes(files)), None


def _lock_plan(locks: tuple[Path, ...], root: Path, *, packages: tuple[str, ...],
               files: list[Path], image: str | None, indexes: tuple[MirrorURL, ...],
               given_indexes: bool, tags: TargetTags, settings: Settings) -> LockPlan:
    """The plan of ``mirror add uv.lock``: the lock's own files, nothing resolved."""
    from ..mirror.download import origin
    from ..mirror.fill import MODE_HOST, MODE_TARGET, secrets_of
    from ..mirror.targets import supported_tags
    from ..mirror.uvlock import plan_locks

    if packages or files or image is not None or given_indexes:
        raise UsageError("a uv.lock names every file to add and where it is: give it alone, "
                         "without packages, -r, --image or --index-url")
    # The lock's URLs may be on a configured index that wants credentials.
    auth = tuple((origin(m.url), m.credentials) for m in indexes if m.credentials is not None)
    return plan_locks(root, locks, supported=supported_tags(tags) if tags.given else (),
                      mode=MODE_TARGET if tags.given else MODE_HOST, auth=auth,
                      secrets=secrets_of(indexes), timeout=settings.timeout.value,
                      retries=settings.retries.value)


def _refuse_image_conflicts(image: str | None, labels: tuple[str, ...],
                            tag_options: dict[str, object]) -> None:
    if image is None:
        if labels:
            raise UsageError("--label labels the container of --image: give --image IMAGE, "
                             "or drop --label")
        return
    given = [name for name, value in tag_options.items() if value]
    if given:
        raise UsageError(f"--image resolves for the image's own Python and platform: drop "
                         f"{', '.join(given)} (they are for downloading without --image)")


@mirror.command("add")
@click.argument("packages", nargs=-1)
@click.option("-r", "--requirement", "requirement_files", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Add what a requirements file names; repeat for more.")
@click.option("--python-version", metavar="X.Y", help="The image's Python version.")
@click.option("--platform", "platforms", multiple=True, metavar="TAG",
              help="The image's platform tag (manylinux_2_28_x86_64, ...); repeat for more.")
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
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE",
              help="With --image: a label for the temporary container; repeat for more.")
@click.option("--resolver", type=click.Choice(["auto", "uv", "pip"]), default="auto",
              show_default=True,
              help="Who resolves: uv (dockerpypi then downloads in parallel) or pip download; "
                   "auto takes uv when it is installed and can target the tags, and pip "
                   "with --image.")
@_mirror_dir_options
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@json_option
def add_command(packages: tuple[str, ...], requirement_files: tuple[Path, ...],
                python_version: str | None, platforms: tuple[str, ...],
                implementation: str | None, abis: tuple[str, ...], index_urls: tuple[str, ...],
                only_binary: bool | None, offline: bool | None, image: str | None,
                labels: tuple[str, ...], resolver: str, mirror_dir: str | None,
                context_dir: Path | None, quiet: bool, as_json: bool) -> Output:
    """Download packages and their dependencies into the mirror, then index it.

    A uv.lock (or a project directory holding one) adds exactly the files the
    lock lists, checked against its hashes: nothing is resolved again.

    uv resolves and dockerpypi downloads the files in parallel, checking their
    hashes, for this machine or for the target tags given (pip download does
    it when uv is missing or cannot target the tags, or with --resolver pip).
    With --image, the image's own pip does it (the mirror directory and
    requirements files are mounted into a temporary container).

    A project directory (with pyproject.toml or setup.py) brings what `pip
    install DIR` needs: its dependencies, its [build-system] requires and what
    its backend asks for to build a wheel (asked on a copy of the project).
    A hash-pinned requirements file admits only the files whose hashes it lists.

    \b
    dockerpypi mirror add .
    dockerpypi mirror add -r requirements.txt
    dockerpypi mirror add -r requirements.txt --image python:3.12-slim
    dockerpypi mirror add uv.lock
    dockerpypi mirror add numpy --python-version 3.12 --platform manylinux_2_28_x86_64 \\
        --implementation cp --abi cp312
    """
    from ..mirror.fill import TargetTags, fill_mirror, remote_indexes
    from ..mirror.uvlock import split_locks

    _refuse_image_conflicts(image, labels, {
        "--python-version": python_version, "--platform": platforms,
        "--implementation": implementation, "--abi": abis})
    settings = _settings(mirror_dir, context_dir, offline)
    if index_urls:
        indexes = tuple(parse_mirror_url(url, origin="--index-url") for url in index_urls)
    else:
        public = settings.public_index.value if settings.uses_public_index else None
        indexes = remote_indexes(settings.mirrors.value, public)
    root = settings.mirror_dir.value
    files = [path.resolve() for path in requirement_files]
    tags = TargetTags(python_version, platforms, implementation, abis)
    plan: DownloadPlan | UvPlan | LockPlan
    note = None
    locks, packages = split_locks(packages)
    projects: list[Project] = []
    if not locks and any(Path(package).is_dir() for package in packages):
        from ..mirror.project import read_projects

        projects = read_projects(packages)  # before any download: a bad one is refused
    if locks:
        plan = _lock_plan(locks, root, packages=packages, files=files, image=image,
                          indexes=indexes, given_indexes=bool(index_urls), tags=tags,
                          settings=settings)
    elif image is not None:
        if projects:
            raise UsageError("--image does not see project directories: drop --image and "
                             "give the image's --python-version and --platform")
        from ..mirror.image import plan_image_download, requirement_closure
        from ..mirror.resolve import choose_resolver

        choose_resolver(resolver, image=image, tags=tags)  # refuses --resolver uv
        plan = plan_image_download(
            root, packages, files, image=image, indexes=indexes, only_binary=only_binary,
            retries=settings.retries.value, timeout=settings.timeout.value,
            mounted_files=requirement_closure(files), labels=labels)
    else:
        plan, note = _host_plan(resolver, root, packages, files, indexes=indexes, tags=tags,
                                only_binary=only_binary, retries=settings.retries.value,
                                timeout=settings.timeout.value)
    quiet = quiet or as_json
    if not quiet:
        click.echo(f"downloading into {root} from {' '.join(plan.indexes)}", err=True)
        click.echo(_mode_line(plan, platforms, python_version), err=True)
        click.echo(_resolver_line(plan, note), err=True)
    display = progress_display(quiet)
    warnings: list[MirrorWarning] = []
    with display or contextlib.nullcontext():
        def fill(plan: DownloadPlan | UvPlan | LockPlan) -> FillResult:
            return fill_mirror(plan, on_line=_on_line(plan, quiet, display), transfer=display,
                               on_indexed=None if display is None else display.indexed,
                               on_wait=None if quiet else _waiting(root))

        result = fill(plan)
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
                              f"{_index_summary(result.index)}"]),
                  json=result.to_json(), warnings=tuple(warnings),
                  text_warnings=_index_warnings(result.index))


def _serving_url(url: str, host: str) -> str:
    """The URL to give installers: a wildcard address is reached on loopback here."""
    if host in ("", "0.0.0.0", "::"):
        port = url.rstrip("/").rpartition(":")[2]
        return f"http://127.0.0.1:{port}/"
    return url


@mirror.command("serve")
@_mirror_dir_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (0.0.0.0: every address of this machine).")
@click.option("--port", type=click.IntRange(0, 65535), default=3141, show_default=True,
              help="The port to listen on (0: any free port).")
@click.option("--verbose", is_flag=True, help="Log every request on standard error.")
def serve_command(mirror_dir: str | None, context_dir: Path | None, host: str, port: int,
                  verbose: bool) -> None:
    """Serve the mirror directory read-only over HTTP until Ctrl-C.

    Prints the index URL on standard output. Builds use it as any HTTP mirror:

    \b
    dockerpypi mirror serve --port 3141 &
    dockerpypi build --offline --index-url http://127.0.0.1:3141/ -t app .
    """
    from ..mirror.index import PAGE
    from ..mirror.serve import MirrorServer
    from ..process import signals_recorded

    root = _settings(mirror_dir, context_dir).mirror_dir.value
    if not root.is_dir():
        raise UserMessageError(f"mirror directory {root} does not exist: fill it with "
                               "`dockerpypi mirror add PACKAGE` first")
    if not (root / PAGE).is_file():
        raise UserMessageError(f"{root} has no {PAGE}, so it is no index yet: run "
                               "`dockerpypi mirror index` (or `dockerpypi mirror add PACKAGE`)")
    try:
        server = MirrorServer(root, host, port, quiet=not verbose)
    except OSError as exc:
        raise UserMessageError(f"cannot listen on {host} port {port} ({exc.strerror or exc}): "
                               "choose another --port or --host") from None
    url = _serving_url(server.url, host)
    listening = f" (listening on {server.url})" if url != server.url else ""
    thread = threading.Thread(target=server.serve_forever, name="dockerpypi-mirror-serve",
                              daemon=True)
    # The handlers go in before the URL is printed: whoever reads the URL may
    # stop the server at once, and that is a clean stop (exit 0).
    with signals_recorded() as stopped:
        thread.start()
        try:
            click.echo(url)
            click.echo(f"dockerpypi: serving {root} read-only at {url}{listening}; "
                       "Ctrl-C stops", err=True)
            while not stopped and thread.is_alive():
                time.sleep(0.1)
        finally:
            server.close()
            thread.join(timeout=5)
    if not stopped:
        raise UserMessageError(f"the server at {url} stopped unexpectedly: run "
                               "`dockerpypi mirror serve` again")
    click.echo("dockerpypi: stopped serving", err=True)
