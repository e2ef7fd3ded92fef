"""The merge: each setting from the strongest source that gives it, and what it overrode.

Sources, strongest first (:mod:`.sources` reads them): command-line flags,
``DOCKERPYPI_*`` variables, the diskimage-builder variables, a
``[tool.dockerpypi]`` table in ``pyproject.toml`` or a ``dockerpypi.toml``
in the build context, and the defaults. Every field is resolved on its own:
the strongest source that gives a value wins, and the values it overrode are
kept for ``config`` to show.

Nothing here runs at import; :func:`resolve_settings` reads when asked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..dockerfile.vocabulary import DEFAULT_MOUNT_POINT, INSTALLERS
from ..engines import AUTO
from ..errors import DockerPypiWarning, NoMirrorConfigured, SettingsError
from . import dib
from .model import NAMES, SOURCE_DEFAULT, Override, Settings, Sourced, display_value
from .public_index import public_index_url
from .sources import Candidate, dib_candidates, env_candidates, file_candidates, flag_candidates
from .urls import MirrorURL, parse_mirror_url

DEFAULT_CACHE_ROOT = "~/.cache/image-create"


def resolve_settings(
    flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    context_dir: Path | str | None = None,
) -> Settings:
    """Resolve every setting from its sources.

    ``flags`` maps field names to command-line values (``None`` or ``()`` for
    "not given"); ``environ`` defaults to :data:`os.environ`; ``context_dir``
    is where ``dockerpypi.toml`` or ``pyproject.toml`` is looked for (the
    build context, else the current directory).
    """
    environ = os.environ if environ is None else environ
    context = Path(context_dir) if context_dir is not None else Path.cwd()
    layers: list[dict[str, Candidate]] = [flag_candidates(flags or {})]
    warnings: list[DockerPypiWarning] = []
    for read in (env_candidates, dib_candidates):
        found, said = read(environ)
        layers.append(found)
        warnings += said
    found, said = file_candidates(context)
    layers.append(found)
    warnings += said

    resolved: dict[str, Sourced[Any]] = {}

    def resolve(name: str, default: Candidate) -> None:
        chain = [layer[name] for layer in layers if name in layer] + [default]
        winner = chain[0]
        value = winner.parse(winner.raw, winner.origin)
        overridden = tuple(Override(c.source, _shown(c)) for c in chain[1:-1])
        resolved[name] = Sourced(value, winner.source, overridden)

    # The mount point first: the default mirror URL is made from it.
    placeholder = _defaults(DEFAULT_MOUNT_POINT)
    resolve("mount_point", placeholder["mount_point"])
    defaults = _defaults(resolved["mount_point"].value)
    for name in NAMES:
        if name != "mount_point":
            resolve(name, defaults[name])

    if resolved["mirrors"].source == SOURCE_DEFAULT:
        warnings.append(NoMirrorConfigured(
            f"no mirror is configured ({dib.BASE}, DOCKERPYPI_MIRRORS or --index-url): "
            f"using the local mirror {resolved['mirrors'].value[0]}"))
    return Settings(**resolved, warnings=tuple(warnings))


def _defaults(mount_point: str) -> dict[str, Candidate]:
    def fixed(value: object) -> Candidate:
        return Candidate(SOURCE_DEFAULT, value, lambda raw, origin: raw, "default")

    home_cache = Path(DEFAULT_CACHE_ROOT).expanduser()
    return {
        "mirrors": fixed((MirrorURL(f"file://{mount_point}"),)),
        "public_fallback": fixed(True),
        # Looked up only when no source names another: see public_index.py.
        "public_index": Candidate(SOURCE_DEFAULT, None,
                                  lambda raw, origin: parse_mirror_url(public_index_url(),
                                                                       origin=origin),
                                  "the public index"),
        "offline": fixed(False),
        "retries": fixed(None),
        "timeout": fixed(None),
        "mirror_dir": fixed(home_cache / "pypi" / "mirror"),
        "mount_point": fixed(DEFAULT_MOUNT_POINT),
        "installers": fixed(INSTALLERS),
        "easy_install": fixed(False),
        "container_engine": fixed(AUTO),
    }


def _shown(candidate: Candidate) -> str:
    """A value for display, credentials redacted even when the value is invalid."""
    try:
        value = candidate.parse(candidate.raw, candidate.origin)
    except SettingsError:
        return "<invalid>"
    return display_value(value)
