"""Tiny, valid wheels (and sdists) written by hand.

Building wheels with a real backend would need network access or a build
frontend in every test; a wheel is just a zip with three metadata files, so we
write it directly. The zip entries carry a fixed timestamp, so the same
arguments always give the same bytes and the same sha256.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

# 1980-01-01 is the earliest date a zip entry can hold.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def module_name(name: str) -> str:
    """The importable name of the module a test wheel for ``name`` ships."""
    return canonicalize_name(name).replace("-", "_")


def wheel_filename(name: str, version: str) -> str:
    # PEP 427 / the binary distribution format: "-" separates fields, so the
    # normalized name uses "_" instead.
    return f"{module_name(name)}-{Version(version)}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _metadata(name: str, version: str, requires: Iterable[str], requires_python: str | None) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {req}" for req in requires]
    if requires_python is not None:
        lines.append(f"Requires-Python: {requires_python}")
    return "\n".join(lines) + "\n"


def make_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    requires_python: str | None = None,
    files: Mapping[str, str | bytes] | None = None,
    origin: str = "test",
    tag: str = "py3-none-any",
    spelling: str | None = None,
) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` into ``dest_dir`` and return its path.

    The wheel installs a package ``<module_name(name)>`` whose ``__init__.py``
    holds ``__version__`` and ``MIRROR_ORIGIN = origin``, so a test can ask the
    installed package which mirror it came from. ``files`` adds more entries
    (paths relative to site-packages). ``spelling`` is the name as the file
    name (and dist-info) write it, for tests of name normalization; by
    default the normalized one.
    """
    version = str(Version(version))
    module = module_name(name)
    spelled = module if spelling is None else spelling
    dist_info = f"{spelled}-{version}.dist-info"
    entries: dict[str, bytes] = {
        # json.dumps gives a double-quoted string that is also a Python literal.
        f"{module}/__init__.py": (
            f"__version__ = {json.dumps(version)}\nMIRROR_ORIGIN = {json.dumps(origin)}\n"
        ).encode(),
    }
    for path, content in (files or {}).items():
        entries[path] = content.encode() if isinstance(content, str) else content
    entries[f"{dist_info}/METADATA"] = _metadata(
        name, version, requires, requires_python
    ).encode()
    entries[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: dockerpypi-tests\n"
        f"Root-Is-Purelib: {'true' if tag == 'py3-none-any' else 'false'}\nTag: {tag}\n"
    ).encode()
    record_path = f"{dist_info}/RECORD"
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in entries.items())
    # RECORD cannot hash itself: its line has empty hash and size fields.
    entries[record_path] = (record + f"{record_path},,\n").encode()

    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"{spelled}-{version}-{tag}.whl"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries.items():
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return target


def make_sdist(dest_dir: Path, name: str, version: str, *, requires_python: str | None = None,
               spelling: str | None = None) -> Path:
    """Write ``<name>-<version>.tar.gz`` holding ``<name>-<version>/PKG-INFO``.

    Only the metadata: enough for an index (nothing can build it).
    ``spelling`` as for :func:`make_wheel`.
    """
    base = f"{module_name(name) if spelling is None else spelling}-{version}"
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"{base}.tar.gz"
    data = _metadata(name, version, (), requires_python).encode()
    with tarfile.open(target, "w:gz") as archive:
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return target
