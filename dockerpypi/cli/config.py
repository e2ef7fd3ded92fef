"""``dockerpypi config``: the resolved settings and where each came from.

What every run needs is imported at the top (see cli/__init__.py for the rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from ..settings.model import SettingRow, Settings, describe
from .options import settings_from, settings_options
from .output import Output, json_option, lines, warn


@click.command()
@settings_options
@json_option
def config(as_json: bool, **kwargs: Any) -> Output:
    """Show the resolved settings and where each came from."""
    settings = settings_from(kwargs)
    warn(*settings.warnings)
    rows = describe(settings)
    return Output(
        text=lines(_table(rows, settings)),
        json={
            "settings": rows,
            "indexes": [str(mirror) for mirror in settings.indexes],
            "warnings": [str(warning) for warning in settings.warnings],
        },
    )


def _table(rows: list[SettingRow], settings: Settings) -> Iterator[str]:
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        yield f"{row['name'].ljust(width)}  {row['shown']}  ({row['source']})"
        for override in row["overridden"]:
            yield f"{'':{width}}    overrides {override['source']}: {override['value']}"
    yield f"{'indexes'.ljust(width)}  " + " ".join(str(m) for m in settings.indexes)
