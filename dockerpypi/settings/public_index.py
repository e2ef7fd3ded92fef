"""The public index URL: pip's own default index, never written in this project.

The URL comes from the user's configuration (``--public-index``) or from pip:
the ``PyPI`` package index of pip's ``_internal/models/index.py``, whose
``simple_url`` is where pip looks when told no other index. pip is a
dependency of dockerpypi (``mirror add`` runs it too), so it is there.

Why the installers' own default cannot simply be left in place: every use
needs the address itself.

- pip.conf: ``index-url`` is the first mirror (diskimage-builder's layout),
  which replaces pip's default, so the public index has to be named as the
  last ``extra-index-url``; pip has no notion of a fallback index.
- uv.toml could leave it out (uv keeps its built-in default last), but then
  ``--public-index`` would need a second path, and pip.conf, the step's log
  line and ``config`` name the index anyway: both files name the same one.
- the step's env file names every index in its log line; ``doctor`` probes
  it; ``devpi start`` makes it root/pypi's ``mirror_url`` (dockerpypi
  creates that index itself); ``mirror add`` hands it to pip download and
  uv after the remote mirrors, where it cannot be pip's ``--index-url``.
- .pydistutils.cfg never names it: the easy_install index is a user mirror.

Importing pip's module would run pip's logging set-up (``pip._internal``
changes the logging module's logger class) and cost some milliseconds on
every CLI call, so the source is read with ``ast`` without running it; the
import (the one kept inside its function) is the fallback. The value gets
the trailing slash that PEP 503 gives index URLs and pip's ``simple_url``
lacks.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import sys
from pathlib import Path
from urllib.parse import urljoin

from ..errors import UserMessageError

_PACKAGE = "pip"
_MODULE = ("_internal", "models", "index.py")  # inside the pip package
_CONSTANT = "PyPI"


def _simple_url(base: str) -> str:
    # PackageIndex.simple_url is urljoin(url, "simple").
    return urljoin(base, "simple").rstrip("/") + "/"


def pip_default_index(source: str) -> str | None:
    """The simple index URL of ``PyPI = PackageIndex("<url>", ...)`` in ``source``.

    ``source`` is the text of pip's ``_internal/models/index.py``. As when the
    module runs, the last top-level assignment wins; if that one is not a call
    with the URL as a plain string (or there is none), the answer is ``None``.
    """
    found: str | None = None
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Assign) or not any(
                isinstance(target, ast.Name) and target.id == _CONSTANT
                for target in node.targets):
            continue
        value = node.value
        url: ast.expr | None = None
        if isinstance(value, ast.Call):
            url = value.args[0] if value.args else next(
                (k.value for k in value.keywords if k.arg == "url"), None)
        found = (_simple_url(url.value)
                 if isinstance(url, ast.Constant) and isinstance(url.value, str) else None)
    return found


def _from_source() -> str | None:
    spec = importlib.util.find_spec(_PACKAGE)  # a top-level name: pip is not imported
    if spec is None or not spec.origin:
        return None
    try:
        source = Path(spec.origin).parent.joinpath(*_MODULE).read_text(encoding="utf-8")
        return pip_default_index(source)
    except (OSError, SyntaxError, ValueError):
        return None


def _from_import() -> str:
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        raise UserMessageError(
            f"the public index is pip's default index, and {sys.executable} has no pip: "
            f"install it ({sys.executable} -m ensurepip, or reinstall dockerpypi), or name "
            "the public index with --public-index or DOCKERPYPI_PUBLIC_INDEX") from None
    return _simple_url(str(PyPI.simple_url))


@functools.cache
def public_index_url() -> str:
    """pip's default index, the public one, as a PEP 503 URL (with its trailing slash)."""
    return _from_source() or _from_import()
