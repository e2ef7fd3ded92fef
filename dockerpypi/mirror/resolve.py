"""Resolve with uv: ``uv pip compile --format pylock.toml``, then pick one file per package.

uv resolves in a fraction of pip's time and writes a PEP 751 lock file that
lists, for each package, the files that fit the target with their URLs and
sha256 hashes. dockerpypi then picks the file pip would have picked (the
wheel whose tag comes first in pip's order; an sdist when allowed and no
wheel fits) and :mod:`.download` fetches them all at once.

uv runs isolated like pip does: ``--no-config``, none of the machine's UV_*
settings that would point it elsewhere, and credentials only in its
environment (``UV_INDEX``/``UV_DEFAULT_INDEX``), never in its argv.

Imported where they are used: the ``uv`` package (optional) when looking for
uv, tomllib when a lock file is read, :mod:`.causes` when uv fails.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from packaging.tags import Tag

from ..errors import UsageError, UserMessageError
from ..process import output_lines, scrub
from ..settings.urls import Credentials, MirrorURL
from .download import origin
from .picks import Pick
from .targets import TargetTags, UnmappableTarget, best_wheel, supported_tags, uv_target

RESOLVERS = ("auto", "uv", "pip")
# UV_* variables kept from the caller's environment: where uv keeps its cache
# and which certificates it trusts change no answer, only how it gets one.
_KEPT_UV = frozenset({"UV_CACHE_DIR", "UV_NATIVE_TLS", "UV_SYSTEM_CERTS"})
_LOCK_NAME = "pylock.toml"  # uv insists on this name (or pylock.NAME.toml)
_CROSS = "\u00d7"  # the multiplication sign uv starts an error report with
_BOX = _CROSS + "\u2570\u2500\u25b6\u2502 "  # and the box drawing around its causes


@dataclass(frozen=True)
class ResolverChoice:
    """Who resolves: "uv" (with its binary and target words) or "pip", and why."""

    name: str
    uv: str | None = None
    target: tuple[str, ...] = ()
    note: str | None = None  # why pip, when uv was asked for by default and not taken


@dataclass(frozen=True)
class UvPlan:
    """A ready ``uv pip compile``: ``argv`` never holds a credential, ``env`` may."""

    mirror_dir: Path
    argv: tuple[str, ...]  # without --output-file, which is a temporary path
    env: Mapping[str, str]
    requirements: str  # the packages named on the command line, fed on stdin
    mode: str
    indexes: tuple[str, ...]  # credentials redacted, for display
    secrets: tuple[str, ...]
    supported: tuple[Tag, ...]  # the target's tags, best first
    allow_sdist: bool
    auth: tuple[tuple[tuple[str, str, int | None], Credentials], ...]
    timeout: float | None = None
    retries: int | None = None
    resolver: str = "uv"
    image: None = None
    sources: tuple[MirrorURL, ...] = ()  # the indexes, asked why when uv found nothing
    # Hash-pinned requirements: {project: sha256 values} its files must have (:mod:`.pinned`).
    pins: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        return shlex.join(self.argv)


def find_uv(environ: Mapping[str, str] | None = None) -> str | None:
    """uv's binary: the one the ``uv`` package ships, else the first on PATH."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    environ = os.environ if environ is None else environ
    return shutil.which("uv", path=environ.get("PATH"))


def choose_resolver(asked: str, *, image: str | None, tags: TargetTags,
                    uv: Callable[[], str | None] | None = None) -> ResolverChoice:
    """uv when it can do the job (``asked`` "auto" or "uv"), pip otherwise.

    Asked for uv by name and unable to use it is an error; by default it is a
    note saying why pip runs instead.
    """
    if asked not in RESOLVERS:
        raise UsageError(f"--resolver {asked!r}: choose one of {', '.join(RESOLVERS)}")
    if asked == "pip":
        return ResolverChoice("pip")
    if image is not None:
        if asked == "uv":
            raise UsageError("--image runs pip inside the image: drop --resolver uv")
        return ResolverChoice("pip")
    try:
        target = uv_target(tags)
    except UnmappableTarget as exc:
        if asked == "uv":
            raise UsageError(f"--resolver uv: {exc}; use --resolver pip") from None
        return ResolverChoice("pip", note=f"{exc}: pip resolves instead")
    binary = (uv or find_uv)()
    if binary is None:
        if asked == "uv":
            raise UserMessageError("--resolver uv: uv was not found (neither the uv package "
                                   "nor uv on PATH): pip install uv, or use --resolver pip")
        return ResolverChoice("pip", note="uv was not found (pip install uv for a faster "
                                          "fill): pip resolves instead")
    return ResolverChoice("uv", uv=binary, target=target)


def uv_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the machine's uv settings, and without fetching Pythons."""
    env = {key: value for key, value in environ.items()
           if not key.startswith("UV_") or key in _KEPT_UV}
    env["UV_PYTHON_DOWNLOADS"] = "never"  # a target version is a marker, not an interpreter
    return env


def uv_compile_args(choice: ResolverChoice, packages: Sequence[str],
                    requirement_files: Sequence[Path], *, indexes: Sequence[MirrorURL],
                    wheels_only: bool, python: str, retries: int | None,
                    timeout: float | None) -> tuple[list[str], dict[str, str]]:
    """uv's argv (without the output file) and the variables that carry credentials."""
    assert choice.uv is not None
    args = [choice.uv, "pip", "compile", "--no-config", "--format", _LOCK_NAME, "--no-header",
            "--no-progress", "--python", python, *choice.target,
            # pip takes the best version from every index; uv by default stops
            # at the first index that has the project.
            "--index-strategy", "unsafe-best-match"]
    if wheels_only:
        args += ["--only-binary", ":all:"]
    variables: dict[str, str] = {}
    if retries is not None:
        variables["UV_HTTP_RETRIES"] = str(retries)
    if timeout is not None:
        variables["UV_HTTP_TIMEOUT"] = f"{max(1, round(timeout))}"
    # uv asks --index entries first, in order, then the default index: pip's
    # order is kept with the last index as the default.
    *first, last = indexes
    if any(m.credentials is not None for m in indexes):
        # In argv a password is readable by every local user; in the environment
        # only by its owner.
        variables["UV_DEFAULT_INDEX"] = last.with_credentials()
        if first:
            variables["UV_INDEX"] = " ".join(m.with_credentials() for m in first)
    else:
        for mirror in first:
            args += ["--index", mirror.url]
        args += ["--default-index", last.url]
    args += [str(path) for path in requirement_files]  # uv takes them as arguments, not -r
    if packages:
        args.append("-")  # the packages arrive on stdin, as a requirements file
    return args, variables


def plan_uv(
    mirror_dir: Path,
    packages: Sequence[str],
    requirement_files: Sequence[Path],
    *,
    choice: ResolverChoice,
    indexes: Sequence[MirrorURL],
    tags: TargetTags,
    only_binary: bool | None,
    mode: str,
    secrets: tuple[str, ...],
    retries: int | None = None,
    timeout: float | None = None,
    python: str = sys.executable,
    environ: Mapping[str, str] | None = None,
) -> UvPlan:
    """The ``uv pip compile`` for ``packages`` and ``requirement_files`` (checked by the caller)."""
    wheels_only = bool(only_binary or (only_binary is None and tags.given))
    args, credentials = uv_compile_args(
        choice, packages, requirement_files, indexes=indexes, wheels_only=wheels_only,
        python=python, retries=retries, timeout=timeout)
    env = uv_environment(os.environ if environ is None else environ)
    env.update(credentials)
    auth = tuple((origin(m.url), m.credentials) for m in indexes if m.credentials is not None)
    return UvPlan(mirror_dir, tuple(args), env, "".join(f"{p}\n" for p in packages), mode,
                  tuple(str(m) for m in indexes), secrets, supported_tags(tags),
                  not wheels_only, auth, timeout, retries, sources=tuple(indexes))


def _reason(lines: Sequence[str]) -> str:
    """uv's error report on one line: from its first error line on, undecorated."""
    start = next((i for i, line in enumerate(lines)
                  if line.startswith(("error:", _CROSS))), max(len(lines) - 1, 0))
    words: list[str] = []
    for line in lines[start:]:
        if line.startswith("Usage:"):
            break  # after a usage error uv prints its whole synopsis
        word = line.strip(_BOX)
        for prefix in ("error: ", "Caused by: ", "cause: "):
            word = word.removeprefix(prefix)
        words.append(word.strip().rstrip(":"))
    return ": ".join(word for word in words if word).rstrip(".") or "no output"


def _failure(plan: UvPlan, code: int, lines: Sequence[str]) -> UserMessageError:
    from .causes import explain, network_fix, probe, project_nothing_was_found_for

    reason = _reason(lines)
    project = project_nothing_was_found_for(reason)
    causes = [] if project is None else probe(project, plan.sources, plan.timeout)
    # uv names a network failure itself ("Failed to fetch: URL: ... Connection refused").
    fix = network_fix(reason) if reason.startswith("Failed to fetch") else None
    fix = fix or "fix the requirement or the index and run again"
    return UserMessageError(explain(f"uv could not resolve (exit {code}): {reason}", causes,
                                    fix))


def run_uv(plan: UvPlan, on_line: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run uv, handing each line it prints (scrubbed) to ``on_line``; the lock file, read.

    uv's error report is kept back from ``on_line``: the error raised says it, once.
    """
    from ..tomlparser import tomllib

    tail: deque[str] = deque(maxlen=40)
    reporting = False

    def take(raw: str) -> None:
        nonlocal reporting
        line = scrub(raw.rstrip(), plan.secrets)
        tail.append(line)
        reporting = reporting or line.startswith(("error:", _CROSS))
        if on_line is not None and line.strip() and not reporting:
            on_line(line)

    with tempfile.TemporaryDirectory(prefix="dockerpypi-uv-") as work:
        output = Path(work) / _LOCK_NAME
        # Ctrl-C, or an error of on_line, ends uv too.
        code = output_lines([*plan.argv, "--output-file", str(output)], take,
                            environ=plan.env, input=plan.requirements, read="stderr",
                            secrets=plan.secrets,
                            missing="pip install uv, or use --resolver pip")
        if code != 0:
            raise _failure(plan, code, [line for line in tail if line.strip()])
        with output.open("rb") as handle:
            lock: dict[str, Any] = tomllib.load(handle)
    return lock


def _file_pick(entry: Mapping[str, Any]) -> Pick | None:
    url = entry.get("url")
    if not isinstance(url, str):
        return None  # a local path: uv writes those for file:// indexes only as URLs
    filename = entry.get("name") or url.rsplit("/", 1)[-1].split("#", 1)[0]
    hashes = entry.get("hashes") or {}
    size = entry.get("size")
    return Pick(unquote(filename), url, hashes.get("sha256"),
                size if isinstance(size, int) else None)


def choose_files(lock: Mapping[str, Any], supported: Sequence[Tag], *,
                 allow_sdist: bool) -> tuple[Pick, ...]:
    """One file per locked package: the wheel pip would choose, else the sdist if allowed."""
    picks: list[Pick] = []
    for package in lock.get("packages", []):
        name, version = package.get("name", "?"), package.get("version", "")
        wheels = [pick for entry in package.get("wheels", [])
                  if (pick := _file_pick(entry)) is not None]
        best = best_wheel([pick.filename for pick in wheels], supported)
        if best is not None:
            picks.append(next(pick for pick in wheels if pick.filename == best))
            continue
        sdist = _file_pick(package.get("sdist") or package.get("archive") or {})
        if sdist is not None and allow_sdist:
            picks.append(sdist)
            continue
        if package.get("vcs") or package.get("directory"):
            raise UserMessageError(f"{name} comes from a VCS or a directory, which the mirror "
                                   "cannot hold as it is: use --resolver pip, which builds it")
        offered = ", ".join(p.filename for p in wheels) or "none"
        hint = " (and an sdist, but wheels only were asked for)" if sdist is not None else ""
        raise UserMessageError(f"uv chose {name} {version}, but none of its wheels fits the "
                               f"target tags (wheels: {offered}){hint}: give the image's "
                               "--platform tags, or use --resolver pip")
    return tuple(picks)
