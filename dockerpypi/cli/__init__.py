"""The command line: parses, calls a command, prints what it returns.

Commands return data (an :class:`~dockerpypi.cli.output.Output`, or an exit
code); :func:`main` hands it to :mod:`dockerpypi.cli.output`, the one place
that prints (text or ``--json``), and turns errors into exit codes (through
:func:`dockerpypi.errors.exit_code_for`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, NoReturn

import click

from .. import __version__
from ..errors import DockerPypiError, exit_code_for
from .output import Output, fail, show

# Start-up time is part of what this module is judged on (`dockerpypi render`
# runs in every Dockerfile edit loop): anything beyond click (and what Python
# has loaded anyway) is imported inside the command that needs it.
#
# The commands' modules (below) follow one rule. Each is imported when its
# command runs, and also when `dockerpypi --help` lists it; so a command's
# module imports at the top what every run of it needs and costs `--help`
# little (click, the settings), and inside the command the work's own
# modules (the doctor, the verifier, devpi, the mirror's), which would cost
# `--help` about 100 ms together, and what only one option or sub-command
# needs.


class _State:
    """What the group's options tell the entry point (a plain class: the
    dataclasses module would add its import to every start)."""

    def __init__(self) -> None:
        self.debug = False
        # click's ctx.meta: one dict for every context of the run, where a command
        # notes that it was asked for JSON and whether it printed some (output.py).
        self.meta: dict[str, Any] = {}


# --- the group ----------------------------------------------------------------

# Commands kept in modules of their own, as "module:attribute". They are
# imported only when run or listed (click's LazyGroup pattern), so that
# `dockerpypi render` does not pay for `build` or `mirror`.
_LAZY_COMMANDS = {
    "bake": ".bake:bake",
    "build": ".build:build",
    "ci": ".ci:ci",
    "compose": ".compose:compose",
    "config": ".config:config",
    "devpi": ".devpi:devpi",
    "doctor": ".doctor:doctor",
    "mirror": ".mirror:mirror",
    "render": ".render:render",
    "verify": ".verify:verify",
}


class _LazyGroup(click.Group):
    """A group whose commands from :data:`_LAZY_COMMANDS` load on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _LAZY_COMMANDS:
            self.add_command(_load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


def _load_command(name: str) -> click.Command:
    module_name, _, attribute = _LAZY_COMMANDS[name].partition(":")
    command = getattr(importlib.import_module(module_name, __package__), attribute)
    if not isinstance(command, click.Command):  # a wrong table entry: a bug of ours
        raise TypeError(f"{_LAZY_COMMANDS[name]} is not a click command")
    return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dockerpypi")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Give every container build a PyPI mirror, and leave no trace of it in the image."""
    state = ctx.ensure_object(_State)
    state.debug = debug
    state.meta = ctx.meta


# --- entry point ----------------------------------------------------------------

def _fail(state: _State, code: int, line: str | None, problem: str, fix: str = "") -> NoReturn:
    """End with ``code`` once :func:`dockerpypi.cli.output.fail` has shown the error."""
    fail(state.meta, code, line, problem, fix)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; the one place where errors become exit codes."""
    state = _State()
    try:
        returned = cli.main(args=argv, prog_name="dockerpypi", obj=state,
                            standalone_mode=False)
        if isinstance(returned, Output):
            show(returned, state.meta)  # raises the error the output ends with, if any
            returned = 0
    except (click.exceptions.Abort, KeyboardInterrupt):
        _fail(state, 130, "interrupted", "interrupted")
    except click.UsageError as exc:
        # One line, like every other error; click's own form takes three.
        where = exc.ctx.command_path if exc.ctx is not None else "dockerpypi"
        problem, fix = exc.format_message(), f"see `{where} --help`"
        _fail(state, exc.exit_code, f"error: {problem} ({fix})", problem, fix)
    except click.ClickException as exc:
        exc.show()
        _fail(state, exc.exit_code, None, exc.format_message())
    except DockerPypiError as exc:
        if state.debug:
            import traceback

            traceback.print_exc()
        _fail(state, exit_code_for(exc), f"error: {exc}", exc.problem, exc.fix)
    except Exception as exc:  # a bug: say so in one line unless debugging
        if state.debug:
            raise
        problem, fix = f"internal error: {type(exc).__name__}: {exc}", \
            "run again with --debug for the traceback"
        _fail(state, 1, f"{problem} ({fix})", problem, fix)
    sys.exit(returned if isinstance(returned, int) else 0)
