"""What outranks the mirror in a step: index options on the installer's own command line.

A step gets its indexes from the installers' configuration files, pointed
at by ``PIP_CONFIG_FILE`` and ``UV_CONFIG_FILE`` in the env file it sources.
What else could name an index, and what wins (measured with pip 26 and
uv 0.13.9; README "What outranks the mirror"):

- the project's own settings (``[[tool.uv.index]]`` with ``default = true``,
  ``[tool.uv] index-url``, a ``uv.toml`` beside pyproject.toml): ``UV_CONFIG_FILE``
  makes uv read that file and no other, the project's included, for
  ``uv sync`` and ``uv pip`` alike, so the mirror wins; a uv.lock names its
  index too, and its copy for the mirror names the mirror;
- pip's and uv's index variables set by ``ENV`` in the image: they outrank
  configuration files, so the env file unsets them
  (:data:`dockerpypi.render.files.SHADOWING_VARIABLES`);
- options on the command line (and in a requirements file): they outrank
  everything. They are the user's own words, so they are kept, and
  :func:`own_indexes` finds them for a one-line warning.
"""

from __future__ import annotations

import re

from .vocabulary import installers_called

# Options of pip install and uv (pip install, sync, lock, ...) that name an
# index or a page of links, with or without a value glued on.
_OWN_INDEX = re.compile(r"(?:^|\s)(--index-url|--extra-index-url|--default-index|--index"
                        r"|--find-links|-i|-f)(?=[\s=]|$)|(?:^|\s)(-[if])\S")
# Shell command separators: an option counts where an installer is called.
_SEGMENTS = re.compile(r"&&|\|\||[;&|\n]")


def own_indexes(command: str) -> list[str]:
    """The index options (``--index-url``, ``-f``, ...) of the installer calls in ``command``."""
    found: list[str] = []
    for segment in _SEGMENTS.split(command):
        if not installers_called(segment):
            continue
        for match in _OWN_INDEX.finditer(segment):
            found.append(match.group(1) or match.group(2))
    return list(dict.fromkeys(found))


def outranked_note(where: str, options: list[str]) -> str:
    """The warning for a step whose command names indexes of its own (values left out:
    they may carry credentials)."""
    return (f"{where}: {', '.join(options)} on the command line outranks the mirror's settings, "
            "so the installer asks that index too: remove it to install from the mirror only")
