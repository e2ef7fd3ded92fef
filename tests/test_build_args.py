"""The pure planning of `dockerpypi build`: which argv reaches docker (no engine, no files)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from dockerpypi.build.command import credential_strings, is_loopback, parse_docker_args, plan_build
from dockerpypi.errors import UsageError
from dockerpypi.process import redact, shell_command
from dockerpypi.settings.model import Settings
from dockerpypi.settings.resolve import resolve_settings

PASSWORD = "p@ss#w:rd/%+"
QUOTED = "p%40ss%23w%3Ard%2F%25%2B"
SECRETS = {"dockerpypi-env": Path("/s/env"), "dockerpypi-pip-conf": Path("/s/pip.conf")}
OUR_SECRETS = ["--secret", "id=dockerpypi-env,src=/s/env",
               "--secret", "id=dockerpypi-pip-conf,src=/s/pip.conf"]


@pytest.fixture(autouse=True)
def _no_machine_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # This machine configures pip and uv through the environment; none of it
    # may leak into what dockerpypi resolves.
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_", "DIB_", "DOCKERPYPI_")):
            monkeypatch.delenv(name)


def settings(tmp_path: Path, **flags: object) -> Settings:
    return resolve_settings(flags, environ={}, context_dir=tmp_path)


def plan(tmp_path: Path, args: list[str], mirror_dir: Path | None = None,
         **flags: object) -> list[str]:
    return plan_build(args, settings(tmp_path, **flags), secret_files=SECRETS,
                      mirror_dir=mirror_dir)


# --- parsing the user's docker options -------------------------------------

@pytest.mark.parametrize(("args", "path"), [
    (["."], "."),
    (["-t", "app", "."], "."),
    (["--tag", "app", "--file", "Dockerfile", "ctx"], "ctx"),
    (["--tag=app", "--file=Dockerfile", "ctx"], "ctx"),
    (["-tapp", "-fDockerfile", "ctx"], "ctx"),
    (["-t=app", "ctx"], "ctx"),
    (["-qt", "app", "ctx"], "ctx"),  # a cluster: -q is a flag, -t takes the next word
    (["ctx", "-t", "app", "--load"], "ctx"),  # PATH first, options after it
    (["--load", "--push", "--pull", "--no-cache", "--rm=false", "-q", "ctx"], "ctx"),
    (["--target", "runtime", "--platform", "linux/amd64", "--progress", "plain", "."], "."),
    (["--build-arg", "A=1", "--cache-from", "type=local,src=c", "--cache-to", "x", "."], "."),
    (["-o", "type=local,dest=out", "--output", "out2", "."], "."),
    (["--secret", "id=a,src=b", "--ssh", "default", "--network", "none", "."], "."),
    (["-m", "1g", "-c", "512", "--shm-size", "1g", "--ulimit", "nofile=1024:1024", "."], "."),
    (["-t", "app", "-"], "-"),
    (["-t", "app", "https://github.com/org/repo.git#main"], "https://github.com/org/repo.git#main"),
    (["-t", "app", "--", "-weird-dir"], "-weird-dir"),
])
def test_path_is_found_among_options(args: list[str], path: str) -> None:
    assert parse_docker_args(args).path == path


@pytest.mark.parametrize(("path", "local"), [
    (".", "."),
    ("sub/dir", "sub/dir"),
    ("-", None),
    ("https://github.com/org/repo.git", None),
    ("git://host/repo", None),
    ("git@github.com:org/repo.git", None),
    ("github.com/org/repo", None),
])
def test_local_path_is_neither_stdin_nor_url(path: str, local: str | None) -> None:
    assert parse_docker_args(["-t", "app", path]).local_path == local


@pytest.mark.parametrize("args", [[], ["-t", "app"], ["--file", "Dockerfile"], ["a", "b"],
                                  ["-t", "app", "a", "--load", "b"]])
def test_exactly_one_path_is_required(args: list[str]) -> None:
    with pytest.raises(UsageError, match="exactly one PATH"):
        parse_docker_args(args)


def test_option_values_are_read_in_both_forms() -> None:
    given = parse_docker_args(["--network", "none", "--build-context", "a=/x",
                               "--build-context=pypi-mirror=/y", "--secret", "id=s1,src=f",
                               "--secret=src=g,id=s2", "."])
    assert given.network == "none"
    assert given.build_contexts == ["a", "pypi-mirror"]
    assert given.secret_ids == ["s1", "s2"]


# --- the planned argv --------------------------------------------------------

def test_user_arguments_pass_through_unchanged_and_in_order(tmp_path: Path) -> None:
    user = ["-t", "app:1", "-f", "Dockerfile.prod", "--target=runtime", "--platform",
            "linux/amd64", "--build-arg", "BASE_IMAGE=python:3.12-slim", "--load",
            "--progress=plain", "--cache-from", "type=local,src=/c", "--cache-to",
            "type=local,dest=/c", "--secret", "id=mine,src=/m", "--build-context",
            "other=/o", "--label", "a=b", "--push", "."]
    argv = plan(tmp_path, user, offline=True)
    assert argv[:3] == ["docker", "buildx", "build"]
    assert argv[-len(user):] == user
    assert argv[3:-len(user)] == OUR_SECRETS


def test_path_stays_where_the_user_put_it(tmp_path: Path) -> None:
    user = [".", "-t", "app", "--load"]
    assert plan(tmp_path, user, offline=True)[-4:] == user


def test_one_secret_per_config_file_and_user_secret_with_our_id_wins(tmp_path: Path) -> None:
    argv = plan(tmp_path, ["--secret", "id=dockerpypi-env,src=/mine", "."], offline=True)
    assert argv.count("--secret") == 2
    assert "id=dockerpypi-env,src=/s/env" not in argv
    assert "id=dockerpypi-pip-conf,src=/s/pip.conf" in argv


def test_secret_path_with_a_comma_is_one_csv_field(tmp_path: Path) -> None:
    argv = plan_build(["."], settings(tmp_path, offline=True),
                      secret_files={"dockerpypi-env": Path('/t/a,b"c/env')}, mirror_dir=None)
    spec = argv[argv.index("--secret") + 1]
    assert next(csv.reader([spec])) == ["id=dockerpypi-env", 'src=/t/a,b"c/env']


def test_mirror_context_is_added_only_for_an_existing_directory(tmp_path: Path) -> None:
    assert "--build-context" not in plan(tmp_path, ["."], offline=True)
    argv = plan(tmp_path, ["."], mirror_dir=Path("/m/wheels"), offline=True)
    assert argv[3:5] == ["--build-context", "pypi-mirror=/m/wheels"]


def test_user_mirror_context_is_kept_and_ours_not_added(tmp_path: Path) -> None:
    for user in (["--build-context", "pypi-mirror=/mine", "."],
                 ["--build-context=pypi-mirror=docker-image://wheels:1", "."]):
        argv = plan(tmp_path, user, mirror_dir=Path("/m/wheels"), offline=True)
        assert "pypi-mirror=/m/wheels" not in argv
        assert argv[-len(user):] == user


def test_other_user_context_does_not_replace_ours(tmp_path: Path) -> None:
    argv = plan(tmp_path, ["--build-context", "base=/b", "."], mirror_dir=Path("/m"),
                offline=True)
    assert "pypi-mirror=/m" in argv


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:3141/simple/",
    "http://127.9.8.7/simple/",
    "http://localhost:8080/simple/",
    "http://[::1]:8080/simple/",
    f"http://builder:{QUOTED}@127.0.0.1:8080/simple/",
])
def test_loopback_mirror_gets_host_network(tmp_path: Path, url: str) -> None:
    argv = plan(tmp_path, ["-t", "app", "."], mirrors=(url,))
    assert argv.count("--network=host") == 1


@pytest.mark.parametrize("flags", [
    {},  # the default local file:// mirror and the public index
    {"mirrors": ("http://10.0.0.5:3141/simple/", "https://mirror.example/simple/")},
    {"mirrors": ("file:///srv/wheels",), "offline": True},
    # a loopback public index that is not used
    {"public_index": "http://127.0.0.1:9/simple/", "offline": True},
])
def test_no_host_network_without_a_loopback_index(tmp_path: Path,
                                                  flags: dict[str, object]) -> None:
    argv = plan_build(["."], settings(tmp_path, **flags), secret_files=SECRETS, mirror_dir=None)
    assert not any(arg.startswith("--network") for arg in argv)


def test_loopback_public_index_gets_host_network(tmp_path: Path) -> None:
    assert "--network=host" in plan(tmp_path, ["."], public_index="http://127.0.0.1:9/simple/")


@pytest.mark.parametrize("network", [["--network", "none"], ["--network=default"],
                                     ["--network", "host"]])
def test_user_network_wins(tmp_path: Path, network: list[str]) -> None:
    argv = plan(tmp_path, [*network, "."], mirrors=("http://127.0.0.1:3141/",))
    assert "--network=host" not in argv
    assert argv[-len(network) - 1:] == [*network, "."]


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.255.0.1", True), ("::1", True), ("[::1]", True),
    ("::ffff:127.0.0.1", True), ("localhost", True), ("LOCALHOST.", True),
    ("dev.localhost", True), ("128.0.0.1", False), ("10.0.0.1", False), ("::2", False),
    ("mirror.example", False), ("localhost.example", False), (None, False), ("", False),
])
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# --- what may be shown --------------------------------------------------------

def test_credential_strings_hold_the_password_as_typed_and_encoded(tmp_path: Path) -> None:
    found = credential_strings(settings(tmp_path, mirrors=(
        f"http://builder:{QUOTED}@127.0.0.1:8080/simple/", "https://tok3n@other.example/")))
    assert PASSWORD in found
    assert QUOTED in found
    assert "tok3n" in found
    assert "builder" not in found  # a user name beside a password is no secret


@pytest.mark.parametrize("arg", [
    f"PIP_INDEX_URL=https://builder:{QUOTED}@mirror.example/simple/",
    f"PIP_INDEX_URL=https://builder:{PASSWORD}@mirror.example/simple/",
    f"https://builder:{PASSWORD}@github.com/org/repo.git#main",
    f"X=git+https://{PASSWORD}@host/x http://u:{QUOTED}@h2/",
])
def test_redact_hides_url_credentials(arg: str) -> None:
    (shown,) = redact([arg])
    for secret in (PASSWORD, QUOTED, "builder", "ss#w", "rd/%"):
        assert secret not in shown
    assert "***@" in shown


def test_redact_hides_known_secrets_anywhere_and_keeps_the_rest() -> None:
    argv = ["docker", "buildx", "build", "--build-arg", f"TOKEN={PASSWORD}",
            "--secret", "id=dockerpypi-env,src=/tmp/d/env", "--build-context",
            "base=docker-image://alpine@sha256:0123", "."]
    shown = shell_command(argv, [PASSWORD, QUOTED, ""])
    assert PASSWORD not in shown
    assert "TOKEN=***" in shown
    assert "src=/tmp/d/env" in shown  # secret file paths are fine to show
    assert "base=docker-image://alpine@sha256:0123" in shown  # a digest, no user name
    assert shown.startswith("docker buildx build --build-arg")


def test_inject_points_docker_at_the_copy_and_finds_the_original(tmp_path: Path) -> None:
    from dockerpypi.build.command import dockerfile_path, with_dockerfile

    given = parse_docker_args(["-qf", "ci/Dockerfile", "-t", "app", "."])
    assert dockerfile_path(given) == Path("ci/Dockerfile")
    copy = tmp_path / "Dockerfile"
    # docker keeps the last --file, whatever cluster the user's -f sits in
    assert with_dockerfile(given, copy) == ["-qf", "ci/Dockerfile", "-t", "app", ".",
                                            "--file", str(copy)]
    # After `--` every word is the PATH: what is added goes before it.
    ended = parse_docker_args(["-t", "app", "--", "ctx"])
    args = with_dockerfile(ended, copy, "--build-context", "x=/y")
    assert args == ["-t", "app", "--file", str(copy), "--build-context", "x=/y", "--", "ctx"]
    assert parse_docker_args(args).local_path == "ctx"
    assert dockerfile_path(parse_docker_args(["-t", "app", "ctx"])) == Path("ctx/Dockerfile")
    assert dockerfile_path(parse_docker_args(["-f", "-", "."])) is None
    assert dockerfile_path(parse_docker_args(["-"])) is None


def test_settings_context_is_added_when_given_and_the_users_wins(tmp_path: Path) -> None:
    argv = plan_build(["."], settings(tmp_path, offline=True), secret_files=SECRETS,
                      mirror_dir=Path("/m"), config_dir=Path("/t/context"))
    assert argv[3:7] == ["--build-context", "pypi-mirror=/m",
                         "--build-context", "dockerpypi-config=/t/context"]
    assert "--secret" in argv  # steps rendered with --secrets still get theirs
    mine = ["--build-context", "dockerpypi-config=/mine", "."]
    argv = plan_build(mine, settings(tmp_path, offline=True), secret_files=SECRETS,
                      mirror_dir=None, config_dir=Path("/t/context"))
    assert "dockerpypi-config=/t/context" not in argv
    assert argv[-3:] == mine
