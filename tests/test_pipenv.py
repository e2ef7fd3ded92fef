"""Pipenv: its steps get the mirror, and ``mirror add Pipfile.lock`` reads the lock's pins.

Pure logic and the CLI in this process; the real pipenv in a real build is
tests/test_pipenv_docker.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main
from support.server import ServedURL
from support.wheels import wheel_filename

from dockerpypi.dockerfile.inject import inject
from dockerpypi.dockerfile.vocabulary import installers_called
from dockerpypi.errors import UsageError
from dockerpypi.mirror.arguments import names_path
from dockerpypi.mirror.pinned import pinned_hashes
from dockerpypi.mirror.pipfile import (
    Source,
    bypassing_sources,
    lock_path,
    other_sources,
    pipenv_files,
    read_pipfile_lock,
    shown_url,
    split_pipfile_locks,
    write_requirements,
)
from dockerpypi.render import files
from dockerpypi.settings.public_index import public_index_url
from dockerpypi.settings.resolve import resolve_settings

PUBLIC = public_index_url().rstrip("/")
A = "a" * 64
B = "b" * 64
C = "c" * 64


def write_lock(directory: Path, *, sources: list[dict[str, object]] | None = None,
               **categories: dict[str, object]) -> Path:
    """A Pipfile.lock as pipenv writes it (the packages of each category given)."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = {"_meta": {"hash": {"sha256": "0" * 64}, "pipfile-spec": 6, "requires": {},
                      "sources": sources if sources is not None else [
                          {"name": "pypi", "url": PUBLIC, "verify_ssl": True}]},
            "default": {}, "develop": {}, **categories}
    path = directory / "Pipfile.lock"
    path.write_text(json.dumps(lock, indent=4))
    return path


# --- steps -------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    "pipenv install --deploy --system", "pipenv sync", "PIPENV_VENV_IN_PROJECT=1 pipenv sync",
    "/root/.local/bin/pipenv sync", "pipenv --quiet install", "python3 -m pipenv install",
    "pipenv lock", "pipenv update", "bash -c 'pipenv install --deploy'",
])
def test_pipenv_calls_are_found(command: str) -> None:
    assert installers_called(command) == ["pipenv"]


@pytest.mark.parametrize("command", [
    "pipenv --version", "pipenv run python app.py", "pipenv requirements > r.txt",
    "pipenv graph", "pipenv shell", "pipenvx install",
])
def test_other_pipenv_commands_are_not(command: str) -> None:
    assert installers_called(command) == []


def test_installing_pipenv_is_a_pip_call_and_using_it_a_pipenv_one() -> None:
    assert installers_called("pip install --user pipenv") == ["pip"]
    assert installers_called("pip install pipenv && pipenv install --deploy") == \
        ["pip", "pipenv"]


def test_a_pipenv_step_gets_the_mirror_and_a_cache_for_pipenv() -> None:
    text = inject("FROM p\nWORKDIR /usr/src\nRUN PIPENV_VENV_IN_PROJECT=1 pipenv sync\n").text
    assert "--mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly" in text
    assert "--mount=type=cache,id=dockerpypi-pipenv-0,target=/var/cache/dockerpypi/pipenv" \
        in text
    assert "export PIPENV_CACHE_DIR=/var/cache/dockerpypi/pipenv; \\" in text
    assert "if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi;" in text
    assert text.rstrip().endswith("PIPENV_VENV_IN_PROJECT=1 pipenv sync")


def test_a_pipenv_step_of_an_unknown_user_caches_nothing_of_ours() -> None:
    text = inject("FROM p\nUSER app\nRUN pipenv sync\n").text
    assert "dockerpypi-pipenv" not in text
    assert "PIPENV_CACHE_DIR" not in text


def test_the_env_file_gives_pipenv_the_first_mirror(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKERPYPI_MIRRORS",
                       "https://user:secret@mirror.example/simple/ file:///tmp/pypi")
    settings = resolve_settings({})
    secret = files.render_env(settings)
    shown = files.render_env(settings, redact=True)
    assert "export PIPENV_PYPI_MIRROR=https://user:secret@mirror.example/simple/" in secret
    assert "secret" not in shown
    said = subprocess.run(["sh", "-c", f"{secret}\necho \"$PIPENV_PYPI_MIRROR\""],
                          capture_output=True, text=True, check=True).stdout
    assert said == "https://user:secret@mirror.example/simple/\n"
    # One set by the base image is replaced.
    assert "PIPENV_PYPI_MIRROR" in secret.split("\nunset ", 1)[1].splitlines()[0]


# --- the lock ----------------------------------------------------------------


def test_the_lock_reads_as_the_hash_pinned_requirements_pipenv_writes(tmp_path: Path) -> None:
    lock = write_lock(
        tmp_path,
        default={"requests": {"hashes": [f"sha256:{A}", f"sha256:{B}"], "index": "pypi",
                              "markers": "python_version >= '3.8'", "version": "==2.32.3"},
                 "uvicorn": {"extras": ["standard"], "hashes": [f"sha256:{C}"],
                             "version": "==0.30.0"},
                 "mine": {"editable": True, "path": "."},
                 "tool": {"git": "https://git.example/tool.git", "ref": "abc"}},
        develop={"requests": {"hashes": [f"sha256:{A}"], "version": "==2.32.3"},
                 "pytest": {"hashes": [f"sha256:{C}"], "version": "==8.0.0"}},
        docs={"sphinx": {"hashes": [f"sha256:{B}"], "version": "==7.0.0"}})

    read = read_pipfile_lock(lock)

    assert read.requirements == (
        # in two categories: one requirement, with the hashes of both
        f"requests==2.32.3; python_version >= '3.8' --hash=sha256:{A} --hash=sha256:{B}",
        f"uvicorn[standard]==0.30.0 --hash=sha256:{C}",
        f"pytest==8.0.0 --hash=sha256:{C}",
        f"sphinx==7.0.0 --hash=sha256:{B}",
    )
    assert read.left_out == ("mine", "tool")
    assert read.sources == (Source("pypi", PUBLIC),)
    written = write_requirements([read], tmp_path)
    assert pinned_hashes(written) == {"requests": frozenset({A, B}), "uvicorn": frozenset({C}),
                                      "pytest": frozenset({C}), "sphinx": frozenset({B})}


def test_markers_are_kept_on_the_requirement(tmp_path: Path) -> None:
    lock = write_lock(tmp_path, default={"colorama": {
        "hashes": [f"sha256:{A}"], "markers": "sys_platform == 'win32'", "version": "==0.4.6"}})
    assert read_pipfile_lock(lock).requirements == (
        f"colorama==0.4.6; sys_platform == 'win32' --hash=sha256:{A}",)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "is not JSON"),
    ('{"default": {}}', "has no _meta table, so it is no Pipfile.lock"),
    ('{"_meta": {}, "default": {"x": {"version": "*"}}}', "x has no pinned version ('*')"),
    ('{"_meta": {}, "default": {"x": {"version": "==1"}}, "develop": {"x": {"version": "==2"}}}',
     "x is locked at ==1 in default and at ==2 in develop"),
])
def test_a_bad_lock_is_refused_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "Pipfile.lock").write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)) as raised:
        read_pipfile_lock(tmp_path / "Pipfile.lock")
    assert raised.value.fix


def test_a_lock_is_named_by_its_file_or_its_directory(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "app"
    lock = write_lock(project)
    monkeypatch.chdir(tmp_path)
    assert names_path("app/Pipfile.lock")
    assert lock_path(str(lock)) == lock
    assert lock_path("./app") == Path("./app/Pipfile.lock")
    assert lock_path("app") is None  # a bare name is a package, as for pip
    monkeypatch.chdir(project)
    assert names_path("Pipfile.lock")  # no package has that name
    assert lock_path("Pipfile.lock") == Path("Pipfile.lock")
    monkeypatch.chdir(tmp_path)
    (project / "uv.lock").write_text("")
    assert lock_path("./app") is None  # uv's, when it holds a uv.lock too
    assert split_pipfile_locks([str(lock), "requests"]) == ((lock.resolve(),), ("requests",))
    (project / "Pipfile").write_text("[packages]\n")
    with pytest.raises(UsageError, match="is a Pipfile, whose versions are not locked"):
        lock_path("app/Pipfile")


def test_sources_other_than_the_public_index_are_the_ones_pipenv_reads_itself(
        tmp_path: Path) -> None:
    sources = [Source("pypi", f"{PUBLIC}/"), Source("mirror", "https://mirror.example/simple"),
               Source("private", "https://u:p@private.example/simple")]
    assert other_sources(sources, "https://mirror.example/simple/") == [sources[2]]
    assert shown_url(sources[2].url) == "https://***@private.example/simple"
    context = tmp_path / "context"
    write_lock(context / "app", sources=[
        {"name": "pypi", "url": PUBLIC, "verify_ssl": True},
        {"name": "private", "url": "https://private.example/simple", "verify_ssl": True}])
    (context / "Pipfile").write_text(
        f'[[source]]\nurl = "{PUBLIC}"\nname = "pypi"\n\n'
        '[[source]]\nurl = "https://other.example/simple"\nname = "other"\n')
    found = pipenv_files(context, "FROM p\nCOPY app/Pipfile.lock /app/\nCOPY ../Pipfile /x/\n")
    assert found == [(context / "Pipfile").resolve(), (context / "app/Pipfile.lock").resolve()]
    assert [(path.name, source.name) for path, source in bypassing_sources(found, PUBLIC)] == [
        ("Pipfile", "other"), ("Pipfile.lock", "private")]


# --- the CLI -----------------------------------------------------------------


def test_mirror_add_pipfile_lock_fetches_the_locked_versions_only(
        tmp_path: Path, http_mirror: Callable[..., ServedURL],
        capsys: pytest.CaptureFixture[str]) -> None:
    upstream = http_mirror(["dpp-dep==1.0", "dpp-dep==2.0", "dpp-other==1.0"], origin="upstream")
    wheel = upstream.root / wheel_filename("dpp-dep", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock = write_lock(tmp_path / "project", default={
        "dpp-dep": {"hashes": [f"sha256:{digest}"], "index": "pypi", "version": "==1.0"}})
    mirror = tmp_path / "mirror"

    code, _, err = run_main(["mirror", "add", str(lock.parent) + "/", "--index-url", upstream,
                               "--mirror-dir", str(mirror)], capsys)

    assert code == 0, err
    assert sorted(p.name for p in mirror.glob("*.whl")) == [wheel.name]
    assert "1 packages, each at its locked version, only files with the lock's sha256" in err


def test_mirror_add_refuses_a_lock_whose_hashes_match_no_file(
        tmp_path: Path, http_mirror: Callable[..., ServedURL],
        capsys: pytest.CaptureFixture[str]) -> None:
    upstream = http_mirror(["dpp-dep==1.0"], origin="upstream")
    lock = write_lock(tmp_path / "project", default={
        "dpp-dep": {"hashes": [f"sha256:{A}"], "version": "==1.0"}})
    mirror = tmp_path / "mirror"

    code, _, err = run_main(["mirror", "add", str(lock), "--index-url", upstream,
                             "--mirror-dir", str(mirror)], capsys)

    assert code == 1
    assert "no file of dpp-dep 1.0 on the index has a sha256" in err
    assert not list(mirror.glob("*.whl"))


def test_a_lock_of_another_source_is_fetched_from_that_source_too(
        tmp_path: Path, http_mirror: Callable[..., ServedURL],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    public = http_mirror(["dpp-dep==1.0"], origin="upstream")
    private = http_mirror(["dpp-private==3.0"], origin="private")
    monkeypatch.setenv("DOCKERPYPI_PUBLIC_INDEX", public)
    def sha(index: ServedURL, name: str) -> str:
        return hashlib.sha256((index.root / wheel_filename(name, "1.0" if index is public
                                                          else "3.0")).read_bytes()).hexdigest()

    lock = write_lock(tmp_path / "project", sources=[
        {"name": "pypi", "url": PUBLIC, "verify_ssl": True},
        {"name": "private", "url": private, "verify_ssl": False}], default={
        "dpp-dep": {"hashes": [f"sha256:{sha(public, 'dpp-dep')}"], "version": "==1.0"},
        "dpp-private": {"hashes": [f"sha256:{sha(private, 'dpp-private')}"],
                        "index": "private", "version": "==3.0"}})
    mirror = tmp_path / "mirror"

    code, _, err = run_main(["mirror", "add", str(lock), "--mirror-dir", str(mirror)], capsys)

    assert code == 0, err
    assert sorted(p.name for p in mirror.glob("*.whl")) == [
        wheel_filename("dpp-dep", "1.0"), wheel_filename("dpp-private", "3.0")]


def test_an_injected_build_warns_of_a_source_pipenv_takes_from_its_own_index(
        tmp_path: Path, make_mirror: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    context = tmp_path / "context"
    write_lock(context, sources=[
        {"name": "pypi", "url": PUBLIC, "verify_ssl": True},
        {"name": "private", "url": "https://user:token@private.example/simple",
         "verify_ssl": True}])
    (context / "Dockerfile").write_text(
        "FROM p\nRUN pip install pipenv\nCOPY Pipfile Pipfile.lock ./\n"
        "RUN pipenv install --deploy --system\n")
    mirror = make_mirror(["dpp-dep==1.0"])

    code, out, err = run_main(["build", "--inject", "--offline", "--dry-run", "--mirror-dir",
                               str(mirror), str(context)], capsys)

    assert code == 0, err
    assert (f"{context / 'Pipfile.lock'}: pipenv installs the packages of its source 'private' "
            "(https://***@private.example/simple) from that index, not from the mirror") in err
    assert "build with --offline to make the step fail there instead" in err
    assert "token" not in err + out
    assert shlex.split(out)  # the command was printed


def test_a_pipfile_of_the_public_index_alone_says_nothing(
        tmp_path: Path, make_mirror: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    context = tmp_path / "context"
    write_lock(context)
    (context / "Dockerfile").write_text("FROM p\nCOPY Pipfile.lock .\nRUN pipenv sync\n")
    code, _, err = run_main(["build", "--inject", "--offline", "--dry-run", "--mirror-dir",
                             str(make_mirror(["dpp-dep==1.0"])), str(context)], capsys)
    assert code == 0, err
    assert "pipenv installs the packages" not in err


@pytest.mark.parametrize(("text", "says"), [
    ("{not json", "is not JSON"),
    ('{"_meta": {}, "default": {"x": {"version": "*"}}}', "x has no pinned version ('*')"),
    ('{"_meta": {}, "default": {"x": {"path": "."}}}', "locks no package from an index"),
])
def test_a_bad_lock_is_one_line_exit_2_and_leaves_nothing(
        tmp_path: Path, tmpdir_env: Path, text: str, says: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pipfile.lock").write_text(text)
    mirror = tmp_path / "mirror"
    result = subprocess.run([sys.executable, "-m", "dockerpypi", "mirror", "add", "./project",
                             "--index-url", "http://127.0.0.1:9/", "--mirror-dir", str(mirror)],
                            cwd=tmp_path, capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("dockerpypi: error: ")
    assert says in result.stderr
    assert not list(tmpdir_env.iterdir())
    assert not mirror.exists()
