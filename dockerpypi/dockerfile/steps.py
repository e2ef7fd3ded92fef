"""Which requirements files a Dockerfile installs from the mirror, read from its text.

The ``RUN`` steps that bind-mount the ``pypi-mirror`` stage must be the steps
``dockerpypi render`` writes: a requirements file of the build context
mounted under ``/run/dockerpypi/requirements/``, the env file sourced, and
the default pip or uv command. A step with another command (``uv sync``
of a lock file, say) is handed over as it is (:class:`OtherStep`): whether
its command reads a lock file the subset can follow is the subset's to say
(:mod:`dockerpypi.build.subset.locks`). Anything else that reaches the
mirror (a ``COPY --from=pypi-mirror``, a stage built on it) makes what the
build installs unknowable from the text: :class:`UnreadableSteps` says
where. Pure text; the build's subset (:mod:`dockerpypi.build.subset`) reads
the files and decides what to send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..errors import UserMessageError
from . import grammar
from .vocabulary import (
    INSTALLER_CHOICES,
    MIRROR_STAGE,
    REQUIREMENTS_DIR,
    SOURCE_ENV,
    default_command,
)

# The frontends whose syntax this module reads: docker/dockerfile, any tag.
_OWN_FRONTEND = re.compile(r"(docker\.io/)?docker/dockerfile(:|$|@)")


class UnreadableSteps(Exception):
    """Why what a Dockerfile installs from the mirror cannot be told from its text."""


@dataclass(frozen=True)
class OtherStep:
    """A step that uses the mirror with a command of its own (not a rendered requirements step).

    ``command`` is what it runs after the prefix dockerpypi writes (the cache
    variables and the sourced env file), blanks made single; None when the
    step does not source the env file or runs a heredoc (nothing to follow).
    ``binds`` are its bind mounts of files: (the stage or context it binds
    from, "" for the build context; ``source``; ``target``).
    """

    where: str  # "line N"
    command: str | None
    binds: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class MirrorSteps:
    """What the steps that use the mirror install, and the platforms the stages are FROM."""

    requirements: list[str]  # each step's requirements file, a path in the build context
    platforms: set[str]  # the values of FROM --platform=
    others: list[OtherStep] = field(default_factory=list)  # steps with commands of their own


def read_steps(text: str) -> MirrorSteps:
    """The requirements files of the dockerpypi steps in ``text`` and the platforms of FROM."""
    try:
        lines = grammar.split_lines(text).lines
        directives = grammar.read_directives(lines)
        value = directives.values.get("syntax")
        if value is not None and not _OWN_FRONTEND.match(value):
            raise UnreadableSteps(f"the Dockerfile asks for the frontend {value}, whose syntax "
                                  "dockerpypi does not read")
        instructions = grammar.parse_instructions(lines, directives.end, directives.escape)
    except UserMessageError as error:  # the build will say more
        raise UnreadableSteps(f"the Dockerfile does not parse ({error})") from None
    sources: list[str] = []
    platforms: set[str] = set()
    others: list[OtherStep] = []
    for ins in instructions:
        where = f"line {ins.first + 1}"
        verb = ins.keyword.upper()
        flags, rest = grammar.split_flags(ins.args)
        if verb == "FROM":
            words = rest.lower().split()
            if words and words[0] == MIRROR_STAGE:
                raise UnreadableSteps(f"{where}: a stage is built FROM {MIRROR_STAGE}")
            platforms.update(flag.split("=", 1)[1] for flag in flags
                             if flag.lower().startswith("--platform="))
            continue
        if verb != "RUN":
            if MIRROR_STAGE in ins.args.lower():
                raise UnreadableSteps(f"{where}: {ins.keyword} uses {MIRROR_STAGE} other than "
                                      "through a dockerpypi RUN step")
            continue
        mounts = [grammar.mount_options(flag) for flag in flags if flag.startswith("--mount=")]
        if any("$" in mount.get("from", "") for mount in mounts):
            raise UnreadableSteps(f"{where}: a RUN mount takes from= a variable")
        mirror = [m for m in mounts if m.get("from", "").lower() == MIRROR_STAGE]
        if not mirror:
            if MIRROR_STAGE in ins.args.lower():
                raise UnreadableSteps(f"{where}: RUN names {MIRROR_STAGE} other than in a bind "
                                      "mount")
            continue
        if any(m["type"] != "bind" or m.get("source") or m.get("src") for m in mirror):
            raise UnreadableSteps(f"{where}: RUN mounts {MIRROR_STAGE} in a way dockerpypi does "
                                  "not write (not a whole bind mount)")
        found = _step_sources(where, rest, mounts, bool(ins.heredocs))
        if isinstance(found, OtherStep):
            others.append(found)
        else:
            sources += found
    if not sources and not others:
        raise UnreadableSteps(f"no RUN step installs a requirements file from {MIRROR_STAGE} "
                              "(dockerpypi render writes those)")
    return MirrorSteps(sources, platforms, others)


def _step_sources(where: str, command: str, mounts: list[dict[str, str]],
                  heredoc: bool) -> list[str] | OtherStep:
    """The requirements sources of one RUN that uses the mirror if it is a rendered step,
    else the step as an :class:`OtherStep`."""
    requirements = {}
    for mount in mounts:
        target = grammar.mount_target(mount)
        if mount["type"] == "bind" and target.startswith(REQUIREMENTS_DIR + "/"):
            source = mount.get("source") or mount.get("src") or ""
            path = PurePosixPath(source)
            if mount.get("from") or not source or path.is_absolute() or ".." in path.parts \
                    or "$" in source:
                raise UnreadableSteps(f"{where}: the requirements mount "
                                      f"{source or '(no source)'} is not a plain file of the "
                                      "build context")
            requirements[target] = str(path)
    rest = " ".join(command.split())
    prefix = " ".join(SOURCE_ENV.split())
    # The cache exports and the env file, in either order (steps rendered
    # before 0.2 source the file first).
    sourced = False
    for _ in range(2):
        if rest.startswith(prefix):
            rest, sourced = rest.removeprefix(prefix).strip(), True
        elif rest.startswith("export ") and ";" in rest:
            rest = rest.split(";", 1)[1].strip()
    defaults = {" ".join(default_command(installer, target).split()): source
                for target, source in requirements.items() for installer in INSTALLER_CHOICES}
    if heredoc or not sourced or rest not in defaults:
        binds = tuple((m.get("from", ""), m.get("source") or m.get("src") or "",
                       grammar.mount_target(m)) for m in mounts if m["type"] == "bind")
        return OtherStep(where, rest if sourced and not heredoc else None, binds)
    return [defaults[rest]]
