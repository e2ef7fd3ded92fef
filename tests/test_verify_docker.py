"""The leak matrix: real builds, each followed by `dockerpypi verify`, which must find nothing.

The dimensions are combined so that each appears at least once in a handful
of builds: pip and uv; root and a non-root USER; single- and multi-stage; a
local mirror, the HTTP transport and a mirror behind basic auth whose
password holds ``@ # : / % +``; an ``--inject`` build; ``build --verify``;
and the buildx metadata file (with max-mode provenance where the builder
can make it). Every image is also run, to show the packages came from the
mirror: a clean image that installed nothing would prove nothing.

The negative controls leak on purpose, one way each, and `dockerpypi verify`
must name where.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from support.cli import run_on_a_terminal
from support.docker import LABELS, buildx_build, unique_tag
from support.dockerfiles import dockerpypi as render
from support.dockerfiles import installed, write_dockerfile
from support.server import ServedURL

pytestmark = [pytest.mark.docker, pytest.mark.slow]

USER = "dockerpypi-builder"
PASSWORD = "s3cret@#:/%+word"  # every character that needs quoting in a URL
ENCODED = quote(PASSWORD, safe="")
NON_ROOT = 10001


def cli(*args: str, env: Mapping[str, str], cwd: Path | None = None,
        ) -> subprocess.CompletedProcess[str]:
    """The real CLI, as a user runs it; settings come from ``env``."""
    import os

    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          check=False, timeout=600)


def build(ours: list[str], docker: list[str], env: Mapping[str, str],
          ) -> subprocess.CompletedProcess[str]:
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    return cli("build", *ours, *labels, "--no-cache", "--progress=plain", *docker, env=env)


def assert_clean(image: str, env: Mapping[str, str], *extra: str) -> str:
    result = cli("verify", image, *extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": clean (" in result.stdout, result.stdout
    return result.stdout


def multi_stage_dockerfile(context: Path, base_image: str, installer: str, *,
                           user: int | None, requirements: tuple[str, ...],
                           uv_binary: Path, secrets: bool) -> None:
    """A builder stage installs into /opt/venv; the final stage copies only the venv."""
    (context / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    lines = [render("render", "stage"), f"FROM {base_image} AS builder\n"]
    if installer == "uv":
        shutil.copy2(uv_binary, context / "uv")
        lines.append("COPY uv /usr/local/bin/uv\n")
    lines.append("RUN python3 -m venv /opt/venv" + (f" && chown -R {user}:{user} /opt/venv"
                                                    if user is not None else "") + "\n")
    lines.append("ENV PATH=/opt/venv/bin:$PATH\n")
    args = ["render", "--installer", installer, *(["--secrets"] if secrets else [])]
    if user is not None:
        lines.append(f"USER {user}\n")
        args += ["--uid", str(user)]
    lines.append(render(*args))
    lines.append(f"\nFROM {base_image}\nCOPY --from=builder /opt/venv /opt/venv\n"
                 "ENV PATH=/opt/venv/bin:$PATH\n" + (f"USER {user}\n" if user else ""))
    (context / "Dockerfile").write_text("".join(lines))


@dataclass(frozen=True)
class Case:
    installer: str
    user: int | None = None
    multi_stage: bool = False
    local: bool = True  # the local mirror directory, as file:///tmp/pypi
    credentialed: bool = False  # an HTTP mirror behind basic auth
    ours: tuple[str, ...] = ()  # more dockerpypi build options
    inject: bool = False
    docker: tuple[str, ...] = field(default=())


MATRIX = {
    "pip-root-local-build--verify": Case("pip", ours=("--verify",)),
    "uv-nonroot-local+credentialed": Case("uv", user=NON_ROOT, credentialed=True),
    "pip-nonroot-multistage-credentialed": Case("pip", user=NON_ROOT, multi_stage=True,
                                                local=False, credentialed=True),
    "uv-root-multistage-http-transport": Case("uv", multi_stage=True,
                                              ours=("--transport", "http")),
    "pip-inject-credentialed": Case("pip", inject=True, credentialed=True),
}


@pytest.mark.parametrize("case", list(MATRIX.values()), ids=list(MATRIX))
def test_build_then_verify_is_clean(
    case: Case, tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
    http_mirror: Callable[..., ServedURL], uv_binary: Path, named_contexts: bool,
) -> None:
    mirrors: list[str] = []
    expected: dict[str, tuple[str, str]] = {}
    env = {"DOCKERPYPI_OFFLINE": "1", "DOCKERPYPI_RETRIES": "0"}
    local = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    env["DOCKERPYPI_MIRROR_DIR"] = str(local)
    if case.local:
        mirrors.append("file:///tmp/pypi")
        expected["dockerpypi-alpha"] = ("1.0.7", "local-mirror")
    server = None
    if case.credentialed:
        server = http_mirror(["dockerpypi-beta==2.5"], origin="private", username=USER,
                             password=PASSWORD)
        mirrors.append(server.replace("http://", f"http://{USER}:{ENCODED}@"))
        expected["dockerpypi-beta"] = ("2.5", "private")
    env["DOCKERPYPI_MIRRORS"] = " ".join(mirrors)
    requirements = tuple(expected)

    context = tmp_path / "context"
    context.mkdir()
    # Credentials, and the HTTP transport (no named contexts), need the
    # settings as secrets; the other cases take them from the settings context.
    secrets = case.credentialed or "http" in case.ours or not named_contexts
    if case.inject:
        (context / "Dockerfile").write_text(
            f"FROM {base_image}\n"
            "RUN python3 -m venv /opt/venv && \\\n"
            f"    /opt/venv/bin/pip install --no-cache-dir {' '.join(requirements)}\n"
            "ENV PATH=/opt/venv/bin:$PATH\n")
    elif case.multi_stage:
        multi_stage_dockerfile(context, base_image, case.installer, user=case.user,
                               requirements=requirements, uv_binary=uv_binary, secrets=secrets)
    else:
        write_dockerfile(context, base_image, case.installer, user=case.user,
                         requirements=requirements, uv_binary=uv_binary, secrets=secrets)
    tag = unique_tag(f"leak-{case.installer}")
    ours = [*case.ours, *(["--inject"] if case.inject else [])]
    result = build(ours, ["-t", tag, "--load", *case.docker, str(context)], env)
    assert result.returncode == 0, result.stderr[-4000:]
    assert installed(tag, *requirements) == expected
    if server is not None:
        assert 200 in server.statuses()  # the credentials from the secret were accepted
    for secret in (PASSWORD, ENCODED):
        assert secret not in result.stdout + result.stderr

    extra = []
    served = re.search(r"serving \S+ at http://(127\.0\.0\.1:\d+)/", result.stderr)
    if served:  # the HTTP transport's own URL, gone with the build
        extra += ["--needle", served.group(1)]
    if "--verify" in case.ours:
        assert f"dockerpypi: verify: {tag}: clean (" in result.stderr, result.stderr[-3000:]
    report = assert_clean(tag, env, *extra)
    if case.credentialed:
        assert "credential of mirror" in report
        assert PASSWORD not in report
        assert ENCODED not in report


def test_metadata_file_and_provenance_are_clean(
    tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
) -> None:
    """`--provenance=mode=max` where the builder supports attestations, else the metadata file.

    With the docker driver and the classic image store (Engine 26 here),
    buildx refuses every attestation ("Attestation is not supported for the
    docker driver"), with --load, --output type=oci, type=local and
    type=tar alike, and buildx 0.13 records no provenance in the metadata
    file. What that builder can give is the metadata file itself; the
    scanner's handling of max-mode provenance is tested on documents in
    test_verify.py.
    """
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    env = {"DOCKERPYPI_OFFLINE": "1", "DOCKERPYPI_MIRROR_DIR": str(mirror)}
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, base_image, "pip", requirements=("dockerpypi-alpha",))
    metadata = tmp_path / "metadata.json"
    tag = unique_tag("leak-provenance")
    with_provenance = build([], ["--provenance=mode=max", "--metadata-file", str(metadata),
                                 "-t", tag, "--load", str(context)], env)
    if with_provenance.returncode != 0:
        assert "Attestation is not supported for the docker driver" in with_provenance.stderr, \
            with_provenance.stderr[-3000:]
        result = build([], ["--metadata-file", str(metadata), "-t", tag, "--load",
                            str(context)], env)
        assert result.returncode == 0, result.stderr[-4000:]
    recorded = json.loads(metadata.read_text())
    assert recorded["containerimage.config.digest"].startswith("sha256:")
    if with_provenance.returncode == 0:
        assert any(key.startswith("buildx.build.provenance") for key in recorded), recorded
    assert installed(tag, "dockerpypi-alpha") == {"dockerpypi-alpha": ("1.0.7", "local-mirror")}
    report = assert_clean(tag, env, "--metadata-file", str(metadata))
    assert "note:" not in report  # the metadata file describes this very image


# --- negative controls ------------------------------------------------------------------


LEAKS = {
    # What each Dockerfile does wrong, and a line `verify` must print about it.
    "arg": ("ARG PIP_INDEX_URL\nRUN python3 -c pass\n",
            [r"^history step \d+ \(RUN \|1 PIP_INDEX_URL=http://\*\*\*@127\.0\.0\.1:9/ "
             r".*\): created_by: sets PIP_INDEX_URL",
             r"^history step \d+ .*: created_by: contains credential of mirror 1$"]),
    "env": ("ENV UV_INDEX_URL=${URL}\n",
            [r"^config: Env UV_INDEX_URL: sets a variable that points an installer at an index$",
             r"^config: Env UV_INDEX_URL: contains credential of mirror 1$",
             r"^config: Env UV_INDEX_URL: contains mirror 1 \(http://127\.0\.0\.1:\d+/\)$"]),
    "copied-pip-conf": ("COPY pip.conf /etc/pip.conf\n",
                        [r"^layer 2/2 \(step 2: COPY pip\.conf /etc/pip\.conf.*\): /etc/pip\.conf"
                         r": installer config file that selects an index$",
                         r"^layer 2/2 .*: /etc/pip\.conf: contains credential of mirror 1$"]),
    "leftover-mirror-file": ("RUN mkdir -p /tmp/pypi /run/dockerpypi && echo x > "
                             "/tmp/pypi/leftover.txt && touch /run/dockerpypi/pip.conf\n",
                             [r"^layer 2/2 \(step 2: RUN .*\): /tmp/pypi/leftover\.txt: file left "
                              r"under /tmp/pypi, which only a build step may use$",
                              r"^layer 2/2 .*: /run/dockerpypi/pip\.conf: empty stub file left "
                              r"at a secret mount target$"]),
}


@pytest.mark.parametrize("leak", list(LEAKS))
def test_verify_catches_an_image_that_leaks_on_purpose(
    leak: str, tmp_path: Path, base_image: str,
) -> None:
    url = f"http://{USER}:{ENCODED}@127.0.0.1:9/"
    steps, expected = LEAKS[leak]
    (tmp_path / "pip.conf").write_text(f"[global]\nindex-url = {url}\n")
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\n{steps}".replace("${URL}", url))
    tag = unique_tag(f"leaky-{leak}")
    env = {"DOCKERPYPI_MIRRORS": url, "DOCKERPYPI_OFFLINE": "1"}
    if leak == "env":
        # `build --verify` fails the build on the same report
        built = build(["--verify"], ["-t", tag, "--load", str(tmp_path)], env)
        assert built.returncode == 1, built.stderr[-3000:]
        said = [line.removeprefix("dockerpypi: verify: ") for line in built.stderr.splitlines()
                if line.startswith("dockerpypi: verify: ")]
        for pattern in expected:
            assert any(re.search(pattern, line) for line in said), (pattern, built.stderr)
        assert built.stderr.splitlines()[-1].startswith(f"dockerpypi: error: {tag} keeps ")
    else:
        buildx_build(tmp_path, tag=tag, build_args={"PIP_INDEX_URL": url} if leak == "arg"
                     else {})

    result = cli("verify", tag, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for pattern in expected:
        assert any(re.search(pattern, line) for line in lines), (pattern, result.stdout)
    assert not any(line.startswith("layer 1/") for line in lines), result.stdout  # the base
    assert f"{tag} keeps" in result.stderr
    for secret in (PASSWORD, ENCODED):
        assert secret not in result.stdout + result.stderr


# --- which engine, and what it says ------------------------------------------------------


def docker_cli(*args: str, env: Mapping[str, str]) -> str:
    done = subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def verify_in(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", "verify", *args], env=env,
                          capture_output=True, text=True, check=False, timeout=300)


def test_verify_reads_the_engine_of_the_docker_context(tmp_path: Path, docker_engine: object,
                                                      ) -> None:
    """The engine `build` uses is the docker CLI's: DOCKER_HOST, DOCKER_CONTEXT, then the
    current `docker context`. verify must read that one, and say which one failed."""
    import os

    (tmp_path / "pip.conf").write_text("[global]\nindex-url = http://127.0.0.1:9/simple/\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY pip.conf /etc/pip.conf\n")
    tag = unique_tag("verify-context")
    buildx_build(tmp_path, tag=tag)
    # The engine this session uses, as an endpoint a context can name.
    real = docker_cli("context", "inspect", "--format", "{{.Endpoints.docker.Host}}",
                      env=dict(os.environ)).strip()
    dead = f"unix://{tmp_path}/no-engine.sock"
    # Contexts live in DOCKER_CONFIG: a directory of this test's own, so the
    # machine's current context is left as it was. DOCKER_HOST would win over
    # any context: it is unset.
    env = {key: value for key, value in os.environ.items()
           if key not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env |= {"DOCKER_CONFIG": str(tmp_path / "docker-config"),
            "DOCKERPYPI_MIRRORS": "http://127.0.0.1:9/simple/"}
    docker_cli("context", "create", "dead", "--docker", f"host={dead}", env=env)
    docker_cli("context", "create", "real", "--docker", f"host={real}", env=env)
    found = re.compile(r"^layer 1/1 \(step 1: COPY pip\.conf /etc/pip\.conf.*\): /etc/pip\.conf: "
                       r"installer config file that selects an index$", re.MULTILINE)

    docker_cli("context", "use", "dead", env=env)
    failed = verify_in(env, tag)
    assert failed.returncode == 1, failed.stderr
    assert failed.stdout == ""
    assert failed.stderr.splitlines() == [
        f"dockerpypi: error: no Docker engine answers (Cannot connect to the Docker daemon at "
        f"{dead}. Is the docker daemon running?): start the engine, or point DOCKER_HOST or "
        "`docker context use` at one"]

    docker_cli("context", "use", "real", env=env)
    read = verify_in(env, tag)
    assert read.returncode == 1, read.stderr
    assert found.search(read.stdout), read.stdout
    # stderr is not a terminal: the error line and nothing else, no progress
    assert len(read.stderr.splitlines()) == 1, read.stderr
    assert read.stderr.startswith(f"dockerpypi: error: {tag} keeps ")
    # On a terminal: how many of the image's layers are read, and the bytes.
    code, out, terminal = run_on_a_terminal("verify", tag, cwd=tmp_path, env=env)
    assert code == 1
    assert found.search(out), out
    assert "1/1 layers" in terminal, terminal

    # DOCKER_CONTEXT picks another context than the current one, as for docker itself.
    chosen = verify_in({**env, "DOCKER_CONTEXT": "dead"}, tag)
    assert chosen.returncode == 1
    assert f"Cannot connect to the Docker daemon at {dead}." in chosen.stderr
    # And DOCKER_HOST wins over the current context.
    docker_cli("context", "use", "dead", env=env)
    hosted = verify_in({**env, "DOCKER_HOST": real}, tag)
    assert found.search(hosted.stdout), hosted.stderr


def test_verify_of_an_image_the_engine_does_not_have(docker_engine: object) -> None:
    import os

    missing = unique_tag("never-built")
    result = verify_in(dict(os.environ), missing)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"dockerpypi: error: no image {missing} on the engine: build it with --load (or -t "
        "and the docker driver), or give its ID"]


def test_an_image_without_layers_is_read_from_its_config_and_history(
        tmp_path: Path, docker_engine: object) -> None:
    """The engine will not save an image without layers ("empty export"): verify reads
    what there is, its config and history."""
    import os

    url = f"http://{USER}:{ENCODED}@127.0.0.1:9/"
    (tmp_path / "Dockerfile").write_text(f"FROM scratch\nLABEL org.example.index={url}\n"
                                         f"ENV PIP_INDEX_URL={url}\n")
    tag = unique_tag("no-layers")
    buildx_build(tmp_path, tag=tag)
    result = verify_in({**os.environ, "DOCKERPYPI_MIRRORS": url}, tag)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    for expected in (
            "config: Env PIP_INDEX_URL: sets a variable that points an installer at an index",
            "config: Env PIP_INDEX_URL: contains credential of mirror 1",
            "config: Labels org.example.index: contains credential of mirror 1",
            "history step 1 (LABEL org.example.index=http://***@127.0.0.1:9/): created_by: "
            "contains credential of mirror 1",
            "history step 2 (ENV PIP_INDEX_URL=http://***@127.0.0.1:9/): created_by: sets "
            "PIP_INDEX_URL (a build arg or variable that selects an index)"):
        assert expected in lines, result.stdout
    assert lines[-1].startswith(f"{tag}: 10 traces (0 layers, 0 files read;"), lines[-1]
    for secret in (PASSWORD, ENCODED):
        assert secret not in result.stdout + result.stderr


def test_an_image_removed_between_inspect_and_save(docker_engine: object) -> None:
    """`docker save` fails before it sends a byte: docker's words, not a broken tar's."""
    from dockerpypi.errors import UserMessageError
    from dockerpypi.verify.archive import scan_archive
    from dockerpypi.verify.image import EngineImage, saved

    gone = EngineImage(reference="app:gone", id="sha256:" + "0" * 64, layers=("sha256:1",),
                       size=1, config={})
    with pytest.raises(UserMessageError) as raised, saved(gone) as stream:
        scan_archive(stream, [], mount_point="/tmp/pypi")
    said = str(raised.value)
    # Engine 26: "failed to get digest sha256:000...: open /var/lib/docker/...: no such file"
    assert said.startswith("the engine stopped sending app:gone ("), said
    assert said.endswith("): try again")
    assert "0" * 20 in said
    assert "\n" not in said
