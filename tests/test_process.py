"""Child processes and signals (dockerpypi.process), in this process."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from dockerpypi import process
from dockerpypi.errors import UserMessageError

QUOTED = "p%40ss%23w%3Ard%2F%25%2B"
SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]


# --- signals ----------------------------------------------------------------------------


def _signal_self(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(5)  # the handler interrupts this


def _unwinding(signum: int, cleaned: list[str]) -> None:
    with process.signals_unwind():
        try:
            _signal_self(signum)
        finally:
            cleaned.append("cleaned up")


@pytest.mark.parametrize(("signum", "raised"), [(signal.SIGTERM, SystemExit),
                                                (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_unwinds_through_finally_with_the_shells_exit_code(
        signum: int, raised: type[BaseException]) -> None:
    cleaned: list[str] = []
    started = time.monotonic()
    with pytest.raises(raised) as caught:
        _unwinding(signum, cleaned)
    assert cleaned == ["cleaned up"]
    assert time.monotonic() - started < 4
    if raised is SystemExit:
        assert caught.value.args == (143,)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _holding(signum: int, steps: list[str], *, fail: bool = False) -> None:
    with process.signals_held():
        os.kill(os.getpid(), signum)
        time.sleep(0.2)
        steps.append("the rest of the block")
        if fail:
            raise RuntimeError("the block's own error")


def test_a_signal_while_held_waits_for_the_end_of_the_block() -> None:
    steps: list[str] = []
    with pytest.raises(SystemExit) as caught:
        _holding(signal.SIGTERM, steps)
    assert steps == ["the rest of the block"]
    assert caught.value.args == (143,)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_an_error_of_a_held_block_wins_over_the_signal_it_held() -> None:
    steps: list[str] = []
    with pytest.raises(RuntimeError, match="the block's own error"):
        _holding(signal.SIGINT, steps, fail=True)
    assert steps == ["the rest of the block"]


def _cleaning_up(steps: list[str]) -> None:
    with process.signals_unwind():
        try:
            steps.append("worked")
        finally:
            _holding(signal.SIGINT, steps)
            steps.append("never: the held signal unwinds from here on")


def test_signals_held_inside_unwinding_come_out_after_the_clean_up() -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _cleaning_up(steps)
    assert steps == ["worked", "the rest of the block"]


def test_recorded_signals_raise_nothing() -> None:
    with process.signals_recorded() as received:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 5
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert received == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


# --- running to the end -------------------------------------------------------------------


def test_scrub_hides_every_secret_whole_and_ignores_empty_ones() -> None:
    # The longer first: replacing "ab" before "abc" would leave its "c" shown.
    assert process.scrub("pw abc and ab", ["ab", "", "abc"]) == "pw *** and ***"
    assert process.redact(["https://u:abc@h/x", "abc"], ["ab", "abc"]) == [
        "https://***@h/x", "***"]


def test_secrets_are_scrubbed_by_process_scrub_alone() -> None:
    package = Path(process.__file__).parent
    loops = [str(path.relative_to(package)) for path in package.rglob("*.py")
             if path.name != "process.py" and ".replace(secret, " in path.read_text()]
    assert loops == []


def test_run_returns_the_exit_code_and_logs_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="dockerpypi")
    code = process.run([sys.executable, "-c", "raise SystemExit(7)", f"https://u:{QUOTED}@h/"])
    assert code == 7
    assert "running: " in caplog.text
    assert QUOTED not in caplog.text
    assert "https://***@h/" in caplog.text


def test_run_maps_death_by_signal_and_a_missing_program() -> None:
    assert process.run([sys.executable, "-c", "import os; os.kill(os.getpid(), 15)"]) == 143
    with pytest.raises(UserMessageError, match="was not found"):
        process.run([f"/nonexistent/docker-{uuid.uuid4().hex}"])


def test_output_of_runs_in_the_environment_given_and_says_what_is_missing() -> None:
    done = process.output_of(
        [sys.executable, "-c", "import os, sys; print(os.environ.get('ONLY')); "
         "print(os.environ.get('HOME'), file=sys.stderr); sys.exit(4)"],
        timeout=30, environ={"ONLY": "this"})
    assert (done.returncode, done.stdout, done.stderr) == (4, "this\n", "None\n")
    with pytest.raises(UserMessageError, match=r"^/nonexistent/devpi-init was not found: "
                                               r"install devpi$"):
        process.output_of(["/nonexistent/devpi-init"], timeout=None, missing="install devpi")


def test_output_of_says_which_command_hung_with_the_fix_given() -> None:
    sleep = [sys.executable, "-c", "import time; time.sleep(30)"]
    with pytest.raises(UserMessageError, match=r"did not answer in 0s: check that the engine"):
        process.output_of(sleep, timeout=0.2)  # docker's, by default
    with pytest.raises(UserMessageError) as raised:
        process.output_of(sleep, timeout=0.2, slow="see what it waits for")
    assert raised.value.fix == "see what it waits for"
    assert "docker" not in str(raised.value)


# --- output line by line ------------------------------------------------------------------

TALKER = ("import sys\n"
          "print('out 1', flush=True)\n"
          "print('err 1', file=sys.stderr, flush=True)\n"
          "print('read ' + sys.stdin.read().strip(), file=sys.stderr, flush=True)\n"
          "sys.exit(5)\n")


def test_lines_of_both_streams_in_order() -> None:
    lines: list[str] = []
    code = process.output_lines([sys.executable, "-c", TALKER], lines.append)
    assert code == 5
    assert lines == ["out 1", "err 1", "read "]  # its input is empty


def test_lines_of_standard_error_alone_with_an_input() -> None:
    lines: list[str] = []
    code = process.output_lines([sys.executable, "-c", TALKER], lines.append,
                                input="app==1.0\n", read="stderr")
    assert code == 5
    assert lines == ["err 1", "read app==1.0"]


def test_a_reader_that_gives_up_ends_the_process() -> None:
    endless = [sys.executable, "-c", "import os\nprint(os.getpid(), flush=True)\n"
               "while True: print('y', flush=True)\n"]
    pids: list[int] = []

    def give_up(line: str) -> None:
        pids.append(int(line))
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        process.output_lines(endless, give_up)
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)  # ended, and waited for


def test_lines_of_a_missing_program_say_how_to_get_it() -> None:
    with pytest.raises(UserMessageError, match=r"^/nonexistent/uv was not found: pip install uv$"):
        process.output_lines(["/nonexistent/uv"], print, missing="pip install uv")


# --- processes that outlive us --------------------------------------------------------------


def test_a_detached_process_runs_in_its_own_session_until_terminated(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("the previous run\n")
    started = process.start_detached(SLEEPER, log=log, cwd=tmp_path,
                                     environ=dict(os.environ), missing="x")
    try:
        deadline = time.monotonic() + 10
        while log.read_text() != "up\n":
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert os.getsid(started.pid) == started.pid
        assert process.alive(started.pid)
        assert started.exit_code() is None
        assert process.argv_of(started.pid) == SLEEPER
        assert process.terminate(started.pid, 10, name="the sleeper") is True
        assert not process.alive(started.pid)
        assert process.argv_of(started.pid) == []
    finally:
        if process.alive(started.pid):
            os.kill(started.pid, signal.SIGKILL)


def test_a_process_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    stubborn = [sys.executable, "-c", "import signal, time\n"
                "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "print('up', flush=True)\ntime.sleep(60)\n"]
    log = tmp_path / "log"
    started = process.start_detached(stubborn, log=log, cwd=tmp_path,
                                     environ=dict(os.environ), missing="x")
    deadline = time.monotonic() + 10
    while log.read_text() != "up\n":
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    assert process.terminate(started.pid, 0.3, name="the stubborn one") is False
    assert not process.alive(started.pid)
    assert started.exit_code() is not None


def test_a_detached_program_that_is_missing_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserMessageError, match="was not found: pip install it"):
        process.start_detached(["/nonexistent/server"], log=tmp_path / "log", cwd=tmp_path,
                               environ={}, missing="pip install it")
