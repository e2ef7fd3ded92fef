"""`dockerpypi verify` reads the engine through the docker CLI: the processes it runs.

The Docker tests (test_verify_docker.py) read real images through real
docker contexts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockerpypi import _runner
from dockerpypi.errors import UserMessageError

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
