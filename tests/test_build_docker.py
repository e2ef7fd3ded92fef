"""`dockerpypi build` on a real engine: each transport, pip and uv, and the example.

This file is also what CI runs on Docker 20.10, where the automatic choice is
the HTTP transport (no named build contexts there); on current engines the
automatic choice is the named context, and the HTTP transport is forced.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.docker import LABELS, run_in_image, scan_image, unique_tag
from support.dockerfiles import copy_uv, installed, write_dockerfile

pytestmark = [pytest.mark.docker, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def dockerpypi_build(ours: list[str], docker: list[str]) -> subprocess.CompletedProcess[str]:
    """The real CLI; the image gets the test labels so that cleanup finds it."""
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    command = [sys.executable, "-m", "dockerpypi", "build", *ours, *labels, *docker]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)


@pytest.mark.parametrize("transport", ["auto", "http"])
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_build_installs_from_the_mirror_through_each_transport(
    transport: str, installer: str, tmp_path: Path, base_image: str,
    make_mirror: Callable[..., Path], uv_binary: Path, named_contexts: bool,
) -> None:
    mirror = make_mirror([
        {"name": "dockerpypi-alpha", "version": "1.0.7"},
        {"name": "dockerpypi-app", "version": "3.1", "requires": ["dockerpypi-alpha>=1"]},
    ], origin="local-mirror")
    context = tmp_path / "context"
    context.mkdir()
    # Without named contexts the settings can only come as secrets.
    write_dockerfile(context, base_image, installer, requirements=("dockerpypi-app",),
                     uv_binary=uv_binary, secrets=transport == "http" or not named_contexts)
    tag = unique_tag(f"build-{installer}-{transport}")
    result = dockerpypi_build(
        ["--offline", "--mirror-dir", str(mirror), "--transport", transport],
        ["--no-cache", "--progress=plain", "-t", tag, "--load", str(context)])
    assert result.returncode == 0, result.stderr[-4000:]
    needles = ["file:///tmp/pypi"]
    if transport == "http":
        assert "transport http: asked for with --transport http" in result.stderr
    served = re.search(r"serving \S+ at (http://127\.0\.0\.1:\d+/)", result.stderr)
    if served:
        needles.append(served.group(1))
    assert installed(tag, "dockerpypi-app", "dockerpypi-alpha") == {
        "dockerpypi-app": ("3.1", "local-mirror"), "dockerpypi-alpha": ("1.0.7", "local-mirror")}
    findings = scan_image(tag, needles)
    assert findings == [], "\n".join(findings)


def test_the_example_builds_from_the_mirror_and_runs_as_non_root(
    base_image: str, make_mirror: Callable[..., Path], named_contexts: bool,
) -> None:
    # The real example, its real requirements file; the mirror holds a
    # stand-in wheel of the same name and version, made here (no network).
    pinned = (EXAMPLES / "requirements.txt").read_text().split()[-1]
    name, version = pinned.split("==")
    mirror = make_mirror([f"{name}=={version}"], origin="example-mirror")
    tag = unique_tag("example")
    result = dockerpypi_build(
        ["--offline", "--mirror-dir", str(mirror)],
        ["--build-arg", f"BASE_IMAGE={base_image}", "-t", tag, "--load", str(EXAMPLES)])
    if not named_contexts:  # Docker 20.10: the example's steps want the settings context
        assert result.returncode == 2
        assert result.stderr.strip().endswith(
            "its steps read their settings from the dockerpypi-config build context, but this "
            "engine has no named build contexts: render them again with `dockerpypi render "
            "--secrets`"), result.stderr
        return
    assert result.returncode == 0, result.stderr[-4000:]
    status, output = run_in_image(tag, [])
    assert (status, output.strip()) == (0, f"{name} {version}")
    status, output = run_in_image(tag, ["id", "-u"])
    assert output.strip() == "10001"
    findings = scan_image(tag, ["file:///tmp/pypi"])
    assert findings == [], "\n".join(findings)


def test_a_failed_build_returns_dockers_code(tmp_path: Path, base_image: str,
                                            make_mirror: Callable[..., Path]) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN exit 3\n")
    # (an indexed mirror, if an empty one: offline, an unindexed one is refused)
    result = dockerpypi_build(["--offline", "--mirror-dir", str(make_mirror([]))],
                              ["--progress=plain", "-t", unique_tag("failing"), str(tmp_path)])
    assert result.returncode != 0
    assert "exit code: 3" in result.stderr


def test_inject_builds_a_dockerfile_not_written_for_dockerpypi(
    tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    dockerfile = tmp_path / "Dockerfile"
    original = (f"FROM {base_image}\n"
                "RUN python3 -m venv /opt/venv && \\\n"
                "    /opt/venv/bin/pip install --no-cache-dir dockerpypi-alpha\n"
                "ENV PATH=/opt/venv/bin:$PATH\n")
    dockerfile.write_text(original)
    tag = unique_tag("inject")
    result = dockerpypi_build(["--offline", "--mirror-dir", str(mirror), "--inject"],
                              ["--progress=plain", "-t", tag, "--load", str(tmp_path)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert dockerfile.read_text() == original  # the user's file is never touched
    assert installed(tag, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    findings = scan_image(tag, ["file:///tmp/pypi"])
    assert findings == [], "\n".join(findings)


@pytest.mark.parametrize("sdist", [False, True])
def test_uv_leaves_its_cache_alone_when_the_local_wheels_are_all_there_is(
    sdist: bool, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
    uv_binary: Path, named_contexts: bool,
) -> None:
    from dockerpypi.render.steps import RunOptions, render_run, render_stage

    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    if sdist:  # something uv might build: its cache would pay then
        (mirror / "dockerpypi-beta-1.0.tar.gz").write_bytes(b"")
    context = tmp_path / "context"
    context.mkdir()
    (context / "requirements.txt").write_text("dockerpypi-alpha\n")
    uv = copy_uv(context, uv_binary)
    install = ('uv pip install --python "$(command -v python3)" '
               '-r /run/dockerpypi/requirements/requirements.txt')
    step = render_run(RunOptions(installer="uv", config="context" if named_contexts else "secrets",
                                 command=(
        "sh", "-c", f'{install} && echo "uv-cache=${{UV_NO_CACHE:-on}}"')))
    (context / "Dockerfile").write_text(
        f"{render_stage()}FROM {base_image}\n{uv}{step}")
    tag = unique_tag("build-uv-cache")
    result = dockerpypi_build(["--offline", "--mirror-dir", str(mirror)],
                              ["--no-cache", "--progress=plain", "-t", tag, "--load",
                               str(context)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert installed(tag, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    # Served over HTTP (Docker 20.10), uv downloads: its cache pays again.
    served = "transport http" in result.stderr
    expected = "uv-cache=on" if sdist or served else "uv-cache=1"
    assert expected in result.stderr, result.stderr[-4000:]


@pytest.mark.parametrize("image_has_uv", [True, False])
def test_inject_prefer_uv_installs_with_uv_only_where_the_image_has_it(
    image_has_uv: bool, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
    uv_binary: Path,
) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    context = tmp_path / "context"
    context.mkdir()
    lines = [f"FROM {base_image}\n", "RUN python3 -m venv /opt/venv\n",
             "ENV PATH=/opt/venv/bin:$PATH\n"]
    if image_has_uv:
        lines.insert(1, copy_uv(context, uv_binary))
    plain = "".join([*lines, "RUN pip install --no-cache-dir dockerpypi-alpha\n"])
    (context / "Dockerfile").write_text(plain)
    tag = unique_tag("inject-prefer-uv")
    result = dockerpypi_build(["--offline", "--mirror-dir", str(mirror), "--inject",
                               "--prefer-uv"],
                              ["--no-cache", "--progress=plain", "-t", tag, "--load",
                               str(context)])
    assert result.returncode == 0, result.stderr[-4000:]
    assert "pip install runs with uv (the image's, or the mirror's" in result.stderr
    assert installed(tag, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    said_by_uv = "+ dockerpypi-alpha==1.0.7" in result.stderr
    said_by_pip = "Successfully installed dockerpypi-alpha-1.0.7" in result.stderr
    assert (said_by_uv, said_by_pip) == (image_has_uv, not image_has_uv), result.stderr[-3000:]
    # uv compiled the bytecode, as pip does: the image is the same either way.
    status, output = run_in_image(tag, ["sh", "-c", "ls /opt/venv/lib/python3*/site-packages/"
                                                    "dockerpypi_alpha/__pycache__"])
    assert status == 0, output
    assert ".pyc" in output
    assert (context / "Dockerfile").read_text() == plain


def test_credentials_refuse_steps_that_read_the_settings_context(
    tmp_path: Path, base_image: str,
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, base_image, "pip", requirements=("dockerpypi-alpha",))
    mirror = "http://builder:s3cret@127.0.0.1:9/simple/"  # never reached: refused before
    result = dockerpypi_build(["--offline", "--index-url", mirror],
                              ["-t", unique_tag("refused"), str(context)])
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith(
        "its steps read their settings from the dockerpypi-config build context, but a mirror "
        "URL carries credentials, which dockerpypi passes only as build secrets: render them "
        "again with `dockerpypi render --secrets`"), result.stderr
    assert "s3cret" not in result.stderr
