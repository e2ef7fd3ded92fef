"""The mirror's PEP 503 index: pages, hashes, sidecars, increments, atomicity, lock."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from support import wheels
from support.server import serve_directory

from dockerpypi.errors import UserMessageError
from dockerpypi.mirror import reading
from dockerpypi.mirror.check import check_mirror
from dockerpypi.mirror.distfile import Distribution, requires_python
from dockerpypi.mirror.index import LOCK_FILE, STATE_FILE, TEMP_SUFFIX, list_projects, update_index
from dockerpypi.mirror.state import load_state, pages_outdated

# --- tiny distributions -----------------------------------------------------------

def make_wheel(directory: Path, name: str, version: str, **kwargs: Any) -> Path:
    """support's wheel, its file named with ``name`` as written (``Foo_Bar`` stays)."""
    return wheels.make_wheel(directory, name, version, spelling=name, **kwargs)


def make_sdist(directory: Path, name: str, version: str, **kwargs: Any) -> Path:
    """support's sdist, named with ``name`` as written."""
    return wheels.make_sdist(directory, name, version, spelling=name, **kwargs)


def wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pages(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("index.html"))}


# --- pages ---------------------------------------------------------------------------

def test_pages_normalize_names_hash_and_escape(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "Foo_Bar", "1.0", requires_python=">=3.8,<4")
    sdist = make_sdist(tmp_path, "Foo.Bar", "2.0", requires_python=">=3.9")
    make_wheel(tmp_path, "other", "0.1")

    result = update_index(tmp_path)

    assert (result.projects, result.files, result.files_read) == (2, 3, 3)
    root = (tmp_path / "index.html").read_text()
    assert '<a href="foo-bar/">foo-bar</a>' in root
    assert '<a href="other/">other</a>' in root
    assert not (tmp_path / "Foo_Bar").exists()
    page = (tmp_path / "foo-bar" / "index.html").read_text()
    assert f'href="../{wheel.name}#sha256={sha256(wheel)}"' in page
    assert f'href="../{sdist.name}#sha256={sha256(sdist)}"' in page
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in page
    assert 'data-requires-python="&gt;=3.9"' in page  # read from the sdist's PKG-INFO
    assert "other" not in page


def test_wheels_get_metadata_sidecars_and_sdists_do_not(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "pkg", "1.0", requires=["dep>=2"])
    sdist = make_sdist(tmp_path, "pkg", "0.9")

    update_index(tmp_path)

    sidecar = tmp_path / f"{wheel.name}.metadata"
    assert sidecar.read_bytes() == wheel_metadata(wheel)
    digest = sha256(sidecar)
    page = (tmp_path / "pkg" / "index.html").read_text()
    wheel_line = next(line for line in page.splitlines() if wheel.name in line)
    assert f'data-core-metadata="sha256={digest}"' in wheel_line
    # PEP 658's older name would send pip 22.3-23.1 to the sidecar, whose Name they
    # compare unnormalised with the requirement (pypa/pip#12038).
    assert "data-dist-info-metadata" not in page
    sdist_line = next(line for line in page.splitlines() if sdist.name in line)
    assert "metadata" not in sdist_line
    assert not (tmp_path / f"{sdist.name}.metadata").exists()


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_current_pip_and_uv_resolve_from_the_metadata_files_alone(
        installer: str, tmp_path: Path, uv_binary: Path) -> None:
    make_wheel(tmp_path, "app", "1.0", requires=["dep-lib>=1"], files={"big.bin": "x" * 4096})
    make_wheel(tmp_path, "Dep_Lib", "1.0")
    update_index(tmp_path)
    with serve_directory(tmp_path) as served:
        if installer == "pip":  # 23.2 or later: reads PEP 714's data-core-metadata
            command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                       "--no-cache-dir", "--index-url", served, "app"]
        else:
            command = [str(uv_binary), "pip", "compile", "--no-cache", "--index-url", served,
                       "-"]
        result = subprocess.run(command, input="app\n", capture_output=True, text=True,
                                check=False, timeout=120)
        assert result.returncode == 0, result.stderr
        fetched = {r.path.rsplit("/", 1)[-1] for r in served.requests if r.status == 200}
    assert {"app-1.0-py3-none-any.whl.metadata",
            "Dep_Lib-1.0-py3-none-any.whl.metadata"} <= fetched
    if installer == "uv":  # it fetched no wheel to read its metadata (pip installs them)
        assert served.downloads() == []


def test_pages_of_an_older_shape_are_written_again_without_reading_the_files(
        tmp_path: Path) -> None:
    make_wheel(tmp_path, "a", "1.0")
    make_wheel(tmp_path, "b", "1.0")
    update_index(tmp_path)
    # As an older dockerpypi left them: both metadata names, and no page format.
    for project in ("a", "b"):
        page = tmp_path / project / "index.html"
        page.write_text(page.read_text().replace(
            "data-core-metadata=", "data-dist-info-metadata=").replace(
            "<a href", "<a data-core-metadata=\"x\" href"))
    state = tmp_path / STATE_FILE
    head, _, entries = state.read_text().partition("\n")
    data = json.loads(head)
    del data["pages"]
    state.write_text(json.dumps(data, separators=(",", ":")) + "\n" + entries)
    assert pages_outdated(tmp_path)

    result = update_index(tmp_path)

    assert (result.files_read, result.pages_written) == (0, 2)
    assert not pages_outdated(tmp_path)
    for project in ("a", "b"):
        page = (tmp_path / project / "index.html").read_text()
        assert "data-dist-info-metadata" not in page
        assert 'data-core-metadata="x"' not in page
    assert check_mirror(tmp_path).ok
    assert update_index(tmp_path).pages_written == 0  # once


def test_second_run_reads_nothing_and_a_touched_or_new_file_is_read_alone(
        tmp_path: Path) -> None:
    first = make_wheel(tmp_path, "a", "1.0")
    make_wheel(tmp_path, "b", "1.0")
    assert update_index(tmp_path).files_read == 2

    again = update_index(tmp_path)
    assert (again.files_read, again.files_reused, again.pages_written) == (0, 2, 0)

    stat = first.stat()
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert (update_index(tmp_path).files_read, update_index(tmp_path).files_read) == (1, 0)

    make_wheel(tmp_path, "b", "2.0")
    added = update_index(tmp_path)
    assert (added.files_read, added.files_reused, added.files) == (1, 2, 3)
    assert "b-2.0-py3-none-any.whl" in (tmp_path / "b" / "index.html").read_text()

    full = update_index(tmp_path, full=True)
    assert (full.files_read, full.files_reused) == (3, 0)


def test_a_deleted_sidecar_makes_its_wheel_read_again(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "a", "1.0")
    update_index(tmp_path)
    (tmp_path / f"{wheel.name}.metadata").unlink()

    assert update_index(tmp_path).files_read == 1
    assert (tmp_path / f"{wheel.name}.metadata").is_file()


def test_pages_of_projects_whose_files_are_gone_are_removed(tmp_path: Path) -> None:
    gone = make_wheel(tmp_path, "gone", "1.0")
    make_wheel(tmp_path, "kept", "1.0")
    update_index(tmp_path)
    gone.unlink()

    result = update_index(tmp_path)

    assert result.pages_removed == 1
    assert not (tmp_path / "gone").exists()
    assert not (tmp_path / f"{gone.name}.metadata").exists()
    assert "gone" not in (tmp_path / "index.html").read_text()
    assert (tmp_path / "kept" / "index.html").is_file()


def test_files_that_are_not_distributions_are_skipped_with_a_warning(tmp_path: Path) -> None:
    make_wheel(tmp_path, "good", "1.0")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "not-a-wheel.whl").write_bytes(b"x")
    (tmp_path / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    (tmp_path / ".hidden").write_text("pip's and ours")

    result = update_index(tmp_path)

    assert result.files == 1
    text = "\n".join(result.warnings)
    assert len(result.warnings) == 3, text
    assert "notes.txt: not a wheel or sdist" in text
    assert "not-a-wheel.whl: not a valid distribution file name" in text
    assert "broken-1.0-py3-none-any.whl: cannot read it" in text
    assert "broken" not in (tmp_path / "index.html").read_text()


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserMessageError, match=r"does not exist: create it"):
        update_index(tmp_path / "nope")


def test_list_projects_groups_versions(tmp_path: Path) -> None:
    make_wheel(tmp_path, "Foo_Bar", "1.10")
    make_wheel(tmp_path, "foo_bar", "1.9")
    make_sdist(tmp_path, "foo.bar", "1.9")
    (tmp_path / "stray.txt").write_text("")

    (project,) = list_projects(tmp_path)

    assert project.name == "foo-bar"
    assert project.versions == ("1.9", "1.10")
    assert len(project.files) == 3


# --- the state file and incremental runs ----------------------------------------------

def _parsed_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file names the next update parses."""
    names: list[str] = []
    real = reading.parse_distribution

    def recording(filename: str) -> Distribution:
        names.append(filename)
        return real(filename)

    monkeypatch.setattr(reading, "parse_distribution", recording)  # where files are read
    return names


def test_a_reindex_after_adding_parses_and_reads_only_the_new_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for project in ("a", "b", "c"):
        make_wheel(tmp_path, project, "1.0")
    update_index(tmp_path)
    # A rewrite is a rename of a new file: the inode tells, whatever the clock.
    untouched = {name: (tmp_path / name).stat().st_ino for name in pages(tmp_path)}
    parsed = _parsed_names(monkeypatch)
    added = make_wheel(tmp_path, "b", "2.0")

    result = update_index(tmp_path)

    assert parsed == [added.name]
    assert (result.files_read, result.files_reused, result.pages_written) == (1, 3, 1)
    assert added.name in (tmp_path / "b" / "index.html").read_text()
    for name in ("index.html", "a/index.html", "c/index.html"):  # not written again
        assert (tmp_path / name).stat().st_ino == untouched[name], name

    make_wheel(tmp_path, "d", "1.0")  # a new project: its page and the root page
    assert update_index(tmp_path).pages_written == 2
    assert '<a href="d/">d</a>' in (tmp_path / "index.html").read_text()
    assert check_mirror(tmp_path).ok


def test_the_state_survives_and_describes_what_was_read(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "Foo_Bar", "1.0", requires_python=">=3.9")
    sdist = make_sdist(tmp_path, "foo.bar", "0.9")
    update_index(tmp_path)

    warnings: list[str] = []
    state = load_state(tmp_path, warnings)

    assert warnings == []
    assert set(state) == {wheel.name, sdist.name}
    entry = state[wheel.name]
    assert (entry.project, entry.version, entry.size, entry.sha256, entry.requires_python) == (
        "foo-bar", "1.0", wheel.stat().st_size, sha256(wheel), ">=3.9")
    assert entry.metadata_sha256 == sha256(tmp_path / f"{wheel.name}.metadata")
    assert state[sdist.name].metadata_sha256 is None
    written = (tmp_path / STATE_FILE).stat().st_ino
    assert update_index(tmp_path).files_read == 0
    assert (tmp_path / STATE_FILE).stat().st_ino == written  # nothing changed: not rewritten


@pytest.mark.parametrize(("metadata", "expected"), [
    (b"Name: a\nRequires-Python: >=3.8\n\nRequires-Python: <3\n", ">=3.8"),
    (b"Name: a\r\nRequires-Python:  >=3.9 \r\n\r\nbody\r\n", ">=3.9"),
    (b"Name: a\n\nRequires-Python: >=3.8\n", None),  # in the description, not a header
    (b"Name: a\nRequires-Python:\n", None),
    (None, None),
])
def test_requires_python_is_read_from_the_headers_only(
        metadata: bytes | None, expected: str | None) -> None:
    assert requires_python(metadata) == expected


def test_a_changed_file_is_read_again_and_its_page_rewritten(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "a", "1.0", requires_python=">=3.8")
    update_index(tmp_path)
    make_wheel(tmp_path, "a", "1.0", requires_python=">=3.10")  # same name, new content

    result = update_index(tmp_path)

    assert result.files_read == 1
    page = (tmp_path / "a" / "index.html").read_text()
    assert f"#sha256={sha256(wheel)}" in page
    assert 'data-requires-python="&gt;=3.10"' in page
    assert (tmp_path / f"{wheel.name}.metadata").read_bytes() == wheel_metadata(wheel)
    assert check_mirror(tmp_path).ok


def test_a_removed_version_leaves_its_project_page(tmp_path: Path) -> None:
    old = make_wheel(tmp_path, "a", "1.0")
    new = make_wheel(tmp_path, "a", "2.0")
    update_index(tmp_path)
    old.unlink()

    result = update_index(tmp_path)

    assert (result.files, result.files_read, result.pages_written) == (1, 0, 1)
    page = (tmp_path / "a" / "index.html").read_text()
    assert old.name not in page
    assert new.name in page
    assert not (tmp_path / f"{old.name}.metadata").exists()
    assert check_mirror(tmp_path).ok


def test_pages_deleted_by_hand_are_written_again(tmp_path: Path) -> None:
    make_wheel(tmp_path, "a", "1.0")
    make_wheel(tmp_path, "b", "1.0")
    update_index(tmp_path)
    (tmp_path / "a" / "index.html").unlink()
    (tmp_path / "index.html").unlink()

    result = update_index(tmp_path)

    assert (result.files_read, result.pages_written) == (0, 2)
    assert check_mirror(tmp_path).ok


@pytest.mark.parametrize(("content", "warned"), [
    (b"{not json", True),
    (b"\xff\xfe", True),
    (b"[1, 2]", False),
    (b'{"version": 99, "files": {}}', False),  # a format from a later dockerpypi
    (b'{"version": 2, "files": []}', False),
])
def test_a_corrupt_or_foreign_state_file_is_rebuilt(
        tmp_path: Path, content: bytes, warned: bool) -> None:
    make_wheel(tmp_path, "a", "1.0")
    make_wheel(tmp_path, "b", "1.0")
    update_index(tmp_path)
    (tmp_path / STATE_FILE).write_bytes(content)

    result = update_index(tmp_path)

    assert result.files_read == 2
    assert bool(result.warnings) == warned
    assert update_index(tmp_path).files_read == 0  # the rebuilt state is usable


def test_a_damaged_entry_makes_only_its_file_read_again(tmp_path: Path) -> None:
    damaged = make_wheel(tmp_path, "a", "1.0")
    make_wheel(tmp_path, "b", "1.0")
    update_index(tmp_path)
    state = (tmp_path / STATE_FILE).read_text()
    line = next(line for line in state.splitlines() if line.startswith(f'"{damaged.name}"'))
    size = str(damaged.stat().st_size)
    (tmp_path / STATE_FILE).write_text(state.replace(line, line.replace(size, "not a size")))

    result = update_index(tmp_path)

    assert (result.files_read, result.warnings) == (1, ())


def test_a_state_file_of_version_1_is_taken_over_without_reading_again(
        tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "Foo_Bar", "1.0", requires_python=">=3.8")
    make_sdist(tmp_path, "foo.bar", "0.9")
    update_index(tmp_path)
    state = load_state(tmp_path, [])
    # The indented format of the first release: no project or version per file.
    (tmp_path / STATE_FILE).write_text(json.dumps({"version": 1, "files": {
        name: {"size": f.size, "mtime_ns": f.mtime_ns, "sha256": f.sha256,
               "requires_python": f.requires_python, "metadata_sha256": f.metadata_sha256}
        for name, f in state.items()}}, indent=1))

    result = update_index(tmp_path)

    assert (result.files_read, result.pages_written, result.warnings) == (0, 0, ())
    assert load_state(tmp_path, []) == state
    assert (tmp_path / STATE_FILE).read_text().startswith('{"version":3,')
    assert state[wheel.name].project == "foo-bar"


def test_temporaries_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    make_wheel(tmp_path, "a", "1.0")
    update_index(tmp_path)
    left = [tmp_path / f".index.html.x1{TEMP_SUFFIX}",
            tmp_path / "a" / f".index.html.x2{TEMP_SUFFIX}"]  # where older versions made them
    for path in left:
        path.write_text("half")
    make_wheel(tmp_path, "a", "2.0")

    update_index(tmp_path)

    assert [p for p in left if p.exists()] == []


# --- atomicity and the lock ---------------------------------------------------------

# The update writes the 3 sidecars in place (no page links them yet), then renames,
# in order: the pages of a, b and c, the root page, the state file. Failing at each
# rename covers every step.
@pytest.mark.parametrize("fail_at", [1, 2, 3, 4, 5])
def test_an_interrupted_update_leaves_each_page_old_or_new_and_no_temporaries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int) -> None:
    make_wheel(tmp_path, "a", "1.0")
    make_wheel(tmp_path, "b", "1.0")
    update_index(tmp_path)
    old = pages(tmp_path)
    make_wheel(tmp_path, "a", "2.0")
    make_wheel(tmp_path, "b", "2.0")
    make_wheel(tmp_path, "c", "1.0")

    real_replace = os.replace
    calls = 0

    def interrupted(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise KeyboardInterrupt  # what Ctrl-C raises, between two renames
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        update_index(tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)

    after_crash = pages(tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(TEMP_SUFFIX)]
    # Whatever the pages say holds: at worst new files or pages are not linked yet.
    assert {p.kind for p in check_mirror(tmp_path).problems} <= {"orphan", "unlisted"}
    recovered = update_index(tmp_path)
    new = pages(tmp_path)
    for name, content in after_crash.items():
        assert content in (old.get(name), new[name]), name
    assert recovered.files == 5
    assert recovered.files_read >= 3  # the state file was written last, so not yet


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_an_update_interrupted_writing_sidecars_leaves_none_of_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int) -> None:
    make_wheel(tmp_path, "a", "1.0")
    update_index(tmp_path)
    old = pages(tmp_path)
    for name in ("b", "c", "d"):
        make_wheel(tmp_path, name, "1.0")
    real_fdopen = os.fdopen
    calls = 0

    def interrupted(fd: int, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            os.close(fd)
            raise KeyboardInterrupt
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", interrupted)
    with pytest.raises(KeyboardInterrupt):
        update_index(tmp_path)
    monkeypatch.setattr(os, "fdopen", real_fdopen)

    assert sorted(p.name for p in tmp_path.glob("*.metadata")) == [
        "a-1.0-py3-none-any.whl.metadata"]  # the new ones, written in place, are gone
    assert pages(tmp_path) == old
    assert update_index(tmp_path).files_read == 3
    assert check_mirror(tmp_path).ok


def test_a_held_lock_makes_a_second_run_fail_clearly(tmp_path: Path) -> None:
    make_wheel(tmp_path, "a", "1.0")
    waited: list[bool] = []

    with FileLock(tmp_path / LOCK_FILE), pytest.raises(UserMessageError) as caught:
        update_index(tmp_path, lock_timeout=0.2, on_wait=lambda: waited.append(True))

    message = str(caught.value)
    assert "another dockerpypi is updating" in message
    assert "wait for it to finish" in message
    assert "\n" not in message
    assert waited == [True]
    assert not (tmp_path / STATE_FILE).exists()
    assert update_index(tmp_path).files == 1  # released: the next run goes through


def test_a_mirror_that_cannot_be_locked_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_wheel(tmp_path, "a", "1.0")
    update_index(tmp_path)

    def refused(self: FileLock, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(FileLock, "acquire", refused)  # as on a read-only mirror
    with pytest.raises(UserMessageError, match=r"\(Permission denied\): make .* writable"):
        update_index(tmp_path)
    assert check_mirror(tmp_path).ok  # reading needs no lock it cannot take


# --- the real installers -------------------------------------------------------------

def _installer_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", HOME=str(home))
    return env


@pytest.mark.slow
def test_pip_and_uv_install_from_the_generated_index(tmp_path: Path, uv_binary: Path) -> None:
    mirror = tmp_path / "mirror"
    make_wheel(mirror, "App_Pkg", "1.0", requires=["Lib.Dep>=1"])
    make_wheel(mirror, "Lib_Dep", "1.0", requires_python=">=3.8,<4")
    # Newer, but for no Python there is: the escaped attribute must be honoured. (Not
    # an upper bound such as "<3": uv ignores those by design.)
    make_wheel(mirror, "Lib_Dep", "2.0", requires_python=">=99")
    update_index(mirror)
    env = _installer_env(tmp_path)
    uv = str(uv_binary)
    index = f"file://{mirror}"

    installs = {
        "pip": [sys.executable, "-m", "pip", "--python", "{python}", "install",
                "--no-cache-dir", "--index-url", index, "app-pkg"],
        "uv": [uv, "pip", "install", "--python", "{python}", "--no-cache",
               "--index-url", index, "app-pkg"],
    }
    for installer, command in installs.items():
        venv = tmp_path / f"venv-{installer}"
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
                       env=env, check=True, capture_output=True)
        python = str(venv / "bin" / "python")
        done = subprocess.run([part.format(python=python) for part in command], env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{installer}: {done.stdout}{done.stderr}"
        versions = subprocess.run(
            [python, "-c", "import app_pkg, lib_dep; print(app_pkg.__version__, "
                           "lib_dep.__version__)"],
            env=env, capture_output=True, text=True, check=True).stdout.split()
        assert versions == ["1.0", "1.0"], installer


@pytest.mark.parametrize("metadata", [
    b"Name: a\nRequires-Python: >=3.8\n\n",
    b"Name: a\nrequires-python: >=3.8\n\nbody",  # the name in any case
    b"Name: a\nRequires-Python: >=3.8,\n <4\nSummary: x\n\n",  # folded onto the next line
    b"Name: a\nRequires-Python: >=3.8\nRequires-Python: <3\n\n",  # the first one counts
    b"Name: a\nSummary: mentions requires-python: >=2\n\n",  # not a header of its own
    b"Name: a\nRequires-Python: >=3.8",  # no newline at the end
    b"Name: a\nRequires-Python: \xc3\xa9\n\n",  # not ASCII
    b"Name: a\r\nRequires-Python:\t>=3.9\r\n\r\n",
])
def test_requires_python_reads_as_the_header_parser_does(metadata: bytes) -> None:
    import email.parser
    import email.policy

    block = metadata.split(b"\n\n")[0] + b"\n"
    value = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        block).get("Requires-Python")
    expected = (value.strip() or None) if isinstance(value, str) else None
    assert requires_python(metadata) == expected


def test_files_read_on_a_pool_of_processes_index_as_read_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here, pooled = tmp_path / "here", tmp_path / "pooled"
    for mirror in (here, pooled):
        mirror.mkdir()
        for number in range(7):
            make_wheel(mirror, f"p{number}", "1.0", requires_python=">=3.8")
        make_sdist(mirror, "s", "1.0")
        (mirror / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    first = update_index(here)
    monkeypatch.setattr(reading, "POOL_FROM", 1)
    monkeypatch.setattr(reading, "_BATCH", 2)  # several jobs, their results in order
    monkeypatch.setattr(reading, "_workers", lambda: 2)

    second = update_index(pooled)

    assert (second.files, second.files_read, second.warnings) == (
        first.files, first.files_read, first.warnings)
    assert pages(pooled) == pages(here)
    assert load_state(pooled, []).keys() == load_state(here, []).keys()
    assert [p.path for p in check_mirror(pooled).problems] == [
        "broken-1.0-py3-none-any.whl"]  # skipped with a warning, as here


# --- the state file's format -----------------------------------------------------------

def test_the_state_lists_each_project_then_its_files_one_a_line(tmp_path: Path) -> None:
    from dockerpypi.mirror.state import Projects, read_lines, read_projects

    wheels_written = [make_wheel(tmp_path, "b", "1.0"), make_wheel(tmp_path, "a", "2.0"),
                      make_wheel(tmp_path, "a", "1.0")]
    sdist = make_sdist(tmp_path, "a", "3.0")
    update_index(tmp_path)

    lines = (tmp_path / STATE_FILE).read_text().splitlines()
    header = json.loads(lines[0])
    assert header == {"version": 3, "pages": 2, "files": 4, "bytes": sum(
        p.stat().st_size for p in [*wheels_written, sdist])}
    assert [line.split("\t")[0] for line in lines[1:]] == [
        "@a", '"a-1.0-py3-none-any.whl"', '"a-2.0-py3-none-any.whl"', '"a-3.0.tar.gz"',
        "@b", '"b-1.0-py3-none-any.whl"']
    projects = read_projects(tmp_path)
    assert projects is not None
    assert (projects.files, projects.size) == (header["files"], header["bytes"])
    assert [key for key, _ in projects.lines("a")] == [
        '"a-1.0-py3-none-any.whl"', '"a-2.0-py3-none-any.whl"', '"a-3.0.tar.gz"']
    assert projects.lines("c") == []
    whole = Projects.of(read_lines(tmp_path, []))  # as an older format is read
    assert (whole.files, whole.size, whole.blocks.keys()) == (4, header["bytes"], {"a", "b"})
    assert [whole.lines(p) for p in "ab"] == [projects.lines(p) for p in "ab"]


def test_any_file_name_and_requires_python_survive_the_state(tmp_path: Path) -> None:
    from dockerpypi.mirror.state import IndexedFile, load_state, save_state

    odd = IndexedFile('a\tb\n"c\\-1.0.tar.gz', "a-b-c", "1.0", 5, 6, "00",
                      '>=3.8,\t<4\n "x"', None)
    plain = IndexedFile("a_b_c-1.0-py3-none-any.whl", "a-b-c", "1.0", 7, 8, "11", None, "22")
    save_state(tmp_path, {odd.filename: odd, plain.filename: plain})

    assert load_state(tmp_path, []) == {odd.filename: odd, plain.filename: plain}


def test_a_state_file_of_version_2_is_taken_over_without_reading_again(
        tmp_path: Path) -> None:
    from dockerpypi.build.subset.closure import load_index

    wheel = make_wheel(tmp_path, "Foo_Bar", "1.0", requires_python=">=3.8")
    make_sdist(tmp_path, "foo.bar", "0.9")
    update_index(tmp_path)
    state = load_state(tmp_path, [])
    # Version 2: one compact JSON object, an array per file.
    (tmp_path / STATE_FILE).write_text(json.dumps({"version": 2, "pages": 2, "files": {
        name: [f.size, f.mtime_ns, f.sha256, f.requires_python, f.metadata_sha256, f.project,
               f.version] for name, f in state.items()}}, separators=(",", ":")))
    # A build's subset reads it too, whole, until the index writes it again.
    assert [key for key, _ in load_index(tmp_path).lines("foo-bar")] == [
        f'"{wheel.name}"', '"foo.bar-0.9.tar.gz"']

    result = update_index(tmp_path)

    assert (result.files_read, result.pages_written, result.warnings) == (0, 0, ())
    assert load_state(tmp_path, []) == state
    assert (tmp_path / STATE_FILE).read_text().startswith('{"version":3,')


def test_sidecars_of_no_wheel_are_removed_even_when_nothing_else_changed(
        tmp_path: Path) -> None:
    kept = make_wheel(tmp_path, "a", "1.0")
    gone = make_wheel(tmp_path, "b", "1.0")
    update_index(tmp_path)
    gone.unlink()
    assert update_index(tmp_path).files == 1
    assert not (tmp_path / f"{gone.name}.metadata").exists()  # its wheel went

    stray = tmp_path / "c-1.0-py3-none-any.whl.metadata"  # of no wheel at all
    stray.write_text("Name: c\n")
    result = update_index(tmp_path)

    assert (result.files_read, result.pages_written) == (0, 0)
    assert not stray.exists()
    assert (tmp_path / f"{kept.name}.metadata").exists()
