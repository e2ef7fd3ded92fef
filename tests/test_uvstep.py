"""uv for the step, not the image: the step text, the env file's PATH, the wheel, its program."""

from __future__ import annotations

import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from dockerpypi import caches
from dockerpypi.build.uv_step import pick_wheel, unpacked, uv_binary
from dockerpypi.dockerfile.inject import inject
from dockerpypi.dockerfile.vocabulary import UV_DIR, UV_STAGE, default_command
from dockerpypi.render import files, steps
from dockerpypi.settings.resolve import resolve_settings

UV_MOUNT = f"--mount=type=bind,from={UV_STAGE},target={UV_DIR}"
MOUNTED = f"from={UV_STAGE},"  # (the cache mount dockerpypi-uv-0 is uv's cache)
STAGE = f"FROM scratch AS {UV_STAGE}\n"


def test_the_auto_step_mounts_uv_and_compiles_bytecode_with_it() -> None:
    step = steps.render_run(steps.RunOptions())
    assert UV_MOUNT in step
    uv_side, pip_side = default_command("auto", "/r.txt").split("; else ")
    assert uv_side.endswith("uv pip install --python \"$(command -v python3)\" -r /r.txt "
                            "--compile-bytecode")
    assert pip_side == "python3 -m pip install -r /r.txt; fi"
    # a plain docker build has the stage, empty
    assert STAGE in steps.render_stage()


@pytest.mark.parametrize("options", [
    steps.RunOptions(installer="pip"),
    steps.RunOptions(installer="uv"),  # uv is the image's, as asked
    steps.RunOptions(requirements=None, command=("pip", "install", "x")),  # the user's command
])
def test_other_steps_mount_no_uv(options: steps.RunOptions) -> None:
    assert MOUNTED not in steps.render_run(options)


def test_the_settings_context_has_a_mount_point_for_uv(tmp_path: Path) -> None:
    settings = resolve_settings({}, environ={}, context_dir=tmp_path)
    assert "uv/.keep" in files.config_context(files.config_files(settings))


@pytest.mark.parametrize(("program", "on_path"), [
    ("#!/bin/sh\necho 'uv 9.9'\n", True),
    ("#!/bin/sh\nexit 1\n", False),  # cannot run here (a glibc uv in a musl image)
    (None, False),  # the stage is empty: no uv in the mirror, or a plain docker build
])
def test_the_env_file_puts_a_working_uv_on_path_after_the_images(
        tmp_path: Path, program: str | None, on_path: bool) -> None:
    settings = resolve_settings({}, environ={}, context_dir=tmp_path)
    directory = tmp_path / "uv-dir"
    directory.mkdir()
    if program is not None:
        (directory / "uv").write_text(program)
        (directory / "uv").chmod(0o755)
    env_text = files.render_env(settings).replace(UV_DIR, str(directory))
    out = subprocess.run(["sh", "-c", env_text + '\nprintf %s "$PATH"'],
                         env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                         check=True).stdout
    assert out == ("/usr/bin:/bin:" + str(directory) if on_path else "/usr/bin:/bin")


def test_the_env_file_adds_no_uv_where_uv_has_no_settings(tmp_path: Path) -> None:
    pip_only = resolve_settings({}, environ={"DOCKERPYPI_INSTALLERS": "pip"},
                                context_dir=tmp_path)
    assert UV_DIR not in files.render_env(pip_only)


def test_inject_prefer_uv_mounts_uv_for_the_steps_it_rewrites_only() -> None:
    text = ("FROM python:3.12-slim\n"
            "RUN pip install --no-cache-dir -r requirements.txt\n"
            "RUN pip install --user flask\n"
            "RUN pip install six && six-check\n")
    result = inject(text, prefer_uv=True)
    steps_out = result.text.split("\nRUN ")
    rewritten, user, shell = steps_out[1], steps_out[2], steps_out[3]
    assert UV_MOUNT in rewritten
    assert "--compile-bytecode" in rewritten
    assert MOUNTED not in user
    assert MOUNTED not in shell
    assert STAGE in result.text
    # one line per step kept as pip, naming it and why
    assert "line 3: kept pip: pip's option --user has no uv equivalent dockerpypi knows" \
        in result.notes
    assert any(note.startswith("line 4: kept pip: the command has shell syntax")
               for note in result.notes)
    plain = inject(text).text  # without --prefer-uv: nothing of uv
    assert MOUNTED not in plain
    assert STAGE not in plain


def test_inject_adds_no_uv_stage_when_no_step_is_rewritten() -> None:
    result = inject("FROM python:3.12-slim\nRUN pip install --user flask\n", prefer_uv=True)
    assert STAGE not in result.text


UV_WHEELS = [
    "uv-0.9.0-py3-none-musllinux_1_1_x86_64.whl",
    "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl",
    "uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    "uv-0.13.9-py3-none-macosx_11_0_arm64.whl",
    "uv-0.14.0.tar.gz",
    "uvicorn-0.99.0-py3-none-any.whl",
]


@pytest.mark.parametrize(("names", "machine", "picked"), [
    (UV_WHEELS, "x86_64", "uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl"),  # newest, static
    (UV_WHEELS[:2], "x86_64", "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
    (UV_WHEELS, "aarch64", "uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"),
    (UV_WHEELS, "s390x", None),
    (UV_WHEELS[4:], "x86_64", None),
])
def test_the_wheel_is_the_newest_uv_for_the_builders_machine(
        names: list[str], machine: str, picked: str | None) -> None:
    assert pick_wheel(names, machine) == picked


def uv_wheel(directory: Path, version: str = "0.13.9", program: bytes | None = b"\x7fELF uv",
             ) -> Path:
    wheel = directory / f"uv-{version}-py3-none-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"uv-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        if program is not None:
            archive.writestr(f"uv-{version}.data/scripts/uv", program)
            archive.writestr(f"uv-{version}.data/scripts/uvx", b"not this one")
    return wheel


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "dockerpypi" / caches.UV_STEP.name


def test_the_program_is_unpacked_once_executable(tmp_path: Path, cache_home: Path) -> None:
    wheel = uv_wheel(tmp_path)
    directory = unpacked(wheel)
    assert directory is not None
    assert directory.parent == cache_home
    assert [path.name for path in directory.iterdir()] == ["uv"]
    assert (directory / "uv").read_bytes() == b"\x7fELF uv"
    assert stat.S_IMODE((directory / "uv").stat().st_mode) == 0o755
    written = (directory / "uv").stat().st_mtime_ns
    # The same directory, not written again: BuildKit sends it once.
    assert unpacked(wheel) == directory
    assert (directory / "uv").stat().st_mtime_ns == written


def test_a_mirror_without_uv_gives_the_steps_an_empty_stage(tmp_path: Path,
                                                             cache_home: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    uv_wheel(mirror, program=None)
    binary = uv_binary(mirror, "linux/amd64")
    assert not binary.found
    assert binary.directory is not None
    assert not any(binary.directory.iterdir())
    assert "has no uv program" in binary.summary
    assert "they run pip" in binary.summary
    (mirror / "uv-0.13.9-py3-none-manylinux_2_17_x86_64.whl").unlink()
    assert "`dockerpypi mirror add uv`" in uv_binary(mirror, "linux/amd64").summary


def test_a_mirror_with_uv_gives_the_builders_program(tmp_path: Path, cache_home: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    uv_wheel(mirror)
    binary = uv_binary(mirror, "linux/amd64")
    assert binary.found
    assert binary.directory is not None
    assert (binary.directory / "uv").is_file()
    assert "uv-0.13.9-py3-none-manylinux_2_17_x86_64.whl from the mirror" in binary.summary
    assert not uv_binary(mirror, "linux/arm64").found


def test_an_auto_step_rendered_before_uv_came_from_the_mirror_is_still_read() -> None:
    from dockerpypi.dockerfile.steps import read_steps

    earlier = "\n".join(line for line in steps.render_run(steps.RunOptions()).split("\n")
                        if UV_MOUNT not in line).replace(" --compile-bytecode", "")
    text = steps.render_stage() + "FROM python\n" + earlier
    # the subset reads it as the rendered step it is, not as a custom command
    assert read_steps(text).requirements == ["requirements.txt"]


def test_a_dry_run_names_the_program_without_unpacking_it(tmp_path: Path,
                                                           cache_home: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    uv_wheel(mirror)
    shown = uv_binary(mirror, "linux/amd64", write=False)
    assert shown.directory is not None
    assert shown.directory.parent == cache_home
    assert not cache_home.exists()  # nothing written
    assert uv_binary(mirror, "linux/amd64").directory == shown.directory  # where it then is


@pytest.mark.parametrize(("transport", "given", "expected"), [
    ("context", [], "unpacked"),
    ("http", [], None),  # no named contexts: the Dockerfile's empty stage, and pip
    ("context", ["--build-context", f"{UV_STAGE}=/users/own"], None),  # the user's wins
])
def test_a_build_whose_steps_may_run_uv_is_given_the_mirrors(
        tmp_path: Path, cache_home: Path, transport: str, given: list[str],
        expected: str | None) -> None:
    from dockerpypi.build.command import parse_docker_args
    from dockerpypi.build.engine import EngineInfo
    from dockerpypi.build.pipeline import BuildRun, prepared
    from dockerpypi.build.transports import TRANSPORTS

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    uv_wheel(mirror)
    context = tmp_path / "context"
    context.mkdir()
    (context / "requirements.txt").write_text("flask\n")
    config = "secrets" if transport == "http" else "context"  # http has no named contexts
    (context / "Dockerfile").write_text(steps.render_stage() + "FROM python\n"
                                        + steps.render_run(steps.RunOptions(config=config)))
    settings = resolve_settings({"offline": True}, environ={}, context_dir=context)
    engine = EngineInfo("26.1.5", "0.13.1", "docker", None, server_platform="linux/amd64")
    lines: list[str] = []
    run = BuildRun(parse_docker_args([*given, str(context)]), settings, mirror,
                   TRANSPORTS[transport](True, "test"), report=lines.append, engine=engine,
                   dry_run=True)

    with prepared(run) as ready:
        contexts = ready.inputs.contexts

    if expected is None:
        assert UV_STAGE not in contexts
    else:
        assert contexts[UV_STAGE] == str(uv_binary(mirror, "linux/amd64", write=False).directory)
        assert ("uv for the steps that want it: uv-0.13.9-py3-none-manylinux_2_17_x86_64.whl "
                "from the mirror, mounted for those steps only") in lines
        assert not cache_home.exists()  # a dry run unpacks nothing
