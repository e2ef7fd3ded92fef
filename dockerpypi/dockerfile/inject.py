"""``dockerpypi build --inject``: give the mirror to a Dockerfile not written for dockerpypi.

``inject(text)`` is a pure text transformation. Every ``RUN`` that calls pip
or uv gets what ``dockerpypi render`` writes into its own steps: the
``pypi-mirror`` bind mount, the settings (the ``dockerpypi-config`` bind
mount, or the secret files with ``config="secrets"``), a cache mount and the
shell prefix that sources the env file; a step that installs a lock also
gets the mirror's copy of it (:mod:`.lock_mounts`): ``uv sync`` the uv.lock
it reads (:mod:`.uv_locks`), pip and uv pip the pylock.toml
(:mod:`.pylocks`). The file gets the
stages it mounts from when it has none. The caller writes the result to a temporary file; the
user's file is never modified.

What a line is follows BuildKit's own parser (:mod:`.grammar`); what an
installer call is comes from one regular expression
(:func:`.vocabulary.installers_called`), not from a shell parser; the mounts
and the prefix are the ones `dockerpypi render` writes
(:func:`.vocabulary.step_setup`). A case these rules cannot handle safely is
refused with a ``UsageError`` naming the line and the fix, never guessed.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import UsageError
from . import grammar
from .grammar import Instruction
from .lock_mounts import LOCKS_STAGE, Copy, Overlay, copied, next_workdir, overlay_mount
from .outranked import outranked_note, own_indexes
from .poetry_steps import COMMENT as POETRY_COMMENT
from .poetry_steps import PROJECT_FILES, overlay_mounts, project_overlay, server_prefix
from .prefer_uv import prefer_uv as _uv_form
from .pylocks import LOCK_COMMENT as PYLOCK_COMMENT
from .pylocks import pylock_overlays
from .uv_locks import LOCK_COMMENT, lock_overlays
from .vocabulary import (
    CACHE_ROOT,
    CONFIG_STAGE,
    DEFAULT_MOUNT_POINT,
    MIRROR_STAGE,
    PYLOCK,
    SOURCE_ENV,
    STEP_DIR,
    UV_LOCK,
    StepSetup,
    installers_called,
    poetry_called,
    secret_id,
    secret_ids,
    step_setup,
)

COMMENT = "# dockerpypi --inject: mirror, secrets and cache added for this step"
_EXEC_COMMENT = ("# dockerpypi --inject: exec form rewritten as shell form (same words), "
                 "so the step can source the mirror settings")
_HEREDOC_COMMENT = ("# dockerpypi --inject: the heredoc script sources the mirror settings "
                    "in its first lines")
_UV_COMMENT = ("# dockerpypi --inject --prefer-uv: uv installs when the image has it, "
               "else the pip call as written")
_STAGE_COMMENT = "# dockerpypi --inject: `dockerpypi build` fills {} with the mirror{}"
_INDENT = "    "  # as in `dockerpypi render`

# Shells that understand SOURCE_ENV (SHELL, or a heredoc's #! line).
_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
# A word of an exec-form RUN that means the same in shell form once quoted:
# no blank, quote, $, backquote or backslash (exec form never expands them,
# so the author's intent is unclear when they are there).
_PLAIN_WORD = re.compile(r"[^\s'\"$`\\]+")


@dataclass(frozen=True)
class InjectResult:
    """The new Dockerfile text (the input itself when nothing changed) and what was done."""

    text: str
    changed_lines: list[int]  # 1-based input line of each instruction that changed
    notes: list[str]  # one line each, for a person
    # The lock files of the build context (relative paths) that the steps
    # mount from LOCKS_STAGE, rewritten for the mirror: {path: kind}, the
    # kind a vocabulary.UV_LOCK or PYLOCK.
    locks: dict[str, str] = field(default_factory=dict)
    # The Poetry project directories of the build context (relative paths)
    # whose pyproject.toml and poetry.lock the steps mount from LOCKS_STAGE.
    projects: list[str] = field(default_factory=list)


@dataclass
class _Stage:
    user: str | None = None  # argument of the stage's last USER, None before any
    shell: list[str] = field(default_factory=lambda: ["/bin/sh", "-c"])
    workdir: str | None = "/"  # None after a WORKDIR with a variable: unknown
    # What COPY and ADD took from the build context, in order.
    copies: tuple[Copy, ...] = ()


@dataclass(frozen=True)
class _Plan:
    instruction: Instruction
    comments: list[str]
    setup: StepSetup  # the mounts and the prefix
    exec_words: str | None  # exec form: the shell-form command replacing it
    in_heredoc: int | None  # RUN <<EOF: index of the line to put the prefix before
    replacement: str | None = None  # --prefer-uv: the command replacing the step's own
    overlays: list[Overlay] = field(default_factory=list)  # the locks mounted over the step's
    poetry: tuple[str, str] | None = None  # Poetry: (project in the context, directory)
    serve: bool = False  # Poetry: the step starts the mirror's loopback server


def _owner(user: str | None, uid: int | None) -> tuple[int | None, int | None, bool]:
    """(uid, gid, known) the step's mounts belong to.

    A numeric USER is used as written (gid = uid unless a numeric group is
    given). No USER means root, or ``uid`` when the caller knows better: root
    reads and writes files of any owner, so the mounts still work for it. A
    named USER (or one with a variable) cannot be resolved from the text: ``uid``
    is used when given, else the step is "unknown" and gets secrets with
    mode 0444 and no cache mount (see :func:`.vocabulary.step_setup`).
    """
    if user is None:
        return uid, None, True
    name, _, group = user.partition(":")
    if name in ("root", "0"):
        return None, None, True
    if name.isdigit():
        return int(name), int(group) if group.isdigit() else None, True
    return uid, None, uid is not None


def _under(path: str, directory: str) -> bool:
    path = posixpath.normpath(path)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _plan(instruction: Instruction, lines: list[str], stage: _Stage, *, mount_point: str,
          uid: int | None, notes: list[str], uv: bool = False, config: str = "context",
          has_lock: Callable[[str, str], bool] | None = None,
          has_project: Callable[[str], bool] | None = None, serve: bool = True) -> _Plan | None:
    """How to rewrite one RUN; None to leave it alone; UsageError when it cannot be done."""
    where = f"line {instruction.first + 1}"
    flags, command = grammar.split_flags(instruction.args)
    words = grammar.exec_form(command)
    bodies = "\n".join(lines[instruction.last + 1: instruction.end])
    installers = installers_called(" ".join(words) if words is not None else
                                   f"{command}\n{bodies}")
    poetry = poetry_called(" ".join(words) if words is not None else f"{command}\n{bodies}")
    if not installers and not poetry:
        return None
    if options := own_indexes(" ".join(words) if words is not None else f"{command}\n{bodies}"):
        notes.append(outranked_note(where, options))
    mounts = [grammar.mount_options(flag) for flag in flags if flag.startswith("--mount=")]
    if (any((m["type"] == "secret" and m.get("id") == secret_id("env"))
            or (m["type"] == "bind" and m.get("from", "").lower() == CONFIG_STAGE)
            for m in mounts) and SOURCE_ENV in f"{command}\n{bodies}"):
        notes.append(f"{where}: already set up for dockerpypi, left as it is")
        return None
    for mount in mounts:
        target = grammar.mount_target(mount)
        if mount["type"] == "secret" and mount.get("id") in secret_ids():
            raise UsageError(f"{where}: RUN already mounts the secret {mount['id']}, which "
                             "dockerpypi supplies: remove that --mount from the step")
        for ours in (mount_point, STEP_DIR, CACHE_ROOT):
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
    overlays: list[Overlay] = []
    if has_lock is not None:
        text = " ".join(words) if words is not None else f"{command}\n{bodies}"
        if "uv" in installers:
            overlays += lock_overlays(text, mounts, workdir=stage.workdir, copies=stage.copies,
                                      where=where, notes=notes, has_lock=has_lock)
        overlays += pylock_overlays(text, mounts, workdir=stage.workdir, copies=stage.copies,
                                    where=where, notes=notes, has_lock=has_lock)
    project = None if has_project is None or not poetry else project_overlay(
        " ".join(words) if words is not None else f"{command}\n{bodies}", mounts,
        workdir=stage.workdir, copies=stage.copies, where=where, notes=notes,
        has_project=has_project)
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
    elif (instruction.heredocs and grammar.HEREDOC_WORD.fullmatch(command)
          and len(command.split()) == 1):
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
    # A named USER: no uid to give the secrets and the cache (see step_setup).
    setup = step_setup(mount_point=mount_point, config=config, installers=installers,
                       uid=step_uid, gid=gid, user_known=known)
    if not known:
        comments.append(f"# dockerpypi --inject: USER {stage.user} is a name, so the secrets are "
                        "mode 0444 and nothing is cached; write USER <uid> or pass --uid")
        notes.append(f"{where}: USER {stage.user} is a name, not a uid: secrets readable by all "
                     "users for this step and no cache; write USER <uid> or pass --uid")
    if words is not None:
        notes.append(f"{where}: exec-form RUN rewritten as shell form with the same words")
    if replacement is not None:
        comments.append(_UV_COMMENT)
    uv_sync = [overlay.target for overlay in overlays if overlay.kind == UV_LOCK]
    if uv_sync:
        comments.append(LOCK_COMMENT)
        notes.append(f"{where}: uv sync reads {', '.join(uv_sync)} with the mirror as its index")
    pylocks = [overlay.target for overlay in overlays if overlay.kind == PYLOCK]
    if pylocks:
        comments.append(PYLOCK_COMMENT)
        notes.append(f"{where}: {', '.join(pylocks)} is read with its files in the mirror")
    if project is not None:
        comments.append(POETRY_COMMENT)
        notes.append(f"{where}: poetry reads {' and '.join(PROJECT_FILES)} in {project[1]} with "
                     "the mirror as their source")
        if serve:
            setup = StepSetup(setup.mounts, [*setup.prefix, server_prefix(mount_point)])
    return _Plan(instruction, comments, setup, exec_words, in_heredoc, replacement, overlays,
                 project, serve and project is not None)


def _rewrite(lines: list[str], plan: _Plan, escape: str) -> list[str]:
    """The new lines of the planned RUN; the command's own lines are kept as written."""
    ins = plan.instruction
    k, col = grammar.command_start(lines, ins, escape)
    first = lines[ins.first]
    indent = first[: len(first) - len(first.lstrip())]
    inner = indent + _INDENT
    out = [indent + comment for comment in plan.comments]
    mounts, prefix = plan.setup.mounts, plan.setup.prefix
    out.append(f"{indent}{ins.keyword} {mounts[0]} {escape}")
    out += [f"{inner}{mount} {escape}" for mount in mounts[1:]]
    for j in range(ins.first, k + 1):  # the step's own flags, one line each as written
        if j > ins.first and lines[j].lstrip().startswith("#"):
            out.append(lines[j])
            continue
        start = len(indent) + len(ins.keyword) if j == ins.first else 0
        own = lines[j][start:col] if j == k else \
            grammar.continuation(escape).sub(r"\1", lines[j][start:])
        if own.strip():
            out.append(f"{inner}{own.strip()} {escape}")
    # After the step's own mounts: of two mounts at one target, BuildKit uses the last.
    out += [f"{inner}{overlay_mount(overlay)} {escape}" for overlay in plan.overlays]
    if plan.poetry is not None:
        out += [f"{inner}{mount} {escape}" for mount in overlay_mounts(*plan.poetry, plan.serve)]
    command_indent = inner if k == ins.first or lines[k][:col].strip() else lines[k][:col]
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


def _shift_stage_numbers(lines: list[str], instruction: Instruction, escape: str,
                         by: int) -> bool:
    """Add ``by`` to stage numbers in --from=N and --mount=...,from=N: stages now come first."""
    k, col = grammar.command_start(lines, instruction, escape)
    changed = False
    for j in range(instruction.first, k + 1):
        end = col if j == k else len(lines[j])
        flags = re.sub(r"((?:^|[\s,=])(?:--)?from=)(\d+)(?=[\s,]|$)",
                       lambda m: f"{m.group(1)}{int(m.group(2)) + by}", lines[j][:end])
        changed |= flags != lines[j][:end]
        lines[j] = flags + lines[j][end:]
    return changed


def inject(text: str, *, mount_point: str = DEFAULT_MOUNT_POINT, uid: int | None = None,
           prefer_uv: bool = False, config: str = "context",
           has_lock: Callable[[str, str], bool] | None = None,
           has_project: Callable[[str], bool] | None = None,
           serve_poetry: bool = True) -> InjectResult:
    """``text`` with the mirror, its settings and a cache in every RUN that calls pip or uv.

    ``uid`` is the uid of steps whose USER the text does not give as a number
    (no USER, or a named one), as ``dockerpypi render --uid``. The output keeps
    the input's line endings (CRLF too, when the file is read with newline="").
    ``prefer_uv`` runs a step that is one plain ``pip install`` with uv when
    the image has uv (:mod:`.prefer_uv`). ``config`` is where the steps take
    their settings from, one of :data:`.vocabulary.CONFIG_FORMS`.

    ``has_lock(kind, path)`` tells whether the build context holds a lock of
    that kind (:data:`.vocabulary.UV_LOCK`, :data:`.vocabulary.PYLOCK`) at a
    relative path that the mirror can serve; given, a step reading such a lock
    (``uv sync`` its uv.lock, pip or uv pip a pylock.toml; bind-mounted, or
    COPYed) gets the :data:`.lock_mounts.LOCKS_STAGE` copy mounted over it
    (listed in :attr:`InjectResult.locks`). None leaves lock files alone.
    ``has_project`` does the same for the directories of Poetry projects
    (:mod:`.poetry_steps`, listed in :attr:`InjectResult.projects`), whose
    steps start the mirror's loopback server when ``serve_poetry``.
    """
    if not mount_point.startswith("/") or re.search(r"[\s,]", mount_point):
        raise UsageError(f"mount point {mount_point!r} must be an absolute path without blanks "
                         f"or commas, such as {DEFAULT_MOUNT_POINT}")
    source = grammar.split_lines(text)
    lines = list(source.lines)  # a copy: the stage numbers are changed in place
    directives = grammar.read_directives(lines)
    escape, start = directives.escape, directives.end
    instructions = grammar.parse_instructions(lines, start, escape)
    notes: list[str] = []
    plans: list[_Plan] = []
    stages: dict[str, _Stage] = {}
    stage = _Stage()
    named: set[str] = set()
    first_from = None
    numbered: list[Instruction] = []  # may name a stage by number
    for position, ins in enumerate(instructions):
        verb, (flags, rest) = ins.keyword.upper(), grammar.split_flags(ins.args)
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
        elif verb == "WORKDIR":
            stage.workdir = next_workdir(stage.workdir, rest)
        elif verb in ("COPY", "ADD"):
            stage.copies = stage.copies + copied(stage.workdir, flags, rest)
        elif verb == "SHELL" and (shell := grammar.exec_form(rest)):
            stage.shell = shell
        if verb in ("COPY", "RUN") and any(re.search(r"(?:^--|[,=])from=\d+(?:,|$)", flag)
                                           for flag in flags):
            numbered.append(ins)
        if verb == "RUN" and (plan := _plan(ins, lines, stage, mount_point=mount_point, uid=uid,
                                            notes=notes, uv=prefer_uv, config=config,
                                            has_lock=has_lock, has_project=has_project,
                                            serve=serve_poetry)):
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
    locks = {overlay.source: overlay.kind for plan in plans for overlay in plan.overlays}
    projects = list(dict.fromkeys(plan.poetry[0] for plan in plans if plan.poetry is not None))
    wanted = [MIRROR_STAGE, *([CONFIG_STAGE] if config == "context" else []),
              *([LOCKS_STAGE] if locks or projects else [])]
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
                        " and its settings" if CONFIG_STAGE in missing else ""),
                    *(f"FROM scratch AS {name}" for name in missing), ""]
        if i in replaced:
            out += _rewrite(lines, replaced[i], escape)
            i = replaced[i].instruction.end
        else:
            out.append(lines[i])
            i += 1
    return InjectResult(source.join(out), sorted(set(changed)), notes, locks, projects)
