"""What a dockerpypi build step is made of: names, paths, ids, and the text of its mounts.

Pure constants and small pure functions, no I/O. ``dockerpypi render``
writes steps with them, ``--inject`` adds them to steps it did not write,
the subset and ``verify`` recognise them, and ``dockerpypi build`` supplies
what they name. A step that installs from the mirror gets, for itself only:

- the mirror: the ``pypi-mirror`` stage (:data:`MIRROR_STAGE`) bind-mounted
  read-only at the mount point;
- its settings, the files of :data:`STEP_FILES` in :data:`STEP_DIR`: by
  default the ``dockerpypi-config`` stage (:data:`CONFIG_STAGE`) bind-mounted
  there, or one build secret per file (see :data:`CONFIG_FORMS`);
- a rendered step: its requirements file from the build context, mounted
  under :data:`REQUIREMENTS_DIR`;
- a cache mount per installer it calls, under :data:`CACHE_ROOT`;
- a shell prefix: the cache variables, then :data:`SOURCE_ENV`.

:func:`step_setup` writes the mount flags and the prefix; the template of
``dockerpypi render`` prints them and ``--inject`` inserts them, so the two
cannot drift.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import NamedTuple

MIRROR_STAGE = "pypi-mirror"
# Where a step sees the mirror, unless the mount_point setting says otherwise.
DEFAULT_MOUNT_POINT = "/tmp/pypi"
# The stage a step bind-mounts its settings from (at STEP_DIR), when they do
# not come as build secrets.
CONFIG_STAGE = "dockerpypi-config"
# Where the step's settings come from: the CONFIG_STAGE build context, or
# build secrets. BuildKit (Engine 26) holds back a RUN with a secret mount
# that follows another step by about two seconds, mounted or not, so the
# context is the default; secrets remain for mirrors whose URLs carry
# credentials (a build context stays in the builder's cache) and for engines
# without named build contexts (Docker 20.10).
CONFIG_FORMS = ("context", "secrets")
# Everything dockerpypi mounts into a build step, apart from the mirror itself.
STEP_DIR = "/run/dockerpypi"
ENV_FILE = f"{STEP_DIR}/env"
REQUIREMENTS_DIR = f"{STEP_DIR}/requirements"
CACHE_ROOT = "/var/cache/dockerpypi"

# The shell text that sources the env file, first thing in a step's command
# after the cache variables.
SOURCE_ENV = f"if [ -f {ENV_FILE} ]; then . {ENV_FILE}; fi;"

# The installers dockerpypi configures, and whose calls make a step need the mirror.
# The lock file uv writes beside pyproject.toml, and reads in `uv sync`.
UV_LOCK = "uv.lock"
# The lock file PDM writes beside pyproject.toml, and reads in `pdm install` and `pdm sync`.
PDM_LOCK = "pdm.lock"
# The lock file Poetry writes beside pyproject.toml, and reads in `poetry install`.
POETRY_LOCK = "poetry.lock"
# The PEP 751 lock file (`pip install -r pylock.toml`, `uv pip sync pylock.toml`),
# by its default name; pylock.<name>.toml is one too (:func:`is_pylock_name`).
PYLOCK = "pylock.toml"
INSTALLERS = ("pip", "uv", "pdm")
# Pipenv: it runs pip with its own settings (no pip.conf), and takes the mirror
# from PIPENV_PYPI_MIRROR in the env file; a step that calls it needs the
# mirror too, and gets a cache mount for pipenv's cache (pip's, with its own
# manifests), which would otherwise land in the image.
PIPENV = "pipenv"
PIPFILE = "Pipfile"
PIPFILE_LOCK = "Pipfile.lock"
# Everything whose call makes a step need the mirror: the installers, and pipenv.
CALLED = (*INSTALLERS, PIPENV)
# What a rendered step runs (`render --installer`): "auto" runs uv when the
# image has it, pip otherwise. Not PDM: it installs a project from its lock,
# not a requirements file, so its steps are the project's own (`--inject`).
INSTALLER_CHOICES = ("auto", "pip", "uv")

# The files of a step's settings: name -> (secret id, file name inside STEP_DIR).
STEP_FILES = {
    "env": ("dockerpypi-env", "env"),
    "pip-conf": ("dockerpypi-pip-conf", "pip.conf"),
    "uv-toml": ("dockerpypi-uv-toml", "uv.toml"),
    "pydistutils": ("dockerpypi-pydistutils-cfg", "pydistutils.cfg"),
}

# What a step runs with instead of a cache mount, when no owner can be given
# to the mount (see step_setup).
# Pipenv has no such variable (it gives pip a cache directory of its own): it
# keeps its cache where it would without dockerpypi.
_NO_CACHE: dict[str, tuple[str, ...]] = {
    "pip": ("PIP_NO_CACHE_DIR=1",), "uv": ("UV_NO_CACHE=1",), "pdm": ("PDM_NO_CACHE=1",),
    PIPENV: ()}


def is_pylock_name(name: str) -> bool:
    """Whether ``name`` (a file name, no directory) is a PEP 751 lock's.

    ``pylock.toml``, or ``pylock.<name>.toml`` without a dot in ``<name>``:
    the names pip and uv take as a lock (``-r``) rather than a requirements file.
    """
    return name == PYLOCK or (name.startswith("pylock.") and name.endswith(".toml")
                              and len(name) > len("pylock..toml")
                              and "." not in name[len("pylock."):-len(".toml")])


def secret_id(name: str) -> str:
    """The build secret id of the step file ``name`` (a key of :data:`STEP_FILES`)."""
    return STEP_FILES[name][0]


def file_target(name: str) -> str:
    """Where the step file ``name`` (a key of :data:`STEP_FILES`) is in a step."""
    return f"{STEP_DIR}/{STEP_FILES[name][1]}"


def secret_mounts() -> list[tuple[str, str]]:
    """(secret id, target) of every file a step may get; a secret not supplied is skipped."""
    return [(secret_id(name), file_target(name)) for name in STEP_FILES]


def secret_ids() -> list[str]:
    """The build secret ids of the step files."""
    return [secret_id(name) for name in STEP_FILES]


def requirements_target(source: str) -> str:
    """Where a step sees the requirements file ``source`` of the build context."""
    return f"{REQUIREMENTS_DIR}/{PurePosixPath(source).name}"


def default_command(installer: str, requirements: str) -> str:
    """The command of a rendered step that installs ``requirements`` (a path in the step)."""
    quoted = shlex.quote(requirements)
    # `--python` with the python3 on PATH installs into an activated virtual
    # environment, or into the system interpreter without one (`--system`
    # would skip the virtual environment), as `python3 -m pip` does.
    uv = f'uv pip install --python "$(command -v python3)" -r {quoted}'
    pip = f"python3 -m pip install -r {quoted}"
    if installer == "uv":
        return uv
    if installer == "auto":
        return f"if command -v uv >/dev/null 2>&1; then {uv}; else {pip}; fi"
    return pip


class CacheMount(NamedTuple):
    """The cache mount of one installer: its id, where it is mounted, what points there."""

    id: str
    target: str
    variables: tuple[str, ...]


def cache_mount(installer: str, uid: int | None) -> CacheMount:
    """pip, uv or pipenv's cache for a step, kept out of the image in a cache mount."""
    target = f"{CACHE_ROOT}/{installer}"
    if installer == PIPENV:
        return CacheMount(f"dockerpypi-{installer}-{uid or 0}", target,
                          (f"PIPENV_CACHE_DIR={target}",))
    variables = (f"PIP_CACHE_DIR={target}",) if installer == "pip" else (
        f"PDM_CACHE_DIR={target}",) if installer == "pdm" else (
        f"UV_CACHE_DIR={target}",
        # The cache is another file system than the target: uv would try
        # hard links, warn, and copy anyway.
        "UV_LINK_MODE=copy",
    )
    return CacheMount(f"dockerpypi-{installer}-{uid or 0}", target, variables)


def owner_options(uid: int | None, gid: int | None) -> str:
    """The ``,uid=…,gid=…`` mount options for a non-root step ("" for root); gid defaults to uid."""
    if uid is None:
        return ""
    return f",uid={uid},gid={uid if gid is None else gid}"


class StepSetup(NamedTuple):
    """The ``--mount`` flags of a step, and the lines its command starts with."""

    mounts: list[str]
    prefix: list[str]


def step_setup(*, mount_point: str, config: str, installers: Iterable[str],
               uid: int | None = None, gid: int | None = None, user_known: bool = True,
               requirements: str | None = None) -> StepSetup:
    """What a step that calls ``installers`` needs, in the order `dockerpypi render` writes it.

    ``config`` is one of :data:`CONFIG_FORMS`; ``uid`` and ``gid`` own the
    secrets and the caches (None: root). ``user_known=False`` is a step whose
    user the caller cannot tell (a named ``USER``): its secrets are readable
    by all and it caches nothing, as no mount can be given to its user.
    ``requirements`` is the requirements file to mount from the build context.
    """
    if config not in CONFIG_FORMS:
        raise ValueError(f"config {config!r} is not one of {CONFIG_FORMS}")
    owner = owner_options(uid, gid)
    mounts = [f"--mount=type=bind,from={MIRROR_STAGE},target={mount_point},readonly"]
    if config == "context":
        # rw: a requirements file is mounted inside it, which needs a mount
        # point there; what the step writes is thrown away with the step.
        mounts.append(f"--mount=type=bind,from={CONFIG_STAGE},target={STEP_DIR},rw")
    if requirements is not None:
        mounts.append(f"--mount=type=bind,source={requirements},"
                      f"target={requirements_target(requirements)}")
    if config == "secrets":
        # Secrets are 0400 and root's by default: a non-root step gets them as
        # its own. For an unknown user they are readable by all (0444)
        # instead: the mounts exist only while the step runs, and every
        # process of the step runs as that user anyway.
        mode = ",mode=0400" if owner else ("" if user_known else ",mode=0444")
        mounts += [f"--mount=type=secret,id={secret},target={target}{owner}{mode}"
                   for secret, target in secret_mounts()]
    variables: list[str] = []
    for installer in installers:
        if user_known:
            cache = cache_mount(installer, uid)
            mounts.append(f"--mount=type=cache,id={cache.id},target={cache.target}{owner}")
            variables += cache.variables
        else:  # nothing lands in the image, at the cost of speed
            variables += _NO_CACHE[installer]
    # The cache variables come first: the env file may override them (see render_env).
    # (A step that calls no installer of INSTALLERS, a Poetry step, exports none:
    # a bare `export` would print the step's environment.)
    return StepSetup(mounts, [*([f"export {' '.join(variables)};"] if variables else []),
                              SOURCE_ENV])


# --- what an installer call is ----------------------------------------------
#
# A program name at the start of a shell word (start of text, after blank,
# ; & | ( ` ' or "), so calls after &&, ||, ; and inside sh -c '...' count.
# It may have a directory (/opt/venv/bin/pip) and options before the
# subcommand (pip -q install, uv --no-cache sync). Only subcommands that
# resolve from an index count: not pip --version, pip list or pip freeze.
# Text is not parsed as shell, so `echo pip install` matches too: the step then
# gets mounts it does not use, which is harmless. PDM's calls that ask an
# index count (install, sync, add, update, lock, build, self add/update);
# pipenv's that install or resolve count too (it reads PIPENV_PYPI_MIRROR
# from the env file); conda is not matched. Poetry reads neither pip's, uv's
# nor PDM's configuration: its `poetry install` and `poetry sync` are matched
# apart (:func:`poetry_called`), as the step gets copies of the project's
# files instead (:mod:`.poetry_steps`). The CALL_ pieces are public: :mod:`.uv_locks` builds its
# `uv sync` from them, and :mod:`.pylocks` its `pip install` and `uv pip
# install` from them.
CALL_START = r"(?:^|(?<=[\s;&|(`'\"]))"
CALL_DIR = r"(?:[^\s;&|()`'\"]*/)?"
CALL_OPTIONS = r"(?:\s+-[^\s;&|)]*)*"
# pip itself, as a program or a module (no pipx), up to its subcommand.
CALL_PIP = (rf"{CALL_DIR}(?:pip(?:3(?:\.\d+)?)?|python(?:\d(?:\.\d+)?)?['\"]?{CALL_OPTIONS}"
            rf"\s+-m\s*pip)['\"]?{CALL_OPTIONS}")
_PIP = rf"(?:{CALL_PIP}|{CALL_DIR}pipx['\"]?{CALL_OPTIONS})\s+(?:install|download|wheel)"
_UV = (rf"{CALL_DIR}(?:uv['\"]?{CALL_OPTIONS}\s+(?:pip\s+(?:install|sync|compile)|sync|add|lock"
       rf"|export|run|tool\s+(?:install|run|upgrade))|uvx)")
_PDM = (rf"{CALL_DIR}(?:pdm|python(?:\d(?:\.\d+)?)?['\"]?{CALL_OPTIONS}\s+-m\s*pdm)['\"]?"
        rf"{CALL_OPTIONS}\s+(?:install|sync|add|update|lock|build|self\s+(?:add|update))")
_PIPENV = (rf"{CALL_DIR}(?:pipenv|python(?:\d(?:\.\d+)?)?['\"]?{CALL_OPTIONS}\s+-m\s*pipenv)"
           rf"['\"]?{CALL_OPTIONS}\s+(?:install|sync|update|upgrade|lock)")


@functools.cache
def _call() -> re.Pattern[str]:
    # Compiled when first used: a `dockerpypi render` with the default
    # command never needs it.
    return re.compile(rf"{CALL_START}(?:(?P<pip>{_PIP})|(?P<uv>{_UV})|(?P<pdm>{_PDM})"
                      rf"|(?P<pipenv>{_PIPENV}))"
                      rf"(?=$|[\s;&|)`'\"])")


def installers_called(command: str) -> list[str]:
    """What of :data:`CALLED` (pip, uv, pipenv) ``command`` calls, by the rules above."""
    found = {match.lastgroup for match in _call().finditer(command)}
    return [name for name in CALLED if name in found]


# `poetry install` or `poetry sync` (also `python -m poetry ...`): the calls
# that install poetry.lock. Options may take a value (`-C DIR install`).
POETRY_OPTIONS = r"(?:\s+-[^\s;&|)]*(?:\s+[^-\s;&|)][^\s;&|)]*)?)*?"
_POETRY = (rf"{CALL_START}{CALL_DIR}(?:python(?:\d(?:\.\d+)?)?['\"]?{CALL_OPTIONS}\s+-m\s*)?"
           rf"poetry['\"]?(?P<options>{POETRY_OPTIONS})\s+(?:install|sync)(?=$|[\s;&|)`'\"])")


@functools.cache
def poetry_call() -> re.Pattern[str]:
    """A call of ``poetry install`` or ``poetry sync``, its options before the
    subcommand as the group ``options``."""
    return re.compile(_POETRY)


def poetry_called(command: str) -> bool:
    """Whether ``command`` installs a poetry.lock (``poetry install`` or ``poetry sync``)."""
    return poetry_call().search(command) is not None
