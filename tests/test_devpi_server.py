"""``dockerpypi devpi`` start, status, stop and root/pypi's upstream, with a real devpi-server.

No Docker: the server runs on 127.0.0.1, its upstream is a fake index the
tests serve (so nothing leaves the machine), and pip installs through it.
One server runs for the module; the tests that restart a server, or stop
it, have a server directory of their own. Key derivation is made cheap
(support/server.py), so a start takes about a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import UPSTREAM_PACKAGES
from support.devpi import end_servers_of, environment, free_port, port_answers, servers_of
from support.index import write_index_of
from support.server import ServedURL, serve_directory
from support.wheels import wheel_filename

from dockerpypi.devpi import api
from dockerpypi.devpi.serverdir import NODEINFO, PASSWORD_FILE, PID_FILE, SECRET_FILE

pytestmark = pytest.mark.slow

# What a server's directory holds from its first start on, and keeps.
KEPT_FILES = (PASSWORD_FILE, SECRET_FILE, NODEINFO)


@dataclass(frozen=True)
class Devpi:
    """How to run the CLI and pip against devpi servers of one test module."""

    env: dict[str, str]
    scratch: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dockerpypi", "devpi", *args],
                              capture_output=True, text=True, check=False, timeout=120,
                              env=self.env, cwd=self.scratch)

    def start(self, serverdir: Path, port: int, upstream: str,
              *more: str) -> subprocess.CompletedProcess[str]:
        return self.cli("start", "--serverdir", str(serverdir), "--port", str(port),
                        "--public-index", upstream, *more)

    def status(self, serverdir: Path) -> dict[str, object]:
        done = self.cli("status", "--json", "--serverdir", str(serverdir))
        assert done.returncode == 0, done.stderr
        data: dict[str, object] = json.loads(done.stdout)
        return data

    def pip_download(self, index: str, dest: Path, *packages: str
                     ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-cache-dir", "--dest", str(dest),
             "--index-url", index, *packages],
            capture_output=True, text=True, check=False, timeout=120, env=self.env)


@dataclass(frozen=True)
class Running:
    """The module's server: where it lives and what it mirrors."""

    serverdir: Path
    port: int
    upstream: ServedURL
    start: subprocess.CompletedProcess[str]

    @property
    def url(self) -> str:
        return api.index_url(self.port)


@pytest.fixture(scope="module")
def devpi_cli(tmp_path_factory: pytest.TempPathFactory) -> Devpi:
    scratch = tmp_path_factory.mktemp("devpi-cli")
    return Devpi(environment(os.environ, scratch / "cache"), scratch)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedURL]:
    """The fake public index of the module: UPSTREAM_PACKAGES."""
    root = write_index_of(tmp_path_factory.mktemp("upstream") / "index", UPSTREAM_PACKAGES,
                          origin="upstream")
    with serve_directory(root) as served:
        yield served


@pytest.fixture(scope="module")
def running(devpi_cli: Devpi, upstream: ServedURL,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    serverdir = tmp_path_factory.mktemp("devpi") / "server"
    port = free_port()
    started = devpi_cli.start(serverdir, port, upstream)
    try:
        assert started.returncode == 0, started.stderr
        yield Running(serverdir, port, upstream, started)
    finally:
        assert end_servers_of(serverdir) == [], "a devpi-server outlived its tests"


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Path]:
    """A server directory for one test; no server of it outlives the test, pass or fail."""
    serverdir = tmp_path / "devpi"
    yield serverdir
    assert end_servers_of(serverdir) == [], "a devpi-server outlived its test"


@pytest.fixture
def other_upstream(tmp_path: Path) -> Iterator[ServedURL]:
    """Another fake index, offering what the module's upstream does not."""
    root = write_index_of(tmp_path / "other", ("dockerpypi-other==3.0",), origin="other")
    with serve_directory(root) as served:
        yield served


def _api(url: str) -> dict[str, object]:
    """A GET of devpi's JSON API on loopback, never through a proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    call = urllib.request.Request(url, headers={"Accept": "application/json"})
    with opener.open(call, timeout=30) as response:
        result: dict[str, object] = json.loads(response.read())["result"]
        return result


def _root_pypi(port: int) -> dict[str, object]:
    return _api(f"{api.base_url(port)}/{api.MIRROR_INDEX}?no_projects=")


def _kept(serverdir: Path) -> dict[str, bytes]:
    return {name: (serverdir / name).read_bytes() for name in KEPT_FILES}


# --- the module's server ------------------------------------------------------------


def test_start_prints_the_index_url_alone_and_says_what_it_did(running: Running) -> None:
    assert running.start.stdout == running.url + "\n"
    assert running.url == f"http://127.0.0.1:{running.port}/root/pypi/+simple/"
    assert running.start.stderr.startswith("dockerpypi: devpi-server started: pid ")
    assert f"upstream {running.upstream}, online" in running.start.stderr


def test_status_reports_the_running_server(devpi_cli: Devpi, running: Running) -> None:
    status = devpi_cli.status(running.serverdir)
    assert {key: status[key] for key in ("running", "url", "port", "upstream", "offline")} == {
        "running": True, "url": running.url, "port": running.port,
        "upstream": running.upstream, "offline": False}
    assert servers_of(running.serverdir) == [status["pid"]]
    words = devpi_cli.cli("status", "--serverdir", str(running.serverdir))
    assert words.stdout.splitlines()[0] == f"devpi-server runs: {running.url}"


def test_root_pypi_mirrors_the_upstream_and_the_secrets_stay_private(running: Running) -> None:
    index = _root_pypi(running.port)
    assert (index["type"], index["mirror_url"]) == ("mirror", running.upstream)
    # dockerpypi made it as root, with the password devpi-init was given; both stay private.
    for name in (PASSWORD_FILE, SECRET_FILE):
        assert (running.serverdir / name).stat().st_mode & 0o077 == 0


def test_pip_installs_through_devpi_from_the_upstream(
    devpi_cli: Devpi, running: Running, tmp_path: Path,
) -> None:
    done = devpi_cli.pip_download(running.url, tmp_path / "got", "dockerpypi-probe-app")
    assert done.returncode == 0, done.stdout + done.stderr
    wanted = [wheel_filename("dockerpypi-probe-app", "1.0"),
              wheel_filename("dockerpypi-probe", "1.0")]  # the app wants probe<2
    assert sorted(path.name for path in (tmp_path / "got").iterdir()) == sorted(wanted)
    # devpi fetched them from the upstream: nothing else could have served them.
    assert set(wanted) <= set(running.upstream.downloads())


def test_a_second_start_finds_it_running_and_leaves_it(
    devpi_cli: Devpi, running: Running,
) -> None:
    pids = servers_of(running.serverdir)
    again = devpi_cli.start(running.serverdir, running.port, running.upstream)
    assert again.returncode == 0, again.stderr
    assert again.stdout == running.url + "\n"
    assert again.stderr.startswith("dockerpypi: devpi-server already runs: pid ")
    assert servers_of(running.serverdir) == pids


def test_a_start_with_other_settings_is_refused_while_it_runs(
    devpi_cli: Devpi, running: Running,
) -> None:
    refused = devpi_cli.start(running.serverdir, running.port, running.upstream, "--offline")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr == (
        f"dockerpypi: error: devpi-server already runs from {running.serverdir} (pid "
        f"{servers_of(running.serverdir)[0]}) with offline False (asked for True): stop it "
        "first with `dockerpypi devpi stop`\n")


# --- servers of their own ------------------------------------------------------------


def test_stop_ends_the_server_and_frees_its_port(
    devpi_cli: Devpi, upstream: ServedURL, own_server: Path,
) -> None:
    port = free_port()
    started = devpi_cli.start(own_server, port, upstream, "--offline", "--json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    assert b"--offline-mode" in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert devpi_cli.status(own_server)["offline"] is True
    assert port_answers(port)

    stopped = devpi_cli.cli("stop", "--serverdir", str(own_server))

    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"stopped devpi-server, pid {pid} (serverdir {own_server})\n"
    assert servers_of(own_server) == []
    assert not port_answers(port)
    assert not (own_server / PID_FILE).exists()
    assert devpi_cli.status(own_server)["running"] is False
    again = devpi_cli.cli("stop", "--serverdir", str(own_server))
    assert again.stdout == f"devpi-server was not running (serverdir {own_server})\n"


def _start_and_stop(devpi_cli: Devpi, serverdir: Path, port: int, upstream: str) -> None:
    """A first start: initialises ``serverdir`` and makes root/pypi mirror ``upstream``."""
    started = devpi_cli.start(serverdir, port, upstream)
    assert started.returncode == 0, started.stderr
    assert devpi_cli.cli("stop", "--serverdir", str(serverdir)).returncode == 0


def test_root_pypi_is_repointed_with_a_note(
    devpi_cli: Devpi, upstream: ServedURL, other_upstream: ServedURL, own_server: Path,
    tmp_path: Path,
) -> None:
    port = free_port()
    _start_and_stop(devpi_cli, own_server, port, upstream)
    kept = _kept(own_server)

    started = devpi_cli.start(own_server, port, other_upstream)

    assert started.returncode == 0, started.stderr
    assert (f"dockerpypi: warning: root/pypi now mirrors {other_upstream} (was {upstream})"
            in started.stderr)
    assert _root_pypi(port)["mirror_url"] == other_upstream
    done = devpi_cli.pip_download(api.index_url(port), tmp_path / "got", "dockerpypi-other")
    assert done.returncode == 0, done.stdout + done.stderr
    assert other_upstream.downloads() == [wheel_filename("dockerpypi-other", "3.0")]
    assert _kept(own_server) == kept  # initialised once: the same password and secret


def test_an_unchanged_upstream_needs_no_password(
    devpi_cli: Devpi, upstream: ServedURL, own_server: Path,
) -> None:
    port = free_port()
    _start_and_stop(devpi_cli, own_server, port, upstream)
    (own_server / PASSWORD_FILE).unlink()

    started = devpi_cli.start(own_server, port, upstream)

    assert started.returncode == 0, started.stderr
    assert "warning" not in started.stderr
    assert _root_pypi(port)["mirror_url"] == upstream


def test_repointing_takes_dockerpypis_root_password(
    devpi_cli: Devpi, upstream: ServedURL, other_upstream: ServedURL, own_server: Path,
) -> None:
    port = free_port()
    _start_and_stop(devpi_cli, own_server, port, upstream)

    (own_server / PASSWORD_FILE).write_text("not-the-password")
    refused = devpi_cli.start(own_server, port, other_upstream)
    assert refused.returncode == 1
    # devpi's reason, its several lines made one.
    assert refused.stderr.startswith("dockerpypi: error: devpi-server refused PATCH /root/pypi "
                                     "(HTTP 403: Access was denied"), refused.stderr
    assert refused.stderr.endswith("); start again with a new --serverdir\n"), refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
    # The server it started is stopped again, its port free.
    assert (servers_of(own_server), port_answers(port)) == ([], False)

    (own_server / PASSWORD_FILE).unlink()
    refused = devpi_cli.start(own_server, port, other_upstream)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"dockerpypi: error: root/pypi must mirror {other_upstream}, but {own_server} has no "
        f"root password of dockerpypi's ({PASSWORD_FILE}): use a --serverdir that "
        "dockerpypi initialised\n")
    assert (servers_of(own_server), port_answers(port)) == ([], False)


def test_credentials_of_the_upstream_reach_it_and_are_shown_nowhere(
    devpi_cli: Devpi, own_server: Path, make_mirror: Callable[..., Path], tmp_path: Path,
) -> None:
    root = make_mirror(["dockerpypi-private==1.0"], origin="private")
    secret = "t0ken-for-devpi"
    with serve_directory(root, username="builder", password=secret) as private:
        with_credentials = private.replace("http://", f"http://builder:{secret}@")
        port = free_port()
        started = devpi_cli.start(own_server, port, with_credentials)
        assert started.returncode == 0, started.stderr
        assert secret not in started.stdout + started.stderr
        assert "credentials included, to anyone who can reach" in started.stderr
        status = devpi_cli.status(own_server)
        assert status["upstream"] == private.replace("http://", "http://***@")

        done = devpi_cli.pip_download(api.index_url(port), tmp_path / "got",
                                      "dockerpypi-private")

        assert done.returncode == 0, done.stdout + done.stderr
        assert private.downloads() == [wheel_filename("dockerpypi-private", "1.0")]
        assert 401 not in {r.status for r in private.requests if r.path.endswith(".whl")}
