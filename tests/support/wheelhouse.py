"""Wheels of installed tools (pip, Poetry, PDM, Pipenv), packed from this environment.

The lock-file tests run each project's own installer inside an image, and
an offline build can only install it from the mirror, so the mirror needs
its wheels. Downloading them would make the suite depend on the network;
instead they are packed from the files the test environment already has
installed (the ``dev`` extra pins them), with their dependency closure.

No library packs an installed distribution back into a wheel (``wheel
pack`` wants an unpacked wheel, pip and uv only go the other way), so this
one does, after the wheel spec: the files RECORD lists under site-packages,
the ``.dist-info`` as installed minus what the installer added, a fresh
RECORD, and a file name from the ``Tag`` lines of WHEEL. Scripts outside
site-packages are left out (installers make them again from
``entry_points.txt``), except programs that are not Python scripts: uv's
and ruff's binaries, which their wheels carry in ``<name>-<version>.data/scripts/``
and installers copy into ``bin/`` as they are. The image runs the same CPython minor version on the
same platform as the tests, so compiled wheels fit it too.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import re
import zipfile
from collections.abc import Iterable
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# What an installer writes into a .dist-info that no wheel carries.
_INSTALLER_FILES = frozenset({"INSTALLER", "REQUESTED", "RECORD", "direct_url.json",
                              "uv_cache.json", "uv_build.json"})


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _compressed_tag(wheel_text: str) -> str:
    """``py3-none-any``, or ``cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64``."""
    tags = HeaderParser().parsestr(wheel_text).get_all("Tag") or []
    parts: list[dict[str, None]] = [{}, {}, {}]
    for tag in tags:
        for position, value in enumerate(tag.split("-")):
            parts[position][value] = None
    if not all(parts):
        raise ValueError(f"no Tag lines in WHEEL:\n{wheel_text}")
    return "-".join(".".join(values) for values in parts)


def _binary_script(site: Path, relative: str, entry_points: set[str]) -> bytes | None:
    """The bytes of ``relative`` (a RECORD path) if it is a program in ``bin/`` that no
    entry point makes and that is no ``#!`` script (whose line installers rewrote)."""
    path = Path(relative)
    if path.parent.name != "bin" or path.name in entry_points:
        return None
    file = site / relative
    if not file.is_file():
        return None
    data = file.read_bytes()
    return None if data.startswith(b"#!") else data


def pack(distribution: metadata.Distribution, dest_dir: Path) -> Path:
    """The wheel of one installed ``distribution``, written into ``dest_dir``."""
    site = Path(str(distribution.locate_file("")))
    entries: list[tuple[str, bytes]] = []
    scripts: list[tuple[str, bytes]] = []  # (file name, bytes), into .data/scripts/
    wheel_text = ""
    dist_info = ""
    entry_points = {point.name for point in distribution.entry_points
                    if point.group in ("console_scripts", "gui_scripts")}
    for file in distribution.files or ():
        relative = file.as_posix()
        parts = file.parts
        if parts[0] == ".." and (binary := _binary_script(site, relative, entry_points)):
            scripts.append((file.name, binary))
            continue
        if parts[0] == ".." or "__pycache__" in parts or relative.endswith(".pyc"):
            continue
        if parts[0].endswith(".dist-info"):
            dist_info = parts[0]
            if len(parts) == 2 and parts[1] in _INSTALLER_FILES:
                continue
        path = site / relative
        if not path.is_file():
            continue
        data = path.read_bytes()
        if relative == f"{dist_info}/WHEEL":
            wheel_text = data.decode("utf-8")
        entries.append((relative, data))
    if not dist_info or not wheel_text:
        raise ValueError(f"{distribution.metadata['Name']}: no .dist-info/WHEEL to pack from")
    name = re.sub(r"[-_.]+", "_", canonicalize_name(distribution.metadata["Name"]))
    version = distribution.version
    target = dest_dir / f"{name}-{version}-{_compressed_tag(wheel_text)}.whl"
    scripts_dir = f"{name}-{version}.data/scripts"
    entries += [(f"{scripts_dir}/{script}", data) for script, data in sorted(scripts)]
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in entries]
    record.append(f"{dist_info}/RECORD,,")
    dest_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        # The .dist-info goes last, as the wheel spec recommends.
        for path, data in sorted(entries, key=lambda entry: entry[0].startswith(dist_info)):
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            # rwx for the programs of .data/scripts, as unzip and installers read it.
            info.external_attr = (0o100755 if path.startswith(scripts_dir) else 0o100644) << 16
            archive.writestr(info, data)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return target


def _closure(requirements: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions ``requirements`` need, with their extras, for this Python."""
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        key = canonicalize_name(requirement.name)
        extras = sorted(requirement.extras) or [""]
        todo = [extra for extra in extras if (key, extra) not in seen]
        if not todo:
            continue
        distribution = found.get(key) or metadata.distribution(requirement.name)
        found[key] = distribution
        for extra in todo:
            seen.add((key, extra))
            for text in distribution.requires or ():
                needed = Requirement(text)
                if needed.marker is None or needed.marker.evaluate({"extra": extra}):
                    pending.append(needed)
    return list(found.values())


def pack_installed(requirements: Iterable[str], dest_dir: Path) -> list[Path]:
    """Wheels of the installed distributions ``requirements`` name and all they require.

    Raises ``PackageNotFoundError`` when one is not installed: the ``dev``
    extra is what installs them.
    """
    return [pack(distribution, dest_dir) for distribution in _closure(requirements)]
