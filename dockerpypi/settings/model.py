"""The resolved settings: each value with its source, and what ``config`` shows of them.

:func:`dockerpypi.settings.resolve.resolve_settings` makes a :class:`Settings`;
everything after it (render, build, verify, doctor) reads one. The values
are already parsed and checked; the properties derive what the installers
need from them (the indexes in order, the plain-http hosts, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypedDict, TypeVar

from ..errors import DockerPypiWarning
from .urls import MirrorURL

T = TypeVar("T")

# Where a value came from when no source gave one, in the words `config` prints.
SOURCE_DEFAULT = "default"


@dataclass(frozen=True)
class Override:
    """A value that a stronger source replaced: shown by ``config``, never used."""

    source: str
    shown: str


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A resolved value and the source it came from."""

    value: T
    source: str
    overridden: tuple[Override, ...] = ()


# The settings, in the order `config` lists them (and Settings declares them).
NAMES = ("mirrors", "public_fallback", "public_index", "offline", "retries", "timeout",
         "mirror_dir", "mount_point", "installers", "easy_install",
         "container_engine")


@dataclass(frozen=True)
class Settings:
    """Everything dockerpypi needs to configure a build step's installers."""

    mirrors: Sourced[tuple[MirrorURL, ...]]
    public_fallback: Sourced[bool]
    public_index: Sourced[MirrorURL]
    offline: Sourced[bool]
    retries: Sourced[int | None]
    timeout: Sourced[float | None]
    mirror_dir: Sourced[Path]
    mount_point: Sourced[str]
    installers: Sourced[tuple[str, ...]]
    easy_install: Sourced[bool]
    # The container CLI that builds and reads images (dockerpypi.engines): auto,
    # docker, podman or buildah.
    container_engine: Sourced[str]
    # What the CLI prints before it goes on: a setting ignored, deprecated, risky.
    warnings: tuple[DockerPypiWarning, ...] = field(default=(), compare=False)

    @property
    def uses_public_index(self) -> bool:
        """The public index is the last fallback unless offline or switched off."""
        return self.public_fallback.value and not self.offline.value

    @property
    def indexes(self) -> tuple[MirrorURL, ...]:
        """Every index in the order the installers use them."""
        extra = (self.public_index.value,) if self.uses_public_index else ()
        return self.mirrors.value + extra

    @property
    def local_mirror_url(self) -> str:
        return f"file://{self.mount_point.value}"

    @property
    def trusted_hosts(self) -> tuple[str, ...]:
        """Every plain-http host given (the element trusted only the first index's)."""
        hosts: list[str] = []
        for mirror in self.indexes:
            if mirror.is_plain_http and mirror.hostname and mirror.hostname not in hosts:
                hosts.append(mirror.hostname)
        return tuple(hosts)

    @property
    def easy_install_index(self) -> MirrorURL:
        """The last user mirror: wheels need the first, so sdists come from the last."""
        return self.mirrors.value[-1]

    @property
    def has_credentials(self) -> bool:
        return any(m.credentials is not None for m in self.indexes)


# --- what `config` shows -------------------------------------------------------

def display_value(value: object) -> str:
    """A value as ``config`` shows it: credentials redacted, lists space-separated."""
    if isinstance(value, tuple):
        return " ".join(display_value(item) for item in value)
    if value is None:
        return "installer default"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)  # MirrorURL.__str__ redacts credentials


class SettingRow(TypedDict):
    """One row of ``config``: also its ``--json`` shape."""

    name: str
    value: object
    shown: str
    source: str
    overridden: list[dict[str, str]]


def describe(settings: Settings) -> list[SettingRow]:
    """Rows for ``config``: name, shown value, source, overridden values."""
    rows: list[SettingRow] = []
    for name in NAMES:
        sourced: Sourced[Any] = getattr(settings, name)
        value = sourced.value
        rows.append({
            "name": name.replace("_", "-"),
            "value": _json_value(value),
            "shown": display_value(value),
            "source": sourced.source,
            "overridden": [{"source": o.source, "value": o.shown} for o in sourced.overridden],
        })
    return rows


def _json_value(value: object) -> object:
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, (MirrorURL, Path)):
        return str(value)
    return value
