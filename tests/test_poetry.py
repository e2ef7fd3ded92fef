"""Poetry: the lock's content-hash and copies, ``mirror add poetry.lock``, the steps.

Locks are made by the host's Poetry (the dev extra's) against fake indexes
on 127.0.0.1 (:mod:`support.poetryproject`), so they are what Poetry writes.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main
from support.index import write_index_of
from support.poetryproject import poetry_env, poetry_lock, run_poetry, write_project
from support.server import ServedURL, serve_directory

from dockerpypi.dockerfile.inject import inject
from dockerpypi.dockerfile.lock_mounts import LOCKS_STAGE
from dockerpypi.dockerfile.poetry_steps import SERVER_TARGET, SERVER_URL
from dockerpypi.dockerfile.vocabulary import poetry_called
from dockerpypi.errors import UsageError
from dockerpypi.mirror.poetrylock import (
    MIRROR_SOURCE,
    NoMirrorCopy,
    content_hash,
    mirror_copies,
    pinned_requirements,
    read_poetry_lock,
    with_mirror_source,
)
from dockerpypi.tomlparser import tomllib

UPSTREAM = (
    "dockerpypi-probe==1.0",
    "dockerpypi-probe==2.0",
    "dockerpypi-tool==1.0",
    {"name": "dockerpypi-probe-app", "version": "1.0", "requires": ["dockerpypi-probe<2"]},
)
LOCKED = ["dockerpypi_probe-1.0-py3-none-any.whl", "dockerpypi_probe_app-1.0-py3-none-any.whl",
          "dockerpypi_tool-1.0-py3-none-any.whl"]
# Poetry 1's layout, which Poetry 2 still locks: [tool.poetry] alone.
LEGACY = """\
[tool.poetry]
name = "legacy"
version = "0.1.0"
description = ""
authors = []
package-mode = false

[tool.poetry.dependencies]
python = ">=3.8"
dockerpypi-probe-app = "*"
"""
COPY_STEP = """\
FROM python:3.12-slim
ENV POETRY_VIRTUALENVS_IN_PROJECT=1
RUN pip install poetry==2.5.1
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=$POETRY_CACHE_DIR poetry install --without dev --no-root
"""
BIND_STEP = """\
FROM python:3.12-slim
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/pypoetry \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    --mount=type=bind,source=poetry.lock,target=poetry.lock \\
    poetry install --no-root
"""


@pytest.fixture(scope="module")
def upstream_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_index_of(tmp_path_factory.mktemp("upstream"), UPSTREAM, origin="upstream")


@pytest.fixture(scope="module")
def locked_once(tmp_path_factory: pytest.TempPathFactory, upstream_root: Path) -> Path:
    """A project of the public index with a dev group, locked by Poetry once (Poetry is slow
    to start); the lock names no URL, so any server of the same files stands for its index."""
    project = write_project(tmp_path_factory.mktemp("locked") / "project",
                            ["dockerpypi-probe-app"], ["dockerpypi-tool"])
    with serve_directory(upstream_root) as url:
        poetry_lock(project, url)
    return project


@pytest.fixture
def upstream(http_mirror: Callable[..., ServedURL], upstream_root: Path,
             tmp_path: Path) -> ServedURL:
    """The project's index, served from a copy of its files (a test may change them)."""
    return http_mirror(root=Path(shutil.copytree(upstream_root, tmp_path / "upstream")))


@pytest.fixture
def locked(tmp_path: Path, locked_once: Path) -> Path:
    """A copy of the locked project (its directory): a test may change it."""
    return Path(shutil.copytree(locked_once, tmp_path / "project"))


def _texts(project: Path) -> tuple[str, str]:
    return ((project / "pyproject.toml").read_text(), (project / "poetry.lock").read_text())


# --- the content-hash and the copies --------------------------------------------------


def test_the_content_hash_is_the_one_poetry_wrote(locked: Path) -> None:
    pyproject, lock = _texts(locked)
    assert content_hash(tomllib.loads(pyproject)) == \
        tomllib.loads(lock)["metadata"]["content-hash"]


def test_the_content_hash_of_poetry_1s_layout_with_a_source_is_the_one_poetry_wrote(
        tmp_path: Path, upstream: ServedURL) -> None:
    # [tool.poetry] alone (its keys at the top of the hashed JSON) and a source in the hash.
    project = tmp_path / "legacy"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'{LEGACY}\n[[tool.poetry.source]]\nname = "up"\nurl = "{upstream}"\n'
        'priority = "primary"\n')
    locked = run_poetry(project, "lock")
    assert locked.returncode == 0, locked.stdout + locked.stderr
    pyproject, lock = _texts(project)
    assert content_hash(tomllib.loads(pyproject)) == \
        tomllib.loads(lock)["metadata"]["content-hash"]


def test_the_copies_name_the_mirror_alone_and_pass_poetrys_own_check(
        locked: Path, tmp_path: Path) -> None:
    pyproject, lock = _texts(locked)
    copy_pyproject, copy_lock = mirror_copies(pyproject, lock, SERVER_URL, where="here")
    assert copy_pyproject.startswith(pyproject)
    assert tomllib.loads(copy_pyproject)["tool"]["poetry"]["source"] == [
        {"name": MIRROR_SOURCE, "url": SERVER_URL, "priority": "primary"}]
    # Only the content-hash line differs.
    changed = [(a, b) for a, b in zip(lock.splitlines(), copy_lock.splitlines(), strict=True)
               if a != b]
    assert [a.split(" = ")[0] for a, _ in changed] == ["content-hash"]
    copied = tmp_path / "copied"
    copied.mkdir()
    (copied / "pyproject.toml").write_text(copy_pyproject)
    (copied / "poetry.lock").write_text(copy_lock)
    checked = run_poetry(copied, "check", "--lock")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_poetry_installs_the_copies_from_the_mirror_and_asks_nothing_else(
        locked: Path, tmp_path: Path, upstream: ServedURL,
        http_mirror: Callable[..., ServedURL], capsys: pytest.CaptureFixture[str]) -> None:
    mirror_dir = tmp_path / "mirror"
    assert run_main(["mirror", "add", str(locked / "poetry.lock"), "--index-url", upstream,
                     "--mirror-dir", str(mirror_dir)], capsys)[0] == 0
    mirror = http_mirror(root=mirror_dir)
    asked_upstream = len(upstream.requests)
    copied = tmp_path / "copied"
    copied.mkdir()
    for name, text in zip(("pyproject.toml", "poetry.lock"),
                          mirror_copies(*_texts(locked), mirror, where="here"), strict=True):
        (copied / name).write_text(text)
    env = {**poetry_env(copied), "POETRY_VIRTUALENVS_CREATE": "true",
           "POETRY_VIRTUALENVS_IN_PROJECT": "true"}
    installed = subprocess.run([sys.executable, "-m", "poetry", "install", "--without", "dev",
                                "--no-root"], cwd=copied, env=env, capture_output=True,
                               text=True, check=False, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert sorted(mirror.downloads()) == LOCKED[:2]
    assert len(upstream.requests) == asked_upstream


def test_a_lock_out_of_date_with_pyproject_gets_no_copy(locked: Path) -> None:
    pyproject, lock = _texts(locked)
    stale = pyproject.replace('"dockerpypi-probe-app"', '"dockerpypi-probe-app", "six"')
    with pytest.raises(NoMirrorCopy, match="content-hash is not the one computed"):
        mirror_copies(stale, lock, SERVER_URL, where="here")


def test_a_project_with_sources_of_its_own_gets_no_copy(locked: Path) -> None:
    pyproject, lock = _texts(locked)
    with pytest.raises(NoMirrorCopy, match=r"\[\[tool.poetry.source\]\] tables of its own"):
        mirror_copies(with_mirror_source(pyproject, "https://private.example/simple/"), lock,
                      SERVER_URL, where="here")
    other = lock.replace('[[package]]\nname = "dockerpypi-tool"',
                         '[[package]]\nname = "dockerpypi-tool"\n[package.source]\n'
                         'type = "legacy"\nurl = "https://private.example/simple"\n'
                         'reference = "private"\n[package.x]', 1)
    with pytest.raises(NoMirrorCopy):
        mirror_copies(pyproject, other, SERVER_URL, where="here")


@pytest.mark.parametrize("text", ["[project]\nname = 'x'", "[project]\r\nname = 'x'\r\n", ""])
def test_the_mirror_source_is_appended_as_valid_toml_in_the_files_line_endings(
        text: str) -> None:
    copy = with_mirror_source(text, "http://mirror.example/simple/")
    assert copy.startswith(text)
    assert ("\r\n" in copy) == ("\r\n" in text)
    assert tomllib.loads(copy)["tool"]["poetry"]["source"][0]["name"] == MIRROR_SOURCE


def test_a_pyproject_that_cannot_take_a_source_table_gets_no_copy(locked: Path) -> None:
    pyproject, lock = _texts(locked)
    # The same data, [tool.poetry] written as an inline table (TOML cannot extend one).
    inline = ('tool = { poetry = { package-mode = false, group = { dev = { dependencies = '
              '{ dockerpypi-tool = "*" } } } } }\n' + pyproject[:pyproject.index("[tool.poetry]")])
    assert tomllib.loads(inline)["tool"] == tomllib.loads(pyproject)["tool"]
    with pytest.raises(NoMirrorCopy, match="cannot take a"):
        mirror_copies(inline, lock, SERVER_URL, where="here")


# --- the lock as hash-pinned requirements ---------------------------------------------


def test_the_lock_reads_as_the_pinned_requirements_poetry_export_writes() -> None:
    lock = {"package": [
        {"name": "a", "version": "1.0", "files": [{"file": "a.whl", "hash": "sha256:AA"}]},
        {"name": "b", "version": "2.0", "markers": 'sys_platform == "win32"',
         "files": [{"file": "b.whl", "hash": "sha256:bb"}, {"file": "b.tar.gz",
                                                             "hash": "sha256:cc"}]},
        {"name": "c", "version": "3.0", "markers": {"main": "python_version < \"3.9\"",
                                                    "dev": "sys_platform == \"linux\""},
         "files": [{"file": "c.whl", "hash": "sha256:dd"}]},
        {"name": "d", "version": "4.0", "markers": {"main": "*", "dev": "extra == 'x'"},
         "files": [{"file": "d.whl", "hash": "sha256:ee"}]},
        {"name": "local", "version": "0.1", "files": [],
         "source": {"type": "directory", "url": "../local"}},
    ], "metadata": {"content-hash": "x"}}
    lines, left_out = pinned_requirements(lock, where="poetry.lock")
    assert lines == [
        "a==1.0 --hash=sha256:aa",
        'b==2.0 ; sys_platform == "win32" --hash=sha256:bb --hash=sha256:cc',
        'c==3.0 ; (python_version < "3.9") or (sys_platform == "linux") --hash=sha256:dd',
        "d==4.0 --hash=sha256:ee",
    ]
    assert left_out == ["local (directory)"]


def test_a_locked_package_without_a_sha256_is_refused() -> None:
    lock = {"package": [{"name": "a", "version": "1.0", "files": [{"file": "a.whl"}]}]}
    with pytest.raises(UsageError, match=r"a 1\.0 has no sha256"):
        pinned_requirements(lock, where="poetry.lock")


def test_a_file_that_is_no_poetry_lock_is_refused(tmp_path: Path) -> None:
    (tmp_path / "poetry.lock").write_text('[[package]]\nname = "a"\n')
    with pytest.raises(UsageError, match="no \\[metadata\\] content-hash"):
        read_poetry_lock(tmp_path / "poetry.lock")


# --- mirror add poetry.lock -----------------------------------------------------------


@pytest.mark.parametrize("argument", ["poetry.lock", "./", "{project}/poetry.lock"])
def test_mirror_add_fetches_exactly_the_locked_files_of_every_group(
        locked: Path, tmp_path: Path, upstream: ServedURL, argument: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(locked)
    mirror = tmp_path / "mirror"
    code, _, err = run_main(["mirror", "add", argument.format(project=locked), "--index-url",
                             upstream, "--mirror-dir", str(mirror)], capsys)
    assert code == 0, err
    assert sorted(p.name for p in mirror.glob("*.whl")) == LOCKED


def test_mirror_add_of_a_project_poetry_installs_adds_its_build_backend(
        tmp_path: Path, http_mirror: Callable[..., ServedURL], tool_wheels: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    # `poetry install` without --no-root installs the project; `pip install .` of it
    # builds it with its backend: the directory brings the backend beside the lock.
    root = Path(shutil.copytree(tool_wheels("poetry"), tmp_path / "upstream"))
    upstream = http_mirror(root=write_index_of(root, UPSTREAM, origin="upstream"))
    project = write_project(tmp_path / "app", ["dockerpypi-probe-app"], [])
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("package-mode = false\n", "") +
                         '\n[build-system]\nrequires = ["poetry-core>=2"]\n'
                         'build-backend = "poetry.core.masonry.api"\n')
    (project / "app").mkdir()
    (project / "app" / "__init__.py").write_text("")
    poetry_lock(project, upstream)
    mirror = tmp_path / "mirror"
    code, _, err = run_main(["mirror", "add", str(project), "--index-url", upstream,
                             "--mirror-dir", str(mirror)], capsys)
    assert code == 0, err
    assert "build requirements of app: poetry-core>=2" in err
    assert sorted(p.name for p in mirror.glob("*.whl")) == [
        *LOCKED[:2], next(p.name for p in root.glob("poetry_core-*.whl"))]


def test_mirror_add_refuses_a_file_the_lock_has_another_hash_for(
        locked: Path, tmp_path: Path, upstream: ServedURL,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The same version built again (another origin): another sha256 than the lock's.
    write_index_of(upstream.root, [{"name": "dockerpypi-probe-app", "version": "1.0",
                                    "requires": ["dockerpypi-probe<2"]}], origin="elsewhere")
    mirror = tmp_path / "mirror"
    code, _, err = run_main(["mirror", "add", str(locked / "poetry.lock"), "--index-url",
                             upstream, "--mirror-dir", str(mirror)], capsys)
    assert code != 0
    assert "no file of dockerpypi-probe-app 1.0 on the index has a sha256" in err, err
    assert not (mirror / LOCKED[1]).exists()


# --- the steps --------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "called"), [
    ("poetry install --without dev --no-root", True),
    ("poetry sync", True),
    ("/opt/poetry/bin/poetry --no-ansi install", True),
    ("python3 -m poetry install", True),
    ("cd /app && poetry -C /app install", True),
    ("pip install poetry==2.5.1", False),
    ("poetry lock", False),
    ("poetry run python -m app", False),
    ("echo poetry installed", False),
])
def test_poetry_install_calls_are_recognised(command: str, called: bool) -> None:
    assert poetry_called(command) is called


def _overlays(directory: str) -> list[str]:
    return [f"--mount=type=bind,from={LOCKS_STAGE},source=poetry/{name},"
            f"target={directory}/{name}" for name in ("pyproject.toml", "poetry.lock")]


@pytest.mark.parametrize("text", [COPY_STEP, BIND_STEP], ids=["copy", "bind"])
def test_a_poetry_step_reads_the_copies_and_starts_the_server_first(text: str) -> None:
    result = inject(text, has_project=lambda project: project == "")
    assert result.projects == [""]
    assert f"FROM scratch AS {LOCKS_STAGE}" in result.text
    step = result.text[result.text.rindex("RUN "):]
    for mount in _overlays("/app"):
        assert mount in step
    # after the step's own mounts, as BuildKit takes the last mount at a target
    assert step.index("target=poetry.lock") < step.index(_overlays("/app")[1]) \
        if "target=poetry.lock" in step else True
    assert f"target={SERVER_TARGET}" in step
    start = step.index(f"-B {SERVER_TARGET} /tmp/pypi 47613 || exit 1;")
    assert step.index(". /run/dockerpypi/env") < start < step.index("poetry install")
    assert "export ;" not in step  # no installer variables: no bare export
    assert "poetry reads pyproject.toml and poetry.lock in /app with the mirror" in \
        " ".join(result.notes)


def test_an_http_mirror_needs_no_server() -> None:
    result = inject(COPY_STEP, has_project=lambda project: True, serve_poetry=False)
    assert _overlays("/app")[0] in result.text
    assert SERVER_TARGET not in result.text


@pytest.mark.parametrize(("text", "said"), [
    (COPY_STEP.replace("poetry install", "poetry -C /app install"), "poetry -C/--directory"),
    (COPY_STEP.replace("COPY pyproject.toml poetry.lock ./", "COPY pyproject.toml ./"),
     "but not both"),
    (COPY_STEP.replace("WORKDIR /app", "WORKDIR $APP"), "the WORKDIR has a variable"),
    (BIND_STEP.replace("source=poetry.lock", "source=other/poetry.lock"), "two places"),
])
def test_steps_that_read_other_files_are_said_and_left_alone(text: str, said: str) -> None:
    result = inject(text, has_project=lambda project: True)
    assert result.projects == []
    assert LOCKS_STAGE not in result.text
    assert said in " ".join(result.notes)


def test_a_project_the_build_cannot_serve_is_said_and_left_alone() -> None:
    result = inject(COPY_STEP, has_project=lambda project: False)
    assert result.projects == []
    assert "reads poetry.lock as it is" in " ".join(result.notes)
    # The step still gets the mirror and the settings (pip's install of Poetry too).
    assert result.text.count("from=pypi-mirror") == 2


def _context(project: Path) -> Path:
    (project / "Dockerfile").write_text(COPY_STEP)
    return project


def test_a_dry_run_sends_the_copies_as_the_locks_context(
        locked: Path, tmp_path: Path, upstream: ServedURL,
        capsys: pytest.CaptureFixture[str]) -> None:
    mirror = tmp_path / "mirror"
    assert run_main(["mirror", "add", str(locked), "--index-url", upstream,
                     "--mirror-dir", str(mirror)], capsys)[0] == 0
    code, out, err = run_main(["build", "--inject", "--offline", "--dry-run", "--mirror-dir",
                               str(mirror), str(_context(locked))], capsys)
    assert code == 0, err
    assert f"--build-context {LOCKS_STAGE}=" in out
    assert "line 6: poetry reads pyproject.toml and poetry.lock in /app" in err


def test_an_offline_build_is_refused_when_the_mirror_lacks_locked_packages(
        locked: Path, make_mirror: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    mirror = make_mirror(["dockerpypi-probe==1.0"])
    assert run_main(["mirror", "index", "--mirror-dir", str(mirror)], capsys)[0] == 0
    code, _, err = run_main(["build", "--inject", "--offline", "--dry-run", "--mirror-dir",
                             str(mirror), str(_context(locked))], capsys)
    assert code == 2
    assert "has no file of 2 of its packages" in err
    assert f"mirror add {locked / 'poetry.lock'}" in err


def test_a_locked_package_for_another_platform_need_not_be_in_the_mirror(
        locked: Path, tmp_path: Path, upstream: ServedURL,
        capsys: pytest.CaptureFixture[str]) -> None:
    mirror = tmp_path / "mirror"
    assert run_main(["mirror", "add", str(locked), "--index-url", upstream,
                     "--mirror-dir", str(mirror)], capsys)[0] == 0
    # As Poetry locks a Windows-only dependency (the content-hash covers pyproject.toml only).
    lock = locked / "poetry.lock"
    lock.write_text(lock.read_text().replace("[metadata]", (
        '[[package]]\nname = "winonly"\nversion = "1.0"\ndescription = ""\n'
        'optional = false\npython-versions = "*"\ngroups = ["main"]\n'
        'markers = "sys_platform == \\"win32\\""\nfiles = [\n    {file = '
        '"winonly-1.0-py3-none-win_amd64.whl", hash = "sha256:' + "0" * 64 + '"},\n]\n\n'
        "[metadata]")))
    code, out, err = run_main(["build", "--inject", "--offline", "--dry-run", "--mirror-dir",
                               str(mirror), str(_context(locked))], capsys)
    assert code == 0, err
    assert f"--build-context {LOCKS_STAGE}=" in out


def test_a_stale_lock_is_refused_offline_with_what_works_and_warned_of_online(
        locked: Path, make_mirror: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    pyproject = locked / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"dockerpypi-probe-app"',
                                                       '"dockerpypi-probe-app", "six"'))
    mirror = make_mirror(["dockerpypi-probe==1.0"])
    assert run_main(["mirror", "index", "--mirror-dir", str(mirror)], capsys)[0] == 0
    args = ["build", "--inject", "--dry-run", "--mirror-dir", str(mirror), str(_context(locked))]
    code, _, err = run_main([*args[:2], "--offline", *args[2:]], capsys)
    assert code == 2
    assert "poetry export" in err
    assert "pip install --require-hashes" in err
    code, out, err = run_main(args, capsys)
    assert code == 0, err
    assert LOCKS_STAGE not in out
    assert err.count("so poetry install reads the project as it is") == 1, err


@pytest.mark.parametrize(("url", "copied"), [
    ("http://127.0.0.1:3141/root/pypi/+simple/", True),
    ("https://user:s3cr3t-pw@mirror.example/simple/", False),
])
def test_an_http_mirror_is_named_directly_unless_it_has_credentials(
        locked: Path, url: str, copied: bool, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["build", "--inject", "--dry-run", "--index-url", url,
                               str(_context(locked))], capsys)
    assert code == 0, err
    assert (f"--build-context {LOCKS_STAGE}=" in out) is copied
    assert SERVER_TARGET not in out
    assert "s3cr3t-pw" not in out + err
    if not copied:
        assert "carries credentials" in err


# --- the loopback server --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_loopback_server_serves_files_only_while_the_step_runs(tmp_path: Path) -> None:
    from dockerpypi.build import loopback_index

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "index.html").write_text("page")
    port = _free_port()
    script = loopback_index.__file__
    # The shell stands for the step: the server must outlive the script that
    # started it, answer at once, and end after the shell.
    step = subprocess.run(["sh", "-c", f'"{sys.executable}" -B {script} {tmp_path} {port} && '
                          f'"{sys.executable}" -c "import urllib.request as u; '
                          f"print(u.urlopen('http://127.0.0.1:{port}/app/').read().decode())\""],
                          capture_output=True, text=True, check=False, timeout=30)
    assert step.returncode == 0, step.stderr
    assert step.stdout.strip() == "page"
    assert step.stderr == ""  # it logs nothing
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/app/", timeout=1)
        except OSError:  # refused, or cut off as the server exits (RemoteDisconnected)
            break
        time.sleep(0.2)
    else:
        pytest.fail("the server still answers after its step ended")


def test_the_loopback_server_says_when_its_port_is_taken(tmp_path: Path) -> None:
    from dockerpypi.build import loopback_index

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-B", loopback_index.__file__, str(tmp_path),
                               str(port)], capture_output=True, text=True, check=False,
                              timeout=30)
    assert done.returncode == 1
    assert f"cannot serve the mirror to Poetry on 127.0.0.1:{port}" in done.stderr
