"""``dockerpypi config``: the resolved settings and where each came from."""

from __future__ import annotations

from typing import Any

import click

from ._options import settings_from, settings_options, warn


@click.command()
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def config(as_json: bool, **kwargs: Any) -> None:
    """Show the resolved settings and where each came from."""
    import json

    from .settings import describe

    settings = settings_from(kwargs)
    for warning in settings.warnings:
        warn(warning)
    rows = describe(settings)
    if as_json:
        data = {
            "settings": rows,
            "indexes": [str(mirror) for mirror in settings.indexes],
            "warnings": list(settings.warnings),
        }
        click.echo(json.dumps(data, indent=2))
        return
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        click.echo(f"{row['name'].ljust(width)}  {row['shown']}  ({row['source']})")
        for override in row["overridden"]:
            click.echo(f"{'':{width}}    overrides {override['source']}: {override['value']}")
    click.echo(f"{'indexes'.ljust(width)}  " + " ".join(str(m) for m in settings.indexes))
