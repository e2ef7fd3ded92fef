"""Tests of the test harness itself: a harness that cannot fail proves nothing.

The host-side tests show the wheels and indexes work with real pip and uv; the
Docker tests show builds, runs and the image scanner work, including negative
controls in which the scanner must find planted leaks.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from support.docker import (
    buildx_build,
    plain_docker_build,
    run_in_image,
    scan_archive,
    scan_image,
    unique_tag,
)
from support.index import write_simple_index
from support.server import ServedURL, serve_directory
from support.wheels import make_wheel

UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
TESTS = Path(__file__).parent


# --- host side: wheels, indexes, servers ------------------------------------


def installer_run(installer: str, venv: Path, *args: str) -> str:
    """Install into ``venv`` with pip or uv, both run from the host; return the output."""
    python = str(venv / "bin" / "python")
    if installer == "pip":
        command = [sys.executable, "-m", "pip", "--python", python, "install", "--no-cache-dir"]
    else:
        assert UV, "uv is a test dependency"
        command = [UV, "pip", "install", "--no-cache", "--python", python]
    result = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def imported(venv: Path, module: str) -> tuple[str, str]:
    code = f"import {module} as m; print(m.__version__, m.MIRROR_ORIGIN)"
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code],
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], out[1]


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    # uv makes a bare venv in milliseconds; pip then installs into it via --python.
    assert UV, "uv is a test dependency"
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(tmp_path / "venv")],
                   check=True)
    return tmp_path / "venv"


def test_isolation_hides_machine_installer_config() -> None:
    leaked = [k for k in os.environ if k.startswith(("PIP_", "UV_", "DIB_"))]
    assert sorted(leaked) == ["PIP_CONFIG_FILE", "PIP_DISABLE_PIP_VERSION_CHECK",
                              "PIP_NO_INPUT", "UV_NO_CONFIG", "UV_PYTHON_DOWNLOADS"]
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True, check=True)
    # Only our own variables: no file (global, user, site) is read.
    assert all(line.startswith(":env:") for line in listed.stdout.splitlines()), listed.stdout


def test_wheel_is_well_formed(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "Probe.Pkg_Name", "1.0.0", requires=["other>=1"],
                       requires_python=">=3.8", files={"probe_pkg_name/data.txt": "x"},
                       origin="mirror-a")
    assert wheel.name == "probe_pkg_name-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = archive.read("probe_pkg_name-1.0.0.dist-info/RECORD").decode()
        init = archive.read("probe_pkg_name/__init__.py").decode()
        metadata = archive.read("probe_pkg_name-1.0.0.dist-info/METADATA").decode()
        for line in record.splitlines():
            path, digest, size = line.split(",")
            assert path in names
            if digest:
                data = archive.read(path)
                expected = base64.urlsafe_b64encode(
                    hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert (digest, int(size)) == (f"sha256={expected}", len(data))
    assert 'MIRROR_ORIGIN = "mirror-a"' in init
    assert "Requires-Dist: other>=1\nRequires-Python: >=3.8\n" in metadata
    # Same arguments, same bytes: index hashes stay valid when a fixture rebuilds.
    again = make_wheel(tmp_path / "again", "Probe.Pkg_Name", "1.0.0", requires=["other>=1"],
                       requires_python=">=3.8", files={"probe_pkg_name/data.txt": "x"},
                       origin="mirror-a")
    assert again.read_bytes() == wheel.read_bytes()


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_wheels_install_from_find_links(installer: str, venv: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "probe-lib", "1.0", origin="local")
    make_wheel(wheels, "probe-app", "2.0", requires=["probe-lib"], origin="local")
    installer_run(installer, venv, "--no-index", "--find-links", str(wheels), "probe-app")
    assert imported(venv, "probe_app") == ("2.0", "local")
    assert imported(venv, "probe_lib") == ("1.0", "local")


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_simple_index_installs_from_file_url(
    installer: str, venv: Path, make_mirror: Callable[..., Path]
) -> None:
    root = make_mirror([
        "probe-lib==1.0",
        {"name": "probe-lib", "version": "2.0", "requires_python": ">=3.8"},
        # Newest, but no Python matches: the installer must skip it. A lower
        # bound, because uv deliberately ignores upper bounds ("<3") here.
        {"name": "probe-lib", "version": "3.0", "requires_python": ">=3.99"},
    ], origin="file-index")
    page = (root / "probe-lib" / "index.html").read_text()
    assert 'href="../probe_lib-2.0-py3-none-any.whl#sha256=' in page
    assert 'data-requires-python="&gt;=3.99"' in page
    assert 'href="probe-lib/"' in (root / "index.html").read_text()

    installer_run(installer, venv, "--index-url", root.as_uri() + "/", "probe-lib")
    assert imported(venv, "probe_lib") == ("2.0", "file-index")


def test_server_requires_basic_auth_and_records_requests(
    http_mirror: Callable[..., ServedURL],
) -> None:
    mirror = http_mirror(["probe-lib==1.0"], username="probe", password="s3cret")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(mirror + "probe-lib/")
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Basic ")

    token = base64.b64encode(b"probe:s3cret").decode()
    request = urllib.request.Request(mirror + "probe_lib-1.0-py3-none-any.whl",
                                     headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request) as response:
        assert response.read(2) == b"PK"
    assert mirror.downloads() == ["probe_lib-1.0-py3-none-any.whl"]
    assert mirror.statuses() == {200, 401}


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_install_over_http_with_credentials(
    installer: str, venv: Path, upstream_index: ServedURL, http_mirror: Callable[..., ServedURL]
) -> None:
    mirror = http_mirror(["dockerpypi-probe==1.5"], origin="private", username="u", password="p")
    authed = mirror.replace("http://", "http://u:p@")
    installer_run(installer, venv, "--index-url", authed, "dockerpypi-probe")
    assert imported(venv, "dockerpypi_probe") == ("1.5", "private")
    assert mirror.downloads() == ["dockerpypi_probe-1.5-py3-none-any.whl"]
    assert upstream_index.requests == []  # the other server was never asked


def test_scanner_reads_the_docker_20_10_layout() -> None:
    # Engine 20.10 saves <id>/layer.tar, <id>/json and <config>.json, and links
    # a repeated layer to its first copy; Engine 26 cannot make this layout.
    def tar_of(files: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    layer = tar_of({"etc/pip.conf": b"[global]\n", "srv/note": b"token=NEEDLE\n"})
    config = {"config": {"Env": ["PATH=/bin", "UV_INDEX_URL=http://x/"]},
              "history": [{"created_by": "RUN make-files"}, {"created_by": "COPY again"}]}
    manifest = [{"Config": "cfg.json", "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]
    outer = io.BytesIO()
    with tarfile.open(fileobj=outer, mode="w") as archive:
        for name, data in {"aaa/VERSION": b"1.0", "aaa/layer.tar": layer,
                           "aaa/json": b'{"id": "aaa"}', "cfg.json": json.dumps(config).encode(),
                           "manifest.json": json.dumps(manifest).encode()}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bbb/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../aaa/layer.tar"
        archive.addfile(link)
    outer.seek(0)

    findings = scan_archive(outer, ["NEEDLE"])
    assert findings == [
        "layer 1/2 aaa 'RUN make-files': /etc/pip.conf: installer config file",
        "layer 1/2 aaa 'RUN make-files': /srv/note: contains 'NEEDLE'",
        "layer 2/2 bbb 'COPY again': /etc/pip.conf: installer config file",
        "layer 2/2 bbb 'COPY again': /srv/note: contains 'NEEDLE'",
        "config Env: UV_INDEX_URL points an installer at an index",
    ]


# --- Docker: builds, runs, scans --------------------------------------------


def test_docker_fixtures_fail_under_ci_and_skip_otherwise(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run the real fixtures in a sub-pytest against an engine that is not there.
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    shutil.copytree(TESTS / "support", pytester.path / "support")
    pytester.makepyfile(test_needs_engine="def test_it(docker_engine):\n    pass\n")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.delenv("CI", raising=False)
    skipped = pytester.runpytest_subprocess("-rs")
    monkeypatch.setenv("CI", "true")
    failed = pytester.runpytest_subprocess()
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*no Docker engine answers*"])
    failed.assert_outcomes(errors=1)
    failed.stdout.fnmatch_lines(["*CI is set, so this is a failure, not a skip*"])


@pytest.mark.slow
def test_build_with_secret_mirror_run_and_scan_clean(
    base_image: str, upstream_index: ServedURL, tmp_path: Path
) -> None:
    # The whole chain a product test needs: a build on host networking that
    # installs from an authenticated mirror through a secret-mounted pip.conf,
    # a run that asks the package where it came from, and a clean scan.
    private = tmp_path / "private"
    make_wheel(private, "dockerpypi-probe", "1.5", origin="private")
    write_simple_index(private)
    with serve_directory(private, username="probe", password="sekret-pw") as mirror:
        pip_conf = tmp_path / "pip.conf"
        authed = mirror.replace("http://", "http://probe:sekret-pw@")
        pip_conf.write_text(f"[global]\nindex-url = {authed}\n")
        context = tmp_path / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(
            f"FROM {base_image}\n"
            "RUN --mount=type=secret,id=pipconf,target=/run/dockerpypi/pip.conf \\\n"
            "    PIP_CONFIG_FILE=/run/dockerpypi/pip.conf \\\n"
            "    pip install --no-cache-dir --no-input dockerpypi-probe\n"
        )
        tag = unique_tag("harness-clean")
        buildx_build(context, tag=tag, secrets={"pipconf": pip_conf}, network="host")
        assert mirror.downloads() == ["dockerpypi_probe-1.5-py3-none-any.whl"]
    assert upstream_index.requests == []

    code, output = run_in_image(tag, ["python3", "-c", (
        "import dockerpypi_probe as m; print(m.__version__, m.MIRROR_ORIGIN); raise SystemExit(3)"
    )])
    assert (code, output.strip()) == (3, "1.5 private")
    assert scan_image(tag, ["sekret-pw", mirror.removeprefix("http://")]) == []


@pytest.mark.slow
def test_scan_finds_planted_leaks(base_image: str, tmp_path: Path) -> None:
    # Negative control: each kind of trace the product must avoid, planted on purpose.
    url = "http://user:sekret@127.0.0.1:9/simple/"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        f"ENV PIP_INDEX_URL={url}\n"
        f"RUN printf '[global]\\nindex-url = {url}\\n' > /etc/pip.conf\n"
        "RUN mkdir -p /tmp/pypi && echo leftover > /tmp/pypi/wheel-list.txt\n"
        "RUN echo sekret > /root/note.txt\n"
        "RUN rm /root/note.txt\n"  # deleted, yet still in the layer below
        "LABEL org.example.origin=sekret\n"
    )
    tag = unique_tag("harness-leaky")
    buildx_build(tmp_path, tag=tag)
    findings = scan_image(tag, ["sekret"])
    text = "\n".join(findings)

    def found(*fragments: str) -> None:
        assert any(all(f in line for f in fragments) for line in findings), (fragments, text)

    found("config Env: PIP_INDEX_URL points an installer at an index")
    found("config Env: PIP_INDEX_URL contains 'sekret'")
    found("layer 2/5", "/etc/pip.conf", "installer config file")
    found("layer 2/5", "/etc/pip.conf: contains 'sekret'")
    found("layer 3/5", "/tmp/pypi/wheel-list.txt: left in a dockerpypi scratch directory")
    found("layer 4/5", "/root/note.txt: contains 'sekret'")
    found("config Labels: org.example.origin contains 'sekret'")
    found("history step", "/etc/pip.conf", "contains 'sekret'")
    assert not any("layer 1/5" in line for line in findings), text  # the base is clean


@pytest.mark.slow
def test_plain_docker_build(base_image: str, tmp_path: Path, docker_engine: object) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo built > /built.txt\n")
    tag = unique_tag("harness-plain")
    result = plain_docker_build(tmp_path, tag=tag)
    assert "DONE" in result.stdout  # BuildKit's plain progress, not the legacy builder
    assert run_in_image(tag, ["cat", "/built.txt"]) == (0, "built\n")
    labels = docker_engine.images.get(tag).labels  # type: ignore[attr-defined]
    assert labels["dockerpypi.test"] == "1"


@pytest.mark.slow
def test_failed_build_raises_with_the_log_tail(base_image: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo oops-marker && exit 7\n")
    with pytest.raises(AssertionError, match="oops-marker"):
        buildx_build(tmp_path, tag=unique_tag("harness-broken"))
    result = buildx_build(tmp_path, tag=unique_tag("harness-broken"), check=False)
    assert result.returncode != 0
