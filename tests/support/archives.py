"""Image archives as the engines write them, made in memory for the scanner's tests.

Engine 25+ `docker save` writes an OCI layout plus manifest.json (the
manifest after the blobs); see tests/test_verify.py for the other layouts.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# A layer entry: bytes for a file, None for a directory, ("->", target) for a symlink.
Entry = bytes | None | tuple[str, str]


def layer_tar(files: Mapping[str, Entry], *, compress: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    data = buffer.getvalue()
    return gzip.compress(data, mtime=0) if compress else data


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def outer_tar(members: list[tuple[str, bytes | str]]) -> io.BytesIO:
    """A tar of (name, bytes) files and (name, "->target") symlinks, in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data.removeprefix("->")
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def config_of(history: list[str | tuple[str, bool]], **settings: Any) -> dict[str, Any]:
    steps = []
    for step in history:
        text, empty = step if isinstance(step, tuple) else (step, False)
        steps.append({"created_by": text, **({"empty_layer": True} if empty else {})})
    return {"architecture": "amd64", "os": "linux", "config": settings, "history": steps}


def saved_image(layers: list[bytes], config: dict[str, Any]) -> io.BytesIO:
    """What Engine 26 `docker save` writes: blobs first, manifest.json after them."""
    config_data = json.dumps(config).encode()
    members: list[tuple[str, bytes | str]] = [
        (f"blobs/sha256/{digest(layer)}", layer) for layer in layers]
    members.append((f"blobs/sha256/{digest(config_data)}", config_data))
    manifest = [{"Config": f"blobs/sha256/{digest(config_data)}",
                 "Layers": [f"blobs/sha256/{digest(layer)}" for layer in layers]}]
    members += [("index.json", b'{"schemaVersion": 2, "manifests": []}'),
                ("manifest.json", json.dumps(manifest).encode()),
                ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')]
    return outer_tar(members)


def write_archive(path: Path, layers: list[bytes], config: dict[str, Any]) -> Path:
    path.write_bytes(saved_image(layers, config).getvalue())
    return path
