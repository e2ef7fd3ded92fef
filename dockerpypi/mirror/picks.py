"""A file to put in the mirror (:class:`Pick`), and which names the mirror may hold.

A leaf: what reads a lock (:mod:`.lockfile`) needs these without the
downloader (:mod:`.download`) and the HTTP modules it imports.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pick:
    """One file to put in the mirror, as the lock file names it."""

    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None


def is_plain_name(name: str) -> bool:
    """Whether ``name`` is a file name the mirror may hold: no directory, not hidden."""
    return bool(name) and not name.startswith(".") and not any(
        char in name for char in "/\\\0")
