"""The public index is pip's own default index, read from pip's source without importing pip."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pip
import pytest
from pip._internal.models.index import PyPI

from dockerpypi.errors import UserMessageError
from dockerpypi.settings.public_index import pip_default_index, public_index_url
from dockerpypi.settings.resolve import resolve_settings

# Stands in for the real value in source snippets: never a registry's host.
FAKE = "https://index.example/"
FAKE_SIMPLE = "https://index.example/simple/"
# pip's own module, and the names an import of it goes through.
PIP_MODULES = ("pip", "pip._internal", "pip._internal.models", "pip._internal.models.index")


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    public_index_url.cache_clear()
    yield
    public_index_url.cache_clear()


def test_value_is_the_index_pip_uses_by_default() -> None:
    # pip's simple_url has no trailing slash; PEP 503 index URLs end in one.
    assert public_index_url() == PyPI.simple_url.rstrip("/") + "/"


def test_the_installed_pip_source_is_read_without_the_fallback() -> None:
    source = Path(pip.__file__).parent.joinpath("_internal", "models", "index.py")
    assert pip_default_index(source.read_text(encoding="utf-8")) == public_index_url()


def _resolved_in_a_new_process(cwd: Path, env: dict[str, str] | None = None) -> list[object]:
    """[the default public index, whether any of pip was imported], from a fresh interpreter."""
    script = ("import json, sys\n"
              "from dockerpypi.settings.resolve import resolve_settings\n"
              "settings = resolve_settings({}, environ={}, context_dir='.')\n"
              "print(json.dumps([settings.public_index.value.url,\n"
              f"                  bool(set({list(PIP_MODULES)!r}) & set(sys.modules))]))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                          text=True, check=True, timeout=60, env=env)
    result: list[object] = json.loads(done.stdout)
    return result


def test_resolving_settings_does_not_import_pip(tmp_path: Path) -> None:
    assert _resolved_in_a_new_process(tmp_path) == [public_index_url(), False]


def _fake_pip(root: Path, index_source: str) -> Path:
    """A package called pip whose models/index.py is ``index_source``, under ``root``."""
    models = root / "pip" / "_internal" / "models"
    models.mkdir(parents=True)
    for package in (root / "pip", root / "pip" / "_internal", models):
        (package / "__init__.py").write_text("")
    (models / "index.py").write_text(index_source)
    return root


@pytest.mark.parametrize(("index_source", "imported"), [
    (f'PyPI = PackageIndex("{FAKE}", file_storage_domain="files.index.example")\n', False),
    # Not a literal: the source cannot tell, so pip's module is imported after all.
    ("class Index:\n    simple_url = 'https://index.example/simple'\n\n\n"
     "def make():\n    return Index()\n\n\nPyPI = make()\n", True),
], ids=["read", "imported"])
def test_the_default_comes_from_the_pip_installed(
    tmp_path: Path, index_source: str, imported: bool,
) -> None:
    path = _fake_pip(tmp_path / "site", index_source)
    assert _resolved_in_a_new_process(tmp_path, {"PYTHONPATH": str(path)}) == [
        FAKE_SIMPLE, imported]


@pytest.mark.usefixtures("fresh_cache")
def test_the_import_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # no source to read
    assert public_index_url() == PyPI.simple_url.rstrip("/") + "/"


@pytest.mark.usefixtures("fresh_cache")
def test_without_pip_the_error_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in PIP_MODULES:
        monkeypatch.setitem(sys.modules, name, None)  # as if pip were not installed
    with pytest.raises(UserMessageError) as raised:
        resolve_settings({}, environ={}, context_dir=tmp_path)
    message = str(raised.value)
    assert message.startswith(f"the public index is pip's default index, and {sys.executable} "
                              "has no pip: install it")
    assert "--public-index or DOCKERPYPI_PUBLIC_INDEX" in message
    # A public index named by the user needs no pip.
    named = resolve_settings({"public_index": FAKE_SIMPLE}, environ={}, context_dir=tmp_path)
    assert named.indexes[-1].url == FAKE_SIMPLE


@pytest.mark.parametrize("source", [
    f'PyPI = PackageIndex("{FAKE}", file_storage_domain="files.index.example")\n',
    f'PyPI = PackageIndex(url="{FAKE}", file_storage_domain="files.index.example")\n',
    f"PyPI = Index('{FAKE}')\n",  # pip 10's spelling
    'import urllib.parse\n\n\nclass PackageIndex:\n    pass\n\n\n'
    f'PyPI = PackageIndex("{FAKE}", file_storage_domain="f")\n'
    'TestPyPI = PackageIndex("https://test.index.example/", file_storage_domain="t")\n',
    f'PyPI = PackageIndex("https://old.example/", "f")\nPyPI = PackageIndex("{FAKE}", "f")\n',
    f'def f():\n    PyPI = PackageIndex("https://local.example/", "f")\nPyPI = Index("{FAKE}")\n',
], ids=["positional", "keyword", "pip-10", "among-others", "last-wins",
        "function-local-ignored"])
def test_the_source_gives_the_simple_url(source: str) -> None:
    assert pip_default_index(source) == FAKE_SIMPLE


@pytest.mark.parametrize("source", [
    "",
    f'TestPyPI = PackageIndex("{FAKE}", "f")\n',
    "PyPI = make_index()\n",
    "PyPI = PackageIndex(BASE, 'f')\n",
    "PyPI = PackageIndex(42, 'f')\n",
    f'PyPI = "{FAKE}"\n',
    f'PyPI = PackageIndex("{FAKE}", "f")\nPyPI = compute()\n',
    f'if True:\n    PyPI = PackageIndex("{FAKE}", "f")\n',
], ids=["empty", "other-name", "no-url", "not-a-string", "not-text", "not-a-call",
        "last-is-not-constant", "not-top-level"])
def test_the_source_gives_none_when_unsure(source: str) -> None:
    assert pip_default_index(source) is None
