"""The mirror subset of a build whose steps install a lock file: the lock's files, no more.

The lock is made by the host's uv against a fake index on 127.0.0.1 that
holds wheels for several platforms, an sdist, and versions the lock does not
pick; the mirror is filled by ``mirror add uv.lock`` and padded with files
no step reads. The Dockerfile is uv's guide as ``--inject`` rewrites it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main
from support.index import write_simple_index
from support.server import ServedURL
from support.uvproject import uv_lock, write_project
from support.wheels import make_sdist, make_wheel

from dockerpypi.build import kept_subset
from dockerpypi.build.command import parse_docker_args
from dockerpypi.build.engine import EngineInfo
from dockerpypi.build.subset import CannotTell
from dockerpypi.build.subset.closure import select
from dockerpypi.build.subset.locks import LOCK_KINDS, step_locks
from dockerpypi.build.subset.send import mirror_context
from dockerpypi.build.subset.wanted import read_build
from dockerpypi.dockerfile.inject import inject
from dockerpypi.dockerfile.steps import OtherStep, read_steps
from dockerpypi.mirror.index import update_index
from dockerpypi.render.steps import RunOptions, render_run, render_stage

ENGINE = EngineInfo("26.1.5", "0.13.1", "docker", None, "linux/amd64", "linux/amd64")
NATIVE = "dockerpypi_native-1.0-cp311-cp311-manylinux_2_17_{}.whl"

# uv's Docker guide (dependencies from the bind-mounted lock, then the project).
GUIDE = """\
FROM python
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --locked --no-install-project
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    {last}
"""


@pytest.fixture
def project(tmp_path: Path, http_mirror: Callable[..., ServedURL],
            uv_binary: Path) -> Path:
    """A uv project locked against an index with wheels for three platforms and an sdist."""
    upstream = tmp_path / "upstream"
    make_wheel(upstream, "dockerpypi-app", "1.0", requires=[
        "dockerpypi-native<2", "dockerpypi-winonly; sys_platform == 'win32'"])
    for platform in ("x86_64", "aarch64"):
        make_wheel(upstream, "dockerpypi-native", "1.0",
                   tag=f"cp311-cp311-manylinux_2_17_{platform}")
    make_wheel(upstream, "dockerpypi-native", "1.0", tag="cp311-cp311-win_amd64")
    make_sdist(upstream, "dockerpypi-native", "1.0")
    make_wheel(upstream, "dockerpypi-native", "2.0", tag="cp311-cp311-manylinux_2_17_x86_64")
    make_wheel(upstream, "dockerpypi-winonly", "1.0", tag="py3-none-win_amd64")
    write_simple_index(upstream)
    served = http_mirror(root=upstream)
    context = write_project(tmp_path / "context", ["dockerpypi-app"])
    uv_lock(uv_binary, context, served)
    return context


@pytest.fixture
def mirror(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Filled from the lock, then padded with files no step of the project reads.

    ``mirror add uv.lock`` takes a package's sdist only when it has no wheel:
    the locked sdist is added as another ``mirror add`` would leave it.
    """
    root = tmp_path / "mirror"
    code, _, err = run_main(["mirror", "add", str(project / "uv.lock"), "--mirror-dir",
                             str(root)], capsys)
    assert code == 0, err
    assert not list(root.glob("*.tar.gz"))
    make_sdist(root, "dockerpypi-native", "1.0")
    make_wheel(root, "dockerpypi-native", "2.0", tag="cp311-cp311-manylinux_2_17_x86_64")
    make_wheel(root, "dockerpypi-unrelated", "1.0")
    update_index(root)
    return root


def injected(context: Path, last: str = "uv sync --locked") -> Path:
    """uv's guide as ``--inject`` rewrites it (with the lock's copy mounted), beside it."""
    result = inject(GUIDE.format(last=last), has_lock=lambda kind, source: source == "uv.lock")
    assert result.locks == {"uv.lock": "uv.lock"}
    path = context / "Dockerfile.injected"
    path.write_text(result.text)
    return path


def sent(context: Path, mirror: Path, *platform: str) -> str:
    """What a dry run of the build says it would send."""
    lines: list[str] = []
    given = parse_docker_args([*platform, "-f", str(injected(context)), str(context)])
    with mirror_context(given, mirror, engine=ENGINE, dry_run=True, echo=lines.append):
        pass
    assert len(lines) == 1
    return lines[0]


def test_the_injected_steps_read_the_lock_and_nothing_else(project: Path) -> None:
    steps = read_steps(injected(project).read_text())
    assert steps.requirements == []
    assert [step.command for step in steps.others] == [
        "uv sync --locked --no-install-project", "uv sync --locked"]
    for step in steps.others:
        found = step_locks(project, step)
        assert found is not None
        assert found.sources == {"uv.lock": (project / "uv.lock").read_text()}
        assert [lock.origin for lock in found.locked] == ["uv.lock"]


def test_a_uv_sync_build_wants_exactly_the_locks_files_for_its_platform(
        project: Path, mirror: Path) -> None:
    wanted = read_build(parse_docker_args(["-f", str(injected(project)), str(project)]), ENGINE)
    assert wanted.requirements == ()
    assert wanted.machines == ("x86_64",)
    selection = select(mirror, wanted.requirements, wanted.machines, locked=wanted.locked)
    assert {f.filename for f in selection.files} == {
        "dockerpypi_app-1.0-py3-none-any.whl", "dockerpypi_native-1.0.tar.gz",
        NATIVE.format("x86_64")}
    # Only CPython 3.11 gets a wheel of the native package; any other would build the sdist.
    assert selection.pythons == ((3, 11),)
    assert len(list(mirror.glob("*.whl"))) + len(list(mirror.glob("*.tar.gz"))) == 8


def test_the_lock_follows_the_builds_platform(project: Path, mirror: Path) -> None:
    assert re.fullmatch(r"would send 3 of 8 mirror files \(.*\) for CPython 3\.11 on x86_64",
                        sent(project, mirror))
    arm = sent(project, mirror, "--platform", "linux/arm64")
    assert re.fullmatch(r"would send 3 of 8 mirror files \(.*\) for CPython 3\.11 on aarch64",
                        arm)
    both = sent(project, mirror, "--platform", "linux/arm64,linux/amd64")
    assert both.startswith("would send 4 of 8 mirror files")


def test_a_lock_served_from_wheels_to_no_python_sends_the_whole_mirror(
        project: Path, mirror: Path) -> None:
    for wheel in mirror.glob("dockerpypi_native-1.0-*.whl"):
        wheel.unlink()
    update_index(mirror)
    assert sent(project, mirror) == (
        "sending the whole mirror: the mirror cannot serve the build from wheels to any "
        "CPython 3.8-3.15 on x86_64: dockerpypi-native 1.0 of uv.lock is only an sdist in the "
        "mirror (building it needs build dependencies)")


@pytest.mark.parametrize(("last", "reason"), [
    ("uv sync --locked && pip install dockerpypi-unrelated",
     "a step with a custom command installs from the mirror"),
    ("uv sync --locked --no-binary", "its options make uv read more than uv.lock"),
    ("uv sync --project sub", "custom command"),  # inject mounts no copy: another lock
])
def test_a_step_that_may_read_more_than_the_lock_sends_the_whole_mirror(
        project: Path, mirror: Path, last: str, reason: str) -> None:
    text = inject(GUIDE.format(last=last), has_lock=lambda kind, source: source == "uv.lock").text
    (project / "Dockerfile.injected").write_text(text)
    given = parse_docker_args(["-f", str(project / "Dockerfile.injected"), str(project)])
    with pytest.raises(CannotTell, match=re.escape(reason)):
        read_build(given, ENGINE)


def test_a_project_the_step_builds_sends_the_whole_mirror(
        project: Path, mirror: Path, uv_binary: Path,
        http_mirror: Callable[..., ServedURL]) -> None:
    """Its build backend's needs are listed nowhere; `--no-install-project` leaves it out."""
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[build-system]\nrequires = ["hatchling"]\n'
                         'build-backend = "hatchling.build"\n')
    lock = (project / "uv.lock").read_text()
    (project / "uv.lock").write_text(lock.replace('source = { virtual = "." }',
                                                  'source = { editable = "." }'))
    step = OtherStep("line 9", "uv sync --locked", (("dockerpypi-locks", "uv.lock", "uv.lock"),))
    with pytest.raises(CannotTell, match=re.escape("uv sync builds app (editable .) of uv.lock")):
        step_locks(project, step)
    for option in ("--no-install-project", "--no-install-workspace", "--no-install-local"):
        found = step_locks(project, OtherStep(step.where, f"uv sync --locked {option}",
                                              step.binds))
        assert found is not None, option


@pytest.mark.parametrize("text", [
    render_run(RunOptions(command=("pip", "install", "numpy<3"))),
    render_run(RunOptions()).replace("python3 -m pip install", "python3 -m pip install --no-index"),
    # a lock mounted, but the command is not the lock's installer
    render_run(RunOptions(command=("pip", "install", "app"))).replace(
        "RUN ", "RUN --mount=type=bind,source=uv.lock,target=uv.lock ", 1),
])
def test_custom_commands_still_send_the_whole_mirror(project: Path, text: str) -> None:
    (project / "Dockerfile.custom").write_text(render_stage() + "FROM python\n" + text)
    given = parse_docker_args(["-f", str(project / "Dockerfile.custom"), str(project)])
    with pytest.raises(CannotTell, match="custom command"):
        read_build(given, ENGINE)


def test_the_kept_subset_is_chosen_again_when_the_lock_changes(
        project: Path, mirror: Path) -> None:
    given = parse_docker_args(["-f", str(injected(project)), str(project)])
    platforms = ("linux/amd64", "linux/amd64")

    def remember(directory: Path, summary: str, sources: dict[str, str]) -> None:
        assert set(sources) == {"uv.lock"}
        kept_subset.remember(given, mirror, platforms, sources, directory, summary)

    with mirror_context(given, mirror, engine=ENGINE, dry_run=False, echo=print,
                        remember=remember) as directory:
        assert directory is not None
        assert directory.parent == mirror
    assert kept_subset.lookup(given, mirror, platforms) is not None
    lock = project / "uv.lock"
    lock.write_text(lock.read_text() + "\n")
    assert kept_subset.lookup(given, mirror, platforms) is None


def test_each_kind_of_lock_has_a_reader_and_the_command_that_installs_it() -> None:
    assert LOCK_KINDS["uv.lock"].command.fullmatch("uv sync --locked --no-install-project")
    assert LOCK_KINDS["uv.lock"].command.fullmatch("/root/.local/bin/uv -q sync --frozen")
    for other in ("uv pip install -r uv.lock", "uv sync; rm -rf /", "uv sync $(cat opts)",
                  "uvx sync"):
        assert not LOCK_KINDS["uv.lock"].command.fullmatch(other), other


def test_a_lock_file_of_the_step_that_the_context_lacks_is_said(project: Path) -> None:
    step = OtherStep("line 3", "uv sync --locked", (("", "sub/uv.lock", "uv.lock"),))
    with pytest.raises(CannotTell, match=re.escape("cannot read the lock file sub/uv.lock")):
        step_locks(project, step)
    assert step_locks(project, OtherStep("line 3", "uv sync", ())) is None  # no lock mounted
