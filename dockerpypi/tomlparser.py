"""The TOML parser: the standard library's ``tomllib``, or ``tomli`` on Python 3.10.

The one place that chooses. Import it where a file is read
(``from ..tomlparser import tomllib``), not at the top of a module that
``dockerpypi build`` or ``render`` loads: the parser is a noticeable share of
the CLI's start-up, and most runs read no TOML.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["load_file", "tomllib"]


def load_file(path: Path, *, fix: str) -> dict[str, Any]:
    """The TOML file at ``path``, parsed; one ``UsageError`` naming it when it cannot be read
    (fix: check the path) or is not TOML (``fix``: what to give instead)."""
    from .errors import UsageError

    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror or exc})",
                         fix="check the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not a TOML file ({exc})", fix=fix) from None
    return data
