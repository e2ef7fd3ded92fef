"""Build, run and inspect images with the real podman (rootful, its own storage).

Podman needs no daemon: every call is its CLI. Images get the same test and
session labels as the Docker tests' (:data:`support.docker.LABELS`), so a
session removes exactly its own images (``podman rmi`` takes their untagged
parents, the layers podman keeps as its build cache, with them).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from support.docker import LABELS, SESSION_ID, SESSION_LABEL, scan_archive

PODMAN = "podman"


def engine_problem(base_image: str) -> str | None:
    """Why the podman tests cannot run here, or None when they can."""
    if shutil.which(PODMAN) is None:
        return "podman is not on PATH"
    info = podman("info", "--format", "{{.Store.GraphDriverName}}", check=False)
    if info.returncode != 0:
        return f"`podman info` failed: {(info.stderr.strip().splitlines() or ['?'])[-1]}"
    if podman("image", "exists", base_image, check=False).returncode != 0:
        return f"the base image {base_image} is not in podman's storage"
    return None


def podman(*args: str, check: bool = True, timeout: float = 600
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PODMAN, *args], capture_output=True, text=True, check=check,
                          timeout=timeout)


def label_args() -> list[str]:
    return [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]


def run_in_image(image: str, command: list[str]) -> tuple[int, str]:
    """``podman run --rm image command``: (exit code, stdout+stderr)."""
    done = subprocess.run([PODMAN, "run", "--rm", *label_args(), image, *command],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False, timeout=300)
    return done.returncode, done.stdout


def scan_image(image: str, needles: Iterable[str]) -> list[str]:
    """The test suite's own scan (not dockerpypi's) of what ``podman save`` exports."""
    with tempfile.TemporaryDirectory() as directory:
        archive = Path(directory) / "image.tar"
        podman("save", "--format", "docker-archive", "-o", str(archive), image)
        with archive.open("rb") as handle:
            return scan_archive(handle, needles)


def remove_session_images() -> None:
    """Remove the images this session built (and the cache layers under them)."""
    listed = podman("images", "-q", "--filter", f"label={SESSION_LABEL}={SESSION_ID}",
                    check=False)
    ids = sorted(set(listed.stdout.split()))
    if ids:
        podman("rmi", "-f", *ids, check=False)
