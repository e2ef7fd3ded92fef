"""`dockerpypi verify`'s command line, and how it reads the engine, without an engine.

Its options (only the settings that change what it looks for), and the
processes it reads through: the docker CLI, never the Docker SDK. The
Docker tests (test_verify_docker.py) read real images through real docker
contexts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.archives import config_of, layer_tar, write_archive
from support.cli import run_main

from dockerpypi import _runner
from dockerpypi.errors import UserMessageError

TOKEN = "tok3n-for-the-public-index"
MIRROR = "http://builder:s3cret-word@127.0.0.1:3141/simple/"
BUILD_ONLY = ("--retries", "--timeout", "--configure", "--easy-install", "--offline",
              "--public-fallback", "--mirror-dir")
READ_BY_VERIFY = ("--index-url", "--public-index", "--mount-point", "--context")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "TMPDIR": str(cwd)}
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], cwd=cwd,
                          env={**base, **(env or {})}, capture_output=True, text=True,
                          check=False, timeout=60)


def two_layers(path: Path) -> Path:
    """An image archive whose second layer leaks: a pip.conf, a file under /srv/pypi."""
    leaky = layer_tar({"etc/pip.conf": f"[global]\nindex-url = {MIRROR}\n".encode(),
                       "srv/pypi/left.txt": b"x", "root/token.txt": TOKEN.encode()})
    return write_archive(path, [layer_tar({"bin/sh": b"\x7fELF"}), leaky],
                         config_of(["FROM base", "RUN leak"]))


# --- the options ------------------------------------------------------------------------


def test_verify_offers_only_the_settings_that_change_what_it_looks_for(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["verify", "--help"], capsys)
    assert code == 0
    offered = set(re.findall(r"(?m)^\s+(?:-\w, )?(--[\w-]+)", out))
    assert set(READ_BY_VERIFY) <= offered
    assert not offered & {option.split("/")[0] for option in BUILD_ONLY}, out
    # The commands that build, render or check keep every settings option.
    for command in ("build", "doctor", "config"):
        _, out, _ = run_main([command, "--help"], capsys)
        for option in (*READ_BY_VERIFY, *BUILD_ONLY):
            assert option in out, (command, option)


def test_a_build_only_option_is_a_usage_error_of_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["verify", "--retries", "3", "app"], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("dockerpypi: error: No such option")
    assert "--retries" in err


def test_verify_s_own_options_reach_the_settings(tmp_path: Path) -> None:
    archive = two_layers(tmp_path / "image.tar")
    result = run("verify", "--archive", str(archive), "--index-url", MIRROR,
                 "--public-index", f"https://{TOKEN}@index.example/simple/",
                 "--mount-point", "/srv/pypi", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    prefix = "layer 2/2 (step 2: RUN leak): "
    assert all(line.startswith(prefix) for line in result.stdout.splitlines()[:-1])
    lines = [line.removeprefix(prefix) for line in result.stdout.splitlines()[:-1]]
    assert lines == [
        "/etc/pip.conf: installer config file that selects an index",
        "/etc/pip.conf: contains mirror 1 (http://127.0.0.1:3141/simple/)",
        "/etc/pip.conf: contains credential of mirror 1",
        "/srv/pypi/left.txt: file left under /srv/pypi, which only a build step may use",
        "/root/token.txt: contains credential of the public index",
    ]
    assert TOKEN not in result.stdout + result.stderr


# --- the processes it reads through ----------------------------------------------------


def test_verify_does_not_import_the_docker_sdk(tmp_path: Path) -> None:
    # The engine is the docker CLI's (contexts and all); the SDK is not a dependency.
    script = ("import json, sys\n"
              "from dockerpypi.cli import main\n"
              "try:\n"
              "    main(['verify', 'app'])\n"
              "except SystemExit as exited:\n"
              "    print(json.dumps([exited.code, sorted(sys.modules)]))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, check=True, timeout=60,
                          env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"})
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 1
    assert "no Docker engine answers (Cannot connect to the Docker daemon" in done.stderr
    assert "docker" not in modules


PRINTER = ("import sys\n"
           "sys.stdout.buffer.write(b'x' * 3_000_000)\n"
           "sys.stderr.write('said on stderr\\n')\n"
           "sys.exit(3)\n")


def test_output_stream_reads_as_it_comes_and_keeps_stderr() -> None:
    with _runner.output_stream([sys.executable, "-c", PRINTER]) as streamed:
        assert streamed.stdout.read(10) == b"x" * 10
        # finish() reads the rest: the process is not left blocked on a full pipe
        assert streamed.finish() == (3, "said on stderr\n")


def test_output_stream_kills_a_process_whose_reading_ends_early() -> None:
    endless = [sys.executable, "-c", "import sys\nwhile True: sys.stdout.write('y' * 65536)\n"]
    pids = []

    def read_then_give_up() -> None:
        with _runner.output_stream(endless) as streamed:
            pids.append(streamed.pid)
            assert streamed.stdout.read(5) == b"yyyyy"
            assert streamed.ended(within=0.2) is None  # still writing
            raise RuntimeError("the reader gave up")

    with pytest.raises(RuntimeError, match="gave up"):
        read_then_give_up()
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)  # killed, and waited for


def test_a_missing_program_or_one_that_hangs_is_one_line() -> None:
    with pytest.raises(UserMessageError, match="was not found: install Docker"), \
            _runner.output_stream(["/nonexistent/docker", "save", "x"]):
        pass
    with pytest.raises(UserMessageError, match="was not found: install Docker"):
        _runner.output_of(["/nonexistent/docker", "image", "inspect", "x"], timeout=5)
    with pytest.raises(UserMessageError, match=r"did not answer in 1s: check that the engine"):
        _runner.output_of([sys.executable, "-c", "import time; time.sleep(30)"], timeout=1)
