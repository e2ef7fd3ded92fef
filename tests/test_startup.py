"""What keeps the command line quick to start: commands loaded when used, and
Dockerfile renderings kept in the user's cache directory.

No test here times anything (benchmarks/run.py does); they check that the
shortcuts give the same answers as the long way, and when they are not taken.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import run_main

from dockerpypi import caches
from dockerpypi.cli import cli
from dockerpypi.render import files, steps, templates

COMMANDS = {"bake", "build", "ci", "compose", "config", "devpi", "doctor", "mirror", "render",
            "verify"}


@pytest.fixture
def fresh_environment() -> Iterator[None]:
    """Forget what render reads once a process: the jinja2 environment, the file stamps."""
    templates.environment.cache_clear()
    templates.renderer_stamps.cache_clear()
    yield
    templates.environment.cache_clear()
    templates.renderer_stamps.cache_clear()


def imported_after(tmp_path: Path, *runs: list[str]) -> set[str]:
    """The modules loaded once the CLI has run each of ``runs`` in one new process."""
    script = (
        "import json, sys\n"
        "from dockerpypi.cli import main\n"
        f"for argv in {runs!r}:\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, check=True, timeout=60)
    return set(json.loads(done.stdout.splitlines()[-1]))


# --- commands loaded when used --------------------------------------------------

def test_every_command_is_listed_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["--help"], capsys)
    assert code == 0
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == COMMANDS
    for name in sorted(COMMANDS):
        code, out, err = run_main([name, "--help"], capsys)
        assert code == 0, err
        assert f"dockerpypi {name}" in out
    assert run_main(["no-such-command"], capsys)[0] == 2


def test_commands_have_their_own_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_main(["--help"], capsys)
    lines = {line.split()[0]: line for line in out.split("Commands:")[1].splitlines()
             if line.strip()}
    for name in ("build", "mirror", "verify"):
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None
        assert command.get_short_help_str(limit=20)[:10] in lines[name]


def test_version_and_render_import_nothing_heavy(tmp_path: Path) -> None:
    version = imported_after(tmp_path, ["--version"])
    assert not {"jinja2", "dockerpypi.settings.model", "dockerpypi.settings.resolve",
                "dockerpypi.cli.build"} & version
    # The second render finds the first one's text kept: jinja2 is not needed.
    rendered = imported_after(tmp_path, ["render"], ["render", "stage"])
    imported_after(tmp_path, ["render"], ["render", "stage"])
    again = imported_after(tmp_path, ["render"], ["render", "stage"])
    assert "jinja2" in rendered
    heavy = {"jinja2", "docker", "rich", "pip", "packaging", "http.server",
             "dockerpypi.cli.build", "dockerpypi.cli.mirror", "dockerpypi.build.subset"}
    assert not heavy & again


def test_a_build_loads_only_what_it_uses(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    loaded = imported_after(tmp_path, ["build", "--dry-run", "--offline", "--index-url",
                                       "http://mirror.example/simple/", "--mirror-dir",
                                       str(tmp_path / "no-mirror"), "."])
    assert "dockerpypi.build.pipeline" in loaded
    # No local mirror: no subset to choose and nothing to serve. No --inject,
    # --verify or --verbose: not their modules either.
    assert not {"dockerpypi.build.subset", "packaging", "dockerpypi.mirror.serve", "http.server",
                "dockerpypi.build.injected", "dockerpypi.verify.scan", "logging", "csv"} & loaded


# --- Dockerfile renderings kept ---------------------------------------------------

def kept() -> dict[str, str]:
    data: dict[str, str] = json.loads(caches.RENDERS.path.read_text())
    return data


def test_a_kept_rendering_is_used_until_its_inputs_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_environment: None) -> None:
    copied = tmp_path / "templates"
    shutil.copytree(Path(templates.template_dirs()[0]), copied)
    monkeypatch.setattr(templates, "template_dirs", lambda: [str(copied)])
    options = steps.RunOptions()
    first = steps.render_run(options)
    entries = kept()
    assert list(entries.values()) == [first]
    # Prove the kept text is what comes back: mark it.
    key = next(iter(entries))
    caches.write_cache_file(caches.RENDERS.name, json.dumps({key: "kept\n"}).encode())
    assert steps.render_run(options) == "kept\n"
    # Other options are another key.
    assert steps.render_run(steps.RunOptions(installer="uv")) != "kept\n"
    # An edited template is another key, and is rendered again.
    stage = copied / "run.Dockerfile.j2"
    stage.write_text(stage.read_text() + "# edited\n")
    templates.environment.cache_clear()
    templates.renderer_stamps.cache_clear()
    assert steps.render_run(options) == first + "# edited\n"


def test_a_broken_cache_file_is_a_miss(fresh_environment: None) -> None:
    expected = steps.render_stage()
    for broken in (b"{not json", b"[1, 2]", b'{"key": 3}', b"\xff\xfe"):
        caches.RENDERS.path.write_bytes(broken)
        assert steps.render_stage() == expected
        assert list(kept().values()) == [expected]  # and written afresh


def test_a_memo_replaced_by_another_process_is_read_again() -> None:
    caches.memo_put("memo.json", "key", "one")
    assert caches.memo_get("memo.json", "key") == "one"  # parsed once, then kept
    # Another process replaces the file as memo_put does: a new file renamed over.
    other = caches.cache_dir() / "other.json"
    other.write_text(json.dumps({"key": "two", "more": "three"}))
    other.replace(caches.cache_dir() / "memo.json")
    assert caches.memo_get("memo.json", "key") == "two"
    assert caches.memo_get("memo.json", "more") == "three"
    (caches.cache_dir() / "memo.json").unlink()
    assert caches.memo_get("memo.json", "key") is None


def test_an_unusable_cache_directory_only_costs_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_environment: None) -> None:
    expected = steps.render_run(steps.RunOptions(uid=1000))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file: no directory can be made
    templates.environment.cache_clear()
    templates.renderer_stamps.cache_clear()
    assert steps.render_run(steps.RunOptions(uid=1000)) == expected
    assert steps.render_run(steps.RunOptions(uid=1000)) == expected
    assert blocker.read_text() == ""


def test_config_files_with_credentials_are_never_kept(fresh_environment: None) -> None:
    from dockerpypi.settings.resolve import resolve_settings

    secret = "s3cret-for-the-cache-test"
    # Credentials in a mirror, and in a public index that is not even used (offline).
    for mirrors, public, shown in (
            (f"http://user:{secret}@127.0.0.1:3141/simple/", None, True),
            ("http://127.0.0.1:3141/simple/", f"https://{secret}@idx.test/s/", False)):
        settings = resolve_settings({"mirrors": mirrors, "public_index": public,
                                     "easy_install": True, "offline": True})
        texts = [config.content for config in files.config_files(settings)]
        assert any(secret in text for text in texts) == shown
    for path in caches.cache_dir().rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert not caches.RENDERS.path.exists()


def test_config_files_without_credentials_are_kept(fresh_environment: None) -> None:
    from dockerpypi.settings.resolve import resolve_settings

    settings = resolve_settings({"mirrors": "http://127.0.0.1:3141/simple/",
                                 "easy_install": True})
    written = files.config_files(settings)
    assert sorted(kept().values()) == sorted(config.content for config in written)
    assert files.config_files(settings) == written


def test_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert caches.cache_dir() == Path("~/.cache/dockerpypi").expanduser()
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert caches.cache_dir() == Path("~/.cache/dockerpypi").expanduser()
    assert caches.cache_dir().is_absolute()


# --- the process: collector off while loading, no teardown after the exit code -----

def entry_process(tmp_path: Path, prelude: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``dockerpypi ARGS`` through the console script's entry, after ``prelude``."""
    script = (f"import sys\n{prelude}\n"
              "sys.argv = ['dockerpypi', *sys.argv[1:]]\n"
              "from dockerpypi._entry import run\n"
              "run()\n")
    # Buffered standard streams, as a pipe gets them unless PYTHONUNBUFFERED says not.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-c", script, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("args", "code", "stream", "expected"), [
    (["--version"], 0, "stdout", "dockerpypi, version"),
    (["no-such-command"], 2, "stderr", "No such command 'no-such-command'"),
    (["build", "--prefer-uv", "."], 2, "stderr", "--prefer-uv rewrites steps of --inject"),
])
def test_the_entry_keeps_exit_codes_and_output(tmp_path: Path, args: list[str], code: int,
                                               stream: str, expected: str) -> None:
    done = entry_process(tmp_path, "", *args)
    assert done.returncode == code, done.stderr
    assert expected in getattr(done, stream)


def test_the_entry_runs_atexit_functions_registered_before_and_during_it(
        tmp_path: Path) -> None:
    # Before: what site, sitecustomize or coverage's .pth file registers. During:
    # a command's own (logging's, when --verbose imports it).
    prelude = ("import atexit, logging\n"
               "atexit.register(print, 'registered before', flush=True)\n"
               "import dockerpypi.cli\n"
               "atexit.register(print, 'registered during', flush=True)\n")
    done = entry_process(tmp_path, prelude, "render", "stage")
    assert done.returncode == 0, done.stderr
    assert "FROM scratch AS pypi-mirror" in done.stdout
    # Last registered first, as atexit always runs them; nothing is skipped.
    assert done.stdout.splitlines()[-2:] == ["registered during", "registered before"]


def test_the_entry_flushes_what_python_holds_for_a_pipe(tmp_path: Path) -> None:
    # Less than a pipe's buffer, written as print() writes (click.echo flushes
    # each time itself): lost if the quick exit did not flush what Python holds.
    prelude = ("import click\n"
               "real = click.echo\n"
               "def echo(message=None, file=None, nl=True, err=False, color=None):\n"
               "    if err:\n"
               "        real(message, err=True)\n"
               "    else:\n"
               "        sys.stdout.write('x' * 1000)\n"
               "click.echo = echo\n")
    done = entry_process(tmp_path, prelude, "render", "stage")
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout == "x" * 1000


def test_the_entry_reports_an_escaping_error_as_python_does(tmp_path: Path) -> None:
    prelude = ("import dockerpypi.cli\n"
               "def broken(argv=None):\n"
               "    raise RuntimeError('a bug')\n"
               "dockerpypi.cli.main = broken\n")
    done = entry_process(tmp_path, prelude, "--version")
    assert done.returncode == 1
    assert "RuntimeError: a bug" in done.stderr


def test_the_entry_leaves_the_collector_on_for_the_command(tmp_path: Path) -> None:
    prelude = ("import atexit, gc\n"
               "import dockerpypi.cli\n"
               "real = dockerpypi.cli.main\n"
               "def main(argv=None):\n"
               "    print('collector on:', gc.isenabled(), 'frozen:', gc.get_freeze_count() > 0)\n"
               "    real(argv)\n"
               "dockerpypi.cli.main = main\n")
    done = entry_process(tmp_path, prelude, "--version")
    assert done.returncode == 0, done.stderr
    assert "collector on: True frozen: True" in done.stdout


def test_python_dash_m_runs_the_same_entry(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dockerpypi", "no-such-command"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "No such command" in done.stderr
