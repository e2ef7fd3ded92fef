"""`dockerpypi doctor`: each check, its verdict and its fix.

The engine is faked where the point is the verdict for an engine this
machine does not have; the mirrors are real servers on 127.0.0.1 (the
`http_mirror` fixture and a few handlers of our own); one test asks the real
engine through the CLI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from support.server import ServedURL
from support.wheels import make_wheel

from dockerpypi.build.engine import EngineInfo
from dockerpypi.doctor import (
    FAIL,
    NOTE,
    OK,
    Check,
    engine_checks,
    mirror_dir_checks,
    url_checks,
)
from dockerpypi.errors import UserMessageError
from dockerpypi.mirror.index import update_index
from dockerpypi.settings.model import Settings
from dockerpypi.settings.resolve import resolve_settings

USER = "dockerpypi-builder"
PASSWORD = "s3cret@#:/%+word"
ENCODED = quote(PASSWORD, safe="")


def settings(*mirrors: str, **flags: object) -> Settings:
    return resolve_settings({"mirrors": mirrors or None, **flags}, environ={})


def verdicts(checks: list[Check]) -> dict[str, str]:
    return {check.name: check.status for check in checks}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_no_secret(checks: list[Check]) -> None:
    text = json.dumps([check.to_json() for check in checks])
    assert PASSWORD not in text
    assert ENCODED not in text


# --- the engine ---------------------------------------------------------------------------


def test_a_current_engine_with_buildx_is_all_ok() -> None:
    info = EngineInfo("26.1.5+dfsg1", "0.13.1+ds1", "docker", "v0.0.0+unknown")
    checks = engine_checks(settings(), lambda: info)
    assert verdicts(checks) == {"engine": OK, "buildx": OK, "builder": OK,
                                "named contexts": OK, "secrets": OK, "transport": OK}
    by_name = {check.name: check for check in checks}
    assert by_name["engine"].detail == "Docker Engine 26.1.5+dfsg1"
    assert by_name["transport"].detail.startswith("context: Engine 26.1.5+dfsg1 with buildx")


def test_docker_20_10_without_buildx_gets_the_http_transport() -> None:
    info = EngineInfo("20.10.24", None, None, None)
    checks = engine_checks(settings(), lambda: info)
    assert verdicts(checks) == {"engine": OK, "buildx": NOTE, "named contexts": NOTE,
                                "secrets": OK, "transport": OK}
    assert {c.name: c.detail for c in checks}["transport"].startswith("http: docker buildx is "
                                                                      "not installed")


def test_an_engine_too_old_for_secret_mounts_fails_with_the_fix() -> None:
    checks = engine_checks(settings(), lambda: EngineInfo("19.03.15", None, None, None))
    secrets = next(check for check in checks if check.name == "secrets")
    assert (secrets.status, secrets.fix) == (FAIL, "upgrade the Docker engine to 20.10 or later")


def test_a_remote_builder_gets_a_loopback_mirror_fetched_for_it() -> None:
    info = EngineInfo("26.1.5", "0.13.1", "remote", "v0.13.2", builder_name="kit",
                      builder_endpoint="tcp://buildkitd.example:1234")
    checks = engine_checks(settings("http://127.0.0.1:3141/simple/"), lambda: info)
    builder = next(check for check in checks if check.name == "builder")
    assert (builder.status, builder.detail) == (NOTE, (
        "driver remote, BuildKit v0.13.2: the remote builder kit at tcp://buildkitd.example:1234 "
        "cannot reach http://127.0.0.1:3141/simple/ on this machine's loopback; builds fetch "
        "what they install from it here and send it as the pypi-mirror context"))
    assert verdicts(engine_checks(settings("https://mirror.test/simple/"), lambda: info))[
        "builder"] == OK


def test_an_engine_elsewhere_is_told_by_its_endpoint() -> None:
    info = EngineInfo("26.1.5", "0.13.1", "docker", "v0.0.0+unknown",
                      engine_host="tcp://10.231.0.2:2375")
    checks = engine_checks(settings("http://127.0.0.1:3141/simple/"), lambda: info)
    assert verdicts(checks)["builder"] == NOTE
    # Without named contexts the mirror would be served on 127.0.0.1: that cannot work.
    old = EngineInfo("20.10.24", None, None, None, engine_host="ssh://me@build-host.example")
    transport = next(c for c in engine_checks(settings(), lambda: old) if c.name == "transport")
    assert (transport.status, transport.fix) == (FAIL, (
        "use a builder with named build contexts (buildx 0.8+ and Engine 23+ or BuildKit 0.10+)"))
    assert "the docker builder of the engine at ssh://me@build-host.example cannot reach" in \
        transport.detail


def test_no_engine_is_one_failure_with_its_fix() -> None:
    def probe() -> EngineInfo:
        raise UserMessageError("no Docker engine answers (Cannot connect to the Docker daemon at "
                               "unix:///nonexistent.sock. Is the docker daemon running?): start "
                               "the engine, or point DOCKER_HOST at one")

    assert engine_checks(settings(), probe) == [Check(
        "engine", FAIL, "no Docker engine answers (Cannot connect to the Docker daemon at "
                        "unix:///nonexistent.sock. Is the docker daemon running?)",
        "start the engine, or point DOCKER_HOST at one")]

    def refusing() -> EngineInfo:
        raise UserMessageError("the engine said: no", fix="ask it: `docker info`")

    # The error's fields, not its words cut at a colon.
    assert engine_checks(settings(), refusing) == [Check(
        "engine", FAIL, "the engine said: no", "ask it: `docker info`")]


# --- the mirror directory -----------------------------------------------------------------


def test_the_mirror_directory_present_indexed_and_consistent(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    missing = mirror_dir_checks(settings(mirror_dir=str(root)))
    assert [(c.status, c.fix.split(",")[0]) for c in missing] == [
        (FAIL, "fill it with `dockerpypi mirror add PACKAGE`")]

    make_wheel(root, "dockerpypi-alpha", "1.0.7")
    unindexed = mirror_dir_checks(settings(mirror_dir=str(root)))
    assert [(c.name, c.status) for c in unindexed] == [("mirror directory", OK),
                                                      ("mirror index", FAIL)]
    assert unindexed[1].fix == "run `dockerpypi mirror index`"

    update_index(root)
    assert verdicts(mirror_dir_checks(settings(mirror_dir=str(root)))) == {
        "mirror directory": OK, "mirror index": OK, "mirror consistency": OK}

    wheel = root / "dockerpypi_alpha-1.0.7-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"changed")
    broken = mirror_dir_checks(settings(mirror_dir=str(root)))[-1]
    assert broken.status == FAIL
    assert broken.detail == (f"{wheel.name}: does not match the sha256 in "
                             "dockerpypi-alpha/index.html")
    assert "dockerpypi mirror add" in broken.fix

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert mirror_dir_checks(settings(mirror_dir=str(not_a_dir)))[0].status == FAIL


def test_the_mirror_directory_is_only_a_note_when_no_mirror_uses_it(tmp_path: Path) -> None:
    checks = mirror_dir_checks(settings("https://mirror.test/simple/",
                                        mirror_dir=str(tmp_path / "none")))
    assert [c.status for c in checks] == [NOTE]


# --- the mirror URLs --------------------------------------------------------------------


def test_each_mirror_url_is_fetched_with_its_credentials_never_shown(
    http_mirror: Callable[..., ServedURL],
) -> None:
    private = http_mirror(["dockerpypi-alpha==1.0.7"], username=USER, password=PASSWORD)
    good = private.replace("http://", f"http://{USER}:{ENCODED}@")
    wrong = private.replace("http://", f"http://{USER}:{ENCODED}x@")
    dead = f"http://127.0.0.1:{closed_port()}/"
    nowhere = good + "no/such/path/"
    checks = url_checks(settings(good, wrong, private, dead, nowhere, "file:///tmp/pypi",
                                 "file:///srv/wheels", offline=True), timeout=5)
    assert [(c.name, c.status) for c in checks] == [
        ("mirror 1", OK), ("mirror 2", FAIL), ("mirror 3", FAIL), ("mirror 4", FAIL),
        ("mirror 5", FAIL), ("mirror 6", OK), ("mirror 7", FAIL)]
    details = [c.detail for c in checks]
    assert details[0].startswith(f"http://***@{private.removeprefix('http://')} answers "
                                 "(HTTP 200 in ")
    assert details[0].endswith("; the build reaches it on the host's network (--network=host)")
    assert details[1].endswith("refuses the credentials (HTTP 401)")
    assert details[2].endswith("asks for credentials (HTTP 401)")
    assert "put user:password@ in the mirror URL" in checks[2].fix
    assert details[3] == f"{dead} cannot be reached (Connection refused)"
    assert details[4].endswith("has no index at this path (HTTP 404)")
    assert details[5].startswith("file:///tmp/pypi is the local mirror directory")
    assert details[6] == ("file:///srv/wheels is not the mount point /tmp/pypi: a build step "
                          "sees nothing at /srv/wheels")
    assert checks[6].fix == ("use file:///tmp/pypi for the local mirror directory, or "
                             "--mount-point /srv/wheels")
    assert all(c.fix for c in checks if c.status == FAIL)
    assert_no_secret(checks)
    # The right credentials were sent (and accepted) by the first check.
    assert 200 in private.statuses()


def test_an_unreachable_public_index_suggests_offline(upstream_index: ServedURL) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/simple/"
    checks = url_checks(settings(upstream_index, public_index=dead))
    assert [(c.name, c.status) for c in checks] == [("mirror 1", OK), ("public index", FAIL)]
    assert checks[1].fix.endswith("or pass --offline when builds must do without the public "
                                  "index")
    assert [c.name for c in url_checks(settings(upstream_index, public_index=dead,
                                                offline=True))] == ["mirror 1"]


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def recording_handler(seen: list[tuple[str, str | None]], *, redirect: str | None = None,
                      delay: float = 0.0) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            time.sleep(delay)
            if redirect is not None:
                self.send_response(302)
                self.send_header("Location", redirect)
            else:
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def test_credentials_follow_a_redirect_only_to_the_same_host() -> None:
    elsewhere: list[tuple[str, str | None]] = []
    here: list[tuple[str, str | None]] = []
    with serving(recording_handler(elsewhere)) as other, \
            serving(recording_handler(here, redirect=other + "simple/")) as first:
        credentialed = first.replace("http://", f"http://{USER}:{ENCODED}@")
        [check] = url_checks(settings(credentialed, offline=True))
    assert check.status == OK
    assert (here[0][1] or "").startswith("Basic ")
    assert elsewhere == [("/simple/", None)]  # followed, without the credentials

    same: list[tuple[str, str | None]] = []

    class SameHost(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            same.append((self.path, self.headers.get("Authorization")))
            self.send_response(301 if self.path == "/" else 200)
            if self.path == "/":
                self.send_header("Location", "/simple/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(SameHost) as url:
        [check] = url_checks(settings(url.replace("http://", f"http://{USER}:{ENCODED}@"),
                                      offline=True))
    assert check.status == OK
    assert [path for path, _ in same] == ["/", "/simple/"]
    assert same[0][1] == same[1][1] is not None


def test_a_mirror_that_does_not_answer_times_out() -> None:
    seen: list[tuple[str, str | None]] = []
    with serving(recording_handler(seen, delay=2)) as slow:
        started = time.monotonic()
        [check] = url_checks(settings(slow, offline=True), timeout=0.3)
        took = time.monotonic() - started
    assert (check.status, check.detail) == (FAIL, f"{slow} cannot be reached (no answer "
                                                  "within 0.3s)")
    assert took < 2


# --- the command line ------------------------------------------------------------------------


def doctor(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "TMPDIR": str(cwd)}
    return subprocess.run([sys.executable, "-m", "dockerpypi", "doctor", *args], cwd=cwd,
                          env={**base, **env}, capture_output=True, text=True, check=False,
                          timeout=120)


def test_cli_without_an_engine_fails_with_one_line(tmp_path: Path) -> None:
    result = doctor("--json", cwd=tmp_path, env={
        "DOCKER_HOST": "unix:///nonexistent.sock", "DOCKERPYPI_OFFLINE": "1",
        "DOCKERPYPI_MIRROR_DIR": str(tmp_path / "none")})
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    engine = data["checks"][0]
    assert (engine["name"], engine["status"]) == ("engine", "fail")
    assert "no Docker engine answers" in engine["detail"]
    assert result.stderr.splitlines()[-1] == ("dockerpypi: error: 2 checks failed (engine, "
                                              "mirror directory): apply the fixes shown above")
    assert "Traceback" not in result.stderr


def test_cli_on_the_real_engine_all_well(
    tmp_path: Path, docker_engine: object, http_mirror: Callable[..., ServedURL],
) -> None:
    root = tmp_path / "mirror"
    make_wheel(root, "dockerpypi-alpha", "1.0.7")
    update_index(root)
    private = http_mirror(["dockerpypi-beta==1.0"], username=USER, password=PASSWORD)
    credentialed = private.replace("http://", f"http://{USER}:{ENCODED}@")
    env = {"DOCKERPYPI_MIRRORS": f"file:///tmp/pypi {credentialed}", "DOCKERPYPI_OFFLINE": "1",
           "DOCKERPYPI_MIRROR_DIR": str(root)}
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    result = doctor(cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    statuses = [line.split()[0] for line in result.stdout.splitlines()
                if not line.startswith(" ")]
    assert set(statuses) <= {OK, NOTE}, result.stdout
    assert "transport " in result.stdout
    for secret in (PASSWORD, ENCODED):
        assert secret not in result.stdout


def test_a_mirror_problem_keeps_its_words_apart_from_its_fix(tmp_path: Path) -> None:
    # The problem itself holds ": " (packaging's words about the file name): the
    # detail is all of it, the fix is the check's own.
    root = tmp_path / "mirror"
    make_wheel(root, "dockerpypi-alpha", "1.0.7")
    update_index(root)
    page = root / "dockerpypi-alpha" / "index.html"
    page.write_text(page.read_text().replace(
        "</body>", '<a href="../dockerpypi_alpha-x.whl">dockerpypi_alpha-x.whl</a></body>'))
    broken = mirror_dir_checks(settings(mirror_dir=str(root)))[-1]
    assert broken.status == FAIL
    assert broken.detail == (
        "dockerpypi-alpha/index.html: links dockerpypi_alpha-x.whl, which is not a valid "
        "distribution file name (Invalid wheel filename (wrong number of parts): "
        "'dockerpypi_alpha-x')")
    assert broken.fix == "run `dockerpypi mirror index`"
