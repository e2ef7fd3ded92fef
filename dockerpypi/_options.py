"""Click options shared by several commands, declared once (as pip-tools does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from .settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def warn(message: str) -> None:
    click.echo(f"dockerpypi: warning: {message}", err=True)


# Where the settings file is looked for; every command that reads settings has it.
context_option = click.option(
    "--context", "context_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
    help="Where dockerpypi.toml or pyproject.toml is read (default: .).")


def settings_options(func: F) -> F:
    """The options that feed :func:`dockerpypi.settings.resolve_settings`."""
    options = [
        click.option("--index-url", "index_urls", multiple=True, metavar="URL",
                     help="A mirror index, in order; repeat for more. Overrides "
                          "DOCKERPYPI_MIRRORS and DIB_PYPI_MIRROR_URL*."),
        click.option("--public-fallback/--no-public-fallback", default=None,
                     help="Add the public index after the mirrors (default: yes)."),
        click.option("--public-index", metavar="URL",
                     help="The public index to fall back to."),
        click.option("--offline/--online", default=None,
                     help="Offline: mirrors only, never the public index."),
        click.option("--retries", metavar="N", help="Installer retries per request."),
        click.option("--timeout", metavar="SECONDS", help="Installer network timeout."),
        click.option("--mirror-dir", metavar="DIR", help="The local mirror directory."),
        click.option("--mount-point", metavar="PATH",
                     help="Where the build step sees the local mirror (default /tmp/pypi)."),
        click.option("--configure", "installers", multiple=True,
                     type=click.Choice(["pip", "uv"]),
                     help="Installers to write configuration for (default: pip and uv)."),
        click.option("--easy-install/--no-easy-install", default=None,
                     help="Also write the legacy .pydistutils.cfg."),
        context_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def settings_from(kwargs: dict[str, Any]) -> Settings:
    """Pop the settings options off ``kwargs`` and resolve the settings."""
    from .settings import resolve_settings

    flags = {
        "mirrors": kwargs.pop("index_urls") or None,
        "public_fallback": kwargs.pop("public_fallback"),
        "public_index": kwargs.pop("public_index"),
        "offline": kwargs.pop("offline"),
        "retries": kwargs.pop("retries"),
        "timeout": kwargs.pop("timeout"),
        "mirror_dir": kwargs.pop("mirror_dir"),
        "mount_point": kwargs.pop("mount_point"),
        "installers": kwargs.pop("installers") or None,
        "easy_install": kwargs.pop("easy_install"),
    }
    return resolve_settings(flags, context_dir=kwargs.pop("context_dir"))
