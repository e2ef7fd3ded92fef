"""What a distribution file says: its project and version, its hash, its core metadata."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import io
import os
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

from .filenames import SDIST_SUFFIXES

PAGE = "index.html"
METADATA_SUFFIX = ".metadata"  # PEP 658: "<file>.metadata" next to the file
_CHUNK = 1 << 20
_WHOLE = 4 << 20  # read whole, up to this size
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)
# A Requires-Python header at the start of a line, not folded onto the next.
_REQUIRES_PYTHON = re.compile(rb"^requires-python:([^\r\n]*)\r?\n(?![ \t])", re.I | re.M)
# What a damaged or foreign archive can raise while its metadata is read.
ARCHIVE_ERRORS = (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, zlib.error,
                  KeyError, ValueError)


@dataclass(frozen=True)
class Distribution:
    """What a distribution's file name says."""

    filename: str
    project: NormalizedName
    version: str
    is_wheel: bool


class Unreadable(Exception):
    """A distribution whose contents cannot be read; it stays out of the index."""


def parse_distribution(filename: str) -> Distribution:
    """Project and version from a wheel or sdist name; ValueError says why not."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return Distribution(filename, name, str(version), True)
        if filename.endswith(SDIST_SUFFIXES):
            name, sdist_version = parse_sdist_filename(filename)
            return Distribution(filename, name, str(sdist_version), False)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise ValueError(f"not a valid distribution file name ({exc})") from None
    raise ValueError("not a wheel or sdist (.whl, .tar.gz, .zip)")


def is_index_file(filename: str) -> bool:
    """Files the index itself writes (or pip leaves hidden): never distributions."""
    return (filename.startswith(".") or filename == PAGE
            or filename.endswith(".whl" + METADATA_SUFFIX))


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return _sha256_of_handle(handle)


def _sha256_of_handle(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def read_distribution(path: Path, is_wheel: bool, project: str) -> tuple[str, bytes | None]:
    """The file's sha256 and its core metadata (None for an sdist without PKG-INFO).

    One open for both: on a first index of many small files the opening costs
    more than the reading. A file up to ``_WHOLE`` bytes is read in one call and
    its archive opened in memory (zipfile's seeks and small reads are each a
    system call on a file); a larger one is streamed.
    """
    with path.open("rb") as handle:
        archive: BinaryIO = handle
        if os.fstat(handle.fileno()).st_size <= _WHOLE:
            data = handle.read()
            digest = hashlib.sha256(data).hexdigest()
            archive = io.BytesIO(data)
        else:
            digest = _sha256_of_handle(handle)
            handle.seek(0)
        if is_wheel:
            return digest, wheel_metadata(archive, project)
        return digest, sdist_metadata(path.name, archive)


def wheel_metadata(wheel: Path | BinaryIO, project: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        found = [n for n in archive.namelist()
                 if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(found) > 1:  # a wheel that vendors another's dist-info: take its own
            found = [n for n in found
                     if canonicalize_name(n.split("/")[0][:-10].rpartition("-")[0]) == project]
        if len(found) != 1:
            raise Unreadable("its .dist-info/METADATA is missing or ambiguous")
        return archive.read(found[0])


def sdist_metadata(filename: str, handle: BinaryIO) -> bytes | None:
    def is_pkg_info(name: str) -> bool:
        name = name.removeprefix("./")
        return name.count("/") == 1 and name.endswith("/PKG-INFO")

    if filename.endswith(".zip"):
        with zipfile.ZipFile(handle) as archive:
            names = [n for n in archive.namelist() if is_pkg_info(n)]
            return archive.read(names[0]) if names else None
    with tarfile.open(fileobj=handle, mode="r:gz") as tar:
        for member in tar:  # streams: PKG-INFO is usually near the start
            if member.isfile() and is_pkg_info(member.name):
                content = tar.extractfile(member)
                return content.read() if content is not None else None
    return None  # very old sdists have none; they are indexed without Requires-Python


def requires_python(metadata: bytes | None) -> str | None:
    if metadata is None:
        return None
    # The stdlib's header parser, not packaging.metadata: that one validates
    # every field, and importing it alone cost more than re-indexing ten files.
    # Only the headers are parsed: the body is the description, often most of
    # the file. (Core metadata is RFC 822 headers; packaging parses it so too.)
    ends = [end for end in (metadata.find(b"\n\n"), metadata.find(b"\n\r\n")) if end >= 0]
    block = metadata[:min(ends) + 1] if ends else metadata
    if b"requires-python" not in block.lower():
        return None  # most files: no header to parse
    simple = _REQUIRES_PYTHON.search(block)
    if (simple is not None and simple.group(1).isascii()
            and block.lower().count(b"requires-python") == 1):
        # The one header, on one line (a folded value goes to the parser).
        value = simple.group(1).decode("ascii").strip()
        return value or None
    headers = _HEADERS.parsebytes(block)
    value = headers.get("Requires-Python")
    return (value.strip() or None) if isinstance(value, str) else None
