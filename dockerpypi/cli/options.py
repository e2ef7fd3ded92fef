"""Click options shared by several commands, declared once (as pip-tools does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..dockerfile.vocabulary import INSTALLERS

if TYPE_CHECKING:
    from ..settings.model import Settings

F = TypeVar("F", bound=Callable[..., Any])


# Where the settings file is looked for; every command that reads settings has it.
context_option = click.option(
    "--context", "context_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
    help="Where dockerpypi.toml or pyproject.toml is read (default: .).")


# Each settings field's option, by the field's name in Settings (and in
# resolve_settings' flags). A command takes all of them, or the ones that
# change what it does (:func:`settings_options_for`). Each option's parameter
# is the field's name, but for these:
_PARAMETERS = {"mirrors": "index_urls"}
_SETTINGS_OPTIONS: dict[str, Callable[[F], F]] = {
    "mirrors": click.option("--index-url", "index_urls", multiple=True, metavar="URL",
                            help="A mirror index, in order; repeat for more. Overrides "
                                 "DOCKERPYPI_MIRRORS and DIB_PYPI_MIRROR_URL*."),
    "public_fallback": click.option("--public-fallback/--no-public-fallback", default=None,
                                    help="Add the public index after the mirrors (default: "
                                         "yes)."),
    "public_index": click.option("--public-index", metavar="URL",
                                 help="The public index to fall back to."),
    "offline": click.option("--offline/--online", default=None,
                            help="Offline: mirrors only, never the public index."),
    "retries": click.option("--retries", metavar="N", help="Installer retries per request."),
    "timeout": click.option("--timeout", metavar="SECONDS", help="Installer network timeout."),
    "mirror_dir": click.option("--mirror-dir", metavar="DIR",
                               help="The local mirror directory."),
    "mount_point": click.option("--mount-point", metavar="PATH",
                                help="Where the build step sees the local mirror (default "
                                     "/tmp/pypi)."),
    "installers": click.option("--configure", "installers", multiple=True,
                               type=click.Choice(INSTALLERS),
                               help="Installers to write configuration for (default: pip, uv "
                                    "and pdm)."),
    "easy_install": click.option("--easy-install/--no-easy-install", default=None,
                                 help="Also write the legacy .pydistutils.cfg."),
    # The choices are checked by the settings (as for the variable and the file).
    "container_engine": click.option(
        "--engine", "container_engine", metavar="auto|docker|podman|buildah",
        help="The container CLI that builds and reads images (default: auto, the first of "
             "docker, podman, buildah on PATH)."),
}


def settings_options_for(*fields: str) -> Callable[[F], F]:
    """The options of the settings ``fields`` (in the order of --help), and --context.

    The fields left out are still read from the environment and the settings
    file, as every command reads them; only their flags are not offered.
    """
    unknown = set(fields) - set(_SETTINGS_OPTIONS)
    if unknown:  # a programming error
        raise KeyError(f"no settings option for {sorted(unknown)}")

    def decorate(func: F) -> F:
        chosen = [_SETTINGS_OPTIONS[name] for name in _SETTINGS_OPTIONS if name in fields]
        for option in reversed([*chosen, context_option]):
            func = option(func)
        return func

    return decorate


# Every settings option: the commands that build, show or check.
settings_options = settings_options_for(*_SETTINGS_OPTIONS)
# All but --engine: render writes no engine's command, and bake, compose and ci
# run docker's own (the setting is still read, and refused there when not docker).
settings_options_but_engine = settings_options_for(*(name for name in _SETTINGS_OPTIONS
                                                     if name != "container_engine"))


def inject_options(func: F) -> F:
    """``--inject``, ``--uid`` and ``--prefer-uv``: the commands that build."""
    for option in reversed([
        click.option("--inject", is_flag=True,
                     help="Build a copy of a Dockerfile not written for dockerpypi, with the "
                          "mirror added to every RUN that calls pip or uv (your file is not "
                          "changed)."),
        click.option("--uid", type=click.IntRange(min=0),
                     help="With --inject: the uid of a named USER, who must read the secrets."),
        click.option("--prefer-uv", is_flag=True,
                     help="With --inject: a step that is one plain `pip install` runs `uv pip "
                          "install` instead when the image has uv (pip otherwise)."),
    ]):
        func = option(func)
    return func


def refuse_prefer_uv_alone(*, inject: bool, prefer_uv: bool) -> None:
    """--prefer-uv rewrites --inject's steps; alone it would do nothing."""
    if prefer_uv and not inject:
        from ..errors import UsageError

        raise UsageError("--prefer-uv rewrites steps of --inject: add --inject, or render "
                         "steps that pick uv themselves (dockerpypi render)")


def settings_from(kwargs: dict[str, Any]) -> Settings:
    """Pop the settings options (those the command has) off ``kwargs``; resolve the settings."""
    # Imported here: every command imports this module, `render stage` too,
    # which reads no settings.
    from ..settings.resolve import resolve_settings

    # A repeatable option not given is (), which resolve_settings also takes as "not given".
    flags = {name: kwargs.pop(_PARAMETERS.get(name, name), None) for name in _SETTINGS_OPTIONS}
    return resolve_settings(flags, context_dir=kwargs.pop("context_dir"))


# The commands that wrap one of docker's (build, bake, compose, ci): dockerpypi's
# options come first and everything from the first word click does not know is
# docker's (PassThroughCommand puts it after `--`). So -h can be
# help as everywhere else: a cluster such as -tmy/hub is docker's whole, and
# click never reads it letter by letter, where -h would eat its h.
PASS_THROUGH = {
    "ignore_unknown_options": True,
    "allow_interspersed_args": False,
    "help_option_names": ["-h", "--help"],
}


class PassThroughCommand(click.Command):
    """A command whose words from the first one that is not a dockerpypi option are
    docker's (``build``, ``bake``, ``compose``, ``ci``), handed on as they are.

    Click would look each of docker's options up among ours, and for every one
    it does not know, find the nearest of our names (importing difflib) for an
    error it then ignores: ~3 ms of every build. Those words are put after
    ``--`` instead, where click takes them as they are.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        cut = _first_docker_word(self.get_params(ctx), args)
        if cut < len(args):
            args = [*args[:cut], "--", *args[cut:]]
        return super().parse_args(ctx, args)


def _first_docker_word(params: list[click.Parameter], args: list[str]) -> int:
    """The index of the first word of ``args`` that is not one of our options (or its
    value); ``len(args)`` when there is none, or when ``--`` comes first."""
    takes_value = {name: not (isinstance(param, click.Option) and param.is_flag)
                   for param in params if isinstance(param, click.Option)
                   for name in (*param.opts, *param.secondary_opts)}
    index = 0
    while index < len(args):
        name, equals, _ = args[index].partition("=")
        if args[index] == "--":
            return len(args)
        if name not in takes_value:
            return index
        index += 2 if takes_value[name] and not equals else 1
    return index
