"""`dockerpypi build` from the command line: dry runs, a fake docker, and one real build.

The fake docker is a script put first on PATH: it records its argv and the
secret files as it saw them (text and modes), then exits or waits for a signal.
That checks exit codes, signal forwarding and clean-up without an engine; the
test marked ``docker`` then does the same on the real engine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_main

from dockerpypi import caches
from dockerpypi.render.steps import RunOptions, render_run

PASSWORD = "p@ss#w:rd/%+"
QUOTED = "p%40ss%23w%3Ard%2F%25%2B"
MIRROR = f"http://builder:{QUOTED}@127.0.0.1:8080/simple/"
BASE_IMAGE = "dockerpypi-test/python:3.11-bookworm"
# A mirror besides the local one: an offline build has something to install from.
REMOTE = "http://mirror.example/simple/"

FAKE_DOCKER = """\
import json, os, signal, stat, sys, time
from pathlib import Path

args = sys.argv[1:]
if os.environ.get("FAKE_DOCKER_CALLS"):  # every call, the engine's questions too
    with open(os.environ["FAKE_DOCKER_CALLS"], "a") as calls:
        calls.write(json.dumps(args) + "\\n")
# dockerpypi first asks what the engine can do: answer as a current one does
# (FAKE_DOCKER_ENGINE picks the server version).
if args[:1] == ["version"]:
    print(json.dumps({"Server": {"Version": os.environ.get("FAKE_DOCKER_ENGINE", "26.1.5")}}))
    sys.exit(0)
if args[:2] == ["buildx", "version"]:
    if os.environ.get("FAKE_DOCKER_NO_BUILDX"):
        print("docker: 'buildx' is not a docker command.", file=sys.stderr)
        sys.exit(1)
    print("github.com/docker/buildx 0.13.1 fake")
    sys.exit(0)
if args[:2] == ["buildx", "inspect"]:
    print("Name: default")
    print("Driver: docker")
    sys.exit(0)
if args[:2] == ["context", "inspect"]:  # FAKE_DOCKER_HOST: an engine elsewhere
    host = os.environ.get("FAKE_DOCKER_HOST", "unix:///var/run/docker.sock")
    print(json.dumps([{"Name": "default", "Endpoints": {"docker": {"Host": host}}}]))
    sys.exit(0)
record = {"argv": args, "secrets": {}}
for flag, spec in zip(args, args[1:]):
    if flag == "--secret":
        fields = dict(field.split("=", 1) for field in spec.split(","))
        src = Path(fields["src"])
        record["secrets"][fields["id"]] = {
            "text": src.read_text(),
            "mode": stat.S_IMODE(src.stat().st_mode),
            "dir_mode": stat.S_IMODE(src.parent.stat().st_mode),
        }
out = Path(os.environ["FAKE_DOCKER_RECORD"])
wait = os.environ.get("FAKE_DOCKER_WAIT")
if wait:
    def on_signal(signum, frame):
        record["signal"] = signum
        out.write_text(json.dumps(record))
        sys.exit(int(wait))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal if wait != "die" else signal.SIG_DFL)
    Path(str(out) + ".ready").write_text("")
    time.sleep(60)
    sys.exit(99)
# What the build step would fetch from the first index (the http transport
# serves it on 127.0.0.1 only while docker runs).
import configparser, urllib.request
conf = record["secrets"].get("dockerpypi-pip-conf")
if conf:
    parser = configparser.RawConfigParser()
    parser.read_string(conf["text"])
    first = parser["global"]["index-url"]
    record["env_buildkit"] = os.environ.get("DOCKER_BUILDKIT")
    if first.startswith("http://127.0.0.1"):
        with urllib.request.urlopen(first + "demo/", timeout=10) as page:
            record["fetched"] = page.read().decode()
out.write_text(json.dumps(record))
sys.exit(int(os.environ.get("FAKE_DOCKER_EXIT", "0")))
"""


@pytest.fixture(autouse=True)
def _no_machine_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # This machine configures pip and uv through the environment; none of it
    # may reach dockerpypi, in this process or in the ones the tests start.
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_", "DIB_", "DOCKERPYPI_")):
            monkeypatch.delenv(name)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    directory = tmp_path / "ctx"
    directory.mkdir()
    (directory / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    return directory


def dockerpypi(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    return run_main(list(args), capsys)


# --- dry runs -----------------------------------------------------------------

def test_dry_run_prints_the_command_redacted_and_writes_nothing(
        capsys: pytest.CaptureFixture[str], tmpdir_env: Path, context: Path) -> None:
    code, out, err = dockerpypi(
        capsys, "build", "--dry-run", "--index-url", MIRROR,
        # (a mirror directory that exists would add its context first)
        "--mirror-dir", str(context / "no-mirror"),
        "--build-arg", f"PIP_INDEX_URL=https://builder:{QUOTED}@127.0.0.1:8080/simple/",
        "--build-arg", f"TOKEN={PASSWORD}", "-t", "app", str(context))
    assert code == 0, err
    assert out.startswith("docker buildx build --secret id=dockerpypi-env,src=")
    for secret in (PASSWORD, QUOTED, "ss#w", "rd/%"):
        assert secret not in out + err
    assert "PIP_INDEX_URL=https://***@127.0.0.1:8080/simple/" in out
    assert "TOKEN=***" in out
    assert "--network=host" in out  # the mirror is on loopback
    assert out.rstrip().endswith(f"-t app {context}")
    assert str(tmpdir_env) in out  # where the secret files would be
    assert list(tmpdir_env.iterdir()) == []


def test_click_does_not_eat_letters_of_docker_short_options(
        capsys: pytest.CaptureFixture[str], context: Path) -> None:
    # -v or -h of our own would be taken out of these clusters.
    dockerfile = f"-f{context / 'Dockerfile'}"  # docker reads -f from the current directory
    code, out, err = dockerpypi(capsys, "build", "--dry-run", "--index-url", REMOTE, "--offline",
                                "-tmy/hub:dev-v", dockerfile, str(context))
    assert code == 0, err
    assert out.rstrip().endswith(f"-tmy/hub:dev-v {dockerfile} {context}")


@pytest.mark.parametrize(("args", "ours", "docker"), [
    (["--offline", "-t", "app", "."], {"offline": True}, ["-t", "app", "."]),
    (["--mirror-dir", "w", "--index-url=http://m/", "--progress=plain", "."],
     {"mirror_dir": "w", "index_urls": ("http://m/",)}, ["--progress=plain", "."]),
    # A value that looks like one of our options is still the value.
    (["--mirror-dir", "--offline", "."], {"mirror_dir": "--offline", "offline": None}, ["."]),
    (["--uid", "7", "--inject", "-tapp", "--offline", "."], {"uid": 7, "inject": True},
     ["-tapp", "--offline", "."]),  # ours after docker's: refused later, by name
    (["--", "--offline", "."], {"offline": None}, ["--offline", "."]),
    # -h is help only among ours: after docker's first word it is docker's.
    (["--offline", "-t", "app", "-h", "."], {"offline": True}, ["-t", "app", "-h", "."]),
    (["."], {}, ["."]),
])
def test_build_hands_docker_its_words_as_given(args: list[str], ours: dict[str, object],
                                               docker: list[str]) -> None:
    from dockerpypi.cli.build import build

    ctx = build.make_context("build", list(args))
    assert list(ctx.params["docker_args"]) == docker
    for name, value in ours.items():
        assert ctx.params[name] == value


def test_docker_options_are_not_looked_up_among_ours(tmp_path: Path, context: Path) -> None:
    # Click suggests near misses for options it does not know, with difflib.
    script = ("import sys\n"
              "from dockerpypi.cli import main\n"
              "try:\n"
              f"    main(['build', '--dry-run', '--index-url', {REMOTE!r}, '--offline',"
              f" '--progress=plain', '--label', 'x', '-t', 'app', {str(context)!r}])\n"
              "except SystemExit as exited:\n"
              "    print(exited.code, 'difflib' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, check=False)
    assert done.stdout.splitlines()[-1].split() == ["0", "False"], done.stderr


def test_help_shows_the_docker_part(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = dockerpypi(capsys, "build", "--help")
    assert code == 0
    assert "[DOCKER BUILD OPTIONS] PATH" in out
    assert "--dry-run" in out


@pytest.mark.parametrize(("args", "message"), [
    (["-t", "app"], "exactly one PATH"),
    (["-t", "app", "--offline", "."], "--offline is a dockerpypi option: put it before"),
])
def test_usage_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str],
                                           args: list[str], message: str) -> None:
    code, _, err = dockerpypi(capsys, "build", "--dry-run", *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_settings_are_read_from_the_build_context(
        capsys: pytest.CaptureFixture[str], context: Path, tmp_path: Path) -> None:
    (context / "dockerpypi.toml").write_text('mirrors = ["http://127.0.0.1:3141/simple/"]\n',
                                             encoding="utf-8")
    _, out, _ = dockerpypi(capsys, "build", "--dry-run", str(context))
    assert "--network=host" in out
    _, out, _ = dockerpypi(capsys, "build", "--dry-run", "--context", str(tmp_path),
                           "--offline", str(context))
    assert "--network" not in out


def test_existing_mirror_dir_becomes_the_build_context(
        capsys: pytest.CaptureFixture[str], context: Path, tmp_path: Path) -> None:
    code, out, err = dockerpypi(capsys, "build", "--dry-run", "--mirror-dir", str(tmp_path),
                                str(context))
    assert code == 0, err
    assert f"--build-context pypi-mirror={tmp_path} " in out
    assert "does not exist" not in err


def test_missing_mirror_dir_warns_once_and_uses_the_empty_stage(
        capsys: pytest.CaptureFixture[str], context: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-mirror"
    code, out, err = dockerpypi(capsys, "build", "--dry-run", "--mirror-dir", str(missing),
                                str(context))
    assert code == 0
    assert "--build-context" not in out
    assert err.count("does not exist") == 1
    assert (f"dockerpypi: warning: the mirror directory {missing} (flag --mirror-dir) does not "
            "exist: building with the empty pypi-mirror stage; fill it (dockerpypi mirror add) "
            "or give --mirror-dir\n") in err


def test_user_mirror_context_silences_the_missing_dir_warning(
        capsys: pytest.CaptureFixture[str], context: Path, tmp_path: Path) -> None:
    _, out, err = dockerpypi(capsys, "build", "--dry-run", "--mirror-dir", str(tmp_path / "x"),
                             "--build-context", "pypi-mirror=/elsewhere", str(context))
    assert "does not exist" not in err
    assert out.count("pypi-mirror=") == 1


def test_mirror_dir_that_is_a_file_is_a_settings_error(
        capsys: pytest.CaptureFixture[str], context: Path) -> None:
    code, _, err = dockerpypi(capsys, "build", "--dry-run", "--mirror-dir",
                              str(context / "Dockerfile"), str(context))
    assert code == 2
    assert "is not a directory" in err


def test_user_network_that_cannot_reach_a_loopback_mirror_is_warned_about(
        capsys: pytest.CaptureFixture[str], context: Path) -> None:
    _, out, err = dockerpypi(capsys, "build", "--dry-run", "--index-url", MIRROR,
                             "--network", "bridge", str(context))
    assert "--network=host" not in out
    assert ("dockerpypi: warning: http://***@127.0.0.1:8080/simple/ is on loopback, "
            "which --network=bridge cannot reach: drop --network (dockerpypi then uses host) "
            "or use a reachable mirror address\n") in err
    assert QUOTED not in err


def test_what_inject_did_is_said_as_warnings(
        capsys: pytest.CaptureFixture[str], context: Path) -> None:
    (context / "Dockerfile").write_text("FROM scratch\nRUN echo no installer here\n")
    code, _, err = dockerpypi(capsys, "build", "--dry-run", "--inject", "--index-url", REMOTE,
                              str(context))
    assert code == 0, err
    assert ("dockerpypi: warning: no RUN step that calls pip or uv needs the mirror: the "
            "Dockerfile is unchanged\n") in err


# --- the settings context, kept by what it holds ---------------------------------

def test_a_build_sends_the_same_settings_context_each_time(
        capsys: pytest.CaptureFixture[str], tmpdir_env: Path, context: Path) -> None:
    (context / "Dockerfile").write_text("FROM scratch AS dockerpypi-config\nFROM scratch\n"
                                        + render_run(RunOptions()))
    (context / "requirements.txt").write_text("app\n")
    shown = []
    for _ in range(2):
        code, out, err = dockerpypi(capsys, "build", "--dry-run", "--index-url", REMOTE,
                                    "--offline", "--mirror-dir", str(context / "none"),
                                    str(context))
        assert code == 0, err
        shown.append(re.findall(r"dockerpypi-config=(\S+)", out))
    assert shown[0] == shown[1]
    assert len(shown[0]) == 1
    assert Path(shown[0][0]).parent == caches.STEP_CONFIG.path
    assert "XXXXXXXX" not in shown[0][0]  # a real path: the secrets' is the placeholder


# --- the real CLI with a fake docker -------------------------------------------

@pytest.fixture
def fake_docker(tmp_path: Path, tmpdir_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the fake docker first on PATH; returns the file it records into."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}", encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    record = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_DOCKER_RECORD", str(record))
    return record


def start_build(context: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dockerpypi", "build", "--verbose", "--index-url", MIRROR,
         *extra, "--build-arg", f"TOKEN={PASSWORD}", "-t", "app", str(context)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("docker_code", [0, 1, 7])
def test_build_hands_docker_the_secrets_and_returns_its_code(
        fake_docker: Path, tmpdir_env: Path, context: Path, monkeypatch: pytest.MonkeyPatch,
        docker_code: int) -> None:
    monkeypatch.setenv("FAKE_DOCKER_EXIT", str(docker_code))
    process = start_build(context)
    out, err = process.communicate(timeout=60)
    assert process.returncode == docker_code, err
    seen: dict[str, Any] = json.loads(fake_docker.read_text())
    assert seen["argv"][:2] == ["buildx", "build"]
    assert seen["argv"][-3:] == ["-t", "app", str(context)]
    secrets = seen["secrets"]
    assert set(secrets) == {"dockerpypi-env", "dockerpypi-pip-conf", "dockerpypi-uv-toml"}
    for secret in secrets.values():
        assert (secret["mode"], secret["dir_mode"]) == (0o600, 0o700)
    # The files hold the real credentials; nothing printed does.
    assert MIRROR in secrets["dockerpypi-pip-conf"]["text"]
    assert "dockerpypi: running: docker buildx build" in err
    assert "TOKEN=***" in err
    assert PASSWORD not in out + err
    assert QUOTED not in out + err
    assert list(tmpdir_env.iterdir()) == []


# --- a build whose only index is the local mirror ---------------------------------

def run_build(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``dockerpypi build ARGS`` in a new process, with no mirror but the local one."""
    return subprocess.run([sys.executable, "-m", "dockerpypi", "build", *args],
                          env={**os.environ, "DOCKERPYPI_MIRRORS": "file:///tmp/pypi",
                               **(env or {})},
                          capture_output=True, text=True, check=False, timeout=60)


def docker_calls(record: Path) -> list[list[str]]:
    calls = record.with_name("calls.jsonl")
    if not calls.exists():
        return []
    return [json.loads(line) for line in calls.read_text().splitlines()]


@pytest.fixture
def counted_docker(fake_docker: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake docker, logging every call (see docker_calls)."""
    monkeypatch.setenv("FAKE_DOCKER_CALLS", str(fake_docker.with_name("calls.jsonl")))
    return fake_docker


def wheels_only(directory: Path) -> Path:
    directory.mkdir()
    (directory / "demo-1.0-py3-none-any.whl").write_bytes(b"PK")
    (directory / ".dockerpypi-index.lock").write_text("")
    return directory


@pytest.mark.parametrize(("ours", "mirror", "env", "says"), [
    (["--offline"], "missing", {}, "does not exist, and the build can install from nothing "
                                   "else (offline: flag --offline/--online)"),
    (["--no-public-fallback"], "missing", {},
     "does not exist, and the build can install from nothing else (public index switched "
     "off: flag --public-fallback/--no-public-fallback)"),
    (["--offline", "--dry-run"], "missing", {}, "does not exist"),
    (["--offline", "--transport", "http"], "missing", {}, "does not exist"),
    (["--offline", "--verify"], "missing", {}, "does not exist"),  # (with --load)
    (["--offline"], "empty", {}, "holds no packages, and the build can install from nothing "
                                 "else"),
    (["--offline"], "wheels", {}, "holds packages but no index pages, and the build can "
                                  "install from nothing else"),
    ([], "missing", {"DOCKERPYPI_OFFLINE": "1"}, "(offline: env DOCKERPYPI_OFFLINE)"),
], ids=["offline", "no-public-fallback", "dry-run", "http-transport", "verify", "empty",
        "wheels-without-pages", "offline-from-env"])
def test_an_offline_build_with_nothing_to_install_from_is_refused_before_docker_runs(
        counted_docker: Path, context: Path, tmp_path: Path, ours: list[str], mirror: str,
        env: dict[str, str], says: str) -> None:
    directory = {"missing": tmp_path / "no-such-mirror", "empty": tmp_path / "empty",
                 "wheels": tmp_path / "wheels"}[mirror]
    if mirror == "empty":
        directory.mkdir()
    elif mirror == "wheels":
        wheels_only(directory)
    docker = ["--load"] if "--verify" in ours else []
    done = run_build(*ours, "--mirror-dir", str(directory), *docker, "-t", "app", str(context),
                     env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"dockerpypi: error: the mirror directory {directory} "
                               "(flag --mirror-dir) ")
    assert says in lines[0]
    fix = (f"`dockerpypi mirror index --mirror-dir {directory}`" if mirror == "wheels" else
           f"`dockerpypi mirror add --mirror-dir {directory} -r requirements.txt`")
    assert lines[0].endswith(fix) or f"{fix}, or point --mirror-dir" in lines[0]
    assert docker_calls(counted_docker) == []
    assert done.stdout == ""


def test_the_index_page_looked_for_is_the_one_the_mirror_writes() -> None:
    from dockerpypi.build.local_mirror import PAGE
    from dockerpypi.mirror.distfile import PAGE as WRITTEN

    assert PAGE == WRITTEN


def test_the_mirror_named_by_dib_image_cache_is_the_one_named(
        counted_docker: Path, context: Path, tmp_path: Path) -> None:
    cache = tmp_path / "image-cache"
    done = run_build("-t", "app", str(context),
                     env={"DIB_OFFLINE": "1", "DIB_IMAGE_CACHE": str(cache)})
    assert done.returncode == 2, done.stderr
    assert (f"the mirror directory {cache / 'pypi' / 'mirror'} (env DIB_IMAGE_CACHE) does not "
            "exist, and the build can install from nothing else (offline: env DIB_OFFLINE)"
            in done.stderr)
    assert docker_calls(counted_docker) == []


@pytest.mark.parametrize("case", ["root-page", "project-pages", "own-context",
                                  "another-index", "online"])
def test_an_offline_build_with_something_to_install_from_goes_ahead(
        counted_docker: Path, context: Path, tmp_path: Path, case: str) -> None:
    directory = tmp_path / "mirror"
    ours = ["--offline"]
    docker = []
    if case == "root-page":  # what `dockerpypi mirror index` writes
        wheels_only(directory)
        (directory / "index.html").write_text("<html></html>")
    elif case == "project-pages":  # pip and uv read these, and no root page
        wheels_only(directory)
        (directory / "demo").mkdir()
        (directory / "demo" / "index.html").write_text("<html></html>")
    elif case == "own-context":
        docker = ["--build-context", f"pypi-mirror={tmp_path}"]
    elif case == "another-index":
        ours += ["--index-url", REMOTE, "--index-url", "file:///tmp/pypi"]
    else:
        ours = []
    done = run_build(*ours, "--mirror-dir", str(directory), *docker, "-t", "app", str(context))
    assert done.returncode == 0, done.stderr
    builds = [call for call in docker_calls(counted_docker) if call[:2] == ["buildx", "build"]]
    assert len(builds) == 1
    # the local mirror's absence is said where it is one of the indexes
    assert ("does not exist" in done.stderr) == (case in ("another-index", "online"))
    assert "error" not in done.stderr


@pytest.mark.parametrize(("signum", "docker_exit", "expected"), [
    (signal.SIGINT, "130", 130),
    (signal.SIGTERM, "143", 143),
    (signal.SIGTERM, "1", 1),  # docker's own code wins when it has one
    (signal.SIGTERM, "die", 143),  # docker killed by the signal
])
def test_signal_is_forwarded_then_files_are_removed(
        fake_docker: Path, tmpdir_env: Path, context: Path, monkeypatch: pytest.MonkeyPatch,
        signum: int, docker_exit: str, expected: int) -> None:
    monkeypatch.setenv("FAKE_DOCKER_WAIT", docker_exit)
    process = start_build(context)
    ready = Path(f"{fake_docker}.ready")
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the fake docker never started"
        time.sleep(0.05)
    assert len(list(tmpdir_env.iterdir())) == 1  # the secrets exist while docker runs
    process.send_signal(signum)
    process.communicate(timeout=30)
    assert process.returncode == expected
    if docker_exit != "die":
        assert json.loads(fake_docker.read_text())["signal"] == signum
    assert list(tmpdir_env.iterdir()) == []


# --- the real engine -----------------------------------------------------------

def _engine_or_skip() -> None:
    try:
        answer = subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False)
        problem = None if answer.returncode == 0 else answer.stderr.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = str(exc)
    if problem is None:
        return
    reason = f"no Docker engine: {problem.strip()[:200]}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI=true: the Docker tests must run)")
    pytest.skip(reason)


def _render(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "dockerpypi", "render", *args],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.docker
def test_real_build_mounts_the_mirror_and_secrets_and_leaves_no_files(
        tmp_path: Path, tmpdir_env: Path) -> None:
    _engine_or_skip()
    from support.index import write_simple_index
    from support.wheels import make_wheel

    marker = f"marker-{uuid.uuid4().hex}"
    mirror = tmp_path / "mirror"
    make_wheel(mirror, "dockerpypi-probe", "1.0", origin="build-test")
    write_simple_index(mirror)
    (mirror / marker).write_text("", encoding="utf-8")
    context = tmp_path / "ctx"
    context.mkdir()
    head = _render("stage") + f"FROM {BASE_IMAGE}\n"
    # Installing from the mirror works only if the pip.conf secret was there.
    step = ("cat /run/dockerpypi/pip.conf > /dev/null && ls /tmp/pypi > /listing"
            " && python3 -m pip install --no-cache-dir dockerpypi-probe"
            " && python3 -c 'import dockerpypi_probe as p; print(p.MIRROR_ORIGIN)' > /origin")
    (context / "Dockerfile").write_text(head + _render("--", "sh", "-c", step), encoding="utf-8")
    (context / "Dockerfile.fail").write_text(
        head + _render("--", "sh", "-c", "cat /run/dockerpypi/pip.conf && false"),
        encoding="utf-8")
    tag = f"dockerpypi-test/build-cli:{uuid.uuid4().hex[:12]}"
    build = [sys.executable, "-m", "dockerpypi", "build", "--offline", "--mirror-dir",
             str(mirror), "--progress=plain", "--label", "dockerpypi.test=1"]
    try:
        done = subprocess.run([*build, "-t", tag, str(context)], capture_output=True,
                              text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        shown = subprocess.run(["docker", "run", "--rm", "--label", "dockerpypi.test=1", tag,
                                "cat", "/listing", "/origin"],
                               capture_output=True, text=True, timeout=120, check=True).stdout
        assert marker in shown.split()
        assert "dockerpypi_probe-1.0-py3-none-any.whl" in shown.split()
        assert "build-test" in shown.split()
        assert list(tmpdir_env.iterdir()) == []

        failed = subprocess.run([*build, "-f", str(context / "Dockerfile.fail"), str(context)],
                                capture_output=True, text=True, timeout=600, check=False)
        plain = subprocess.run(["docker", "buildx", "build", "--progress=plain", "-f",
                                str(context / "Dockerfile.fail"), str(context)],
                               capture_output=True, text=True, timeout=600, check=False)
        assert failed.returncode != 0
        assert failed.returncode == plain.returncode  # docker's own code
        assert "did not complete successfully" in failed.stderr
        assert list(tmpdir_env.iterdir()) == []
    finally:
        subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True,
                       check=False)


@pytest.mark.parametrize(("engine", "expected_transport"), [
    ("20.10.24+dfsg1", "http"), ("26.1.5", "context")])
def test_transport_follows_what_the_engine_can_do(
        fake_docker: Path, tmpdir_env: Path, context: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, engine: str, expected_transport: str) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "demo").mkdir(parents=True)
    (mirror / "demo" / "index.html").write_text("served demo page")
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", engine)
    result = subprocess.run(
        [sys.executable, "-m", "dockerpypi", "build", "--offline", "--mirror-dir", str(mirror),
         "-t", "app", str(context)], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"transport {expected_transport}:" in result.stderr
    seen: dict[str, Any] = json.loads(fake_docker.read_text())
    argv = seen["argv"]
    if expected_transport == "http":
        # Docker 20.10 cannot take the named context: the mirror is served on
        # loopback while docker runs, reached through the host network.
        assert not any(arg.startswith("pypi-mirror=") for arg in argv)
        assert "--network=host" in argv
        assert seen["fetched"] == "served demo page"
    else:
        assert f"pypi-mirror={mirror}" in argv
        assert "--network=host" not in argv
        assert "fetched" not in seen
        assert "index-url = file:///tmp/pypi" in seen["secrets"]["dockerpypi-pip-conf"]["text"]
    assert list(tmpdir_env.iterdir()) == []


def test_without_buildx_the_engine_builds_with_buildkit_and_the_served_mirror(
        fake_docker: Path, tmpdir_env: Path, context: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "demo").mkdir(parents=True)
    (mirror / "demo" / "index.html").write_text("served demo page")
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "20.10.24")
    monkeypatch.setenv("FAKE_DOCKER_NO_BUILDX", "1")
    result = subprocess.run(
        [sys.executable, "-m", "dockerpypi", "build", "--offline", "--mirror-dir", str(mirror),
         "-t", "app", str(context)], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "buildx is not installed" in result.stderr
    seen: dict[str, Any] = json.loads(fake_docker.read_text())
    assert seen["argv"][0] == "build"  # `docker build`, not `docker buildx build`
    assert seen["env_buildkit"] == "1"
    assert seen["fetched"] == "served demo page"
