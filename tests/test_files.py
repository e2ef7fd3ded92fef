"""Files written whole, private ones, and the private files of a build (dockerpypi.files)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dockerpypi import files

# --- one file, whole -------------------------------------------------------------------


@pytest.mark.parametrize(("write", "mode"), [(files.write_atomic, 0o644),
                                             (files.write_private, 0o600)])
def test_a_file_is_replaced_whole_with_its_mode_whatever_the_umask(
        tmp_path: Path, write: Callable[[Path, bytes], None], mode: int) -> None:
    target = tmp_path / "page.html"
    target.write_bytes(b"old")
    old_umask = os.umask(0o077 if mode == 0o644 else 0)
    try:
        write(target, b"new")
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == mode
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_a_file_that_cannot_be_put_in_place_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError):
        files.write_private(tmp_path / "taken", b"x", sync=False)  # a directory is there
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert list((tmp_path / "taken").iterdir()) == []


# --- a directory, whole ----------------------------------------------------------------


def test_a_tree_is_placed_whole_and_readable(tmp_path: Path) -> None:
    target = tmp_path / "tree"
    files.place_tree(target, {"env": "x", "requirements/.keep": ""})
    assert (target / "env").read_text() == "x"
    assert (target / "env").stat().st_mode & 0o777 == 0o644
    assert (target / "requirements").stat().st_mode & 0o777 == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["tree"]  # nothing half-written beside
    with pytest.raises(OSError, match=r"Directory not empty|File exists"):
        files.place_tree(target, {"env": "y"})  # another one is there first: it stays
    assert (target / "env").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["tree"]


# --- the private files of a build -------------------------------------------------------

def test_private_files_are_owner_only_and_removed(tmpdir_env: Path) -> None:
    with files.private_files({"a": "one", "b": "two"}) as paths:
        assert paths["a"].read_text() == "one"
        assert paths["a"].stat().st_mode & 0o777 == 0o600
        assert paths["a"].parent.stat().st_mode & 0o777 == 0o700
        assert paths["a"].parent.parent == tmpdir_env
    assert list(tmpdir_env.iterdir()) == []


def test_the_settings_tree_is_readable_inside_the_private_directory(tmpdir_env: Path) -> None:
    tree = {"env": "x", "requirements/.keep": ""}
    with files.private_files({"a": "one"}, tree=tree) as paths:
        root = paths.pop(files.TREE)
        assert root.parent == paths["a"].parent  # behind the owner-only directory
        assert root.stat().st_mode & 0o777 == 0o755
        assert (root / "env").read_text() == "x"
        assert (root / "env").stat().st_mode & 0o777 == 0o644
        assert (root / "requirements").stat().st_mode & 0o777 == 0o755
        assert (root / "requirements" / ".keep").stat().st_mode & 0o777 == 0o644
    assert list(tmpdir_env.iterdir()) == []


def _sigterm_inside_private_files() -> None:
    with files.private_files({"a": "x"}):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this


def test_private_files_are_removed_on_error_and_on_sigterm(tmpdir_env: Path) -> None:
    with pytest.raises(RuntimeError), files.private_files({"a": "x"}):
        raise RuntimeError
    assert list(tmpdir_env.iterdir()) == []
    started = time.monotonic()
    with pytest.raises(SystemExit) as exited:
        _sigterm_inside_private_files()
    assert exited.value.code == 143
    assert time.monotonic() - started < 4
    assert list(tmpdir_env.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL




@pytest.mark.parametrize("name", ["../escaped", "/etc/escaped", "a/../../escaped", "..", "."])
def test_a_tree_refuses_a_name_that_leaves_it_and_writes_nothing(tmp_path: Path,
                                                                 name: str) -> None:
    parent = tmp_path / "private"
    parent.mkdir(mode=0o700)
    with pytest.raises(ValueError, match="not a path inside the tree"):
        files.write_tree(parent / "tree", {"ok": "", name: "x"})
    assert not (parent / "tree").exists()
    assert not (parent / "escaped").exists()
    assert parent.stat().st_mode & 0o777 == 0o700
