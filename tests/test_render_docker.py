"""`dockerpypi render` output, appended to real Dockerfiles and built with real BuildKit.

Each build gets the mirror as the build context ``pypi-mirror`` and the config
files as ``--secret`` (what ``dockerpypi build`` automates), runs real pip or
uv inside the image, and the image is then run (testcontainers) to show where
each package came from, and scanned to show the mirror left no trace.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from support.docker import buildx_build, plain_docker_build, scan_image, unique_tag
from support.dockerfiles import installed, write_dockerfile
from support.server import ServedURL

from dockerpypi.dockerfile.vocabulary import CONFIG_STAGE, MIRROR_STAGE
from dockerpypi.files import TREE, private_files
from dockerpypi.render.files import config_context, config_files
from dockerpypi.settings.resolve import resolve_settings

pytestmark = [pytest.mark.docker, pytest.mark.slow]

INSTALLERS = ["pip", "uv"]
USER = "dockerpypi-builder"
PASSWORD = "s3cret@#:/%+word"  # every character that needs quoting in a URL


def build(tmp_path: Path, base_image: str, installer: str, *, mirror: Path | None,
          environ: Mapping[str, str], requirements: tuple[str, ...], uv_binary: Path | None,
          user: int | None = None, check: bool = True, secrets_form: bool = False,
          ) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Render, write the settings (secrets and context), build; return the tag and result."""
    context = tmp_path / "context"
    context.mkdir(parents=True, exist_ok=True)
    write_dockerfile(context, base_image, installer, user=user, requirements=requirements,
                     uv_binary=uv_binary, secrets=secrets_form)
    settings = resolve_settings({}, environ=environ, context_dir=context)
    files = config_files(settings)
    contexts: dict[str, Path] = {}
    if mirror is not None:
        contexts[MIRROR_STAGE] = mirror
    needs_host = any(m.hostname == "127.0.0.1" for m in settings.indexes)
    tag = unique_tag(f"render-{installer}")
    # As `dockerpypi build` writes them: secret files, and a readable tree.
    with private_files({f.secret_id: f.content for f in files},
                       tree=None if secrets_form else config_context(files)) as written:
        if not secrets_form:
            contexts[CONFIG_STAGE] = written.pop(TREE)
        result = buildx_build(context, tag=tag, build_contexts=contexts, secrets=written,
                              network="host" if needs_host else None, check=check)
    return tag, result


def assert_no_trace(image: str, *needles: str) -> None:
    findings = scan_image(image, list(needles))
    assert findings == [], "the image keeps traces of the mirror:\n" + "\n".join(findings)


@pytest.mark.parametrize("installer", INSTALLERS)
def test_installs_from_the_local_mirror_and_leaves_nothing(
    installer: str, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
    uv_binary: Path,
) -> None:
    # 1.0.7 exists only in this mirror: nothing else could have supplied it.
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    tag, _ = build(tmp_path, base_image, installer, mirror=mirror,
                   environ={"DIB_OFFLINE": "1"}, requirements=("dockerpypi-alpha",),
                   uv_binary=uv_binary)
    assert installed(tag, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    # (files under /run/dockerpypi and /tmp/pypi are findings of their own; the
    # history may name those paths, as the RUN text does, but never a URL)
    assert_no_trace(tag, "file:///tmp/pypi")


@pytest.mark.parametrize("installer", INSTALLERS)
def test_two_mirrors_follow_the_documented_precedence(
    installer: str, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
    http_mirror: Callable[..., ServedURL], uv_binary: Path,
) -> None:
    first = make_mirror(["dockerpypi-shared==1.0"], origin="first")
    second = http_mirror(["dockerpypi-shared==2.0", "dockerpypi-beta==1.0"], origin="second",
                         username=USER, password=PASSWORD)
    credentialed = second.replace("http://", f"http://{USER}:{quote(PASSWORD, safe='')}@")
    environ = {"DIB_PYPI_MIRROR_URL": "file:///tmp/pypi", "DIB_PYPI_MIRROR_URL_1": credentialed,
               "DIB_OFFLINE": "1", "DIB_PIP_RETRIES": "0"}
    # Credentials travel only as secrets: the steps are rendered with --secrets.
    tag, _ = build(tmp_path, base_image, installer, mirror=first, environ=environ,
                   requirements=("dockerpypi-shared", "dockerpypi-beta"), uv_binary=uv_binary,
                   secrets_form=True)
    found = installed(tag, "dockerpypi-shared", "dockerpypi-beta")
    # pip merges every index and takes the best version; uv asks the mirrors
    # in order and stops at the first that has the name (first-index).
    expected_shared = ("2.0", "second") if installer == "pip" else ("1.0", "first")
    assert found == {"dockerpypi-shared": expected_shared, "dockerpypi-beta": ("1.0", "second")}
    assert 200 in second.statuses()  # the credentials from the secret were accepted
    port_host = second.removeprefix("http://").rstrip("/")
    assert_no_trace(tag, PASSWORD, quote(PASSWORD, safe=""), USER, port_host)


@pytest.mark.parametrize("installer", INSTALLERS)
def test_missing_package_comes_from_the_public_index_only_when_online(
    installer: str, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
    upstream_index: ServedURL, uv_binary: Path,
) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    online: dict[str, Any] = {"DOCKERPYPI_PUBLIC_INDEX": upstream_index, "DIB_PIP_RETRIES": "0"}
    tag, _ = build(tmp_path / "online", base_image, installer, mirror=mirror, environ=online,
                   requirements=("dockerpypi-alpha", "dockerpypi-probe"), uv_binary=uv_binary)
    assert installed(tag, "dockerpypi-alpha", "dockerpypi-probe") == {
        "dockerpypi-alpha": ("1.0.7", "local-mirror"), "dockerpypi-probe": ("2.0", "upstream")}
    assert_no_trace(tag, upstream_index.removeprefix("http://").rstrip("/"))

    asked_before = len(upstream_index.requests)
    _, failed = build(tmp_path / "offline", base_image, installer, mirror=mirror,
                      environ={**online, "DIB_OFFLINE": "1"},
                      requirements=("dockerpypi-alpha", "dockerpypi-probe"),
                      uv_binary=uv_binary, check=False)
    assert failed.returncode != 0
    assert "dockerpypi-probe" in failed.stdout
    assert len(upstream_index.requests) == asked_before  # offline never asked upstream


def test_non_root_user_reads_its_secrets_and_cache(
    tmp_path: Path, base_image: str, make_mirror: Callable[..., Path], uv_binary: Path,
) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    tag, _ = build(tmp_path, base_image, "pip", mirror=mirror, environ={"DIB_OFFLINE": "1"},
                   requirements=("dockerpypi-alpha",), uv_binary=uv_binary, user=10001)
    assert installed(tag, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    assert_no_trace(tag, "file:///tmp/pypi")


def test_the_same_dockerfile_builds_with_plain_docker_build(
    tmp_path: Path, base_image: str,
) -> None:
    # No mirror, no secrets, no buildx flags: the pypi-mirror stage is empty and
    # pip runs with its own defaults. `pip` is already installed, so nothing
    # needs the network that this build does not have.
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, base_image, "pip", requirements=("pip",))
    tag = unique_tag("render-plain")
    result = plain_docker_build(context, tag=tag)
    assert "Requirement already satisfied: pip" in result.stdout
    assert_no_trace(tag, "file:///tmp/pypi")


@pytest.mark.parametrize("image_has_uv", [True, False])
def test_auto_runs_uv_when_the_image_has_it_and_pip_otherwise(
    image_has_uv: bool, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
    uv_binary: Path,
) -> None:
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    tag, result = build(tmp_path, base_image, "auto", mirror=mirror,
                        environ={"DIB_OFFLINE": "1"}, requirements=("dockerpypi-alpha",),
                        uv_binary=uv_binary if image_has_uv else None)
    assert installed(tag, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    # Each installer's own way of saying it installed the package.
    said_by_uv = "+ dockerpypi-alpha==1.0.7" in result.stdout
    said_by_pip = "Successfully installed dockerpypi-alpha-1.0.7" in result.stdout
    assert (said_by_uv, said_by_pip) == (image_has_uv, not image_has_uv), result.stdout[-3000:]
    assert_no_trace(tag, "file:///tmp/pypi")
