"""The public index URL, taken from pypi-simple's constant.

The URL is never written in this project: it comes from
``pypi_simple.PYPI_SIMPLE_ENDPOINT`` or from the user's configuration.
Importing pypi_simple costs about half a second (it pulls in an HTTP client and
HTML parsers), which would dominate every CLI call, so the constant is read
from the package's source with ``ast`` without running it; if that ever stops
working, the import is the fallback.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

_CONSTANT = "PYPI_SIMPLE_ENDPOINT"


def _read_constant(source: str) -> str | None:
    import ast  # here, not at the top: only the default public index needs it
    """The string the module-level ``PYPI_SIMPLE_ENDPOINT`` ends up holding.

    As when the module runs, the last top-level assignment wins; if that one is
    not a plain string (or there is none), the answer is ``None``.
    """
    found: str | None = None
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign):
            targets: list[ast.expr] = [node.target]
            value = node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == _CONSTANT for t in targets):
            continue
        if value is None:  # a bare annotation assigns nothing
            continue
        found = (value.value if isinstance(value, ast.Constant) and isinstance(value.value, str)
                 else None)
    return found


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
