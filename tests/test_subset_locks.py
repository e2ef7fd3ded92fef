"""The mirror subset of a build whose steps install a lock file: the lock's files, no more.

The lock is made by the host's uv against a fake index on 127.0.0.1 that
holds wheels for several platforms, an sdist, and versions the lock does not
pick; the mirror is filled by ``mirror add uv.lock`` and padded with files
no step reads. The Dockerfile is uv's guide as ``--inject`` rewrites it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main
from support.index import write_simple_index
from support.server import ServedURL
from support.uvproject import uv_lock, write_project
from support.wheels import make_sdist, make_wheel, wheel_filename

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
    # inject mounts no copy there; the COPYed uv.lock is not the one uv reads
    ("uv sync --project sub", "its options make uv read more than uv.lock"),
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
    render_run(RunOptions(command=("pip", "install", "--find-links", "/wheels", "app"))).replace(
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


# --- pylock.toml, poetry.lock, pdm.lock, Pipfile.lock ------------------------
# Locks written by hand, as each tool writes them, over a mirror that holds the
# locked wheel, another file of the locked version whose sha256 the lock does
# not list, a newer version, and the tool itself (which the Dockerfile installs
# by name with pip, as the tool's documentation does).

HEAD = "FROM python:3.11\nRUN pip install {tool}\n"
DOCKERFILES = {
    "pylock.toml": HEAD.format(tool="pip") + "WORKDIR /app\nCOPY pylock.toml ./\n"
                   "RUN /venv/bin/pip install -r pylock.toml\n",
    "poetry.lock": HEAD.format(tool="poetry==2.5.1") + "WORKDIR /app\n"
                   "COPY pyproject.toml poetry.lock ./\n"
                   "RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --without dev "
                   "--no-root\n",
    "pdm.lock": HEAD.format(tool="-U pdm") + "COPY pyproject.toml pdm.lock /project/\n"
                "WORKDIR /project\nRUN pdm install --check --prod --no-editable\n",
    "Pipfile.lock": HEAD.format(tool="--user pipenv") + "ADD Pipfile.lock Pipfile /usr/src/\n"
                    "WORKDIR /usr/src\nRUN /root/.local/bin/pipenv sync\n",
}
PYPROJECT = {
    "poetry.lock": '[tool.poetry]\npackage-mode = false\n[tool.poetry.dependencies]\n'
                   'python = "^3.11"\ndpp-dep = "<2"\n',
    "pdm.lock": '[project]\nname = "app"\nversion = "1"\ndependencies = ["dpp-dep<2"]\n'
                '[tool.pdm]\ndistribution = false\n',
}


def write_lock(kind: str, context: Path, wheel: str, sha256: str) -> None:
    """The lock of ``kind`` that pins dpp-dep 1.0 to ``wheel`` (``sha256``), and its project."""
    if kind == "pylock.toml":
        text = ('lock-version = "1.0"\ncreated-by = "pip"\n\n[[packages]]\nname = "dpp-dep"\n'
                'version = "1.0"\n\n[[packages.wheels]]\n'
                f'url = "https://files.example.org/{wheel}"\nhashes = {{sha256 = "{sha256}"}}\n')
    elif kind == "poetry.lock":
        text = ('[[package]]\nname = "dpp-dep"\nversion = "1.0"\ndescription = ""\n'
                'optional = false\npython-versions = "*"\ngroups = ["main"]\nfiles = [\n'
                f'    {{file = "{wheel}", hash = "sha256:{sha256}"}},\n]\n\n[metadata]\n'
                'lock-version = "2.1"\npython-versions = "^3.11"\ncontent-hash = "0"\n')
    elif kind == "pdm.lock":
        text = ('[metadata]\ngroups = ["default"]\nstrategy = ["inherit_metadata"]\n'
                'lock_version = "4.5.0"\ncontent_hash = "sha256:0"\n\n[[package]]\n'
                'name = "dpp-dep"\nversion = "1.0"\nrequires_python = ">=3.8"\nsummary = ""\n'
                'groups = ["default"]\nfiles = [\n'
                f'    {{file = "{wheel}", hash = "sha256:{sha256}"}},\n]\n')
    else:
        text = json.dumps({"_meta": {"hash": {"sha256": "0"}, "pipfile-spec": 6,
                                     "requires": {"python_version": "3.11"},
                                     "sources": [{"name": "pypi", "verify_ssl": True,
                                                  "url": "https://index.example.org/simple"}]},
                           "default": {"dpp-dep": {"hashes": [f"sha256:{sha256}"],
                                                   "index": "pypi", "version": "==1.0"}},
                           "develop": {}}, indent=4)
        (context / "Pipfile").write_text('[packages]\ndpp-dep = "<2"\n')
    (context / kind).write_text(text)
    if kind in PYPROJECT:
        (context / "pyproject.toml").write_text(PYPROJECT[kind])


@pytest.fixture
def hashed(tmp_path: Path) -> tuple[Path, Path, str]:
    """(build context, mirror, the locked wheel's name)."""
    mirror = tmp_path / "mirror"
    locked = make_wheel(mirror, "dpp-dep", "1.0")
    make_wheel(mirror, "dpp-dep", "1.0", tag="py311-none-any", origin="not in the lock")
    make_wheel(mirror, "dpp-dep", "2.0")
    for tool in ("pip", "poetry", "pdm", "pipenv"):
        make_wheel(mirror, tool, "2.5.1")
    update_index(mirror)
    context = tmp_path / "context"
    context.mkdir()
    return context, mirror, locked.name


def build_of(context: Path, text: str, kind: str | None) -> Path:
    """``text`` as ``--inject`` rewrites it (the copies of ``kind``'s lock mounted, if any)."""
    path = context / "Dockerfile.injected"
    path.write_text(inject(text, has_lock=lambda k, source: source == kind,
                           has_project=lambda project: kind == "poetry.lock").text)
    return path


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_each_kind_of_lock_sends_the_files_of_its_hashes_and_the_tool(
        hashed: tuple[Path, Path, str], kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    context, mirror, wheel = hashed
    write_lock(kind, context, wheel, hashlib.sha256((mirror / wheel).read_bytes()).hexdigest())
    given = parse_docker_args(["-f", str(build_of(context, DOCKERFILES[kind], kind)),
                               str(context)])
    wanted = read_build(given, ENGINE)
    assert [lock.origin for lock in wanted.locked] == [kind]
    # What decides whether the project is built is read too: the kept subset follows it.
    assert set(wanted.sources) == {kind, *(["pyproject.toml"] if kind in PYPROJECT else [])}
    selection = select(mirror, wanted.requirements, wanted.machines, locked=wanted.locked)
    tool = {"pylock.toml": "pip", "poetry.lock": "poetry", "pdm.lock": "pdm",
            "Pipfile.lock": "pipenv"}[kind]
    # Not the other file of dpp-dep 1.0, though it fits better: the lock lists no such sha256.
    assert {f.filename for f in selection.files} == {wheel, wheel_filename(tool, "2.5.1")}
    monkeypatch.delitem(LOCK_KINDS, kind)  # without its reader: a custom command
    with pytest.raises(CannotTell, match="a step with a custom command installs"):
        read_build(given, ENGINE)


@pytest.mark.parametrize(("kind", "change", "reason"), [
    ("pdm.lock", ("--check ", ""), "locks again when pdm.lock is out of date"),
    ("pdm.lock", ("distribution = false", "distribution = true"), "builds the project itself"),
    ("poetry.lock", (" --no-root", ""), "builds the project itself"),  # no package-mode
    ("Pipfile.lock", ("pipenv sync", "pipenv install"), "locks again when Pipfile.lock"),
    ("Pipfile.lock", ("pipenv sync", "pipenv install --deploy requests"), "installs more than"),
    ("pylock.toml", ("-r pylock.toml", "-r pylock.toml app"), "may make it install more"),
])
def test_a_step_that_may_need_more_than_its_lock_sends_the_whole_mirror(
        hashed: tuple[Path, Path, str], kind: str, change: tuple[str, str],
        reason: str) -> None:
    context, _, wheel = hashed
    write_lock(kind, context, wheel, "0" * 64)
    text = DOCKERFILES[kind].replace(*change)
    if "distribution" in change[0]:
        (context / "pyproject.toml").write_text(PYPROJECT[kind].replace(*change))
    if kind == "poetry.lock":
        (context / "pyproject.toml").write_text(PYPROJECT[kind].replace("package-mode = false\n",
                                                                        ""))
    given = parse_docker_args(["-f", str(build_of(context, text, kind)), str(context)])
    with pytest.raises(CannotTell, match=re.escape(reason)):
        read_build(given, ENGINE)


@pytest.mark.parametrize(("between", "followed"), [
    ("RUN echo ready\n", True),
    ("RUN pdm lock --update-reuse\n", False),  # may write the lock again
    ("RUN sed -i s/1.0/2.0/ pdm.lock\n", False),
    ("COPY --from=python:3.11 /etc/hostname /project/\n", False),  # cannot be told
    ("COPY pdm.lock /elsewhere/\n", True),
])
def test_a_copied_lock_is_followed_while_nothing_seen_may_have_changed_it(
        hashed: tuple[Path, Path, str], between: str, followed: bool) -> None:
    context, _, wheel = hashed
    write_lock("pdm.lock", context, wheel, "0" * 64)
    text = DOCKERFILES["pdm.lock"].replace("RUN pdm install", between + "RUN pdm install")
    given = parse_docker_args(["-f", str(build_of(context, text, None)), str(context)])
    if followed:
        assert [lock.origin for lock in read_build(given, ENGINE).locked] == ["pdm.lock"]
    else:
        with pytest.raises(CannotTell, match="custom command"):
            read_build(given, ENGINE)


def test_a_copied_lock_is_the_one_in_the_steps_workdir(hashed: tuple[Path, Path, str]) -> None:
    context, _, wheel = hashed
    write_lock("Pipfile.lock", context, wheel, "0" * 64)
    (context / "sub").mkdir()
    shutil.copy2(context / "Pipfile.lock", context / "sub" / "Pipfile.lock")
    text = DOCKERFILES["Pipfile.lock"] + "COPY sub/ /usr/src/\nRUN pipenv sync\n" \
        "WORKDIR /tmp\nRUN pipenv sync\n"
    steps = read_steps(build_of(context, text, None).read_text()).others
    assert [step_locks(context, step) is None for step in steps] == [True, False, False, True]
    found = step_locks(context, steps[2])
    assert found is not None
    assert set(found.sources) == {"sub/Pipfile.lock"}


def test_uv_pip_reads_the_pylock_it_names_bind_mounted_or_copied(
        hashed: tuple[Path, Path, str]) -> None:
    """The steps of uv's ways with a pylock.toml, as the pylock Docker test builds them."""
    context, _, wheel = hashed
    write_lock("pylock.toml", context, wheel, "0" * 64)
    text = ("FROM python:3.11\nWORKDIR /app\n"
            "RUN --mount=type=bind,source=pylock.toml,target=pylock.toml \\\n"
            "    uv pip sync --python /venv/bin/python pylock.toml\n"
            "COPY pylock.toml /srv/\n"
            "RUN uv pip install --python /venv2/bin/python -r /srv/pylock.toml\n"
            "RUN uv pip install --python /venv2/bin/python -r pylock.toml\n")
    for kind in ("pylock.toml", None):  # with the copies --inject mounts, and without
        steps = read_steps(build_of(context, text, kind).read_text()).others
        found = [step_locks(context, step) for step in steps]
        assert [None if f is None else set(f.sources) for f in found] == [
            {"pylock.toml"}, {"pylock.toml"}, None], kind  # no pylock.toml in /app
