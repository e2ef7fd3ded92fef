"""The CLI run in this process, for tests that look at what it printed."""

from __future__ import annotations

import pytest

from dockerpypi.cli import main


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``dockerpypi ARGS`` through the real entry point: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err
