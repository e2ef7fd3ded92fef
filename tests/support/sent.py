"""What a build sent as the mirror: a tool's Docker test pads the mirror with a
wheel no step reads, and the build's subset line must leave it out."""

from __future__ import annotations

from pathlib import Path

from dockerpypi.mirror.index import is_index_file, update_index
from support.wheels import make_wheel


def pad(mirror: Path) -> str:
    """A wheel no step reads, added to the mirror: the build must leave it out."""
    padding = make_wheel(mirror, "dpp-padding", "1.0")
    update_index(mirror)
    return padding.name


def assert_subset_sent(stderr: str, mirror: Path, padding: str) -> None:
    """The build sent every mirror file but the padding: the tool's closure and the locked files."""
    total = sum(1 for path in mirror.iterdir() if path.is_file() and not is_index_file(path.name))
    assert (mirror / padding).is_file()
    assert f"dockerpypi: sending {total - 1} of {total} mirror files" in stderr, stderr[-4000:]
