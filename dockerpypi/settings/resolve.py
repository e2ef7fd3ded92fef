"""Resolved settings: what to configure, and where each value came from.

Sources, strongest first: command-line flags, ``DOCKERPYPI_*`` variables, the
diskimage-builder variables (:mod:`dockerpypi.settings.dib`), a ``[tool.dockerpypi]``
table in ``pyproject.toml`` or a ``dockerpypi.toml`` in the build context, and
the defaults. Every field is resolved on its own: the strongest source that
gives a value wins, and the values it overrode are kept for ``config`` to show.

Nothing here runs at import; :func:`resolve_settings` reads when asked.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Generic, NamedTuple, TypedDict, TypeVar

from ..dockerfile.vocabulary import DEFAULT_MOUNT_POINT, INSTALLERS
from ..errors import DockerPypiWarning, NoMirrorConfigured, SettingsError, SettingsWarning
from . import dib as _dib
from .public_index import public_index_url
from .urls import MirrorURL, parse_mirror_url


def _tomllib() -> Any:
    # Imported where a file is read: most calls read none, and the import is a
    # noticeable share of the CLI's start-up.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    return tomllib

T = TypeVar("T")

DEFAULT_CACHE_ROOT = "~/.cache/image-create"
CONFIG_FILE_NAME = "dockerpypi.toml"
ENV_PREFIX = "DOCKERPYPI_"

# Where a value came from, in the words `config` prints.
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


# --- parsing of raw values -------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(raw: object, origin: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f"{origin} must be true or false (1/0, yes/no, on/off), not {raw!r}")


def _parse_retries(raw: object, origin: str) -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not re.fullmatch(r"[0-9]+", text):
        raise SettingsError(f"{origin} must be a whole number of retries (0 or more), "
                            f"not {raw!r}")
    return int(text)


def _parse_timeout(raw: object, origin: str) -> float:
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


def _parse_mirrors(raw: object, origin: str) -> tuple[MirrorURL, ...]:
    items = _split_list(raw)
    if not items:
        raise SettingsError(f"{origin} names no mirror: give one or more index URLs, or unset it")
    return tuple(parse_mirror_url(item, origin=origin) for item in items)


def _parse_installers(raw: object, origin: str) -> tuple[str, ...]:
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


def _parse_mount_point(raw: object, origin: str) -> str:
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


def _path_parser(base: Path | None) -> Callable[[object, str], Path]:
    def parse(raw: object, origin: str) -> Path:
        text = str(raw).strip()
        if not text:
            raise SettingsError(f"{origin} is empty: give the mirror directory, or unset it")
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return path

    return parse


# --- the sources -------------------------------------------------------------

class _Candidate(NamedTuple):
    """A value for one setting from one source, not yet parsed.

    (A named tuple, not a frozen dataclass: see "records" in dockerpypi/_entry.py.)
    """

    source: str
    raw: object
    parse: Callable[[object, str], Any]
    origin: str  # the name to put in an error: a flag, a variable, a file key


# Settings fields, each with its DOCKERPYPI_* variable, its file key and parser.
_FIELDS: dict[str, tuple[str, str, Callable[[object, str], Any]]] = {
    "mirrors": ("MIRRORS", "mirrors", _parse_mirrors),
    "public_fallback": ("PUBLIC_FALLBACK", "public-fallback", _parse_bool),
    "public_index": ("PUBLIC_INDEX", "public-index",
                     lambda raw, origin: parse_mirror_url(str(raw), origin=origin)),
    "offline": ("OFFLINE", "offline", _parse_bool),
    "retries": ("RETRIES", "retries", _parse_retries),
    "timeout": ("TIMEOUT", "timeout", _parse_timeout),
    "mirror_dir": ("MIRROR_DIR", "mirror-dir", _path_parser(None)),
    "mount_point": ("MOUNT_POINT", "mount-point", _parse_mount_point),
    "installers": ("INSTALLERS", "installers", _parse_installers),
    "easy_install": ("EASY_INSTALL", "easy-install", _parse_bool),
}

# Command-line flags by field, for error messages.
FLAG_NAMES = {
    "mirrors": "--index-url",
    "public_fallback": "--public-fallback/--no-public-fallback",
    "public_index": "--public-index",
    "offline": "--offline/--online",
    "retries": "--retries",
    "timeout": "--timeout",
    "mirror_dir": "--mirror-dir",
    "mount_point": "--mount-point",
    "installers": "--configure",
    "easy_install": "--easy-install/--no-easy-install",
}


def _flag_candidates(flags: Mapping[str, object]) -> dict[str, _Candidate]:
    found = {}
    for name, value in flags.items():
        if name not in _FIELDS:
            raise KeyError(f"unknown settings flag {name!r}")  # a programming error
        if value is None or value == ():
            continue
        parse = _FIELDS[name][2]
        if name == "mirror_dir":
            parse = _path_parser(None)
        found[name] = _Candidate(f"flag {FLAG_NAMES[name]}", value, parse, FLAG_NAMES[name])
    return found


def _env_candidates(environ: Mapping[str, str]
                    ) -> tuple[dict[str, _Candidate], list[DockerPypiWarning]]:
    found = {}
    warnings: list[DockerPypiWarning] = []
    known = {ENV_PREFIX + var for var, _, _ in _FIELDS.values()}
    for name, (var, _, parse) in _FIELDS.items():
        full = ENV_PREFIX + var
        if full in environ:
            found[name] = _Candidate(f"env {full}", environ[full], parse, full)
    for name in sorted(environ):
        if (name.startswith(ENV_PREFIX) and name not in known
                and not name.startswith(("DOCKERPYPI_TEST_", "DOCKERPYPI_ENGINE"))):
            warnings.append(SettingsWarning(f"{name} is not a dockerpypi setting and is "
                                            f"ignored (known: {', '.join(sorted(known))})"))
    return found, warnings


def _dib_candidates(environ: Mapping[str, str]
                    ) -> tuple[dict[str, _Candidate], list[DockerPypiWarning]]:
    dib = _dib.read_dib_environment(environ)
    found: dict[str, _Candidate] = {}
    if dib.mirrors:
        names = ", ".join(name for name, _ in dib.mirrors)

        def parse_dib_mirrors(raw: object, origin: str) -> tuple[MirrorURL, ...]:
            # Each variable is one URL, checked on its own so the error names it.
            return tuple(parse_mirror_url(value, origin=name) for name, value in dib.mirrors)

        found["mirrors"] = _Candidate(f"env {names}", dib.mirrors, parse_dib_mirrors, names)
    if dib.offline:
        found["offline"] = _Candidate(f"env {dib.offline}", True, _parse_bool, dib.offline)
    if dib.no_public_index:
        found["public_fallback"] = _Candidate(f"env {dib.no_public_index}", False, _parse_bool,
                                              dib.no_public_index)
    if dib.retries is not None:
        var, raw = dib.retries
        found["retries"] = _Candidate(f"env {var}", raw, _parse_retries, var)
    if dib.image_cache:
        cache = Path(dib.image_cache).expanduser()
        found["mirror_dir"] = _Candidate(f"env {_dib.IMAGE_CACHE}", cache / "pypi" / "mirror",
                                         _path_parser(None), _dib.IMAGE_CACHE)
    return found, [SettingsWarning(text) for text in dib.warnings]


def _load_file_table(context_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The dockerpypi table of the build context, if it has one."""
    own = context_dir / CONFIG_FILE_NAME
    pyproject = context_dir / "pyproject.toml"
    for path, nested in ((own, False), (pyproject, True)):
        if not path.is_file():
            continue
        toml = _tomllib()
        try:
            data = toml.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"cannot read {path}: {exc}; fix its permissions or remove it") \
                from None
        except toml.TOMLDecodeError as exc:
            raise SettingsError(f"{path} is not valid TOML ({exc}): fix the file") from None
        if nested:
            tool = data.get("tool", {})
            if not isinstance(tool, dict):
                raise SettingsError(f"{path}: 'tool' must be a table")
            table = tool.get("dockerpypi")
        else:
            table = data
        if table is None:
            continue
        if not isinstance(table, dict):
            raise SettingsError(f"{path}: [tool.dockerpypi] must be a table")
        return path, table
    return None


def _file_candidates(context_dir: Path
                     ) -> tuple[dict[str, _Candidate], list[DockerPypiWarning]]:
    loaded = _load_file_table(context_dir)
    if loaded is None:
        return {}, []
    path, table = loaded
    label = path.name if path.name == CONFIG_FILE_NAME else "pyproject.toml [tool.dockerpypi]"
    by_key = {key: (name, parse) for name, (_, key, parse) in _FIELDS.items()}
    found = {}
    warnings: list[DockerPypiWarning] = []
    for key, raw in table.items():
        if key not in by_key:
            raise SettingsError(f"{path}: unknown key {key!r}; known keys: "
                                f"{', '.join(sorted(by_key))}")
        name, parse = by_key[key]
        if name == "mirror_dir":
            parse = _path_parser(path.parent)  # relative to the file, not the shell
        found[name] = _Candidate(f"file {label}", raw, parse, f"{path.name}: {key}")
        if name in ("mirrors", "public_index") and "@" in str(raw):
            var = ENV_PREFIX + _FIELDS[name][0]
            warnings.append(SettingsWarning(f"{path.name} holds credentials in {key}; files in "
                                            "the build context are easy to commit: set them "
                                            f"in {var} instead"))
    return found, warnings


def _defaults(mount_point: str) -> dict[str, _Candidate]:
    def fixed(value: object) -> _Candidate:
        return _Candidate(SOURCE_DEFAULT, value, lambda raw, origin: raw, "default")

    home_cache = Path(DEFAULT_CACHE_ROOT).expanduser()
    return {
        "mirrors": fixed((MirrorURL(f"file://{mount_point}"),)),
        "public_fallback": fixed(True),
        # Looked up only when no source names another: see public_index.py.
        "public_index": _Candidate(SOURCE_DEFAULT, None,
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
    }


def _shown(candidate: _Candidate) -> str:
    """A value for display, credentials redacted even when the value is invalid."""
    try:
        value = candidate.parse(candidate.raw, candidate.origin)
    except SettingsError:
        return "<invalid>"
    return display_value(value)


def display_value(value: object) -> str:
    if isinstance(value, tuple):
        return " ".join(display_value(item) for item in value)
    if value is None:
        return "installer default"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)  # MirrorURL.__str__ redacts credentials


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
    layers: list[dict[str, _Candidate]] = [_flag_candidates(flags or {})]
    warnings: list[DockerPypiWarning] = []
    for read in (_env_candidates, _dib_candidates):
        found, said = read(environ)
        layers.append(found)
        warnings += said
    found, said = _file_candidates(context)
    layers.append(found)
    warnings += said

    resolved: dict[str, Sourced[Any]] = {}

    def resolve(name: str, default: _Candidate) -> None:
        chain = [layer[name] for layer in layers if name in layer] + [default]
        winner = chain[0]
        value = winner.parse(winner.raw, winner.origin)
        overridden = tuple(Override(c.source, _shown(c)) for c in chain[1:-1])
        resolved[name] = Sourced(value, winner.source, overridden)

    # The mount point first: the default mirror URL is made from it.
    placeholder = _defaults(DEFAULT_MOUNT_POINT)
    resolve("mount_point", placeholder["mount_point"])
    defaults = _defaults(resolved["mount_point"].value)
    for name in _FIELDS:
        if name != "mount_point":
            resolve(name, defaults[name])

    if resolved["mirrors"].source == SOURCE_DEFAULT:
        warnings.append(NoMirrorConfigured(
            f"no mirror is configured ({_dib.BASE}, DOCKERPYPI_MIRRORS or --index-url): "
            f"using the local mirror {resolved['mirrors'].value[0]}"))
    return Settings(**resolved, warnings=tuple(warnings))


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
    for name in _FIELDS:
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
