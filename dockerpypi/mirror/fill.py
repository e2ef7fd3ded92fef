"""Fill the mirror: packages and all their dependencies, then the index.

Two resolvers can do it. By default uv resolves (:mod:`.resolve`) and
dockerpypi downloads the files it chose, in parallel (:mod:`.download`).
The other is ``pip download``, built here: the host's pip does the resolving
and downloading (it knows every index protocol, credential form and platform
tag); dockerpypi builds its command line, isolates it from the machine's pip
configuration, and indexes what it saved. It is used when uv is missing or
cannot be told the target, and for :mod:`.image`, which runs the same
``pip download`` inside the image itself. With target tags (``--platform``
and friends) either picks wheels for the image instead of for this machine,
which pip allows only for wheels.

Imported where they are used: uv's modules (:mod:`.resolve`,
:mod:`.download`) by the uv path, :mod:`.causes` by a failure.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..engines import missing_fix
from ..errors import UsageError, UserMessageError
from ..process import output_lines, scrub
from ..settings.urls import MirrorURL
from .index import DEFAULT_LOCK_TIMEOUT, IndexResult, is_index_file, update_index
from .targets import TargetTags as TargetTags  # re-exported: the tags are part of a plan

if TYPE_CHECKING:
    from .download import Transfer
    from .picks import Pick
    from .resolve import UvPlan
    from .uvlock import LockPlan

MODE_HOST = "host"
MODE_TARGET = "target tags"
MODE_IMAGE = "image"  # shown as "image NAME"
_PYTHON_VERSION = re.compile(r"[0-9]+(\.[0-9]+){0,2}")
_ERROR = "ERROR:"  # how pip starts the lines of its error report


@dataclass(frozen=True)
class DownloadPlan:
    """A ready ``pip download``: ``argv`` never holds a credential, ``env`` may."""

    mirror_dir: Path
    argv: tuple[str, ...]
    env: Mapping[str, str]
    mode: str
    indexes: tuple[str, ...]  # credentials redacted, for display
    secrets: tuple[str, ...]  # scrubbed from pip's output, should it ever echo them
    image: str | None = None  # pip runs inside this image (``docker run``)
    resolver: str = "pip"
    sources: tuple[MirrorURL, ...] = ()  # the indexes, asked why when pip found nothing
    runner: str = "docker"  # with an image: the CLI that runs it (docker or podman)

    @property
    def shown(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class FillResult:
    mode: str
    resolver: str  # "pip" or "uv"
    indexes: tuple[str, ...]
    command: str
    added: tuple[str, ...]
    index: IndexResult
    seconds: float

    def then(self, other: FillResult) -> FillResult:
        """This fill and ``other``, one after the other into the same mirror."""
        return FillResult(self.mode, self.resolver,
                          tuple(dict.fromkeys(self.indexes + other.indexes)),
                          f"{self.command}; {other.command}",
                          tuple(sorted({*self.added, *other.added})), other.index,
                          self.seconds + other.seconds)

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "resolver": self.resolver,
            "indexes": list(self.indexes),
            "command": self.command,
            "added": list(self.added),
            "index": self.index.to_json(),
            "seconds": round(self.seconds, 3),
        }


def remote_indexes(mirrors: Iterable[MirrorURL], public: MirrorURL | None) -> tuple[MirrorURL, ...]:
    """The configured indexes pip can reach from this machine.

    file:// mirrors are paths inside the build (the local mirror itself, at
    the mount point), so they are left out; ``public`` is None when offline.
    """
    found = [m for m in mirrors if not m.is_local]
    if public is not None:
        found.append(public)
    return tuple(dict.fromkeys(found))  # the same URL twice would only slow pip down


def pip_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the machine's pip settings (PIP_* and config files)."""
    env = {key: value for key, value in environ.items() if not key.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
    return env


def secrets_of(indexes: Iterable[MirrorURL]) -> tuple[str, ...]:
    found: list[str] = []
    for mirror in indexes:
        credentials = mirror.credentials
        if credentials is None:
            continue
        # A token may be the user name alone; a plain user name is no secret.
        raw = credentials.password if credentials.password is not None else credentials.username
        if raw:
            found += [raw, quote(raw, safe="")]
    return tuple(dict.fromkeys(found))


def check_request(packages: Sequence[str], requirement_files: Sequence[object], *,
                  indexes: Sequence[MirrorURL], tags: TargetTags,
                  only_binary: bool | None) -> None:
    """Refuse, with a UsageError, a download pip could not do."""
    if not packages and not requirement_files:
        raise UsageError("nothing to add: name packages (dockerpypi mirror add requests) "
                         "or give -r requirements.txt")
    if not indexes:
        raise UsageError("no index to download from: give --index-url URL, configure an "
                         "http(s) mirror (DOCKERPYPI_MIRRORS), or drop --offline")
    if tags.given and only_binary is False:
        raise UsageError("pip downloads for target tags (--platform, --python-version, "
                         "--implementation, --abi) only as wheels: drop --allow-sdist")
    if tags.python_version and not _PYTHON_VERSION.fullmatch(tags.python_version):
        raise UsageError(f"--python-version {tags.python_version!r} is not a version: "
                         "write it as 3.12")


def pip_download_args(dest: str, packages: Sequence[str], requirement_files: Sequence[str], *,
                      indexes: Sequence[MirrorURL], tags: TargetTags,
                      only_binary: bool | None, retries: int | None,
                      timeout: float | None) -> tuple[list[str], dict[str, str]]:
    """pip's words from ``download`` on, and the variables that carry credentials.

    Paths are given as pip will see them (``dest`` and ``requirement_files``
    may be paths inside a container). With credentials, every index goes in
    the variables, never in the words.
    """
    args = ["download", "--dest", dest,
            "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    if only_binary or (only_binary is None and tags.given):
        args.append("--only-binary=:all:")
    args += tags.args()
    if retries is not None:
        args += ["--retries", str(retries)]
    if timeout is not None:
        args += ["--timeout", f"{timeout:g}"]
    for host in dict.fromkeys(m.hostname for m in indexes if m.is_plain_http and m.hostname):
        args += ["--trusted-host", host]  # pip refuses plain http otherwise
    variables: dict[str, str] = {}
    if any(m.credentials is not None for m in indexes):
        # In argv a password is readable by every local user (ps, /proc/*/cmdline);
        # a process's environment only by its owner. pip reads both the same way.
        variables["PIP_INDEX_URL"] = indexes[0].with_credentials()
        if len(indexes) > 1:
            variables["PIP_EXTRA_INDEX_URL"] = " ".join(m.with_credentials()
                                                        for m in indexes[1:])
    else:
        args += ["--index-url", indexes[0].url]
        for mirror in indexes[1:]:
            args += ["--extra-index-url", mirror.url]
    for path in requirement_files:
        args += ["--requirement", path]
    args += packages
    return args, variables


def plan_download(
    mirror_dir: Path,
    packages: Sequence[str],
    requirement_files: Sequence[Path],
    *,
    indexes: Sequence[MirrorURL],
    tags: TargetTags | None = None,
    only_binary: bool | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    python: str = sys.executable,
    environ: Mapping[str, str] | None = None,
) -> DownloadPlan:
    """The ``pip download`` that fetches ``packages`` and ``requirement_files`` with deps.

    ``only_binary`` None means: wheels only with target tags, sdists allowed on
    the host (pip can build those here, not for another platform).
    """
    tags = tags or TargetTags()
    check_request(packages, requirement_files, indexes=indexes, tags=tags,
                  only_binary=only_binary)
    args, credentials = pip_download_args(
        str(mirror_dir), packages, [str(path) for path in requirement_files], indexes=indexes,
        tags=tags, only_binary=only_binary, retries=retries, timeout=timeout)
    env = pip_environment(os.environ if environ is None else environ)
    env.update(credentials)
    return DownloadPlan(mirror_dir, (python, "-m", "pip", *args), env,
                        MODE_TARGET if tags.given else MODE_HOST,
                        tuple(str(m) for m in indexes), secrets_of(indexes),
                        sources=tuple(indexes))


def _last_reason(lines: Sequence[str]) -> str:
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith(_ERROR)]
    # "Could not find a version that satisfies the requirement six>2 (from versions:
    # 1.0, 2.0)" says more than the "No matching distribution found" after it.
    versions = [line for line in errors if line.startswith("Could not find a version")]
    return (versions or errors or list(lines) or ["no output"])[-1]


def _image_failure(image: str, code: int, lines: Sequence[str],
                   cli: str = "docker") -> UserMessageError | None:
    """docker's (or podman's) own failures (125-127), told apart from pip's."""
    if code == 125:  # docker run itself failed: no engine, no such image, bad option
        engine = "the Docker engine runs" if cli == "docker" else f"`{cli} info` works"
        return UserMessageError(f"{cli} could not run {image} (exit 125): "
                                f"{_last_reason(lines)}; check the image name and that "
                                f"{engine}")
    if code in (126, 127) or any("executable file not found" in line for line in lines):
        return UserMessageError(f"{image} has no python3 on its PATH, which `mirror add "
                                "--image` runs: choose an image with Python, or drop --image")
    if any(line.endswith("No module named pip") for line in lines):
        return UserMessageError(f"{image} has no pip, which `mirror add --image` runs: "
                                "choose an image with pip, or drop --image")
    return None


def _failure(plan: DownloadPlan, code: int, tail: Iterable[str]) -> UserMessageError:
    lines = [line.strip() for line in tail if line.strip()]
    if plan.image is not None:
        found = _image_failure(plan.image, code, lines, plan.runner)
        if found is not None:
            return found
    python = plan.argv[0]
    if any(line.endswith("No module named pip") for line in lines):
        return UserMessageError(f"{python} has no pip, which `mirror add` runs: install it "
                                f"with `{python} -m ensurepip`")
    from .causes import explain, probe, project_nothing_was_found_for

    project = project_nothing_was_found_for("\n".join(lines))
    causes = [] if project is None else probe(project, plan.sources)
    return UserMessageError(explain(f"pip download failed (exit {code}): {_last_reason(lines)}",
                                    causes, "fix the requirement or the index and run again"))


def run_download(plan: DownloadPlan, on_line: Callable[[str], None] | None = None) -> None:
    """Run pip, handing each output line (credentials scrubbed) to ``on_line``.

    pip's ERROR lines are kept back: the error raised says them, once.
    """
    tail: deque[str] = deque(maxlen=40)

    def take(raw: str) -> None:
        line = scrub(raw.rstrip(), plan.secrets)
        tail.append(line)
        if on_line is not None and not line.startswith(_ERROR):
            on_line(line)

    hint = ("check the Python that runs dockerpypi" if plan.image is None
            else "install Docker, or put docker on PATH" if plan.runner == "docker"
            else missing_fix(plan.runner))
    # Ctrl-C, or an error of on_line, ends pip too: it must not go on writing
    # into the mirror.
    code = output_lines(plan.argv, take, environ=plan.env, secrets=plan.secrets, missing=hint)
    if code != 0:
        raise _failure(plan, code, tail)


def _snapshot(mirror_dir: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for path in mirror_dir.iterdir():
        if not is_index_file(path.name) and path.is_file():
            stat = path.stat()
            found[path.name] = (stat.st_size, stat.st_mtime_ns)
    return found


class _SavedLines:
    """A :class:`.download.Transfer` that says "Saved NAME" as pip does, and no more."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self.on_line = on_line

    def begin(self, files: int, size: int) -> None:
        pass

    def add_total(self, size: int) -> None:
        pass

    def advance(self, size: int) -> None:
        pass

    def saved(self, name: str) -> None:
        self.on_line(f"Saved {name}")


def _fetch_with_uv(plan: UvPlan, on_line: Callable[[str], None] | None,
                   transfer: Transfer | None) -> tuple[str, ...]:
    from .resolve import choose_files, run_uv

    lock = run_uv(plan, on_line)
    if plan.pins:
        from .pinned import keep_pinned

        lock = keep_pinned(lock, plan.pins)
    picks = choose_files(lock, plan.supported, allow_sdist=plan.allow_sdist)
    return _fetch(plan, picks, on_line, transfer)


def _fetch(plan: UvPlan | LockPlan, picks: Iterable[Pick], on_line: Callable[[str], None] | None,
           transfer: Transfer | None) -> tuple[str, ...]:
    from .download import Downloader

    downloader = Downloader(plan.mirror_dir, auth=dict(plan.auth), timeout=plan.timeout,
                            retries=plan.retries, secrets=plan.secrets)
    if transfer is None and on_line is not None:
        transfer = _SavedLines(on_line)
    return tuple(sorted(downloader.fetch_all(picks, transfer)))


def fill_mirror(plan: DownloadPlan | UvPlan | LockPlan, *,
                on_line: Callable[[str], None] | None = None,
                transfer: Transfer | None = None,
                on_indexed: Callable[[int, int], None] | None = None,
                lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                on_wait: Callable[[], None] | None = None) -> FillResult:
    """Download what ``plan`` names into the mirror, then update the index.

    ``plan`` is pip's (:func:`plan_download`, :func:`.image.plan_image_download`),
    which downloads itself, uv's (:func:`.resolve.plan_uv`), whose files
    dockerpypi downloads, or the files of lock files (:func:`.uvlock.plan_locks`).
    ``on_line`` gets what the resolver prints; ``transfer`` how dockerpypi's
    downloads go (else ``on_line`` gets a line per file saved);
    ``on_indexed`` how many files of how many the index has gone through.
    """
    from .uvlock import LockPlan  # with the downloader, which pip's plans do not need

    started = time.monotonic()
    plan.mirror_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(plan, DownloadPlan):
        before = _snapshot(plan.mirror_dir)
        run_download(plan, on_line)
        after = _snapshot(plan.mirror_dir)
        added = tuple(sorted(name for name, seen in after.items() if before.get(name) != seen))
    elif isinstance(plan, LockPlan):
        added = _fetch(plan, plan.picks, on_line, transfer)
    else:
        added = _fetch_with_uv(plan, on_line, transfer)
    index = update_index(plan.mirror_dir, lock_timeout=lock_timeout, on_wait=on_wait,
                         on_progress=on_indexed)
    return FillResult(plan.mode, plan.resolver, plan.indexes, scrub(plan.shown, plan.secrets),
                      added, index, time.monotonic() - started)
