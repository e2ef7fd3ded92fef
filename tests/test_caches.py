"""dockerpypi's caches: the list of them, and the directories kept by what they hold."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockerpypi import caches
from dockerpypi.files import WRITING_PREFIX

# --- the list ---------------------------------------------------------------------------


def test_every_cache_is_listed_once_with_what_it_holds_and_when_it_is_stale() -> None:
    names = [cache.name for cache in caches.ALL]
    assert len(set(names)) == len(names)
    doc = caches.__doc__ or ""
    for cache in caches.ALL:
        assert cache.holds
        assert cache.stale
        shown = cache.name + ("*" if cache.in_mirror else "/" if "." not in cache.name else "")
        assert f"``{shown}``" in doc, f"{cache.name} is missing from the table"


def test_the_caches_a_render_makes_are_the_listed_ones(tmp_path: Path) -> None:
    # In a new process: this one may hold the compiled templates already.
    subprocess.run([sys.executable, "-m", "dockerpypi", "render"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    made = {path.name for path in caches.cache_dir().iterdir()}
    assert made == {caches.TEMPLATES.name, caches.RENDERS.name}
    assert caches.TEMPLATES.path.is_dir()
    assert caches.RENDERS.path.is_file()


def test_the_subsets_in_the_mirror_have_no_cache_path() -> None:
    # Their prefix is this record's name: the subset takes it from here.
    assert caches.MIRROR_SUBSETS.in_mirror
    with pytest.raises(ValueError, match="in the mirror directory"):
        _ = caches.MIRROR_SUBSETS.path


def test_the_checksum_sees_an_edit_that_keeps_the_length() -> None:
    assert caches.checksum(b"requests==2.0") == caches.checksum(b"requests==2.0")
    assert caches.checksum(b"requests==2.0") != caches.checksum(b"requests==3.0")
    assert caches.checksum(b"").startswith("0-")


# --- directories kept by what they hold ---------------------------------------------------

TREE = {"env": "x", "pip.conf": "[global]\n", "requirements/.keep": ""}


def test_a_kept_tree_is_written_once_readable_and_found_again() -> None:
    first = caches.kept_tree("trees", TREE)
    assert first is not None
    assert first.parent.parent == caches.cache_dir()
    assert first.parent.stat().st_mode & 0o777 == 0o700  # only its owner reaches it
    assert first.stat().st_mode & 0o777 == 0o755
    assert (first / "requirements").stat().st_mode & 0o777 == 0o755
    assert (first / "env").read_text() == "x"
    assert (first / "env").stat().st_mode & 0o777 == 0o644
    inode = (first / "env").stat().st_ino
    again = caches.kept_tree("trees", dict(reversed(TREE.items())))
    assert again == first  # the same path for the same files, in any order
    assert (first / "env").stat().st_ino == inode  # and not written again
    other = caches.kept_tree("trees", {**TREE, "env": "y"})
    assert other is not None
    assert other != first
    assert sorted(p.name for p in first.parent.iterdir()) == sorted([first.name, other.name])


def test_a_kept_tree_that_holds_something_else_is_not_used() -> None:
    first = caches.kept_tree("trees", TREE)
    assert first is not None
    (first / "env").write_text("changed by hand")
    assert caches.kept_tree("trees", TREE) is None  # not trusted, and not overwritten
    assert (first / "env").read_text() == "changed by hand"
    (first / "env").write_text("x")
    (first / "extra").write_text("")
    assert caches.kept_tree("trees", TREE) is None


def test_old_and_half_written_trees_are_removed_when_another_is_written() -> None:
    old = caches.kept_tree("trees", TREE)
    used = caches.kept_tree("trees", {**TREE, "env": "used"})
    assert old is not None
    assert used is not None
    half = old.parent / f"{WRITING_PREFIX}killed"
    half.mkdir()
    long_ago = time.time() - caches.TREE_KEEP_SECONDS - 60
    for path in (old, half, used):
        os.utime(path, (long_ago, long_ago))
    assert caches.kept_tree("trees", TREE) == old  # in use again: its time is now
    assert caches.kept_tree("trees", {**TREE, "env": "new"}) is not None
    names = {p.name for p in old.parent.iterdir()}
    assert old.name in names
    assert used.name not in names
    assert half.name not in names


def test_no_kept_tree_without_a_usable_cache(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert caches.kept_tree("trees", TREE) is None
