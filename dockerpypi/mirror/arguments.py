"""What an argument of ``mirror add`` is: a path, or a package name (pip's rule).

One predicate, :func:`names_path`, used wherever ``mirror add`` tells them
apart (lock files and directories in :mod:`.uvlock`, project directories
in :mod:`.project`), so that ``build`` and ``./build`` are never taken two ways.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..dockerfile.vocabulary import PIPFILE_LOCK, UV_LOCK, is_pylock_name

# What pip builds a directory from (pip's is_installable_dir).
INSTALLABLE = ("pyproject.toml", "setup.py")


def looks_like_path(argument: str) -> bool:
    """pip's "looks like a path": a path separator in it, or a leading ``.``."""
    return (os.sep in argument or (os.altsep is not None and os.altsep in argument)
            or argument.startswith("."))


def names_path(argument: str) -> bool:
    """``argument`` names a path, not a package.

    As pip: when it looks like a path (:func:`looks_like_path`), or is an
    existing directory pip can install (it holds pyproject.toml or setup.py).
    A bare name that is only some other directory (``build``, ``docs``) is a
    package name. An existing ``uv.lock``, ``pylock.toml`` or ``Pipfile.lock``
    file is a path too: no package has that name.
    """
    if looks_like_path(argument):
        return True
    path = Path(argument)
    if path.name in (UV_LOCK, PIPFILE_LOCK) or is_pylock_name(path.name):
        return path.is_file()
        return True
    return installable(path)


def installable(directory: Path) -> bool:
    """``directory`` is one pip can install: it holds pyproject.toml or setup.py."""
    return directory.is_dir() and any((directory / name).is_file() for name in INSTALLABLE)
