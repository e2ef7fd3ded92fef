"""The command line: parses, calls a command, prints what it returns.

Commands return data; this module alone prints (text or ``--json``) and turns
errors into exit codes (through :func:`dockerpypi.errors.exit_code_for`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from ._options import context_option, settings_from, settings_options, warn
from .errors import DockerPypiError, UsageError, exit_code_for

# Start-up time is part of what this module is judged on (`dockerpypi render`
# runs in every Dockerfile edit loop): anything beyond click is imported
# inside the command that needs it.


class _State:
    """What the group's options tell the entry point (a plain class: the
    dataclasses module would add its import to every start)."""

    def __init__(self) -> None:
        self.debug = False


# --- the group ----------------------------------------------------------------

# Commands kept in modules of their own, as "module:attribute". They are
# imported only when run or listed (click's LazyGroup pattern), so that
# `dockerpypi render` does not pay for `build` or `mirror`.
_LAZY_COMMANDS = {
    "build": "._build_cli:build",
    "devpi": "._devpi_cli:devpi",
    "doctor": "._doctor_cli:doctor",
    "mirror": "._mirror_cli:mirror",
    "verify": "._verify_cli:verify",
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
    import importlib

    module_name, _, attribute = _LAZY_COMMANDS[name].partition(":")
    command = getattr(importlib.import_module(module_name, __package__), attribute)
    if not isinstance(command, click.Command):  # a wrong table entry: a bug of ours
        raise TypeError(f"{_LAZY_COMMANDS[name]} is not a click command")
    return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dockerpypi")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_obj
def cli(state: _State, debug: bool) -> None:
    """Give every container build a PyPI mirror, and leave no trace of it in the image."""
    state.debug = debug


# --- config -------------------------------------------------------------------

@cli.command()
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


# --- render -------------------------------------------------------------------

class _RenderGroup(click.Group):
    """``render`` takes sub-commands, or a command to run after ``--``.

    Click would read the first word after ``--`` as a sub-command name, so the
    words after ``--`` are taken off before click parses the rest.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["dockerpypi.command"] = tuple(args[cut + 1:])
            ctx.meta["dockerpypi.separator"] = True
            args = args[:cut]
        return super().parse_args(ctx, args)


@cli.group(cls=_RenderGroup, invoke_without_command=True)
@click.option("--installer", type=click.Choice(["auto", "pip", "uv"]), default="auto",
              show_default=True,
              help="The installer the step runs; auto: uv if the image has it, else pip.")
@click.option("-r", "--requirements", metavar="FILE",
              help="Requirements file in the build context [default: requirements.txt, "
                   "unless a command follows --].")
@click.option("--uid", type=click.IntRange(min=0), help="Owner of the secrets and cache, for a "
                                                        "non-root USER.")
@click.option("--gid", type=click.IntRange(min=0), help="Group of the secrets and cache "
                                                        "(default: the uid).")
@click.option("--mount-point", metavar="PATH", help="Where the step sees the local mirror.")
@click.option("--secrets", is_flag=True,
              help="Take the step's settings from build secrets, not from the "
                   "dockerpypi-config build context: for mirror URLs with credentials, and "
                   "for Docker 20.10 (slower: BuildKit holds such a step back ~2 s).")
@context_option
@click.pass_context
def render(ctx: click.Context, installer: str, requirements: str | None, uid: int | None,
           gid: int | None, mount_point: str | None, secrets: bool,
           context_dir: Path | None) -> None:
    """Print Dockerfile lines that install from the mirror (append them with >>).

    \b
    dockerpypi render >> Dockerfile
    dockerpypi render --installer uv -r requirements/prod.txt >> Dockerfile
    dockerpypi render -- pip install 'numpy<3' >> Dockerfile
    dockerpypi render stage      # the stages to put at the top of the Dockerfile
    """
    command: tuple[str, ...] = ctx.meta.get("dockerpypi.command", ())
    if ctx.invoked_subcommand is not None:
        if command:
            raise UsageError("a command after -- goes with plain `dockerpypi render`, "
                             f"not with `render {ctx.invoked_subcommand}`")
        return
    if ctx.meta.get("dockerpypi.separator") and not command:
        raise UsageError("nothing after --: give the install command, or drop the --")
    from .render import RunOptions, render_run
    from .settings import resolve_settings

    settings = resolve_settings({"mount_point": mount_point}, context_dir=context_dir)
    options = RunOptions(
        installer=installer,
        config="secrets" if secrets else "context",
        requirements=requirements if (requirements or command) else "requirements.txt",
        command=command,
        uid=uid,
        gid=gid,
        mount_point=settings.mount_point.value,
    )
    click.echo(render_run(options), nl=False)


@render.command("stage")
@click.option("--syntax", "syntax", flag_value="docker/dockerfile:1", default=None,
              help="Also print a `# syntax=` line (pulls a frontend image; not needed).")
def render_stage_command(syntax: str | None) -> None:
    """Print the `FROM scratch AS pypi-mirror` stage for the top of a Dockerfile."""
    from .render import render_stage

    click.echo(render_stage(syntax=syntax), nl=False)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only."""
    import os
    import tempfile

    path = path.expanduser()
    if path.is_dir():
        raise UsageError(f"{path} is a directory: give a file name to -o")
    if not path.parent.is_dir():
        raise UsageError(f"directory {path.parent} does not exist: create it or choose another -o")
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temporary).chmod(0o600)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _render_env(settings: Any, *, redact: bool) -> str:
    from .render import render_env

    return render_env(settings)  # holds paths and numbers only: nothing to redact


def _config_file_command(name: str, summary: str) -> None:
    @render.command(name, help=summary)
    @settings_options
    @click.option("-o", "--output", type=click.Path(path_type=Path), metavar="FILE",
                  help="Write to FILE (mode 0600) with the real credentials.")
    @click.option("--show-credentials", is_flag=True,
                  help="Print credentials instead of *** on standard output.")
    def command(output: Path | None, show_credentials: bool, **kwargs: Any) -> None:
        from . import render as rendering

        settings = settings_from(kwargs)
        for warning in settings.warnings:
            warn(warning)
        make: Callable[..., str] = {
            "pip-conf": rendering.render_pip_conf,
            "uv-toml": rendering.render_uv_toml,
            "pydistutils": rendering.render_pydistutils,
            "env": _render_env,
        }[name]
        if output is not None:
            _write_private(output, make(settings, redact=False))
            return
        redact = not show_credentials
        if redact and settings.has_credentials:
            warn("credentials are shown as ***: write the file with -o FILE, "
                  "or pass --show-credentials")
        click.echo(make(settings, redact=redact), nl=False)


_config_file_command("pip-conf", "Print the temporary pip.conf of a build step.")
_config_file_command("uv-toml", "Print the temporary uv.toml of a build step.")
_config_file_command("pydistutils", "Print the legacy .pydistutils.cfg of a build step.")
_config_file_command("env", "Print the shell file a build step sources to select the others.")


# --- entry point ----------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    """Run the CLI; the one place where errors become exit codes."""
    state = _State()
    try:
        code = cli.main(args=argv, prog_name="dockerpypi", obj=state, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("dockerpypi: interrupted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # One line, like every other error; click's own form takes three.
        where = exc.ctx.command_path if exc.ctx is not None else "dockerpypi"
        click.echo(f"dockerpypi: error: {exc.format_message()} (see `{where} --help`)",
                   err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DockerPypiError as exc:
        if state.debug:
            import traceback

            traceback.print_exc()
        click.echo(f"dockerpypi: error: {exc}", err=True)
        sys.exit(exit_code_for(exc))
    except KeyboardInterrupt:
        click.echo("dockerpypi: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line unless debugging
        if state.debug:
            raise
        click.echo(f"dockerpypi: internal error: {type(exc).__name__}: {exc} "
                   "(run again with --debug for the traceback)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)

