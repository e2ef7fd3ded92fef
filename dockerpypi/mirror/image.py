"""Fill the mirror from inside an image: ``pip download`` run by the image's own Python.

The host's pip with target tags (:mod:`.fill`) picks wheels by tag but judges
environment markers by this machine and cannot build an sdist's metadata for
another platform. Inside the image pip sees the image's Python, platform and
libc, so what it resolves is what the build will install. The container gets:

- the mirror directory, bind-mounted read-write at ``/dockerpypi-mirror``;
- each requirements file (and the files it names with ``-r``/``-c``),
  read-only under ``/dockerpypi-requirements`` at its own path, so that
  relative references between them still resolve;
- host networking, so mirrors on 127.0.0.1 are reachable;
- docker's ``--init`` (pip as PID 1 would not end on SIGTERM), but not
  podman's: that needs its catatonit, which is often not installed (Debian
  only recommends it), and podman passes the signals on itself;
- the invoking user's uid:gid, so the files are the host user's to index
  and delete;
- no pip configuration file, and credentials only as variables passed by
  name (``--env=NAME``: docker copies the value from its own environment).

``docker`` may be podman, for the images podman and buildah build: its
``run`` takes the same options. Building the ``docker run`` command
(:func:`plan_image_download`) is pure; the
download itself is :func:`.fill.fill_mirror`, the same as on the host.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from ..engines import PODMAN
from ..errors import UsageError
from ..settings.urls import MirrorURL
from .fill import (
    MODE_IMAGE,
    DownloadPlan,
    TargetTags,
    check_request,
    pip_download_args,
    pip_environment,
    secrets_of,
)

CONTAINER_MIRROR = "/dockerpypi-mirror"
CONTAINER_REQUIREMENTS = "/dockerpypi-requirements"
DOCKER = "docker"
_NESTED_OPTIONS = ("-r", "-c", "--requirement", "--constraint")


def container_path(host_path: Path) -> str:
    """Where the container sees the (absolute) host file ``host_path``."""
    if not host_path.is_absolute():
        raise ValueError(f"{host_path} is not absolute")
    return posixpath.join(CONTAINER_REQUIREMENTS, *host_path.parts[1:])


def _csv_field(text: str) -> str:
    # docker reads --mount as one CSV record: quote a field holding , or "
    if "," in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _mount(source: Path, target: str, *, readonly: bool) -> str:
    fields = ["type=bind", f"source={source}", f"target={target}"]
    if readonly:
        fields.append("readonly")
    return "--mount=" + ",".join(_csv_field(field) for field in fields)


def _references(text: str) -> Iterator[str]:
    """The paths a requirements file names with -r/-c (pip's own option forms)."""
    joined = text.replace("\\\n", " ")  # pip joins continued lines
    for raw in joined.splitlines():
        words = raw.split(" #", 1)[0].split()
        if not words or words[0].startswith("#"):
            continue
        first = words[0]
        if first in _NESTED_OPTIONS and len(words) > 1:
            yield words[1]
        elif first.startswith(("--requirement=", "--constraint=")):
            yield first.partition("=")[2]
        elif first[:2] in ("-r", "-c") and len(first) > 2 and not first.startswith("--"):
            yield first[2:]


def requirement_closure(files: Iterable[Path]) -> tuple[Path, ...]:
    """``files`` and every local file they name with -r/-c, recursively.

    A reference pip resolves relative to the file naming it; one that is a URL
    or that does not exist is left for pip to report.
    """
    found: dict[Path, None] = {}
    pending = [path.resolve() for path in files]
    while pending:
        path = pending.pop(0)
        if path in found:
            continue
        found[path] = None
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # pip says what is wrong with it
        for reference in _references(text):
            if "://" in reference or "$" in reference:
                continue
            nested = (path.parent / reference).resolve()
            if nested.is_file():
                pending.append(nested)
    return tuple(found)


def plan_image_download(
    mirror_dir: Path,
    packages: Sequence[str],
    requirement_files: Sequence[Path],
    *,
    image: str,
    indexes: Sequence[MirrorURL],
    only_binary: bool | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    user: tuple[int, int] | None = None,
    mounted_files: Sequence[Path] = (),
    labels: Sequence[str] = (),
    docker: str = DOCKER,
    environ: Mapping[str, str] | None = None,
) -> DownloadPlan:
    """The ``docker run ... IMAGE -m pip download`` that fills ``mirror_dir``.

    ``requirement_files`` (absolute) are given to pip; ``mounted_files`` are
    mounted as well, for the ``-r``/``-c`` lines inside them (see
    :func:`requirement_closure`). ``user`` is ``(uid, gid)``, by default the
    invoking user's. ``only_binary`` None allows sdists: the image builds their
    metadata itself.
    """
    if not image or image.startswith("-") or any(ch.isspace() for ch in image):
        raise UsageError(f"--image {image!r} is not an image name: give one such as "
                         "python:3.12-slim")
    check_request(packages, requirement_files, indexes=indexes, tags=TargetTags(),
                  only_binary=only_binary)
    for index in indexes:
        if index.is_local:
            raise UsageError(f"{index} is a file:// index, which the image cannot see: serve "
                             "it with `dockerpypi mirror serve` and give its http:// URL")
    pip_args, credentials = pip_download_args(
        CONTAINER_MIRROR, packages, [container_path(path) for path in requirement_files],
        indexes=indexes, tags=TargetTags(), only_binary=only_binary, retries=retries,
        timeout=timeout)
    pip_args[1:1] = ["--no-cache-dir"]  # the container goes away with its cache
    if user is None and hasattr(os, "getuid"):
        user = (os.getuid(), os.getgid())
    # One word per option (--name=value): a value that starts with "-" must
    # never be read as another of docker's options.
    argv = [docker, "run", "--rm", *(["--init"] if docker != PODMAN else []), "--network=host"]
    if user is not None:
        argv.append(f"--user={user[0]}:{user[1]}")
    argv.append(_mount(mirror_dir, CONTAINER_MIRROR, readonly=False))
    for path in dict.fromkeys([*requirement_files, *mounted_files]):
        argv.append(_mount(path, container_path(path), readonly=True))
    argv += ["--env=PIP_CONFIG_FILE=/dev/null", "--env=HOME=/tmp"]
    argv += [f"--env={name}" for name in credentials]  # the value is in docker's environment
    argv += [f"--label={label}" for label in labels]
    argv += ["--entrypoint=python3", image, "-m", "pip", *pip_args]
    env = pip_environment(os.environ if environ is None else environ)
    env.update(credentials)
    return DownloadPlan(mirror_dir, tuple(argv), env, f"{MODE_IMAGE} {image}",
                        tuple(str(m) for m in indexes), secrets_of(indexes), image=image,
                        sources=tuple(indexes), runner=docker)
