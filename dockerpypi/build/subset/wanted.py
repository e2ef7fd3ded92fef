"""What a build installs from the mirror, and the machines it runs on.

Read from the build's Dockerfile (:func:`dockerpypi.dockerfile.steps.read_steps`
finds the requirements files its steps mount), the requirements files in
the build context, the lock files its other steps install (:mod:`.locks`),
and the platforms: ``--platform``, ``FROM --platform``, or the builder's
own, as the build's engine probe reported it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement

from ...dockerfile.steps import UnreadableSteps, read_steps
from ..command import dockerfile_path
from ..engine import default_platform
from . import CannotTell
from .closure import Locked
from .locks import step_locks

if TYPE_CHECKING:
    from ..command import DockerArgs
    from ..engine import EngineInfo

# docker's architecture names (with variant) as Python's platform.machine()
# and the wheel platform tags spell them.
_MACHINES = {
    "amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64",
    "arm64/v8": "aarch64", "arm/v7": "armv7l", "arm": "armv7l", "arm/v6": "armv6l",
    "386": "i686", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}
# Options a requirements file may hold that cannot change which files are used.
_HARMLESS_OPTIONS = ("--pre", "--prefer-binary", "--only-binary", "--require-hashes")
# pip takes a "name" that ends like an archive for a file next to the requirements.
_ARCHIVE = re.compile(r"\.(whl|zip|tar|tgz|tar\.gz|tar\.bz2|tar\.xz)$", re.IGNORECASE)


@dataclass(frozen=True)
class Wanted:
    """What a build installs from the mirror, and where it runs."""

    # Each requirement with the requirements file it was written in (for messages).
    requirements: tuple[tuple[Requirement, str], ...]
    machines: tuple[str, ...]  # as platform.machine() spells them: "x86_64"
    sources: dict[str, str]  # the requirements and lock files read (relative path: text)
    locked: tuple[Locked, ...] = ()  # what the steps that install lock files read


def read_build(given: DockerArgs, engine: EngineInfo | None) -> Wanted:
    """What the build ``given`` installs from the mirror, and its machines.

    ``engine`` is the build's engine probe (None: no engine answered), for
    the builder's platform when the build names none.
    """
    path = dockerfile_path(given)
    context = given.local_path
    if path is None or context is None or not Path(context).is_dir():
        raise CannotTell("the Dockerfile or the build context is not a local directory")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CannotTell(f"cannot read {path} ({error})") from None
    try:
        steps = read_steps(text)
    except UnreadableSteps as reason:
        raise CannotTell(str(reason)) from None
    requirements: list[tuple[Requirement, str]] = []
    texts: dict[str, str] = {}
    for source in dict.fromkeys(steps.requirements):
        try:
            content = (Path(context) / source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CannotTell(f"cannot read the requirements file {source} ({error})") from None
        texts[source] = content
        requirements += [(req, source) for req in parse_requirements(content, source)]
    locked: list[Locked] = []
    for step in steps.others:
        found = step_locks(Path(context), step)
        if found is None:
            raise CannotTell(f"{step.where}: a step with a custom command installs from the "
                             "mirror")
        locked += found.locked
        texts.update(found.sources)
    if not requirements and not locked:
        raise CannotTell(f"{', '.join(dict.fromkeys(steps.requirements))} names no requirement")
    return Wanted(tuple(requirements), target_machines(given, steps.platforms, engine), texts,
                  tuple(locked))


def parse_requirements(text: str, origin: str) -> list[Requirement]:
    """The requirements in a requirements file; CannotTell for anything but names from an index."""
    found: list[Requirement] = []
    logical: list[tuple[int, str]] = []
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            first = number
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1]
            continue
        logical.append((first, pending + raw))
        pending = ""
    if pending:
        logical.append((first, pending))
    for number, raw in logical:
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        where = f"{origin} line {number}"
        if not line:
            continue
        if "${" in line:
            raise CannotTell(f"{where}: {line} holds a variable")
        if line.startswith("-"):
            option = line.split()[0].split("=", 1)[0]
            if option in _HARMLESS_OPTIONS:
                continue
            raise CannotTell(f"{where}: the option {option} may bring files dockerpypi cannot "
                             "follow")
        words = line.split()
        spec: list[str] = []
        position = 0
        while position < len(words) and not words[position].startswith("--"):
            spec.append(words[position])
            position += 1
        while position < len(words):  # per-requirement options: only hashes
            option = words[position]
            if option == "--hash":
                position += 2
            elif option.startswith("--hash="):
                position += 1
            else:
                raise CannotTell(f"{where}: the option {option} is not understood here")
        try:
            requirement = Requirement(" ".join(spec))
        except InvalidRequirement:
            raise CannotTell(f"{where}: {line} is not a name from an index (a path, an URL or "
                             "an editable install)") from None
        if requirement.url or _ARCHIVE.search(requirement.name):
            raise CannotTell(f"{where}: {requirement.name} is a file or an URL, not a name "
                             "from the index")
        found.append(requirement)
    return found


# --- the machines ------------------------------------------------------------

def machine_of(platform: str) -> str:
    """``linux/arm64`` → ``aarch64``; CannotTell for anything but Linux on a known machine."""
    os_name, _, arch = platform.strip().lower().partition("/")
    machine = _MACHINES.get(arch) or _MACHINES.get(arch.split("/")[0]) if arch else None
    if os_name != "linux" or machine is None:
        raise CannotTell(f"the platform {platform} is not one dockerpypi knows wheels for")
    return machine


def builder_platform(builder: str | None, engine: EngineInfo | None) -> str:
    """The platform the builder builds for by default (its first platform).

    ``builder`` is the build's ``--builder`` (None: the selected one, which
    the engine probe ``engine`` asked about); CannotTell when docker did not say.
    """
    platform = default_platform(engine, builder)
    if not platform:
        raise CannotTell("docker did not say which platform the builder builds for")
    return platform


def target_machines(given: DockerArgs, from_platforms: Iterable[str],
                    engine: EngineInfo | None) -> tuple[str, ...]:
    """The machines the build's steps run on: --platform, FROM --platform, or the builder's
    (from ``engine``, the build's engine probe, unless ``--builder`` names another)."""
    asked = [p for value in given.values("--platform") for p in value.split(",") if p.strip()]
    builders = given.values("--builder")
    builder = builders[-1] if builders else None
    platforms = asked or [builder_platform(builder, engine)]
    for value in from_platforms:
        if value in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
            continue
        if value in ("$BUILDPLATFORM", "${BUILDPLATFORM}"):
            platforms.append(builder_platform(builder, engine))
        elif "$" in value:
            raise CannotTell(f"a stage is FROM --platform={value}, which dockerpypi cannot "
                             "evaluate")
        else:
            platforms.append(value)
    return tuple(dict.fromkeys(machine_of(p) for p in platforms))
