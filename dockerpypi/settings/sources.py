"""Where a setting's value can come from, read but not yet parsed.

Each source gives a :class:`Candidate` per setting it names: the command-line
flags, the ``DOCKERPYPI_*`` variables, the diskimage-builder variables
(:mod:`dockerpypi.settings.dib`), and a ``[tool.dockerpypi]`` table in
``pyproject.toml`` or a ``dockerpypi.toml`` in the build context.
:func:`dockerpypi.settings.resolve.resolve_settings` picks among them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import DockerPypiWarning, SettingsError, SettingsWarning
from . import dib
from .urls import MirrorURL, parse_mirror_url
from .values import (
    Parser,
    parse_bool,
    parse_engine,
    parse_index,
    parse_installers,
    parse_mirrors,
    parse_mount_point,
    parse_retries,
    parse_timeout,
    path_parser,
)

CONFIG_FILE_NAME = "dockerpypi.toml"
ENV_PREFIX = "DOCKERPYPI_"


class Candidate(NamedTuple):
    """A value for one setting from one source, not yet parsed."""

    source: str  # in the words `config` prints: "flag --offline/--online", "env DIB_OFFLINE"
    raw: object
    parse: Parser
    origin: str  # the name to put in an error: a flag, a variable, a file key


# Each setting's DOCKERPYPI_* variable (without the prefix), file key and parser.
FIELDS: dict[str, tuple[str, str, Parser]] = {
    "mirrors": ("MIRRORS", "mirrors", parse_mirrors),
    "public_fallback": ("PUBLIC_FALLBACK", "public-fallback", parse_bool),
    "public_index": ("PUBLIC_INDEX", "public-index", parse_index),
    "offline": ("OFFLINE", "offline", parse_bool),
    "retries": ("RETRIES", "retries", parse_retries),
    "timeout": ("TIMEOUT", "timeout", parse_timeout),
    "mirror_dir": ("MIRROR_DIR", "mirror-dir", path_parser(None)),
    "mount_point": ("MOUNT_POINT", "mount-point", parse_mount_point),
    "installers": ("INSTALLERS", "installers", parse_installers),
    "easy_install": ("EASY_INSTALL", "easy-install", parse_bool),
    # Not "engine" (DOCKERPYPI_ENGINE): the test machines' scripts take that
    # name for the Docker version they start (see env_candidates).
    "container_engine": ("CONTAINER_ENGINE", "container-engine", parse_engine),
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
    "container_engine": "--engine",
}

Found = tuple[dict[str, Candidate], list[DockerPypiWarning]]


def flag_candidates(flags: Mapping[str, object]) -> dict[str, Candidate]:
    """The command-line values (``None`` or ``()``: not given), by field name."""
    found = {}
    for name, value in flags.items():
        if name not in FIELDS:
            raise KeyError(f"unknown settings flag {name!r}")  # a programming error
        if value is None or value == ():
            continue
        found[name] = Candidate(f"flag {FLAG_NAMES[name]}", value, FIELDS[name][2],
                                FLAG_NAMES[name])
    return found


def env_candidates(environ: Mapping[str, str]) -> Found:
    """The ``DOCKERPYPI_*`` variables, and a warning for each one that is no setting."""
    found = {}
    warnings: list[DockerPypiWarning] = []
    known = {ENV_PREFIX + var for var, _, _ in FIELDS.values()}
    for name, (var, _, parse) in FIELDS.items():
        full = ENV_PREFIX + var
        if full in environ:
            found[name] = Candidate(f"env {full}", environ[full], parse, full)
    for name in sorted(environ):
        if (name.startswith(ENV_PREFIX) and name not in known
                and not name.startswith(("DOCKERPYPI_TEST_", "DOCKERPYPI_ENGINE"))):
            warnings.append(SettingsWarning(f"{name} is not a dockerpypi setting and is "
                                            f"ignored (known: {', '.join(sorted(known))})"))
    return found, warnings


def dib_candidates(environ: Mapping[str, str]) -> Found:
    """The diskimage-builder variables, as the ``pypi`` element reads them."""
    read = dib.read_dib_environment(environ)
    found: dict[str, Candidate] = {}
    if read.mirrors:
        names = ", ".join(name for name, _ in read.mirrors)

        def parse_dib_mirrors(raw: object, origin: str) -> tuple[MirrorURL, ...]:
            # Each variable is one URL, checked on its own so the error names it.
            return tuple(parse_mirror_url(value, origin=name) for name, value in read.mirrors)

        found["mirrors"] = Candidate(f"env {names}", read.mirrors, parse_dib_mirrors, names)
    if read.offline:
        found["offline"] = Candidate(f"env {read.offline}", True, parse_bool, read.offline)
    if read.no_public_index:
        found["public_fallback"] = Candidate(f"env {read.no_public_index}", False, parse_bool,
                                             read.no_public_index)
    if read.retries is not None:
        var, raw = read.retries
        found["retries"] = Candidate(f"env {var}", raw, parse_retries, var)
    if read.image_cache:
        cache = Path(read.image_cache).expanduser()
        found["mirror_dir"] = Candidate(f"env {dib.IMAGE_CACHE}", cache / "pypi" / "mirror",
                                        path_parser(None), dib.IMAGE_CACHE)
    return found, [SettingsWarning(text) for text in read.warnings]


def file_candidates(context_dir: Path) -> Found:
    """The ``dockerpypi.toml`` or ``[tool.dockerpypi]`` of ``context_dir``, if it has one."""
    loaded = _load_file_table(context_dir)
    if loaded is None:
        return {}, []
    path, table = loaded
    label = path.name if path.name == CONFIG_FILE_NAME else "pyproject.toml [tool.dockerpypi]"
    by_key = {key: (name, parse) for name, (_, key, parse) in FIELDS.items()}
    found = {}
    warnings: list[DockerPypiWarning] = []
    for key, raw in table.items():
        if key not in by_key:
            raise SettingsError(f"{path}: unknown key {key!r}; known keys: "
                                f"{', '.join(sorted(by_key))}")
        name, parse = by_key[key]
        if name == "mirror_dir":
            parse = path_parser(path.parent)  # relative to the file, not the shell
        found[name] = Candidate(f"file {label}", raw, parse, f"{path.name}: {key}")
        if name in ("mirrors", "public_index") and "@" in str(raw):
            var = ENV_PREFIX + FIELDS[name][0]
            warnings.append(SettingsWarning(f"{path.name} holds credentials in {key}; files in "
                                            "the build context are easy to commit: set them "
                                            f"in {var} instead"))
    return found, warnings


def _load_file_table(context_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The dockerpypi table of the build context, if it has one."""
    own = context_dir / CONFIG_FILE_NAME
    pyproject = context_dir / "pyproject.toml"
    for path, nested in ((own, False), (pyproject, True)):
        if not path.is_file():
            continue
        from ..tomlparser import tomllib as toml  # where a file is read: see tomlparser
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
