"""Progress while ``mirror add`` downloads and ``mirror index`` reads: on a terminal only.

The command runs in a new process whose standard error is a pseudo-terminal
(tests/support/terminal.py), as at a shell; what the terminal received is
searched for the last state of each bar. Without a terminal, with --quiet or
with --json, nothing of it may appear.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from support.cli import run_main as run
from support.server import ServedURL
from support.terminal import dockerpypi_on_terminal
from support.wheels import make_wheel

from dockerpypi.cli.progress import Display
from dockerpypi.mirror.download import Downloader
from dockerpypi.mirror.index import update_index
from dockerpypi.mirror.picks import Pick

# rich's DownloadColumn: "5.3/5.3 kB"; files: "6/6 files"
BYTES = re.compile(r"([0-9.]+)/([0-9.]+) (bytes|kB|MB)")
ESCAPE = "\x1b["
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PACKAGES = 6


@pytest.fixture
def upstream(tmp_path: Path, http_mirror: Callable[..., ServedURL]) -> ServedURL:
    """``app`` and the five projects it needs, served over HTTP."""
    root = tmp_path / "upstream"
    deps = [f"dep{n}" for n in range(1, PACKAGES)]
    make_wheel(root, "app", "1.0", requires=deps)
    for name in deps:
        make_wheel(root, name, "1.0", files={f"{name}/data.bin": bytes(20_000)})
    update_index(root)
    return http_mirror(root=root)


def visible(terminal: str) -> str:
    """What the terminal received, without colours and cursor movements."""
    return _CONTROL.sub("", terminal)


def last_bytes(text: str) -> tuple[str, str]:
    found = BYTES.findall(visible(text))
    assert found, text
    done, total, unit = found[-1]
    return f"{done} {unit}", f"{total} {unit}"


@pytest.mark.slow
def test_add_shows_files_and_bytes_then_the_index_on_a_terminal(
        tmp_path: Path, upstream: ServedURL) -> None:
    mirror = tmp_path / "mirror"
    code, out, terminal = dockerpypi_on_terminal(
        "mirror", "add", "app", "--index-url", upstream, "--mirror-dir", str(mirror),
        cwd=tmp_path)

    assert code == 0, terminal
    assert f"added {PACKAGES} files" in out
    assert ESCAPE not in out  # stdout is no terminal: the bars stay off it
    shown = visible(terminal)
    assert re.search(rf"downloading .* {PACKAGES}/{PACKAGES} files", shown)
    done, total = last_bytes(shown)
    assert done == total  # the bar reached the total it was given
    assert f"indexing {'━' * 40} {PACKAGES}/{PACKAGES} files" in shown


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--quiet", "--json"])
def test_add_shows_nothing_with_quiet_or_json_even_on_a_terminal(
        tmp_path: Path, upstream: ServedURL, flag: str) -> None:
    code, out, terminal = dockerpypi_on_terminal(
        "mirror", "add", "app", "--index-url", upstream, "--mirror-dir",
        str(tmp_path / "mirror"), flag, cwd=tmp_path)
    assert code == 0, terminal
    assert terminal == ""
    if flag == "--json":
        assert len(json.loads(out)["added"]) == PACKAGES


@pytest.mark.slow
def test_add_shows_no_progress_when_stderr_is_no_terminal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        upstream: ServedURL) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["mirror", "add", "app", "--index-url", upstream, "--mirror-dir",
                          str(tmp_path / "mirror")], capsys)
    assert code == 0, err
    assert f"added {PACKAGES} files" in out
    assert ESCAPE not in err
    assert not BYTES.search(err)
    assert f"/{PACKAGES} files" not in err
    assert "indexing" not in err
    assert err.count("  Saved ") == PACKAGES  # a log of what happened, a line each


def test_index_full_shows_files_indexed_on_a_terminal_and_nothing_with_json(
        tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    for number in range(4):
        make_wheel(mirror, f"p{number}", "1.0")

    code, out, terminal = dockerpypi_on_terminal("mirror", "index", "--full", "--mirror-dir",
                                                 str(mirror), cwd=tmp_path)
    assert code == 0, terminal
    assert "indexed 4 projects, 4 files" in out
    assert f"indexing {'━' * 40} 4/4 files" in visible(terminal)

    code, out, terminal = dockerpypi_on_terminal("mirror", "index", "--full", "--json",
                                                 "--mirror-dir", str(mirror), cwd=tmp_path)
    assert (code, terminal) == (0, "")
    assert json.loads(out)["files"] == 4


def test_the_download_bar_counts_files_and_bytes_known_and_learnt(tmp_path: Path) -> None:
    """Sizes the index gave are the total at once; the others are added as they come."""
    source = tmp_path / "source"
    picks = []
    for number, size in enumerate((30_000, 50_000, 70_000)):
        path = make_wheel(source, f"p{number}", "1.0", files={"p/data.bin": bytes(size)})
        data = path.read_bytes()
        picks.append(Pick(path.name, path.as_uri(), hashlib.sha256(data).hexdigest(),
                          len(data) if number else None))  # the first one's size unknown
    total = sum(path.stat().st_size for path in source.iterdir())
    screen = io.StringIO()

    with Display(Console(file=screen, force_terminal=True, width=120)) as display:
        Downloader(tmp_path / "mirror").fetch_all(picks, display)

    text = screen.getvalue()
    assert "3/3 files" in text
    assert last_bytes(text) == (f"{total / 1000:.1f} kB",) * 2
