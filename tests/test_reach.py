"""Builders that cannot reach this machine's loopback: told from docker's answers, and
what a build does then (pure functions, and the command line with a fake docker)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main
from support.dockerfiles import write_dockerfile

from dockerpypi.build.command import parse_docker_args
from dockerpypi.build.engine import (
    BuilderInfo,
    EngineInfo,
    choose_transport,
    parse_context,
    parse_inspect,
)
from dockerpypi.build.loopback_fetch import LoopbackFetchTransport, wheels_to_send
from dockerpypi.build.reach import (
    BuilderReach,
    LoopbackPlan,
    builder_reach,
    endpoint_is_local,
    fetched_settings,
    for_builder,
    loopback_plan,
    shown_endpoint,
)
from dockerpypi.errors import UsageError
from dockerpypi.settings.model import Settings
from dockerpypi.settings.resolve import resolve_settings
from dockerpypi.settings.urls import MirrorURL

LOOPBACK = "http://127.0.0.1:3141/root/pypi/+simple/"
REMOTE_HOST = "tcp://build-host.example:2375"


def settings(tmp_path: Path, *mirrors: str, **flags: object) -> Settings:
    return resolve_settings({"offline": True, **flags},
                            environ={"DOCKERPYPI_MIRRORS": " ".join(mirrors)},
                            context_dir=tmp_path)


def engine(host: str | None = "unix:///var/run/docker.sock", driver: str | None = "docker",
           **fields: str | None) -> EngineInfo:
    fields = {"builder_name": "default", **fields}
    return EngineInfo("26.1.5", "0.13.1", driver, "v0.13.2", "linux/amd64", "linux/amd64",
                      context="default", engine_host=host, **fields)


# --- docker's answers ----------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "local"), [
    (None, True), ("", True),
    ("unix:///var/run/docker.sock", True), ("npipe:////./pipe/docker_engine", True),
    ("tcp://127.0.0.1:2375", True), ("tcp://localhost:2376", True), ("tcp://[::1]:2375", True),
    ("ssh://me@localhost", True), ("tcp://0.0.0.0:2375", True),
    ("tcp://10.231.0.2:2375", False), ("ssh://me@build-host.example", False),
    ("ssh://build-host.example:2222", False), ("tcp://build-host.example:2376", False),
    ("kube-node-0", False),
])
def test_an_endpoint_is_this_machine_only_by_a_socket_or_loopback(endpoint: str | None,
                                                                  local: bool) -> None:
    assert endpoint_is_local(endpoint) is local


def test_docker_context_inspect_is_read_for_its_name_and_engine() -> None:
    text = json.dumps([{"Name": "build-farm", "Metadata": {},
                        "Endpoints": {"docker": {"Host": "ssh://me@build-host.example",
                                                 "SkipTLSVerify": False}}}])
    assert parse_context(text) == ("build-farm", "ssh://me@build-host.example")
    assert parse_context("") == (None, None)
    assert parse_context("not json") == (None, None)
    assert parse_context('[{"Name": "x"}]') == ("x", None)
    assert parse_context('{"Name": 3}') == (None, None)


DOCKER_CONTAINER = """\
Name:          farm
Driver:        docker-container
Last Activity: 2026-11-29 09:26:36 +0000 UTC

Nodes:
Name:                  farm0
Endpoint:              ssh://me@build-host.example
Driver Options:        image="moby/buildkit:v0.13.2" network="host"
Status:                running
BuildKit version:      v0.13.2
Platforms:             linux/arm64
"""


def test_buildx_inspect_gives_the_builder_name_endpoint_and_network() -> None:
    found = parse_inspect(DOCKER_CONTAINER)
    assert found == BuilderInfo("docker-container", "v0.13.2", ("linux/arm64",), "farm",
                                "ssh://me@build-host.example", "host")
    without = parse_inspect(DOCKER_CONTAINER.replace(' network="host"', ""))
    assert without.network is None
    assert parse_inspect(DOCKER_CONTAINER.replace('network="host"', 'xnetwork="host"')
                         ).network is None


# --- who reaches 127.0.0.1 ------------------------------------------------------------

@pytest.mark.parametrize(("info", "named", "expected"), [
    (engine(), None, BuilderReach(
        "the docker builder of the engine at unix:///var/run/docker.sock", True)),
    (engine(None), None, BuilderReach("the docker builder of the engine", True)),
    (engine(None, None, builder_name=None), None, BuilderReach(
        "the docker builder of the engine", True)),  # no buildx at all
    (engine("tcp://10.231.0.2:2375"), None, BuilderReach(
        "the docker builder of the engine at tcp://10.231.0.2:2375", False)),
    (engine("ssh://me@build-host.example"), None, BuilderReach(
        "the docker builder of the engine at ssh://me@build-host.example", False)),
    # A docker-container builder: its host network is its container's ...
    (engine(driver="docker-container", builder_name="farm", builder_endpoint="default"), None,
     BuilderReach("the docker-container builder farm (on the engine at "
                  "unix:///var/run/docker.sock)", False)),
    # ... unless created with --driver-opt network=host on this machine's engine.
    (engine(driver="docker-container", builder_name="farm", builder_endpoint="default",
            builder_network="host"), None, BuilderReach(
        "the docker-container builder farm (on the engine at unix:///var/run/docker.sock)",
        True)),
    (engine(driver="remote", builder_name="kit", builder_endpoint="tcp://buildkitd:1234"), None,
     BuilderReach("the remote builder kit at tcp://buildkitd:1234", False)),
    (engine(driver="remote", builder_name="kit",
            builder_endpoint="unix:///run/buildkit/buildkitd.sock"), None,
     BuilderReach("the remote builder kit at unix:///run/buildkit/buildkitd.sock", True)),
    (engine(driver="kubernetes", builder_name="k8s", builder_endpoint="kubernetes:///k8s"),
     None, BuilderReach("the kubernetes builder k8s at kubernetes:///k8s", False)),
    # --builder names another builder than the probe's: its own answer counts.
    (engine(), BuilderInfo("docker-container", "v0.13.2", (), "farm",
                           "ssh://me@build-host.example", "host"),
     BuilderReach("the docker-container builder farm (on the engine at "
                  "ssh://me@build-host.example)", False)),
])
def test_the_builder_reaches_this_machines_loopback_only_from_its_network(
        info: EngineInfo, named: BuilderInfo | None, expected: BuilderReach) -> None:
    assert builder_reach(info, named) == expected


def test_an_endpoint_is_shown_without_a_password() -> None:
    assert shown_endpoint("tcp://user:s3cret@build-host:2375") == "tcp://user:***@build-host:2375"
    assert shown_endpoint("ssh://me@build-host") == "ssh://me@build-host"
    info = engine("tcp://user:s3cret@build-host:2375")
    assert "s3cret" not in builder_reach(info).builder


# --- the decision -------------------------------------------------------------------

AWAY = BuilderReach("the docker builder of the engine at tcp://10.231.0.2:2375", False)
HERE = BuilderReach("the docker builder of the engine at unix:///var/run/docker.sock", True)


def decide(reach: BuilderReach, settings: Settings, transport: str = "context",
           requested: str = "auto", served: str | None = None,
           contexts: tuple[str, ...] = ()) -> LoopbackPlan | None:
    return loopback_plan(reach, settings, transport=transport, requested=requested,
                         served=served, build_contexts=contexts)


def test_a_builder_that_reaches_loopback_changes_nothing(tmp_path: Path) -> None:
    assert decide(HERE, settings(tmp_path, LOOPBACK)) is None
    assert decide(HERE, settings(tmp_path, LOOPBACK), "http", "http", "/srv/wheels") is None


def test_a_builder_elsewhere_gets_loopback_mirrors_fetched(tmp_path: Path) -> None:
    found = decide(AWAY, settings(tmp_path, "file:///tmp/pypi", LOOPBACK,
                                  "https://mirror.example/simple/"))
    assert found == LoopbackPlan(AWAY, (MirrorURL(LOOPBACK),))
    assert found.summary == (
        "the docker builder of the engine at tcp://10.231.0.2:2375 cannot reach this "
        "machine's loopback: fetching what the build needs from "
        f"{LOOPBACK} here, sent as the pypi-mirror context")
    # Nothing on loopback: nothing to do.
    assert decide(AWAY, settings(tmp_path, "file:///tmp/pypi",
                                 "https://mirror.example/simple/")) is None


def test_the_http_transport_is_refused_for_a_builder_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as asked:
        decide(AWAY, settings(tmp_path, "file:///tmp/pypi"), "http", "http", "/srv/wheels")
    assert str(asked.value) == (
        "the docker builder of the engine at tcp://10.231.0.2:2375 cannot reach this "
        "machine's 127.0.0.1, where the http transport would serve the mirror /srv/wheels: "
        "drop --transport http: the context transport sends the mirror to any builder")
    with pytest.raises(UsageError) as chosen:  # chosen because the builder has no contexts
        decide(AWAY, settings(tmp_path, LOOPBACK), "http", "auto")
    assert str(chosen.value) == (
        "the docker builder of the engine at tcp://10.231.0.2:2375 cannot reach "
        f"{LOOPBACK} on this machine's loopback, and the http transport cannot send what "
        "the build needs from it: use a builder with named build contexts (buildx 0.8+ and "
        "Engine 23+ or BuildKit 0.10+), which get the mirror as a context")
    # Nothing served and nothing on loopback: nothing to refuse.
    assert decide(AWAY, settings(tmp_path, "https://mirror.example/simple/"), "http") is None


def test_a_pypi_mirror_context_of_the_users_leaves_no_room_for_the_fetched_files(
        tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--build-context pypi-mirror=\.\.\. leaves no room"):
        decide(AWAY, settings(tmp_path, LOOPBACK), contexts=("pypi-mirror",))


def test_the_steps_read_the_fetched_files_where_they_read_the_loopback_mirror(
        tmp_path: Path) -> None:
    given = settings(tmp_path, "http://user:s3cret@127.0.0.1:3141/simple/",
                     "file:///tmp/pypi", "https://mirror.example/simple/")
    fetched = fetched_settings(given, (given.mirrors.value[0],))
    assert [m.url for m in fetched.mirrors.value] == [
        "file:///tmp/pypi", "https://mirror.example/simple/"]
    assert not fetched.has_credentials
    # The public index on loopback (a devpi of the whole index, say): its files are sent.
    online = resolve_settings({"public_index": LOOPBACK},
                              environ={"DOCKERPYPI_MIRRORS": "https://mirror.example/simple/"},
                              context_dir=tmp_path)
    moved = fetched_settings(online, (online.public_index.value,))
    assert [m.url for m in moved.indexes] == ["https://mirror.example/simple/",
                                              "file:///tmp/pypi"]


def test_the_step_settings_travel_as_a_context_when_only_fetched_mirrors_had_credentials(
        tmp_path: Path) -> None:
    away = engine("tcp://10.231.0.2:2375")
    context = choose_transport(away)
    given = parse_docker_args(["-t", "app", "."])
    loopback = "http://user:s3cret@127.0.0.1:3141/simple/"
    fetching = for_builder(away, context, given, settings(tmp_path, loopback), None,
                           requested="auto")
    assert isinstance(fetching, LoopbackFetchTransport)
    assert fetching.config_form(credentials=True) == "context"
    both = settings(tmp_path, loopback, "https://user:s3cret@mirror.example/simple/")
    assert for_builder(away, context, given, both, None, requested="auto").config_form(
        credentials=True) == "secrets"
    # On this machine's engine: the transport chosen, unchanged.
    assert for_builder(engine(), context, given, both, None, requested="auto") is context


def test_every_wheel_of_a_chosen_version_that_fits_is_sent_from_loopback_only() -> None:
    here = "http://127.0.0.1:3141/simple"
    lock = {"packages": [
        {"name": "native", "version": "2.0", "wheels": [
            {"url": f"{here}/native-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
             "hashes": {"sha256": "aa"}, "size": 10},
            {"url": f"{here}/native-2.0-cp312-cp312-manylinux_2_28_x86_64.whl"},
            {"url": f"{here}/native-2.0-cp312-cp312-musllinux_1_2_x86_64.whl"},
            {"url": f"{here}/native-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"},
            {"url": f"{here}/native-2.0-cp312-cp312-manylinux_2_17_aarch64.whl"},
            {"url": f"{here}/native-2.0-cp312-cp312-win_amd64.whl"}]},
        {"name": "pure", "version": "1.0", "wheels": [
            {"url": "https://mirror.example/files/pure-1.0-py3-none-any.whl"}]},
        {"name": "local", "version": "1.0", "wheels": [
            {"url": "file:///srv/wheels/local-1.0-py3-none-any.whl"}]},
    ]}
    picks = wheels_to_send(lock, (3, 12), "x86_64", {("http", "127.0.0.1", 3141)})
    assert [p.filename for p in picks] == [
        "native-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "native-2.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "native-2.0-cp312-cp312-musllinux_1_2_x86_64.whl",
        "local-1.0-py3-none-any.whl"]
    assert (picks[0].sha256, picks[0].size) == ("aa", 10)


# --- the command line, with a fake docker --------------------------------------------

FAKE_DOCKER = """\
import json, os, sys
args = sys.argv[1:]
if args[:1] == ["version"]:
    print(json.dumps({"Server": {"Version": "26.1.5", "Os": "linux", "Arch": "amd64"}}))
elif args[:2] == ["buildx", "version"]:
    print("github.com/docker/buildx v0.13.1 fake")
elif args[:2] == ["buildx", "inspect"]:
    print("Name: default\\nDriver: docker\\nNodes:\\nName: default\\nEndpoint: default\\n"
          "Platforms: linux/amd64")
elif args[:2] == ["context", "inspect"]:
    print(json.dumps([{"Name": "default",
                       "Endpoints": {"docker": {"Host": os.environ["FAKE_DOCKER_HOST"]}}}]))
else:
    with open(os.environ["FAKE_DOCKER_BUILDS"], "a") as builds:
        builds.write(json.dumps(args) + "\\n")
"""


@pytest.fixture
def remote_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A docker CLI whose engine is elsewhere; returns the file its builds are recorded in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    (bin_dir / "docker").chmod(0o755)
    for name in list(os.environ):
        if name.startswith(("DOCKER_", "BUILDX_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_HOST", REMOTE_HOST)
    builds = tmp_path / "builds.jsonl"
    monkeypatch.setenv("FAKE_DOCKER_BUILDS", str(builds))
    return builds


def test_the_http_transport_stops_before_docker_builds_in_one_line(
        remote_docker: Path, tmp_path: Path, make_mirror: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0"])
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    code, _out, err = run_main(["build", "--offline", "--mirror-dir", str(mirror),
                               "--transport", "http", "-t", "app", str(tmp_path)], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"dockerpypi: error: the docker builder of the engine at {REMOTE_HOST} cannot reach "
        f"this machine's 127.0.0.1, where the http transport would serve the mirror {mirror}: "
        "drop --transport http: the context transport sends the mirror to any builder")
    assert not remote_docker.exists()  # docker never built


def test_a_dry_run_says_the_loopback_mirror_is_fetched_and_sent(
        remote_docker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    code, out, err = run_main(["build", "--dry-run", "--offline", "--index-url",
                               "http://user:s3cret@127.0.0.1:3141/simple/",
                               "--mirror-dir", str(tmp_path / "none"), "-t", "app",
                               str(tmp_path)], capsys)
    assert code == 0, err
    assert (f"dockerpypi: the docker builder of the engine at {REMOTE_HOST} cannot reach this "
            "machine's loopback: fetching what the build needs from "
            "http://***@127.0.0.1:3141/simple/ here, sent as the pypi-mirror context") in err
    assert "--build-context pypi-mirror=" in out
    assert "dockerpypi-fetched-" in out
    assert "--network=host" not in out  # nothing on loopback is left for the steps
    assert "s3cret" not in out + err


def test_on_this_machines_engine_a_loopback_mirror_is_reached_by_host_network(
        remote_docker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_HOST", "unix:///var/run/docker.sock")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    code, out, err = run_main(["build", "--dry-run", "--offline", "--index-url",
                               "http://127.0.0.1:3141/simple/", "--mirror-dir",
                               str(tmp_path / "none"), "-t", "app", str(tmp_path)], capsys)
    assert code == 0, err
    assert "cannot reach" not in err
    assert "--network=host" in out


def test_without_uv_the_fetch_is_refused_before_docker_builds(
        remote_docker: Path, tmp_path: Path, http_mirror: Callable[..., str],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from dockerpypi.mirror import resolve

    served = http_mirror(["dockerpypi-alpha==1.0"], origin="loopback")
    write_dockerfile(tmp_path, "dockerpypi-test/python:3.11-bookworm", "pip",
                     requirements=("dockerpypi-alpha",))
    monkeypatch.setattr(resolve, "find_uv", lambda environ=None: None)
    code, _, err = run_main(["build", "--offline", "--index-url", served, "--mirror-dir",
                             str(tmp_path / "none"), "-t", "app", str(tmp_path)], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"dockerpypi: error: the docker builder of the engine at {REMOTE_HOST} cannot reach "
        f"{served} on this machine's loopback, and dockerpypi fetches what the build needs "
        "from it with uv, which is not installed: pip install uv, or give the mirror an "
        "address the builder reaches (such as http://HOST-IP:PORT/... in DOCKERPYPI_MIRRORS), "
        "or fill a local mirror with `dockerpypi mirror add` and build with --mirror-dir")
    assert not remote_docker.exists()
