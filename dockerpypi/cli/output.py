"""``--json``: one JSON document on standard output, whether the command succeeds or not.

A command that takes ``--json`` declares it with :data:`json_option` and prints
with :func:`echo_json`. Both note what they did in click's ``ctx.meta``, the
one dict every context of an invocation shares. When an error ends the command,
:func:`dockerpypi.cli.main` looks there: JSON asked for and none printed yet
means the error goes to standard output as :func:`error_json` too. A command
that printed its report before failing (``doctor``, ``mirror check``) has said
so in the report ("ok": false), and prints nothing more.

Only click is imported here: cli.py imports this module at every start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

_ASKED = "dockerpypi.json.asked"
_PRINTED = "dockerpypi.json.printed"


def _note_asked(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_ASKED] = True
    return value


json_option = click.option("--json", "as_json", is_flag=True, callback=_note_asked,
                           help="Print JSON (also when the command fails).")


def echo_json(data: object) -> None:
    """Print ``data`` as the command's JSON document."""
    import json

    click.echo(json.dumps(data, indent=2))
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_PRINTED] = True


def json_owed(meta: Mapping[str, Any]) -> bool:
    """The command was asked for JSON and has printed none."""
    return bool(meta.get(_ASKED)) and not meta.get(_PRINTED)


def error_json(problem: str, fix: str, exit_code: int) -> dict[str, object]:
    """What ``--json`` prints for a failed command: its one-line error, in parts."""
    return {"ok": False, "error": problem, "fix": fix, "exit_code": exit_code}
