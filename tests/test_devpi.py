"""``dockerpypi devpi``: command lines, URLs, what to ask the API, pid handling, the CLI.

No real devpi-server runs here (tests/test_devpi_server.py and
tests/test_devpi_docker.py run one, and call its JSON API): the processes are
small stand-in scripts.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_main as run

from dockerpypi.devpi import api, server
from dockerpypi.devpi.serverdir import (
    LOG_FILE,
    PASSWORD_FILE,
    PID_FILE,
    SECRET_FILE,
    STATE_FILE,
    default_server_dir,
    log_tail,
    parse_pid,
)
from dockerpypi.errors import UserMessageError
from dockerpypi.settings.resolve import resolve_settings
from dockerpypi.settings.urls import MirrorURL

UPSTREAM = "http://index.example/simple/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- where, and what URL ------------------------------------------------------------


def test_the_server_dir_is_devpi_beside_the_mirror_dir_of_dib_image_cache(tmp_path: Path) -> None:
    settings = resolve_settings({}, environ={"DIB_IMAGE_CACHE": str(tmp_path)},
                                context_dir=tmp_path)
    assert default_server_dir(settings.mirror_dir.value) == tmp_path / "pypi" / "devpi"


def test_the_default_server_dir_is_in_the_image_create_cache(tmp_path: Path) -> None:
    settings = resolve_settings({}, environ={}, context_dir=tmp_path)
    expected = Path("~/.cache/image-create/pypi/devpi").expanduser()
    assert default_server_dir(settings.mirror_dir.value) == expected


def test_the_index_url_is_the_pep_503_page_of_root_pypi_on_loopback() -> None:
    assert api.index_url(3141) == "http://127.0.0.1:3141/root/pypi/+simple/"
    assert api.base_url(8080) == "http://127.0.0.1:8080"


# --- command lines -------------------------------------------------------------------


def test_init_makes_no_root_pypi_and_takes_the_password_from_its_environment(
    tmp_path: Path,
) -> None:
    argv = server.init_argv("/bin/devpi-init", tmp_path)
    env = server.init_env("s3cret", {"HOME": "/home/me"})

    assert argv == ["/bin/devpi-init", "--serverdir", str(tmp_path), "--no-root-pypi"]
    assert not any("s3cret" in arg for arg in argv)  # never on a command line
    assert env == {"HOME": "/home/me", "DEVPISERVER_ROOT_PASSWD": "s3cret"}


def test_the_server_listens_on_loopback_with_a_persistent_secret(tmp_path: Path) -> None:
    argv = server.server_argv(Path("/bin/devpi-server"), tmp_path, 3200, offline=False)

    assert argv == ["/bin/devpi-server", "--serverdir", str(tmp_path), "--host", "127.0.0.1",
                    "--port", "3200", "--secretfile", str(tmp_path / SECRET_FILE)]


def test_offline_start_is_devpis_offline_mode(tmp_path: Path) -> None:
    argv = server.server_argv("devpi-server", tmp_path, 3141, offline=True)
    assert argv[-1] == "--offline-mode"
    assert "--offline-mode" not in server.server_argv("devpi-server", tmp_path, 3141,
                                                     offline=False)


def test_the_server_does_not_inherit_the_root_password() -> None:
    env = server.server_env({"PATH": "/bin", "DEVPISERVER_ROOT_PASSWD": "x"})
    assert env == {"PATH": "/bin"}


# --- the upstream of root/pypi ---------------------------------------------------------


def test_a_missing_root_pypi_is_created_as_a_mirror_of_the_upstream() -> None:
    change = api.mirror_update(None, UPSTREAM)

    assert change is not None
    assert (change.method, change.path) == ("PUT", "/root/pypi")
    assert change.body == {"type": "mirror", "mirror_url": UPSTREAM, "volatile": False,
                           "title": "PyPI mirror (dockerpypi)"}


def test_root_pypi_already_mirroring_the_upstream_is_left_alone() -> None:
    current = {"type": "mirror", "mirror_url": UPSTREAM.rstrip("/")}
    assert api.mirror_update(current, UPSTREAM) is None


def test_root_pypi_mirroring_another_upstream_is_patched_key_by_key() -> None:
    current = {"type": "mirror", "mirror_url": "http://old.example/simple/", "title": "x"}
    change = api.mirror_update(current, UPSTREAM)

    assert change == api.APIRequest("PATCH", "/root/pypi", [f"mirror_url={UPSTREAM}"])


def test_a_root_pypi_that_is_no_mirror_is_refused() -> None:
    with pytest.raises(UserMessageError, match="not a mirror: use a new --serverdir"):
        api.mirror_update({"type": "stage"}, UPSTREAM)


def test_basic_auth_header() -> None:
    assert api.basic_auth("root", "pw") == "Basic " + base64.b64encode(b"root:pw").decode()


# --- which process is ours ------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["/venv/bin/python", "/venv/bin/devpi-server", "--serverdir", "{dir}", "--port", "1"],
    ["/venv/bin/devpi-server", "--host", "127.0.0.1", "--serverdir", "{dir}"],
    ["devpi-server", "--serverdir={dir}"],
])
def test_a_devpi_server_of_the_dir_is_recognised(argv: list[str], tmp_path: Path) -> None:
    filled = [arg.replace("{dir}", str(tmp_path)) for arg in argv]
    assert server.is_devpi_server_cmdline(filled, tmp_path)


@pytest.mark.parametrize("argv", [
    ["/venv/bin/devpi-server", "--serverdir", "/elsewhere"],
    ["/usr/bin/python3", "-m", "http.server", "--serverdir", "{dir}"],
    ["/venv/bin/devpi-server", "--port", "1"],
    ["/venv/bin/devpi-server", "--serverdir"],
    [],
])
def test_other_processes_are_not_taken_for_the_server(argv: list[str], tmp_path: Path) -> None:
    filled = [arg.replace("{dir}", str(tmp_path)) for arg in argv]
    assert not server.is_devpi_server_cmdline(filled, tmp_path)


@pytest.mark.parametrize(("text", "pid"), [("123\n", 123), (" 7 ", 7), ("", None),
                                           ("0", None), ("-3", None), ("abc", None)])
def test_parse_pid(text: str, pid: int | None) -> None:
    assert parse_pid(text) == pid


def test_the_log_tail_is_one_line_of_the_last_lines() -> None:
    text = "".join(f"line {n}\n" for n in range(10)) + "\n\n"
    assert log_tail(text, 3) == "line 7 | line 8 | line 9"
    assert log_tail("") == "(the log is empty)"


# --- finding devpi-server ----------------------------------------------------------------


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_devpi_is_found_beside_this_python_first(tmp_path: Path) -> None:
    for name in ("devpi-init", "devpi-server"):
        _executable(tmp_path / name, "#!/bin/sh\n")
    found = server.find_executables(bindir=tmp_path, which=lambda name: f"/path/{name}")
    assert found == (tmp_path / "devpi-init", tmp_path / "devpi-server")


def test_devpi_is_found_on_path_otherwise(tmp_path: Path) -> None:
    found = server.find_executables(bindir=tmp_path, which=lambda name: f"/path/{name}")
    assert found == (Path("/path/devpi-init"), Path("/path/devpi-server"))


def test_missing_devpi_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(UserMessageError) as raised:
        server.find_executables(bindir=tmp_path, which=lambda name: None)
    assert str(raised.value) == "devpi-init is not installed: pip install 'dockerpypi[devpi]'"


def test_the_cli_says_so_in_one_line_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out, err = run(["devpi", "start", "--serverdir", str(tmp_path / "srv")], capsys)

    assert code == 1
    assert out == ""
    assert err == ("dockerpypi: error: devpi-init is not installed: "
                   "pip install 'dockerpypi[devpi]'\n")
    assert not (tmp_path / "srv").exists()


# --- status and stop with stand-in processes ---------------------------------------------


def _fake_server(bindir: Path, body: str) -> Path:
    """A Python script called devpi-server, so its argv looks like the real one's."""
    return _executable(bindir / "devpi-server", f"#!{sys.executable}\n{body}\n")


# A stand-in's last step before it sleeps: tell the test it is ready.
_READY = "import pathlib, sys\n(pathlib.Path(sys.argv[2]) / 'ready').touch()\n"


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; whatever is still running at the end is killed."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _run_fake(serverdir: Path, script: Path, spawned: list[subprocess.Popen[bytes]]) -> int:
    serverdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([str(script), "--serverdir", str(serverdir), "--port", "1"])
    spawned.append(process)
    (serverdir / PID_FILE).write_text(f"{process.pid}\n")
    (serverdir / STATE_FILE).write_text(json.dumps(
        {"pid": process.pid, "port": 4000, "offline": True, "upstream": UPSTREAM}))
    deadline = time.monotonic() + 10
    while not (serverdir / "ready").exists():  # its signal handlers are in place
        assert time.monotonic() < deadline, "the stand-in server did not start"
        time.sleep(0.05)
    return process.pid



def test_status_of_a_directory_without_a_server(tmp_path: Path) -> None:
    result = server.status(tmp_path / "nothing-here")
    assert not result.running
    assert result.as_dict() == {
        "running": False, "url": None, "pid": None, "port": None,
        "serverdir": str(tmp_path / "nothing-here"), "offline": None, "upstream": None,
        "log": str(tmp_path / "nothing-here" / LOG_FILE)}


def test_a_server_that_ignores_sigterm_is_killed(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]],
) -> None:
    script = _fake_server(tmp_path / "bin", "import signal, time\n"
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                          + _READY + "time.sleep(120)")
    serverdir = tmp_path / "srv"
    _run_fake(serverdir, script, spawned)

    stopped = server.stop(serverdir, timeout=0.5)
    assert (stopped.was_running, stopped.killed) == (True, True)
    assert spawned[0].poll() is not None


def test_a_server_is_running_until_its_last_thread_ends(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]],
) -> None:
    # devpi-server's main thread ends first on SIGTERM; its other threads hold
    # the listening socket a moment longer. This stand-in's other thread stays.
    script = _fake_server(tmp_path / "bin", "import ctypes, signal, threading, time\n"
                          "signal.signal(signal.SIGTERM,\n"
                          "              lambda *args: ctypes.CDLL(None).pthread_exit(None))\n"
                          "threading.Thread(target=time.sleep, args=(120,), daemon=True).start()\n"
                          + _READY + "time.sleep(120)")
    serverdir = tmp_path / "srv"
    _run_fake(serverdir, script, spawned)

    stopped = server.stop(serverdir, timeout=0.5)
    assert (stopped.was_running, stopped.killed) == (True, True)
    assert spawned[0].poll() is not None


def test_a_pid_file_naming_another_process_is_stale(tmp_path: Path) -> None:
    # The pid of this very test run: alive, but no devpi-server of this directory.
    (tmp_path / PID_FILE).write_text(f"{os.getpid()}\n")

    assert not server.status(tmp_path).running
    stopped = server.stop(tmp_path)
    assert not stopped.was_running  # and this process is still here to say so
    assert not (tmp_path / PID_FILE).exists()


def test_a_pid_file_of_an_ended_process_is_stale(tmp_path: Path) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    (tmp_path / PID_FILE).write_text(ended.stdout)

    assert not server.status(tmp_path).running
    assert not server.stop(tmp_path).was_running


# --- start with stand-ins ---------------------------------------------------------------


def _fake_init(bindir: Path) -> Path:
    # argv: --serverdir DIR --no-root-pypi; the password arrives in the environment.
    return _executable(bindir / "devpi-init", f"#!{sys.executable}\n"
                       "import os, pathlib, sys\n"
                       "d = pathlib.Path(sys.argv[2]); d.mkdir(parents=True, exist_ok=True)\n"
                       "(d / '.nodeinfo').write_text(os.environ['DEVPISERVER_ROOT_PASSWD'])\n")


def _options(serverdir: Path, **kwargs: Any) -> server.StartOptions:
    return server.StartOptions(serverdir=serverdir, upstream=MirrorURL(UPSTREAM),
                              port=kwargs.pop("port", free_port()), **kwargs)


def test_a_server_that_exits_at_once_is_reported_with_its_log(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    executables = (_fake_init(bindir),
                   _fake_server(bindir, "print('Fatal: the port is cursed'); raise SystemExit(3)"))
    serverdir = tmp_path / "srv"

    with pytest.raises(UserMessageError) as raised:
        server.start(_options(serverdir), executables=executables)

    message = str(raised.value)
    assert "devpi-server exited with code 3" in message
    assert "Fatal: the port is cursed" in message
    assert "\n" not in message
    assert not (serverdir / PID_FILE).exists()
    # Initialised once, with secrets only its owner reads.
    password = (serverdir / PASSWORD_FILE).read_text()
    assert (serverdir / ".nodeinfo").read_text() == password
    for name in (PASSWORD_FILE, SECRET_FILE):
        assert stat.S_IMODE((serverdir / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(serverdir.stat().st_mode) == 0o700
    assert len(base64.b64decode((serverdir / SECRET_FILE).read_bytes())) == 32


def test_the_previous_log_is_kept_once(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    says_its_port = "import sys\nprint('run', sys.argv[sys.argv.index('--port') + 1])\nsys.exit(3)"
    executables = (_fake_init(bindir), _fake_server(bindir, says_its_port))
    serverdir = tmp_path / "srv"
    ports = [free_port() for _ in range(3)]
    for port in ports:
        with pytest.raises(UserMessageError, match=f"run {port}"):
            server.start(_options(serverdir, port=port), executables=executables)

    assert (serverdir / LOG_FILE).read_text() == f"run {ports[2]}\n"
    assert (serverdir / (LOG_FILE + ".1")).read_text() == f"run {ports[1]}\n"
    assert sorted(p.name for p in serverdir.glob("*.log*")) == [LOG_FILE, LOG_FILE + ".1"]


def test_a_server_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    executables = (_fake_init(bindir), _fake_server(
        bindir, "import time\nprint('still loading plugins', flush=True)\ntime.sleep(120)"))
    serverdir = tmp_path / "srv"

    with pytest.raises(UserMessageError) as raised:
        server.start(_options(serverdir, timeout=1.0), executables=executables)

    message = str(raised.value)
    assert "did not answer on http://127.0.0.1:" in message
    assert "still loading plugins" in message
    assert "--start-timeout" in message
    assert not server.status(serverdir).running
    assert not (serverdir / PID_FILE).exists()


def test_a_failing_devpi_init_is_reported_in_one_line(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    init = _executable(bindir / "devpi-init", "#!/bin/sh\n"
                       "echo 'Fatal: serverdir is non-empty' >&2\nexit 1\n")
    executables = (init, _fake_server(bindir, "raise SystemExit(1)"))

    with pytest.raises(UserMessageError) as raised:
        server.start(_options(tmp_path / "srv"), executables=executables)
    assert str(raised.value).startswith(f"devpi-init failed in {tmp_path / 'srv'} (exit 1): "
                                        "Fatal: serverdir is non-empty")
    assert "\n" not in str(raised.value)


def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    executables = (_fake_init(bindir), _fake_server(bindir, "raise SystemExit(1)"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserMessageError, match=f"port {port} on 127.0.0.1 is in use: "
                                                   "choose another with --port"):
            server.start(_options(tmp_path / "srv", port=port), executables=executables)
    assert not (tmp_path / "srv").exists()


# --- the command line ---------------------------------------------------------------------


def test_status_json_of_the_default_server_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DIB_IMAGE_CACHE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["devpi", "status", "--json"], capsys)

    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["running"] is False
    assert data["serverdir"] == str(tmp_path / "pypi" / "devpi")


def test_status_and_stop_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["devpi", "status", "--serverdir", str(tmp_path)], capsys)
    assert (code, out) == (0, f"devpi-server is not running (serverdir {tmp_path})\n")
    code, out, _ = run(["devpi", "stop", "--serverdir", str(tmp_path)], capsys)
    assert (code, out) == (0, f"devpi-server was not running (serverdir {tmp_path})\n")


def test_the_server_dir_follows_the_mirror_dir_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["devpi", "status", "--json", "--mirror-dir",
                        str(tmp_path / "cache" / "mirror")], capsys)
    assert code == 0
    assert json.loads(out)["serverdir"] == str(tmp_path / "cache" / "devpi")


def test_a_bad_public_index_is_a_settings_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["devpi", "start", "--serverdir", str(tmp_path),
                        "--public-index", "ftp://x/"], capsys)
    assert code == 2
    assert err.startswith("dockerpypi: error: --public-index")
    assert err.count("\n") == 1


@pytest.mark.parametrize("args", [["--port", "0"], ["--start-timeout", "0"]])
def test_bad_start_options_are_usage_errors(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, _ = run(["devpi", "start", "--serverdir", str(tmp_path), *args], capsys)
    assert code == 2
