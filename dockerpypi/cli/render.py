"""``dockerpypi render``: Dockerfile lines and the config files of a build step.

`dockerpypi render` runs in every Dockerfile edit loop: what it and
`render stage` need (click, the step vocabulary, the renderer of steps) is
imported at the top; the settings (not for `render stage`) and the config
files' renderer (only its sub-commands) where they are needed. A kept
rendering needs no jinja2 (see render/templates.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..dockerfile.outranked import outranked_note, own_indexes
from ..errors import CredentialsHidden, SettingsWarning, UsageError
from ..files import write_private
from ..render.steps import RENDER_INSTALLERS, UV_SYNC, RunOptions, render_run, render_stage
from .options import context_option, settings_from, settings_options_but_engine
from .output import Output, warn


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


@click.group(cls=_RenderGroup, invoke_without_command=True)
@click.option("--installer", type=click.Choice(RENDER_INSTALLERS), default="auto",
              show_default=True,
              help="The installer the step runs; auto: uv if the image has it, else pip; "
                   f"{UV_SYNC}: `uv sync --locked --no-install-project` of the project's "
                   "uv.lock, as uv's Docker guide writes it.")
@click.option("--lock", metavar="FILE", default="uv.lock", show_default=True,
              help=f"With --installer {UV_SYNC}: the project's uv.lock in the build context.")
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
def render(ctx: click.Context, installer: str, lock: str, requirements: str | None,
           uid: int | None, gid: int | None, mount_point: str | None, secrets: bool,
           context_dir: Path | None) -> Output | None:
    """Print Dockerfile lines that install from the mirror (append them with >>).

    \b
    dockerpypi render >> Dockerfile
    dockerpypi render --installer uv -r requirements/prod.txt >> Dockerfile
    dockerpypi render -- pip install 'numpy<3' >> Dockerfile
    dockerpypi render --installer uv-sync >> Dockerfile   # uv sync of uv.lock
    dockerpypi render stage      # the stages to put at the top of the Dockerfile
    """
    command: tuple[str, ...] = ctx.meta.get("dockerpypi.command", ())
    if ctx.invoked_subcommand is not None:
        if command:
            raise UsageError("a command after -- goes with plain `dockerpypi render`, "
                             f"not with `render {ctx.invoked_subcommand}`")
        return None  # the sub-command's output is printed
    if ctx.meta.get("dockerpypi.separator") and not command:
        raise UsageError("nothing after --: give the install command, or drop the --")
    if installer == UV_SYNC and requirements:
        raise UsageError(f"--installer {UV_SYNC} installs uv.lock, not a requirements file: "
                         "give --lock FILE instead of --requirements")
    if lock != "uv.lock" and installer != UV_SYNC:
        raise UsageError(f"--lock goes with --installer {UV_SYNC}: add it, or drop --lock")
    from ..settings.resolve import resolve_settings

    settings = resolve_settings({"mount_point": mount_point}, context_dir=context_dir)
    options = RunOptions(
        installer=installer,
        config="secrets" if secrets else "context",
        requirements=requirements if (requirements or command) else "requirements.txt",
        command=command,
        uid=uid,
        gid=gid,
        mount_point=settings.mount_point.value,
        lock=lock,
    )
    text = render_run(options)
    outranking = own_indexes(" ".join(command)) if command else []
    return Output(text=text, warnings=(SettingsWarning(outranked_note("the command", outranking)),)
                  if outranking else ())


@render.command("stage")
@click.option("--syntax", "syntax", flag_value="docker/dockerfile:1", default=None,
              help="Also print a `# syntax=` line (pulls a frontend image; not needed).")
def render_stage_command(syntax: str | None) -> Output:
    """Print the `FROM scratch AS pypi-mirror` stage for the top of a Dockerfile."""
    return Output(text=render_stage(syntax=syntax))


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only."""
    path = path.expanduser()
    if path.is_dir():
        raise UsageError(f"{path} is a directory: give a file name to -o")
    if not path.parent.is_dir():
        raise UsageError(f"directory {path.parent} does not exist: create it or choose another -o")
    write_private(path, text.encode("utf-8"))


def _render_env(settings: Any, *, redact: bool) -> str:
    from ..render.files import render_env

    return render_env(settings, redact=redact)  # PDM's and pipenv's index URL may carry credentials


def _config_file_command(name: str, summary: str) -> None:
    @render.command(name, help=summary)
    @settings_options_but_engine
    @click.option("-o", "--output", type=click.Path(path_type=Path), metavar="FILE",
                  help="Write to FILE (mode 0600) with the real credentials.")
    @click.option("--show-credentials", is_flag=True,
                  help="Print credentials instead of *** on standard output.")
    def command(output: Path | None, show_credentials: bool, **kwargs: Any) -> Output:
        from ..render import files as rendering

        settings = settings_from(kwargs)
        warn(*settings.warnings)
        make: Callable[..., str] = {
            "pip-conf": rendering.render_pip_conf,
            "uv-toml": rendering.render_uv_toml,
            "pydistutils": rendering.render_pydistutils,
            "env": _render_env,
        }[name]
        if output is not None:
            _write_private(output, make(settings, redact=False))
            return Output()
        redact = not show_credentials
        hidden = (CredentialsHidden("credentials are shown as ***: write the file with -o FILE, "
                                    "or pass --show-credentials"),) \
            if redact and settings.has_credentials else ()
        return Output(text=make(settings, redact=redact), warnings=hidden)


_config_file_command("pip-conf", "Print the temporary pip.conf of a build step.")
_config_file_command("uv-toml", "Print the temporary uv.toml of a build step.")
_config_file_command("pydistutils", "Print the legacy .pydistutils.cfg of a build step.")
_config_file_command("env", "Print the shell file a build step sources to select the others.")
