"""An image archive, read as a stream: what ``docker save`` or ``buildx --output type=oci`` wrote.

What a push or an export carries is what ``docker save`` writes, so that is
what is read: every layer (:mod:`.layers`), including files a later layer
deleted; the image config and history, and every other JSON document of the
archive (:mod:`.documents`). :func:`scan_archive` works on any byte stream;
:func:`counted` tells a :class:`ScanProgress` how far it has come.
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, cast

from ..errors import UserMessageError
from .documents import scan_config, scan_document
from .layers import CHUNK, LayerScan, scan_layer
from .needles import MAX_READ, Needle, Rules
from .report import Finding

# JSON documents of the archive (configs, manifests, attestations) up to this size.
MAX_DOCUMENT = 32 * 1024 * 1024
_TAR_MAGIC = b"ustar"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ScanProgress(Protocol):
    """Told how far a scan has come: what a progress display needs, nothing more."""

    def scan_started(self, total_bytes: int | None, layers: int | None) -> None:
        """The scan begins; about this many bytes and layers are ahead (None: not known)."""

    def scan_advanced(self, count: int) -> None:
        """``count`` more bytes of the archive were read."""

    def layer_scanned(self) -> None:
        """One more layer was read."""


class _Counted(io.RawIOBase):
    """A stream that tells ``progress`` how many bytes were read from ``source``."""

    def __init__(self, source: IO[bytes], progress: ScanProgress) -> None:
        self._source = source
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[:len(data)] = data
        if data:
            self._progress.scan_advanced(len(data))
        return len(data)


def counted(source: IO[bytes], progress: ScanProgress | None) -> IO[bytes]:
    """``source``, telling ``progress`` (if any) of each chunk read."""
    if progress is None:
        return source
    return io.BufferedReader(_Counted(source, progress), buffer_size=CHUNK)


@dataclass
class ArchiveScan:
    """What :func:`scan_archive` found: per image, the layers' and the config's findings."""

    findings: list[Finding]
    image_ids: list[str]
    layers: int
    files_read: int
    skipped: list[str]
    notes: list[str]


def scan_archive(archive: IO[bytes], needles: Sequence[Needle], *, mount_point: str,
                 max_read: int = MAX_READ,
                 progress: ScanProgress | None = None) -> ArchiveScan:
    """Scan a ``docker save`` tar, or an OCI layout tar, read as a stream.

    Engine 25+ writes an OCI layout with a ``manifest.json`` (layers and config
    under ``blobs/sha256/``), Engine 20.10 ``<id>/layer.tar`` and
    ``<digest>.json``; ``buildx --output type=oci`` writes only ``index.json``,
    whose attestation manifests (provenance) are read too. The order of the
    members differs, so layers are scanned as they pass and named at the end.
    ``progress`` hears of each layer read (the caller counts the bytes).
    """
    rules = Rules.make(needles, mount_point, max_read)
    layers: dict[str, LayerScan] = {}
    documents: dict[str, Any] = {}
    links: dict[str, str] = {}
    unreadable: dict[str, str] = {}
    with tarfile.open(fileobj=archive, mode="r|") as outer:
        for member in outer:
            name = member.name.removeprefix("./")
            if member.issym() or member.islnk():
                # 20.10 writes a repeated layer as a link to its first copy.
                base = posixpath.dirname(name) if member.issym() else ""
                links[name] = posixpath.normpath(posixpath.join(base, member.linkname))
                continue
            if not member.isfile():
                continue
            blob = outer.extractfile(member)
            if blob is None:  # pragma: no cover
                continue
            head = cast(io.BufferedReader, blob).peek(512)[:512]  # peek reads nothing
            if head[257:262] == _TAR_MAGIC or head.startswith(_GZIP_MAGIC):
                layers[name] = scan_layer(blob, rules)
                if progress is not None:
                    progress.layer_scanned()
            elif head.startswith(_ZSTD_MAGIC):
                unreadable[name] = "is zstd-compressed, which this Python cannot read"
                if progress is not None:
                    progress.layer_scanned()
            elif head and not head.strip(b"\0"):
                if progress is not None:
                    progress.layer_scanned()  # an empty layer: a tar of zeros only
            elif head.lstrip()[:1] in (b"{", b"["):
                if member.size > MAX_DOCUMENT:
                    unreadable[name] = f"is a JSON document over {MAX_DOCUMENT >> 20} MiB"
                    continue
                try:
                    documents[name] = json.loads(blob.read())
                except ValueError:
                    unreadable[name] = "looks like JSON but is not"
            # else: VERSION files, oci-layout
    return _assemble(layers, documents, links, unreadable, rules)


@dataclass
class _Image:
    config: str
    layers: list[str]
    attestations: list[str] = field(default_factory=list)


def _images(documents: Mapping[str, Any]) -> list[_Image]:
    """The images of the archive: from manifest.json, else from the OCI index."""
    manifest = documents.get("manifest.json")
    if isinstance(manifest, list) and manifest:
        return [_Image(entry["Config"], list(entry["Layers"])) for entry in manifest]
    index = documents.get("index.json")
    if not isinstance(index, dict):
        raise UserMessageError("the archive has neither manifest.json nor index.json",
                               fix="give the tar that `docker save` or `buildx --output "
                                   "type=oci` wrote")

    def blob(descriptor: Mapping[str, Any]) -> str:
        algorithm, _, digest = str(descriptor.get("digest", "")).partition(":")
        return f"blobs/{algorithm}/{digest}"

    images: list[_Image] = []
    attestations: list[str] = []
    pending = list(index.get("manifests") or [])
    while pending:
        descriptor = pending.pop(0)
        document = documents.get(blob(descriptor))
        if not isinstance(document, dict):
            continue
        if "manifests" in document:  # a nested index
            pending += document.get("manifests") or []
            continue
        config = blob(document.get("config") or {})
        layer_blobs = [blob(layer) for layer in document.get("layers") or []]
        annotations = descriptor.get("annotations") or {}
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            attestations += layer_blobs
        else:
            images.append(_Image(config, layer_blobs))
    if images:
        images[0].attestations = attestations
    return images


def _assemble(layers: Mapping[str, LayerScan], documents: Mapping[str, Any],
              links: Mapping[str, str], unreadable: Mapping[str, str],
              rules: Rules) -> ArchiveScan:
    images = _images(documents)
    findings: list[Finding] = []
    used: set[str] = {"manifest.json", "index.json"}
    scan = ArchiveScan(findings, [], 0, 0, [], [])
    for number, image in enumerate(images, start=1):
        prefix = f"image {number}/{len(images)} " if len(images) > 1 else ""
        config = documents.get(image.config)
        if not isinstance(config, dict):
            raise UserMessageError(f"the archive lacks the image config {image.config}",
                                   fix="save the image again")
        used.add(image.config)
        scan.image_ids.append("sha256:" + posixpath.basename(image.config).removesuffix(".json"))
        names = _layer_names(image.layers, config.get("history") or [], rules.shown)
        scan.layers += len(image.layers)
        for index, (layer, (label, step)) in enumerate(zip(image.layers, names, strict=True),
                                                       start=1):
            real = links.get(layer, layer)
            where = prefix + label
            if real in unreadable:
                findings.append(Finding(where, real, f"could not be read: it "
                                                     f"{unreadable[real]}", index, step))
                continue
            found = layers.get(real)
            if found is None:
                continue  # an empty layer
            scan.files_read += found.files_read
            scan.skipped += [f"{where}: {path}" for path in found.skipped]
            findings += [Finding(where, path, problem, index, step)
                         for path, problem in found.findings]
        findings += scan_config(config, rules.needles, prefix=prefix)
        for attestation in image.attestations:
            used.add(attestation)
            findings += scan_document(documents.get(attestation), rules.needles,
                                      f"{prefix}attestation {_blob_label(attestation)}")
    # Whatever else the archive holds as JSON (manifests, 20.10's per-layer
    # json, v1 compatibility configs) may repeat the config: report only what
    # the config did not already show.
    config_text = json.dumps([documents.get(i.config) for i in images])
    fresh = [n for n in rules.needles if n.text not in config_text]
    for name, document in documents.items():
        if name not in used:
            findings += scan_document(document, fresh, _blob_label(name))
    for name, why in unreadable.items():
        if name not in layers and not any(f.path == name for f in findings):
            scan.notes.append(f"{_blob_label(name)} could not be read: it {why}")
    return scan


def _blob_label(name: str) -> str:
    if name.startswith("blobs/"):
        return "blob " + name.removeprefix("blobs/").replace("/", ":", 1)[:19]
    return name


def _layer_names(layers: Sequence[str], history: Sequence[Mapping[str, Any]],
                 shown: Callable[[str], str]) -> list[tuple[str, int | None]]:
    # History entries that made no layer (ENV, LABEL, ...) are marked
    # empty_layer; the others pair with the layers, in order.
    made: list[tuple[int | None, str]] = [
        (number, step.get("created_by") or step.get("comment") or "")
            for number, step in enumerate(history, start=1) if not step.get("empty_layer")]
    if len(made) != len(layers):
        made = [(None, "")] * len(layers)  # history missing or inconsistent: number only
    names: list[tuple[str, int | None]] = []
    for index, (number, created_by) in enumerate(made, start=1):
        label = f"layer {index}/{len(layers)}"
        if number is not None:
            label += f" (step {number}: {shown(created_by)})" if created_by \
                else f" (step {number})"
        names.append((label, number))
    return names
