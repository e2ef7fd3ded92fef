"""The image's tags as pip takes them, and what they mean for uv and for wheel choice.

``mirror add`` takes pip's ``--python-version/--platform/--implementation/--abi``.
pip uses them directly; with uv the same target must become one of uv's
``--python-platform`` triples, and dockerpypi must pick, among the files uv
lists for a package, the one pip would have picked. Both are pure functions
of the tags, here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.tags import (
    Tag,
    compatible_tags,
    cpython_tags,
    generic_tags,
    interpreter_name,
    interpreter_version,
)
from packaging.utils import InvalidWheelFilename, parse_wheel_filename


@dataclass(frozen=True)
class TargetTags:
    """pip's ``--python-version/--platform/--implementation/--abi``: the image's tags."""

    python_version: str | None = None
    platforms: tuple[str, ...] = ()
    implementation: str | None = None
    abis: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        return bool(self.python_version or self.platforms or self.implementation or self.abis)

    def args(self) -> list[str]:
        args: list[str] = []
        if self.python_version:
            args += ["--python-version", self.python_version]
        for platform in self.platforms:
            args += ["--platform", platform]
        if self.implementation:
            args += ["--implementation", self.implementation]
        for abi in self.abis:
            args += ["--abi", abi]
        return args


# A platform tag's machine: manylinux*/musllinux*/linux, macOS and Windows spellings.
_MACHINE = re.compile(r"(?:manylinux_\d+_\d+|manylinux\d*|musllinux_\d+_\d+|linux|"
                      r"macosx_\d+_\d+|win)_(?P<machine>.+)")


def platform_machine(platform: str) -> str:
    """The machine a platform tag is for (``manylinux_2_28_aarch64``: ``aarch64``); the tag
    itself when it names none that is known."""
    found = _MACHINE.fullmatch(platform)
    return found.group("machine") if found else platform


def by_machine(tags: TargetTags) -> tuple[TargetTags, ...]:
    """``tags`` as one target per machine its platforms name (an image for each).

    pip takes every ``--platform`` as a tag one image accepts, and picks one
    wheel per package among them all: for two machines, one of them goes
    without. Each machine is therefore resolved on its own, with the same
    Python, implementation and ABIs.
    """
    groups: dict[str, list[str]] = {}
    for platform in tags.platforms:
        groups.setdefault(platform_machine(platform), []).append(platform)
    if len(groups) < 2:
        return (tags,)
    return tuple(TargetTags(tags.python_version, tuple(platforms), tags.implementation,
                            tags.abis) for platforms in groups.values())


class UnmappableTarget(Exception):
    """The tags name a target uv cannot be told about; the message says why."""


def version_tuple(text: str) -> tuple[int, ...]:
    """pip's reading of ``--python-version``: "3.11" or "311" are both (3, 11)."""
    if "." in text:
        return tuple(int(part) for part in text.split("."))
    return (int(text[0]), int(text[1:])) if len(text) > 1 else (int(text),)


def _expand_platform(platform: str) -> list[str]:
    # pip (utils/compatibility_tags.py) lets a legacy manylinux tag stand for
    # the older legacy ones too; PEP 600 tags stand for themselves only.
    # pip's own function is internal, so its rule is repeated here.
    prefix, _, arch = platform.partition("_")
    if prefix == "manylinux2014" and arch in ("i686", "x86_64"):
        return [platform, f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    if prefix == "manylinux2010":
        return [platform, f"manylinux1_{arch}"]
    return [platform]


def supported_tags(tags: TargetTags) -> tuple[Tag, ...]:
    """The tags pip accepts for ``tags``, best first (pip's ``get_supported``)."""
    python_version = version_tuple(tags.python_version) if tags.python_version else None
    implementation = tags.implementation or interpreter_name()
    version = ("".join(str(part) for part in python_version[:2]) if python_version
               else interpreter_version())
    platforms: list[str] | None = None
    if tags.platforms:
        platforms = list(dict.fromkeys(p for given in tags.platforms
                                       for p in _expand_platform(given)))
    abis = list(tags.abis) or None
    found: list[Tag] = []
    if implementation == "cp":
        found += cpython_tags(python_version, abis, platforms)
    else:
        found += generic_tags(f"{implementation}{version}", abis, platforms)
    found += compatible_tags(python_version, f"{implementation}{version}", platforms)
    return tuple(dict.fromkeys(found))


# --- uv's --python-platform ------------------------------------------------------

_PEP600 = re.compile(r"manylinux_2_([0-9]+)_(x86_64|aarch64)")
_LEGACY_GLIBC = {"manylinux1": 5, "manylinux2010": 12, "manylinux2014": 17}
# The glibc minors uv has a target for (``uv help pip compile``, --python-platform).
_UV_GLIBC = frozenset({17, 28, *range(31, 41)})
_UV_WINDOWS = {"win_amd64": "x86_64-pc-windows-msvc", "win32": "i686-pc-windows-msvc",
               "win_arm64": "aarch64-pc-windows-msvc"}


def _glibc(platform: str) -> tuple[int, str] | None:
    match = _PEP600.fullmatch(platform)
    if match:
        return int(match[1]), match[2]
    prefix, _, arch = platform.partition("_")
    if prefix in _LEGACY_GLIBC and arch in ("x86_64", "aarch64"):
        return _LEGACY_GLIBC[prefix], arch
    return None


def _platform_of(platforms: Sequence[str]) -> str:
    windows = {_UV_WINDOWS.get(p) for p in platforms}
    if len(windows) == 1 and None not in windows:
        return windows.pop() or ""
    glibcs = [_glibc(p) for p in platforms]
    if None in glibcs or len({g[1] for g in glibcs if g}) != 1:
        raise UnmappableTarget(f"uv has no target for --platform {' '.join(platforms)} "
                               "(it takes manylinux tags of one architecture, or one "
                               "Windows tag)")
    newest, arch = max(g for g in glibcs if g)
    if newest not in _UV_GLIBC:
        raise UnmappableTarget(f"uv has no manylinux_2_{newest} target (the newest of "
                               f"--platform {' '.join(platforms)})")
    return f"{arch}-manylinux_2_{newest}"


def uv_target(tags: TargetTags) -> tuple[str, ...]:
    """uv's words for ``tags``: ``--python-version X.Y`` and ``--python-platform TRIPLE``.

    uv resolves for CPython with its own ABIs (cpXY, abi3, none), so another
    implementation or ABI cannot be said to it: :class:`UnmappableTarget`.
    """
    args: list[str] = []
    version = version_tuple(tags.python_version) if tags.python_version else None
    if version is not None:
        if len(version) < 2:
            raise UnmappableTarget(f"uv needs --python-version as X.Y, not "
                                   f"{tags.python_version}")
        args += ["--python-version", ".".join(str(part) for part in version)]
    if tags.implementation not in (None, "cp"):
        raise UnmappableTarget(f"uv resolves for CPython only, not --implementation "
                               f"{tags.implementation}")
    if tags.implementation is None and tags.given and interpreter_name() != "cp":
        raise UnmappableTarget("uv resolves for CPython only, and this Python is not")
    nodot = ("".join(str(part) for part in version[:2]) if version
             else interpreter_version())
    known = {f"cp{nodot}", "abi3", "none"}
    other = [abi for abi in tags.abis if abi not in known]
    if other:
        raise UnmappableTarget(f"uv resolves for the ABIs {', '.join(sorted(known))} only, "
                               f"not --abi {' '.join(other)}")
    if tags.platforms:
        args += ["--python-platform", _platform_of(tags.platforms)]
    return tuple(args)


# --- picking a file -----------------------------------------------------------------

def wheel_rank(filename: str, ranks: dict[Tag, int]) -> int | None:
    """The place of the wheel's best tag in ``ranks`` (lower is better), None if none fits."""
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return None
    found = [ranks[tag] for tag in tags if tag in ranks]
    return min(found) if found else None


def best_wheel(filenames: Iterable[str], supported: Sequence[Tag]) -> str | None:
    """The wheel pip would choose among ``filenames`` (all of one version), or None."""
    ranks = {tag: number for number, tag in enumerate(supported)}
    ranked = [(rank, name) for name in filenames
              if (rank := wheel_rank(name, ranks)) is not None]
    return min(ranked)[1] if ranked else None
