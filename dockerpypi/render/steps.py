"""The Dockerfile lines ``dockerpypi render`` prints: a ``RUN`` step, and the stages.

They depend on structure alone (installer, requirements file, uid, mount
point), never on mirror URLs: the settings reach the step at build time, as
the ``dockerpypi-config`` build context by default or as build secrets
(``--secrets``), so a Dockerfile rendered once keeps working when the
mirrors change, and holds nothing worth hiding. What a step is made of comes
from :mod:`dockerpypi.dockerfile.vocabulary`; the text around it from the
templates (:mod:`.templates`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath
from typing import NamedTuple

from ..dockerfile.lock_mounts import LOCKS_STAGE, Overlay, overlay_mount
from ..dockerfile.vocabulary import (
    CONFIG_FORMS,
    CONFIG_STAGE,
    DEFAULT_MOUNT_POINT,
    INSTALLER_CHOICES,
    MIRROR_STAGE,
    UV_LOCK,
    default_command,
    installers_called,
    requirements_target,
    step_setup,
)
from ..errors import UsageError
from .templates import render_template

_CONTEXT_PATH = re.compile(r"^[A-Za-z0-9._/@+-]+$")
# `render --installer uv-sync`: the step of uv's Docker guide, `uv sync` of the
# project's uv.lock, which reads the lock's copy for the mirror (LOCKS_STAGE).
UV_SYNC = "uv-sync"
RENDER_INSTALLERS = (*INSTALLER_CHOICES, UV_SYNC)
UV_SYNC_COMMAND = ("uv", "sync", "--locked", "--no-install-project")
# A uv sync call, as a command after -- must be for --installer uv-sync.
_UV_SYNC_CALL = re.compile(r"(?:\S*/)?uv(?: -\S+)* sync(?: .*)?")


class RunOptions(NamedTuple):
    """What shapes a rendered ``RUN`` step (never a URL or a credential)."""

    installer: str = "auto"  # one of INSTALLER_CHOICES
    config: str = "context"  # one of CONFIG_FORMS
    requirements: str | None = "requirements.txt"
    command: tuple[str, ...] = ()
    uid: int | None = None
    gid: int | None = None
    mount_point: str = DEFAULT_MOUNT_POINT
    lock: str = UV_LOCK  # the build context's uv.lock, for UV_SYNC


def _check_context_path(path: str, option: str = "--requirements",
                        example: str = "requirements.txt") -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not _CONTEXT_PATH.match(path):
        raise UsageError(f"{option} {path!r} must be a path inside the build context "
                         f"(relative, no '..', no spaces or commas), such as {example}")
    return str(pure)


def _regenerate_command(options: RunOptions) -> str:
    words = ["dockerpypi", "render", "--installer", options.installer]
    if options.config == "secrets":
        words.append("--secrets")
    if options.installer == UV_SYNC:
        if options.lock != UV_LOCK:
            words += ["--lock", options.lock]
    elif options.requirements and (options.command
                                   or options.requirements != "requirements.txt"):
        words += ["--requirements", options.requirements]
    if options.mount_point != DEFAULT_MOUNT_POINT:
        words += ["--mount-point", options.mount_point]
    if options.uid is not None:
        words += ["--uid", str(options.uid)]
    if options.gid is not None and options.gid != options.uid:
        words += ["--gid", str(options.gid)]
    if options.command:
        words += ["--", *options.command]
    return shlex.join(words)


def render_run(options: RunOptions) -> str:
    """A ``RUN`` step that installs with the mirror, for appending to a Dockerfile."""
    if options.installer not in RENDER_INSTALLERS:
        raise UsageError(f"--installer {options.installer!r} is not supported: use "
                         + ", ".join(RENDER_INSTALLERS))
    if options.installer == UV_SYNC:
        return _render_uv_sync(options)
    source = _check_context_path(options.requirements) if options.requirements else None
    if options.command:
        command = shlex.join(options.command)
    elif source:
        command = default_command(options.installer, requirements_target(source))
    else:
        raise UsageError("nothing to install: give --requirements FILE or a command after --")

    if options.config not in CONFIG_FORMS:
        raise UsageError(f"settings from {options.config!r} are not supported: use "
                         + " or ".join(CONFIG_FORMS))
    installers: tuple[str, ...] = (options.installer,)
    if options.installer == "auto":
        # The caches of the installers the step calls: pip's and uv's for the
        # default command, which picks one when it runs.
        called = installers_called(command) if options.command else []
        installers = tuple(called) or INSTALLER_CHOICES[1:]
    setup = step_setup(mount_point=options.mount_point, config=options.config,
                       installers=installers, uid=options.uid, gid=options.gid,
                       requirements=source)
    return render_template(
        "run.Dockerfile.j2",
        stage=MIRROR_STAGE,
        config_stage=CONFIG_STAGE if options.config == "context" else None,
        mounts=setup.mounts,
        prefix=setup.prefix,
        command=command,
        regenerate=_regenerate_command(options),
        locks_stage=None,
        lock=None,
    )


def _render_uv_sync(options: RunOptions) -> str:
    """The guide's ``uv sync`` step: pyproject.toml bind-mounted, and uv.lock's copy for the
    mirror from :data:`LOCKS_STAGE` (targets in the ``WORKDIR``, as the guide writes them)."""
    lock = _check_context_path(options.lock, "--lock", UV_LOCK)
    if PurePosixPath(lock).name != UV_LOCK:
        raise UsageError(f"--lock {lock!r} is not a {UV_LOCK}: give the path of the project's "
                         f"{UV_LOCK} in the build context")
    command = shlex.join(options.command or UV_SYNC_COMMAND)
    if not _UV_SYNC_CALL.fullmatch(command):
        raise UsageError(f"--installer {UV_SYNC} runs uv sync, not {command}: give a `uv sync` "
                         "command after --, or none")
    if options.config not in CONFIG_FORMS:
        raise UsageError(f"settings from {options.config!r} are not supported: use "
                         + " or ".join(CONFIG_FORMS))
    setup = step_setup(mount_point=options.mount_point, config=options.config,
                       installers=("uv",), uid=options.uid, gid=options.gid)
    pyproject = str(PurePosixPath(lock).with_name("pyproject.toml"))
    mounts = [*setup.mounts, f"--mount=type=bind,source={pyproject},target=pyproject.toml",
              overlay_mount(Overlay(UV_LOCK, lock, UV_LOCK))]
    return render_template(
        "run.Dockerfile.j2",
        stage=MIRROR_STAGE,
        config_stage=CONFIG_STAGE if options.config == "context" else None,
        mounts=mounts,
        prefix=setup.prefix,
        command=command,
        regenerate=_regenerate_command(options),
        locks_stage=LOCKS_STAGE,
        lock=lock,
    )


def render_stage(*, syntax: str | None = None) -> str:
    """The empty ``pypi-mirror`` and ``dockerpypi-config`` stages that let plain
    ``docker build`` work."""
    return render_template("stage.Dockerfile.j2", stage=MIRROR_STAGE, config_stage=CONFIG_STAGE,
                           syntax=syntax,
                           regenerate="dockerpypi render stage" + (" --syntax" if syntax else ""))
