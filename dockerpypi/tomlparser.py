"""The TOML parser: the standard library's ``tomllib``, or ``tomli`` on Python 3.10.

The one place that chooses. Import it where a file is read
(``from ..tomlparser import tomllib``), not at the top of a module that
``dockerpypi build`` or ``render`` loads: the parser is a noticeable share of
the CLI's start-up, and most runs read no TOML.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["tomllib"]
