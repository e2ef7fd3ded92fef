"""``--prefer-uv``: run a Dockerfile's ``pip install`` with uv when the step has uv.

``dockerpypi build --inject --prefer-uv`` turns a RUN whose whole command is
one ``pip install`` into

    if command -v uv >/dev/null 2>&1; then uv pip install ...; else <the pip call>; fi

so a step that has uv installs with it (the image's, or the mirror's that
:mod:`.inject` mounts for the step, see ``dockerpypi.build.uv_step``), and
any other runs the command exactly as written. Only what means the same to both is translated:
a command with shell syntax (operators, expansions, comments, globs) or a pip
option outside the table below keeps pip, with the reason, never a guess.
uv is also told to compile bytecode, as pip does unless told otherwise, so the
image holds the same files whichever installer ran.

This is done on words (``shlex``), not with a shell parser: no maintained
library parses POSIX shell for Python, and the whitelist makes one needless.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# pip install's options that uv pip install takes with the same meaning:
# name -> (whether it takes a value, what uv is given instead; None = the same).
_SAME = {
    "-r": True, "--requirement": True, "-c": True, "--constraint": True,
    "-e": True, "--editable": True, "-U": False, "--upgrade": False, "--no-deps": False,
    "-q": False, "--quiet": False, "-v": False, "--verbose": False,
    "--target": True, "--prefix": True, "--only-binary": True, "--no-binary": True,
    "--index-url": True, "-i": True, "--extra-index-url": True, "-f": True,
    "--find-links": True, "--break-system-packages": False, "--no-build-isolation": False,
    "--require-hashes": False, "--upgrade-package": True, "-P": True,
}
# Options about pip itself, or about its cache (dockerpypi manages uv's): dropped.
_DROPPED = {
    "--no-cache-dir": False, "--disable-pip-version-check": False, "--no-input": False,
    "--root-user-action": True, "--progress-bar": True, "--no-warn-script-location": False,
    "--no-compile": False,
}
# A program that is pip (with an optional directory), or a python running -m pip.
_PIP_PROGRAM = re.compile(r"(?:.*/)?pip(?:3(?:\.\d+)?)?")
_PYTHON_PROGRAM = re.compile(r"(?:.*/)?python(?:\d(?:\.\d+)?)?")
# Shell syntax whose meaning a rewrite on words could change: operators and
# globs outside quotes (shlex splits those off as tokens of their own), and
# expansions or comments anywhere.
_OPERATORS = ";&|<>()*?~"
_EXPANSIONS = re.compile(r"[$`#\n]")


@dataclass(frozen=True)
class UvChoice:
    """The command to run (``command``), or why the pip call stays as it is (``kept``)."""

    command: str | None
    kept: str | None = None


def _python_of(words: list[str]) -> str | None:
    """The interpreter pip installs into, as a shell word, and the words after ``install``."""
    program = words[0]
    if _PIP_PROGRAM.fullmatch(program):
        # pip's own directory holds its python (a venv's bin/); a bare pip is
        # the one on PATH, whose python3 is found the same way.
        if "/" in program:
            return shlex.quote(program.rsplit("/", 1)[0] + "/python")
        return '"$(command -v python3)"'
    if _PYTHON_PROGRAM.fullmatch(program):
        return f'"$(command -v {program})"' if "/" not in program else shlex.quote(program)
    return None


def prefer_uv(command: str) -> UvChoice:
    """The uv-when-present form of ``command``, a one-line shell command."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=_OPERATORS)
        lexer.whitespace_split = True
        operators = [token for token in lexer if token and set(token) <= set(_OPERATORS)]
        words = shlex.split(command)
    except ValueError:
        return UvChoice(None, "the command does not split into words")
    if operators or _EXPANSIONS.search(command):
        return UvChoice(None, "the command has shell syntax (an operator such as && or |, "
                              "$, a glob or a comment): only a single plain pip install is "
                              "rewritten")
    python = _python_of(words) if words else None
    if python is None:
        return UvChoice(None, "the command is not a pip call")
    rest = words[1:]
    if _PYTHON_PROGRAM.fullmatch(words[0]):
        if rest[:2] != ["-m", "pip"]:
            return UvChoice(None, "the command is not python -m pip")
        rest = rest[2:]
    if rest[:1] != ["install"]:
        return UvChoice(None, "the command is not pip install")
    uv = ["uv", "pip", "install"]
    compile_bytecode = True
    args = iter(rest[1:])
    for word in args:
        name, has_value, value = word.partition("=")
        if not word.startswith("-"):
            uv.append(word)  # a requirement, a path or a URL
        elif name in _SAME or name in _DROPPED:
            takes = _SAME.get(name, _DROPPED.get(name))
            if takes and not has_value:
                value = next(args, "")
                if not value:
                    return UvChoice(None, f"{name} has no value")
            elif not takes and has_value:
                return UvChoice(None, f"{name} takes no value")
            if name == "--no-compile":
                compile_bytecode = False
            if name in _SAME:
                uv += [name, value] if takes else [name]
        elif name == "--pre":
            uv += ["--prerelease", "allow"]
        else:
            return UvChoice(None, f"pip's option {name} has no uv equivalent dockerpypi knows")
    shown = " ".join(shlex.quote(word) for word in uv[:3])
    uv_line = " ".join([shown, "--python", python,
                        *(["--compile-bytecode"] if compile_bytecode else []),
                        *(shlex.quote(word) for word in uv[3:])])
    return UvChoice(f"if command -v uv >/dev/null 2>&1; then {uv_line}; "
                    f"else {shlex.join(words)}; fi")  # the same words, requoted
