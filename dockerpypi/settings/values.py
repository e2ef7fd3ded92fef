"""Each setting's raw value (a flag, a variable, a file key) parsed and checked.

Every parser takes the raw value and its ``origin`` (the flag, variable or
file key it came from, named in the error) and returns the value a
:class:`~dockerpypi.settings.model.Settings` field holds, or raises
:class:`~dockerpypi.errors.SettingsError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..dockerfile.vocabulary import DEFAULT_MOUNT_POINT, INSTALLERS
from ..engines import CHOICES as ENGINE_CHOICES
from ..errors import SettingsError
from .urls import MirrorURL, parse_mirror_url

# What every parser is: (raw value, origin) -> the parsed value.
Parser = Callable[[object, str], Any]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(raw: object, origin: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f"{origin} must be true or false (1/0, yes/no, on/off), not {raw!r}")


def parse_retries(raw: object, origin: str) -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not re.fullmatch(r"[0-9]+", text):
        raise SettingsError(f"{origin} must be a whole number of retries (0 or more), "
                            f"not {raw!r}")
    return int(text)


def parse_timeout(raw: object, origin: str) -> float:
    try:
        value = float(str(raw).strip()) if not isinstance(raw, bool) else -1.0
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{origin} must be a number of seconds above 0, not {raw!r}")
    return value


def _split_list(raw: object) -> list[str]:
    if isinstance(raw, (list, tuple)):
        return [str(item) for item in raw]
    return [item for item in re.split(r"[\s,]+", str(raw)) if item]


def parse_mirrors(raw: object, origin: str) -> tuple[MirrorURL, ...]:
    items = _split_list(raw)
    if not items:
        raise SettingsError(f"{origin} names no mirror: give one or more index URLs, or unset it")
    return tuple(parse_mirror_url(item, origin=origin) for item in items)


def parse_index(raw: object, origin: str) -> MirrorURL:
    """One index URL (the public index)."""
    return parse_mirror_url(str(raw), origin=origin)


def parse_installers(raw: object, origin: str) -> tuple[str, ...]:
    chosen: list[str] = []
    for item in _split_list(raw):
        name = item.strip().lower()
        if name not in INSTALLERS:
            raise SettingsError(f"{origin} names unknown installer {item!r}: "
                                f"choose from {', '.join(INSTALLERS)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise SettingsError(f"{origin} names no installer: choose from {', '.join(INSTALLERS)}")
    return tuple(chosen)


def parse_engine(raw: object, origin: str) -> str:
    """The container CLI that builds: auto, docker, podman or buildah."""
    name = str(raw).strip().lower()
    if name not in ENGINE_CHOICES:
        raise SettingsError(f"{origin} names unknown engine {raw!r}: choose from "
                            f"{', '.join(ENGINE_CHOICES)}")
    return name


def parse_mount_point(raw: object, origin: str) -> str:
    text = str(raw).strip()
    # It lands inside `--mount=...,target=<path>`: a comma, quote or space would
    # split that option, and a relative path has no meaning in a build step.
    # It is also the path of the default file:// mirror URL, where "#", "?"
    # and "%" would end the path or be decoded.
    if not text.startswith("/") or re.search(r"[\s,\"'=#?%]", text):
        raise SettingsError(f"{origin} must be an absolute path without spaces, commas, quotes "
                            f"or any of = # ? % (such as {DEFAULT_MOUNT_POINT}), not {raw!r}")
    # PurePosixPath keeps a leading "//" (POSIX leaves its meaning open), so
    # "//" would pass as a directory while it is the root.
    normal = str(PurePosixPath("/" + text.lstrip("/")))
    if normal == "/":
        raise SettingsError(f"{origin} cannot be / : choose a directory such as "
                            f"{DEFAULT_MOUNT_POINT}")
    return normal


def path_parser(base: Path | None) -> Callable[[object, str], Path]:
    """A parser of directory paths; a relative one is taken from ``base`` (None: the
    current directory)."""
    def parse(raw: object, origin: str) -> Path:
        text = str(raw).strip()
        if not text:
            raise SettingsError(f"{origin} is empty: give the mirror directory, or unset it")
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return path

    return parse
