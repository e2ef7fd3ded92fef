"""How ``--inject`` rewrites one RUN step: the plan, before any line is written.

A RUN that calls pip, uv or Poetry gets what ``dockerpypi render`` writes
into its own steps (:func:`.vocabulary.step_setup`: the mounts and the shell
prefix), the comments and notes that say so, and, for a step that installs
a lock, the mirror's copy of it laid over the user's (:mod:`.lock_mounts`:
``uv sync`` and uv.lock in :mod:`.uv_locks`, pip and uv pip with a
pylock.toml in :mod:`.pylocks`, Poetry's pyproject.toml and poetry.lock in
:mod:`.poetry_steps`). :func:`plan_step` decides all of it from the step's
text and what its stage did before it (:class:`Stage`); :mod:`.inject`
walks the file and writes the planned steps. A case these rules cannot
handle safely is refused with a ``UsageError`` naming the line and the fix.
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
from .lock_mounts import Copy, Overlay
from .outranked import outranked_note, own_indexes
from .poetry_steps import COMMENT as POETRY_COMMENT
from .poetry_steps import PROJECT_FILES, project_overlay, server_prefix
from .prefer_uv import prefer_uv as _uv_form
from .pylocks import LOCK_COMMENT as PYLOCK_COMMENT
from .pylocks import pylock_overlays
from .uv_locks import LOCK_COMMENT, lock_overlays
from .vocabulary import (
    CACHE_ROOT,
    CONFIG_STAGE,
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
_UV_COMMENT = ("# dockerpypi --inject --prefer-uv: uv installs (the image's, or the mirror's "
               "mounted for this step), else the pip call as written")

# Shells that understand SOURCE_ENV (SHELL, or a heredoc's #! line).
_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
# A word of an exec-form RUN that means the same in shell form once quoted:
# no blank, quote, $, backquote or backslash (exec form never expands them,
# so the author's intent is unclear when they are there).
_PLAIN_WORD = re.compile(r"[^\s'\"$`\\]+")


@dataclass
class Stage:
    """What a stage's instructions before a RUN did that its plan depends on."""

    user: str | None = None  # argument of the stage's last USER, None before any
    shell: list[str] = field(default_factory=lambda: ["/bin/sh", "-c"])
    workdir: str | None = "/"  # None after a WORKDIR with a variable: unknown
    # What COPY and ADD took from the build context, in order.
    copies: tuple[Copy, ...] = ()


@dataclass(frozen=True)
class StepPlan:
    """How to rewrite one RUN: :func:`.inject.inject` writes it."""

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


def plan_step(instruction: Instruction, lines: list[str], stage: Stage, *, mount_point: str,
          uid: int | None, notes: list[str], uv: bool = False, config: str = "context",
          has_lock: Callable[[str, str], bool] | None = None,
          has_project: Callable[[str], bool] | None = None, serve: bool = True) -> StepPlan | None:
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
                notes.append(f"{where}: pip install runs with uv (the image's, or the "
                             "mirror's for this step only)")
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
                       uid=step_uid, gid=gid, user_known=known,
                       uv_binary=replacement is not None)
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
    return StepPlan(instruction, comments, setup, exec_words, in_heredoc, replacement, overlays,
                 project, serve and project is not None)
