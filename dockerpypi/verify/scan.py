"""``dockerpypi verify``: look through an image for traces of a build's mirror configuration.

What a push or an export carries is what ``docker save`` writes, so that is
what is read, as a stream (nothing is unpacked to disk, no layer is held in
memory): every layer, including files a later layer deleted; the image config
(``Env``, ``Labels``, ``Cmd``, ``Entrypoint`` and the rest); and the history
that ``docker history`` shows. A buildx metadata file (``--metadata-file``)
and any provenance in it are read too.

Two kinds of trace are looked for:

- by shape, whatever the mirror: pip/uv/easy_install config files that select
  an index, ``.netrc`` files, files left under the mirror's mount point or
  ``/run/dockerpypi``, empty stub files at secret mount targets, and
  variables or build args that select an index;
- by content: the configured mirror URLs and their credentials (passwords and
  tokens, as typed and percent-encoded), plus any ``--needle``. A credential
  is never printed: a finding calls it ``credential of mirror N``.

Empty *directories* at the mount points are not traces: BuildKit before
about 0.12 (Docker 20.10) leaves the mount points of a ``RUN`` step in its
layer, and an empty directory holds nothing.

The scanning functions work on any byte stream (:func:`scan_archive`) or
JSON document (:func:`scan_document`) and are pure; only :func:`verify_image`
talks to the engine, through the docker CLI (:mod:`dockerpypi.verify.image`),
so it reads the engine ``dockerpypi build`` wrote to.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import posixpath
import re
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, cast
from urllib.parse import quote

from ..dockerfile.vocabulary import CACHE_ROOT, STEP_DIR, secret_mounts
from ..errors import UsageError, UserMessageError
from ..settings.resolve import Settings

# Files larger than this are not read: installer config and scripts are tiny,
# the big files in an image are libraries and archives.
MAX_READ = 4 * 1024 * 1024
# JSON documents of the archive (configs, manifests, attestations) up to this size.
MAX_DOCUMENT = 32 * 1024 * 1024
_CHUNK = 1024 * 1024
# A credential shorter than this is not searched for: it would be found everywhere.
MIN_SECRET = 4

# File names installers read index settings (or HTTP credentials) from.
CONFIG_FILE_NAMES = frozenset({"pip.conf", "pip.ini", "uv.toml", ".pydistutils.cfg",
                               "pydistutils.cfg", ".netrc"})
# A line that selects an index in pip.conf, uv.toml or .pydistutils.cfg.
_INDEX_SETTING = re.compile(
    rb"(?im)^[ \t]*(?:(?:(?:extra|default)[-_]?)?index(?:[-_]?url)?|find[-_]links|"
    rb"trusted[-_]host|no[-_]index|allow[-_]hosts|index[-_]strategy)[ \t]*[=:]"
    rb"|^[ \t]*\[\[[ \t]*(?:tool\.uv\.)?index[ \t]*\]\]")
_NETRC_ENTRY = re.compile(rb"(?:^|\s)(?:machine|default|login|password)\s")
# Variables that select an index: in the image's Env, or a step's build args.
_INDEX_VARIABLE = (r"(?:(?:PIP|UV)_\w*(?:INDEX|FIND_LINKS|TRUSTED_HOST|INSECURE_HOST)\w*"
                   r"|DOCKERPYPI_(?:MIRRORS|PUBLIC_INDEX)|DIB_PYPI_MIRROR_URL\w*"
                   r"|PYPI_MIRROR_URL\w*)")
_INDEX_ENV = re.compile(rf"^(?:{_INDEX_VARIABLE}|(?:PIP|UV)_CONFIG_FILE|DOCKERPYPI_\w+)=")
_INDEX_ASSIGNMENT = re.compile(rf"(?<![A-Za-z0-9_]){_INDEX_VARIABLE}=")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_TAR_MAGIC = b"ustar"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


# --- what is looked for ----------------------------------------------------------

@dataclass(frozen=True)
class Needle:
    """A string that must not be in the image; ``label`` is how findings name it."""

    text: str
    label: str
    secret: bool = False
    # A URL needle must not run on into a longer host name or port: the
    # mirror 127.0.0.1:9 is not in a text that says 127.0.0.1:90.
    whole: bool = False

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")

    @functools.cached_property
    def _pattern(self) -> re.Pattern[bytes]:
        return re.compile(re.escape(self.data) + rb"(?![A-Za-z0-9_.-])")

    def found_in(self, data: bytes) -> bool:
        """Whether the needle is in ``data`` (a quick search, then the boundary if needed)."""
        if self.data not in data:
            return False
        return not self.whole or self._pattern.search(data) is not None


def _url_needles(url: str) -> list[str]:
    """What to search for to find ``url``, also when credentials were put back into it.

    ``http://user:pw@host/simple/`` does not contain ``http://host/simple/``,
    so an http(s) mirror is searched by ``host[:port]/path`` (without the
    trailing slash); a bare host name is searched as ``://host`` and
    ``@host``, since the name alone (``localhost``) is in every image.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "file":
        return [url.rstrip("/")]
    path = parts.path.rstrip("/")
    if path or parts.port is not None:
        return [parts.netloc + path]
    return [f"://{parts.netloc}", f"@{parts.netloc}"]


def default_needles(settings: Settings, extra: Iterable[str] = ()) -> tuple[list[Needle],
                                                                            list[str]]:
    """The needles for ``settings`` (mirror URLs and credentials) and ``extra``; and notes.

    The public index's URL is not a trace (every pip knows it), but its
    credentials, if it has any, are. Credentials are chosen as
    :func:`dockerpypi.build.credential_strings` chooses them.
    """
    needles: list[Needle] = []
    notes: list[str] = []
    seen: set[str] = set()

    def add(needle: Needle) -> None:
        if needle.text and needle.text not in seen:
            seen.add(needle.text)
            needles.append(needle)

    public = settings.public_index.value
    numbered = [(f"mirror {n}", mirror) for n, mirror in enumerate(settings.mirrors.value, 1)]
    for name, mirror in numbered:
        for text in _url_needles(mirror.url):
            add(Needle(text, f"{name} ({mirror.url})", whole=True))
    for name, mirror in [*numbered, ("the public index", public)]:
        credentials = mirror.credentials
        if credentials is None:
            continue
        # A user name next to a password is not a secret; alone it is a token.
        secret = credentials.password if credentials.password is not None \
            else credentials.username
        if not secret:
            continue
        if len(secret) < MIN_SECRET:
            notes.append(f"the credential of {name} has fewer than {MIN_SECRET} characters "
                         "and was not searched for (it would match everywhere)")
            continue
        for text in (secret, quote(secret, safe="")):
            add(Needle(text, f"credential of {name}", secret=True))
    for text in extra:
        if not text:
            raise UsageError("--needle needs a text to search for: drop the empty --needle")
        add(Needle(text, repr(text)))
    return needles, notes


# --- what is found ---------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One trace: where it is (a layer and its step, the config, a document), and what."""

    where: str  # "layer 2/5 (step 3: RUN ...)", "config", "history step 4 (...)", ...
    path: str  # a file in a layer, a config field, a JSON path
    problem: str
    layer: int | None = None  # 1-based layer index
    step: int | None = None  # 1-based history step

    def __str__(self) -> str:
        return f"{self.where}: {self.path}: {self.problem}"

    def to_json(self) -> dict[str, object]:
        return {"where": self.where, "layer": self.layer, "step": self.step,
                "path": self.path, "problem": self.problem}


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify`` found in one image (and metadata file)."""

    image: str
    image_id: str | None
    layers: int
    files_read: int
    skipped: tuple[str, ...]  # files too large to read
    searched: tuple[str, ...]  # needle labels
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, object]:
        return {
            "image": self.image,
            "id": self.image_id,
            "clean": self.clean,
            "layers": self.layers,
            "files_read": self.files_read,
            "skipped_large_files": list(self.skipped),
            "searched_for": list(self.searched),
            "findings": [finding.to_json() for finding in self.findings],
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
        }


def redactor(needles: Sequence[Needle]) -> Any:
    """A function that takes credentials (and URL userinfo) out of a text for display."""
    from ..process import redact

    secrets = [needle.text for needle in needles if needle.secret]
    return lambda text: redact([text], secrets)[0]


def _short(text: str, limit: int = 100) -> str:
    """One line; both ends of a long one (a RUN line's target is often at the end)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-limit // 2:]}"


# --- the scan itself ---------------------------------------------------------------

@dataclass
class _Rules:
    needles: Sequence[Needle]
    scratch_dirs: tuple[str, ...]  # absolute, no trailing slash
    secret_targets: frozenset[str]
    max_read: int = MAX_READ

    def shown(self, text: str) -> str:
        """``text`` for a label: credentials out first, then shortened (never the reverse,
        which could cut a credential in two and show half of it)."""
        return _short(redactor(self.needles)(text))

    @classmethod
    def make(cls, needles: Sequence[Needle], mount_point: str, max_read: int) -> _Rules:
        scratch = (mount_point.rstrip("/") or "/", STEP_DIR, CACHE_ROOT)
        targets = {target for _, target in secret_mounts()}
        # A secret mounted without target= lands in /run/secrets/<id>.
        targets |= {f"/run/secrets/{secret_id}" for secret_id, _ in secret_mounts()}
        return cls(needles, scratch, frozenset(targets), max_read)

    def in_scratch(self, path: str) -> str | None:
        return next((d for d in self.scratch_dirs if path.startswith(d + "/")), None)

    def hits(self, data: bytes) -> list[Needle]:
        return [n for n in self.needles if n.found_in(data)]


@dataclass
class _LayerScan:
    findings: list[tuple[str, str]] = field(default_factory=list)  # (path, problem)
    files_read: int = 0
    skipped: list[str] = field(default_factory=list)


def _search_stream(handle: IO[bytes], rules: _Rules, first: bytes = b"") -> set[Needle]:
    """Needles in a file read chunk by chunk (a needle may straddle two chunks)."""
    found: set[Needle] = set()
    keep = max((len(n.data) for n in rules.needles), default=1) - 1
    tail = b""
    data = first
    while True:
        if data:
            window = tail + data
            found.update(n for n in rules.needles if n not in found and n.found_in(window))
            tail = window[-keep:] if keep else b""
        if len(found) == len(rules.needles):
            break
        data = handle.read(_CHUNK)
        if not data:
            break
    return found


def _shown(needle: Needle) -> str:
    return f"contains {needle.label}"


def scan_layer(blob: IO[bytes], rules: _Rules) -> _LayerScan:
    """Every trace in one layer tar (plain or gzip), read as a stream."""
    result = _LayerScan()
    with tarfile.open(fileobj=blob, mode="r|*") as layer:
        for entry in layer:
            path = "/" + entry.name.removeprefix("./").strip("/")
            name = posixpath.basename(path)
            if name.startswith(".wh."):
                continue  # a deletion marker: the deleted file is reported in its own layer
            for needle in rules.hits(path.encode()):
                result.findings.append((path, f"its name {_shown(needle)}"))
            if entry.isdir():
                continue  # empty mount points (20.10's BuildKit) hold nothing
            if path in rules.secret_targets and entry.isfile() and entry.size == 0:
                result.findings.append((path, "empty stub file left at a secret mount target"))
            elif (scratch := rules.in_scratch(path)) is not None:
                result.findings.append((path, f"file left under {scratch}, which only a "
                                              "build step may use"))
            if entry.issym() or entry.islnk():
                target = entry.linkname
                if entry.issym() and not target.startswith("/"):
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
                elif entry.islnk():
                    target = "/" + target.removeprefix("./").strip("/")
                if rules.in_scratch(target) or target in rules.secret_targets:
                    result.findings.append((path, f"links to {target}, which exists only "
                                                  "while a build step runs"))
                for needle in rules.hits(entry.linkname.encode()):
                    result.findings.append((path, f"its link target {_shown(needle)}"))
                continue  # a hard link's data is read where its first name is
            if not entry.isfile():
                continue
            if entry.size > rules.max_read:
                result.skipped.append(path)
                continue
            handle = layer.extractfile(entry)
            if handle is None:  # pragma: no cover - isfile() members always have data
                continue
            result.files_read += 1
            first = b""
            if name in CONFIG_FILE_NAMES:
                first = handle.read()
                if name == ".netrc":
                    if _NETRC_ENTRY.search(b" " + first):
                        result.findings.append((path, ".netrc with credentials for HTTP hosts"))
                elif _INDEX_SETTING.search(first):
                    result.findings.append((path, "installer config file that selects an "
                                                  "index"))
            for needle in sorted(_search_stream(handle, rules, first),
                                 key=rules.needles.index):
                result.findings.append((path, _shown(needle)))
    return result


@dataclass
class ArchiveScan:
    """What :func:`scan_archive` found: per image, the layers' and the config's findings."""

    findings: list[Finding]
    image_ids: list[str]
    layers: int
    files_read: int
    skipped: list[str]
    notes: list[str]


class ScanProgress(Protocol):
    """Told how far a scan has come: what a progress display needs, nothing more."""

    def started(self, total_bytes: int | None, layers: int | None) -> None:
        """The scan begins; about this many bytes and layers are ahead (None: not known)."""

    def advanced(self, count: int) -> None:
        """``count`` more bytes of the archive were read."""

    def layer_done(self) -> None:
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
            self._progress.advanced(len(data))
        return len(data)


def counted(source: IO[bytes], progress: ScanProgress | None) -> IO[bytes]:
    """``source``, telling ``progress`` (if any) of each chunk read."""
    if progress is None:
        return source
    return io.BufferedReader(_Counted(source, progress), buffer_size=_CHUNK)


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
    rules = _Rules.make(needles, mount_point, max_read)
    layers: dict[str, _LayerScan] = {}
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
                    progress.layer_done()
            elif head.startswith(_ZSTD_MAGIC):
                unreadable[name] = "is zstd-compressed, which this Python cannot read"
                if progress is not None:
                    progress.layer_done()
            elif head and not head.strip(b"\0"):
                if progress is not None:
                    progress.layer_done()  # an empty layer: a tar of zeros only
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
        raise UserMessageError("the archive has neither manifest.json nor index.json: give "
                               "the tar that `docker save` or `buildx --output type=oci` wrote")

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


def _assemble(layers: Mapping[str, _LayerScan], documents: Mapping[str, Any],
              links: Mapping[str, str], unreadable: Mapping[str, str],
              rules: _Rules) -> ArchiveScan:
    images = _images(documents)
    findings: list[Finding] = []
    used: set[str] = {"manifest.json", "index.json"}
    scan = ArchiveScan(findings, [], 0, 0, [], [])
    for number, image in enumerate(images, start=1):
        prefix = f"image {number}/{len(images)} " if len(images) > 1 else ""
        config = documents.get(image.config)
        if not isinstance(config, dict):
            raise UserMessageError(f"the archive lacks the image config {image.config}: "
                                   "save the image again")
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


def scan_config(config: Mapping[str, Any], needles: Sequence[Needle], *,
                prefix: str = "") -> list[Finding]:
    """Traces in an image config: Env, Labels, Cmd, Entrypoint, history, everything else."""
    findings: list[Finding] = []
    settings = config.get("config") or {}
    where = f"{prefix}config"
    clean = redactor(needles)

    def shown(text: str) -> str:
        return _short(clean(text))

    def hits(text: str) -> list[Needle]:
        return [n for n in needles if n.found_in(text.encode())]

    for entry in settings.get("Env") or []:
        variable = str(entry).split("=", 1)[0]
        if _INDEX_ENV.match(str(entry)):
            findings.append(Finding(where, f"Env {variable}", "sets a variable that points "
                                                              "an installer at an index"))
        findings += [Finding(where, f"Env {variable}", _shown(n)) for n in hits(str(entry))]
    for key, value in (settings.get("Labels") or {}).items():
        findings += [Finding(where, f"Labels {key}", _shown(n))
                     for n in hits(f"{key}={value}")]
    for name in ("Cmd", "Entrypoint"):
        findings += [Finding(where, name, _shown(n))
                     for n in hits(json.dumps(settings.get(name)))]
    for number, step in enumerate(config.get("history") or [], start=1):
        text = f"{step.get('created_by', '')} {step.get('comment', '')}"
        label = f"{prefix}history step {number} ({shown(step.get('created_by', ''))})"
        match = _INDEX_ASSIGNMENT.search(text)
        if match:
            findings.append(Finding(label, "created_by", f"sets {match.group(0)[:-1]} (a build "
                                                         "arg or variable that selects an "
                                                         "index)", step=number))
        findings += [Finding(label, "created_by", _shown(n), step=number) for n in hits(text)]
    # Everything else (OnBuild, Healthcheck, the legacy builder's container_config...).
    rest = {key: value for key, value in config.items() if key not in ("config", "history")}
    rest["config"] = {key: value for key, value in settings.items()
                      if key not in ("Env", "Labels", "Cmd", "Entrypoint")}
    findings += [Finding(where, "other fields", _shown(n)) for n in hits(json.dumps(rest))]
    return findings


def scan_document(document: Any, needles: Sequence[Needle], where: str) -> list[Finding]:
    """Traces in a JSON document (metadata file, provenance, manifest), field by field.

    Strings that are base64 (BuildKit puts the Dockerfile into max-mode
    provenance that way, and buildx the provenance itself into the metadata
    file) are decoded and searched too; decoded JSON is walked in turn.
    """
    findings: list[Finding] = []

    def check(data: bytes, path: str, how: str) -> None:
        findings.extend(Finding(where, path or "/", f"{how}{_shown(n)}")
                        for n in needles if n.found_in(data))

    def walk(value: Any, path: str, depth: int) -> None:
        if depth > 64:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                key = str(key)
                child = f"{path}/{key}"
                check(key.encode(), child, "its key ")
                if key.startswith("build-arg:") and re.fullmatch(
                        _INDEX_VARIABLE, key.removeprefix("build-arg:")):
                    findings.append(Finding(where, child, "a build arg that selects an index"))
                walk(item, child, depth + 1)
        elif isinstance(value, list):
            for position, item in enumerate(value):
                walk(item, f"{path}/{position}", depth + 1)
        elif isinstance(value, str):
            check(value.encode(), path, "")
            decoded = _base64(value)
            if decoded is not None:
                try:
                    inner = json.loads(decoded)
                except ValueError:
                    check(decoded, path, "(base64) ")
                else:
                    if isinstance(inner, (dict, list)):
                        walk(inner, f"{path}(base64)", depth + 1)
                    else:
                        check(decoded, path, "(base64) ")

    walk(document, "", 0)
    return findings


def _base64(text: str) -> bytes | None:
    stripped = "".join(text.split())
    if len(stripped) < 16 or not _BASE64.fullmatch(stripped):
        return None
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


# --- the engine --------------------------------------------------------------------

def read_metadata_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read the metadata file {path} ({error.strerror}): give the "
                         "file `docker buildx build --metadata-file` wrote") from None
    except (UnicodeDecodeError, ValueError):
        raise UsageError(f"the metadata file {path} is not JSON: give the file "
                         "`docker buildx build --metadata-file` wrote") from None


def verify_image(image: str | None, needles: Sequence[Needle], *, mount_point: str,
                 archive: Path | None = None, metadata: Any = None,
                 metadata_name: str = "metadata file", notes: Sequence[str] = (),
                 max_read: int = MAX_READ,
                 progress: ScanProgress | None = None) -> VerifyResult:
    """Scan ``image`` on the engine (or the tar ``archive``) and the buildx ``metadata``.

    ``progress`` hears how the reading of the layers goes.
    """
    started = time.monotonic()
    if (image is None) == (archive is None):
        raise UsageError("give an IMAGE or --archive FILE, not both")
    found_notes = list(notes)
    if archive is not None:
        try:
            with archive.open("rb") as handle:
                if progress is not None:
                    progress.started(archive.stat().st_size, None)
                scan = scan_archive(counted(handle, progress), needles,
                                    mount_point=mount_point, max_read=max_read,
                                    progress=progress)
        except OSError as error:
            raise UsageError(f"cannot read {archive} ({error.strerror}): give the tar that "
                             "`docker save` or `buildx --output type=oci` wrote") from None
        except tarfile.TarError as error:
            raise UsageError(f"{archive} is not a tar archive ({error}): give the tar that "
                             "`docker save` or `buildx --output type=oci` wrote") from None
        image_id = scan.image_ids[0] if scan.image_ids else None
        shown = str(archive)
    else:
        assert image is not None
        from . import image as _engine_image

        found = _engine_image.inspect_image(image)
        image_id = found.id
        if not found.layers:
            # The engine refuses to save an image without layers ("empty
            # export"): FROM scratch with only ENV or LABEL. Its config and
            # history are all there is.
            config = _engine_image.config_document(found)
            scan = ArchiveScan(scan_config(config, needles), [image_id], 0, 0, [], [])
        else:
            if progress is not None:
                progress.started(found.size, found.saved_layers)
            with _engine_image.saved(found) as stream:
                scan = scan_archive(counted(stream, progress), needles,
                                    mount_point=mount_point, max_read=max_read,
                                    progress=progress)
        shown = image
    findings = list(scan.findings)
    if metadata is not None:
        findings += scan_document(metadata, needles, metadata_name)
        described = metadata.get("containerimage.config.digest") \
            if isinstance(metadata, dict) else None
        if described and image_id and described != image_id:
            found_notes.append(f"the {metadata_name} describes image {described[:19]}, "
                               f"not {image_id[:19]}")
    return VerifyResult(
        image=shown,
        image_id=image_id,
        layers=scan.layers,
        files_read=scan.files_read,
        skipped=tuple(scan.skipped),
        searched=tuple(dict.fromkeys(n.label for n in needles)),
        findings=tuple(findings),
        notes=tuple(found_notes + scan.notes),
        seconds=time.monotonic() - started,
    )


def report_lines(result: VerifyResult, needles: Sequence[Needle]) -> Iterator[str]:
    """The text report: one line per finding, credentials taken out."""
    clean = redactor(needles)
    for finding in result.findings:
        yield clean(str(finding))
    for note in result.notes:
        yield clean(f"note: {note}")


def report_json(result: VerifyResult, needles: Sequence[Needle]) -> dict[str, object]:
    """:meth:`VerifyResult.to_json` with credentials taken out of every text."""
    clean = redactor(needles)

    def scrub(value: object) -> object:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        return value

    data = scrub(result.to_json())
    assert isinstance(data, dict)
    return data


def summary(result: VerifyResult) -> str:
    skipped = f", {len(result.skipped)} over {MAX_READ >> 20} MiB not read" \
        if result.skipped else ""
    searched = ", ".join(result.searched) or "nothing but the shapes of installer config"
    count = len(result.findings)
    state = "clean" if result.clean else f"{count} trace{'' if count == 1 else 's'}"
    return (f"{result.image}: {state} ({result.layers} layers, {result.files_read} files "
            f"read{skipped}; searched for {searched}) in {result.seconds:.1f}s")
