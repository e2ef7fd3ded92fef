"""Sending a build only the part of the mirror it can need (dockerpypi/build/subset/).

The mirrors are generated wheels, indexed by dockerpypi itself; a wheel for
another platform is the same zip under a tagged file name (the index reads
only its METADATA). One test builds on the real engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from support.docker import LABELS, unique_tag
from support.dockerfiles import installed
from support.wheels import make_sdist, make_wheel

from dockerpypi import caches
from dockerpypi.build import kept_subset
from dockerpypi.build.command import parse_docker_args
from dockerpypi.build.engine import EngineInfo
from dockerpypi.build.subset import CannotTell
from dockerpypi.build.subset.closure import Selection, select
from dockerpypi.build.subset.directory import remove_stale, subset_name, write_subset
from dockerpypi.build.subset.send import mirror_context
from dockerpypi.build.subset.target import tag_fits
from dockerpypi.build.subset.wanted import parse_requirements, target_machines
from dockerpypi.cli import main
from dockerpypi.dockerfile.steps import MirrorSteps, UnreadableSteps, read_steps
from dockerpypi.mirror import index as index_module
from dockerpypi.mirror import pages as pages_module
from dockerpypi.mirror.index import list_projects, update_index
from dockerpypi.render.steps import RunOptions, render_run, render_stage

X86 = ("x86_64",)
PY311 = ((3, 11),)
# What the build's engine probe said: the builder builds for linux/amd64.
ENGINE = EngineInfo("26.1.5", "0.13.1", "docker", None, "linux/amd64", "linux/amd64")
PREFIX = caches.MIRROR_SUBSETS.name  # of every subset directory in the mirror


def wheel(root: Path, name: str, version: str, tag: str = "py3-none-any", **kwargs: Any) -> Path:
    """A generated wheel for ``tag``."""
    return make_wheel(root, name, version, tag=tag, **kwargs)


def sdist(root: Path, name: str, version: str) -> Path:
    """A minimal sdist: a tar.gz with PKG-INFO."""
    return make_sdist(root, name, version)


def indexed(root: Path) -> Path:
    result = update_index(root)
    assert not result.warnings, result.warnings
    return root


def roots(*lines: str) -> list[tuple[Requirement, str]]:
    return [(Requirement(line), "requirements.txt") for line in lines]


def names(selection: Selection) -> set[str]:
    return {f.filename for f in selection.files}


@pytest.fixture
def web_mirror(tmp_path: Path) -> Path:
    """An app with ranged, platform, Python, and extra dependencies, and files it never needs."""
    root = tmp_path / "mirror"
    wheel(root, "app", "1.0", requires=[
        "lib>=1",
        "winonly; sys_platform == 'win32'",
        "backport; python_version < '3.11'",
        "fancy-dep; extra == 'fancy'",
        "arm-helper; platform_machine == 'aarch64'",
    ])
    wheel(root, "lib", "0.5")
    wheel(root, "lib", "1.0", requires=["leaf"])
    wheel(root, "lib", "2.0", requires=["leaf>=2"])
    wheel(root, "leaf", "1.0")
    wheel(root, "leaf", "2.0")
    for name in ("winonly", "backport", "fancy-dep", "arm-helper", "unrelated"):
        wheel(root, name, "1.0")
    return indexed(root)


# --- the closure ---------------------------------------------------------------

def test_every_version_a_resolver_may_try_is_sent_and_nothing_else(web_mirror: Path) -> None:
    selection = select(web_mirror, roots("app"), X86, pythons=PY311)
    assert names(selection) == {
        "app-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl", "lib-2.0-py3-none-any.whl",
        "leaf-1.0-py3-none-any.whl", "leaf-2.0-py3-none-any.whl"}
    assert selection.total_files == 11
    assert selection.pythons == PY311


def test_markers_are_evaluated_for_the_target(web_mirror: Path) -> None:
    # Every CPython the mirror serves: 3.10 needs the backport, so it is sent.
    wide = names(select(web_mirror, roots("app"), X86))
    assert "backport-1.0-py3-none-any.whl" in wide
    assert "winonly-1.0-py3-none-any.whl" not in wide
    assert "arm_helper-1.0-py3-none-any.whl" not in wide
    arm = names(select(web_mirror, roots("app"), ("aarch64",), pythons=PY311))
    assert "arm_helper-1.0-py3-none-any.whl" in arm
    # A marker on the requirement line itself.
    assert names(select(web_mirror, roots("app; sys_platform == 'darwin'", "leaf==1.0"),
                               X86, pythons=PY311)) == {"leaf-1.0-py3-none-any.whl"}


def test_markers_on_what_cannot_be_known_from_outside_send_the_dependency(
        tmp_path: Path) -> None:
    # The image's patch level is unknown here: a dependency for one patch
    # release must travel, or an offline build in that image fails.
    make_wheel(tmp_path, "patchy", "1.0",
               requires=['exact-dep; python_full_version == "3.11.2"',
                         'never-dep; python_version < "3.0"'])
    make_wheel(tmp_path, "exact-dep", "1.0")
    make_wheel(tmp_path, "never-dep", "1.0")
    update_index(tmp_path)
    sent = names(select(tmp_path, roots("patchy"), X86, pythons=PY311))
    assert "exact_dep-1.0-py3-none-any.whl" in sent
    assert "never_dep-1.0-py3-none-any.whl" not in sent


def test_extras_bring_their_dependencies(web_mirror: Path) -> None:
    plain = names(select(web_mirror, roots("app"), X86, pythons=PY311))
    fancy = names(select(web_mirror, roots("app[fancy]"), X86, pythons=PY311))
    assert fancy - plain == {"fancy_dep-1.0-py3-none-any.whl"}


def test_the_image_python_and_machine_come_from_the_binary_wheels(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    wheel(root, "app", "1.0", requires=["numeric>=1", "backport; python_version < '3.11'"])
    wheel(root, "backport", "1.0")
    # Filled for CPython 3.11 on two machines; an abi3 wheel fits 3.8 and later.
    for tag in ("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
                "cp311-cp311-manylinux_2_28_aarch64", "cp311-cp311-win_amd64",
                "cp311-cp311-macosx_11_0_arm64"):
        wheel(root, "numeric", "1.0", tag, requires=["speedups"])
    wheel(root, "speedups", "1.0", "cp38-abi3-manylinux_2_17_x86_64")
    wheel(root, "speedups", "1.0", "cp38-abi3-musllinux_1_2_aarch64")
    indexed(root)
    selection = select(root, roots("app"), X86)
    assert selection.pythons == PY311  # the only CPython the mirror can serve numeric to
    assert names(selection) == {
        "app-1.0-py3-none-any.whl",
        "numeric-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "speedups-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"}
    arm = names(select(root, roots("app"), ("aarch64",)))
    assert "numeric-1.0-cp311-cp311-manylinux_2_28_aarch64.whl" in arm
    assert "speedups-1.0-cp38-abi3-musllinux_1_2_aarch64.whl" in arm
    both = select(root, roots("app"), ("x86_64", "aarch64"))
    assert len(both.files) == 5


@pytest.mark.parametrize("python", [(3, 8), (3, 11), (3, 13)])
def test_tag_rules_agree_with_packaging(python: tuple[int, int]) -> None:
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(40, 4, -1)] + [
        "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64",
        "musllinux_1_2_x86_64", "linux_x86_64"]
    abi = f"cp{python[0]}{python[1]}"
    expected = {*cpython_tags(python, [abi], platforms), *compatible_tags(python, abi, platforms)}
    candidates = {Tag(interpreter, abi_tag, platform)
                  for interpreter in ("cp38", "cp310", "cp311", "cp312", "cp313", "py3", "py2",
                                      "py38", "py311", "py312", "pp310")
                  for abi_tag in ("cp38", "cp311", "cp313", "cp313t", "abi3", "none")
                  for platform in ("any", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                                   "manylinux_2_28_aarch64", "musllinux_1_2_x86_64",
                                   "linux_x86_64", "win_amd64", "macosx_11_0_x86_64")}
    assert expected & candidates
    for tag in candidates:
        assert tag_fits(tag, python, "x86_64") == (tag in expected), tag


@pytest.mark.parametrize(("lines", "reason"), [
    (("ghost",), "no wheel of ghost"),
    (("app", "lib>=3"), "no wheel of lib>=3"),
    (("built",), "built 1.0 is only an sdist"),
])
def test_what_the_mirror_cannot_serve_from_wheels_sends_it_whole(
        web_mirror: Path, lines: tuple[str, ...], reason: str) -> None:
    sdist(web_mirror, "built", "1.0")
    indexed(web_mirror)
    with pytest.raises(CannotTell, match=re.escape(reason)):
        select(web_mirror, roots(*lines), X86, pythons=PY311)


def test_an_unindexed_or_stale_mirror_is_sent_whole(tmp_path: Path, web_mirror: Path) -> None:
    bare = tmp_path / "bare"
    wheel(bare, "app", "1.0")
    with pytest.raises(CannotTell, match="no usable dockerpypi index"):
        select(bare, roots("app"), X86)
    (web_mirror / "leaf-2.0-py3-none-any.whl").write_bytes(b"changed since it was indexed")
    with pytest.raises(CannotTell, match=re.escape("out of date for leaf-2.0")):
        select(web_mirror, roots("app"), X86, pythons=PY311)


# --- requirements files and Dockerfiles ------------------------------------------

def test_requirements_files_are_read_as_pip_reads_them() -> None:
    text = ("# pinned\n"
            "lib==1.0 \\\n    --hash=sha256:aaaa \\\n    --hash sha256:bbbb\n"
            "--prefer-binary\n"
            "app[fancy]>=1 ; python_version >= \"3.8\"  # why\n"
            "\n")
    found = parse_requirements(text, "requirements.txt")
    assert [str(r) for r in found] == ["lib==1.0", 'app[fancy]>=1; python_version >= "3.8"']


@pytest.mark.parametrize("line", [
    "-r other.txt", "-c constraints.txt", "--index-url http://127.0.0.1/simple/", "-e .",
    ".", "./src/pkg", "app @ file:///wheels/app-1.0-py3-none-any.whl",
    "app-1.0-py3-none-any.whl", "app==${VERSION}", "app --config-settings=x=y",
])
def test_requirements_that_are_not_names_from_an_index_send_it_whole(line: str) -> None:
    with pytest.raises(CannotTell, match=re.escape("requirements.txt line 2")):
        parse_requirements(f"lib\n{line}\n", "requirements.txt")


def _dockerfile(*steps: str) -> str:
    return render_stage() + "FROM python\n" + "".join(steps)


def test_the_steps_dockerpypi_renders_are_understood() -> None:
    text = _dockerfile(
        render_run(RunOptions()),
        render_run(RunOptions(installer="uv", requirements="requirements/prod.txt", uid=1000)),
        "RUN apt-get update\n")
    assert read_steps(text) == MirrorSteps(["requirements.txt", "requirements/prod.txt"], set())
    crlf = text.replace("\n", "\r\n")
    assert read_steps(crlf).requirements == ["requirements.txt", "requirements/prod.txt"]



def test_steps_rendered_before_the_exports_came_first_are_understood() -> None:
    # dockerpypi 0.1 sourced the env file before exporting the cache variables.
    step = render_run(RunOptions(installer="pip")).split("\n")
    sourcing = next(i for i, line in enumerate(step) if line.strip().startswith("if [ -f"))
    assert step[sourcing - 1].strip().startswith("export ")  # today's order
    step[sourcing - 1], step[sourcing] = step[sourcing], step[sourcing - 1]
    assert read_steps(_dockerfile("\n".join(step))).requirements == ["requirements.txt"]

@pytest.mark.parametrize(("text", "reason"), [
    (_dockerfile("RUN pip install numpy\n"), "no RUN step installs a requirements file"),
    (_dockerfile(render_run(RunOptions()), "COPY --from=pypi-mirror / /wheels\n"),
     "COPY uses pypi-mirror"),
    (_dockerfile(render_run(RunOptions()), "FROM pypi-mirror AS copy\n"), "FROM pypi-mirror"),
    ("# syntax=example.org/frontend:1\n" + _dockerfile(render_run(RunOptions())),
     "the frontend example.org/frontend:1"),
])
def test_dockerfiles_it_cannot_follow_send_it_whole(text: str, reason: str) -> None:
    with pytest.raises(UnreadableSteps, match=re.escape(reason)):
        read_steps(text)


def test_the_machines_come_from_the_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUILDX_BUILDER", raising=False)
    given = parse_docker_args(["--platform", "linux/arm64,linux/amd64/v3", "."])
    assert target_machines(given, [], ENGINE) == ("aarch64", "x86_64")
    plain = parse_docker_args(["."])
    assert target_machines(plain, [], ENGINE) == ("x86_64",)
    assert target_machines(plain, ["$BUILDPLATFORM", "linux/arm/v7"], ENGINE) == (
        "x86_64", "armv7l")
    for platform in ("windows/amd64", "linux/mips64le"):
        with pytest.raises(CannotTell, match="not one dockerpypi knows"):
            target_machines(parse_docker_args(["--platform", platform, "."]), [], ENGINE)
    with pytest.raises(CannotTell, match="cannot evaluate"):
        target_machines(plain, ["$MY_PLATFORM"], ENGINE)
    # The builder's platform is the build's engine answer, not another question to docker.
    arm = EngineInfo("26.1.5", "0.13.1", "docker", None, "linux/arm64", "linux/riscv64")
    assert target_machines(plain, [], arm) == ("aarch64",)
    monkeypatch.setenv("BUILDX_BUILDER", "cross")  # the probe asked about that builder
    assert target_machines(plain, [], arm) == ("riscv64",)
    with pytest.raises(CannotTell, match="docker did not say which platform"):
        target_machines(plain, [], None)  # no engine answered (a dry run without one)
    assert target_machines(given, [], None) == ("aarch64", "x86_64")


# --- the directory -------------------------------------------------------------

def test_the_subset_is_hard_links_with_pages_pip_installs_from(
        web_mirror: Path, tmp_path: Path) -> None:
    selection = select(web_mirror, roots("app"), X86, pythons=PY311)
    directory, temporary = write_subset(web_mirror, selection)
    assert not temporary
    assert directory.parent == web_mirror
    assert directory.name == subset_name(selection)
    # The same choice finds the same directory; another choice gets its own.
    assert write_subset(web_mirror, selection) == (directory, False)
    other = select(web_mirror, roots("leaf==1.0"), X86, pythons=PY311)
    assert write_subset(web_mirror, other)[0] != directory
    assert directory.stat().st_mode & 0o777 == 0o755
    for name in names(selection):
        assert (directory / name).stat().st_ino == (web_mirror / name).stat().st_ino
        assert (directory / f"{name}.metadata").is_file()
    assert sorted(p.name for p in directory.iterdir() if p.is_dir()) == ["app", "leaf", "lib"]
    # The mirror's own tools do not see it.
    assert update_index(web_mirror).pages_written == 0
    assert [p.name for p in list_projects(web_mirror)] == [
        "app", "arm-helper", "backport", "fancy-dep", "leaf", "lib", "unrelated", "winonly"]
    # The host's pip resolves from it alone, as the build step will.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--index-url", directory.as_uri(), "--report", "-", "app"],
        capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    chosen = {item["metadata"]["name"]: item["metadata"]["version"]
              for item in json.loads(done.stdout)["install"]}
    assert chosen == {"app": "1.0", "lib": "2.0", "leaf": "2.0"}


def test_copies_where_links_fail(web_mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source: Path, target: Path) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    selection = select(web_mirror, roots("leaf==1.0"), X86, pythons=PY311)
    directory, _ = write_subset(web_mirror, selection)
    copied = directory / "leaf-1.0-py3-none-any.whl"
    assert copied.read_bytes() == (web_mirror / copied.name).read_bytes()
    assert copied.stat().st_ino != (web_mirror / copied.name).stat().st_ino


@pytest.fixture
def context(tmp_path: Path) -> Path:
    directory = tmp_path / "ctx"
    directory.mkdir()
    (directory / "Dockerfile").write_text(_dockerfile(render_run(RunOptions())))
    (directory / "requirements.txt").write_text("app\n")
    return directory


def test_the_subset_stays_for_the_next_build_and_is_told_to_remember(
        web_mirror: Path, context: Path) -> None:
    lines: list[str] = []
    remembered: list[tuple[Path, str, dict[str, str]]] = []
    given = parse_docker_args(["-t", "app", str(context)])

    def remember(directory: Path, summary: str, sources: dict[str, str]) -> None:
        remembered.append((directory, summary, sources))

    with mirror_context(given, web_mirror, engine=ENGINE, dry_run=False, echo=lines.append,
                               remember=remember) as sent:
        assert sent is not None
        assert sent.parent == web_mirror
        assert (sent / "lib-2.0-py3-none-any.whl").is_file()
    assert sent.is_dir()  # kept: the next build sends the same directory
    assert len(lines) == 1
    assert re.fullmatch(r"sending 6 of 11 mirror files \([\d.]+ kB of [\d.]+ kB\) for CPython 3\.8 "
                        r"to 3\.15 on x86_64", lines[0])
    assert remembered == [(sent, lines[0].removeprefix("sending "),
                           {"requirements.txt": "app\n"})]
    with pytest.raises(KeyboardInterrupt), \
            mirror_context(given, web_mirror, engine=ENGINE, dry_run=False,
                           echo=lines.append) as again:
        raise KeyboardInterrupt
    assert again == sent
    assert [p.name for p in web_mirror.iterdir() if p.name.startswith(PREFIX)] == [sent.name]


def test_a_subset_outside_a_read_only_mirror_is_removed_however_the_build_ends(
        web_mirror: Path, context: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mkdtemp = tempfile.mkdtemp

    def read_only_mirror(*args: Any, **kwargs: Any) -> str:
        if kwargs.get("dir") == web_mirror:
            raise PermissionError(13, "Read-only file system")
        return real_mkdtemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkdtemp", read_only_mirror)
    given = parse_docker_args([str(context)])
    seen: list[Path] = []

    def build() -> None:
        with mirror_context(given, web_mirror, engine=ENGINE, dry_run=False, echo=print) as sent:
            assert sent is not None
            assert (sent / "lib-2.0-py3-none-any.whl").is_file()
            seen.append(sent)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build()
    assert seen[0].parent != web_mirror
    assert not seen[0].exists()


def test_a_dry_run_writes_nothing_and_a_fallback_sends_the_mirror(
        web_mirror: Path, context: Path) -> None:
    lines: list[str] = []
    given = parse_docker_args([str(context)])
    with mirror_context(given, web_mirror, engine=ENGINE, dry_run=True, echo=lines.append) as sent:
        assert sent is not None
        assert sent.parent == web_mirror  # named by what it would hold
        assert sent.name.startswith(PREFIX)
        assert not sent.exists()
    assert lines[-1].startswith("would send 6 of 11 mirror files")
    (context / "requirements.txt").write_text("-e .\n")
    with mirror_context(given, web_mirror, engine=ENGINE, dry_run=False, echo=lines.append) as sent:
        assert sent == web_mirror
    assert lines[-1] == ("sending the whole mirror: requirements.txt line 1: the option -e may "
                         "bring files dockerpypi cannot follow")
    own = parse_docker_args(["--build-context", "pypi-mirror=/elsewhere", str(context)])
    with mirror_context(own, web_mirror, engine=ENGINE, dry_run=False, echo=lines.append) as sent:
        assert sent == web_mirror  # plan_build keeps the user's context
    assert len(lines) == 2
    assert sorted(p.name for p in web_mirror.iterdir() if p.name.startswith(".")) == [
        ".dockerpypi-index.json", ".dockerpypi.lock"]


def test_a_dockerfile_it_cannot_follow_sends_the_whole_mirror(
        web_mirror: Path, context: Path) -> None:
    custom = _dockerfile(render_run(RunOptions(
        command=("pip", "install", "--find-links", "/wheels", "app"))))
    (context / "Dockerfile").write_text(custom)
    line = next(n for n, text in enumerate(custom.splitlines(), start=1)
                if text.startswith("RUN "))
    lines: list[str] = []
    given = parse_docker_args([str(context)])
    with mirror_context(given, web_mirror, engine=ENGINE, dry_run=True, echo=lines.append) as sent:
        assert sent == web_mirror
    assert lines == [f"sending the whole mirror: line {line}: a step with a custom command "
                     "installs from the mirror"]


@pytest.mark.parametrize("command", [("pip", "install", "app"),
                                     ("/venv/bin/pip", "install", "-U", "--user", "app")])
def test_a_tool_installed_by_name_with_pip_is_followed(
        web_mirror: Path, context: Path, command: tuple[str, ...]) -> None:
    """`RUN pip install poetry` of a tool's documentation: its closure, as a requirements file's."""
    (context / "Dockerfile").write_text(_dockerfile(render_run(RunOptions(command=command))))
    lines: list[str] = []
    with mirror_context(parse_docker_args([str(context)]), web_mirror, engine=ENGINE,
                        dry_run=True, echo=lines.append):
        pass
    (context / "Dockerfile").write_text(_dockerfile(render_run(RunOptions())))
    rendered: list[str] = []
    with mirror_context(parse_docker_args([str(context)]), web_mirror, engine=ENGINE,
                        dry_run=True, echo=rendered.append):
        pass
    assert lines == rendered
    assert lines[0].startswith("would send ")


def as_an_older_dockerpypi_left_it(mirror: Path) -> None:
    """Pages with PEP 658's older attribute, and a state file without a page format."""
    for page in mirror.glob("*/index.html"):
        page.write_text(page.read_text().replace("data-core-metadata=",
                                                 "data-dist-info-metadata="))
    state = mirror / ".dockerpypi-index.json"
    head, _, entries = state.read_text().partition("\n")
    data = json.loads(head)
    del data["pages"]
    state.write_text(json.dumps(data, separators=(",", ":")) + "\n" + entries)


def test_the_whole_mirror_is_sent_with_its_older_pages_written_again(
        web_mirror: Path, context: Path) -> None:
    as_an_older_dockerpypi_left_it(web_mirror)
    (context / "requirements.txt").write_text("-e .\n")  # the whole mirror is sent
    lines: list[str] = []
    given = parse_docker_args([str(context)])

    with mirror_context(given, web_mirror, engine=ENGINE, dry_run=False, echo=lines.append) as sent:
        assert sent == web_mirror
        pages = "".join(p.read_text() for p in web_mirror.glob("*/index.html"))
        assert "data-dist-info-metadata" not in pages
        assert "data-core-metadata" in pages
    assert lines[1] == "wrote the mirror's pages again in this dockerpypi's shape"

    with mirror_context(given, web_mirror, engine=ENGINE, dry_run=False, echo=lines.append):
        pass
    assert len(lines) == 3  # once


def test_a_subset_is_named_for_the_shape_of_its_pages_too(
        web_mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    selection = select(web_mirror, roots("app"), X86)
    now = subset_name(selection)
    monkeypatch.setattr(index_module, "PAGE_FORMAT", index_module.PAGE_FORMAT - 1)
    assert subset_name(selection) != now  # one of older pages is never taken


def test_unused_subsets_and_leftovers_of_a_killed_build_are_pruned(web_mirror: Path) -> None:
    now = 10_000_000.0
    day = 24 * 3600.0

    def made(name: str, age: float) -> Path:
        directory = web_mirror / f"{PREFIX}{name}"
        (directory / "app").mkdir(parents=True)
        os.utime(directory, (now - age, now - age))
        return directory

    stale_writing = made("writing-killed", 2 * day)
    fresh_writing = made("writing-now", 60)  # another build is writing it
    unused = made("unused", 8 * day)
    recent = [made(f"recent{n:02d}", n * 60) for n in range(caches.SUBSET_KEEP_LIMIT + 2)]
    remove_stale(web_mirror, now=now)
    assert not stale_writing.exists()
    assert fresh_writing.exists()
    assert not unused.exists()
    # Past the most recent KEEP_LIMIT, only those not used for an hour go.
    assert all(d.exists() for d in recent)
    remove_stale(web_mirror, now=now + 2 * 3600)
    assert [d.exists() for d in recent] == [True] * caches.SUBSET_KEEP_LIMIT + [False, False]


def test_build_dry_run_shows_the_subset(web_mirror: Path, context: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["build", "--dry-run", "--offline", "--mirror-dir", str(web_mirror),
              "--platform=linux/amd64", "-t", "app", str(context)])
    out, err = capsys.readouterr()
    assert exited.value.code == 0, err
    assert re.search(rf"--build-context pypi-mirror={re.escape(str(web_mirror))}/"
                     r"\.dockerpypi-subset-[0-9a-f]{32} ", out)
    assert "dockerpypi: would send 6 of 11 mirror files" in err


# --- on the engine -------------------------------------------------------------

@pytest.mark.docker
@pytest.mark.slow
def test_a_real_build_gets_only_the_subset(
        tmp_path: Path, base_image: str, make_mirror: Callable[..., Path]) -> None:
    padding = os.urandom(4_000_000)  # incompressible, so the transfer shows it
    mirror = make_mirror([
        {"name": "dockerpypi-alpha", "version": "1.0.7"},
        {"name": "dockerpypi-app", "version": "3.1",
         "requires": ["dockerpypi-alpha>=1", "dockerpypi-win; sys_platform == 'win32'"]},
        {"name": "dockerpypi-win", "version": "1.0"},
        {"name": "dockerpypi-padding", "version": "1.0", "files": {"blob.bin": padding}},
    ], origin="subset-mirror")
    update_index(mirror)  # the state the subset is read from
    context = tmp_path / "context"
    context.mkdir()
    (context / "requirements.txt").write_text("dockerpypi-app\n")
    (context / "Dockerfile").write_text(
        render_stage() + f"FROM {base_image}\nRUN python3 -m venv /opt/venv\n"
        "ENV PATH=/opt/venv/bin:$PATH\n" + render_run(RunOptions()))
    tag = unique_tag("subset")
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    result = subprocess.run(
        [sys.executable, "-m", "dockerpypi", "build", "--offline", "--mirror-dir", str(mirror),
         *labels, "--no-cache", "--progress=plain", "-t", tag, "--load", str(context)],
        capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "dockerpypi: sending 2 of 4 mirror files" in result.stderr
    sent = [float(size) * {"B": 1, "kB": 1e3, "MB": 1e6}[unit] for size, unit in
            re.findall(r"transferring pypi-mirror: ([\d.]+)(B|kB|MB)", result.stderr)]
    assert sent, result.stderr[-4000:]
    assert max(sent) < 100_000  # the padding stayed home
    assert installed(tag, "dockerpypi-app", "dockerpypi-alpha") == {
        "dockerpypi-app": ("3.1", "subset-mirror"), "dockerpypi-alpha": ("1.0.7", "subset-mirror")}
    kept = [p for p in mirror.iterdir() if p.name.startswith(PREFIX)]
    assert len(kept) == 1  # stays for the next build
    # The next build finds it again without choosing anew, and sends the same directory.
    again = subprocess.run(
        [sys.executable, "-m", "dockerpypi", "build", "--offline", "--mirror-dir", str(mirror),
         *labels, "--progress=plain", "-t", tag, "--load", str(context)],
        capture_output=True, text=True, check=False, timeout=600)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "dockerpypi: sending 2 of 4 mirror files" in again.stderr
    assert "(as chosen for an earlier build)" in again.stderr, again.stderr[-4000:]
    assert [p for p in mirror.iterdir() if p.name.startswith(PREFIX)] == kept


# --- the subset an earlier build chose -------------------------------------------

PLATFORMS = ("linux/amd64", "linux/amd64")


def _choose_and_keep(given: Any, mirror: Path) -> Path:
    def remember(directory: Path, summary: str, sources: dict[str, str]) -> None:
        kept_subset.remember(given, mirror, PLATFORMS, sources, directory, summary)

    with mirror_context(given, mirror, engine=ENGINE, dry_run=False, echo=print,
                               remember=remember) as sent:
        assert sent is not None
        return sent


def test_a_kept_subset_is_found_while_nothing_it_read_changed(
        web_mirror: Path, context: Path) -> None:
    given = parse_docker_args(["-t", "app", str(context)])
    assert kept_subset.lookup(given, web_mirror, PLATFORMS) is None
    sent = _choose_and_keep(given, web_mirror)
    found = kept_subset.lookup(given, web_mirror, PLATFORMS)
    assert found is not None
    assert found.directory == sent
    assert found.summary.startswith("6 of 11 mirror files")
    # Another platform, another Dockerfile path or tag-independent options: not the same key.
    assert kept_subset.lookup(given, web_mirror, ("linux/arm64", "linux/arm64")) is None
    assert kept_subset.lookup(parse_docker_args(["--platform", "linux/arm64", str(context)]),
                               web_mirror, PLATFORMS) is None


@pytest.mark.parametrize("change", ["requirements", "same-length", "dockerfile", "mirror",
                                    "pages", "directory"])
def test_a_kept_subset_is_not_used_once_something_it_read_changed(
        web_mirror: Path, context: Path, change: str, monkeypatch: pytest.MonkeyPatch) -> None:
    given = parse_docker_args([str(context)])
    sent = _choose_and_keep(given, web_mirror)
    if change == "requirements":
        (context / "requirements.txt").write_text("app\nleaf==1.0\n")
    elif change == "same-length":  # one character: the length alone would not tell
        text = (context / "requirements.txt").read_text()
        (context / "requirements.txt").write_text(text.replace("app", "apq", 1))
    elif change == "dockerfile":
        (context / "Dockerfile").write_text((context / "Dockerfile").read_text() + "RUN true\n")
    elif change == "mirror":  # a fill or a re-index rewrites the state
        wheel(web_mirror, "lib", "3.0")
        update_index(web_mirror)
    elif change == "pages":  # a dockerpypi that writes its pages in another shape
        monkeypatch.setattr(pages_module, "PAGE_FORMAT", pages_module.PAGE_FORMAT + 1)
    else:
        shutil.rmtree(sent)
    assert kept_subset.lookup(given, web_mirror, PLATFORMS) is None


def test_a_build_with_a_kept_subset_does_not_import_the_subset_machinery(
        web_mirror: Path, context: Path, tmp_path: Path) -> None:
    script = f"""
import sys
from pathlib import Path
from dockerpypi.build.command import parse_docker_args
from dockerpypi.build.engine import EngineInfo
from dockerpypi.build.pipeline import BuildRun
from dockerpypi.build.transports import ContextTransport, mirror_sent
from dockerpypi.settings.resolve import resolve_settings
given = parse_docker_args([{str(context)!r}])
engine = EngineInfo("26.1.5", "0.13.1", "docker", None, "linux/amd64", "linux/amd64")
run = BuildRun(given, resolve_settings({{}}), Path({str(web_mirror)!r}),
               ContextTransport(True, "test"), engine=engine,
               report=lambda line: print("dockerpypi:", line, file=sys.stderr))
for round in (1, 2):
    for name in [m for m in sys.modules if m.startswith(("dockerpypi.build.subset", "packaging"))]:
        del sys.modules[name]
    with mirror_sent(run) as sent:
        print(round, sent.name, "dockerpypi.build.subset" in sys.modules,
              any(m.startswith("packaging") for m in sys.modules), flush=True)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ,
                                                        "XDG_CACHE_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    first, second = (line.split() for line in done.stdout.splitlines())
    assert first[1] == second[1]  # the same directory
    assert first[2:] == ["True", "True"]
    assert second[2:] == ["False", "False"], done.stderr
    assert "(as chosen for an earlier build)" in done.stderr


def test_the_kept_subset_looks_at_the_state_file_the_index_writes() -> None:
    # kept_subset spells the name out so as not to import the index.
    from dockerpypi.mirror.state import STATE_FILE

    assert kept_subset.STATE_FILE == STATE_FILE
