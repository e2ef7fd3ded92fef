"""How BuildKit reads a Dockerfile: lines, parser directives, instructions, flags.

Pure text, after BuildKit's own parser (frontend/dockerfile/parser/parser.go):
parser directives at the very top (and the escape token they may set),
instructions split over continuation lines (with the comment and empty lines
BuildKit skips inside them), heredocs, and the ``--flag`` words before an
instruction's arguments. A file BuildKit would refuse raises a ``UsageError``
naming the line. ``--inject`` rewrites Dockerfiles with it, and the subset
reads what their steps install (:mod:`.steps`).
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from dataclasses import dataclass

from ..errors import UsageError

# A parser directive: `# name=value`.
DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*")
# The directives BuildKit knows; any other line ends the directives.
KNOWN_DIRECTIVES = ("syntax", "escape", "check")
# A word that opens a heredoc: <<EOF, <<-EOF, 3<<"EOF".
HEREDOC_WORD = re.compile(r"(\d*)<<(-?)([^<]+)")
# One --flag before an instruction's arguments.
FLAG = re.compile(r"[ \t]*(--\S+)")


@dataclass(frozen=True)
class Lines:
    """A Dockerfile's text as lines without their ends, and how to put it back together."""

    lines: list[str]
    bom: str  # "\ufeff" when the text starts with a byte order mark, else ""
    newline: str  # "\r\n" when the first line ends so, else "\n"

    def join(self, lines: list[str]) -> str:
        """``lines`` as a text with this one's byte order mark and line ends."""
        return self.bom + self.newline.join(lines)


def split_lines(text: str) -> Lines:
    """``text`` as lines, a byte order mark and CRLF line ends set aside."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = text[len(bom):].split("\n")
    newline = "\r\n" if lines[0].endswith("\r") else "\n"
    return Lines([line.removesuffix("\r") for line in lines], bom, newline)


@dataclass(frozen=True)
class Directives:
    """The parser directives at the top of a Dockerfile."""

    values: dict[str, str]  # name (lower case) -> value
    escape: str  # the escape token: \\ unless a directive sets `
    end: int  # index of the first line after them


def read_directives(lines: list[str]) -> Directives:
    """The parser directives: ``# name=value`` lines at the very top, known names only."""
    values: dict[str, str] = {}
    end = 0
    while end < len(lines) and (match := DIRECTIVE.fullmatch(lines[end])) \
            and match.group(1).lower() in KNOWN_DIRECTIVES:
        name, value = match.group(1).lower(), match.group(2)
        if name == "escape" and value not in ("\\", "`"):
            raise UsageError(f"line {end + 1}: escape directive {value!r} is invalid: "
                             "use \\ or `")
        values[name] = value
        end += 1
    return Directives(values, values.get("escape", "\\"), end)


@functools.cache
def continuation(escape: str) -> re.Pattern[str]:
    """The escape token at the end of a line, unless itself escaped; sub with \\1 removes it."""
    e = re.escape(escape)
    return re.compile(rf"(^|[^{e}]){e}[ \t]*$")


@dataclass(frozen=True)
class Heredoc:
    """A heredoc an instruction opens."""

    name: str
    chomp: bool  # <<-: leading tabs are removed from the body
    body: int  # index of the body's first line


@dataclass(frozen=True)
class Instruction:
    """One instruction, where it is in the lines and what it says."""

    first: int  # index of the first line
    last: int  # index of the last line before any heredoc body
    end: int  # index after the last line, heredoc bodies included
    keyword: str  # as written: RUN or run
    args: str  # after the keyword: continuations joined, comment lines dropped
    heredocs: list[Heredoc]


def split_flags(args: str) -> tuple[list[str], str]:
    """An instruction's ``--flag`` words, and the rest of its arguments."""
    flags, pos = [], 0
    while match := FLAG.match(args, pos):
        flags.append(match.group(1))
        pos = match.end()
    return flags, args[pos:].strip()


def exec_form(command: str) -> list[str] | None:
    """The words of an exec-form command (a JSON array of strings), else None."""
    if not command.startswith("["):
        return None
    try:
        words = json.loads(command)
    except ValueError:
        return None  # `RUN [ -f x ] && ...` is shell form, as for BuildKit
    if isinstance(words, list) and all(isinstance(word, str) for word in words):
        return words
    return None


def mount_options(flag: str) -> dict[str, str]:
    """The options of a ``--mount=...`` flag; ``type`` is ``bind`` unless it says otherwise."""
    options = dict(item.partition("=")[::2] for item in flag.split("=", 1)[1].split(","))
    options.setdefault("type", "bind")
    return options


def mount_target(options: dict[str, str]) -> str:
    """Where a mount (its :func:`mount_options`) is in the step, under any of its names."""
    return options.get("target") or options.get("dst") or options.get("destination") or ""


def _heredoc_words(args: str) -> list[tuple[str, bool]]:
    """(name, chomp) of each heredoc the instruction opens, as BuildKit finds them."""
    lexer = shlex.shlex(args, posix=False)  # keeps quotes: a quoted "<<X" is not a heredoc
    lexer.whitespace_split, lexer.commenters = True, ""
    try:
        words = list(lexer)
    except ValueError:  # an unclosed quote: the shell would complain, BuildKit does not
        words = args.split()
    found = []
    for word in words:
        if (match := HEREDOC_WORD.fullmatch(word)) and (name := re.sub(r"['\"\\]", "",
                                                                        match.group(3))):
            found.append((name, match.group(2) == "-"))
    return found


def parse_instructions(lines: list[str], start: int, escape: str) -> list[Instruction]:
    """The instructions of ``lines`` from index ``start`` (after the directives)."""
    continues = continuation(escape)
    found: list[Instruction] = []
    i = start
    while i < len(lines):
        text = lines[i].strip()
        if not text or text.startswith("#"):
            i += 1
            continue
        first = i
        head = continues.sub(r"\1", lines[i].lstrip())
        keyword = head.split(maxsplit=1)[0] if head.split() else ""
        parts, going = [head[len(keyword):]], bool(continues.search(lines[i]))
        while going and i + 1 < len(lines):
            i += 1
            text = lines[i].strip()
            if not text or text.startswith("#"):
                continue  # BuildKit skips comment and empty lines inside a continuation
            going = bool(continues.search(lines[i]))
            parts.append(continues.sub(r"\1", lines[i]))
        args, last, heredocs = "".join(parts), i, []
        verb = (args.split(maxsplit=1) or [""])[0] if keyword.upper() == "ONBUILD" else keyword
        if verb.upper() in ("RUN", "COPY", "ADD") and exec_form(split_flags(args)[1]) is None:
            for name, chomp in _heredoc_words(args):
                body = i + 1
                while True:
                    i += 1
                    if i >= len(lines):
                        raise UsageError(f"line {first + 1}: heredoc <<{name} is never closed: "
                                         f"end its text with a line holding only {name}")
                    if (lines[i].lstrip("\t") if chomp else lines[i]) == name:
                        break
                heredocs.append(Heredoc(name, chomp, body))
        found.append(Instruction(first, last, i + 1, keyword, args, heredocs))
        i += 1
    return found


def command_start(lines: list[str], instruction: Instruction, escape: str) -> tuple[int, int]:
    """(line index, column) where the instruction's arguments begin, after its flags."""
    continues = continuation(escape)
    for k in range(instruction.first, instruction.last + 1):
        text = continues.sub(r"\1", lines[k])
        if k > instruction.first and (not text.strip() or text.lstrip().startswith("#")):
            continue
        pos = len(text) - len(text.lstrip()) + len(instruction.keyword) if k == instruction.first \
            else 0
        while match := FLAG.match(text, pos):
            pos = match.end()
        pos = len(text) - len(text[pos:].lstrip(" \t"))
        if pos < len(text):
            return k, pos
    return instruction.last, len(lines[instruction.last])
