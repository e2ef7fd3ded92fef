"""The temporary config files of a build step: pip.conf, uv.toml, .pydistutils.cfg, env.

They hold the mirror URLs (and their credentials, if any); a step gets them
in ``/run/dockerpypi`` for itself only, from the ``dockerpypi-config`` build
context (:func:`config_context`) or as build secrets (:func:`config_files`),
and the env file it sources selects the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import NamedTuple

from ..dockerfile.vocabulary import file_target, secret_id
from ..mirror.filenames import SDIST_SUFFIXES
from ..settings.model import Settings
from ..settings.urls import MirrorURL
from .templates import render_template

# Index-selecting variables that a base image may set with ENV; they would beat
# the config files (pip and uv both rank variables above files). Checked
# against pip 26's options and uv 0.13's variables: the indexes, the pages of
# links (find-links, which pip merges with the indexes and uv asks too), the
# PyTorch index uv picks for torch packages (UV_TORCH_BACKEND), and what
# makes uv skip its config file (UV_NO_CONFIG). UV_CONFIG_FILE and
# PIP_CONFIG_FILE are set by the file itself.
SHADOWING_VARIABLES = (
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_FIND_LINKS",
    "PIP_TRUSTED_HOST",
    "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_NO_INDEX",
    "UV_FIND_LINKS", "UV_INDEX_STRATEGY", "UV_TORCH_BACKEND", "UV_NO_CONFIG",
    "PIPENV_PYPI_MIRROR",
    # PDM_PYPI_URL is exported; these would send the image's credentials to
    # the mirror, or drop the mirror (stored indexes include PDM_PYPI_URL's).
    "PDM_PYPI_USERNAME", "PDM_PYPI_PASSWORD", "PDM_IGNORE_STORED_INDEX",
)
# pip's commands that ask an index: a section of one in any pip.conf outranks
# [global], so pip.conf names the mirror in each (see templates/pip.conf.j2).
PIP_INDEX_SECTIONS = ("install", "download", "wheel", "index", "lock")


class ConfigFile(NamedTuple):
    """One temporary file of a build step: its secret id, where it is mounted, its text."""

    name: str  # a key of dockerfile.vocabulary.STEP_FILES
    secret_id: str
    target: str
    content: str


def _no_credentials(settings: Settings) -> bool:
    """Whether no index URL of ``settings``, used or not, carries credentials.

    Only then may a rendering be kept in the cache directory.
    """
    return all(index.credentials is None
               for index in (*settings.mirrors.value, settings.public_index.value))


def _url(mirror: MirrorURL, redact: bool) -> str:
    return mirror.with_credentials(redact=redact)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def render_pip_conf(settings: Settings, *, redact: bool = False) -> str:
    indexes = settings.indexes
    return render_template(
        "pip.conf.j2",
        keep=_no_credentials(settings),
        index_url=_url(indexes[0], redact),
        extra_index_urls=[_url(m, redact) for m in indexes[1:]],
        command_sections=PIP_INDEX_SECTIONS,
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
    return render_template("uv.toml.j2", keep=_no_credentials(settings), indexes=indexes)


def render_pydistutils(settings: Settings, *, redact: bool = False) -> str:
    mirror = settings.easy_install_index
    return render_template(
        "pydistutils.cfg.j2",
        keep=_no_credentials(settings),
        index_url=_url(mirror, redact),
        allow_hosts=mirror.netloc if not mirror.is_local else "",
    )


def render_env(settings: Settings, *, uv_cache: bool = True, redact: bool = False) -> str:
    """The shell file a build step sources to select the other files for itself.

    ``uv_cache=False`` (see :func:`uv_cache_pays`) turns uv's cache mount off
    for the step: the file is sourced after the cache variables are set.
    PDM's index comes as a variable, credentials and all (``redact`` hides them).
    """
    exports: list[tuple[str, str]] = []
    installers = settings.installers.value
    if "pip" in installers:
        exports.append(("PIP_CONFIG_FILE", file_target("pip-conf")))
        if settings.mirrors.value:
            # Pipenv runs pip without pip.conf, with its Pipfile's indexes; this
            # replaces the public index among them (one URL: the first mirror).
            exports.append(("PIPENV_PYPI_MIRROR", _url(settings.mirrors.value[0], redact)))
    if "uv" in installers:
        exports.append(("UV_CONFIG_FILE", file_target("uv-toml")))
        # uv takes timeouts and retries only from the environment; its timeout
        # is a whole number of seconds, so round up rather than lose it.
        if settings.timeout.value is not None:
            exports.append(("UV_HTTP_TIMEOUT", str(math.ceil(settings.timeout.value))))
        if settings.retries.value is not None:
            exports.append(("UV_HTTP_RETRIES", str(settings.retries.value)))
    if "pdm" in installers:
        exports += _pdm_exports(settings, redact)
    if settings.easy_install.value:
        # setuptools' distutils reads this file after the usual ones.
        exports.append(("DIST_EXTRA_CONFIG", file_target("pydistutils")))
    return render_template("env.sh.j2", keep=_no_credentials(settings),
                           unset=SHADOWING_VARIABLES, exports=exports,
                           indexes=[str(index) for index in settings.indexes],
                           uv_cache=uv_cache or "uv" not in installers)


def _pdm_exports(settings: Settings, redact: bool) -> list[tuple[str, str]]:
    """PDM's settings for the step: its variables outrank every config file.

    PDM takes one index from its settings (``pypi.url``), so it gets the
    first: the mirror. It skips a plain-http index on a host other than
    loopback unless that index is trusted, which ``verify_ssl = false`` does.
    Its check for a newer PDM would ask the index for nothing the build needs.
    """
    first = settings.indexes[0]
    exports = [("PDM_PYPI_URL", _url(first, redact)), ("PDM_CHECK_UPDATE", "false")]
    if first.is_plain_http:
        exports.append(("PDM_PYPI_VERIFY_SSL", "false"))
    if settings.timeout.value is not None:  # whole seconds, as uv's
        exports.append(("PDM_REQUEST_TIMEOUT", str(math.ceil(settings.timeout.value))))
    return exports


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
    return any(name.endswith(SDIST_SUFFIXES) for name in mirror_files)


def config_files(settings: Settings, *, redact: bool = False,
                 uv_cache: bool = True) -> list[ConfigFile]:
    """Every temporary file a build step gets (as files of the context, or as secrets)."""
    texts = {"env": render_env(settings, uv_cache=uv_cache, redact=redact)}
    if "pip" in settings.installers.value:
        texts["pip-conf"] = render_pip_conf(settings, redact=redact)
    if "uv" in settings.installers.value:
        texts["uv-toml"] = render_uv_toml(settings, redact=redact)
    if settings.easy_install.value:
        texts["pydistutils"] = render_pydistutils(settings, redact=redact)
    return [ConfigFile(name, secret_id(name), file_target(name), text)
            for name, text in texts.items()]


def config_context(files: Sequence[ConfigFile]) -> dict[str, str]:
    """The files of the ``dockerpypi-config`` build context: relative path -> text.

    ``requirements/`` holds a placeholder because a step mounts its
    requirements file inside ``/run/dockerpypi``, and a mount point must exist.
    """
    context = {PurePosixPath(file.target).name: file.content for file in files}
    context["requirements/.keep"] = ""
    return context
