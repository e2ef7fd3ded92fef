"""Failing commands: the error said once, and as JSON with ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run_main as run


def test_a_failed_command_prints_its_error_as_one_json_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKERPYPI_RETRIES", "many")
    code, out, err = run(["config", "--json"], capsys)
    assert code == 2
    error = json.loads(out)
    assert sorted(error) == ["error", "exit_code", "fix", "ok"]
    assert (error["ok"], error["exit_code"]) == (False, 2)
    assert error["error"].startswith("DOCKERPYPI_RETRIES must be a whole number")
    assert err.strip() == ": ".join(["dockerpypi: error", error["error"], error["fix"]][
        :3 if error["fix"] else 2])
    monkeypatch.delenv("DOCKERPYPI_RETRIES")

    # click's own usage errors, once --json has been read
    code, out, err = run(["mirror", "add", "--json", "--resolver", "nope"], capsys)
    assert code == 2
    error = json.loads(out)
    assert error["exit_code"] == 2
    assert "--resolver" in error["error"]
    assert error["fix"] == "see `dockerpypi mirror add --help`"

    # No JSON asked for: nothing on stdout.
    assert run(["mirror", "add"], capsys)[:2] == (2, "")


def test_a_report_printed_before_failing_is_the_only_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "orphan-1.0-py3-none-any.whl").write_bytes(b"not indexed")

    code, out, err = run(["mirror", "check", "--json", "--mirror-dir", str(mirror)], capsys)

    assert code == 1
    report = json.loads(out)  # a second document would make this fail
    assert report["ok"] is False
    assert "problem" in err
