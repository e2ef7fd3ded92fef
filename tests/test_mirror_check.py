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
