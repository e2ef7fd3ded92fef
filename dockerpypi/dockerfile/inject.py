"""``dockerpypi build --inject``: give the mirror to a Dockerfile not written for dockerpypi.

``inject(text)`` is a pure text transformation. Every ``RUN`` that calls pip
or uv gets what ``dockerpypi render`` writes into its own steps: the
``pypi-mirror`` bind mount, the settings (the ``dockerpypi-config`` bind
mount, or the secret files with ``config="secrets"``), a cache mount and the
shell prefix that sources the env file; a step that installs a lock also
gets the mirror's copy of it (:mod:`.lock_mounts`): ``uv sync`` the uv.lock
it reads (:mod:`.uv_locks`), pip and uv pip the pylock.toml
(:mod:`.pylocks`), Poetry its pyproject.toml and poetry.lock
(:mod:`.poetry_steps`). What one step gets is planned by :mod:`.step_plans`;
this module follows each stage through the file, writes the planned steps
and gives the file the stages it mounts from when it has none. The caller
writes the result to a temporary file; the user's file is never modified.

What a line is follows BuildKit's own parser (:mod:`.grammar`); what an
installer call is comes from one regular expression
(:func:`.vocabulary.installers_called`), not from a shell parser; the mounts
and the prefix are the ones `dockerpypi render` writes
(:func:`.vocabulary.step_setup`). A case these rules cannot handle safely is
refused with a ``UsageError`` naming the line and the fix, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import UsageError
from . import grammar
from .grammar import Instruction
from .lock_mounts import LOCKS_STAGE, copied, next_workdir, overlay_mount
from .poetry_steps import overlay_mounts
from .step_plans import COMMENT as COMMENT  # re-exported: what a changed step says
from .step_plans import Stage, StepPlan, plan_step
from .vocabulary import CONFIG_STAGE, DEFAULT_MOUNT_POINT, MIRROR_STAGE, UV_STAGE

_STAGE_COMMENT = "# dockerpypi --inject: `dockerpypi build` fills {} with the mirror{}"
_INDENT = "    "  # as in `dockerpypi render`


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


def _rewrite(lines: list[str], plan: StepPlan, escape: str) -> list[str]:
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
    plans: list[StepPlan] = []
    stages: dict[str, Stage] = {}
    stage = Stage()
    named: set[str] = set()
    first_from = None
    numbered: list[Instruction] = []  # may name a stage by number
    for position, ins in enumerate(instructions):
        verb, (flags, rest) = ins.keyword.upper(), grammar.split_flags(ins.args)
        if verb == "FROM":
            words = rest.split()
            stage = Stage(**vars(stages[words[0].lower()])) if words and words[0].lower() in \
                stages else Stage()
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
        if verb == "RUN" and (plan := plan_step(ins, lines, stage, mount_point=mount_point, uid=uid,
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
              *([LOCKS_STAGE] if locks or projects else []),
              *([UV_STAGE] if any(plan.replacement is not None for plan in plans) else [])]
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
