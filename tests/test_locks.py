"""The registry of lock kinds ``mirror add`` reads (dockerpypi.mirror.locks): which
argument is which lock, and which project beside a lock needs its build backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerpypi.mirror.locks import KINDS, PDM, PIPFILE, POETRY, UV, LockRequest, read_locks
from dockerpypi.settings.urls import parse_mirror_url

SHA = "a" * 64
INDEX = parse_mirror_url("http://127.0.0.1:9/simple/", origin="test")
BUILD_SYSTEM = '[build-system]\nrequires = ["x"]\nbuild-backend = "x"\n'


def pdm_project(directory: Path, tool: str = "") -> Path:
    directory.mkdir()
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "{directory.name}"\nversion = "1.0"\n{BUILD_SYSTEM}{tool}')
    (directory / "pdm.lock").write_text(
        '[metadata]\nlock_version = "4.5.0"\n\n[[package]]\nname = "six"\nversion = "1.0"\n'
        f'files = [{{file = "six-1.0-py3-none-any.whl", hash = "sha256:{SHA}"}}]\n')
    return directory


def poetry_project(directory: Path, tool: str = "") -> Path:
    directory.mkdir()
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "{directory.name}"\nversion = "1.0"\n{BUILD_SYSTEM}{tool}')
    (directory / "poetry.lock").write_text(
        '[[package]]\nname = "six"\nversion = "1.0"\ngroups = ["main"]\n'
        f'files = [{{file = "six-1.0-py3-none-any.whl", hash = "sha256:{SHA}"}}]\n\n'
        '[metadata]\nlock-version = "2.1"\npython-versions = "*"\ncontent-hash = "0"\n')
    return directory


def read(arguments: list[str], tmp_path: Path) -> LockRequest:
    made: list[Path] = []

    def scratch(prefix: str) -> Path:
        made.append(tmp_path / f"{prefix}{len(made)}")
        made[-1].mkdir()
        return made[-1]

    return read_locks(arguments, indexes=(INDEX,), public="https://public.example/simple/",
                      given_indexes=False, offline=True, scratch=scratch)


def test_the_kinds_are_tried_uv_first_then_pdm_pipfile_poetry() -> None:
    assert KINDS == (UV, PDM, PIPFILE, POETRY)
    assert [kind.exact for kind in KINDS] == [True, False, False, False]


def test_a_directory_with_two_locks_is_the_first_kind_s(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = pdm_project(tmp_path / "app")
    (app / "Pipfile.lock").write_text('{"_meta": {"sources": []}, "default": {}}')

    request = read(["./app", "six"], tmp_path)

    assert request.packages == ("six",)
    assert request.exact == ()
    assert [path.name for path in request.files] == ["requirements-from-pdm.lock.txt"]
    assert request.notes == ()  # the Pipfile.lock beside it was not read


def test_each_kind_builds_only_the_projects_beside_its_own_locks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PDM's rule (a project with a name) is not Poetry's: a Poetry project with
    package-mode = false is not built, even beside a PDM project in one command."""
    monkeypatch.chdir(tmp_path)
    pdm_project(tmp_path / "pdmapp")
    pdm_project(tmp_path / "pdmtool", tool="[tool.pdm]\ndistribution = false\n")
    poetry_project(tmp_path / "poetryapp")
    poetry_project(tmp_path / "poetrytool", tool="[tool.poetry]\npackage-mode = false\n")

    request = read(["./pdmapp", "./pdmtool", "./poetryapp", "./poetrytool"], tmp_path)

    assert [project.name for project in request.projects] == ["pdmapp", "poetryapp"]
    assert [path.name for path in request.files] == ["requirements-from-pdm.lock.txt",
                                                    "poetry-lock-requirements.txt"]
