"""`dockerpypi build` with the real podman (and buildah): offline builds from a mirror of
tiny wheels, run with `podman run`, checked by `dockerpypi verify` through podman.

The Dockerfiles are the ones the Docker tests build: `dockerpypi render`'s
and a plain one built with `--inject`. podman's storage is its own (rootful
podman 4.3, ../shared/engine/podman loads the base image into it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.dockerfiles import write_dockerfile
from support.podman import label_args, run_in_image, scan_image
from support.server import ServedURL
from support.wheels import module_name

pytestmark = [pytest.mark.podman, pytest.mark.slow]

_counter = iter(range(1, 1000))


def tag(name: str) -> str:
    from support.docker import SESSION_ID

    return f"dockerpypi-test/podman-{name}:{SESSION_ID}-{next(_counter)}"


def dockerpypi(*args: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          check=False, timeout=600)


def build(ours: list[str], theirs: list[str], env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return dockerpypi("build", *ours, *label_args(), *theirs, env=env)


def installed(image: str, *packages: str) -> dict[str, tuple[str, str]]:
    """{package: (version, origin)} as the image itself reports them (`podman run`)."""
    code = "; ".join(f"import {module_name(p)} as m; print({p!r}, m.__version__, m.MIRROR_ORIGIN)"
                     for p in packages)
    status, output = run_in_image(image, ["python3", "-c", code])
    assert status == 0, output
    return {name: (version, origin) for name, version, origin in
            (line.split() for line in output.splitlines())}


def only_podman_on_path(tmp_path: Path) -> dict[str, str]:
    """A PATH of everything on this one but docker (here in /usr/bin beside podman, which
    needs iptables and the rest from PATH for its build network)."""
    directory = tmp_path / "no-docker"
    directory.mkdir()
    for entry in os.environ["PATH"].split(os.pathsep):
        try:
            found = sorted(Path(entry).iterdir())
        except OSError:
            continue
        for program in found:
            link = directory / program.name
            if not program.name.startswith("docker") and not os.path.lexists(link):
                link.symlink_to(program)
    return {"PATH": str(directory)}


def step_config_requirements(cache: Path) -> list[Path]:
    """Files named requirements.txt in the kept settings contexts of the cache."""
    return list((cache / "dockerpypi").rglob("requirements.txt"))


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_rendered_dockerfile_builds_with_podman_from_the_mirror(
    installer: str, tmp_path: Path, podman_base_image: str, make_mirror: Callable[..., Path],
    uv_binary: Path, isolated_cache_dir: Path,
) -> None:
    mirror = make_mirror([
        {"name": "dockerpypi-alpha", "version": "1.0.7"},
        {"name": "dockerpypi-app", "version": "3.1", "requires": ["dockerpypi-alpha>=1"]},
        "dockerpypi-unused==1.0",  # not sent: the subset is read for podman's platform
    ], origin="local-mirror")
    indexed = dockerpypi("mirror", "index", "--mirror-dir", str(mirror))  # as mirror add does
    assert indexed.returncode == 0, indexed.stderr
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = write_dockerfile(context, podman_base_image, installer,
                                  requirements=("dockerpypi-app",), uv_binary=uv_binary)
    before = {path.name: path.read_bytes() for path in context.iterdir()}
    image = tag(f"render-{installer}")
    # Written for docker: --load and --progress are left out for podman.
    result = build(["--engine", "podman", "--offline", "--mirror-dir", str(mirror)],
                   ["--no-cache", "--progress=plain", "-t", image, "--load", str(context)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert "engine podman: asked for (flag --engine)" in result.stderr
    assert "transport context: podman 4" in result.stderr
    assert "podman build takes no --progress or --load: left out" in result.stderr
    assert "sending 2 of 3 mirror files" in result.stderr, result.stderr[:1500]
    assert "on x86_64" in result.stderr or "on aarch64" in result.stderr  # podman's OsArch
    assert installed(image, "dockerpypi-app", "dockerpypi-alpha") == {
        "dockerpypi-app": ("3.1", "local-mirror"), "dockerpypi-alpha": ("1.0.7", "local-mirror")}
    assert scan_image(image, ["file:///tmp/pypi"]) == []
    # podman leaves the cache mount's target as a directory (BuildKit does not):
    # nothing of the installer's cache may be in it.
    status, output = run_in_image(image, ["find", "/var/cache/dockerpypi", "-type", "f"])
    assert (status, output) == (0, "")
    verified = dockerpypi("verify", "--engine", "podman", image)
    assert verified.returncode == 0, verified.stderr
    assert f"{image}: clean" in verified.stdout
    assert {path.name: path.read_bytes() for path in context.iterdir()} == before
    assert dockerfile.read_bytes() == before["Dockerfile"]
    # podman's rw bind mount writes through: the step's requirements mount point
    # must land in a private copy of the settings, not in the cache's.
    assert step_config_requirements(isolated_cache_dir) == []


def test_inject_builds_a_plain_containerfile_with_podman_when_it_is_the_only_engine(
    tmp_path: Path, podman_base_image: str, make_mirror: Callable[..., Path],
) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    # podman's own name, which it builds before a Dockerfile: the one injected.
    dockerfile = tmp_path / "Containerfile"
    original = (f"FROM {podman_base_image}\n"
                "RUN python3 -m venv /opt/venv && \\\n"
                "    /opt/venv/bin/pip install --no-cache-dir dockerpypi-alpha\n"
                "ENV PATH=/opt/venv/bin:$PATH\n")
    dockerfile.write_text(original)
    image = tag("inject")
    path = only_podman_on_path(tmp_path)
    result = build(["--offline", "--mirror-dir", str(mirror), "--inject", "--verify"],
                   ["-t", image, str(tmp_path)], env=path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "engine podman: podman is on PATH and docker is not" in result.stderr
    assert f"verify: {image}: clean" in result.stderr  # read through podman
    assert dockerfile.read_text() == original
    assert installed(image, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    assert scan_image(image, ["file:///tmp/pypi"]) == []
    verified = dockerpypi("verify", image, env=path)  # auto: podman, the only one there
    assert verified.returncode == 0, verified.stderr
    doctor = dockerpypi("doctor", "--offline", "--mirror-dir", str(mirror), env=path)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "podman is on PATH and docker is not" in doctor.stdout
    assert "context: podman 4" in doctor.stdout


def test_secrets_reach_a_non_root_step_over_the_http_transport(
    tmp_path: Path, podman_base_image: str, make_mirror: Callable[..., Path],
) -> None:
    # Steps rendered with --secrets (mode 0400, owned by --uid) and the mirror
    # served on 127.0.0.1: host networking, which podman grants without --allow.
    # Offline, the step installs only if uid 1000 could read the pip.conf secret.
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, podman_base_image, "pip", user=1000, secrets=True,
                     requirements=("dockerpypi-alpha",))
    image = tag("secrets-http")
    result = build(["--engine", "podman", "--offline", "--mirror-dir", str(mirror),
                    "--transport", "http"], ["--no-cache", "-t", image, str(context)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert "transport http: asked for with --transport http" in result.stderr
    served = [word for word in result.stderr.split() if word.startswith("http://127.0.0.1:")]
    assert served, result.stderr
    assert installed(image, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    status, output = run_in_image(image, ["id", "-u"])
    assert (status, output.strip()) == (0, "1000")
    assert scan_image(image, ["file:///tmp/pypi", served[0]]) == []
    verified = dockerpypi("verify", "--engine", "podman", "--needle", served[0], image)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_buildah_builds_the_rendered_dockerfile_and_podman_reads_its_image(
    tmp_path: Path, podman_base_image: str, make_mirror: Callable[..., Path],
) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, podman_base_image, "pip", requirements=("dockerpypi-alpha",))
    image = tag("buildah")
    result = build(["--engine", "buildah", "--offline", "--mirror-dir", str(mirror)],
                   ["-t", image, str(context)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert "transport context: buildah 1" in result.stderr
    assert installed(image, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    verified = dockerpypi("verify", "--engine", "buildah", image)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_mirror_add_image_runs_pip_in_a_podman_image(
    tmp_path: Path, podman_base_image: str, http_mirror: Callable[..., ServedURL],
) -> None:
    served = http_mirror([{"name": "dockerpypi-app", "version": "3.1",
                           "requires": ["dockerpypi-alpha>=1"]}, "dockerpypi-alpha==1.0.7"])
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("dockerpypi-app\n")
    target = tmp_path / "mirror"
    result = dockerpypi("mirror", "add", "--engine", "podman", "--image", podman_base_image,
                        *label_args(), "--index-url", served, "--mirror-dir", str(target),
                        "-r", str(requirements))
    assert result.returncode == 0, result.stdout + result.stderr
    names = sorted(path.name for path in target.glob("*.whl"))
    assert names == ["dockerpypi_alpha-1.0.7-py3-none-any.whl",
                     "dockerpypi_app-3.1-py3-none-any.whl"]
    assert all(path.stat().st_uid == os.getuid() for path in target.glob("*.whl"))
