"""``mirror add DIR`` and hash-pinned requirements, without an engine.

What a project directory needs for ``pip install .`` (:mod:`dockerpypi.mirror.project`)
and which files a ``--hash`` list allows (:mod:`dockerpypi.mirror.pinned`); the
``mirror add`` runs go to a fake upstream index on 127.0.0.1. The images built
from such mirrors are in test_project_docker.py.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.tags import Tag
from support.backend import BACKEND, HELPER, make_backend, write_project
from support.index import write_simple_index
from support.server import ServedURL
from support.wheels import make_wheel, wheel_filename

from dockerpypi.errors import UsageError, UserMessageError
from dockerpypi.mirror.fill import FillResult
from dockerpypi.mirror.index import is_index_file, update_index
from dockerpypi.mirror.locks import UV, split
from dockerpypi.mirror.pinned import keep_pinned, pinned_hashes
from dockerpypi.mirror.project import (
    DEFAULT_BACKEND,
    DEFAULT_REQUIRES,
    ask_backend,
    fill_project,
    is_project,
    read_project,
    read_projects,
    uv_request,
)
from dockerpypi.mirror.resolve import choose_files

SHA_A, SHA_B, SHA_C = (hashlib.sha256(text).hexdigest() for text in (b"a", b"b", b"c"))


# --- what a project directory asks for -------------------------------------------------

def test_a_project_without_a_build_system_table_gets_pips_defaults(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    project = read_project(tmp_path)
    assert (project.source, project.build_requires, project.backend) == (
        tmp_path / "setup.py", DEFAULT_REQUIRES, DEFAULT_BACKEND)
    assert DEFAULT_REQUIRES == ("setuptools>=40.8.0", "wheel")  # pip 23's, wheel included

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '1'\n")
    assert read_project(tmp_path).source == tmp_path / "pyproject.toml"
    assert read_project(tmp_path).build_requires == DEFAULT_REQUIRES
    assert not read_project(tmp_path).uv_builds  # a virtual project for uv
    (tmp_path / "pyproject.toml").write_text("[tool.uv]\npackage = true\n")
    assert read_project(tmp_path).uv_builds


def test_a_build_system_table_is_read_as_pip_reads_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core>=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n'
        'backend-path = ["."]\n')
    project = read_project(tmp_path)
    assert (project.build_requires, project.backend, project.backend_path) == (
        ("flit_core>=3.2,<4",), "flit_core.buildapi", (".",))

    (tmp_path / "pyproject.toml").write_text('[build-system]\nbuild-backend = "x"\n')
    with pytest.raises(UserMessageError, match=r"\[build-system\] has no `requires` list") \
            as raised:
        read_project(tmp_path)
    assert raised.value.fix == "add one (PEP 518)"
    (tmp_path / "pyproject.toml").write_text("[build-system\n")
    with pytest.raises(UserMessageError, match="cannot read") as raised:
        read_project(tmp_path)
    assert raised.value.fix == "fix the file and run again"
    assert raised.value.problem.startswith(f"cannot read {tmp_path / 'pyproject.toml'} (")


def test_a_directory_that_is_no_project_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"has no pyproject\.toml, setup\.py or setup\.cfg") \
            as raised:
        read_project(tmp_path)
    assert raised.value.fix == "give a project directory, or name packages"


def test_paths_and_package_names_are_told_apart_one_way_as_pip_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "build").mkdir()  # some folder that happens to bear a package's name
    (tmp_path / "build" / "uv.lock").write_text("version = 1\n")
    assert not is_project("build")
    assert read_projects(["build", "six"]) == []
    assert split(UV, ["build"]) == ((), ("build",))
    assert is_project("./build")
    assert is_project(".")
    with pytest.raises(UsageError, match=r"has no pyproject\.toml"):
        read_projects(["./build"])  # pip: "Directory './build' is not installable"
    with pytest.raises(UsageError, match="is no directory"):
        read_projects(["./absent"])

    write_project(tmp_path / "app", "dpp-app", "1.0", dependencies=[], requires=["x"],
                  backend="x")
    (tmp_path / "app" / "uv.lock").write_text("version = 1\n")
    lock = (tmp_path / "app" / "uv.lock").resolve()
    for spelling in ("app", "./app", str(tmp_path / "app")):  # one route, however spelt
        assert is_project(spelling)
        assert split(UV, [spelling]) == ((lock,), ())
    (tmp_path / "wheel.whl").write_text("")
    assert not is_project("./wheel.whl")  # a file for pip, not a project


def test_uv_is_given_the_file_a_project_is_read_from(tmp_path: Path) -> None:
    write_project(tmp_path / "app", "dpp-app", "1.0", dependencies=[], requires=["x"],
                  backend="x")
    other = tmp_path / "requirements.txt"
    packages, files = uv_request(("six", str(tmp_path / "app")), [other])
    assert (packages, files) == (("six",), [other, tmp_path / "app" / "pyproject.toml"])


def test_the_backend_is_asked_on_a_copy_with_what_the_mirror_holds(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    make_backend(mirror)
    project = write_project(tmp_path / "app", "dpp-app", "1.0", dependencies=[],
                            requires=[BACKEND], backend="dpp_backend")
    before = sorted(project.rglob("*"))
    assert ask_backend(read_project(project), mirror) == (f"{HELPER}>=1",)
    assert sorted(project.rglob("*")) == before

    missing = write_project(tmp_path / "other", "dpp-other", "1.0", dependencies=[],
                            requires=["dpp-absent"], backend="dpp_absent")
    with pytest.raises(UserMessageError, match="cannot install dpp-absent from the mirror"):
        ask_backend(read_project(missing), mirror)


def slow_project(directory: Path, seconds: float) -> Path:
    """A project whose backend (in the project, on backend-path) sleeps when asked."""
    write_project(directory, "dpp-slow", "1.0", dependencies=[], requires=[BACKEND],
                  backend="slow_backend")
    text = (directory / "pyproject.toml").read_text()
    (directory / "pyproject.toml").write_text(text.replace(
        'build-backend = "slow_backend"\n',
        'build-backend = "slow_backend"\nbackend-path = ["."]\n'))
    (directory / "slow_backend.py").write_text(
        "import time\n\ndef get_requires_for_build_wheel(config_settings=None):\n"
        f"    time.sleep({seconds})\n    return []\n")
    return directory


def test_a_backend_that_hangs_is_stopped_with_a_fix_about_the_project(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    make_backend(mirror)
    project = read_project(slow_project(tmp_path / "app", 60))
    with pytest.raises(UserMessageError) as raised:
        # Only the hook is held to 5 s: pip's install before it may take
        # longer on a loaded machine, and must not be what times out here.
        ask_backend(project, mirror, hook_timeout=5)
    assert "did not answer in 5s" in raised.value.problem
    assert "pip wheel ." in raised.value.fix
    assert "docker" not in str(raised.value)


def test_each_set_is_filled_on_its_own_and_a_failing_hook_is_a_warning(
        tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    make_backend(mirror)
    asked: list[tuple[str, ...]] = []

    def fill(requirements: tuple[str, ...]) -> FillResult:
        asked.append(requirements)
        return FillResult("host", "uv", (), "uv", (), update_index(mirror), 0.0)

    project = write_project(tmp_path / "app", "dpp-app", "1.0", dependencies=[],
                            requires=[BACKEND], backend="dpp_backend")
    warnings: list[str] = []
    fill_project(read_project(project), fill, mirror, on_warning=warnings.append)
    assert (asked, warnings) == ([(BACKEND,), (f"{HELPER}>=1",)], [])

    asked.clear()
    broken = write_project(tmp_path / "broken", "dpp-broken", "1.0", dependencies=[],
                           requires=[BACKEND], backend="dpp_backend.missing")
    fill_project(read_project(broken), fill, mirror, on_warning=warnings.append)
    assert asked == [(BACKEND,)]
    assert len(warnings) == 1
    assert warnings[0].startswith("dpp_backend.missing's get_requires_for_build_wheel failed")


# --- hash-pinned requirements ----------------------------------------------------------

def test_pinned_hashes_read_continuations_comments_and_included_files(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text(f"Six==1.0 --hash=sha256:{SHA_C}  # pinned\n")
    (tmp_path / "requirements.txt").write_text(
        "-r base.txt\n"
        "# a comment --hash=sha256:" + SHA_C + "\n"
        "dpp-dep==1.0 \\\n"
        f"    --hash=sha256:{SHA_A} \\\n"
        f"    --hash=sha256:{SHA_B.upper()}\n"
        "unpinned\n")
    assert pinned_hashes([tmp_path / "requirements.txt"]) == {
        "dpp-dep": frozenset({SHA_A, SHA_B}), "six": frozenset({SHA_C})}
    assert pinned_hashes([tmp_path / "pyproject.toml"]) == {}


@pytest.mark.parametrize("include", ["-r inc.txt", "-rinc.txt", "--requirement inc.txt",
                                     "--requirement=inc.txt", "-c inc.txt", "-cinc.txt",
                                     "--constraint inc.txt", "--constraint=inc.txt"])
def test_pinned_hashes_follow_every_spelling_of_an_include(include: str, tmp_path: Path) -> None:
    (tmp_path / "inc.txt").write_text(f"six==1.0 --hash=sha256:{SHA_C}\n")
    (tmp_path / "requirements.txt").write_text(f"{include}\n")
    assert pinned_hashes([tmp_path / "requirements.txt"]) == {"six": frozenset({SHA_C})}


def test_an_unbalanced_quote_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "six==1.0 \\\n    --hash=sha256:" + SHA_C + "\n\n-r 'inc.txt\n")
    with pytest.raises(UserMessageError, match=r"requirements\.txt, line 4: No closing "
                                               r"quotation: balance the quotes"):
        pinned_hashes([tmp_path / "requirements.txt"])


def _entry(name: str, sha256: str) -> dict[str, object]:
    return {"name": name, "url": f"https://files.example/{name}", "hashes": {"sha256": sha256}}


def test_only_the_pinned_files_are_chosen_from(tmp_path: Path) -> None:
    lock = {"packages": [
        {"name": "dpp-dep", "version": "1.0",
         "wheels": [_entry("dpp_dep-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", SHA_A),
                    _entry("dpp_dep-1.0-py3-none-any.whl", SHA_B)],
         "sdist": _entry("dpp_dep-1.0.tar.gz", SHA_C)},
        {"name": "free", "version": "2.0", "wheels": [_entry("free-2.0-py3-none-any.whl",
                                                              SHA_A)]}]}
    supported = [Tag("cp311", "cp311", "manylinux_2_28_x86_64"), Tag("py3", "none", "any")]
    best = choose_files(lock, supported, allow_sdist=True)
    assert best[0].filename.endswith("manylinux_2_28_x86_64.whl")

    pinned = choose_files(keep_pinned(lock, {"dpp-dep": frozenset({SHA_B})}), supported,
                          allow_sdist=True)
    assert [pick.filename for pick in pinned] == ["dpp_dep-1.0-py3-none-any.whl",
                                                  "free-2.0-py3-none-any.whl"]
    only_sdist = keep_pinned(lock, {"dpp-dep": frozenset({SHA_C})})
    assert choose_files(only_sdist, supported, allow_sdist=True)[0].filename \
        == "dpp_dep-1.0.tar.gz"
    with pytest.raises(UserMessageError, match=r"no file of dpp-dep 1\.0 on the index has"):
        keep_pinned(lock, {"dpp-dep": frozenset({"0" * 64})})


# --- mirror add, through the CLI ---------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=300)


@pytest.fixture
def upstream(tmp_path: Path, http_mirror: Callable[..., ServedURL]) -> ServedURL:
    root = tmp_path / "upstream"
    make_backend(root)
    for version in ("1.0", "2.0"):
        make_wheel(root, "dpp-dep", version, origin="upstream")
    write_simple_index(root)
    return http_mirror(root=root)


def distributions(mirror: Path) -> set[str]:
    return {p.name for p in mirror.iterdir() if p.is_file() and not is_index_file(p.name)}


@pytest.mark.parametrize("resolver", ["uv", "pip"])
def test_mirror_add_dir_fetches_dependencies_backend_and_what_it_asks_for(
        resolver: str, upstream: ServedURL, tmp_path: Path) -> None:
    project = write_project(tmp_path / "app", "dpp-app", "1.5", dependencies=["dpp-dep<2"],
                            requires=[BACKEND], backend="dpp_backend")
    added = cli("mirror", "add", str(project), "--resolver", resolver, "--index-url", upstream,
                "--mirror-dir", str(tmp_path / "mirror"))
    assert added.returncode == 0, added.stderr
    assert distributions(tmp_path / "mirror") == {
        wheel_filename(name, version) for name, version in (
            ("dpp-dep", "1.0"), (BACKEND, "1.0"), (HELPER, "1.0"))}
    assert f"dpp_backend asks to build dpp-app with: {HELPER}>=1" in added.stderr


def test_mirror_add_dir_with_a_uv_lock_gets_the_build_backend_too(
        upstream: ServedURL, tmp_path: Path) -> None:
    """uv.lock lists no build requirements, and uv sync builds the project from the index."""
    project = write_project(tmp_path / "app", "dpp-app", "1.5", dependencies=[],
                            requires=[BACKEND], backend="dpp_backend")
    (project / "uv.lock").write_text(
        'version = 1\n\n[[package]]\nname = "dpp-app"\nversion = "1.5"\n'
        'source = { editable = "." }\n')
    env = {**os.environ, "DOCKERPYPI_MIRRORS": upstream}
    added = subprocess.run(
        [sys.executable, "-m", "dockerpypi", "mirror", "add", str(project), "--offline",
         "--mirror-dir", str(tmp_path / "mirror")],
        capture_output=True, text=True, check=False, timeout=300, env=env)
    assert added.returncode == 0, added.stderr
    assert distributions(tmp_path / "mirror") == {
        wheel_filename(BACKEND, "1.0"), wheel_filename(HELPER, "1.0")}


def test_mirror_add_dir_says_when_the_backend_cannot_be_asked(
        upstream: ServedURL, tmp_path: Path) -> None:
    """A hook that fails leaves the mirror with the build requirements, and says so."""
    project = write_project(tmp_path / "app", "dpp-app", "1.5", dependencies=[],
                            requires=[BACKEND], backend="dpp_backend.missing")
    added = cli("mirror", "add", str(project), "--index-url", upstream,
                "--mirror-dir", str(tmp_path / "mirror"))
    assert added.returncode == 0, added.stderr
    assert distributions(tmp_path / "mirror") == {wheel_filename(BACKEND, "1.0")}
    assert "warning: dpp_backend.missing's get_requires_for_build_wheel failed" in added.stderr


def test_mirror_add_dir_is_refused_with_image(tmp_path: Path) -> None:
    project = write_project(tmp_path / "app", "dpp-app", "1.5", dependencies=[],
                            requires=[BACKEND], backend="dpp_backend")
    added = cli("mirror", "add", str(project), "--image", "python:3.12-slim",
                "--mirror-dir", str(tmp_path / "mirror"), "--index-url", "http://127.0.0.1:9/")
    assert added.returncode == 2
    assert "--image does not see project directories" in added.stderr


def test_sigterm_during_the_backend_hook_removes_the_project_copy(
        upstream: ServedURL, tmp_path: Path) -> None:
    project = slow_project(tmp_path / "app", 120)
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    with subprocess.Popen(
            [sys.executable, "-m", "dockerpypi", "mirror", "add", str(project), "--index-url",
             upstream, "--mirror-dir", str(tmp_path / "mirror")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as add:
        deadline = time.monotonic() + 120
        while not list(temp.glob("dockerpypi-backend-*/project/.git/HEAD")):
            assert add.poll() is None, add.communicate()[1]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)  # the hook is running
        add.send_signal(signal.SIGTERM)
        _, stderr = add.communicate(timeout=60)
    assert add.returncode == 143, stderr
    assert list(temp.iterdir()) == []


def test_a_hash_no_file_has_is_refused_before_the_build(
        upstream: ServedURL, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"dpp-dep==1.0 --hash=sha256:{'0' * 64}\n")
    added = cli("mirror", "add", "-r", str(requirements), "--index-url", upstream,
                "--mirror-dir", str(tmp_path / "mirror"))
    assert added.returncode == 1
    assert "no file of dpp-dep 1.0 on the index has a sha256 the requirements file lists" \
        in added.stderr
    assert not (tmp_path / "mirror").exists() or not distributions(tmp_path / "mirror")
