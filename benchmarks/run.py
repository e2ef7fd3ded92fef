"""Benchmarks of dockerpypi against the usual ways of giving a build its packages.

    .venv/bin/python benchmarks/run.py --quick          # a first look, a few minutes
    .venv/bin/python benchmarks/run.py --update-readme  # the full run, for the README

Every figure is a median over repeated runs, and each table has a floor row
that the others are divided by. Results go to ``benchmarks/results/``
(``results.json`` and ``results.md``; ``--update-readme`` also replaces the
table in ``benchmarks/README.md``). Needs the host's pip to reach the public
index once (to fill the benchmark mirror; later runs reuse it), a Docker
engine with buildx, and the base image (``--base-image``). Work files live
under ``--work-dir``; images and the build cache the run made are removed at
the end.

Sections (``--only`` runs some of them):

builds   the same requirements, mirror and base image, built five ways, cold
         (``--no-cache``, a new cache mount, a new build context path so the
         builder has no copy of the context) and warm (the step runs again
         with the installer's cache mount kept); image sizes; and what
         ``dockerpypi build`` adds to the ``docker buildx build`` it runs.
large    a cold build with the mirror padded to ``--pad-size`` of other
         wheels: sent whole, a mirror with only the needed files, and the
         subset ``dockerpypi build`` sends.
fill     ``dockerpypi mirror add`` against ``pip download`` + ``dir2pi``.
reindex  re-indexing a mirror of ``--reindex-files`` tiny wheels after 10
         were added.
big      a mirror of ``--big-projects`` projects of 10 tiny wheels (100,000
         files): first and incremental ``mirror index``, ``mirror check``, the
         subset a build of the requirement set chooses, ``mirror add`` of 10
         new projects; wall time, CPU time and peak memory of each.
cli      start-up of the command line (hyperfine when installed).
uvstep   a ``pip install`` step on an image without uv, run by
         ``dockerpypi build`` with uv from the mirror (the rendered ``auto``
         step, and ``--inject --prefer-uv``), cold and warm, against uv
         bind-mounted for the step, both compiling bytecode.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCKERFILES = HERE / "dockerfiles"
REQUIREMENTS = HERE / "requirements.txt"
README = HERE / "README.md"
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"
DEFAULT_BASE_IMAGE = "dockerpypi-test/python:3.11-bookworm"
# The image's Python and platforms: the mirror is filled for these.
TARGET = ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
          *[arg for tag in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
                            "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
                            "manylinux2014_x86_64", "manylinux_2_5_x86_64",
                            "manylinux1_x86_64")
            for arg in ("--platform", tag)]]
BENCH_LABEL = "dockerpypi.bench"
PAD_WHEEL_BYTES = 10_000_000
_ISOLATED = ("PIP_", "UV_", "DIB_", "DOCKERPYPI_", "PYPI_MIRROR_URL")
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}


# --- small helpers ------------------------------------------------------------

def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment without installer or dockerpypi settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ISOLATED)}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["UV_NO_CONFIG"] = "1"
    env.update(extra)
    return env


class Failed(Exception):
    pass


def run(argv: Sequence[str], *, log: Path | None = None, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> float:
    """Run ``argv``; return the seconds it took. Output goes to ``log`` (appended)."""
    return run_output(argv, log=log, env=env, cwd=cwd)[0]


def run_output(argv: Sequence[str], *, log: Path | None = None,
               env: dict[str, str] | None = None, cwd: Path | None = None
               ) -> tuple[float, str]:
    """Run ``argv``; return the seconds it took and what it printed (stderr merged)."""
    started = time.perf_counter()
    done = subprocess.run(list(argv), env=env or clean_env(), cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", check=False)
    took = time.perf_counter() - started
    if log is not None:
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {shlex.join(argv)}\n{done.stdout}\n[exit {done.returncode}, "
                         f"{took:.2f}s]\n\n")
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-25:])
        raise Failed(f"{shlex.join(argv)} failed (exit {done.returncode}):\n{tail}")
    return took, done.stdout


_TRANSFER = re.compile(r"transferring pypi-mirror: ([\d.]+)(B|kB|MB|GB) ([\d.]+)s done")
_BYTES = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9}


def transfer(log: str) -> tuple[float, float]:
    """(megabytes, seconds) of the pypi-mirror context's transfer, as BuildKit reports it."""
    found = [(float(size) * _BYTES[unit] / 1e6, float(seconds))
             for size, unit, seconds in _TRANSFER.findall(log)]
    return max(found) if found else (0.0, 0.0)


def output(argv: Sequence[str], env: dict[str, str] | None = None) -> str:
    return subprocess.run(list(argv), env=env or clean_env(), capture_output=True, text=True,
                          check=True).stdout


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?)B?", text.strip().upper())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 2G or 200M")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def tree_size(directory: Path, pattern: str = "*.whl") -> int:
    return sum(p.stat().st_size for p in directory.glob(pattern))


def link_tree(source: Path, target: Path, pattern: str = "*") -> None:
    """``target`` gets hard links to the files of ``source`` matching ``pattern``."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob(pattern):
        if path.is_file():
            os.link(path, target / path.name)


def dockerpypi_cli() -> list[str]:
    script = Path(sys.executable).with_name("dockerpypi")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dockerpypi"]


def rotated(items: list[Any], by: int) -> list[Any]:
    """``items`` starting at ``by``: each repeat runs the ways in another order."""
    by %= max(len(items), 1)
    return items[by:] + items[:by]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --- results --------------------------------------------------------------------

@dataclass
class Row:
    label: str
    values: dict[str, list[float]] = field(default_factory=dict)  # column -> runs
    note: str = ""

    def add(self, column: str, value: float) -> None:
        self.values.setdefault(column, []).append(value)

    def median(self, column: str) -> float | None:
        runs = self.values.get(column)
        return median(runs) if runs else None


@dataclass
class Table:
    key: str
    title: str
    columns: list[tuple[str, str]]  # (key, heading with unit)
    floor: str  # the label of the floor row
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, label: str, note: str = "") -> Row:
        for existing in self.rows:
            if existing.label == label:
                return existing
        made = Row(label, note=note)
        self.rows.append(made)
        return made

    def floor_value(self, column: str) -> float | None:
        floor = next((r for r in self.rows if r.label == self.floor), None)
        return floor.median(column) if floor else None

    def to_json(self) -> dict[str, Any]:
        rows = []
        for row in self.rows:
            cells: dict[str, Any] = {}
            for key, _ in self.columns:
                value, floor = row.median(key), self.floor_value(key)
                cells[key] = {
                    "median": value, "runs": row.values.get(key, []),
                    "ratio_to_floor": (value / floor) if value is not None and floor else None,
                }
            rows.append({"label": row.label, "note": row.note, "cells": cells})
        return {"title": self.title, "floor": self.floor, "notes": self.notes,
                "columns": [{"key": k, "heading": h} for k, h in self.columns], "rows": rows}

    def runs(self) -> int:
        return max((len(v) for row in self.rows for v in row.values.values()), default=0)

    def markdown(self) -> str:
        head = ["", *[part for _, heading in self.columns for part in (heading, "x floor")]]
        count = self.runs()
        runs = f" (median of {count} runs)" if count > 1 else " (one run)"
        lines = [f"### {self.title}{runs}", "", "| " + " | ".join(head) + " |",
                 "|" + "---|" * len(head)]
        for row in self.rows:
            cells = [row.label + (" (floor)" if row.label == self.floor else "")]
            for key, _ in self.columns:
                value, floor = row.median(key), self.floor_value(key)
                cells.append("-" if value is None else _number(value))
                cells.append("-" if value is None or not floor else f"{value / floor:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
        notes = [f"{row.label}: {row.note}" for row in self.rows if row.note] + self.notes
        if notes:
            lines += [""] + [f"- {note}" for note in notes]
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


# --- the machine ----------------------------------------------------------------

def machine() -> dict[str, Any]:
    """What the figures were measured on; no paths, no host names."""
    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "kernel": platform.release(), "arch": platform.machine(),
        "python": platform.python_version(),
    }
    with contextlib.suppress(OSError):
        found = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        if found:
            info["memory_gib"] = round(int(found.group(1)) / 2**20, 1)
    with contextlib.suppress(OSError):
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        if found:
            info["cpu"] = found.group(1).strip()
    with contextlib.suppress(OSError):
        found = re.search(r'PRETTY_NAME="([^"]+)"', Path("/etc/os-release").read_text())
        if found:
            info["os"] = found.group(1)
    with contextlib.suppress(subprocess.CalledProcessError, OSError):
        info["docker_engine"] = output(["docker", "version", "--format",
                                        "{{.Server.Version}}"]).strip()
        info["buildx"] = output(["docker", "buildx", "version"]).split()[1]
        info["storage_driver"] = output(["docker", "info", "--format",
                                         "{{.Driver}}"]).strip()
    with contextlib.suppress(subprocess.CalledProcessError, OSError):
        info["host_pip"] = output([sys.executable, "-m", "pip", "--version"]).split()[1]
    with contextlib.suppress(subprocess.CalledProcessError, OSError):
        info["uv"] = output([uv_binary(), "--version"]).split()[1]
    from dockerpypi import __version__

    info["dockerpypi"] = __version__
    info["date"] = time.strftime("%Y-%m-%d")
    return info


def machine_line(info: dict[str, Any]) -> str:
    parts = [f"{info.get('nproc')} CPUs ({info.get('cpu', 'unknown')})",
             f"{info.get('memory_gib')} GiB memory",
             f"{info.get('os', 'Linux')} (kernel {info.get('kernel')}, {info.get('arch')})",
             f"Docker Engine {info.get('docker_engine')} with buildx {info.get('buildx')} "
             f"({info.get('storage_driver')})",
             f"Python {info.get('python')}, pip {info.get('host_pip')}, uv {info.get('uv')}, "
             f"dockerpypi {info.get('dockerpypi')}"]
    return "; ".join(parts)


def uv_binary() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        raise Failed("uv is needed (pip install -e '.[test]')")
    return found


# --- the mirror of the requirement set -------------------------------------------

def requirement_names() -> list[str]:
    return [line.split("==")[0] for line in REQUIREMENTS.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def ensure_mirror(work: Path, log: Path) -> Path:
    """The mirror of the requirement set, filled once with `dockerpypi mirror add`."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + " ".join(TARGET).encode()).hexdigest()
    mirror = work / f"mirror-{digest[:12]}"
    if (mirror / ".dockerpypi-index.json").is_file() and (mirror / ".complete").is_file():
        return mirror
    shutil.rmtree(mirror, ignore_errors=True)
    say(f"filling the benchmark mirror ({len(requirement_names())} distributions) from the "
        "public index")
    run([*dockerpypi_cli(), "mirror", "add", "--quiet", "--mirror-dir", str(mirror), *TARGET,
         "-r", str(REQUIREMENTS)], log=log)
    (mirror / ".complete").write_text("")
    return mirror


# --- builds ---------------------------------------------------------------------

@dataclass
class Build:
    """One way of building the image: its Dockerfile, context and command."""

    name: str
    label: str
    dockerfile: Callable[[str], str]  # cache token -> text
    extra_files: Callable[[Path], None]  # fills the build context
    options: Callable[[str], list[str]]  # cache token -> docker options of its own
    with_dockerpypi: bool = False


class Builds:
    """The five recipes over one mirror and one base image."""

    def __init__(self, work: Path, mirror: Path, base_image: str, log: Path, token: str) -> None:
        self.work, self.mirror, self.base_image, self.log = work, mirror, base_image, log
        self.token = token  # in every tag and cache id of this run
        self.tags: list[str] = []
        self.url = ""  # of the served mirror, for the cache-mount recipe
        self.recipes = {build.name: build for build in self._recipes()}
        self.base = f"dockerpypi-bench/base:{token}"
        self._uv_project: dict[str, str] | None = None

    def build_base(self) -> None:
        """The venv every recipe installs into, made once (base.Dockerfile)."""
        say(f"building the base image (a venv on {self.base_image})")
        empty = Path(tempfile.mkdtemp(prefix="tmp-ctx-base-", dir=self.work))
        self.tags.append(self.base)
        run(["docker", "buildx", "build", "--progress=plain", "-t", self.base, "--label",
             f"{BENCH_LABEL}={self.token}", "--build-arg", f"BASE_IMAGE={self.base_image}",
             "-f", str(DOCKERFILES / "base.Dockerfile"), str(empty)], log=self.log)

    def _recipes(self) -> list[Build]:
        def plain(name: str) -> Callable[[str], str]:
            return lambda cache: (DOCKERFILES / f"{name}.Dockerfile").read_text()

        def nothing(directory: Path) -> None:
            pass

        def wheels(directory: Path) -> None:
            link_tree(self.mirror, directory / "wheels", "*.whl")

        def uv(directory: Path) -> None:
            os.link(uv_binary(), directory / "uv")

        def uv_project(directory: Path) -> None:
            uv(directory)
            for name, text in self.uv_project().items():
                (directory / name).write_text(text)

        return [
            Build("naive", "naive: COPY the wheels, pip install", plain("naive"), wheels,
                  lambda cache: []),
            Build("cache-mount", "Docker guide: pip cache mount, index by build arg (HTTP)",
                  plain("cache-mount"), nothing,
                  lambda cache: ["--network=host", "--build-arg", f"PIP_INDEX_URL={self.url}",
                                 "--build-arg", f"CACHE_ID={cache}"]),
            Build("dockerpypi-pip", "`dockerpypi build`, pip", lambda c: rendered("pip", c),
                  nothing, lambda cache: [], with_dockerpypi=True),
            Build("dockerpypi-uv", "`dockerpypi build`, uv", lambda c: rendered("uv", c), uv,
                  lambda cache: [], with_dockerpypi=True),
            Build("dockerpypi-uv-secrets", "`dockerpypi build`, uv, settings as secrets "
                  "(`render --secrets`)", lambda c: rendered("uv", c, config="secrets"), uv,
                  lambda cache: [], with_dockerpypi=True),
            Build("dockerpypi-uv-sync", "`dockerpypi build`, `uv sync --locked` of the set's "
                  "uv.lock (`render --installer uv-sync`)", rendered_uv_sync, uv_project,
                  lambda cache: [], with_dockerpypi=True),
            Build("floor", "uv `--no-index --find-links` from a bind mount", plain("floor"), uv,
                  lambda cache: ["--build-context", f"pypi-mirror={self.mirror}"]),
        ]

    def uv_project(self) -> dict[str, str]:
        """pyproject.toml and uv.lock of a project that depends on the set, locked once a run
        by the host's uv against the mirror served over HTTP (so the lock names an index
        URL, as a lock made against any index does)."""
        if self._uv_project is None:
            say("locking the requirement set with uv lock")
            project = Path(tempfile.mkdtemp(prefix="tmp-uv-project-", dir=self.work))
            dependencies = ", ".join(f'"{line.strip()}"' for line in
                                     REQUIREMENTS.read_text().splitlines()
                                     if line.strip() and not line.startswith("#"))
            # The mirror holds CPython 3.11 wheels for Linux x86_64: the lock is for those.
            (project / "pyproject.toml").write_text(
                '[project]\nname = "bench"\nversion = "0.1.0"\nrequires-python = "==3.11.*"\n'
                f"dependencies = [{dependencies}]\n\n[tool.uv]\nenvironments = "
                "[\"sys_platform == 'linux' and platform_machine == 'x86_64'\"]\n")
            with served(self.mirror) as url:
                run([uv_binary(), "lock", "--default-index", url], log=self.log,
                    env=clean_env(UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never",
                                  UV_CACHE_DIR=str(project / "uv-cache")), cwd=project)
            self._uv_project = {name: (project / name).read_text()
                                for name in ("pyproject.toml", "uv.lock")}
        return self._uv_project

    def context(self, name: str, cache: str) -> Path:
        """A new build context directory (a new path: the builder has no copy of it)."""
        build = self.recipes[name]
        directory = Path(tempfile.mkdtemp(prefix=f"tmp-ctx-{name}-", dir=self.work))
        shutil.copy2(REQUIREMENTS, directory / "requirements.txt")
        (directory / "Dockerfile").write_text(build.dockerfile(cache))
        build.extra_files(directory)
        return directory

    def command(self, name: str, context: Path, cache: str, *, cold: bool,
                mirror: Path | None = None, extra: Sequence[str] = (),
                dry_run: bool = False) -> list[str]:
        build = self.recipes[name]
        tag = f"dockerpypi-bench/{name}:{self.token}"
        self.tags.append(tag)
        docker = ["--progress=plain", "-t", tag, "--label", f"{BENCH_LABEL}={self.token}",
                  "--build-arg", f"BASE_IMAGE={self.base}",
                  *(["--no-cache"] if cold else []), *build.options(cache), str(context)]
        if not build.with_dockerpypi:
            return ["docker", "buildx", "build", *docker]
        return [*dockerpypi_cli(), "build", *(["--dry-run"] if dry_run else []), "--offline",
                "--mirror-dir", str(mirror or self.mirror), *extra, *docker]

    def image_size(self, name: str) -> int:
        tag = f"dockerpypi-bench/{name}:{self.token}"
        return int(output(["docker", "image", "inspect", "--format", "{{.Size}}", tag]))

    def remove_images(self) -> None:
        for tag in dict.fromkeys(self.tags):
            subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True,
                           check=False)
        # A rebuild under the same tag leaves the previous image untagged: those
        # carry the run's label too.
        subprocess.run(["docker", "image", "prune", "--force", "--filter",
                        f"label={BENCH_LABEL}={self.token}"], capture_output=True, check=False)


def rendered(installer: str, cache: str, config: str = "context") -> str:
    """What `dockerpypi render` writes, with a cache mount id of the run's own."""
    from dockerpypi.render.steps import RunOptions, render_run, render_stage

    step = render_run(RunOptions(installer=installer, config=config))
    ours = f"id=dockerpypi-{installer}-0,"
    if ours not in step:
        raise Failed(f"the rendered step has no {ours}: update benchmarks/run.py")
    step = step.replace(ours, f"id=dockerpypi-{installer}-0-{cache},")
    uv = "COPY uv /usr/local/bin/uv\n" if installer == "uv" else ""
    return ("# BASE_IMAGE: base.Dockerfile's image (a venv at /opt/venv, first on PATH).\n"
            "ARG BASE_IMAGE\n" + render_stage() + "FROM ${BASE_IMAGE}\n" + uv + step)


def rendered_uv_sync(cache: str) -> str:
    """uv's guide step as `dockerpypi render --installer uv-sync` writes it, syncing the
    base image's venv (as the floor installs into it)."""
    from dockerpypi.render.steps import RunOptions, render_run, render_stage

    step = render_run(RunOptions(installer="uv-sync"))
    ours = "id=dockerpypi-uv-0,"
    if ours not in step:
        raise Failed(f"the rendered step has no {ours}: update benchmarks/run.py")
    step = step.replace(ours, f"id=dockerpypi-uv-0-{cache},")
    return ("# BASE_IMAGE: base.Dockerfile's image (a venv at /opt/venv, first on PATH).\n"
            "ARG BASE_IMAGE\n" + render_stage() + "FROM ${BASE_IMAGE}\n"
            "COPY uv /usr/local/bin/uv\nENV UV_PROJECT_ENVIRONMENT=/opt/venv\nWORKDIR /app\n"
            + step)


@contextlib.contextmanager
def served(mirror: Path) -> Iterator[str]:
    from dockerpypi.mirror.serve import serving

    with serving(mirror) as url:
        yield url


def bench_builds(builds: Builds, repeats: int, tables: dict[str, Table],
                 deadline: float | None = None, only: Sequence[str] = ()) -> None:
    """Every recipe (or those named in ``only``, and the floor) cold and warm, ``repeats``
    rounds (fewer if a round would end past ``deadline``, a time.monotonic() value, leaving
    the rest of the run its time)."""
    table = Table("builds", f"Builds of the requirement set ({len(requirement_names())} "
                            f"distributions, {tree_size(builds.mirror) / 1e6:.1f} MB of wheels)",
                  [("cold", "cold s"), ("warm", "warm s"), ("image", "image MB")],
                  floor=builds.recipes["floor"].label)
    table.notes += [
        "cold: `--no-cache`, a new cache mount and a new build context path (the builder "
        "has no copy of the context); warm: `--no-cache` again with the same cache mount "
        "and context, so the install step runs with the installer's cache filled",
        "every image is the base image plus a venv holding the packages; the uv builds "
        "also carry the uv binary",
        "`dockerpypi build` steps take their settings from the `dockerpypi-config` build "
        "context; with `render --secrets` they mount them as secrets, and BuildKit holds "
        "such a step back (see the README)",
    ]
    tables["builds"] = table
    with served(builds.mirror) as url:
        builds.url = url
        started = time.monotonic()
        for repeat in range(repeats):
            if repeat:
                each = (time.monotonic() - started) / repeat
                if deadline is not None and time.monotonic() + each > deadline:
                    say(f"a round of builds takes {each:.0f} s, which the time budget no "
                        f"longer holds: {repeat} round{'s' if repeat > 1 else ''} of builds")
                    break
            chosen = [(name, build) for name, build in builds.recipes.items()
                      if not only or name in only or name == "floor"]
            for name, build in rotated(chosen, repeat):
                cache = f"bench-{builds.token}-{repeat}"
                context = builds.context(name, cache)
                row = table.row(build.label)
                # Both with --no-cache: the warm one keeps the cache mount and the context.
                for column in ("cold", "warm"):
                    say(f"build {name} {column} ({repeat + 1}/{repeats})")
                    argv = builds.command(name, context, cache, cold=True)
                    row.add(column, run(argv, log=builds.log))
                row.add("image", builds.image_size(name) / 1e6)


def bench_overhead(builds: Builds, repeats: int, tables: dict[str, Table]) -> None:
    """``dockerpypi build`` against the ``docker buildx build`` it runs, on a cached build."""
    from dockerpypi.build.command import parse_docker_args
    from dockerpypi.build.engine import current_engine
    from dockerpypi.build.subset.closure import select
    from dockerpypi.build.subset.directory import write_subset
    from dockerpypi.build.subset.wanted import read_build
    from dockerpypi.render.files import config_files, uv_cache_pays
    from dockerpypi.settings.resolve import resolve_settings

    table = Table("overhead", "What `dockerpypi build` adds to the docker command it runs "
                              "(a rebuild with every step cached)",
                  [("time", "s")], floor="the same `docker buildx build` command")
    tables["overhead"] = table
    name, cache = "dockerpypi-pip", f"bench-{builds.token}-overhead"
    context = builds.context(name, cache)
    ours = builds.command(name, context, cache, cold=False)
    run(ours, log=builds.log)  # every step cached from here on
    # The command it runs, with real files where the dry run shows placeholders.
    shown = output(builds.command(name, context, cache, cold=False, dry_run=True))
    argv = shlex.split(shown.strip().splitlines()[-1])
    settings = resolve_settings({"offline": True, "mirror_dir": str(builds.mirror)},
                                context_dir=context)
    docker_args = argv[argv.index("--progress=plain"):]
    wanted = read_build(parse_docker_args(docker_args), current_engine())
    # The subset the dry run names (its directory is named by what it holds),
    # kept in the mirror as dockerpypi build keeps it.
    directory, temporary = write_subset(
        builds.mirror, select(builds.mirror, wanted.requirements, wanted.machines))
    # The same files dockerpypi build writes (its env file depends on what is sent):
    # another text would be another cache key for the install step.
    secrets = Path(tempfile.mkdtemp(prefix="tmp-secrets-", dir=builds.work))
    files = config_files(settings, uv_cache=uv_cache_pays(
        settings, [entry.name for entry in directory.iterdir()]))
    for config in files:
        (secrets / config.secret_id).write_text(config.content)
    # The dockerpypi-config context: the dry run names the directory dockerpypi
    # build keeps in its cache, which the build above wrote.
    try:
        raw = [re.sub(r"[^,=]*/dockerpypi-XXXXXXXX/", f"{secrets}/", arg) for arg in argv]
        if f"pypi-mirror={directory}" not in raw:
            raise Failed(f"the dry run sends another mirror directory than {directory}")
        if "XXXXXXXX" in " ".join(raw):
            raise Failed(f"a placeholder is left in {shlex.join(raw)}")
        ours_row = table.row("`dockerpypi build`")
        raw_row = table.row(table.floor)
        run(raw, log=builds.log)  # a first run, not timed, as ours had above
        # A difference of two medians of a few tenths of a second each: many runs,
        # taken in turn so that a busy moment of the machine touches both.
        for _ in range(max(3 * repeats, 11)):
            ours_row.add("time", run(ours, log=builds.log))
            raw_row.add("time", run(raw, log=builds.log))
    finally:
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(secrets, ignore_errors=True)
    difference = (ours_row.median("time") or 0) - (raw_row.median("time") or 0)
    table.notes.append(f"dockerpypi's own share: {difference:.2f} s (Python start-up, the "
                       "settings, its questions to docker about the engine (a kept answer), "
                       "finding the subset an earlier build chose, the settings files)")


# --- the large mirror -----------------------------------------------------------

def pad_wheel(directory: Path, number: int, size: int) -> Path:
    """A wheel of ``size`` incompressible bytes, so a transfer cannot shrink it."""
    name = f"bench_pad_{number:04d}"
    path = directory / f"{name}-1.0-py3-none-any.whl"
    dist = f"{name}-1.0.dist-info"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{dist}/METADATA",
                         f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        archive.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                                          "Tag: py3-none-any\n")
        with archive.open(f"{name}/blob.bin", "w", force_zip64=True) as blob:
            left = size
            while left > 0:
                chunk = min(left, 1 << 20)
                blob.write(os.urandom(chunk))
                left -= chunk
        archive.writestr(f"{dist}/RECORD", "")
    return path


def ensure_padded(work: Path, mirror: Path, size: int, log: Path) -> Path:
    """The benchmark mirror plus other wheels, ``size`` bytes in all."""
    from dockerpypi.mirror.index import update_index

    padded = work / f"padded-{mirror.name}-{size}"
    if (padded / ".complete").is_file():
        return padded
    shutil.rmtree(padded, ignore_errors=True)
    link_tree(mirror, padded, "*.whl")
    needed = max(0, size - tree_size(padded))
    count = -(-needed // PAD_WHEEL_BYTES)
    say(f"padding the mirror with {count} wheels of other projects to {size / 1e9:.1f} GB")
    for number in range(count):
        pad_wheel(padded, number, min(PAD_WHEEL_BYTES, needed - number * PAD_WHEEL_BYTES))
    result = update_index(padded)
    with log.open("a") as handle:
        handle.write(f"indexed the padded mirror: {result.to_json()}\n")
    (padded / ".complete").write_text("")
    return padded


def bench_large(builds: Builds, padded: Path, repeats: int, tables: dict[str, Table]) -> None:
    from dockerpypi.build.subset.closure import select

    table = Table("large", f"A cold build when the mirror holds {tree_size(padded) / 1e9:.1f} GB "
                           f"(dockerpypi build, uv)",
                  [("cold", "cold s"), ("transfer", "transfer s"), ("sent", "sent MB")],
                  floor="mirror with only the needed files")
    tables["large"] = table
    chosen = select(padded, [(r, "requirements.txt") for r in _requirements()],
                           ("x86_64",))
    variants = [
        ("whole mirror sent (`--build-context pypi-mirror=`, as before)", padded,
         ["--build-context", f"pypi-mirror={padded}"]),
        (table.floor, builds.mirror, []),
        ("the subset `dockerpypi build` sends", padded, []),
    ]
    for repeat in range(repeats):
        for number, (label, mirror, extra) in rotated(list(enumerate(variants)), repeat):
            cache = f"bench-{builds.token}-large-{repeat}-{number}"
            context = builds.context("dockerpypi-uv", cache)
            argv = builds.command("dockerpypi-uv", context, cache, cold=True, mirror=mirror,
                                  extra=extra)
            say(f"large mirror: {label} ({repeat + 1}/{repeats})")
            row = table.row(label)
            took, printed = run_output(argv, log=builds.log)
            sent, seconds = transfer(printed)
            row.add("cold", took)
            row.add("transfer", seconds)
            row.add("sent", sent)
    table.notes.append(f"transfer and sent: the `pypi-mirror` context as BuildKit reports it; "
                       f"the subset is {len(chosen.files)} of {chosen.total_files} files")


# --- uv for the step, not for the image -------------------------------------------

# A Dockerfile written for pip, not for dockerpypi (`--inject --prefer-uv`).
PIP_STEP = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
"""


def ensure_uv_mirror(work: Path, mirror: Path, log: Path) -> Path:
    """The benchmark mirror plus the uv wheel of the floor's uv (`dockerpypi mirror add uv`)."""
    version = output([uv_binary(), "--version"]).split()[1]
    uv_mirror = work / f"{mirror.name}-uv-{version}"
    if (uv_mirror / ".complete").is_file():
        return uv_mirror
    shutil.rmtree(uv_mirror, ignore_errors=True)
    link_tree(mirror, uv_mirror, "*.whl")
    say(f"adding uv {version} to a copy of the benchmark mirror")
    run([*dockerpypi_cli(), "mirror", "add", "--quiet", "--mirror-dir", str(uv_mirror), *TARGET,
         f"uv=={version}"], log=log)
    (uv_mirror / ".complete").write_text("")
    return uv_mirror


def bench_uv_step(builds: Builds, uv_mirror: Path, repeats: int,
                  tables: dict[str, Table]) -> None:
    """A pip step on an image without uv, with uv from the mirror, against uv bind-mounted."""
    from dockerpypi.render.steps import RunOptions, render_run, render_stage

    table = Table("uvstep", "A `pip install` step on an image without uv (bytecode compiled "
                            "on both sides)",
                  [("cold", "cold s"), ("warm", "warm s"), ("image", "image MB")],
                  floor="uv bind-mounted for the step, `--no-index --find-links`, "
                        "`--compile-bytecode`")
    table.notes += [
        "cold and warm as in the builds table; a cold build sends uv's program (38 MB) "
        "again on both sides: BuildKit keeps what it was sent of every context by the "
        "build's own context path, which is new for each cold build",
        "`--inject` steps are not read by the subset: the whole mirror is sent (uv's "
        "wheel too), where the rendered step sends what its requirements resolve to",
        "no image holds uv: dockerpypi's step and the floor mount it for the step only",
    ]
    tables["uvstep"] = table

    def auto(cache: str) -> str:
        step = render_run(RunOptions())
        for installer in ("pip", "uv"):
            step = step.replace(f"id=dockerpypi-{installer}-0,",
                                f"id=dockerpypi-{installer}-0-{cache},")
        return "ARG BASE_IMAGE\n" + render_stage() + "FROM ${BASE_IMAGE}\n" + step

    recipes: list[tuple[str, Callable[[str], str], list[str], bool]] = [
        (table.floor, lambda cache: (DOCKERFILES / "floor-bytecode.Dockerfile").read_text(),
         ["--build-context", f"pypi-mirror={builds.mirror}"], False),
        ("`dockerpypi build`, the rendered auto step", auto, [], True),
        ("`dockerpypi build --inject --prefer-uv`, `pip install -r`", lambda cache: PIP_STEP,
         ["--inject", "--prefer-uv"], True),
    ]
    for repeat in range(repeats):
        for number, (label, dockerfile, options, ours) in rotated(list(enumerate(recipes)),
                                                                  repeat):
            cache = f"bench-{builds.token}-uvstep-{repeat}-{number}"
            context = Path(tempfile.mkdtemp(prefix="tmp-ctx-uvstep-", dir=builds.work))
            shutil.copy2(REQUIREMENTS, context / "requirements.txt")
            (context / "Dockerfile").write_text(dockerfile(cache))
            if not ours:
                os.link(uv_binary(), context / "uv")
            tag = f"dockerpypi-bench/uvstep-{number}:{builds.token}"
            builds.tags.append(tag)
            docker = ["--progress=plain", "-t", tag, "--label", f"{BENCH_LABEL}={builds.token}",
                      "--build-arg", f"BASE_IMAGE={builds.base}", "--no-cache", str(context)]
            argv = ([*dockerpypi_cli(), "build", "--offline", "--mirror-dir", str(uv_mirror),
                     *options, *docker] if ours
                    else ["docker", "buildx", "build", *options, *docker])
            row = table.row(label)
            for column in ("cold", "warm"):
                say(f"uv step: {label} {column} ({repeat + 1}/{repeats})")
                took, printed = run_output(argv, log=builds.log)
                if ours and ("uv for the steps that want it: uv-" not in printed
                             or "Successfully installed" in printed):
                    raise Failed(f"{label}: the step did not get uv from the mirror "
                                 f"(see {builds.log})")
                row.add(column, took)
            row.add("image", int(output(["docker", "image", "inspect", "--format",
                                         "{{.Size}}", tag])) / 1e6)


def _requirements() -> list[Any]:
    from packaging.requirements import Requirement

    return [Requirement(line) for line in REQUIREMENTS.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


# --- filling a mirror -----------------------------------------------------------

def ensure_pip2pi(work: Path, log: Path) -> Path:
    """dir2pi (from pip2pi) in a throwaway virtual environment of its own."""
    venv = work / "pip2pi-venv"
    dir2pi = venv / "bin" / "dir2pi"
    if not dir2pi.exists():
        say("installing pip2pi into a throwaway virtual environment")
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(venv)], log=log)
        run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "pip2pi"],
            log=log)
    return dir2pi


def bench_fill(work: Path, dir2pi: Path, repeats: int, log: Path,
               tables: dict[str, Table]) -> None:
    from dockerpypi.settings.public_index import public_index_url

    table = Table("fill", f"Filling a mirror with the requirement set "
                          f"({len(requirement_names())} distributions, pip's and uv's caches warm)",
                  [("time", "s")], floor="`pip download` alone")
    tables["fill"] = table
    cache = work / "pip-http-cache"
    env = clean_env(XDG_CACHE_HOME=str(cache))
    pip = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
           "--progress-bar", "off", "--only-binary=:all:", *TARGET, "--index-url",
           public_index_url(), "-r", str(REQUIREMENTS)]
    scratch = Path(tempfile.mkdtemp(prefix="tmp-fill-", dir=work))
    try:
        def pip_alone(target: Path) -> float:
            return run([*pip, "--dest", str(target)], env=env, log=log)

        def pip_and_dir2pi(target: Path) -> float:
            return pip_alone(target) + run([str(dir2pi), str(target)], env=env, log=log)

        def mirror_add(target: Path) -> float:
            return run([*dockerpypi_cli(), "mirror", "add", "--quiet", "--mirror-dir",
                        str(target), *TARGET, "-r", str(REQUIREMENTS)], env=env, log=log)

        pip_alone(scratch / "warm-pip")  # fills pip's cache
        mirror_add(scratch / "warm-add")  # and uv's (the same XDG_CACHE_HOME)

        ways: list[tuple[str, Callable[[Path], float]]] = [
            (table.floor, pip_alone), ("`pip download` + `dir2pi`", pip_and_dir2pi),
            ("`dockerpypi mirror add`", mirror_add)]
        for label, _ in ways:
            table.row(label)
        for repeat in range(repeats):
            say(f"fill ({repeat + 1}/{repeats})")
            for number, (label, way) in rotated(list(enumerate(ways)), repeat):
                table.row(label).add("time", way(scratch / f"{number}-{repeat}"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table.notes.append("`mirror add` resolves with `uv pip compile` (a pylock.toml), downloads "
                       "the chosen files in parallel with their hashes checked, then writes "
                       "PEP 503 pages with hashes, Requires-Python and PEP 658 metadata files")
    table.notes.append("both sides start warm: one untimed run of `pip download` and one of "
                       "`mirror add` fill pip's and uv's caches first (the downloads of "
                       "`mirror add` itself are not cached)")


# --- re-indexing ----------------------------------------------------------------

def tiny_wheel(directory: Path, project: int, version: int, prefix: str = "bench_tiny") -> None:
    name = f"{prefix}_{project:05d}"
    dist = f"{name}-{version}.0.dist-info"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "")
        archive.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\n"
                                             f"Version: {version}.0\nRequires-Python: >=3.8\n")
        archive.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        archive.writestr(f"{dist}/RECORD", "")
    (directory / f"{name}-{version}.0-py3-none-any.whl").write_bytes(buffer.getvalue())


def bench_reindex(work: Path, dir2pi: Path, files: int, repeats: int, log: Path,
                  tables: dict[str, Table]) -> None:
    table = Table("reindex", f"Re-indexing a mirror of {files:,} files after adding 10",
                  [("time", "s")], floor="listing the directory (os.scandir + stat)")
    tables["reindex"] = table
    projects = max(1, files // 10)
    wheels = work / f"reindex-{files}-wheels"
    if not (wheels / ".complete").is_file():
        shutil.rmtree(wheels, ignore_errors=True)
        wheels.mkdir(parents=True)
        say(f"writing {files:,} tiny wheels")
        for number in range(files):
            tiny_wheel(wheels, number % projects, number // projects + 1)
        (wheels / ".complete").write_text("")
    incremental = table.row("`dockerpypi mirror index` (incremental)")
    dir2pi_row = table.row("`dir2pi` (writes every page again)")
    floor = table.row(table.floor)
    base = Path(tempfile.mkdtemp(prefix="tmp-reindex-base-", dir=work))
    say(f"indexing {files:,} files")
    link_tree(wheels, base, "*.whl")
    table.row(f"`dockerpypi mirror index`, first time ({files:,} files)").add(
        "time", run([*dockerpypi_cli(), "mirror", "index", "--mirror-dir", str(base)], log=log))
    scan = [sys.executable, "-c",
            "import os, sys; [e.stat() for e in os.scandir(sys.argv[1])]"]
    for repeat in range(repeats):
        say(f"re-index ({repeat + 1}/{repeats})")
        copy = Path(tempfile.mkdtemp(prefix="tmp-reindex-", dir=work))
        try:
            mirror = copy / "mirror"
            # Hard links: the index replaces its files by renaming, so the base stays intact.
            shutil.copytree(base, mirror, copy_function=os.link)
            plain = copy / "plain"
            link_tree(base, plain, "*.whl")
            for number in range(10):
                version = files // projects + 2 + repeat
                tiny_wheel(mirror, number, version)
                shutil.copy2(mirror / f"bench_tiny_{number:05d}-{version}.0-py3-none-any.whl",
                             plain)
            floor.add("time", run([*scan, str(mirror)], log=log))
            incremental.add("time", run([*dockerpypi_cli(), "mirror", "index", "--mirror-dir",
                                         str(mirror)], log=log))
            dir2pi_row.add("time", run([str(dir2pi), str(plain)], log=log))
        finally:
            shutil.rmtree(copy, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)


# --- a mirror of 100,000 files ------------------------------------------------------

BIG_PROJECTS = 10_000  # of 10 files each
# What the table measures each figure against (issue 15's targets).
BIG_TARGETS = {"first": 20.0, "incremental": 1.0, "check": 10.0, "subset": 0.2}
BIG_PEAK_MB = 300
_SUBSET_SCRIPT = """
import json, os, resource, sys, time
wall, cpu = time.perf_counter(), time.process_time()
from pathlib import Path
from packaging.requirements import Requirement
from dockerpypi.build.subset.closure import select
from dockerpypi.build.subset.directory import write_subset
root, requirements = Path(sys.argv[1]), Path(sys.argv[2])
wanted = [(Requirement(line), requirements.name) for line in requirements.read_text().splitlines()
          if line.strip() and not line.startswith("#")]
chosen = select(root, wanted, ("x86_64",))
directory, temporary = write_subset(root, chosen)
print(json.dumps({"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "files": len(chosen.files), "total": chosen.total_files,
                  "directory": str(directory)}))
"""


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall clock
    cpu: float  # user + system, of the process and the children it waited for
    peak_mb: float  # the largest resident set of the process or of one of its children


def run_measured(argv: Sequence[str], *, log: Path | None = None,
                 env: dict[str, str] | None = None) -> tuple[Measured, str]:
    """Run ``argv``: its wall time, CPU time and peak memory (wait4's rusage), and output."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), env=env or clean_env(), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        took = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        printed = out.read().decode(errors="replace")
    if log is not None:
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {shlex.join(argv)}\n{printed}\n[exit {process.returncode}, "
                         f"{took:.2f}s]\n\n")
    if process.returncode != 0:
        tail = "\n".join(printed.splitlines()[-25:])
        raise Failed(f"{shlex.join(argv)} failed (exit {process.returncode}):\n{tail}")
    return Measured(took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024), printed


def _write_tiny_wheels(directory: str, numbers: Sequence[int], projects: int,
                       prefix: str) -> None:
    for number in numbers:
        tiny_wheel(Path(directory), number % projects, number // projects + 1, prefix=prefix)


def ensure_big_wheels(work: Path, projects: int, log: Path) -> Path:
    """``projects`` projects of 10 tiny wheels each, written once (on every core)."""
    wheels = work / f"big-{projects}-wheels"
    if (wheels / ".complete").is_file():
        return wheels
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    files = projects * 10
    say(f"writing {files:,} tiny wheels for the large mirror (once)")
    from concurrent.futures import ProcessPoolExecutor

    step = 5000
    with ProcessPoolExecutor() as pool:
        for _ in pool.map(_write_tiny_wheels, [str(wheels)] * (files // step + 1),
                          [range(start, min(start + step, files))
                           for start in range(0, files, step)],
                          [projects] * (files // step + 1), ["bench_big"] * (files // step + 1)):
            pass
    (wheels / ".complete").write_text("")
    with log.open("a") as handle:
        handle.write(f"wrote {files} tiny wheels in {wheels}\n")
    return wheels


def _row(table: Table, label: str, measured: Measured, note: str = "") -> None:
    row = table.row(label, note)
    row.add("time", measured.seconds)
    row.add("cpu", measured.cpu)
    row.add("peak", measured.peak_mb)


def _served_new_projects(work: Path, count: int) -> Path:
    """A PEP 503 index of ``count`` projects the large mirror does not hold."""
    from dockerpypi.mirror.index import update_index

    source = Path(tempfile.mkdtemp(prefix="tmp-big-new-", dir=work))
    for number in range(count):
        tiny_wheel(source, number, 1, prefix="bench_new")
    update_index(source)
    return source


def bench_big_mirror(work: Path, requirement_mirror: Path | None, projects: int, repeats: int,
                     log: Path, tables: dict[str, Table]) -> None:
    """The commands a large mirror runs: index (first and incremental), check, a build's
    subset, and ``mirror add``; wall time, CPU time and peak memory of each."""
    files = projects * 10
    table = Table("big", f"A mirror of {files:,} files ({projects:,} projects of 10 wheels)",
                  [("time", "s"), ("cpu", "CPU s"), ("peak", "peak MB")],
                  floor="listing the directory (os.scandir + stat)")
    tables["big"] = table
    wheels = ensure_big_wheels(work, projects, log)
    base = Path(tempfile.mkdtemp(prefix="tmp-big-", dir=work))
    mirror = base / "mirror"
    try:
        link_tree(wheels, mirror, "*.whl")
        if requirement_mirror is not None:  # the benchmark's requirement set, for the subset
            link_tree(requirement_mirror, mirror, "*.whl")
        scan = [sys.executable, "-c",
                "import os, sys; [e.stat() for e in os.scandir(sys.argv[1])]"]
        _row(table, table.floor, run_measured([*scan, str(mirror)], log=log)[0])
        index = [*dockerpypi_cli(), "mirror", "index", "--mirror-dir", str(mirror)]
        say(f"large mirror: first index of {files:,} files")
        _row(table, f"`mirror index`, first time ({BIG_TARGETS['first']:g} s)",
             run_measured(index, log=log)[0])
        for repeat in range(repeats):
            say(f"large mirror: incremental index, check, subset ({repeat + 1}/{repeats})")
            for number in range(10):
                tiny_wheel(mirror, number, 100 + repeat, prefix="bench_big")
            _row(table, f"`mirror index` after adding 10 (< {BIG_TARGETS['incremental']:g} s)",
                 run_measured(index, log=log)[0])
            _row(table, f"`mirror check` ({BIG_TARGETS['check']:g} s)", run_measured(
                [*dockerpypi_cli(), "mirror", "check", "--mirror-dir", str(mirror)],
                log=log)[0])
            if requirement_mirror is not None:
                measured, printed = run_measured(
                    [sys.executable, "-c", _SUBSET_SCRIPT, str(mirror), str(REQUIREMENTS)],
                    log=log)
                chosen = json.loads(printed.strip().splitlines()[-1])
                shutil.rmtree(chosen["directory"], ignore_errors=True)
                # The figure is the subset's share of `dockerpypi build`'s own time: from
                # its imports to the directory written, in the process.
                _row(table, f"a build's subset: choosing and writing it "
                            f"({BIG_TARGETS['subset']:g} s)",
                     Measured(chosen["seconds"], chosen["cpu"], measured.peak_mb),
                     note=f"{chosen['files']} of {chosen['total']:,} files, for the "
                          f"benchmark's requirement set")
        new = _served_new_projects(work, 10)
        try:
            with served(new) as url:
                say("large mirror: `mirror add` of 10 new projects")
                _row(table, "`mirror add` of 10 new projects (from an index on 127.0.0.1)",
                     run_measured([*dockerpypi_cli(), "mirror", "add", "--quiet",
                                   "--mirror-dir", str(mirror), "--index-url", url,
                                   *[f"bench_new_{n:05d}" for n in range(10)]], log=log)[0])
        finally:
            shutil.rmtree(new, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    table.notes.append(
        f"targets (issue 15): first index at most {BIG_TARGETS['first']:g} s, incremental "
        f"under {BIG_TARGETS['incremental']:g} s, check at most {BIG_TARGETS['check']:g} s, "
        f"the subset at most {BIG_TARGETS['subset']:g} s of build's own time, each under "
        f"{BIG_PEAK_MB} MB at its peak; the targets are in each label")
    table.notes.append("CPU s: user and system time of the command and of the processes it "
                       "waited for (the index reads many files on a process per core); peak "
                       "MB: the largest resident set among them")
    if requirement_mirror is None:
        table.notes.append("no subset row: the requirement set's mirror was not filled "
                           "(run the builds section once)")


# --- the command line -----------------------------------------------------------

def bench_cli(work: Path, runs: int, log: Path, tables: dict[str, Table]) -> None:
    hyperfine = shutil.which("hyperfine")
    table = Table("cli", "Start-up of the command line" +
                  (" (hyperfine)" if hyperfine else ""),
                  [("time", "ms")], floor="`python -c pass` (the same interpreter)")
    tables["cli"] = table
    commands = [
        (table.floor, [sys.executable, "-c", "pass"]),
        ("`dockerpypi --version`", [*dockerpypi_cli(), "--version"]),
        ("`dockerpypi render`", [*dockerpypi_cli(), "render"]),
        ("`dockerpypi render stage`", [*dockerpypi_cli(), "render", "stage"]),
    ]
    say("command-line start-up")
    cwd = Path(tempfile.mkdtemp(prefix="tmp-cli-", dir=work))
    try:
        if hyperfine:
            exported = cwd / "hyperfine.json"
            run([hyperfine, "--shell=none", "--warmup", "3", "--runs", str(runs),
                 "--export-json", str(exported), *[shlex.join(argv) for _, argv in commands]],
                log=log, cwd=cwd)
            results = json.loads(exported.read_text())["results"]
            for (label, _), result in zip(commands, results, strict=True):
                row = table.row(label)
                for value in result["times"]:
                    row.add("time", value * 1000)
        else:
            for _ in range(3):
                for _, argv in commands:
                    run(argv, cwd=cwd)
            for _ in range(runs):
                for label, argv in commands:
                    table.row(label).add("time", run(argv, cwd=cwd) * 1000)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)


# --- the build cache this run made ----------------------------------------------

def cache_records() -> list[dict[str, str]]:
    text = subprocess.run(["docker", "buildx", "du", "--verbose"], capture_output=True,
                          text=True, check=False).stdout
    records = []
    for block in re.split(r"\n\s*\n", text):
        record = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            record[key.strip()] = value.strip()
        if "ID" in record:
            records.append(record)
    return records


def _record_bytes(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)\s*(B|kB|MB|GB)", text.strip())
    return float(found.group(1)) * _BYTES[found.group(2)] if found else 0.0


def prune_new_records(before: set[str], token: str) -> None:
    """Remove the cache mounts and mirror copies this run left in the builder.

    Only what is certainly this run's: cache mounts named with its token, and
    copies of a ``pypi-mirror`` context of 10 MB or more made since it started
    (the test suite's mirrors are kilobytes). Layers are left to BuildKit's
    garbage collection: other builds on a shared engine may be using them.
    """
    for record in cache_records():
        if record["ID"] in before:
            continue
        description = record.get("Description", "")
        ours = (record.get("Type") == "exec.cachemount" and token in description) or (
            record.get("Type") == "source.local"
            and description == "local source for pypi-mirror"
            and _record_bytes(record.get("Size", "")) >= 10e6)
        if ours:
            subprocess.run(["docker", "buildx", "prune", "--force", "--filter",
                            f"id={record['ID']}"], capture_output=True, check=False)


# --- main -----------------------------------------------------------------------

SECTIONS = ("builds", "overhead", "large", "fill", "reindex", "big", "cli", "uvstep")


def write_results(tables: dict[str, Table], info: dict[str, Any], args: argparse.Namespace,
                  out: Path, seconds: float) -> str:
    out.mkdir(parents=True, exist_ok=True)
    settings = {"quick": args.quick, "repeats": args.repeat,
                "large_repeats": args.large_repeat, "pad_bytes": args.pad_size,
                "reindex_files": args.reindex_files, "big_projects": args.big_projects,
                "base_image": args.base_image,
                "sections": list(tables)}
    data = {"machine": info, "settings": settings, "seconds": round(seconds),
            "tables": {key: table.to_json() for key, table in tables.items()}}
    (out / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    mode = "`--quick`" if args.quick else "full"
    order = ("builds", "overhead", "large", "fill", "reindex", "big", "cli", "uvstep")
    took = f"{seconds / 60:.0f} minutes" if seconds >= 90 else f"{seconds:.0f} s"
    markdown = (f"Measured {info['date']} ({mode} run, {took}) on "
                f"{machine_line(info)}.\n\n"
                + "\n".join(tables[key].markdown() for key in order if key in tables))
    (out / "results.md").write_text(markdown)
    return markdown


def update_readme(markdown: str) -> None:
    text = README.read_text()
    start, end = text.index(README_START), text.index(README_END)
    README.write_text(text[:start + len(README_START)] + "\n" + markdown + text[end:])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one run of each, 200 MB of padding, 2,000 files to re-index")
    parser.add_argument("--repeat", type=int, help="runs per figure (default 3; 1 with --quick)")
    parser.add_argument("--large-repeat", type=int,
                        help="runs per figure of the large mirror (default 2; 1 with --quick)")
    parser.add_argument("--pad-size", type=parse_size,
                        help="size of the large mirror (default 2G; 200M with --quick)")
    parser.add_argument("--reindex-files", type=int,
                        help="files in the re-indexed mirror (default 10000; 2000 with --quick)")
    parser.add_argument("--big-projects", type=int,
                        help="projects of 10 files in the large mirror (default 10000: "
                             "100,000 files; 2000 with --quick)")
    parser.add_argument("--no-big-subset", dest="big_subset", action="store_false",
                        help="leave out the subset row of the large mirror (it needs the "
                             "requirement set's mirror, filled from the public index once)")
    parser.add_argument("--budget-minutes", type=float, default=16.0,
                        help="stop repeating builds early when a round would make the run "
                             "last longer than this (default 16)")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeat for more)")
    parser.add_argument("--recipe", action="append", metavar="NAME",
                        help="build only this recipe (repeat for more) besides the floor, "
                             "such as dockerpypi-uv-sync")
    parser.add_argument("--base-image", default=DEFAULT_BASE_IMAGE)
    parser.add_argument("--work-dir", type=Path,
                        default=Path.home() / ".cache" / "dockerpypi-bench")
    parser.add_argument("--output", type=Path, default=HERE / "results")
    parser.add_argument("--update-readme", action="store_true",
                        help="replace the results in benchmarks/README.md")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.large_repeat = args.large_repeat or (1 if args.quick else 2)
    args.pad_size = args.pad_size or (200 * 10**6 if args.quick else 2 * 10**9)
    args.reindex_files = args.reindex_files or (2000 if args.quick else 10_000)
    args.big_projects = args.big_projects or (2000 if args.quick else 10_000)
    sections = args.only or list(SECTIONS)

    started = time.monotonic()
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bench.log"
    log.write_text("")
    say(f"log: {log}")
    token = uuid.uuid4().hex[:10]
    tables: dict[str, Table] = {}
    info = machine()
    before = {record["ID"] for record in cache_records()}
    builds: Builds | None = None
    try:
        if {"builds", "overhead", "large", "uvstep"} & set(sections):
            mirror = ensure_mirror(work, log)
            builds = Builds(work, mirror, args.base_image, log, token)
            builds.build_base()
        if builds is not None and "builds" in sections:
            # The sections after the builds take about this long (2 GB, 10,000 files).
            rest = sum(seconds for section, seconds in (
                ("large", 40 + 90 * args.large_repeat * args.pad_size / 2e9),
                ("fill", 20 + 35 * args.repeat),
                ("reindex", 30 * args.reindex_files / 10_000 + 10 * args.repeat),
                ("big", 60 * args.big_projects / 10_000 + 30 * args.repeat),
                ("cli", 45)) if section in sections)
            bench_builds(builds, args.repeat, tables,
                         deadline=started + args.budget_minutes * 60 - rest - 30,
                         only=args.recipe or ())
        if builds is not None and {"builds", "overhead"} & set(sections):
            bench_overhead(builds, args.repeat, tables)
        if builds is not None and "large" in sections:
            padded = ensure_padded(work, builds.mirror, args.pad_size, log)
            bench_large(builds, padded, args.large_repeat, tables)
            floor = tables["builds"].floor_value("cold") if "builds" in tables else None
            if floor:  # one floor for every build
                ratios = [f"{row.label} {value / floor:.2f}" for row in tables["large"].rows
                          if (value := row.median("cold")) is not None]
                tables["large"].notes.append("against the floor build of the table above "
                                             "(cold): " + ", ".join(ratios))
        if builds is not None and "uvstep" in sections:
            bench_uv_step(builds, ensure_uv_mirror(work, builds.mirror, log), args.repeat,
                          tables)
        if "fill" in sections or "reindex" in sections:
            dir2pi = ensure_pip2pi(work, log)
            if "fill" in sections:
                bench_fill(work, dir2pi, args.repeat, log, tables)
            if "reindex" in sections:
                bench_reindex(work, dir2pi, args.reindex_files, args.repeat, log, tables)
        if "big" in sections:
            bench_big_mirror(work, ensure_mirror(work, log) if args.big_subset else None,
                             args.big_projects, args.repeat, log, tables)
        if "cli" in sections:
            bench_cli(work, 10 if args.quick else 20, log, tables)
    except Failed as error:
        say(str(error))
        return 1
    finally:
        if builds is not None:
            builds.remove_images()
        for leftover in work.glob("tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        prune_new_records(before, token)
    markdown = write_results(tables, info, args, args.output, time.monotonic() - started)
    if args.update_readme:
        update_readme(markdown)
    print(markdown)
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
