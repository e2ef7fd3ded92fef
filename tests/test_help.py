"""``-h`` is ``--help`` on every command and sub-command, found by walking the tree."""

from __future__ import annotations

import click
import pytest
from support.cli import run_main

from dockerpypi.cli import cli


def command_paths() -> list[tuple[str, ...]]:
    """Every command as typed after ``dockerpypi``: the group itself, then each one below."""
    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...], ctx: click.Context) -> None:
        found.append(path)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                below = command.get_command(ctx, name)
                assert below is not None, name
                walk(below, (*path, name), click.Context(below, parent=ctx, info_name=name))

    walk(cli, (), click.Context(cli, info_name="dockerpypi"))
    return found


PATHS = command_paths()


def test_the_walk_finds_the_commands_and_sub_commands() -> None:
    for path in [("build",), ("verify",), ("mirror", "serve"), ("mirror", "add"),
                 ("devpi", "start"), ("render", "stage"), ("render", "pip-conf")]:
        assert path in PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "dockerpypi")
def test_dash_h_prints_the_help_as_dash_dash_help_does(
        capsys: pytest.CaptureFixture[str], path: tuple[str, ...]) -> None:
    code, out, err = run_main([*path, "-h"], capsys)
    assert (code, err) == (0, "")
    assert out.startswith(" ".join(("Usage: dockerpypi", *path)) + " ")
    assert "-h, --help" in out
    assert (code, out, err) == run_main([*path, "--help"], capsys)
