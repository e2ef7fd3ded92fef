"""`dockerpypi verify` without an engine: the scanner on archives made here, and the CLI.

The archives follow what the engines write: Engine 25+ `docker save` (an OCI
layout plus manifest.json, manifest last), Engine 20.10 (`<id>/layer.tar`,
repeated layers as links) and `buildx --output type=oci` (index.json only,
gzip layers, attestation manifests). The Docker tests
(test_verify_docker.py) run the same scanner on real images.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from support.archives import config_of, digest, layer_tar, outer_tar, saved_image, write_archive

from dockerpypi.build.command import credential_strings
from dockerpypi.settings.resolve import resolve_settings
from dockerpypi.verify.archive import scan_archive
from dockerpypi.verify.documents import scan_document
from dockerpypi.verify.needles import Needle, default_needles

PASSWORD = "s3cret@#:/%+word"
ENCODED = quote(PASSWORD, safe="")
MIRROR = f"http://builder:{ENCODED}@127.0.0.1:3141/root/pypi/+simple/"
PIP_CONF = f"[global]\nindex-url = {MIRROR}\n".encode()

def needles_for(*urls: str, extra: tuple[str, ...] = ()) -> list[Needle]:
    settings = resolve_settings({"mirrors": urls, "offline": True}, environ={})
    return default_needles(settings, extra)[0]


def scan(archive: io.BytesIO, needles: list[Needle] | None = None, **kwargs: Any) -> list[str]:
    result = scan_archive(archive, needles if needles is not None else needles_for(MIRROR),
                          mount_point="/tmp/pypi", **kwargs)
    return [str(finding) for finding in result.findings]


# --- what is searched for ------------------------------------------------------------


def test_needles_are_the_mirror_urls_and_credentials_but_not_the_public_index() -> None:
    settings = resolve_settings({"mirrors": ("file:///tmp/pypi", MIRROR, "https://mirror.test/")},
                                environ={})
    needles, notes = default_needles(settings, ("extra-text",))
    assert [(n.text, n.label, n.secret) for n in needles] == [
        ("file:///tmp/pypi", "mirror 1 (file:///tmp/pypi)", False),
        # host:port/path is in the URL with and without credentials put back
        ("127.0.0.1:3141/root/pypi/+simple", "mirror 2 (http://127.0.0.1:3141/root/pypi/+simple/)",
         False),
        # a bare host name is in every image: only as part of a URL
        ("://mirror.test", "mirror 3 (https://mirror.test/)", False),
        ("@mirror.test", "mirror 3 (https://mirror.test/)", False),
        (PASSWORD, "credential of mirror 2", True),
        (ENCODED, "credential of mirror 2", True),
        ("extra-text", "'extra-text'", False),
    ]
    assert notes == []
    public = settings.public_index.value.url
    assert not any(n.text in public or public.startswith(n.text) for n in needles)
    # The same credentials that `build` scrubs from its output.
    assert {n.text for n in needles if n.secret} == set(credential_strings(settings))


def test_a_token_and_the_public_index_credentials_are_needles_a_short_one_a_note() -> None:
    settings = resolve_settings({"mirrors": ("http://tok-12345@127.0.0.1:1/", "http://u:pw@h.test/x/"),
                                 "public_index": "https://u:public-secret@proxy.test/simple/"},
                                environ={})
    needles, notes = default_needles(settings)
    secrets = {(n.text, n.label) for n in needles if n.secret}
    assert secrets == {("tok-12345", "credential of mirror 1"),
                       ("public-secret", "credential of the public index")}
    assert notes == ["the credential of mirror 2 has fewer than 4 characters and was not "
                     "searched for (it would match everywhere)"]
    assert not any("proxy.test" in n.text for n in needles)


# --- layers ------------------------------------------------------------------------------


def test_clean_image_and_what_is_not_a_trace() -> None:
    base = layer_tar({
        "etc/": None,
        "etc/pip.conf": b"[global]\nno-cache-dir = true\nbreak-system-packages = true\n",
        "usr/share/doc/pip/README": b"pip can use an --index-url; see pip.conf\n",
        # 20.10's BuildKit leaves the empty mount points of a RUN step
        "tmp/pypi/": None,
        "run/dockerpypi/": None,
        "run/dockerpypi/requirements/": None,
        "var/cache/dockerpypi/pip/": None,
    })
    config = config_of(["RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi pip install x"],
                       Env=["PATH=/usr/bin", "PIP_CACHE_DIR=/var/cache/dockerpypi/pip"],
                       Cmd=["python3"])
    result = scan_archive(saved_image([base], config), needles_for(MIRROR),
                          mount_point="/tmp/pypi")
    assert result.findings == []
    assert (result.layers, result.files_read, result.skipped) == (1, 2, [])


def test_every_kind_of_file_trace_is_named_by_layer_step_and_path() -> None:
    base = layer_tar({"usr/bin/python3": b"\x7fELF"})
    leaky = layer_tar({
        "etc/pip.conf": PIP_CONF,
        "root/.config/uv/uv.toml": b'[[index]]\nurl = "http://other.test/simple/"\n',
        "root/.pydistutils.cfg": b"[easy_install]\nindex_url = http://other.test/\n",
        "root/.netrc": b"machine other.test login me password hunter22\n",
        "tmp/pypi/": None,
        "tmp/pypi/leftover.whl": b"PK",
        "run/dockerpypi/pip.conf": b"",  # a secret mount target's stub
        "run/secrets/dockerpypi-uv-toml": b"",
        "etc/profile.d/index.sh": f"export PIP_INDEX_URL={MIRROR}\n".encode(),
        "opt/encoded.txt": ENCODED.encode(),
        "etc/pip.ini": ("->", "/run/dockerpypi/pip.conf"),
    })
    config = config_of(["FROM base", ("ENV A=b", True), "RUN make-leaks"])
    findings = scan(saved_image([base, leaky], config))
    where = "layer 2/2 (step 3: RUN make-leaks)"
    assert findings == [
        f"{where}: /etc/pip.conf: installer config file that selects an index",
        f"{where}: /etc/pip.conf: contains mirror 1 (http://127.0.0.1:3141/root/pypi/+simple/)",
        f"{where}: /etc/pip.conf: contains credential of mirror 1",
        f"{where}: /root/.config/uv/uv.toml: installer config file that selects an index",
        f"{where}: /root/.pydistutils.cfg: installer config file that selects an index",
        f"{where}: /root/.netrc: .netrc with credentials for HTTP hosts",
        f"{where}: /tmp/pypi/leftover.whl: file left under /tmp/pypi, which only a build step "
        "may use",
        f"{where}: /run/dockerpypi/pip.conf: empty stub file left at a secret mount target",
        f"{where}: /run/secrets/dockerpypi-uv-toml: empty stub file left at a secret mount "
        "target",
        f"{where}: /etc/profile.d/index.sh: contains mirror 1 "
        "(http://127.0.0.1:3141/root/pypi/+simple/)",
        f"{where}: /etc/profile.d/index.sh: contains credential of mirror 1",
        f"{where}: /opt/encoded.txt: contains credential of mirror 1",
        f"{where}: /etc/pip.ini: links to /run/dockerpypi/pip.conf, which exists only while a "
        "build step runs",
    ]


def test_a_file_deleted_by_a_later_layer_is_still_found() -> None:
    written = layer_tar({"root/note.txt": PASSWORD.encode()})
    deleted = layer_tar({"root/.wh.note.txt": b""})
    findings = scan(saved_image([written, deleted], config_of(["RUN write", "RUN rm"])))
    assert findings == ["layer 1/2 (step 1: RUN write): /root/note.txt: contains credential of "
                        "mirror 1"]


def test_a_needle_across_two_read_chunks_is_found_and_big_files_are_skipped() -> None:
    chunk = 1024 * 1024
    straddling = b"x" * (chunk - 5) + PASSWORD.encode() + b"y" * 100
    big = b"z" * (64 * 1024) + PASSWORD.encode()
    layer = layer_tar({"data/straddling.bin": straddling, "data/big.bin": big})
    result = scan_archive(saved_image([layer], config_of(["COPY data /data"])),
                          needles_for(MIRROR), mount_point="/tmp/pypi", max_read=chunk + 200)
    assert [f"{f.path}: {f.problem}" for f in result.findings] == [
        "/data/straddling.bin: contains credential of mirror 1",
        "/data/big.bin: contains credential of mirror 1"]
    assert result.skipped == []
    small = scan_archive(saved_image([layer], config_of(["COPY data /data"])),
                         needles_for(MIRROR), mount_point="/tmp/pypi", max_read=1024)
    assert small.findings == []
    assert small.skipped == ["layer 1/1 (step 1: COPY data /data): /data/straddling.bin",
                             "layer 1/1 (step 1: COPY data /data): /data/big.bin"]


def test_another_mount_point_and_a_gzip_layer() -> None:
    layer = layer_tar({"srv/wheels/": None, "srv/wheels/x.whl": b"PK", "tmp/pypi/y": b""},
                      compress=True)
    result = scan_archive(saved_image([layer], config_of(["RUN x"])), [],
                          mount_point="/srv/wheels")
    assert [f.path for f in result.findings] == ["/srv/wheels/x.whl"]


def test_the_docker_20_10_layout_with_a_linked_layer() -> None:
    layer = layer_tar({"etc/pip.conf": PIP_CONF})
    config = config_of(["RUN one", "RUN two"], Env=["UV_INDEX_URL=http://x.test/"])
    manifest = [{"Config": "abc.json", "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]
    archive = outer_tar([
        ("aaa/VERSION", b"1.0"), ("aaa/layer.tar", layer), ("aaa/json", b'{"id": "aaa"}'),
        ("bbb/layer.tar", "->../aaa/layer.tar"), ("abc.json", json.dumps(config).encode()),
        ("manifest.json", json.dumps(manifest).encode())])
    result = scan_archive(archive, needles_for(MIRROR), mount_point="/tmp/pypi")
    assert result.image_ids == ["sha256:abc"]
    assert [str(f) for f in result.findings if f.path == "/etc/pip.conf"] == [
        f"layer {n}/2 (step {n}: RUN {word}): /etc/pip.conf: {problem}"
        for n, word in ((1, "one"), (2, "two"))
        for problem in ("installer config file that selects an index",
                        "contains mirror 1 (http://127.0.0.1:3141/root/pypi/+simple/)",
                        "contains credential of mirror 1")]
    assert [str(f) for f in result.findings if f.where == "config"] == [
        "config: Env UV_INDEX_URL: sets a variable that points an installer at an index"]


# --- config and history ---------------------------------------------------------------------


def test_config_fields_and_history_are_searched() -> None:
    config = config_of(
        ["FROM base", (f"ARG PIP_INDEX_URL={MIRROR}", True),
         ("RUN |1 PIP_INDEX_URL=http://u:p@h.test/ /bin/sh -c pip install x", False)],
        Env=["PATH=/bin", f"EXTRA={PASSWORD}", "DOCKERPYPI_OFFLINE=1"],
        Labels={"org.example.mirror": "127.0.0.1:3141/root/pypi/+simple"},
        Cmd=["serve", "--password", PASSWORD], Entrypoint=None,
        OnBuild=[f"RUN pip install --index-url {MIRROR} x"])
    findings = scan(saved_image([layer_tar({}), layer_tar({})], config))
    mirror = "mirror 1 (http://127.0.0.1:3141/root/pypi/+simple/)"
    shown = "http://***@127.0.0.1:3141/root/pypi/+simple/"  # the step, as the report shows it
    assert findings == [
        "config: Env EXTRA: contains credential of mirror 1",
        "config: Env DOCKERPYPI_OFFLINE: sets a variable that points an installer at an index",
        f"config: Labels org.example.mirror: contains {mirror}",
        "config: Cmd: contains credential of mirror 1",
        f"history step 2 (ARG PIP_INDEX_URL={shown}): created_by: sets PIP_INDEX_URL (a "
        "build arg or variable that selects an index)",
        f"history step 2 (ARG PIP_INDEX_URL={shown}): created_by: contains {mirror}",
        f"history step 2 (ARG PIP_INDEX_URL={shown}): created_by: contains credential of "
        "mirror 1",
        # any user:password@ in a URL is shown as *** (as `build --dry-run` shows it)
        "history step 3 (RUN |1 PIP_INDEX_URL=http://***@h.test/ /bin/sh -c pip install x): "
        "created_by: sets PIP_INDEX_URL (a build arg or variable that selects an index)",
        f"config: other fields: contains {mirror}",
        "config: other fields: contains credential of mirror 1",
    ]


def test_a_long_step_is_shortened_only_after_its_credentials_are_taken_out() -> None:
    # Shortening first would cut the password in two, and show one half.
    for cut in range(0, 120, 7):
        step = "RUN " + "x" * cut + f" token={PASSWORD} " + "y" * 150
        written = layer_tar({"etc/pip.conf": PIP_CONF})
        findings = scan(saved_image([written], config_of([step])))
        assert findings
        for line in findings:
            assert "s3c" not in line, line


def test_a_url_needle_does_not_match_a_longer_port_or_host() -> None:
    needles = needles_for("http://127.0.0.1:9/", "https://mirror.test/")
    layer = layer_tar({"bin/a": b"connect 127.0.0.1:9000 or ://mirror.testing.example",
                       "bin/b": b"index http://127.0.0.1:9/ and https://mirror.test/simple"})
    findings = scan(saved_image([layer], config_of(["RUN x"])), needles)
    assert [f.removeprefix("layer 1/1 (step 1: RUN x): ") for f in findings] == [
        "/bin/b: contains mirror 1 (http://127.0.0.1:9/)",
        "/bin/b: contains mirror 2 (https://mirror.test/)"]


def test_the_dockerpypi_step_itself_is_not_a_trace() -> None:
    from dockerpypi.render.steps import RunOptions, render_run

    step = render_run(RunOptions(installer="uv", uid=10001))
    run_line = step[step.index("RUN "):]
    config = config_of(["FROM base", run_line],
                       Env=["PATH=/opt/venv/bin:/usr/bin", "UV_LINK_MODE=copy"])
    needles = needles_for("file:///tmp/pypi", MIRROR)
    assert scan(saved_image([layer_tar({}), layer_tar({"opt/venv/": None})], config),
                needles) == []


# --- documents: metadata file, provenance, the OCI index ------------------------------------


def provenance(dockerfile: str, args: Mapping[str, str]) -> dict[str, Any]:
    """SLSA v0.2 provenance as BuildKit writes it in max mode (trimmed)."""
    return {
        "buildType": "https://mobyproject.org/buildkit@v1",
        "materials": [{"uri": "pkg:docker/python@3.11", "digest": {"sha256": "0" * 64}}],
        "invocation": {
            "configSource": {"entryPoint": "Dockerfile"},
            "parameters": {"frontend": "dockerfile.v0", "args": dict(args),
                           "locals": [{"name": "context"}, {"name": "dockerfile"}],
                           "secrets": [{"id": "dockerpypi-pip-conf"}]},
            "environment": {"platform": "linux/amd64"},
        },
        "buildConfig": {"llbDefinition": [{"id": "step1", "op": {"Op": {"exec": {"meta": {
            "args": ["/bin/sh", "-c", "pip install x"], "env": ["PATH=/bin"]}}}}}]},
        "metadata": {"https://mobyproject.org/buildkit@v1#metadata": {"source": {"infos": [
            {"filename": "Dockerfile", "language": "Dockerfile",
             "data": base64.b64encode(dockerfile.encode()).decode()}]}}},
    }


def test_provenance_in_a_metadata_file_with_the_dockerfile_in_base64() -> None:
    leaky = provenance(f"FROM x\nRUN pip install --index-url {MIRROR} y\n",
                       {"build-arg:UV_EXTRA_INDEX_URL": "http://other.test/",
                        "context:pypi-mirror": "local:pypi-mirror"})
    metadata = {
        "buildx.build.ref": "default/default/abc",
        "containerimage.config.digest": "sha256:" + "1" * 64,
        # buildx 0.13 writes the provenance as an object; later ones as base64 JSON
        "buildx.build.provenance": leaky,
        "buildx.build.provenance/linux/arm64": base64.b64encode(
            json.dumps(leaky).encode()).decode(),
    }
    found = [str(f) for f in scan_document(metadata, needles_for(MIRROR), "metadata file")]
    data = "/metadata/https:~~mobyproject.org~buildkit@v1#metadata/source/infos/0/data"
    data = data.replace("~", "/")
    mirror = "mirror 1 (http://127.0.0.1:3141/root/pypi/+simple/)"
    assert found == [
        "metadata file: /buildx.build.provenance/invocation/parameters/args/"
        "build-arg:UV_EXTRA_INDEX_URL: a build arg that selects an index",
        f"metadata file: /buildx.build.provenance{data}: (base64) contains {mirror}",
        f"metadata file: /buildx.build.provenance{data}: (base64) contains credential of "
        "mirror 1",
        "metadata file: /buildx.build.provenance/linux/arm64(base64)/invocation/parameters/"
        "args/build-arg:UV_EXTRA_INDEX_URL: a build arg that selects an index",
        f"metadata file: /buildx.build.provenance/linux/arm64(base64){data}: (base64) contains "
        f"{mirror}",
        f"metadata file: /buildx.build.provenance/linux/arm64(base64){data}: (base64) contains "
        "credential of mirror 1",
    ]
    clean = provenance("FROM x\nRUN --mount=type=secret,id=dockerpypi-pip-conf pip install y\n",
                       {"context:pypi-mirror": "local:pypi-mirror"})
    assert scan_document({"buildx.build.provenance": clean}, needles_for(MIRROR), "m") == []


def test_an_oci_export_with_a_provenance_attestation() -> None:
    # `buildx --output type=oci`: no manifest.json; the index lists the image
    # and its attestation manifest, whose layer is the in-toto statement.
    layer = layer_tar({"app/ok.txt": b"fine"}, compress=True)
    config = json.dumps(config_of(["RUN build"])).encode()
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "predicate": provenance(f"ARG PIP_INDEX_URL={MIRROR}\n", {})}).encode()
    empty = b"{}"

    def manifest(config_blob: bytes, layers: list[bytes]) -> bytes:
        return json.dumps({
            "schemaVersion": 2, "config": {"digest": f"sha256:{digest(config_blob)}"},
            "layers": [{"digest": f"sha256:{digest(b)}"} for b in layers]}).encode()

    image = manifest(config, [layer])
    attestation = manifest(empty, [statement])
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"digest": f"sha256:{digest(image)}"},
        {"digest": f"sha256:{digest(attestation)}",
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]}).encode()
    blobs = [layer, config, statement, empty, image, attestation]
    archive = outer_tar([("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
                         ("index.json", index),
                         *((f"blobs/sha256/{digest(b)}", b) for b in blobs)])
    result = scan_archive(archive, needles_for(MIRROR), mount_point="/tmp/pypi")
    where = f"attestation blob sha256:{digest(statement)[:12]}"
    data = "/predicate/metadata/https://mobyproject.org/buildkit@v1#metadata/source/infos/0/data"
    assert [str(f) for f in result.findings] == [
        f"{where}: {data}: (base64) contains mirror 1 "
        "(http://127.0.0.1:3141/root/pypi/+simple/)",
        f"{where}: {data}: (base64) contains credential of mirror 1",
    ]
    assert result.layers == 1


# --- the command line ------------------------------------------------------------------------


def run(*args: str, cwd: Path, env: Mapping[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "TMPDIR": str(cwd)}
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], cwd=cwd,
                          env={**base, **(env or {})}, capture_output=True, text=True,
                          check=False, timeout=60)


def test_cli_reports_without_printing_the_credentials(tmp_path: Path) -> None:
    leaky = layer_tar({"etc/pip.conf": PIP_CONF})
    config = config_of([f"RUN echo {PASSWORD} > /etc/pip.conf"],
                       Env=[f"PIP_INDEX_URL={MIRROR}"])
    archive = write_archive(tmp_path / "image.tar", [leaky], config)
    result = run("verify", "--archive", str(archive), cwd=tmp_path,
                 env={"DOCKERPYPI_MIRRORS": MIRROR})
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "layer 1/1 (step 1: RUN echo *** > /etc/pip.conf): /etc/pip.conf: installer config " \
           "file that selects an index" in lines
    assert "config: Env PIP_INDEX_URL: contains credential of mirror 1" in lines
    assert lines[-1].startswith(f"{archive}: 7 traces (1 layers, 1 files read; searched for ")
    assert result.stderr.splitlines() == [
        f"dockerpypi: error: {archive} keeps 7 traces of the mirror configuration (see the "
        "report): remove the ARG, ENV, COPY or RUN that put them there and build with "
        "`dockerpypi build`, which passes the mirror settings to the build steps as a "
        "build context (or secrets), never in a layer"]
    for secret in (PASSWORD, ENCODED):
        assert secret not in result.stdout + result.stderr

    as_json = run("verify", "--json", "--archive", str(archive), cwd=tmp_path,
                  env={"DOCKERPYPI_MIRRORS": MIRROR})
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    assert data["clean"] is False
    assert {"where": "config", "layer": None, "step": None, "path": "Env PIP_INDEX_URL",
            "problem": "contains credential of mirror 1"} in data["findings"]
    assert data["findings"][0]["layer"] == 1
    assert data["findings"][0]["step"] == 1
    assert "credential of mirror 1" in data["searched_for"]
    for secret in (PASSWORD, ENCODED):
        assert secret not in as_json.stdout


def test_cli_clean_archive_needles_and_metadata_file(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "image.tar", [layer_tar({"app/main.py": b"print(1)\n"})],
                            config_of(["COPY . /app"], Cmd=["python3", "/app/main.py"]))
    clean = run("verify", "--archive", str(archive), "--needle", "devpi.internal",
                cwd=tmp_path, env={"DOCKERPYPI_MIRRORS": MIRROR})
    assert clean.returncode == 0, clean.stderr
    assert clean.stderr == ""
    assert clean.stdout.startswith(f"{archive}: clean (1 layers, 1 files read; searched for "
                                   "mirror 1 (http://127.0.0.1:3141/root/pypi/+simple/), "
                                   "credential of mirror 1, 'devpi.internal')")

    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({"buildx.build.provenance": provenance(
        "FROM x\nRUN pip install --index-url http://devpi.internal/simple/ y\n", {})}))
    found = run("verify", "--archive", str(archive), "--needle", "devpi.internal",
                "--metadata-file", str(metadata), cwd=tmp_path)
    assert found.returncode == 1
    assert f"metadata file {metadata}: /buildx.build.provenance/metadata/" in found.stdout
    assert "(base64) contains 'devpi.internal'" in found.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["verify"], "give an IMAGE or --archive FILE"),
    (["verify", "app", "--archive", "x.tar"], "give an IMAGE or --archive FILE, not both"),
    (["verify", "--archive", "missing.tar"], "cannot read missing.tar (No such file or "
                                             "directory)"),
    (["verify", "--archive", "not-a-tar.txt"], "not-a-tar.txt is not a tar archive"),
    (["verify", "--archive", "empty.tar", "--metadata-file", "missing.json"],
     "cannot read the metadata file missing.json (No such file or directory)"),
    (["verify", "--archive", "empty.tar", "--metadata-file", "not-a-tar.txt"],
     "the metadata file not-a-tar.txt is not JSON"),
    (["verify", "--archive", "empty.tar", "--needle", ""], "--needle needs a text"),
])
def test_cli_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "not-a-tar.txt").write_text("hello\n")
    write_archive(tmp_path / "empty.tar", [], config_of([]))
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
