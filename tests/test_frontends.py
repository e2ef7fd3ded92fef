"""bake, compose and the CI inputs without an engine: their argument lists and overrides.

Every function here is pure (or reads only files the test writes): how the
user's bake and compose commands are read, what dockerpypi asks them for,
the override files laid over the user's, and the action inputs.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main
from support.server import ServedURL

from dockerpypi.build import bake, ci, compose
from dockerpypi.build.command import build_inputs, inputs_argv, parse_docker_args
from dockerpypi.build.frontends import TargetInputs, target_args
from dockerpypi.errors import DockerPypiWarning, UsageError
from dockerpypi.settings.resolve import resolve_settings

READY = {
    "app": TargetInputs({"pypi-mirror": "/m/.dockerpypi-subset-1", "dockerpypi-config": "/c/1"},
                        {"dockerpypi-env": Path("/s/env")}, None, False),
    "worker": TargetInputs({"pypi-mirror": "/m/.dockerpypi-subset-2",
                            "dockerpypi-locks": "/t/locks"},
                           {"dockerpypi-env": Path("/t/a,b/env")}, Path("/t/Dockerfile"), True),
}


# --- what every front end is given ------------------------------------------------------

def test_build_inputs_are_what_the_user_did_not_give(tmp_path: Path) -> None:
    settings = resolve_settings({"mirrors": ("http://127.0.0.1:3141/simple/",)}, environ={},
                                context_dir=tmp_path)
    given = parse_docker_args(["--build-context", "pypi-mirror=/theirs", "--secret",
                               "id=dockerpypi-env,src=/theirs", "."])
    inputs = build_inputs(given, settings, mirror_dir=Path("/m"), config_dir=Path("/c"),
                          secret_files={"dockerpypi-env": Path("/s/env"),
                                        "dockerpypi-pip-conf": Path("/s/pip,conf")})
    assert inputs.contexts == {"dockerpypi-config": "/c"}
    assert inputs.secrets == {"dockerpypi-pip-conf": Path("/s/pip,conf")}
    assert inputs.host_network
    assert inputs_argv(inputs) == ["--build-context", "dockerpypi-config=/c", "--secret",
                                   'id=dockerpypi-pip-conf,"src=/s/pip,conf"', "--network=host"]


def test_a_target_stands_for_the_build_arguments_it_would_take() -> None:
    given = target_args(Path("/p/app"), Path("/p/app/Dockerfile.prod"),
                        platforms=["linux/arm64"], contexts=["pypi-mirror"],
                        secrets=["id=token,src=/t"], network="none", builder="remote")
    assert given.local_path == "/p/app"
    assert given.values("--file") == ["/p/app/Dockerfile.prod"]
    assert given.values("--platform") == ["linux/arm64"]
    assert given.build_contexts == ["pypi-mirror"]
    assert given.secret_ids == ["token"]
    assert (given.network, given.values("--builder")) == ("none", ["remote"])


# --- bake ----------------------------------------------------------------------------------

def test_bake_arguments_are_read_as_bake_reads_them() -> None:
    given = bake.parse_bake_args(["-f", "a.hcl", "-fb.hcl", "--file=c.hcl", "--set",
                                  "*.platform=linux/amd64", "--load", "--builder", "x",
                                  "--progress=plain", "app", "worker"])
    assert given.values("--file") == ["a.hcl", "b.hcl", "c.hcl"]
    assert given.values("--set") == ["*.platform=linux/amd64"]
    assert given.builder == "x"
    assert given.targets == ("app", "worker")


@pytest.mark.parametrize(("args", "problem"), [
    (["--print"], "--print shows bake's own definitions"),
    (["-f"], "-f needs a bake file"),
    (["--set"], "--set needs a value"),
])
def test_bad_bake_arguments_are_refused_in_one_line(args: list[str], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        bake.parse_bake_args(args)


def test_bake_reads_the_default_files_that_exist(tmp_path: Path) -> None:
    given = bake.parse_bake_args(["app"])
    with pytest.raises(UsageError, match="there is no bake file"):
        bake.files_in_use(given, tmp_path)
    for name in ("docker-bake.hcl", "compose.yaml", "docker-bake.override.hcl"):
        (tmp_path / name).write_text("")
    assert bake.files_in_use(given, tmp_path) == [
        "compose.yaml", "docker-bake.hcl", "docker-bake.override.hcl"]
    assert bake.files_in_use(bake.parse_bake_args(["-f", "x.hcl"]), tmp_path) == ["x.hcl"]


def test_bake_is_asked_for_the_definitions_of_the_users_targets() -> None:
    given = bake.parse_bake_args(["--set", "app.args.A=1", "--builder", "b", "--load", "app"])
    assert bake.print_argv(given, ["docker-bake.hcl"]) == [
        "docker", "buildx", "bake", "--file", "docker-bake.hcl", "--set", "app.args.A=1",
        "--builder", "b", "--print", "app"]


def test_the_override_comes_after_the_users_files() -> None:
    default = bake.parse_bake_args(["--load", "app"])
    assert bake.bake_argv(default, ["compose.yaml", "docker-bake.hcl"], Path("/o.json")) == [
        "docker", "buildx", "bake", "--file", "compose.yaml", "--file", "docker-bake.hcl",
        "--load", "app", "--file", "/o.json"]
    given = bake.parse_bake_args(["-f", "x.hcl", "--", "app"])
    assert bake.bake_argv(given, ["x.hcl"], Path("/o.json")) == [
        "docker", "buildx", "bake", "-f", "x.hcl", "--file", "/o.json", "--", "app"]


PRINTED = {
    "group": {"default": {"targets": ["app", "inline", "remote"]}},
    "target": {
        "app": {"context": "app", "dockerfile": "Dockerfile.prod", "contexts": {"base": "x"},
                "secret": ["id=token,src=/t"], "platforms": ["linux/amd64", "linux/arm64"]},
        "inline": {"context": ".", "dockerfile-inline": "FROM scratch\n"},
        "remote": {"context": "https://example.com/repo.git", "dockerfile": "Dockerfile"},
        "abs": {"context": "/srv/abs", "dockerfile": "/srv/other/Dockerfile"},
    },
}


def test_bakes_definitions_become_build_arguments(tmp_path: Path) -> None:
    targets = {t.name: bake.target_of(t, tmp_path, "b")
               for t in bake.parse_definition(json.dumps(PRINTED))}
    app = targets["app"].given
    assert app is not None
    assert app.local_path == str(tmp_path / "app")
    assert app.values("--file") == [str(tmp_path / "app" / "Dockerfile.prod")]
    assert app.values("--platform") == ["linux/amd64", "linux/arm64"]
    assert (app.build_contexts, app.secret_ids) == (["base"], ["token"])
    assert app.values("--builder") == ["b"]
    assert targets["inline"].given is None
    assert targets["remote"].given is None
    absolute = targets["abs"].given
    assert absolute is not None
    assert absolute.values("--file") == ["/srv/other/Dockerfile"]


def test_an_unreadable_definition_is_one_line() -> None:
    with pytest.raises(Exception, match="cannot read what `docker buildx bake --print`"):
        bake.parse_definition("#1 [internal] load local bake definitions")


def test_the_bake_override_gives_each_target_its_contexts_secrets_and_dockerfile() -> None:
    assert bake.override(READY) == {"target": {
        "app": {"contexts": {"pypi-mirror": "/m/.dockerpypi-subset-1",
                             "dockerpypi-config": "/c/1"},
                "secret": ["id=dockerpypi-env,src=/s/env"]},
        "worker": {"contexts": {"pypi-mirror": "/m/.dockerpypi-subset-2",
                                "dockerpypi-locks": "/t/locks"},
                   "secret": ['id=dockerpypi-env,"src=/t/a,b/env"'],
                   "dockerfile": "/t/Dockerfile"},
    }}


def test_bake_refuses_a_target_that_needs_the_host_network(tmp_path: Path) -> None:
    settings = resolve_settings({"mirrors": ("http://localhost:3141/simple/",)}, environ={},
                                context_dir=tmp_path)
    bake.refuse_host_network({"app": READY["app"]}, settings)  # the app needs no network
    with pytest.raises(UsageError) as raised:
        bake.refuse_host_network(READY, settings)
    assert str(raised.value) == (
        "http://localhost:3141/simple/ is on loopback, which only the host's network reaches, "
        "and bake cannot give that network to worker: use the local mirror directory "
        "(--mirror-dir), a mirror address the builder reaches, or `dockerpypi compose build`")


# --- compose -------------------------------------------------------------------------------

def test_compose_arguments_are_read_as_compose_reads_them() -> None:
    given = compose.parse_compose_args(["-f", "a.yaml", "--file=b.yaml", "-p", "proj",
                                        "--progress", "plain", "build", "--build-arg", "A=1",
                                        "--no-cache", "web", "jobs"])
    assert given.values("--file", short="-f") == ["a.yaml", "b.yaml"]
    assert given.global_args == ("-f", "a.yaml", "--file=b.yaml", "-p", "proj", "--progress",
                                 "plain")
    assert (given.command, given.services) == ("build", ("web", "jobs"))
    assert given.command_args == ("--build-arg", "A=1", "--no-cache", "web", "jobs")
    up = compose.parse_compose_args(["up", "--build", "-t", "5", "--scale", "web=2", "web"])
    assert (up.command, up.services) == ("up", ("web",))


@pytest.mark.parametrize("args", [[], ["-f", "a.yaml"], ["push"], ["-p", "x", "run", "web"]])
def test_compose_runs_only_the_commands_that_build(args: list[str]) -> None:
    with pytest.raises(UsageError, match="dockerpypi compose runs `build` or `up`"):
        compose.parse_compose_args(args)


def test_compose_files_are_found_as_compose_finds_them(tmp_path: Path) -> None:
    nested = tmp_path / "sub" / "dir"
    nested.mkdir(parents=True)
    given = compose.parse_compose_args(["build"])
    with pytest.raises(UsageError, match="there is no compose file"):
        compose.files_in_use(given, nested, {})
    for name in ("docker-compose.yml", "compose.yaml", "compose.override.yaml"):
        (tmp_path / name).write_text("")
    assert compose.files_in_use(given, nested, {}) == [
        str(tmp_path / "compose.yaml"), str(tmp_path / "compose.override.yaml")]
    assert compose.files_in_use(given, tmp_path, {"COMPOSE_FILE": "a.yaml:/b.yaml"}) == [
        str(tmp_path / "a.yaml"), "/b.yaml"]
    named = compose.parse_compose_args(["-f", "x.yaml", "build"])
    assert compose.files_in_use(named, tmp_path, {"COMPOSE_FILE": "a.yaml"}) == ["x.yaml"]


def test_compose_gets_the_users_files_then_the_override() -> None:
    given = compose.parse_compose_args(["-p", "proj", "up", "--build", "web"])
    assert compose.config_argv(given, ["/p/compose.yaml"]) == [
        "docker", "compose", "--file", "/p/compose.yaml", "-p", "proj", "config", "--format",
        "json"]
    assert compose.compose_argv(given, ["/p/compose.yaml"], Path("/o.yaml")) == [
        "docker", "compose", "--file", "/p/compose.yaml", "-p", "proj", "--file", "/o.yaml",
        "up", "--build", "web"]
    named = compose.parse_compose_args(["-f", "c.yaml", "build"])
    assert compose.compose_argv(named, ["c.yaml"], Path("/o.yaml")) == [
        "docker", "compose", "-f", "c.yaml", "--file", "/o.yaml", "build"]


CONFIG = {
    "name": "proj",
    "services": {
        "web": {"build": {"context": "/p/web", "dockerfile": "Dockerfile",
                          "additional_contexts": {"base": "/p/base"},
                          "secrets": [{"source": "token"}, {"source": "npm", "target": "npmrc"}],
                          "platforms": ["linux/arm64"], "network": "host"}},
        "db": {"image": "postgres"},
        "inline": {"build": {"context": "/p", "dockerfile_inline": "FROM scratch"}},
    },
}


def test_composes_config_becomes_build_arguments() -> None:
    services = compose.parse_config(json.dumps(CONFIG))
    assert [service.name for service in services] == ["web", "inline"]
    web = compose.target_of(services[0], Path("/elsewhere"), None).given
    assert web is not None
    assert web.local_path == "/p/web"
    assert web.values("--file") == ["/p/web/Dockerfile"]
    assert web.build_contexts == ["base"]
    assert web.secret_ids == ["token", "npmrc"]
    assert (web.network, web.values("--platform")) == ("host", ["linux/arm64"])
    assert compose.target_of(services[1], Path("/"), None).given is None


def test_the_compose_override_gives_each_service_its_build_inputs() -> None:
    assert compose.override(READY) == {
        "services": {
            "app": {"build": {
                "additional_contexts": {"pypi-mirror": "/m/.dockerpypi-subset-1",
                                        "dockerpypi-config": "/c/1"},
                "secrets": [{"source": "dockerpypi-env-app", "target": "dockerpypi-env"}]}},
            "worker": {"build": {
                "additional_contexts": {"pypi-mirror": "/m/.dockerpypi-subset-2",
                                        "dockerpypi-locks": "/t/locks"},
                "secrets": [{"source": "dockerpypi-env-worker", "target": "dockerpypi-env"}],
                "dockerfile": "/t/Dockerfile", "network": "host"}},
        },
        "secrets": {"dockerpypi-env-app": {"file": "/s/env"},
                    "dockerpypi-env-worker": {"file": "/t/a,b/env"}},
    }


# --- CI ------------------------------------------------------------------------------------

def test_build_push_action_inputs() -> None:
    assert ci.action_inputs(READY["worker"]) == {
        "build-contexts": ["pypi-mirror=/m/.dockerpypi-subset-2", "dockerpypi-locks=/t/locks"],
        "secret-files": ["dockerpypi-env=/t/a,b/env"],
        "file": ["/t/Dockerfile"],
        "network": ["host"],
    }
    assert ci.action_inputs(None) == {"build-contexts": [], "secret-files": []}


def test_outputs_are_written_as_github_reads_them() -> None:
    text = ci.github_outputs({"file": ["/t/Dockerfile"], "build-contexts": ["a=1", "b=2"],
                              "secret-files": []})
    lines = text.splitlines()
    assert lines[0] == "file=/t/Dockerfile"
    name, delimiter = lines[1].split("<<")
    assert (name, lines[2:4], lines[4]) == ("build-contexts", ["a=1", "b=2"], delimiter)
    assert lines[5].startswith("secret-files<<")
    assert lines[6] == lines[5].split("<<")[1]


def test_what_the_action_reads_is_kept_but_the_mirror(tmp_path: Path) -> None:
    mirror, temporary, out = tmp_path / "mirror", tmp_path / "tmp", tmp_path / "out"
    (mirror / ".dockerpypi-subset-1").mkdir(parents=True)
    (temporary / "locks").mkdir(parents=True)
    (temporary / "locks" / "uv.lock").write_text("lock")
    (temporary / "env").write_text("export A=1\n")
    (temporary / "Dockerfile").write_text("FROM scratch\n")
    (temporary / "Dockerfile.dockerignore").write_text("*.pyc\n")
    inputs = TargetInputs({"pypi-mirror": str(mirror / ".dockerpypi-subset-1"),
                           "dockerpypi-locks": str(temporary / "locks")},
                          {"dockerpypi-env": temporary / "env"}, temporary / "Dockerfile", False)
    kept = ci.kept(inputs, out, mirror)
    assert kept.contexts == {"pypi-mirror": str(mirror / ".dockerpypi-subset-1"),
                             "dockerpypi-locks": str(out / "dockerpypi-locks")}
    assert (out / "dockerpypi-locks" / "uv.lock").read_text() == "lock"
    assert kept.secrets["dockerpypi-env"].read_text() == "export A=1\n"
    assert stat.S_IMODE(kept.secrets["dockerpypi-env"].stat().st_mode) == 0o600
    assert kept.dockerfile == out / "Dockerfile"
    assert (out / "Dockerfile.dockerignore").read_text() == "*.pyc\n"


# --- the command lines ---------------------------------------------------------------------

@pytest.mark.parametrize(("args", "problem"), [
    (["compose", "push"], "dockerpypi compose runs `build` or `up`"),
    (["bake", "--print"], "--print shows bake's own definitions"),
    (["compose", "--prefer-uv", "build"], "--prefer-uv rewrites steps of --inject"),
    (["bake", "--offline", "-f"], "-f needs a bake file"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], problem: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(args, capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert problem in err


def test_ci_needs_a_directory_for_what_the_action_reads(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["ci", "build", "."], capsys)
    assert code == 2
    assert "--out" in err


def test_without_named_contexts_bake_and_compose_say_so_before_anything_runs(
        tmp_path: Path) -> None:
    from dockerpypi.build.frontends import refuse_without_named_contexts
    from dockerpypi.build.pipeline import BuildRun
    from dockerpypi.build.transports import HttpTransport

    settings = resolve_settings({}, environ={}, context_dir=tmp_path)
    run = BuildRun(parse_docker_args(["."]), settings, None,
                   HttpTransport(True, "Engine 20.10.24's built-in BuildKit has no named "
                                       "build contexts"), report=print)
    with pytest.raises(UsageError) as raised:
        refuse_without_named_contexts(run, "compose")
    assert str(raised.value) == (
        "dockerpypi compose gives the mirror as named build contexts, and this engine has none "
        "(Engine 20.10.24's built-in BuildKit has no named build contexts): build each image "
        "with `dockerpypi build`, which serves the mirror over HTTP")


def test_each_target_is_made_ready_as_dockerpypi_build_would_make_it(tmp_path: Path) -> None:
    from dockerpypi.build.frontends import InjectOptions, Target, prepared_targets
    from dockerpypi.build.pipeline import BuildRun
    from dockerpypi.build.transports import ContextTransport

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, text in (("plain", "FROM python\nRUN pip install flask\n"),
                       ("none", "FROM python\nRUN echo no installer\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(text)
    settings = resolve_settings({"offline": True}, environ={}, context_dir=tmp_path)
    lines: list[str] = []
    warned: list[DockerPypiWarning] = []
    run = BuildRun(parse_docker_args(["."]), settings, mirror, ContextTransport(True, "test"),
                   report=lines.append, warn=warned.append, dry_run=True)
    targets = [Target(name, target_args(tmp_path / name, tmp_path / name / "Dockerfile"))
               for name in ("plain", "none")] + [Target("inline", None)]

    with prepared_targets(run, targets, inject=InjectOptions(), report=lines.append) as ready:
        assert list(ready) == ["plain"]
        plain = ready["plain"]
        assert plain.dockerfile is not None
        assert "--mount=type=bind,from=pypi-mirror" in plain.dockerfile.read_text()
        assert plain.contexts["pypi-mirror"] == str(mirror)
        assert set(plain.contexts) == {"pypi-mirror", "dockerpypi-config"}
        assert {"dockerpypi-env", "dockerpypi-pip-conf"} <= set(plain.secrets)
    assert not plain.dockerfile.exists()  # the copy lasts as long as the block
    assert "none: no step installs from the mirror: built as it is" in lines
    assert "inline: not a Dockerfile on disk: built as it is" in lines
    # What the rewriting says names the target it is about.
    assert [str(warning) for warning in warned] == [
        "plain: added the pypi-mirror and dockerpypi-config stages before line 1"]
    assert (tmp_path / "plain" / "Dockerfile").read_text() == "FROM python\nRUN pip install flask\n"


def test_with_inject_a_dockerfile_already_written_for_dockerpypi_still_gets_the_mirror(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dockerpypi.build.frontends import installs_from_mirror
    from dockerpypi.build.injected import read_for_injection
    from dockerpypi.build.pipeline import BuildRun
    from dockerpypi.build.transports import ContextTransport

    (tmp_path / "requirements.txt").write_text("flask\n")
    rendered = (run_main(["render", "stage"], capsys)[1] + "FROM python\n"
                + run_main(["render"], capsys)[1])
    (tmp_path / "Dockerfile").write_text(rendered)
    given = target_args(tmp_path, tmp_path / "Dockerfile")
    settings = resolve_settings({}, environ={}, context_dir=tmp_path)
    run = BuildRun(given, settings, None, ContextTransport(True, "test"), report=print)
    injecting = read_for_injection(given, settings, uid=None, prefer_uv=False)
    assert injecting.result(settings, run.config).text == rendered  # nothing to add
    assert installs_from_mirror(given, injecting, run)
    assert installs_from_mirror(given, None, run)



UV_GUIDE = """\
FROM python:3.12-slim
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --locked --no-install-project
"""


def test_a_target_that_uv_syncs_a_lock_gets_the_rewritten_lock_as_its_own_context(
        tmp_path: Path, make_mirror: Callable[..., Path], http_mirror: Callable[..., ServedURL],
        uv_binary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from support.uvproject import uv_lock, write_project

    from dockerpypi.build.frontends import InjectOptions, Target, prepared_targets
    from dockerpypi.build.pipeline import BuildRun
    from dockerpypi.build.transports import ContextTransport
    from dockerpypi.dockerfile.lock_mounts import LOCKS_STAGE

    upstream = http_mirror(root=make_mirror(["dockerpypi-probe==1.0"], origin="upstream"))
    project = write_project(tmp_path / "project", ["dockerpypi-probe"])
    uv_lock(uv_binary, project, upstream)
    (project / "Dockerfile").write_text(UV_GUIDE)
    mirror = tmp_path / "mirror"
    assert run_main(["mirror", "add", str(project), "--mirror-dir", str(mirror)], capsys)[0] == 0
    settings = resolve_settings({"offline": True, "mirror_dir": str(mirror)}, environ={},
                                context_dir=project)
    run = BuildRun(parse_docker_args(["."]), settings, mirror, ContextTransport(True, "test"),
                   report=print, warn=print, dry_run=True)
    lock = (project / "uv.lock").read_text()

    with prepared_targets(run, [Target("app", target_args(project, project / "Dockerfile"))],
                          inject=InjectOptions(), report=print) as ready:
        locks = Path(ready["app"].contexts[LOCKS_STAGE])
        assert "/tmp/pypi" in (locks / "uv.lock").read_text()
    assert not locks.exists()
    assert (project / "uv.lock").read_text() == lock
