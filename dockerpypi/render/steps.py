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

from ..dockerfile.vocabulary import (
    CONFIG_FORMS,
    CONFIG_STAGE,
    DEFAULT_MOUNT_POINT,
    INSTALLER_CHOICES,
    MIRROR_STAGE,
    default_command,
    installers_called,
    requirements_target,
    step_setup,
)
from ..errors import UsageError
from .templates import render_template

_CONTEXT_PATH = re.compile(r"^[A-Za-z0-9._/@+-]+$")


class RunOptions(NamedTuple):
    """What shapes a rendered ``RUN`` step (never a URL or a credential)."""

    installer: str = "auto"  # one of INSTALLER_CHOICES
    config: str = "context"  # one of CONFIG_FORMS
    requirements: str | None = "requirements.txt"
    command: tuple[str, ...] = ()
    uid: int | None = None
    gid: int | None = None
    mount_point: str = DEFAULT_MOUNT_POINT


def _check_context_path(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not _CONTEXT_PATH.match(path):
        raise UsageError(f"--requirements {path!r} must be a path inside the build context "
                         "(relative, no '..', no spaces or commas), such as requirements.txt")
    return str(pure)


def _regenerate_command(options: RunOptions) -> str:
    words = ["dockerpypi", "render", "--installer", options.installer]
    if options.config == "secrets":
        words.append("--secrets")
    if options.requirements and (options.command or options.requirements != "requirements.txt"):
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
    if options.installer not in INSTALLER_CHOICES:
        raise UsageError(f"--installer {options.installer!r} is not supported: use "
                         + ", ".join(INSTALLER_CHOICES))
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
    )


def render_stage(*, syntax: str | None = None) -> str:
    """The empty ``pypi-mirror`` and ``dockerpypi-config`` stages that let plain
    ``docker build`` work."""
    return render_template("stage.Dockerfile.j2", stage=MIRROR_STAGE, config_stage=CONFIG_STAGE,
                           syntax=syntax,
                           regenerate="dockerpypi render stage" + (" --syntax" if syntax else ""))
