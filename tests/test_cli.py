"""The command line of `config` and `render`: output, errors, warnings and exit codes.

Run through the real entry point in a subprocess, as a user would, with an
environment the test controls.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from dockerpypi.errors import (
    DockerPypiWarning,
    NoMirrorConfigured,
    SettingsError,
    SettingsWarning,
    UsageError,
    UserMessageError,
    exit_code_for,
)
from dockerpypi.settings.public_index import public_index_url
from dockerpypi.settings.resolve import resolve_settings

PASSWORD = "p@ss#w:rd/%+"
CREDENTIALED = f"http://builder:{quote(PASSWORD, safe='')}@127.0.0.1:3141/root/pypi/+simple/"


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    # dockerpypi's cache (compiled templates) beside cwd: cwd is checked for debris.
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd),
            "XDG_CACHE_HOME": str(cwd.with_name(cwd.name + "-cache"))}
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], cwd=cwd,
                          env={**base, **(env or {})}, capture_output=True, text=True,
                          check=False)


def test_config_shows_values_sources_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "dockerpypi.toml").write_text("retries = 7\n")
    result = run("config", "--timeout", "9", cwd=tmp_path,
                 env={"DIB_PIP_RETRIES": "2", "DIB_PYPI_MIRROR_URL": CREDENTIALED})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    retries = next(i for i, line in enumerate(lines) if line.startswith("retries"))
    assert lines[retries].split() == ["retries", "2", "(env", "DIB_PIP_RETRIES)"]
    assert "overrides file dockerpypi.toml: 7" in lines[retries + 1]
    assert any(line.startswith("timeout") and "(flag --timeout)" in line for line in lines)
    assert "http://***@127.0.0.1:3141/root/pypi/+simple/" in result.stdout
    assert "builder" not in result.stdout + result.stderr
    assert quote(PASSWORD, safe="") not in result.stdout + result.stderr


def test_config_json_never_holds_credentials(tmp_path: Path) -> None:
    result = run("config", "--json", cwd=tmp_path,
                 env={"DOCKERPYPI_MIRRORS": CREDENTIALED, "PYPI_MIRROR_URL": "http://x/"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    by_name = {row["name"]: row for row in data["settings"]}
    assert by_name["mirrors"]["value"] == ["http://***@127.0.0.1:3141/root/pypi/+simple/"]
    assert by_name["mirrors"]["source"] == "env DOCKERPYPI_MIRRORS"
    assert by_name["mirrors"]["overridden"] == [
        {"source": "env PYPI_MIRROR_URL", "value": "http://x/"}]
    assert data["indexes"][-1] == public_index_url()
    assert PASSWORD not in result.stdout
    assert quote(PASSWORD, safe="") not in result.stdout
    # warnings go to stderr, so --json output stays parseable
    assert "deprecated" in result.stderr


@pytest.mark.parametrize(("args", "env", "code", "message"), [
    (["config"], {"DIB_PYPI_MIRROR_URL": "ftp://mirror/"}, 2,
     "DIB_PYPI_MIRROR_URL has scheme 'ftp': use http://, https:// or file://"),
    (["config"], {"DIB_PIP_RETRIES": "many"}, 2, "DIB_PIP_RETRIES must be a whole number"),
    (["config", "--retries", "-1"], {}, 2, "--retries must be a whole number"),
    (["render", "--requirements", "../up.txt"], {}, 2, "must be a path inside the build context"),
    (["render", "--"], {}, 2, "nothing after --"),
    (["render", "stage", "--", "pip"], {}, 2, "goes with plain `dockerpypi render`"),
    (["render", "--installer", "conda"], {}, 2, "Invalid value for '--installer'"),
    (["nonsense"], {}, 2, "No such command"),
])
def test_bad_input_is_one_line_with_the_right_exit_code(
    tmp_path: Path, args: list[str], env: dict[str, str], code: int, message: str,
) -> None:
    result = run(*args, cwd=tmp_path, env=env)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("--debug", "config", cwd=tmp_path, env={"DIB_PYPI_MIRROR_URL": "ftp://m/"})
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_password_is_never_echoed_in_an_error(tmp_path: Path) -> None:
    result = run("config", cwd=tmp_path,
                 env={"DIB_PYPI_MIRROR_URL": f"http://u:{PASSWORD}@host:notaport/"})
    assert result.returncode == 2
    assert PASSWORD not in result.stderr
    assert "DIB_PYPI_MIRROR_URL" in result.stderr


def test_render_command_after_double_dash(tmp_path: Path) -> None:
    result = run("render", "--installer", "uv", "--", "uv", "pip", "install", "--system",
                 "numpy<3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("uv pip install --system 'numpy<3'")
    assert "requirements" not in result.stdout.split("RUN", 1)[1]
    assert "regenerate with `dockerpypi render --installer uv -- uv pip install" in result.stdout


def test_render_pip_conf_redacts_unless_written_to_a_file(tmp_path: Path) -> None:
    env = {"DOCKERPYPI_MIRRORS": CREDENTIALED}
    shown = run("render", "pip-conf", cwd=tmp_path, env=env)
    assert shown.returncode == 0
    assert "http://***@127.0.0.1:3141" in shown.stdout
    assert "-o FILE" in shown.stderr

    target = tmp_path / "pip.conf"
    written = run("render", "pip-conf", "-o", str(target), cwd=tmp_path, env=env)
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert CREDENTIALED in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failed_render_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "pip.conf"
    result = run("render", "pip-conf", "-o", str(target), cwd=tmp_path,
                 env={"DIB_PYPI_MIRROR_URL": "nope"})
    assert result.returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_output_into_a_missing_directory_is_refused(tmp_path: Path) -> None:
    result = run("render", "uv-toml", "-o", str(tmp_path / "no" / "uv.toml"), cwd=tmp_path)
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_version_and_help(tmp_path: Path) -> None:
    from dockerpypi import __version__

    assert run("--version", cwd=tmp_path).stdout.strip().endswith(__version__)
    helped = run("render", "--help", cwd=tmp_path)
    assert helped.returncode == 0
    assert "dockerpypi render stage" in helped.stdout


# --- errors and warnings: fields and classes ---------------------------------------------

@pytest.mark.parametrize(("message", "expected"), [
    ("a: b", ("a", "b")),
    ("x (c: d): fix it: now", ("x (c: d): fix it", "now")),
    ("no fix here", ("no fix here", "")),
])
def test_a_whole_message_gives_its_problem_and_fix(message: str,
                                                   expected: tuple[str, str]) -> None:
    error = UserMessageError(message)
    assert (error.problem, error.fix) == expected
    assert str(error) == message  # printed as it was written


def test_an_error_carries_its_problem_fix_and_exit_code() -> None:
    error = UsageError("--flag names no thing", fix="give one: --flag NAME")
    assert (error.problem, error.fix) == ("--flag names no thing", "give one: --flag NAME")
    assert str(error) == "--flag names no thing: give one: --flag NAME"
    assert (exit_code_for(error), exit_code_for(SettingsError("x")),
            exit_code_for(UserMessageError("x")), exit_code_for(ValueError())) == (2, 2, 1, 1)
    assert (UserMessageError("nothing to fix", fix="").problem,
            UserMessageError("nothing to fix", fix="").fix) == ("nothing to fix", "")


def test_the_json_error_holds_the_fields(tmp_path: Path) -> None:
    # verify --json, failing before its report, prints the one JSON error object.
    (tmp_path / "not-a-tar").write_text("hello")
    result = run("verify", "--json", "--archive", "not-a-tar", cwd=tmp_path)
    assert result.returncode == 2
    assert json.loads(result.stdout) == {
        "ok": False, "error": "not-a-tar is not a tar archive (truncated header)",
        "fix": "give the tar that `docker save` or `buildx --output type=oci` wrote",
        "exit_code": 2}
    assert result.stderr == ("dockerpypi: error: not-a-tar is not a tar archive (truncated "
                             "header): give the tar that `docker save` or `buildx --output "
                             "type=oci` wrote\n")


def test_settings_warnings_are_classes_and_verify_leaves_one_out(tmp_path: Path) -> None:
    settings = resolve_settings({}, environ={"DOCKERPYPI_BOGUS": "1"}, context_dir=tmp_path)
    assert [type(warning) for warning in settings.warnings] == [SettingsWarning,
                                                                NoMirrorConfigured]
    assert all(isinstance(warning, DockerPypiWarning) for warning in settings.warnings)

    shown = run("config", cwd=tmp_path, env={"DOCKERPYPI_BOGUS": "1"})
    assert shown.stderr.splitlines() == [f"dockerpypi: warning: {w}" for w in settings.warnings]
    # verify leaves out NoMirrorConfigured (it is about builds), not the others.
    (tmp_path / "empty.tar").write_bytes(bytes(1024))
    checked = run("verify", "--archive", "empty.tar", cwd=tmp_path,
                  env={"DOCKERPYPI_BOGUS": "1"})
    assert checked.stderr.splitlines()[:-1] == [f"dockerpypi: warning: {settings.warnings[0]}"]
    assert checked.stderr.splitlines()[-1].startswith("dockerpypi: error: the archive has ")
