"""`dockerpypi bake`, `compose build` and `ci build` on a real engine, offline.

One bake with two targets and one Compose project with two services, each
build with its own part of a mirror of tiny wheels; the images run, `verify`
finds nothing, and the user's bake, compose and Dockerfiles are unchanged.
The CI inputs are checked by building with them as docker/build-push-action
would (`docker buildx build --build-context ... --secret ...`).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.docker import LABELS, unique_tag
from support.dockerfiles import installed, write_dockerfile
from support.server import ServedURL

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PACKAGES = (
    {"name": "dockerpypi-alpha", "version": "1.0.7"},
    {"name": "dockerpypi-app", "version": "3.1", "requires": ["dockerpypi-alpha>=1"]},
    {"name": "dockerpypi-beta", "version": "2.2"},
)
# Written as people write them: no mount, no mirror; --inject adds both.
PLAIN = """\
FROM {base}
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir {package}
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=600)


def files_of(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def assert_clean(tag: str, mirror: Path, cwd: Path) -> None:
    found = cli("verify", tag, "--needle", str(mirror), cwd=cwd)
    assert found.returncode == 0, found.stdout + found.stderr


def labels_hcl() -> str:
    return "".join(f'    "{key}" = "{value}"\n' for key, value in LABELS.items())


def indexed_mirror(make_mirror: Callable[..., Path], cwd: Path) -> Path:
    """A mirror of PACKAGES with dockerpypi's own index, which a subset is chosen from."""
    mirror = make_mirror(PACKAGES, origin="local-mirror")
    indexed = cli("mirror", "index", "--mirror-dir", str(mirror), cwd=cwd)
    assert indexed.returncode == 0, indexed.stderr
    return mirror


def test_bake_builds_two_targets_each_from_its_own_part_of_the_mirror(
        tmp_path: Path, base_image: str, make_mirror: Callable[..., Path]) -> None:
    mirror = indexed_mirror(make_mirror, tmp_path)
    project = tmp_path / "project"
    # One target's steps read their settings from the context, the other's from
    # secrets (`render --secrets`): the override gives each what it reads.
    for name, requirement, secrets in (("app", "dockerpypi-app", False),
                                       ("worker", "dockerpypi-beta", True)):
        (project / name).mkdir(parents=True)
        write_dockerfile(project / name, base_image, "pip", requirements=(requirement,),
                         secrets=secrets)
    tags = {"app": unique_tag("bake-app"), "worker": unique_tag("bake-worker")}
    (project / "docker-bake.hcl").write_text(
        'group "default" {\n  targets = ["app", "worker"]\n}\n' + "".join(
            f'target "{name}" {{\n  context = "{name}"\n  tags = ["{tag}"]\n'
            f'  no-cache = true\n  labels = {{\n{labels_hcl()}  }}\n}}\n'
            for name, tag in tags.items()))
    before = files_of(project)

    baked = cli("bake", "--offline", "--mirror-dir", str(mirror), "--progress=plain", "--load",
                cwd=project)

    assert baked.returncode == 0, baked.stderr[-4000:]
    assert files_of(project) == before
    # Each target is sent what its own requirements need, nothing more.
    assert re.search(r"app: sending 2 of 3 mirror files", baked.stderr), baked.stderr
    assert re.search(r"worker: sending 1 of 3 mirror files", baked.stderr), baked.stderr
    assert installed(tags["app"], "dockerpypi-app", "dockerpypi-alpha") == {
        "dockerpypi-app": ("3.1", "local-mirror"), "dockerpypi-alpha": ("1.0.7", "local-mirror")}
    assert installed(tags["worker"], "dockerpypi-beta") == {
        "dockerpypi-beta": ("2.2", "local-mirror")}
    for tag in tags.values():
        assert_clean(tag, mirror, project)


def test_compose_build_injects_two_services_written_without_dockerpypi(
        tmp_path: Path, base_image: str, make_mirror: Callable[..., Path]) -> None:
    mirror = indexed_mirror(make_mirror, tmp_path)
    project = tmp_path / "project"
    for name, package in (("web", "dockerpypi-app"), ("jobs", "dockerpypi-beta")):
        (project / name).mkdir(parents=True)
        (project / name / "Dockerfile").write_text(PLAIN.format(base=base_image,
                                                                package=package))
    tags = {"web": unique_tag("compose-web"), "jobs": unique_tag("compose-jobs")}
    labels = "".join(f"        {key}: \"{value}\"\n" for key, value in LABELS.items())
    (project / "compose.yaml").write_text("services:\n" + "".join(
        f"  {name}:\n    image: {tag}\n    build:\n      context: ./{name}\n"
        f"      labels:\n{labels}" for name, tag in tags.items()))
    before = files_of(project)

    composed = cli("compose", "--offline", "--mirror-dir", str(mirror), "--inject",
                   "--progress", "plain", "build", "--no-cache", cwd=project)

    assert composed.returncode == 0, composed.stderr[-4000:]
    assert files_of(project) == before
    assert installed(tags["web"], "dockerpypi-app", "dockerpypi-alpha") == {
        "dockerpypi-app": ("3.1", "local-mirror"), "dockerpypi-alpha": ("1.0.7", "local-mirror")}
    assert installed(tags["jobs"], "dockerpypi-beta") == {
        "dockerpypi-beta": ("2.2", "local-mirror")}
    for tag in tags.values():
        assert_clean(tag, mirror, project)


def test_compose_gives_a_credentialed_mirror_on_loopback_as_secrets_and_host_network(
        tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
        http_mirror: Callable[..., ServedURL]) -> None:
    local = indexed_mirror(make_mirror, tmp_path)
    private = http_mirror(["dockerpypi-gamma==4.0"], origin="private", username="builder",
                          password="s3cr3t-pa55")
    credentialed = private.replace("http://", "http://builder:s3cr3t-pa55@")
    project = tmp_path / "project"
    (project / "api").mkdir(parents=True)
    # A URL with credentials: the settings travel as build secrets only.
    write_dockerfile(project / "api", base_image, "pip",
                     requirements=("dockerpypi-beta", "dockerpypi-gamma"), secrets=True)
    tag = unique_tag("compose-secrets")
    labels = "".join(f"        {key}: \"{value}\"\n" for key, value in LABELS.items())
    (project / "docker-compose.yml").write_text(
        f"services:\n  api:\n    image: {tag}\n    build:\n      context: api\n"
        f"      labels:\n{labels}")
    before = files_of(project)

    composed = cli("compose", "--offline", "--mirror-dir", str(local), "--index-url",
                   "file:///tmp/pypi", "--index-url", credentialed, "--progress", "plain",
                   "build", "--no-cache", "api", cwd=project)

    assert composed.returncode == 0, composed.stderr[-4000:]
    assert "s3cr3t-pa55" not in composed.stdout + composed.stderr
    assert 200 in private.statuses()  # the step reached 127.0.0.1 with the credentials
    assert files_of(project) == before
    assert installed(tag, "dockerpypi-beta", "dockerpypi-gamma") == {
        "dockerpypi-beta": ("2.2", "local-mirror"), "dockerpypi-gamma": ("4.0", "private")}
    found = cli("verify", tag, "--index-url", credentialed, "--needle", str(local),
                cwd=project)
    assert found.returncode == 0, found.stdout + found.stderr
    assert "s3cr3t-pa55" not in found.stdout + found.stderr


def github_outputs(text: str) -> dict[str, list[str]]:
    """What $GITHUB_OUTPUT would hold: name=value lines and name<<DELIMITER blocks."""
    found: dict[str, list[str]] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            found[name] = []
            for value in lines:
                if value == delimiter:
                    break
                found[name].append(value)
        else:
            name, value = line.split("=", 1)
            found[name] = [value]
    return found


def test_ci_build_prints_inputs_that_build_the_image(
        tmp_path: Path, base_image: str, make_mirror: Callable[..., Path]) -> None:
    mirror = indexed_mirror(make_mirror, tmp_path)
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(PLAIN.format(base=base_image, package="dockerpypi-beta"))
    before = files_of(context)
    out = tmp_path / "runner-temp" / "dockerpypi"

    printed = cli("ci", "build", "--offline", "--mirror-dir", str(mirror), "--inject",
                  "--out", str(out), str(context), cwd=tmp_path)

    assert printed.returncode == 0, printed.stderr
    inputs = github_outputs(printed.stdout)
    assert set(inputs) == {"build-contexts", "secret-files", "file"}
    # As docker/build-push-action passes them: one option per line of each input.
    tag = unique_tag("ci-build")
    argv = ["docker", "buildx", "build", "--load", "--no-cache", "--progress=plain", "-t", tag,
            "--file", inputs["file"][0]]
    argv += [arg for value in inputs["build-contexts"] for arg in ("--build-context", value)]
    argv += [arg for value in inputs["secret-files"]
             for arg in ("--secret", "id={},src={}".format(*value.split("=", 1)))]
    argv += [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    built = subprocess.run([*argv, str(context)], capture_output=True, text=True, check=False,
                           timeout=600)
    assert built.returncode == 0, built.stderr[-4000:]
    assert files_of(context) == before
    assert installed(tag, "dockerpypi-beta") == {"dockerpypi-beta": ("2.2", "local-mirror")}
    assert_clean(tag, mirror, tmp_path)


def test_ci_bake_writes_the_override_that_bake_action_builds_with(
        tmp_path: Path, base_image: str, make_mirror: Callable[..., Path]) -> None:
    mirror = indexed_mirror(make_mirror, tmp_path)
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "Dockerfile").write_text(PLAIN.format(base=base_image,
                                                             package="dockerpypi-app"))
    tag = unique_tag("ci-bake")
    (project / "docker-bake.hcl").write_text(
        f'target "app" {{\n  context = "app"\n  tags = ["{tag}"]\n  no-cache = true\n'
        f'  labels = {{\n{labels_hcl()}  }}\n}}\n')
    before = files_of(project)
    out = tmp_path / "runner-temp" / "dockerpypi"

    printed = cli("ci", "bake", "--offline", "--mirror-dir", str(mirror), "--inject",
                  "--out", str(out), "app", cwd=project)

    assert printed.returncode == 0, printed.stderr
    files = github_outputs(printed.stdout)["files"]
    assert files == ["docker-bake.hcl", str(out / "dockerpypi.bake.json")]
    # As docker/bake-action runs it: every file of its files input, then the targets.
    argv = ["docker", "buildx", "bake", *(arg for name in files for arg in ("--file", name)),
            "--load", "--progress=plain", "app"]
    built = subprocess.run(argv, cwd=project, capture_output=True, text=True, check=False,
                           timeout=600)
    assert built.returncode == 0, built.stderr[-4000:]
    assert files_of(project) == before
    assert installed(tag, "dockerpypi-app", "dockerpypi-alpha") == {
        "dockerpypi-app": ("3.1", "local-mirror"), "dockerpypi-alpha": ("1.0.7", "local-mirror")}
    assert_clean(tag, mirror, project)


def test_compose_up_dry_run_shows_the_command_and_override_and_writes_nothing(
        tmp_path: Path, base_image: str, docker_engine: object,
        make_mirror: Callable[..., Path], tmpdir_env: Path) -> None:
    mirror = indexed_mirror(make_mirror, tmp_path)
    project = tmp_path / "project"
    (project / "web").mkdir(parents=True)
    write_dockerfile(project / "web", base_image, "pip", requirements=("dockerpypi-beta",))
    (project / "compose.yaml").write_text("services:\n  web:\n    build: web\n"
                                          "  db:\n    image: postgres\n")
    before = files_of(project)

    shown = cli("compose", "--dry-run", "--offline", "--mirror-dir", str(mirror), "up",
                "--build", "--abort-on-container-exit", cwd=project)

    assert shown.returncode == 0, shown.stderr
    command, _, override = shown.stdout.partition("\n")
    assert command == (f"docker compose --file {project / 'compose.yaml'} --file "
                       "dockerpypi.compose.yaml up --build --abort-on-container-exit")
    document = json.loads(override)
    assert list(document["services"]) == ["web"]
    assert document["services"]["web"]["build"]["additional_contexts"]["pypi-mirror"].startswith(
        str(mirror))
    assert files_of(project) == before
    assert list(tmpdir_env.iterdir()) == []  # no secret written, none left
