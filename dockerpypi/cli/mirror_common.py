"""What the ``dockerpypi mirror`` commands share: the --mirror-dir option, the
settings they read, and the lines they print about the index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import MirrorWarning
from ..settings.model import Settings
from ..settings.resolve import resolve_settings
from .options import context_option
from .output import warn

if TYPE_CHECKING:
    from ..mirror.index import IndexResult

F = TypeVar("F", bound=Callable[..., Any])


def mirror_dir_options(func: F) -> F:
    func = context_option(func)
    return click.option("--mirror-dir", metavar="DIR",
                        help="The local mirror directory (default: the configured one).")(func)


def mirror_settings(mirror_dir: str | None, context_dir: Path | None,
                    offline: bool | None = None, engine: str | None = None) -> Settings:
    # Settings warnings (such as "no mirror configured") are about builds, not
    # about this directory, so the mirror commands do not repeat them.
    return resolve_settings({"mirror_dir": mirror_dir, "offline": offline,
                             "container_engine": engine},
                            context_dir=context_dir)


def waiting(root: Path) -> Callable[[], None]:
    return lambda: warn(MirrorWarning(f"another dockerpypi is using {root}; waiting for it "
                                      "to finish"))


def index_summary(result: IndexResult) -> str:
    return (f"indexed {result.projects} projects, {result.files} files in {result.mirror_dir} "
            f"({result.files_read} read, {result.files_reused} unchanged; "
            f"{result.pages_written} pages written, {result.pages_removed} removed) "
            f"in {result.seconds:.2f}s")


def index_warnings(result: IndexResult) -> tuple[MirrorWarning, ...]:
    return tuple(MirrorWarning(text) for text in result.warnings)
