"""Rendering of the temporary config files and the Dockerfile lines.

Every text comes from a Jinja2 template in ``templates/`` (shipped inside the
wheel as ``dockerpypi/templates``). The functions here only compute what the
templates show.

The Dockerfile lines depend on structure alone (installer, requirements file,
uid, mount point), never on mirror URLs: the mirror settings reach the build
step as secrets at build time, so a Dockerfile rendered once keeps working when
the mirrors change, and holds nothing worth hiding.
"""

from __future__ import annotations

import functools
import json
import math
import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import __version__
from ..errors import UsageError
from ..settings.resolve import DEFAULT_MOUNT_POINT, Settings
from ..settings.urls import MirrorURL

if TYPE_CHECKING:
    import jinja2

MIRROR_STAGE = "pypi-mirror"
# The stage a step bind-mounts its settings from (at STEP_DIR), when they do
# not come as build secrets: see RunOptions.config.
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
CACHE_ROOT = "/var/cache/dockerpypi"

# Index-selecting variables that a base image may set with ENV; they would beat
# the config files (pip and uv both rank variables above files).
_SHADOWING_VARIABLES = (
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_TRUSTED_HOST",
    "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_NO_INDEX",
    "UV_INDEX_STRATEGY", "UV_NO_CONFIG",
)


class ConfigFile(NamedTuple):
    """One temporary file of a build step: its secret id, where it is mounted, its text.

    (A named tuple, not a frozen dataclass: see "records" in dockerpypi/_entry.py.)
    """

    name: str
    secret_id: str
    target: str
    content: str


# name → (secret id, file name inside STEP_DIR)
_FILES = {
    "env": ("dockerpypi-env", "env"),
    "pip-conf": ("dockerpypi-pip-conf", "pip.conf"),
    "uv-toml": ("dockerpypi-uv-toml", "uv.toml"),
    "pydistutils": ("dockerpypi-pydistutils-cfg", "pydistutils.cfg"),
}


def _target(name: str) -> str:
    return f"{STEP_DIR}/{_FILES[name][1]}"


def _template_dirs() -> list[str]:
    here = Path(__file__).resolve().parent.parent
    # Installed wheel: dockerpypi/templates. Checkout or editable install:
    # the repository's top-level templates/.
    candidates = [here / "templates", here.parent / "templates"]
    return [str(path) for path in candidates if path.is_dir()]


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes), which is why
    # no TOML writer is needed for the few strings the uv file holds.
    return json.dumps(value)


# What the compiled templates depend on besides their source: a cached
# compilation made under other options must not be reused.
_ENVIRONMENT_OPTIONS: dict[str, Any] = {
    "keep_trailing_newline": True,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "autoescape": False,  # config files and Dockerfiles, not HTML
}


@functools.cache
def _environment() -> jinja2.Environment:
    # jinja2 is imported here, not at the top: `dockerpypi --version` and the
    # commands that render nothing should not pay for it.
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_template_dirs()),
        undefined=jinja2.StrictUndefined,
        bytecode_cache=_bytecode_cache(),
        **_ENVIRONMENT_OPTIONS,
    )
    env.filters["toml_string"] = _toml_string
    env.filters["sh_quote"] = shlex.quote
    return env


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the user's cache directory between runs.

    Compiling the templates is a large share of a `dockerpypi render`; jinja2
    checks each cached compilation against the template's source (and this
    against the options above and jinja2's version), so an edited template is
    compiled again. An unwritable cache directory only means no cache.
    """
    import contextlib
    import hashlib

    import jinja2

    from ..caches import TEMPLATES, ensure_cache_dir

    directory = ensure_cache_dir(TEMPLATES.name)
    if directory is None:
        return None
    salt = f"{jinja2.__version__} {sorted(_ENVIRONMENT_OPTIONS.items())}"

    class _Cache(jinja2.FileSystemBytecodeCache):
        def get_source_checksum(self, source: str) -> str:
            return hashlib.sha1(f"{salt}\n{source}".encode(), usedforsecurity=False).hexdigest()

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            # Read-only or full: the next run compiles again.
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    return _Cache(str(directory), "%s.jinja2-cache")


# The templates whose output holds no secret: the Dockerfile lines depend on
# structure alone. Their renderings are kept in the user's cache directory, so
# that a repeated `dockerpypi render` does not import jinja2 at all (the
# largest part of its start-up). The config files are kept the same way only
# when no URL in the settings carries credentials (``keep``): a password must
# never land in a cache file.
_KEPT_TEMPLATES = frozenset({"run.Dockerfile.j2", "stage.Dockerfile.j2"})


def _render(template: str, keep: bool = False, **context: object) -> str:
    context = {"version": __version__, **context}
    keep = keep or template in _KEPT_TEMPLATES
    key = _kept_key(template, context) if keep else None
    if key is not None:
        from ..caches import RENDERS, memo_get

        kept = memo_get(RENDERS.name, key)
        if kept is not None:
            return kept
    text = _render_now(template, context)
    if key is not None:
        from ..caches import RENDERS, memo_put

        memo_put(RENDERS.name, key, text)
    return text


def _no_credentials(settings: Settings) -> bool:
    """Whether no index URL of ``settings``, used or not, carries credentials."""
    return all(index.credentials is None
               for index in (*settings.mirrors.value, settings.public_index.value))


def _render_now(template: str, context: dict[str, object]) -> str:
    import jinja2

    try:
        loaded = _environment().get_template(template)
    except jinja2.TemplateNotFound:
        raise UsageError(f"template {template} is missing from the installation "
                         f"(looked in {', '.join(_template_dirs()) or 'nowhere'}): "
                         "reinstall dockerpypi") from None
    return loaded.render(**context)


def _kept_key(template: str, context: dict[str, object]) -> str | None:
    """What a kept rendering depends on, as one string; None when that cannot be told.

    The context, and the state of everything that turns it into text
    (:func:`_renderer_stamps`).
    """
    stamps = _renderer_stamps()
    if stamps is None:
        return None
    text = json.dumps([template, context, stamps], sort_keys=True, default=repr)
    # A repr that shows an address changes every run: keeping it would only fill the file.
    return None if " at 0x" in text else text


@functools.cache
def _renderer_stamps() -> tuple[object, ...] | None:
    """The template files, this module (the environment and its filters), jinja2 and
    MarkupSafe as installed, and Python, by size and modification time: editing,
    reinstalling or upgrading any of them changes the key, and a changed key is
    simply a miss. Once a process: a build renders several files.
    """
    import importlib.util
    import sys

    files = [Path(__file__)]
    for directory in _template_dirs():
        files += sorted(Path(directory).glob("*.j2"))
    for package in ("jinja2", "markupsafe"):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            return None
        files.append(Path(spec.origin))
    stamps: list[object] = []
    for path in files:
        try:
            status = path.stat()
        except OSError:
            return None
        stamps.append((str(path), status.st_mtime_ns, status.st_size))
    return (*stamps, sys.version)


def _url(mirror: MirrorURL, redact: bool) -> str:
    return mirror.with_credentials(redact=redact)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- config files -------------------------------------------------------------

def render_pip_conf(settings: Settings, *, redact: bool = False) -> str:
    indexes = settings.indexes
    return _render(
        "pip.conf.j2",
        keep=_no_credentials(settings),
        index_url=_url(indexes[0], redact),
        extra_index_urls=[_url(m, redact) for m in indexes[1:]],
        trusted_hosts=settings.trusted_hosts,
        retries=settings.retries.value,
        timeout=None if settings.timeout.value is None else _number(settings.timeout.value),
    )


def render_uv_toml(settings: Settings, *, redact: bool = False) -> str:
    indexes = []
    for position, mirror in enumerate(settings.mirrors.value, start=1):
        indexes.append({"name": f"mirror-{position}", "url": _url(mirror, redact)})
    if settings.uses_public_index:
        indexes.append({"name": "public", "url": _url(settings.public_index.value, redact)})
    # Offline needs nothing more: the public index is simply absent. uv's own
    # `offline = true` would add no safety and make uv blame its cache, not
    # the mirror, for a missing package.
    return _render("uv.toml.j2", keep=_no_credentials(settings), indexes=indexes)


def render_pydistutils(settings: Settings, *, redact: bool = False) -> str:
    mirror = settings.easy_install_index
    return _render(
        "pydistutils.cfg.j2",
        keep=_no_credentials(settings),
        index_url=_url(mirror, redact),
        allow_hosts=mirror.netloc if not mirror.is_local else "",
    )


def render_env(settings: Settings, *, uv_cache: bool = True) -> str:
    """The shell file a build step sources to select the other files for itself.

    ``uv_cache=False`` (see :func:`uv_cache_pays`) turns uv's cache mount off
    for the step: the file is sourced after the cache variables are set.
    """
    exports: list[tuple[str, str]] = []
    installers = settings.installers.value
    if "pip" in installers:
        exports.append(("PIP_CONFIG_FILE", _target("pip-conf")))
    if "uv" in installers:
        exports.append(("UV_CONFIG_FILE", _target("uv-toml")))
        # uv takes timeouts and retries only from the environment; its timeout
        # is a whole number of seconds, so round up rather than lose it.
        if settings.timeout.value is not None:
            exports.append(("UV_HTTP_TIMEOUT", str(math.ceil(settings.timeout.value))))
        if settings.retries.value is not None:
            exports.append(("UV_HTTP_RETRIES", str(settings.retries.value)))
    if settings.easy_install.value:
        # setuptools' distutils reads this file after the usual ones.
        exports.append(("DIST_EXTRA_CONFIG", _target("pydistutils")))
    return _render("env.sh.j2", keep=_no_credentials(settings), unset=_SHADOWING_VARIABLES,
                   exports=exports, indexes=[str(index) for index in settings.indexes],
                   uv_cache=uv_cache or "uv" not in installers)


# What a source distribution's file name ends with (PEP 625 and the older forms).
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar", ".tar.xz")


def uv_cache_pays(settings: Settings, mirror_files: Iterable[str]) -> bool:
    """Whether uv's cache mount can save a step anything.

    Not when every index is the local mirror and the mirror (``mirror_files``,
    the names of what the step is sent) holds no source distribution: then
    there is nothing to download and nothing to build, and unpacking the
    wheels again beats copying them out of the cache mount (the benchmark's
    warm uv build took twice as long with the cache as without).
    """
    if not settings.indexes or not all(index.is_local for index in settings.indexes):
        return True
    return any(name.endswith(_SDIST_SUFFIXES) for name in mirror_files)


def config_files(settings: Settings, *, redact: bool = False,
                 uv_cache: bool = True) -> list[ConfigFile]:
    """Every temporary file a build step gets, as build secrets."""
    texts = {"env": render_env(settings, uv_cache=uv_cache)}
    if "pip" in settings.installers.value:
        texts["pip-conf"] = render_pip_conf(settings, redact=redact)
    if "uv" in settings.installers.value:
        texts["uv-toml"] = render_uv_toml(settings, redact=redact)
    if settings.easy_install.value:
        texts["pydistutils"] = render_pydistutils(settings, redact=redact)
    return [ConfigFile(name, _FILES[name][0], _target(name), text) for name, text in texts.items()]


# --- Dockerfile lines ---------------------------------------------------------

_CONTEXT_PATH = re.compile(r"^[A-Za-z0-9._/@+-]+$")


# The shell text that sources the env file, first thing in a build step.
# run.Dockerfile.j2 spells the same text (tests/test_inject.py checks that).
ENV_PREFIX = f"if [ -f {ENV_FILE} ]; then . {ENV_FILE}; fi;"


class CacheMount(NamedTuple):
    """The cache mount of one installer: its id, where it is mounted, what points there.

    (A named tuple, not a frozen dataclass: see "records" in dockerpypi/_entry.py.)
    """

    id: str
    target: str
    variables: tuple[str, ...]


def cache_mount(installer: str, uid: int | None) -> CacheMount:
    """pip or uv's cache for a step, kept out of the image in a cache mount."""
    target = f"{CACHE_ROOT}/{installer}"
    variables = (f"PIP_CACHE_DIR={target}",) if installer == "pip" else (
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


def secret_mounts() -> list[tuple[str, str]]:
    """(secret id, target) of every file a step may get; a secret not supplied is skipped."""
    return [(_FILES[name][0], _target(name)) for name in _FILES]


class RunOptions(NamedTuple):
    """What shapes a rendered ``RUN`` step (never a URL or a credential).

    (A named tuple, not a frozen dataclass: see "records" in dockerpypi/_entry.py.)
    """

    installer: str = "auto"  # one of INSTALLERS
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


# What `render --installer` accepts: "auto" runs uv when the image has it, pip otherwise.
INSTALLERS = ("auto", "pip", "uv")


def _default_command(installer: str, requirements: str) -> str:
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
    if options.installer not in INSTALLERS:
        raise UsageError(f"--installer {options.installer!r} is not supported: use "
                         + ", ".join(INSTALLERS))
    requirements = None
    if options.requirements:
        source = _check_context_path(options.requirements)
        requirements = {"source": source,
                        "target": f"{STEP_DIR}/requirements/{PurePosixPath(source).name}"}
    if options.command:
        command = shlex.join(options.command)
    elif requirements:
        command = _default_command(options.installer, requirements["target"])
    else:
        raise UsageError("nothing to install: give --requirements FILE or a command after --")

    if options.config not in CONFIG_FORMS:
        raise UsageError(f"settings from {options.config!r} are not supported: use "
                         + " or ".join(CONFIG_FORMS))
    owner = owner_options(options.uid, options.gid)
    secrets = [{"id": secret_id, "target": target} for secret_id, target in secret_mounts()
               ] if options.config == "secrets" else []
    installers: tuple[str, ...] = (options.installer,)
    if options.installer == "auto":
        # The caches of the installers the step calls: both for the default
        # command, which picks one when it runs.
        from ..dockerfile.inject import installers_called

        called = installers_called(command) if options.command else []
        installers = tuple(called) or ("pip", "uv")
    return _render(
        "run.Dockerfile.j2",
        stage=MIRROR_STAGE,
        mount_point=options.mount_point,
        # rw: the requirements file is mounted inside it, which needs a mount
        # point there; what the step writes is thrown away with the step.
        config_stage=CONFIG_STAGE if options.config == "context" else None,
        step_dir=STEP_DIR,
        requirements=requirements,
        secrets=secrets,
        # Secrets are 0400 root by default: a non-root USER could not read them.
        secret_owner=owner + (",mode=0400" if owner else ""),
        caches=[cache_mount(installer, options.uid) for installer in installers],
        cache_owner=owner,
        env_file=ENV_FILE,
        command=command,
        regenerate=_regenerate_command(options),
    )


def render_stage(*, syntax: str | None = None) -> str:
    """The empty ``pypi-mirror`` and ``dockerpypi-config`` stages that let plain
    ``docker build`` work."""
    return _render("stage.Dockerfile.j2", stage=MIRROR_STAGE, config_stage=CONFIG_STAGE,
                   syntax=syntax,
                   regenerate="dockerpypi render stage" + (" --syntax" if syntax else ""))


def config_context(files: Sequence[ConfigFile]) -> dict[str, str]:
    """The files of the CONFIG_STAGE build context: relative path -> text.

    ``requirements/`` holds a placeholder because a step mounts its
    requirements file inside STEP_DIR, and a mount point must exist.
    """
    context = {PurePosixPath(file.target).name: file.content for file in files}
    context["requirements/.keep"] = ""
    return context


def secret_ids() -> Sequence[str]:
    return [secret_id for secret_id, _ in _FILES.values()]
