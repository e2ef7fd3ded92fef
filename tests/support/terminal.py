"""Run a command with standard error on a pseudo-terminal, as a person at a shell sees it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

# What a terminal emulator says about itself; rich reads the width from COLUMNS.
TERMINAL_ENV = {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}


def run_on_terminal(argv: Sequence[str], *, cwd: Path | None = None,
                    env: Mapping[str, str] | None = None,
                    timeout: float = 120) -> tuple[int, str, str]:
    """Run ``argv`` with stderr on a pty and stdout on a pipe: (exit code, stdout,
    what the terminal received, escape codes and all)."""
    controller, terminal = pty.openpty()
    received: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the last holder of the terminal side closed it
                return
            if not data:
                return
            received.append(data)

    try:
        process = subprocess.Popen(list(argv), cwd=cwd, env={**os.environ, **TERMINAL_ENV,
                                                             **(env or {})},
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=terminal)
    finally:
        os.close(terminal)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=timeout)
    finally:
        process.kill()
        reader.join(timeout=10)
        os.close(controller)
    return process.returncode, stdout.decode(), b"".join(received).decode(errors="replace")


def dockerpypi_on_terminal(*args: str, cwd: Path | None = None,
                           env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """``dockerpypi ARGS`` in a new process whose stderr is a terminal."""
    return run_on_terminal([sys.executable, "-m", "dockerpypi", *args], cwd=cwd, env=env)
