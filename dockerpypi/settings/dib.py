"""The environment contract inherited from diskimage-builder's ``pypi`` element.

This module only reads variables; what they mean for the settings is decided in
:mod:`dockerpypi.settings.sources`. Each quirk of the element that dockerpypi improves
is marked ``improves:`` below, matching ``shared/spec/dib-pypi.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

BASE = "DIB_PYPI_MIRROR_URL"
LEGACY_BASE = "PYPI_MIRROR_URL"
OFFLINE = "DIB_OFFLINE"
NO_PYPI_PIP = "DIB_NO_PYPI_PIP"
RETRIES = "DIB_PIP_RETRIES"
IMAGE_CACHE = "DIB_IMAGE_CACHE"

_MIRROR_NAME = re.compile(rf"^(?:{BASE}|{LEGACY_BASE})(?:_(?P<number>[0-9]+))?$")


@dataclass(frozen=True)
class DibEnvironment:
    """What the diskimage-builder variables say, before validation.

    ``mirrors`` holds (variable name, raw value) in the order the mirrors are
    used; ``None`` for a field means its variable is not set.
    """

    mirrors: tuple[tuple[str, str], ...]
    offline: str | None  # the variable that switched the public index off
    no_public_index: str | None
    retries: tuple[str, str] | None  # (variable name, raw value)
    image_cache: str | None
    warnings: tuple[str, ...]


def _dib_order(names: list[str]) -> list[str]:
    # The element sorts the variable *names* as plain strings.
    return sorted(names)


def _number_order(names: list[str]) -> list[str]:
    def key(name: str) -> tuple[int, int, int, str]:
        match = _MIRROR_NAME.match(name)
        assert match is not None
        group = 0 if name.startswith(BASE) else 1  # "D" < "P", as in the element
        number = match.group("number")
        return (group, 0 if number is None else 1, int(number or 0), name)

    return sorted(names, key=key)


def read_dib_environment(environ: Mapping[str, str]) -> DibEnvironment:
    warnings: list[str] = []
    mirrors: list[tuple[str, str]] = []
    prefixed = [k for k in environ if k.startswith((BASE, LEGACY_BASE))]
    # improves: only the base name and _<digits> are mirrors; other names that
    # merely start with the prefix are warned about and ignored.
    stray = sorted(k for k in prefixed if not _MIRROR_NAME.match(k))
    names = [k for k in prefixed if _MIRROR_NAME.match(k)]
    for name in stray:
        warnings.append(f"{name} is ignored: only {BASE} and {BASE}_<number> name mirrors "
                        f"(diskimage-builder took any name with that prefix)")
    if environ.get(BASE) or environ.get(LEGACY_BASE):
        if any(k.startswith(LEGACY_BASE) for k in names):
            warnings.append(f"{LEGACY_BASE}* is deprecated: rename it to {BASE}*")
        dib_order = _dib_order(names)
        ordered = _number_order(names)
        if ordered != dib_order:
            # improves: _10 sorted before _2 in the element.
            warnings.append("mirror variables are taken in numeric order ("
                            + ", ".join(ordered) + "); diskimage-builder sorted the names "
                            "as text (" + ", ".join(dib_order) + ")")
        mirrors = [(name, environ[name]) for name in ordered]
    elif names:
        warnings.append(f"{', '.join(sorted(names))} ignored: neither {BASE} nor {LEGACY_BASE} "
                        "has a value, and they are the switch for every other mirror variable")
    return DibEnvironment(
        mirrors=tuple(mirrors),
        # Any non-empty value counts, even "0": that is the element's test.
        offline=OFFLINE if environ.get(OFFLINE) else None,
        no_public_index=NO_PYPI_PIP if environ.get(NO_PYPI_PIP) else None,
        retries=(RETRIES, environ[RETRIES]) if RETRIES in environ else None,
        image_cache=environ.get(IMAGE_CACHE) or None,
        warnings=tuple(warnings),
    )
