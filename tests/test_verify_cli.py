"""`dockerpypi verify`'s command line, and how it reads the engine, without an engine.

Its options (only the settings that change what it looks for), --quiet,
the progress it draws on a terminal and nowhere else, and the processes it
reads through: the docker CLI, never the Docker SDK. The Docker tests
(test_verify_docker.py) read real images through real docker contexts.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from support.archives import config_of, layer_tar, write_archive
from support.cli import run_main, run_on_a_terminal

from dockerpypi import process
from dockerpypi.cli.progress import Display, progress_display
from dockerpypi.errors import UserMessageError
from dockerpypi.settings.resolve import resolve_settings
from dockerpypi.verify.needles import default_needles
from dockerpypi.verify.scan import verify_image

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


def test_quiet_prints_only_the_traces(tmp_path: Path) -> None:
    archive = two_layers(tmp_path / "image.tar")
    loud = run("verify", "--archive", str(archive), "--index-url", MIRROR, cwd=tmp_path)
    quiet = run("verify", "-q", "--archive", str(archive), "--index-url", MIRROR, cwd=tmp_path)
    assert quiet.returncode == loud.returncode == 1
    assert quiet.stdout.splitlines() == loud.stdout.splitlines()[:-1]  # all but the summary
    assert quiet.stderr == loud.stderr
    clean = write_archive(tmp_path / "clean.tar", [layer_tar({"bin/sh": b"\x7fELF"})],
                          config_of(["FROM base"]))
    silent = run("verify", "--quiet", "--archive", str(clean), cwd=tmp_path)
    assert (silent.returncode, silent.stdout, silent.stderr) == (0, "", "")


# --- progress ---------------------------------------------------------------------------


def test_progress_is_drawn_on_a_terminal_only(tmp_path: Path) -> None:
    archive = two_layers(tmp_path / "image.tar")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    code, out, terminal = run_on_a_terminal("verify", "--archive", str(archive), cwd=tmp_path,
                                            env=env)
    assert code == 1
    assert "verify" in terminal
    assert "2 layers" in terminal  # an archive does not say how many it holds until its end
    assert re.search(r"\d+\.\d/\d+\.\d kB", terminal), terminal  # bytes read, of all
    assert out.splitlines()[-1].startswith(f"{archive}: ")  # the report is on stdout
    # --json and --quiet draw nothing, terminal or not; neither does a pipe (the other
    # tests here: stderr holds the error line alone).
    for flag in ("--json", "--quiet"):
        code, out, terminal = run_on_a_terminal("verify", flag, "--archive", str(archive),
                                                cwd=tmp_path, env=env)
        assert code == 1
        assert "layers" not in terminal, (flag, terminal)
        assert terminal.strip().startswith("dockerpypi: error: "), (flag, terminal)
    piped = run("verify", "--archive", str(archive), cwd=tmp_path)
    assert piped.stderr.startswith("dockerpypi: error: ")
    assert piped.stderr.count("\n") == 1


def test_the_progress_display_counts_layers_and_bytes(tmp_path: Path) -> None:
    archive = two_layers(tmp_path / "image.tar")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    needles = default_needles(resolve_settings({}, environ={}))[0]
    with Display(console) as display:
        verify_image(None, needles, mount_point="/tmp/pypi", archive=archive,
                     progress=display)
        task = display.shown_task
        assert task is not None
        assert task.completed == task.total == archive.stat().st_size
    assert "2 layers" in screen.getvalue()
    assert display.shown_task is None  # the bar is gone: the report stands alone
    assert progress_display(quiet=True) is None  # --quiet or --json

    # An image on the engine says how many layers it has; `docker save`'s tar
    # headers make its stream a little longer than the layers' size.
    with Display(Console(file=io.StringIO(), force_terminal=True, width=120)) as shown:
        shown.scan_started(1000, 3)
        shown.layer_scanned()
        shown.scan_advanced(900)
        shown.scan_advanced(300)
        task = shown.shown_task
        assert task is not None
        assert (task.completed, task.total, task.fields["layers"]) == (1200, 1320, "1/3 layers")


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


def test_the_docker_sdk_is_not_a_runtime_dependency() -> None:
    # verify was its one user; the tests' own engine helpers take it from the test extra.
    from packaging.requirements import Requirement

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10 has tomli, a dependency there
        import tomli as tomllib
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    runtime = {Requirement(line).name for line in project["project"]["dependencies"]}
    assert "click" in runtime
    assert "docker" not in runtime
    assert "docker" in {Requirement(line).name
                        for line in project["project"]["optional-dependencies"]["test"]}


PRINTER = ("import sys\n"
           "sys.stdout.buffer.write(b'x' * 3_000_000)\n"
           "sys.stderr.write('said on stderr\\n')\n"
           "sys.exit(3)\n")


def test_output_stream_reads_as_it_comes_and_keeps_stderr() -> None:
    with process.output_stream([sys.executable, "-c", PRINTER]) as streamed:
        assert streamed.stdout.read(10) == b"x" * 10
        # finish() reads the rest: the process is not left blocked on a full pipe
        assert streamed.finish() == (3, "said on stderr\n")


def test_output_stream_kills_a_process_whose_reading_ends_early() -> None:
    endless = [sys.executable, "-c", "import sys\nwhile True: sys.stdout.write('y' * 65536)\n"]
    pids = []

    def read_then_give_up() -> None:
        with process.output_stream(endless) as streamed:
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
            process.output_stream(["/nonexistent/docker", "save", "x"]):
        pass
    with pytest.raises(UserMessageError, match="was not found: install Docker"):
        process.output_of(["/nonexistent/docker", "image", "inspect", "x"], timeout=5)
    with pytest.raises(UserMessageError, match=r"did not answer in 1s: check that the engine"):
        process.output_of([sys.executable, "-c", "import time; time.sleep(30)"], timeout=1)
