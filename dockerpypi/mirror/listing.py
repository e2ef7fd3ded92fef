"""The projects of a mirror directory, from its file names alone (``mirror list``)."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName
from packaging.version import Version

from ..errors import UserMessageError
from .distfile import Distribution, is_index_file, parse_distribution


@dataclass(frozen=True)
class Project:
    name: NormalizedName
    versions: tuple[str, ...]
    files: tuple[str, ...]


def list_projects(mirror_dir: Path) -> tuple[Project, ...]:
    """The projects whose distributions lie in ``mirror_dir``, from the file names alone."""
    root = Path(mirror_dir)
    if not root.is_dir():
        raise UserMessageError(f"mirror directory {root} does not exist: fill it with "
                               "`dockerpypi mirror add PACKAGE`")
    grouped: dict[NormalizedName, list[Distribution]] = defaultdict(list)
    with os.scandir(root) as entries:
        for entry in entries:
            if is_index_file(entry.name) or not entry.is_file():
                continue
            try:
                dist = parse_distribution(entry.name)
            except ValueError:
                continue
            grouped[dist.project].append(dist)
    return tuple(
        Project(name,
                tuple(sorted({d.version for d in dists}, key=Version)),
                tuple(sorted(d.filename for d in dists)))
        for name, dists in sorted(grouped.items())
    )
