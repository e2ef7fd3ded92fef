"""The target of a build: which wheels CPython on a Linux machine installs, and its markers.

What :mod:`.closure` asks of a file or a dependency for one CPython version
and one machine, from the file's tags, a Requires-Python, and the
environment markers of that Python on that machine.
"""

from __future__ import annotations

import re

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag

# CPython versions tried when the mirror does not say which one the image has.
PYTHONS = tuple((3, minor) for minor in range(8, 16))


def _linux_platform(platform: str, machine: str) -> bool:
    # Any glibc or musl: the image's C library is not known, and a wheel for a
    # newer one than the image has is simply skipped by the installer.
    return re.fullmatch(rf"(manylinux(1|2010|2014|_\d+_\d+)|musllinux_\d+_\d+|linux)"
                        rf"_{re.escape(machine)}", platform) is not None


def tag_fits(tag: Tag, python: tuple[int, int], machine: str) -> bool:
    """Whether CPython ``python`` on Linux ``machine`` installs a wheel with ``tag``.

    The rules of packaging.tags' cpython_tags and compatible_tags, applied to
    one tag instead of listing every tag (thousands, for every manylinux).
    """
    major, minor = python
    linux = _linux_platform(tag.platform, machine)
    cpython = f"cp{major}{minor}"
    if tag.abi == cpython:
        return tag.interpreter == cpython and linux
    if tag.abi == "abi3":
        found = re.fullmatch(rf"cp{major}(\d+)", tag.interpreter)
        return linux and found is not None and 2 <= int(found.group(1)) <= minor
    if tag.abi != "none" or not (linux or tag.platform == "any"):
        return False
    if tag.interpreter in (cpython, f"py{major}"):
        return True
    found = re.fullmatch(rf"py{major}(\d+)", tag.interpreter)
    return found is not None and int(found.group(1)) <= minor


def environments(python: tuple[int, int], machine: str) -> list[dict[str, str]]:
    """The marker environments of CPython ``python`` on Linux ``machine``."""
    version = f"{python[0]}.{python[1]}"
    # The patch level is unknown (markers that name it are sent anyway, see
    # holds): python_version markers are judged for the first and a late one.
    return [{
        "implementation_name": "cpython", "implementation_version": full,
        "os_name": "posix", "platform_machine": machine, "platform_release": "",
        "platform_system": "Linux", "platform_version": "", "python_full_version": full,
        "platform_python_implementation": "CPython", "python_version": version,
        "sys_platform": "linux",
    } for full in (f"{version}.0", f"{version}.99")]


# Marker variables whose value in the image cannot be known from outside it
# (the exact patch level, the kernel): a marker on them may hold, so the
# dependency is sent. Sending too much costs bytes; too little fails the build.
_UNKNOWABLE = ("python_full_version", "implementation_version", "platform_release",
               "platform_version")


def holds(marker: Marker | None, environments: list[dict[str, str]], extra: str) -> bool:
    """Whether ``marker`` may hold in one of ``environments`` with ``extra`` asked for."""
    if marker is None:
        return True
    if any(name in str(marker) for name in _UNKNOWABLE):
        return True
    return any(marker.evaluate({**env, "extra": extra}) for env in environments)


def python_fits(requires_python: str | None, python: tuple[int, int]) -> bool:
    """Whether CPython ``python`` (any patch level) satisfies ``requires_python``."""
    if not requires_python:
        return True
    try:
        allowed = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True  # installers ignore a Requires-Python they cannot read
    return any(allowed.contains(f"{python[0]}.{python[1]}.{patch}", prereleases=True)
               for patch in (0, 99))
