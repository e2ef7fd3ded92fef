"""The public index URL, taken from pypi-simple's constant.

The URL is never written in this project: it comes from
``pypi_simple.PYPI_SIMPLE_ENDPOINT`` or from the user's configuration.
Importing pypi_simple costs about half a second (it pulls in an HTTP client and
HTML parsers), which would dominate every CLI call, so the constant is read
from the package's source with ``ast`` without running it; if that ever stops
working, the import is the fallback.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path

_CONSTANT = "PYPI_SIMPLE_ENDPOINT"


def _read_constant(source: str) -> str | None:
    for node in ast.parse(source).body:
        target = None
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            target, value = node.targets[0].id, node.value
        if (target == _CONSTANT and isinstance(value, ast.Constant)
                and isinstance(value.value, str)):
            return value.value
    return None


@functools.cache
def public_index_url() -> str:
    spec = importlib.util.find_spec("pypi_simple")
    if spec is not None and spec.origin:
        try:
            found = _read_constant(Path(spec.origin).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            found = None
        if found:
            return found
    import pypi_simple  # the slow path, same value

    return str(pypi_simple.PYPI_SIMPLE_ENDPOINT)
