"""The CLI run in this process, for tests that look at what it printed; or on a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from dockerpypi.cli import main


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``dockerpypi ARGS`` through the real entry point: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def run_on_a_terminal(*args: str, cwd: Path, env: Mapping[str, str]) -> tuple[int, str, str]:
    """``dockerpypi ARGS`` in a new process whose stderr is a pseudo-terminal (xterm, 120
    columns): (exit code, stdout, what the terminal was sent)."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "dockerpypi", *args], cwd=cwd,
                               env={**env, "TERM": "xterm", "COLUMNS": "120"},
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the process has closed the terminal
            break
        if not data:
            break
        seen += data
    os.close(leader)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    return process.wait(timeout=60), out, seen.decode("utf-8", "replace")
