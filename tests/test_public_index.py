"""The public index comes from pypi-simple's constant, read without importing it."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pypi_simple
import pytest

from dockerpypi import _public_index
from dockerpypi._public_index import _read_constant, public_index_url

# Stands in for the real value in source snippets: never a registry's host.
FAKE = "https://index.example/simple/"


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    public_index_url.cache_clear()
    yield
    public_index_url.cache_clear()


def test_value_is_the_library_constant() -> None:
    assert public_index_url() == pypi_simple.PYPI_SIMPLE_ENDPOINT


def test_the_installed_source_is_read_without_the_fallback() -> None:
    spec = importlib.util.find_spec("pypi_simple")
    assert spec is not None
    assert spec.origin is not None
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert _read_constant(source) == pypi_simple.PYPI_SIMPLE_ENDPOINT


@pytest.mark.usefixtures("fresh_cache")
@pytest.mark.parametrize("failure", [None, SyntaxError, OSError, ValueError])
def test_import_is_the_fallback(monkeypatch: pytest.MonkeyPatch,
                                failure: type[Exception] | None) -> None:
    def unreadable(source: str) -> str | None:
        if failure is not None:
            raise failure("unreadable")
        return None

    monkeypatch.setattr(_public_index, "_read_constant", unreadable)
    assert public_index_url() == pypi_simple.PYPI_SIMPLE_ENDPOINT


@pytest.mark.usefixtures("fresh_cache")
def test_fallback_when_the_package_has_no_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert public_index_url() == pypi_simple.PYPI_SIMPLE_ENDPOINT


@pytest.mark.parametrize("source", [
    f'PYPI_SIMPLE_ENDPOINT: str = "{FAKE}"\n',
    f'PYPI_SIMPLE_ENDPOINT = "{FAKE}"\n',
    f'PYPI_SIMPLE_ENDPOINT = OTHER = "{FAKE}"\n',
    f'OTHER = PYPI_SIMPLE_ENDPOINT = "{FAKE}"\n',
    f'"""Doc."""\nimport os\n__version__ = "1.0"\nPYPI_SIMPLE_ENDPOINT: str = "{FAKE}"\nX = 1\n',
    f'PYPI_SIMPLE_ENDPOINT: str\nPYPI_SIMPLE_ENDPOINT = "{FAKE}"\n',
    f'PYPI_SIMPLE_ENDPOINT = "https://old.example/simple/"\nPYPI_SIMPLE_ENDPOINT = "{FAKE}"\n',
    'def f():\n    PYPI_SIMPLE_ENDPOINT = "https://local.example/"\n'
    f'PYPI_SIMPLE_ENDPOINT = "{FAKE}"\n',
], ids=["annotated", "plain", "chained-first", "chained-last", "among-others",
        "bare-annotation-first", "last-wins", "function-local-ignored"])
def test_read_constant_finds_the_value(source: str) -> None:
    assert _read_constant(source) == FAKE


@pytest.mark.parametrize("source", [
    "",
    f'OTHER = "{FAKE}"\n',
    "PYPI_SIMPLE_ENDPOINT: str\n",
    "PYPI_SIMPLE_ENDPOINT = make_endpoint()\n",
    "PYPI_SIMPLE_ENDPOINT = 42\n",
    f'PYPI_SIMPLE_ENDPOINT = "{FAKE}"\nPYPI_SIMPLE_ENDPOINT = compute()\n',
    f'if True:\n    PYPI_SIMPLE_ENDPOINT = "{FAKE}"\n',
], ids=["empty", "other-name", "bare-annotation", "call", "not-a-string",
        "last-is-not-constant", "not-top-level"])
def test_read_constant_gives_none_when_unsure(source: str) -> None:
    assert _read_constant(source) is None
