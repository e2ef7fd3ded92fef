"""Filling the mirror for an image, then building from it, with real pip and a real engine.

The upstream index is a fake one on 127.0.0.1 (nothing leaves this machine).
``mirror add`` for target tags runs the host's pip; ``mirror add --image``
runs the image's pip in a container (host network, the invoking user's
uid:gid). The mirror that fills is then built from offline and checked.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.docker import LABELS, run_in_image, unique_tag
from support.dockerfiles import installed, write_dockerfile
from support.index import write_simple_index
from support.server import ServedURL, serve_directory
from support.wheels import make_wheel, wheel_filename

from dockerpypi.cli import main
from dockerpypi.mirror.check import check_mirror
from dockerpypi.mirror.index import is_index_file

pytestmark = pytest.mark.slow

ORIGIN = "upstream"
AARCH64_CP39 = "cp39-cp39-manylinux2014_aarch64"
OTHER_TAG = "cp311-cp311-manylinux2014_x86_64"
# As root, the image fill poses as this user: a file the image's root wrote
# would then show, where it could not if the test's own uid were 0 as well.
POSED_ID = 4321
_ISOLATED_PREFIXES = ("PIP_", "UV_", "DIB_", "DOCKERPYPI_", "PYPI_MIRROR_URL")
MARKED_DEPS = ('dpp-linux-only; sys_platform == "linux"',
               'dpp-old-only; python_version < "3.8"')


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """The CLI in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            pytest.raises(SystemExit) as exited:
        main(args)
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out.getvalue(), err.getvalue()


def distributions(mirror: Path) -> set[str]:
    return {p.name for p in mirror.iterdir() if p.is_file() and not is_index_file(p.name)}


# --- (a) target tags: the host's pip, another platform -------------------------------

def test_add_for_another_platform_fetches_only_its_files(
        tmp_path: Path, http_mirror: Callable[..., ServedURL]) -> None:
    upstream = tmp_path / "upstream"
    for tag in (AARCH64_CP39, OTHER_TAG):
        make_wheel(upstream, "dpp-native", "1.0", tag=tag, origin=ORIGIN,
                     requires=["dpp-native-lib>=1", *MARKED_DEPS])
        make_wheel(upstream, "dpp-native-lib", "1.0", tag=tag, origin=ORIGIN)
    for name in ("dpp-linux-only", "dpp-old-only"):
        make_wheel(upstream, name, "1.0", origin=ORIGIN)
    write_simple_index(upstream)
    served = http_mirror(root=upstream)
    mirror = tmp_path / "mirror"

    code, out, err = run_cli(["mirror", "add", "dpp-native", "--index-url", served,
                              "--mirror-dir", str(mirror), "--python-version", "3.9",
                              "--platform", "manylinux2014_aarch64", "--implementation", "cp",
                              "--abi", "cp39"])

    assert code == 0, err
    assert "mode: target tags (Python 3.9, platforms manylinux2014_aarch64" in err
    expected = {f"dpp_native-1.0-{AARCH64_CP39}.whl", f"dpp_native_lib-1.0-{AARCH64_CP39}.whl",
                wheel_filename("dpp-linux-only", "1.0")}
    assert distributions(mirror) == expected
    assert set(served.downloads()) == expected  # nothing else was even fetched
    assert "added 3 files" in out
    assert check_mirror(mirror).ok


# --- (b) --image: the image's pip, in a container --------------------------------------

@dataclass(frozen=True)
class ImageFill:
    mirror: Path
    upstream: ServedURL
    code: int
    out: str
    err: str
    owner: tuple[int, int]
    image_python: str


@pytest.fixture(scope="module")
def image_fill(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> ImageFill:
    """``mirror add -r requirements.txt --image BASE`` once, for the tests below."""
    status, image_python = run_in_image(
        base_image, ["python3", "-c", "import platform; print(platform.python_version())"])
    assert status == 0, image_python
    image_python = image_python.strip()
    upstream = tmp_path_factory.mktemp("upstream")
    make_wheel(upstream, "dpp-app", "1.0", origin=ORIGIN, requires=["dpp-lib", *MARKED_DEPS])
    # True in the image; on the host only if its Python is the very same version.
    make_wheel(upstream, "dpp-image-probe", "1.0", origin=ORIGIN,
               requires=[f'dpp-image-python; python_full_version == "{image_python}"'])
    for name, version in (("dpp-lib", "1.0"), ("dpp-lib", "2.0"), ("dpp-linux-only", "1.0"),
                          ("dpp-old-only", "1.0"), ("dpp-image-python", "1.0")):
        make_wheel(upstream, name, version, origin=ORIGIN)
    write_simple_index(upstream)
    work = tmp_path_factory.mktemp("image-fill")
    # A constraint in a file the requirements file names: it must be mounted too.
    (work / "requirements.txt").write_text("-c constraints.txt\ndpp-app\ndpp-image-probe\n")
    (work / "constraints.txt").write_text("dpp-lib<2\n")
    mirror = work / "mirror"
    mirror.mkdir()
    owner = (os.getuid(), os.getgid())
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    with pytest.MonkeyPatch.context() as patch, serve_directory(upstream) as served:
        for name in list(os.environ):  # as conftest's autouse fixture, for a module fixture
            if name.startswith(_ISOLATED_PREFIXES) and not name.startswith("DOCKERPYPI_TEST_"):
                patch.delenv(name)
        if owner[0] == 0:
            owner = (POSED_ID, POSED_ID)
            os.chown(mirror, *owner)
            patch.setattr(os, "getuid", lambda: POSED_ID)
            patch.setattr(os, "getgid", lambda: POSED_ID)
        code, out, err = run_cli(["mirror", "add", "-r", str(work / "requirements.txt"),
                                  "--image", base_image, *labels, "--index-url", served,
                                  "--mirror-dir", str(mirror)])
    return ImageFill(mirror, served, code, out, err, owner, image_python)


def test_add_with_image_resolves_for_the_image_as_the_invoking_user(
        image_fill: ImageFill, base_image: str) -> None:
    assert image_fill.code == 0, image_fill.err
    assert f"mode: image {base_image} (pip runs inside it" in image_fill.err
    expected = {wheel_filename(name, "1.0") for name in (
        "dpp-app", "dpp-lib", "dpp-linux-only", "dpp-image-probe", "dpp-image-python")}
    assert distributions(image_fill.mirror) == expected
    assert wheel_filename("dpp-old-only", "1.0") not in image_fill.upstream.downloads()
    for name in expected:  # written by the container, owned by the user who ran dockerpypi
        stat = (image_fill.mirror / name).stat()
        assert (stat.st_uid, stat.st_gid) == image_fill.owner, name
    assert check_mirror(image_fill.mirror).ok


# --- (c) the filled mirror serves an offline build ---------------------------------

def dockerpypi_build(ours: list[str], docker: list[str]) -> subprocess.CompletedProcess[str]:
    """The real CLI; the image gets the test labels so that cleanup finds it."""
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    command = [sys.executable, "-m", "dockerpypi", "build", *ours, *labels, *docker]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)


def test_the_filled_mirror_serves_an_offline_build(
        image_fill: ImageFill, base_image: str, tmp_path: Path) -> None:
    assert image_fill.code == 0, image_fill.err
    write_dockerfile(tmp_path, base_image, "pip", requirements=("dpp-app",))
    tag = unique_tag("mirror-image-fill")

    result = dockerpypi_build(["--offline", "--mirror-dir", str(image_fill.mirror)],
                              ["--network=none", "--no-cache", "--progress=plain", "-t", tag,
                               "--load", str(tmp_path)])

    assert result.returncode == 0, result.stderr[-4000:]
    names = ("dpp-app", "dpp-lib", "dpp-linux-only")
    assert installed(tag, *names) == dict.fromkeys(names, ("1.0", ORIGIN))


# --- (d) mirror check ---------------------------------------------------------------

def test_check_passes_then_names_a_corrupted_and_a_deleted_file(
        image_fill: ImageFill, tmp_path: Path) -> None:
    assert image_fill.code == 0, image_fill.err
    mirror = tmp_path / "mirror"
    shutil.copytree(image_fill.mirror, mirror)  # the other tests keep the original
    code, out, err = run_cli(["mirror", "check", "--mirror-dir", str(mirror)])
    assert code == 0, out + err
    assert out.startswith("ok: 5 projects, 5 files")

    corrupted = mirror / wheel_filename("dpp-lib", "1.0")
    with corrupted.open("ab") as handle:
        handle.write(b"tampered")
    deleted = mirror / wheel_filename("dpp-linux-only", "1.0")
    deleted.unlink()
    code, out, err = run_cli(["mirror", "check", "--mirror-dir", str(mirror)])

    assert code == 1
    assert f"{corrupted.name}: does not match the sha256 in dpp-lib/index.html" in out
    assert f"{deleted.name}: is linked from dpp-linux-only/index.html but missing" in out
    assert "2 problems in" in err
