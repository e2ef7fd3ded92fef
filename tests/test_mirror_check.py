"""``mirror check``: every broken link, hash, sidecar, name and orphan is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_mirror_index import make_sdist, make_wheel

from dockerpypi.cli import main
from dockerpypi.mirror.check import CheckResult, check_mirror
from dockerpypi.mirror.index import update_index


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    root = tmp_path / "mirror"
    make_wheel(root, "Foo_Bar", "1.0", requires_python=">=3.8")
    make_wheel(root, "foo_bar", "2.0")
    make_sdist(root, "other", "0.1")
    update_index(root)
    return root


def kinds(result: CheckResult) -> list[tuple[str, str]]:
    return [(p.kind, p.path) for p in result.problems]


def test_a_fresh_index_checks_clean(mirror: Path) -> None:
    result = check_mirror(mirror)
    assert result.ok, result.problems
    assert (result.projects, result.files) == (2, 3)


def test_a_corrupted_file_fails_its_hash(mirror: Path) -> None:
    wheel = mirror / "foo_bar-2.0-py3-none-any.whl"
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))

    result = check_mirror(mirror)

    assert kinds(result) == [("hash", wheel.name)]
    problem = result.problems[0]
    assert (problem.problem, problem.fix) == (
        "does not match the sha256 in foo-bar/index.html",
        "delete it and fetch it again with `dockerpypi mirror add`, or run "
        "`dockerpypi mirror index --full` if the change was intended")
    assert str(problem) == f"{wheel.name}: {problem.problem}: {problem.fix}"


def test_a_missing_file_and_an_orphan_are_named(mirror: Path) -> None:
    (mirror / "other-0.1.tar.gz").unlink()
    orphan = make_wheel(mirror, "late", "1.0")
    (mirror / "README.txt").write_text("not a distribution: not an orphan either")

    result = check_mirror(mirror)

    assert kinds(result) == [("missing", "other-0.1.tar.gz"), ("orphan", orphan.name)]
    assert "is linked from other/index.html but missing" in result.problems[0].message


def test_a_changed_sidecar_fails_its_hash(mirror: Path) -> None:
    sidecar = mirror / "Foo_Bar-1.0-py3-none-any.whl.metadata"
    sidecar.write_bytes(sidecar.read_bytes() + b"Summary: changed\n")

    assert kinds(check_mirror(mirror)) == [("metadata", sidecar.name)]


def test_pages_must_use_normalized_names_and_their_own_files(mirror: Path) -> None:
    # A hand-made page under the unnormalized name, linking a file of another project.
    (mirror / "Foo_Bar").mkdir()
    (mirror / "Foo_Bar" / "index.html").write_text(
        '<a href="../other-0.1.tar.gz#sha256=00">other-0.1.tar.gz</a>')
    root_page = mirror / "index.html"
    root_page.write_text(root_page.read_text().replace(
        "</body>", '<a href="Foo_Bar/">Foo_Bar</a><br>\n</body>'))

    problems = kinds(check_mirror(mirror))

    assert ("name", "index.html") in problems  # linked by an unnormalized name
    assert ("name", "Foo_Bar/index.html") in problems  # links another project's file
    assert ("hash", "other-0.1.tar.gz") in problems


def test_a_page_the_root_does_not_link_is_reported(mirror: Path) -> None:
    root_page = mirror / "index.html"
    root_page.write_text(root_page.read_text().replace('<a href="other/">other</a><br>\n', ""))

    assert kinds(check_mirror(mirror)) == [("unlisted", "other/index.html")]


def test_no_index_at_all_is_one_problem(tmp_path: Path) -> None:
    make_wheel(tmp_path, "a", "1.0")
    assert kinds(check_mirror(tmp_path)) == [("page", "index.html")]


def test_the_command_reports_each_problem_and_exits_1(
        mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (mirror / "other-0.1.tar.gz").unlink()
    make_wheel(mirror, "late", "1.0")

    with pytest.raises(SystemExit) as exited:
        main(["mirror", "check", "--mirror-dir", str(mirror), "--context", str(mirror)])

    out, err = capsys.readouterr()
    assert exited.value.code == 1
    assert "other-0.1.tar.gz: is linked from other/index.html but missing" in out
    assert "late-1.0-py3-none-any.whl: is not in the index" in out
    assert err.count("\n") == 1
    assert "2 problems in" in err


def test_the_command_prints_json_and_exits_0_when_clean(
        mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["mirror", "check", "--json", "--mirror-dir", str(mirror), "--context", str(mirror)])

    data = json.loads(capsys.readouterr().out)
    assert exited.value.code == 0
    assert data["ok"] is True
    assert (data["projects"], data["files"], data["problems"]) == (2, 3, [])


def test_own_pages_are_read_as_an_html_parser_reads_them(mirror: Path) -> None:
    from html.parser import HTMLParser

    from dockerpypi.mirror.pages import own_anchors, project_page
    from dockerpypi.mirror.state import IndexedFile

    class Anchors(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.found: list[dict[str, str]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                self.found.append({key: value or "" for key, value in attrs})

    odd = IndexedFile('a&b"<c>-1.0.tar.gz', "a-b-c", "1.0", 1, 1, "00", '<4,>=3.8 & "x"', None)
    pages = [page.read_text() for page in sorted(mirror.rglob("index.html"))]
    pages.append(project_page("a&b<c>", [odd]).decode())
    for text in pages:
        parser = Anchors()
        parser.feed(text)
        assert own_anchors(text) == parser.found, text
    # Any other shape is left to the parser.
    assert own_anchors('<a href="x">x</a>') is None
    assert own_anchors(pages[0].replace("<br>", "<!-- <a href=\"y\">y</a> --><br>", 1)) is None
    assert own_anchors(pages[0].replace('href="', "href='x' data='", 1)) is None


def test_hashes_compared_on_a_pool_of_processes_are_told_in_order(
        mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockerpypi.mirror import reading

    sidecar = mirror / "Foo_Bar-1.0-py3-none-any.whl.metadata"
    sidecar.write_bytes(sidecar.read_bytes() + b"Summary: changed\n")
    wheel = mirror / "foo_bar-2.0-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    (mirror / "other-0.1.tar.gz").unlink()
    expected = kinds(check_mirror(mirror))
    monkeypatch.setattr(reading, "POOL_FROM", 1)
    monkeypatch.setattr(reading, "_BATCH", 1)
    monkeypatch.setattr(reading, "_workers", lambda: 2)

    assert kinds(check_mirror(mirror)) == expected == [
        ("metadata", sidecar.name), ("hash", wheel.name), ("missing", "other-0.1.tar.gz")]
