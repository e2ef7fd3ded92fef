"""The TOML parser is chosen in one place (dockerpypi.tomlparser), for every reader."""

from __future__ import annotations

import re
from pathlib import Path

import dockerpypi
from dockerpypi.tomlparser import tomllib

PACKAGE = Path(dockerpypi.__file__).parent


def test_the_parser_reads_toml_and_names_its_error() -> None:
    assert tomllib.loads("a = 1\n") == {"a": 1}
    assert issubclass(tomllib.TOMLDecodeError, ValueError)


def test_no_other_module_chooses_the_parser() -> None:
    choosing = re.compile(r"^\s*import (tomllib|tomli)\b", re.MULTILINE)
    others = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
              if path.name != "tomlparser.py" and choosing.search(path.read_text())]
    assert others == []
