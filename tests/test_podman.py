"""podman and buildah as build engines: the pure parts (choice, answers, argument lists).

The real builds are in test_build_podman.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_main

from dockerpypi import caches
from dockerpypi.build.command import parse_docker_args, plan_build
from dockerpypi.build.engines.choice import build_engine
from dockerpypi.build.engines.docker import DockerEngine
from dockerpypi.build.engines.podman import (
    BuildahEngine,
    PodmanEngine,
    PodmanInfo,
    adapt_args,
    choose_transport,
    parse_buildah_version,
    parse_podman_version,
)
from dockerpypi.engines import image_cli, resolve_engine
from dockerpypi.errors import SettingsError, UsageError, UserMessageError
from dockerpypi.mirror.fill import DownloadPlan, run_download
from dockerpypi.mirror.image import plan_image_download
from dockerpypi.render.steps import RunOptions, render_run
from dockerpypi.settings.resolve import resolve_settings
from dockerpypi.settings.urls import MirrorURL
from dockerpypi.verify.image import EngineImage, json_records

# What podman 4.3.1 and buildah 1.28.2 print (Debian 12), trimmed.
PODMAN_VERSION = json.dumps({"Client": {"APIVersion": "4.3.1", "Version": "4.3.1",
                                        "GoVersion": "go1.19.8", "OsArch": "linux/amd64",
                                        "Os": "linux"}})
PODMAN_REMOTE_VERSION = json.dumps({"Client": {"Version": "4.9.3", "OsArch": "darwin/arm64"},
                                    "Server": {"Version": "4.9.3", "OsArch": "linux/arm64"}})
BUILDAH_VERSION = json.dumps({"version": "1.28.2", "goVersion": "go1.19.8",
                              "osArch": "linux/amd64", "buildPlatform": "linux/amd64"})


def on_path(*names: str):  # type: ignore[no-untyped-def]
    return lambda name: f"/usr/bin/{name}" if name in names else None


# --- which engine ----------------------------------------------------------------------

@pytest.mark.parametrize(("present", "expected"), [
    (("docker", "podman", "buildah"), "docker"),
    (("podman", "buildah"), "podman"),
    (("buildah",), "buildah"),
    ((), "docker"),  # its error then says what to install
])
def test_auto_takes_the_first_engine_on_path(present: tuple[str, ...], expected: str) -> None:
    assert resolve_engine("auto", on_path(*present)) == expected
    assert resolve_engine("podman", on_path(*present)) == "podman"  # asked: taken as is


def test_the_reason_for_the_engine_is_said() -> None:
    only_podman = build_engine("auto", which=on_path("podman"))
    assert isinstance(only_podman, PodmanEngine)
    assert only_podman.why == "podman is on PATH and docker is not"
    only_buildah = build_engine("auto", which=on_path("buildah"))
    assert isinstance(only_buildah, BuildahEngine)
    assert only_buildah.why == "buildah is on PATH and docker or podman is not"
    assert isinstance(build_engine("auto", which=on_path("docker", "podman")), DockerEngine)
    asked = build_engine("podman", "env DOCKERPYPI_CONTAINER_ENGINE", which=on_path())
    assert (asked.name, asked.why) == ("podman", "asked for (env DOCKERPYPI_CONTAINER_ENGINE)")


def test_buildahs_images_are_read_with_podman_where_it_is() -> None:
    assert image_cli("buildah", on_path("podman", "buildah")) == "podman"
    assert image_cli("buildah", on_path("buildah")) == "buildah"
    assert image_cli("podman", on_path("podman")) == "podman"
    assert image_cli("docker", on_path("docker", "podman")) == "docker"


def test_an_unknown_engine_is_one_line_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        resolve_settings({}, environ={"DOCKERPYPI_CONTAINER_ENGINE": "nerdctl"},
                         context_dir=tmp_path)
    assert str(raised.value) == ("DOCKERPYPI_CONTAINER_ENGINE names unknown engine 'nerdctl': "
                                 "choose from auto, docker, podman, buildah")


# --- what podman says, and the transport ------------------------------------------------

def test_podman_and_buildah_versions_are_read_from_their_json() -> None:
    assert parse_podman_version(PODMAN_VERSION) == ("4.3.1", "linux/amd64", False)
    assert parse_podman_version(PODMAN_REMOTE_VERSION) == ("4.9.3", "darwin/arm64", True)
    assert parse_podman_version("not json") == (None, None, False)
    assert parse_buildah_version(BUILDAH_VERSION) == ("1.28.2", "linux/amd64")


def test_podman_sends_the_mirror_as_a_named_context_when_its_build_takes_one() -> None:
    with_contexts = PodmanInfo("4.3.1", "linux/amd64", contexts=True)
    chosen = choose_transport("podman", with_contexts)
    assert (chosen.kind, chosen.reason) == (
        "context", "podman 4.3.1 supports named build contexts (--build-context)")
    assert choose_transport("podman", with_contexts, "http").kind == "http"
    older = choose_transport("podman", PodmanInfo("4.1.1", "linux/amd64", contexts=False))
    assert (older.kind, older.reason) == ("http", "podman 4.1.1 has no `build --build-context`")
    with pytest.raises(UsageError, match=r"--transport context needs `podman build "
                                         r"--build-context`, which podman 4\.1\.1 lacks: "
                                         r"update podman, or use --transport http"):
        choose_transport("podman", PodmanInfo("4.1.1", None, contexts=False), "context")


def test_a_remote_podman_is_refused_before_the_build() -> None:
    remote = PodmanInfo("4.9.3", "darwin/arm64", contexts=True, remote=True)
    with pytest.raises(UserMessageError) as raised:
        choose_transport("podman", remote)
    assert raised.value.fix == ("build with a local podman (`podman --remote=false`), or with "
                                "docker")
    assert "cannot reach this machine's 127.0.0.1" in raised.value.problem


# --- the command line ----------------------------------------------------------------------

def test_the_build_command_is_podmans_with_the_same_contexts_and_secrets(tmp_path: Path) -> None:
    settings = resolve_settings({"mirrors": ("http://127.0.0.1:3141/simple/",)}, environ={},
                                context_dir=tmp_path)
    engine = PodmanEngine()
    argv = plan_build(["-t", "app", "."], settings,
                      secret_files={"dockerpypi-env": Path("/s/env")},
                      mirror_dir=Path("/m"), config_dir=Path("/c"),
                      docker=engine.command(choose_transport(
                          "podman", PodmanInfo("4.3.1", None, contexts=True))))
    assert argv == ["podman", "build", "--build-context", "pypi-mirror=/m",
                    "--build-context", "dockerpypi-config=/c",
                    "--secret", "id=dockerpypi-env,src=/s/env", "--network=host",
                    "-t", "app", "."]
    assert engine.env(choose_transport("podman", PodmanInfo("4.1", None, False))) is None
    assert BuildahEngine().command(choose_transport(
        "buildah", PodmanInfo("1.28.2", None, True))) == ("buildah", "build")


@pytest.mark.parametrize(("args", "kept", "dropped"), [
    (["--load", "-t", "app", "."], ["-t", "app", "."], ["--load"]),
    (["--progress", "plain", "--load=true", "."], ["."], ["--progress", "--load"]),
    (["--progress=plain", "-t", "app", "."], ["-t", "app", "."], ["--progress"]),
    (["-t", "app", "--no-cache", "--network", "none", "."],
     ["-t", "app", "--no-cache", "--network", "none", "."], []),
    (["-o", "type=local,dest=out", "."], ["-o", "type=local,dest=out", "."], []),
    (["--output", "type=tar,dest=out.tar", "."], ["--output", "type=tar,dest=out.tar", "."], []),
    (["--cache-from", "registry.example/app", "."], ["--cache-from", "registry.example/app",
                                                     "."], []),
    (["-t", "app", "--", "--load"], ["-t", "app", "--", "--load"], []),  # a PATH named --load
])
def test_docker_options_podman_does_without_are_left_out(
        args: list[str], kept: list[str], dropped: list[str]) -> None:
    assert adapt_args(args, parse_docker_args(args), "podman") == (kept, dropped)


@pytest.mark.parametrize(("args", "says"), [
    (["--push", "-t", "app", "."], "podman build has no --push: build, then `podman push "
                                   "IMAGE`"),
    (["--allow", "network.host", "."], "podman build has no --allow: drop --allow: podman "
                                       "grants no entitlements, and host networking needs none"),
    (["--builder", "remote", "."], "podman build has no --builder: drop --builder: podman "
                                   "builds by itself, without buildx builders"),
    (["--provenance=false", "."], "podman build has no --provenance: drop --provenance: "
                                  "podman writes no attestations"),
    (["-o", "type=image,push=true", "."], "podman build writes --output type=local or "
                                          "type=tar only, not type=image; the image itself "
                                          "goes to podman's storage: drop --output (then "
                                          "`podman push` or `podman save` the image)"),
    (["--cache-to", "type=registry,ref=r/app", "."], "podman build takes --cache-to as a "
                                                     "repository, not type=registry,ref=r/app: "
                                                     "give --cache-to=REGISTRY/REPOSITORY, or "
                                                     "drop it"),
])
def test_buildx_options_are_refused_with_the_fix(args: list[str], says: str) -> None:
    with pytest.raises(UsageError) as raised:
        adapt_args(args, parse_docker_args(args), "podman")
    assert str(raised.value) == says


def test_what_is_left_out_is_said_once() -> None:
    said: list[str] = []
    given = parse_docker_args(["--load", "--progress", "plain", "-t", "app", "."])
    adapted = PodmanEngine().adapt(given, said.append)
    assert adapted.args == ("-t", "app", ".")
    assert said == ["podman build takes no --load or --progress: left out (podman keeps the "
                    "image in its own storage and prints its steps plainly)"]
    unchanged = parse_docker_args(["-t", "app", "."])
    assert PodmanEngine().adapt(unchanged, said.append) is unchanged


@pytest.mark.parametrize(("files", "args", "reads"), [
    (("Containerfile",), ["-t", "app", "{ctx}"], "{ctx}/Containerfile"),
    (("Containerfile", "Dockerfile"), ["{ctx}"], "{ctx}/Containerfile"),  # podman's order
    (("Dockerfile",), ["{ctx}"], None),
    (("Containerfile",), ["-f", "other", "{ctx}"], None),  # named: podman builds that
])
def test_a_containerfile_is_named_as_podman_builds_it(
        tmp_path: Path, files: tuple[str, ...], args: list[str], reads: str | None) -> None:
    for name in files:
        (tmp_path / name).write_text("FROM scratch\n")
    given = parse_docker_args([arg.format(ctx=tmp_path) for arg in args])
    adapted = PodmanEngine().adapt(given, lambda line: None)
    if reads is None:
        assert adapted is given
    else:
        assert adapted.args == (*given.args, "--file", reads.format(ctx=tmp_path))
    assert DockerEngine().adapt(given, lambda line: None) is given  # docker reads Dockerfile


def test_a_context_with_only_a_containerfile_builds_with_podman_not_docker(
        capsys: pytest.CaptureFixture[str], tmpdir_env: Path, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Containerfile").write_text("FROM scratch\n")
    ours = ["--dry-run", "--index-url", "http://mirror.example/simple/"]
    code, out, err = run_main(["build", "--engine", "podman", *ours, str(context)], capsys)
    assert code == 0, err
    assert out.rstrip().endswith(f"{context} --file {context}/Containerfile")
    code, out, err = run_main(["build", "--engine", "docker", *ours, str(context)], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (f"dockerpypi: error: there is no Dockerfile at {context}/"
                                    "Dockerfile: give -f FILE, or add a Dockerfile to the build "
                                    "context")


@pytest.mark.parametrize("command", [["bake"], ["compose", "build"]])
def test_bake_and_compose_refuse_another_engine_than_docker(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        command: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKERPYPI_CONTAINER_ENGINE", "podman")
    code, _, err = run_main([command[0], "--dry-run", *command[1:]], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        "dockerpypi: error: bake, compose and ci run docker's own tools, and the container "
        "engine is podman (env DOCKERPYPI_CONTAINER_ENGINE): set it to docker or auto for "
        "them, or build each image with `dockerpypi build --engine podman`")


def test_podman_keeps_every_image_it_builds() -> None:
    assert PodmanEngine().loads_image(parse_docker_args(["-o", "type=local,dest=x", "."]))
    assert not PodmanEngine.keeps_config
    assert DockerEngine.keeps_config


def test_a_podman_dry_run_shows_a_private_settings_context(
        capsys: pytest.CaptureFixture[str], tmpdir_env: Path, tmp_path: Path) -> None:
    # podman's rw bind mount writes through to the host: the kept directory of
    # the cache would take what the step writes (the requirements' mount point).
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch AS dockerpypi-config\nFROM scratch\n"
                                        + render_run(RunOptions()))
    (context / "requirements.txt").write_text("app\n")
    code, out, err = run_main(["build", "--engine", "podman", "--dry-run", "--index-url",
                               "http://mirror.example/simple/", "--mirror-dir",
                               str(tmp_path / "none"), "--load", "-t", "app", str(context)],
                              capsys)
    assert code == 0, err
    assert out.startswith("podman build ")
    assert "--load" not in out
    configs = re.findall(r"dockerpypi-config=(\S+)", out)
    assert len(configs) == 1
    assert "XXXXXXXX" in configs[0]
    assert not configs[0].startswith(str(caches.STEP_CONFIG.path))
    assert "engine podman: asked for (flag --engine)" in err


def test_a_docker_without_engine_points_at_podman_when_podman_is_there(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\n"
                                    "exit 1\n")
    (bin_dir / "podman").write_text("#!/bin/sh\nexit 99\n")  # found, never asked
    for program in bin_dir.iterdir():
        program.chmod(0o755)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    done = subprocess.run([sys.executable, "-m", "dockerpypi", "build", "--index-url",
                           "http://mirror.example/simple/", "-t", "app", str(context)],
                          env={**os.environ, "PATH": str(bin_dir)}, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "dockerpypi: error: no Docker engine answers (Cannot connect to the Docker daemon): "
        "start the engine, or point DOCKER_HOST at one, or build with podman (--engine podman)")


# --- images: verify and mirror add --image --------------------------------------------------

def test_podmans_inspect_array_and_dockers_lines_are_both_read() -> None:
    podman_inspect = json.dumps([{"Id": "111eef98d87f", "RootFS": {"Layers": ["sha256:a"]},
                                  "Size": 5, "Config": {"Env": ["A=1"]}}], indent=5)
    record = json_records(podman_inspect)[0]
    image = EngineImage.from_inspect("app", record, "podman")
    assert (image.id, image.layers, image.cli) == ("sha256:111eef98d87f", ("sha256:a",),
                                                   "podman")
    docker_history = '{"CreatedBy":"RUN b"}\n{"CreatedBy":"FROM a"}\n'
    assert json_records(docker_history) == [{"CreatedBy": "RUN b"}, {"CreatedBy": "FROM a"}]
    assert json_records('[{"CreatedBy":"RUN b","comment":"c"}]') == [
        {"CreatedBy": "RUN b", "comment": "c"}]


@pytest.mark.parametrize(("cli", "init"), [("docker", True), ("podman", False)])
def test_mirror_add_image_runs_the_engines_cli(tmp_path: Path, cli: str, init: bool) -> None:
    # podman's --init needs catatonit, which Debian only recommends.
    plan = plan_image_download(tmp_path, ["demo"], [], image="python:3.12-slim",
                               indexes=[MirrorURL("http://127.0.0.1:3141/simple/")],
                               user=(1000, 1000), docker=cli)
    assert plan.argv[:3] == (cli, "run", "--rm")
    assert plan.runner == cli
    assert ("--init" in plan.argv) is init
    assert "--network=host" in plan.argv


def test_a_podman_that_cannot_run_the_image_is_named(tmp_path: Path) -> None:
    script = 'print("Error: nope:1: image not known"); raise SystemExit(125)'
    plan = DownloadPlan(tmp_path, (sys.executable, "-c", script), dict(os.environ),
                        "image nope:1", (), (), image="nope:1", runner="podman")
    with pytest.raises(UserMessageError) as caught:
        run_download(plan)
    assert str(caught.value) == ("podman could not run nope:1 (exit 125): Error: nope:1: image "
                                 "not known; check the image name and that `podman info` works")


# --- the fixture ---------------------------------------------------------------------------

def test_the_podman_fixture_fails_under_ci_and_skips_otherwise(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    tests = Path(__file__).resolve().parent
    pytester.makeconftest((tests / "conftest.py").read_text())
    shutil.copytree(tests / "support", pytester.path / "support")
    pytester.makepyfile(test_needs_podman="def test_it(podman_base_image):\n    pass\n")
    empty = pytester.path / "no-podman"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no podman to find
    monkeypatch.delenv("CI", raising=False)
    skipped = pytester.runpytest_subprocess("-rs")
    monkeypatch.setenv("CI", "true")
    failed = pytester.runpytest_subprocess()
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*podman is not on PATH*"])
    failed.assert_outcomes(errors=1)
    failed.stdout.fnmatch_lines(["*CI is set, so this is a failure, not a skip*"])
