"""What dockerpypi prints, printed in one place: a command's output, warnings, errors.

A command does its work and returns an :class:`Output`: its text, its
``--json`` document, the warnings its result holds, and the error it ends
with when the output itself says what went wrong (``doctor``'s failed
checks, ``verify``'s traces). :func:`dockerpypi.cli.main` hands it to
:func:`show`, which prints the text or, when the command was asked for
``--json``, the JSON document; then the error is raised. The warnings a
command knows before its work (the settings') it hands to :func:`warn` at
once, so that they come before a long run or an error.

``--json`` gives one JSON document on standard output, whether the command
succeeds or not. A command that takes it declares it with
:data:`json_option`, which notes in click's ``ctx.meta`` (the dict every
context of a run shares) that JSON was asked for; :func:`show` notes there
that it printed some. When an error ends the command, :func:`fail` looks:
JSON asked for and none printed means the error goes to standard output as
JSON too. A command that printed its report before failing has said so in
the report ("ok": false), and gets nothing more.

Only click is imported here: the CLI imports this module at every start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, NamedTuple

import click

from ..errors import DockerPypiError, DockerPypiWarning

_ASKED = "dockerpypi.json.asked"
_PRINTED = "dockerpypi.json.printed"


def _note_asked(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_ASKED] = True
    return value


json_option = click.option("--json", "as_json", is_flag=True, callback=_note_asked,
                           help="Print JSON (also when the command fails).")


class Output(NamedTuple):
    """What a command returns for :func:`show` to print.

    A named tuple: ``render`` returns one on every run (the rule in
    dockerpypi/_entry.py).
    """

    text: str = ""  # standard output, exactly, without --json
    json: object = None  # the document --json prints
    warnings: tuple[DockerPypiWarning, ...] = ()  # standard error, with or without --json
    # Standard error without --json: the JSON document holds them itself.
    text_warnings: tuple[DockerPypiWarning, ...] = ()
    notes: tuple[str, ...] = ()  # standard error without --json: what was done
    error: DockerPypiError | None = None  # raised once the output is printed


def lines(rows: Iterable[str]) -> str:
    """``rows`` as text for :attr:`Output.text`: each row a line."""
    return "".join(f"{row}\n" for row in rows)


def warn(*warnings: DockerPypiWarning, ignore: tuple[type[DockerPypiWarning], ...] = ()
         ) -> None:
    """Print ``warnings`` on standard error, but those of the classes in ``ignore``."""
    for warning in warnings:
        if not isinstance(warning, ignore):
            click.echo(f"dockerpypi: warning: {warning}", err=True)


def show(output: Output, meta: MutableMapping[str, Any]) -> None:
    """Print ``output`` (as JSON if the command was asked for it), then raise its error."""
    as_json = bool(meta.get(_ASKED))
    warn(*output.warnings)
    if as_json:
        import json

        click.echo(json.dumps(output.json, indent=2))
        meta[_PRINTED] = True
    else:
        warn(*output.text_warnings)
        for note in output.notes:
            click.echo(f"dockerpypi: {note}", err=True)
        if output.text:
            click.echo(output.text, nl=False)
    if output.error is not None:
        raise output.error


def fail(meta: Mapping[str, Any], code: int, line: str | None, problem: str,
         fix: str) -> None:
    """An error ended the command: ``line`` on standard error (None: click has shown it),
    and the error as JSON on standard output if JSON was asked for and none printed.

    The JSON holds the same words as the line: messages are written without
    credentials where they are made (URLs shown redacted, installers' output
    scrubbed), so nothing here needs to take any out.
    """
    if line is not None:
        click.echo(f"dockerpypi: {line}", err=True)
    if meta.get(_ASKED) and not meta.get(_PRINTED):
        import json

        click.echo(json.dumps({"ok": False, "error": problem, "fix": fix, "exit_code": code},
                              indent=2))
