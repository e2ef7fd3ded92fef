"""A project directory in the mirror: what ``pip install .`` of it needs, offline.

``pip install .`` (and ``uv pip install .``) builds the project in an isolated
environment, and in that environment installs, from the same index as the
rest, three sets of requirements that a plain resolution of the project's
dependencies never sees:

1. the project's dependencies (``[project] dependencies``, or what the
   backend says for dynamic metadata);
2. its ``[build-system] requires`` (without the table, what pip assumes:
   ``setuptools>=40.8.0`` and ``wheel``);
3. what the backend's ``get_requires_for_build_wheel`` hook asks for (hatchling
   for its build hooks' plugins, setuptools ``wheel`` in older releases, ...).

Each set is resolved on its own, as pip's build environment installs each
with its own resolution. The third set is known only by asking the backend:
guessing per backend would miss every plugin and configuration, so
:func:`ask_backend` installs set 2 from the mirror just filled (pip
``--target``, no index) into a temporary directory and calls the hook there
the way PEP 517 frontends do, in a fresh ``python -I -S`` on a temporary copy
of the project (setuptools' hook runs setup.py, which may write egg-info: the
user's directory stays as it was).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError, UserMessageError
from ..process import output_of
from ..tomlparser import tomllib
from .arguments import names_path
from .fill import FillResult, pip_environment

# What pip assumes for a project without a [build-system] table: pip 23 adds
# wheel, later pips do not; both are fetched so that either pip builds.
DEFAULT_REQUIRES = ("setuptools>=40.8.0", "wheel")
DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"
_SOURCES = ("pyproject.toml", "setup.py", "setup.cfg")  # what uv reads a project from
# Left out of the copy the hook runs in: environments and caches, never read by a build.
_NOT_COPIED = (".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__", ".mypy_cache")
HOOK_TIMEOUT = 600.0  # for pip install --target and the hook, each
# Runs in `python -I -S`: argv is the site directory, the spec, the project, the output.
_HOOK = """\
import importlib, json, os, site, sys
site_dir, spec, project, output = sys.argv[1:5]
spec = json.loads(spec)
site.addsitedir(site_dir)
os.chdir(project)
sys.path[:0] = [os.path.abspath(p) for p in spec["backend_path"]]
module, _, attribute = spec["backend"].partition(":")
backend = importlib.import_module(module.strip())
for part in filter(None, attribute.strip().split(".")):
    backend = getattr(backend, part)
hook = getattr(backend, "get_requires_for_build_wheel", None)
requires = [] if hook is None else list(hook(None))
with open(output, "w") as handle:
    json.dump([str(r) for r in requires], handle)
"""


@dataclass(frozen=True)
class Project:
    """A project directory, as its pyproject.toml (or its absence) describes the build."""

    directory: Path
    source: Path  # the file uv reads the dependencies from
    build_requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()
    name: str = ""  # [project] name, else the directory's
    # uv builds and installs it: it has a [build-system] table, or tool.uv.package
    # = true; otherwise uv syncs it as a virtual project and builds nothing.
    uv_builds: bool = True


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserMessageError(f"cannot read {path} ({exc})",
                               fix="fix the file and run again") from None
    return data


def is_project(argument: str) -> bool:
    """``argument`` of ``mirror add`` names a project directory, not a package or a file.

    A path (:func:`.arguments.names_path`) that is no file: one that is no
    project directory is refused by :func:`read_project`, as pip refuses it.
    """
    return names_path(argument) and not Path(argument).is_file()


def read_project(directory: Path) -> Project:
    """The build of ``directory`` as pip sees it (PEP 517/518 and pip's defaults)."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise UsageError(f"{directory} is no directory", fix="give a project directory, or "
                         "name packages")
    source = next((directory / name for name in _SOURCES if (directory / name).is_file()), None)
    if source is None:
        raise UsageError(f"{directory} has no pyproject.toml, setup.py or setup.cfg",
                         fix="give a project directory, or name packages")
    pyproject = directory / "pyproject.toml"
    data = _load_toml(pyproject) if pyproject.is_file() else {}
    name = str((data.get("project") or {}).get("name") or directory.name)
    table = data.get("build-system")
    package = ((data.get("tool") or {}).get("uv") or {}).get("package")
    uv_builds = package if isinstance(package, bool) else table is not None
    if table is None:
        return Project(directory, source, DEFAULT_REQUIRES, DEFAULT_BACKEND, name=name,
                       uv_builds=uv_builds)
    requires = table.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise UserMessageError(f"{pyproject}: [build-system] has no `requires` list of strings, "
                               "so pip cannot build it either", fix="add one (PEP 518)")
    backend = table.get("build-backend") or DEFAULT_BACKEND
    backend_path = table.get("backend-path") or []
    return Project(directory, source, tuple(requires), str(backend),
                   tuple(str(p) for p in backend_path), name, uv_builds)


def read_projects(packages: Sequence[str]) -> list[Project]:
    """The project directories among the packages of ``mirror add``, read."""
    return [read_project(Path(package)) for package in packages if is_project(package)]


def uv_request(packages: Sequence[str], files: Sequence[Path]
               ) -> tuple[tuple[str, ...], list[Path]]:
    """``packages`` and ``files`` for uv: a project directory becomes the file it reads.

    pip takes a directory as a requirement and leaves it out of what it saves;
    uv would lock the directory itself, which no mirror can hold.
    """
    projects = [p for p in packages if is_project(p)]
    return (tuple(p for p in packages if p not in projects),
            [*files, *(read_project(Path(p)).source for p in projects)])


def _copy(project: Project, target: Path) -> None:
    shutil.copytree(project.directory, target, symlinks=True,
                    ignore=shutil.ignore_patterns(*_NOT_COPIED))


def ask_backend(project: Project, mirror_dir: Path, *, python: str = sys.executable,
                timeout: float = HOOK_TIMEOUT,
                hook_timeout: float | None = None) -> tuple[str, ...]:
    """What ``get_requires_for_build_wheel`` asks for, with the build requirements
    installed from ``mirror_dir`` (which must hold them for this machine); each of
    the two steps is stopped after ``timeout`` seconds (the hook after
    ``hook_timeout``, when given)."""
    with tempfile.TemporaryDirectory(prefix="dockerpypi-backend-") as work:
        site_dir, copy, output = Path(work, "site"), Path(work, "project"), Path(work, "out")
        install = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                   "--quiet", "--no-index", "--find-links", str(mirror_dir),
                   "--target", str(site_dir), *project.build_requires]
        env = pip_environment(os.environ)
        done = output_of(install, timeout=timeout, environ=env, missing="check Python",
                         slow="check what pip waits for (run it with -v)")
        if done.returncode != 0:
            raise UserMessageError(f"cannot install {' '.join(project.build_requires)} from "
                                   f"the mirror on this machine ({_tail(done)})",
                                   fix="fill the mirror for this machine's tags too")
        _copy(project, copy)
        spec = json.dumps({"backend": project.backend, "backend_path": project.backend_path})
        done = output_of([python, "-I", "-S", "-c", _HOOK, str(site_dir), spec, str(copy),
                          str(output)],
                         timeout=timeout if hook_timeout is None else hook_timeout, environ=env,
                         missing="check Python",
                         slow="check that `pip wheel .` in the project ends without input")
        if done.returncode != 0:
            raise UserMessageError(f"{project.backend}'s get_requires_for_build_wheel failed "
                                   f"({_tail(done)})",
                                   fix="check that the project builds with `pip wheel .`")
        requires: list[str] = json.loads(output.read_text(encoding="utf-8"))
    return tuple(requires)


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit {done.returncode}"


def fill_project(project: Project, fill: Callable[[tuple[str, ...]], FillResult],
                 mirror_dir: Path, *, on_step: Callable[[str], None] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> list[FillResult]:
    """Sets 2 and 3 of the module docstring (set 1 is a plain fill of the directory).

    ``fill(requirements)`` resolves and downloads ``requirements`` into the mirror.
    A backend that cannot be asked (its wheels do not run here, its hook
    fails) is a warning: the mirror then holds sets 1 and 2 only.
    """
    say = on_step or (lambda text: None)
    say(f"build requirements of {project.name}: {' '.join(project.build_requires)}")
    results = [fill(project.build_requires)]
    try:
        asked = ask_backend(project, mirror_dir)
    except UserMessageError as exc:
        if on_warning is not None:
            on_warning(f"{exc.problem}, so the mirror may lack what {project.backend} asks "
                       f"for to build a wheel: {exc.fix}")
        return results
    extra = tuple(r for r in asked if r not in project.build_requires)
    if extra:
        say(f"{project.backend} asks to build {project.name} with: {' '.join(extra)}")
        results.append(fill(extra))
    return results


def fill_projects(projects: Sequence[Project], first: FillResult,
                  fill: Callable[[tuple[str, ...]], FillResult], mirror_dir: Path, *,
                  on_step: Callable[[str], None] | None = None,
                  on_warning: Callable[[str], None] | None = None) -> FillResult:
    """:func:`fill_project` for each project after ``first`` (set 1 of them all), as one."""
    results = [first]
    for project in projects:
        results += fill_project(project, fill, mirror_dir, on_step=on_step,
                                on_warning=on_warning)
    return combined(results)


def combined(results: Sequence[FillResult]) -> FillResult:
    """One result for several fills of one ``mirror add``: the last index, all files."""
    last = results[-1]
    added = tuple(sorted({name for result in results for name in result.added}))
    return FillResult(last.mode, last.resolver, last.indexes,
                      "; ".join(result.command for result in results), added, last.index,
                      sum(result.seconds for result in results))
