"""``dockerpypi config``: the resolved settings and where each came from."""

from __future__ import annotations

from typing import Any

import click

from .options import settings_from, settings_options, warn
from .output import echo_json, json_option


@click.command()
@settings_options
@json_option
def config(as_json: bool, **kwargs: Any) -> None:
    """Show the resolved settings and where each came from."""
    from ..settings.resolve import describe

    settings = settings_from(kwargs)
    for warning in settings.warnings:
        warn(warning)
    rows = describe(settings)
    if as_json:
        data = {
            "settings": rows,
            "indexes": [str(mirror) for mirror in settings.indexes],
            "warnings": [str(warning) for warning in settings.warnings],
        }
        echo_json(data)
        return
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        click.echo(f"{row['name'].ljust(width)}  {row['shown']}  ({row['source']})")
        for override in row["overridden"]:
            click.echo(f"{'':{width}}    overrides {override['source']}: {override['value']}")
    click.echo(f"{'indexes'.ljust(width)}  " + " ".join(str(m) for m in settings.indexes))
