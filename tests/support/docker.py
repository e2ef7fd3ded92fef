"""Build, run and inspect images on the real Docker engine.

* Builds go through the ``docker`` CLI: docker-py speaks only the classic
  builder API, and the product is about BuildKit (secrets, named contexts).
* Containers run through testcontainers, with Ryuk off: its image cannot be
  pulled here, and our own labels make cleanup certain without it.
* ``scan_image`` reads what ``docker save`` exports, which is what a push or
  an export would carry: every layer (including files a later layer deleted),
  the config and the history.

Every image and container gets ``dockerpypi.test=1`` plus a per-process
session label, so a session removes exactly its own leftovers even while
another test run shares the engine.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import docker
from docker.errors import DockerException
from testcontainers.core.config import testcontainers_config

testcontainers_config.ryuk_disabled = True

TEST_LABEL = "dockerpypi.test"
SESSION_LABEL = "dockerpypi.test.session"
SESSION_ID = uuid.uuid4().hex[:12]
LABELS = {TEST_LABEL: "1", SESSION_LABEL: SESSION_ID}
BUILD_TIMEOUT = 600  # seconds; a hung build should fail the test, not the CI run
_tag_counter = itertools.count(1)


@functools.cache
def client() -> docker.DockerClient:
    return docker.from_env(timeout=120)


def engine_problem() -> str | None:
    """Why the Docker tests cannot run here, or None when they can."""
    if shutil.which("docker") is None:
        return "the docker CLI is not on PATH"
    try:
        docker.from_env(timeout=10).ping()
    except DockerException as exc:
        return f"no Docker engine answers: {exc}"
    buildx = subprocess.run(
        ["docker", "buildx", "version"], capture_output=True, text=True, check=False
    )
    if buildx.returncode != 0:
        return f"docker buildx is not usable: {buildx.stderr.strip() or buildx.stdout.strip()}"
    return None


def unique_tag(name: str) -> str:
    """A tag no other test or concurrent session uses: dockerpypi-test/<name>:<session>-<n>."""
    return f"dockerpypi-test/{name}:{SESSION_ID}-{next(_tag_counter)}"


# --- building -------------------------------------------------------------


def _label_args() -> list[str]:
    return [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]


def _common_args(
    tag: str,
    dockerfile: Path | str | None,
    secrets: Mapping[str, Path | str] | None,
    build_args: Mapping[str, str] | None,
    network: str | None,
    use_cache: bool,
) -> list[str]:
    args = ["--progress=plain", "--tag", tag, *_label_args()]
    if not use_cache:
        # A secret's content is not part of BuildKit's cache key: without this,
        # a RUN that installs from "the mirror" is reused from an earlier test
        # whose mirror was another server, and the test proves nothing.
        args.append("--no-cache")
    if dockerfile is not None:
        args += ["--file", str(dockerfile)]
    for secret_id, path in (secrets or {}).items():
        args += ["--secret", f"id={secret_id},src={path}"]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    if network is not None:
        args.append(f"--network={network}")
    return args


def _run_build(
    command: list[str], env: Mapping[str, str] | None, check: bool
) -> subprocess.CompletedProcess[str]:
    # The plain progress log goes to stderr; merging keeps the order readable.
    result = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if check and result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-60:])
        raise AssertionError(
            f"build failed (exit {result.returncode}): {' '.join(command)}\n"
            f"--- last lines of the build log ---\n{tail}"
        )
    return result


def buildx_build(
    context_dir: Path | str,
    *,
    tag: str,
    dockerfile: Path | str | None = None,
    build_contexts: Mapping[str, Path | str] | None = None,
    secrets: Mapping[str, Path | str] | None = None,
    build_args: Mapping[str, str] | None = None,
    network: str | None = None,
    extra_args: Sequence[str] = (),
    use_cache: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``docker buildx build --load``; the log is in ``.stdout`` (stderr merged in)."""
    command = ["docker", "buildx", "build", "--load"]
    command += _common_args(tag, dockerfile, secrets, build_args, network, use_cache)
    for name, source in (build_contexts or {}).items():
        command += ["--build-context", f"{name}={source}"]
    command += [*extra_args, str(context_dir)]
    return _run_build(command, None, check)


def plain_docker_build(
    context_dir: Path | str,
    *,
    tag: str,
    dockerfile: Path | str | None = None,
    secrets: Mapping[str, Path | str] | None = None,
    build_args: Mapping[str, str] | None = None,
    network: str | None = None,
    extra_args: Sequence[str] = (),
    use_cache: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``DOCKER_BUILDKIT=1 docker build``: what a user types, no buildx-only flags.

    Note: since Docker CLI 23, ``docker build`` is itself an alias of
    ``docker buildx build`` when the buildx plugin is installed (the default
    builder, docker driver). Only an older CLI reaches the engine's built-in
    BuildKit here; what this keeps honest is the flag set and the invocation.
    """
    command = ["docker", "build"]
    command += _common_args(tag, dockerfile, secrets, build_args, network, use_cache)
    command += [*extra_args, str(context_dir)]
    return _run_build(command, {"DOCKER_BUILDKIT": "1"}, check)


# --- running --------------------------------------------------------------


def run_in_image(
    image: str,
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> tuple[int, str]:
    """Run ``command`` in a new container of ``image``; return (exit code, stdout+stderr)."""
    from testcontainers.core.container import DockerContainer

    # testcontainers pulls a missing image; nothing can be pulled here, and a
    # missing image is a bug in the test, so say so plainly.
    client().images.get(image)
    container = DockerContainer(image).with_command(command).with_kwargs(labels=dict(LABELS))
    for key, value in (env or {}).items():
        container.with_env(key, value)
    container.start()
    try:
        wrapped = container.get_wrapped_container()
        status = wrapped.wait(timeout=timeout)
        output = wrapped.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return int(status["StatusCode"]), output
    finally:
        container.stop()


# --- cleanup --------------------------------------------------------------


def remove_session_artifacts(stale_after: str = "3h") -> None:
    """Remove this session's containers and images; prune old unused test images.

    Images of other sessions are left alone unless they are older than
    ``stale_after`` and unused: those are leftovers of runs that were killed.
    """
    docker_client = client()
    session = {"label": f"{SESSION_LABEL}={SESSION_ID}"}
    for container in docker_client.containers.list(all=True, filters=session):
        _ignore_gone(container.remove, force=True)
    for image in docker_client.images.list(filters=session):
        _ignore_gone(docker_client.images.remove, image.id, force=True)
    _ignore_gone(
        docker_client.images.prune,
        filters={"label": f"{TEST_LABEL}=1", "until": stale_after, "dangling": False},
    )


def _ignore_gone(action: Any, *args: Any, **kwargs: Any) -> None:
    # Already gone, in use by another session's container, or a prune already
    # running: none of these should turn a passed session into an error.
    with contextlib.suppress(DockerException):
        action(*args, **kwargs)


# --- scanning -------------------------------------------------------------

# File names that installers read their index settings from.
CONFIG_FILE_NAMES = frozenset({"pip.conf", "pip.ini", "uv.toml", ".pydistutils.cfg", ".netrc"})
# Directories dockerpypi uses while building; nothing may remain under them.
SCRATCH_DIRS = ("run/dockerpypi", "tmp/pypi")
# Environment variables that point an installer at an index (a trace even without a needle).
INDEX_ENV = re.compile(
    r"^(?:(?:PIP|UV)_\w*(?:INDEX|FIND_LINKS|TRUSTED_HOST|INSECURE_HOST|CONFIG_FILE)\w*"
    r"|DOCKERPYPI_\w+|DIB_PYPI_MIRROR_URL\w*|PYPI_MIRROR_URL\w*)="
)
# Files larger than this are not read. Installer config and scripts are tiny;
# the big files in an image are shared libraries and archives, and reading them
# would dominate the scan time.
MAX_READ = 4 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_LAYER_CACHE: dict[tuple[str, tuple[bytes, ...]], list[str]] = {}


def scan_image(image: str, needles: Iterable[str]) -> list[str]:
    """Every trace of installer config or of ``needles`` in ``image``, as readable strings.

    An empty list means the image is clean.
    """
    # Read as dockerpypi verify reads it, from the docker CLI; the judging is
    # this module's own, an independent oracle for dockerpypi verify.
    with subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE,
                          stdin=subprocess.DEVNULL) as saving:
        assert saving.stdout is not None
        found = scan_archive(saving.stdout, needles)
        saving.stdout.read()  # what follows the tar's end marker
    assert saving.returncode == 0, f"docker save {image} failed"
    return found


def scan_archive(archive: IO[bytes], needles: Iterable[str]) -> list[str]:
    """Scan a ``docker save`` tar read as a stream (no seeking, nothing unpacked to disk).

    Both layouts are understood through ``manifest.json``: Engine 25+ writes an
    OCI layout (``blobs/sha256/<digest>`` for layers and config), Engine 20.10
    writes ``<id>/layer.tar`` and ``<digest>.json``. The manifest comes last in
    the OCI layout, so layers are scanned as they pass and named at the end.
    """
    wanted = [n.encode() for n in needles if n]
    layer_findings: dict[str, list[str]] = {}
    documents: dict[str, Any] = {}
    links: dict[str, str] = {}
    with tarfile.open(fileobj=archive, mode="r|") as outer:
        for member in outer:
            if member.issym() or member.islnk():
                # 20.10 writes a repeated layer as a link to the first copy.
                base = posixpath.dirname(member.name) if member.issym() else ""
                links[member.name] = posixpath.normpath(posixpath.join(base, member.linkname))
                continue
            if not member.isfile():
                continue
            blob = outer.extractfile(member)
            assert blob is not None
            head = blob.peek(512)[:512]  # ExFileObject is a BufferedReader: peek is free
            if head[257:262] == b"ustar" or head.startswith(GZIP_MAGIC):
                # OCI blob names are content digests, so a layer's findings can
                # be reused: the base image's big layer is then read only once.
                key = (member.name, tuple(wanted))
                found = _LAYER_CACHE.get(key)
                if found is None:
                    found = list(_scan_layer(blob, wanted))
                    if member.name.startswith("blobs/sha256/"):
                        _LAYER_CACHE[key] = found
                layer_findings[member.name] = found
            elif head[:1] in (b"{", b"[") and member.size < MAX_READ:
                documents[member.name] = json.loads(blob.read())
            # else: VERSION files, oci-layout, or an empty layer (zeros only)

    manifest = documents["manifest.json"][0]
    config = documents[manifest["Config"]]
    layer_names = _layer_names(manifest["Layers"], config.get("history", []))
    findings = []
    for layer, label in zip(manifest["Layers"], layer_names, strict=True):
        found = layer_findings.get(links.get(layer, layer), [])
        findings += [f"{label}: {finding}" for finding in found]
    return findings + list(_scan_config(config, wanted))


def _layer_names(layers: list[str], history: list[dict[str, Any]]) -> list[str]:
    # History entries that made no layer (ENV, LABEL, ...) are marked empty_layer;
    # the others pair with the layers in order.
    made = [h.get("created_by", "") for h in history if not h.get("empty_layer")]
    if len(made) != len(layers):
        made = [""] * len(layers)  # history missing or inconsistent: number only
    names = []
    for index, (layer, created_by) in enumerate(zip(layers, made, strict=True), start=1):
        short = layer.removeprefix("blobs/sha256/").removesuffix("/layer.tar")[:12]
        step = f" {_short(created_by)!r}" if created_by else ""
        names.append(f"layer {index}/{len(layers)} {short}{step}")
    return names


def _short(text: str, limit: int = 120) -> str:
    # Keep both ends of a long RUN line: the command's target is often at the end.
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-limit // 2:]}"


def _scan_layer(blob: IO[bytes], needles: list[bytes]) -> Iterator[str]:
    # "r|*" also reads gzip: the containerd image store may export compressed
    # layers, the classic store (Engine 26 default here) writes plain tars.
    with tarfile.open(fileobj=blob, mode="r|*") as layer:
        for entry in layer:
            path = entry.name.removeprefix("./").rstrip("/")
            name = posixpath.basename(path)
            if name.startswith(".wh."):
                continue  # a deletion marker; the deleted file is reported in its own layer
            if name in CONFIG_FILE_NAMES:
                yield f"/{path}: installer config file"
            elif not entry.isdir() and any(path.startswith(d + "/") for d in SCRATCH_DIRS):
                # Directories alone are not reported: BuildKit before about
                # 0.12 (Docker 20.10) leaves the empty mount points of a RUN
                # step (/tmp/pypi, /run/dockerpypi) in its layer. Anything in
                # them is a file, and reported.
                yield f"/{path}: left in a dockerpypi scratch directory"
            hits = [n for n in needles if n in path.encode()]
            if entry.isfile() and entry.size <= MAX_READ:
                content = layer.extractfile(entry)
                assert content is not None
                data = content.read()
                hits += [n for n in needles if n in data and n not in hits]
            for needle in hits:
                yield f"/{path}: contains {needle.decode()!r}"


def _scan_config(config: dict[str, Any], needles: list[bytes]) -> Iterator[str]:
    settings = config.get("config") or {}

    def has_needle(text: str) -> list[str]:
        return [n.decode() for n in needles if n in text.encode()]

    for entry in settings.get("Env") or []:
        if INDEX_ENV.match(entry):
            yield f"config Env: {entry.split('=', 1)[0]} points an installer at an index"
        for needle in has_needle(entry):
            yield f"config Env: {entry.split('=', 1)[0]} contains {needle!r}"
    for key, value in (settings.get("Labels") or {}).items():
        if not key.startswith(TEST_LABEL):  # our own labels, and the base image's
            for needle in has_needle(f"{key}={value}"):
                yield f"config Labels: {key} contains {needle!r}"
    for field in ("Cmd", "Entrypoint"):
        for needle in has_needle(json.dumps(settings.get(field))):
            yield f"config {field} contains {needle!r}"
    for number, step in enumerate(config.get("history") or [], start=1):
        for needle in has_needle(step.get("created_by", "")):
            short = _short(step.get("created_by", ""))
            yield f"history step {number} {short!r} contains {needle!r}"
    # Anything else (e.g. the legacy builder's container_config) as a whole.
    rest = {k: v for k, v in config.items() if k not in ("config", "history")}
    rest["config"] = {k: v for k, v in settings.items() if k not in ("Env", "Labels", "Cmd",
                                                                      "Entrypoint")}
    for needle in has_needle(json.dumps(rest)):
        yield f"config (other fields) contains {needle!r}"
