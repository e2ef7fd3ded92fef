"""``dockerpypi build --inject``: give the mirror to a Dockerfile not written for dockerpypi.

``inject(text)`` is a pure text transformation. Every ``RUN`` that calls pip
or uv gets what ``dockerpypi render`` writes into its own steps: the
``pypi-mirror`` bind mount, the secret files, a cache mount and the shell
prefix that sources the env file. The file gets the ``pypi-mirror`` stage when
it has none. The caller writes the result to a temporary file; the user's
file is never modified.

What a line is follows BuildKit's own parser: parser directives (and the
escape token they may set), continuation lines, comment lines inside them, and
heredocs. What an installer call is comes from one regular expression
(``_CALL``), not from a shell parser. A case these rules cannot handle safely
is refused with a ``UsageError`` naming the line and the fix, never guessed.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field

from ..errors import UsageError
from ..render import steps
from ..settings.resolve import DEFAULT_MOUNT_POINT
from .prefer_uv import prefer_uv as _uv_form

COMMENT = "# dockerpypi --inject: mirror, secrets and cache added for this step"
_EXEC_COMMENT = ("# dockerpypi --inject: exec form rewritten as shell form (same words), "
                 "so the step can source the mirror settings")
_HEREDOC_COMMENT = ("# dockerpypi --inject: the heredoc script sources the mirror settings "
                    "in its first lines")
_UV_COMMENT = ("# dockerpypi --inject --prefer-uv: uv installs when the image has it, "
               "else the pip call as written")
_STAGE_COMMENT = "# dockerpypi --inject: `dockerpypi build` fills {} with the mirror{}"
_INDENT = "    "  # as in `dockerpypi render`

# --- what an installer call is ----------------------------------------------
#
# A program name at the start of a shell word (start of text, after blank,
# ; & | ( ` ' or "), so calls after &&, ||, ; and inside sh -c '...' count.
# It may have a directory (/opt/venv/bin/pip) and options before the
# subcommand (pip -q install, uv --no-cache sync). Only subcommands that
# resolve from an index count: not pip --version, pip list or pip freeze.
# Text is not parsed as shell, so `echo pip install` matches too: the step then
# gets mounts it does not use, which is harmless. poetry, pdm and conda are
# not matched: they read neither pip's nor uv's configuration.
_START = r"(?:^|(?<=[\s;&|(`'\"]))"
_DIR = r"(?:[^\s;&|()`'\"]*/)?"
_OPTIONS = r"(?:\s+-[^\s;&|)]*)*"
_PIP = (rf"{_DIR}(?:pip(?:3(?:\.\d+)?)?|pipx|python(?:\d(?:\.\d+)?)?['\"]?{_OPTIONS}\s+-m\s*pip)"
        rf"['\"]?{_OPTIONS}\s+(?:install|download|wheel)")
_UV = (rf"{_DIR}(?:uv['\"]?{_OPTIONS}\s+(?:pip\s+(?:install|sync|compile)|sync|add|lock|export"
       rf"|run|tool\s+(?:install|run|upgrade))|uvx)")
_CALL = re.compile(rf"{_START}(?:(?P<pip>{_PIP})|(?P<uv>{_UV}))(?=$|[\s;&|)`'\"])")
_INSTALLERS = ("pip", "uv")

# What replaces the cache mount when the step's uid is unknown (see _owner).
_NO_CACHE = {"pip": ("PIP_NO_CACHE_DIR=1",), "uv": ("UV_NO_CACHE=1",)}
# Shells that understand steps.ENV_PREFIX (SHELL, or a heredoc's #! line).
_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
# A word of an exec-form RUN that means the same in shell form once quoted:
# no blank, quote, $, backquote or backslash (exec form never expands them,
# so the author's intent is unclear when they are there).
_PLAIN_WORD = re.compile(r"[^\s'\"$`\\]+")

# BuildKit's own patterns (frontend/dockerfile/parser/parser.go).
_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*")
_HEREDOC_WORD = re.compile(r"(\d*)<<(-?)([^<]+)")
_FLAG = re.compile(r"[ \t]*(--\S+)")


@functools.cache
def _continuation(escape: str) -> re.Pattern[str]:
    """The escape token at the end of a line, unless itself escaped; sub with \\1 removes it."""
    e = re.escape(escape)
    return re.compile(rf"(^|[^{e}]){e}[ \t]*$")


def installers_called(command: str) -> list[str]:
    """The installers ("pip", "uv") that ``command`` calls, by the rules above."""
    found = {match.lastgroup for match in _CALL.finditer(command)}
    return [name for name in _INSTALLERS if name in found]


@dataclass(frozen=True)
class InjectResult:
    """The new Dockerfile text (the input itself when nothing changed) and what was done."""

    text: str
    changed_lines: list[int]  # 1-based input line of each instruction that changed
    notes: list[str]  # one line each, for a person


@dataclass(frozen=True)
class _Heredoc:
    name: str
    chomp: bool  # <<-: leading tabs are removed from the body
    body: int  # index of the body's first line


@dataclass(frozen=True)
class _Instruction:
    first: int  # index of the first line
    last: int  # index of the last line before any heredoc body
    end: int  # index after the last line, heredoc bodies included
    keyword: str  # as written: RUN or run
    args: str  # after the keyword: continuations joined, comment lines dropped
    heredocs: list[_Heredoc]


@dataclass
class _Stage:
    user: str | None = None  # argument of the stage's last USER, None before any
    shell: list[str] = field(default_factory=lambda: ["/bin/sh", "-c"])


@dataclass(frozen=True)
class _Plan:
    instruction: _Instruction
    comments: list[str]
    mounts: list[str]
    exports: list[str]
    exec_words: str | None  # exec form: the shell-form command replacing it
    in_heredoc: int | None  # RUN <<EOF: index of the line to put the prefix before
    replacement: str | None = None  # --prefer-uv: the command replacing the step's own


def _split_flags(args: str) -> tuple[list[str], str]:
    flags, pos = [], 0
    while match := _FLAG.match(args, pos):
        flags.append(match.group(1))
        pos = match.end()
    return flags, args[pos:].strip()


def _exec_form(command: str) -> list[str] | None:
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
        if (match := _HEREDOC_WORD.fullmatch(word)) and (name := re.sub(r"['\"\\]", "",
                                                                         match.group(3))):
            found.append((name, match.group(2) == "-"))
    return found


def _parse(lines: list[str], start: int, escape: str) -> list[_Instruction]:
    continuation = _continuation(escape)
    found: list[_Instruction] = []
    i = start
    while i < len(lines):
        text = lines[i].strip()
        if not text or text.startswith("#"):
            i += 1
            continue
        first = i
        head = continuation.sub(r"\1", lines[i].lstrip())
        keyword = head.split(maxsplit=1)[0] if head.split() else ""
        parts, going = [head[len(keyword):]], bool(continuation.search(lines[i]))
        while going and i + 1 < len(lines):
            i += 1
            text = lines[i].strip()
            if not text or text.startswith("#"):
                continue  # BuildKit skips comment and empty lines inside a continuation
            going = bool(continuation.search(lines[i]))
            parts.append(continuation.sub(r"\1", lines[i]))
        args, last, heredocs = "".join(parts), i, []
        verb = (args.split(maxsplit=1) or [""])[0] if keyword.upper() == "ONBUILD" else keyword
        if verb.upper() in ("RUN", "COPY", "ADD") and _exec_form(_split_flags(args)[1]) is None:
            for name, chomp in _heredoc_words(args):
                body = i + 1
                while True:
                    i += 1
                    if i >= len(lines):
                        raise UsageError(f"line {first + 1}: heredoc <<{name} is never closed: "
                                         f"end its text with a line holding only {name}")
                    if (lines[i].lstrip("\t") if chomp else lines[i]) == name:
                        break
                heredocs.append(_Heredoc(name, chomp, body))
        found.append(_Instruction(first, last, i + 1, keyword, args, heredocs))
        i += 1
    return found


def _owner(user: str | None, uid: int | None) -> tuple[int | None, int | None, bool]:
    """(uid, gid, known) the step's mounts belong to.

    A numeric USER is used as written (gid = uid unless a numeric group is
    given). No USER means root, or ``uid`` when the caller knows better: root
    reads and writes files of any owner, so the mounts still work for it. A
    named USER (or one with a variable) cannot be resolved from the text: ``uid``
    is used when given, else the step is "unknown" and gets secrets with
    mode 0444 and no cache mount (see _plan).
    """
    if user is None:
        return uid, None, True
    name, _, group = user.partition(":")
    if name in ("root", "0"):
        return None, None, True
    if name.isdigit():
        return int(name), int(group) if group.isdigit() else None, True
    return uid, None, uid is not None


def _mount_options(flag: str) -> dict[str, str]:
    options = dict(item.partition("=")[::2] for item in flag.split("=", 1)[1].split(","))
    options.setdefault("type", "bind")
    return options


def _under(path: str, directory: str) -> bool:
    path = posixpath.normpath(path)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _plan(instruction: _Instruction, lines: list[str], stage: _Stage, *, mount_point: str,
          uid: int | None, notes: list[str], uv: bool = False,
          config: str = "context") -> _Plan | None:
    """How to rewrite one RUN; None to leave it alone; UsageError when it cannot be done."""
    where = f"line {instruction.first + 1}"
    flags, command = _split_flags(instruction.args)
    words = _exec_form(command)
    bodies = "\n".join(lines[instruction.last + 1: instruction.end])
    installers = installers_called(" ".join(words) if words is not None else
                                   f"{command}\n{bodies}")
    if not installers:
        return None
    mounts = [_mount_options(flag) for flag in flags if flag.startswith("--mount=")]
    env_secret = next(i for i, target in steps.secret_mounts() if target == steps.ENV_FILE)
    if (any((m["type"] == "secret" and m.get("id") == env_secret)
            or (m["type"] == "bind" and m.get("from", "").lower() == steps.CONFIG_STAGE)
            for m in mounts) and steps.ENV_PREFIX in f"{command}\n{bodies}"):
        notes.append(f"{where}: already set up for dockerpypi, left as it is")
        return None
    for mount in mounts:
        target = mount.get("target") or mount.get("dst") or mount.get("destination") or ""
        if mount["type"] == "secret" and mount.get("id") in steps.secret_ids():
            raise UsageError(f"{where}: RUN already mounts the secret {mount['id']}, which "
                             "dockerpypi supplies: remove that --mount from the step")
        for ours in (mount_point, steps.STEP_DIR, steps.CACHE_ROOT):
            if target and _under(target, ours):
                raise UsageError(f"{where}: RUN already mounts something at {target}, where "
                                 f"dockerpypi mounts {ours}: move that mount elsewhere"
                                 + (" or choose another --mount-point"
                                    if ours == mount_point else ""))
    replacement = None
    if uv and "pip" in installers and "uv" not in installers:
        if instruction.heredocs:
            notes.append(f"{where}: kept pip: --prefer-uv does not rewrite heredocs")
        else:
            choice = _uv_form(shlex.join(words) if words is not None else command)
            if choice.command is None:
                notes.append(f"{where}: kept pip: {choice.kept}")
            else:
                replacement = choice.command
                installers = installers_called(replacement)
                notes.append(f"{where}: pip install runs with uv when the image has uv")
    if posixpath.basename(stage.shell[0]) not in _POSIX_SHELLS:
        raise UsageError(f"{where}: SHELL {json.dumps(stage.shell)} is not a POSIX shell, which "
                         "dockerpypi needs to source its settings: use sh or bash for this stage")

    comments = [COMMENT]
    exec_words = in_heredoc = None
    if words is not None:
        if not all(_PLAIN_WORD.fullmatch(word) for word in words):
            raise UsageError(f"{where}: exec-form RUN {command} has a word with a blank, quote, "
                             "$, backquote or backslash, whose meaning would change in shell "
                             "form: write the RUN in shell form yourself")
        exec_words = " ".join(shlex.quote(word) for word in words)
        comments.append(_EXEC_COMMENT)
    elif instruction.heredocs and _HEREDOC_WORD.fullmatch(command) and len(command.split()) == 1:
        # `RUN <<EOF` alone: BuildKit runs the body itself as the script (with
        # its #! interpreter, or the shell), so the prefix must go inside it.
        # Any other heredoc use is a plain shell command line: prefix as usual.
        doc = instruction.heredocs[0]
        first_line = lines[doc.body].lstrip("\t") if doc.chomp else lines[doc.body]
        in_heredoc = doc.body
        if first_line.startswith("#!"):
            program = first_line[2:].split() or [""]
            if posixpath.basename(program[0]) == "env":
                program = [word for word in program[1:] if not word.startswith("-")] or [""]
            if posixpath.basename(program[0]) not in _POSIX_SHELLS:
                raise UsageError(f"{where}: the heredoc script runs {first_line[2:].strip()}, "
                                 "which cannot source dockerpypi's settings: drop the #! line "
                                 "and call the interpreter from the RUN line "
                                 f"(RUN python3 <<{doc.name})")
            in_heredoc += 1
        comments.append(_HEREDOC_COMMENT)

    step_uid, gid, known = _owner(stage.user, uid)
    owner = steps.owner_options(step_uid, gid)
    # Secrets are 0400 and root's by default; a non-root step gets them as its
    # own, as `dockerpypi render --uid` does. For a named USER the uid is not
    # in the text, so they are made readable by all (0444) instead: the
    # mounts exist only while this step runs, and every process of the step
    # runs as that user anyway. Its cache could not be made writable for it
    # either, so the installers are told not to cache (nothing lands in the
    # image, at the cost of speed).
    secret_owner = owner + ",mode=0400" if owner else ("" if known else ",mode=0444")
    flags_out = [f"--mount=type=bind,from={steps.MIRROR_STAGE},target={mount_point},readonly"]
    if config == "context":  # as render writes it (rw: see render_run)
        flags_out.append(f"--mount=type=bind,from={steps.CONFIG_STAGE},"
                         f"target={steps.STEP_DIR},rw")
    else:
        flags_out += [f"--mount=type=secret,id={secret_id},target={target}{secret_owner}"
                      for secret_id, target in steps.secret_mounts()]
    exports: list[str] = []
    for installer in installers:
        if known:
            cache = steps.cache_mount(installer, step_uid)
            flags_out.append(f"--mount=type=cache,id={cache.id},target={cache.target}{owner}")
            exports += cache.variables
        else:
            exports += _NO_CACHE[installer]
    if not known:
        comments.append(f"# dockerpypi --inject: USER {stage.user} is a name, so the secrets are "
                        "mode 0444 and nothing is cached; write USER <uid> or pass --uid")
        notes.append(f"{where}: USER {stage.user} is a name, not a uid: secrets readable by all "
                     "users for this step and no cache; write USER <uid> or pass --uid")
    if words is not None:
        notes.append(f"{where}: exec-form RUN rewritten as shell form with the same words")
    if replacement is not None:
        comments.append(_UV_COMMENT)
    return _Plan(instruction, comments, flags_out, exports, exec_words, in_heredoc, replacement)


def _command_start(lines: list[str], instruction: _Instruction, escape: str) -> tuple[int, int]:
    """(line index, column) where the command begins, after the RUN flags."""
    continuation = _continuation(escape)
    for k in range(instruction.first, instruction.last + 1):
        text = continuation.sub(r"\1", lines[k])
        if k > instruction.first and (not text.strip() or text.lstrip().startswith("#")):
            continue
        pos = len(text) - len(text.lstrip()) + len(instruction.keyword) if k == instruction.first \
            else 0
        while match := _FLAG.match(text, pos):
            pos = match.end()
        pos = len(text) - len(text[pos:].lstrip(" \t"))
        if pos < len(text):
            return k, pos
    return instruction.last, len(lines[instruction.last])


def _rewrite(lines: list[str], plan: _Plan, escape: str) -> list[str]:
    """The new lines of the planned RUN; the command's own lines are kept as written."""
    ins = plan.instruction
    k, col = _command_start(lines, ins, escape)
    first = lines[ins.first]
    indent = first[: len(first) - len(first.lstrip())]
    inner = indent + _INDENT
    out = [indent + comment for comment in plan.comments]
    out.append(f"{indent}{ins.keyword} {plan.mounts[0]} {escape}")
    out += [f"{inner}{mount} {escape}" for mount in plan.mounts[1:]]
    for j in range(ins.first, k + 1):  # the step's own flags, one line each as written
        if j > ins.first and lines[j].lstrip().startswith("#"):
            out.append(lines[j])
            continue
        start = len(indent) + len(ins.keyword) if j == ins.first else 0
        own = lines[j][start:col] if j == k else _continuation(escape).sub(r"\1", lines[j][start:])
        if own.strip():
            out.append(f"{inner}{own.strip()} {escape}")
    command_indent = inner if k == ins.first or lines[k][:col].strip() else lines[k][:col]
    # The cache variables come first: the env file may override them (see render_env).
    prefix = [f"export {' '.join(plan.exports)};", steps.ENV_PREFIX]
    if plan.replacement is not None:  # the whole command, continuations joined
        tail = [command_indent + plan.replacement]
    elif plan.exec_words is not None:  # the JSON array was the rest of the instruction
        tail = [command_indent + plan.exec_words]
    else:
        tail = [command_indent + lines[k][col:], *lines[k + 1: ins.end]]
    if plan.in_heredoc is not None:
        at = plan.in_heredoc - k
        return out + tail[:at] + prefix + tail[at:]
    return out + [f"{command_indent}{line} {escape}" for line in prefix] + tail


def _shift_stage_numbers(lines: list[str], instruction: _Instruction, escape: str,
                         by: int) -> bool:
    """Add ``by`` to stage numbers in --from=N and --mount=...,from=N: stages now come first."""
    k, col = _command_start(lines, instruction, escape)
    changed = False
    for j in range(instruction.first, k + 1):
        end = col if j == k else len(lines[j])
        flags = re.sub(r"((?:^|[\s,=])(?:--)?from=)(\d+)(?=[\s,]|$)",
                       lambda m: f"{m.group(1)}{int(m.group(2)) + by}", lines[j][:end])
        changed |= flags != lines[j][:end]
        lines[j] = flags + lines[j][end:]
    return changed


def inject(text: str, *, mount_point: str = DEFAULT_MOUNT_POINT, uid: int | None = None,
           prefer_uv: bool = False, config: str = "context") -> InjectResult:
    """``text`` with the mirror, secrets and cache in every RUN that calls pip or uv.

    ``uid`` is the uid of steps whose USER the text does not give as a number
    (no USER, or a named one), as ``dockerpypi render --uid``. The output keeps
    the input's line endings (CRLF too, when the file is read with newline="").
    ``prefer_uv`` runs a step that is one plain ``pip install`` with uv when
    the image has uv (:mod:`.prefer_uv`). ``config`` is where the steps take
    their settings from, as ``steps.RunOptions.config``.
    """
    if not mount_point.startswith("/") or re.search(r"[\s,]", mount_point):
        raise UsageError(f"mount point {mount_point!r} must be an absolute path without blanks "
                         f"or commas, such as {DEFAULT_MOUNT_POINT}")
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = text[len(bom):].split("\n")
    crlf = lines[0].endswith("\r")
    lines = [line.removesuffix("\r") for line in lines]

    # Parser directives: `# name=value` lines at the very top, known names only.
    escape, start = "\\", 0
    while start < len(lines) and (match := _DIRECTIVE.fullmatch(lines[start])) \
            and match.group(1).lower() in ("syntax", "escape", "check"):
        if match.group(1).lower() == "escape":
            if match.group(2) not in ("\\", "`"):
                raise UsageError(f"line {start + 1}: escape directive {match.group(2)!r} is "
                                 "invalid: use \\ or `")
            escape = match.group(2)
        start += 1

    instructions = _parse(lines, start, escape)
    notes: list[str] = []
    plans: list[_Plan] = []
    stages: dict[str, _Stage] = {}
    stage = _Stage()
    named: set[str] = set()
    first_from = None
    numbered: list[_Instruction] = []  # may name a stage by number
    for position, ins in enumerate(instructions):
        verb, (flags, rest) = ins.keyword.upper(), _split_flags(ins.args)
        if verb == "FROM":
            words = rest.split()
            stage = _Stage(**vars(stages[words[0].lower()])) if words and words[0].lower() in \
                stages else _Stage()
            if len(words) >= 3 and words[1].lower() == "as":
                stages[words[2].lower()] = stage
                named.add(words[2].lower())
            if first_from is None:
                first_from = position
        elif verb == "USER":
            stage.user = rest.strip()
        elif verb == "SHELL" and (shell := _exec_form(rest)):
            stage.shell = shell
        if verb in ("COPY", "RUN") and any(re.search(r"(?:^--|[,=])from=\d+(?:,|$)", flag)
                                           for flag in flags):
            numbered.append(ins)
        if verb == "RUN" and (plan := _plan(ins, lines, stage, mount_point=mount_point, uid=uid,
                                            notes=notes, uv=prefer_uv, config=config)):
            if first_from is None:
                raise UsageError(f"line {ins.first + 1}: RUN before any FROM: this is not a "
                                 "Dockerfile BuildKit would build")
            plans.append(plan)

    if not plans:
        notes.append("no RUN step that calls pip or uv needs the mirror: the Dockerfile is "
                      "unchanged")
        return InjectResult(text, [], notes)

    changed = [plan.instruction.first + 1 for plan in plans]
    insert_at = None
    wanted = [steps.MIRROR_STAGE, *([steps.CONFIG_STAGE] if config == "context" else [])]
    missing = [name for name in wanted if name not in named]
    if missing:
        assert first_from is not None
        from_ins = instructions[first_from]
        floor = instructions[first_from - 1].end if first_from else start
        insert_at = from_ins.first
        while insert_at > floor and lines[insert_at - 1].lstrip().startswith("#"):
            insert_at -= 1  # keep the comments above the first FROM with it
        shown = " and ".join(missing) + (" stages" if len(missing) > 1 else " stage")
        notes.append(f"added the {shown} before line {insert_at + 1}")
        for ins in numbered:
            if _shift_stage_numbers(lines, ins, escape, len(missing)):
                changed.append(ins.first + 1)
                notes.append(f"line {ins.first + 1}: stage number in from= raised by "
                             f"{len(missing)}, as the {shown} now come first")

    replaced = {plan.instruction.first: plan for plan in plans}
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i == insert_at:
            out += [_STAGE_COMMENT.format(
                        "these stages" if len(missing) > 1 else "this stage",
                        " and its settings" if steps.CONFIG_STAGE in missing else ""),
                    *(f"FROM scratch AS {name}" for name in missing), ""]
        if i in replaced:
            out += _rewrite(lines, replaced[i], escape)
            i = replaced[i].instruction.end
        else:
            out.append(lines[i])
            i += 1
    return InjectResult(bom + ("\r\n" if crlf else "\n").join(out), sorted(set(changed)), notes)
