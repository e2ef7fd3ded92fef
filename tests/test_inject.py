"""`dockerpypi build --inject`: golden Dockerfiles, the rules one by one, and one real build.

Each ``tests/golden/inject/<case>.Dockerfile`` is an input; its expected output
is ``<case>.expected.Dockerfile``, or ``<case>.error.txt`` (the one-line
UsageError) for the cases named ``refuse-*``. Set
DOCKERPYPI_TEST_UPDATE_GOLDEN=1 to rewrite them after an intended change,
then read the diff.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockerpypi.dockerfile import vocabulary
from dockerpypi.dockerfile.inject import COMMENT, inject
from dockerpypi.dockerfile.vocabulary import installers_called
from dockerpypi.errors import UsageError
from dockerpypi.render import files, steps

GOLDEN = Path(__file__).parent / "golden" / "inject"
CASES = sorted(path.name.removesuffix(".Dockerfile") for path in GOLDEN.glob("*.Dockerfile")
               if not path.name.endswith(".expected.Dockerfile"))
SUCCESSES = [case for case in CASES if not case.startswith("refuse-")]
# Cases that need inject()'s keyword arguments.
OPTIONS: dict[str, dict[str, Any]] = {
    "user-named-uid": {"uid": 1000},
    "mount-point": {"mount_point": "/srv/wheels"},
    "prefer-uv": {"prefer_uv": True},
    "secrets-form": {"config": "secrets"},
}


def check_golden(path: Path, text: str) -> None:
    if os.environ.get("DOCKERPYPI_TEST_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with DOCKERPYPI_TEST_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def source(case: str) -> str:
    return (GOLDEN / f"{case}.Dockerfile").read_text(encoding="utf-8")


def from_lines(text: str) -> int:
    return len(re.findall(r"(?im)^\s*from\s", text))


def test_the_corpus_is_there() -> None:
    assert len(SUCCESSES) >= 20
    assert {"refuse-mount-target", "refuse-exec-variable", "refuse-python-heredoc"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_matches_golden(case: str) -> None:
    if case.startswith("refuse-"):
        with pytest.raises(UsageError) as refused:
            inject(source(case), **OPTIONS.get(case, {}))
        message = str(refused.value)
        assert "\n" not in message
        assert re.match(r"line \d+: ", message), "a refusal names the line"
        check_golden(GOLDEN / f"{case}.error.txt", message + "\n")
    else:
        check_golden(GOLDEN / f"{case}.expected.Dockerfile",
                     inject(source(case), **OPTIONS.get(case, {})).text)


@pytest.mark.parametrize("case", SUCCESSES)
def test_injecting_twice_is_injecting_once(case: str) -> None:
    original = source(case)
    once = inject(original, **OPTIONS.get(case, {}))
    twice = inject(once.text, **OPTIONS.get(case, {}))
    assert twice.text == once.text
    assert twice.changed_lines == []
    # at most the stages dockerpypi adds: the mirror, its settings, and the
    # locks or uv from the mirror
    assert from_lines(original) <= from_lines(once.text) <= from_lines(original) + 3
    # every comment announces a RUN right below it (after dockerpypi's other comments)
    lines = once.text.splitlines()
    for n, line in enumerate(lines):
        if line.strip() == COMMENT:
            below = next(x for x in lines[n + 1:] if not x.lstrip().startswith("# dockerpypi"))
            assert re.match(r"\s*RUN --mount=type=bind,from=pypi-mirror,", below, re.IGNORECASE)


def test_a_file_without_installers_is_returned_as_it_is() -> None:
    result = inject(source("no-pip"))
    assert result.text == source("no-pip")
    assert result.changed_lines == []
    assert result.notes == ["no RUN step that calls pip or uv needs the mirror: "
                            "the Dockerfile is unchanged"]


def test_changed_lines_and_notes_say_what_happened() -> None:
    result = inject(source("stage-numbers"))
    assert result.changed_lines == [4, 7, 8]  # two RUN steps and the COPY --from=0
    assert "added the pypi-mirror and dockerpypi-config stages before line 1" in result.notes
    assert "COPY --from=2 /dist /dist" in result.text
    assert "--mount=type=bind,from=2,source=/dist,target=/mnt/dist" in result.text
    secrets = inject(source("stage-numbers"), config="secrets")
    assert "added the pypi-mirror stage before line 1" in secrets.notes
    assert "COPY --from=1 /dist /dist" in secrets.text
    assert inject(source("exec-form")).notes == [
        "line 2: exec-form RUN rewritten as shell form with the same words",
        "line 3: exec-form RUN rewritten as shell form with the same words",
        "added the pypi-mirror and dockerpypi-config stages before line 1"]
    assert "line 11: already set up for dockerpypi, left as it is" in \
        inject(source("already-rendered")).notes


def test_the_injected_mounts_are_the_ones_render_writes() -> None:
    # vocabulary.step_setup is the one source of mount strings and of the
    # prefix: an injected step must carry exactly what `dockerpypi render`
    # puts in its own.
    for uid, config in itertools.product((None, 1000), vocabulary.CONFIG_FORMS):
        rendered = steps.render_run(steps.RunOptions(requirements=None, uid=uid, config=config,
                                                       command=("pip", "install", "x")))
        injected = inject("FROM python\n" + ("" if uid is None else f"USER {uid}\n")
                          + "RUN pip install x\n", config=config).text
        wanted = {line.strip() for line in rendered.splitlines()
                  if line.strip().startswith(("--mount", "if [", "export", "RUN --mount"))}
        got = {line.strip() for line in injected.splitlines()
               if line.strip().startswith(("--mount", "if [", "export", "RUN --mount"))}
        assert got == wanted
        assert vocabulary.SOURCE_ENV + " \\" in got


def test_mount_point_and_uid_are_parameters() -> None:
    text = inject("FROM python\nRUN pip install x\n", mount_point="/srv/wheels", uid=42).text
    assert "--mount=type=bind,from=pypi-mirror,target=/srv/wheels,readonly" in text
    secrets = inject("FROM python\nRUN pip install x\n", uid=42, config="secrets").text
    assert "target=/run/dockerpypi/env,uid=42,gid=42,mode=0400" in secrets
    assert "--mount=type=cache,id=dockerpypi-pip-42,target=/var/cache/dockerpypi/pip,uid=42" \
        in text
    # a numeric USER in the text wins over the parameter, root included
    assert "uid=7,gid=7" in inject("FROM p\nUSER 7\nRUN pip install x\n", uid=42).text
    assert "uid=" not in inject("FROM p\nUSER root\nRUN pip install x\n", uid=42).text
    with pytest.raises(UsageError, match="absolute path"):
        inject("FROM p\nRUN pip install x\n", mount_point="relative/dir")


def test_a_named_user_gets_readable_secrets_and_no_cache() -> None:
    result = inject(source("user-named"), config="secrets")
    assert "target=/run/dockerpypi/env,mode=0444 \\" in result.text
    assert "type=cache" not in result.text
    assert "export PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1; \\" in result.text
    assert any("USER app is a name" in note and "--uid" in note for note in result.notes)
    with_uid = inject(source("user-named"), uid=1000, config="secrets").text
    assert "mode=0444" not in with_uid
    assert "target=/run/dockerpypi/env,uid=1000,gid=1000,mode=0400" in with_uid
    # The settings context is readable by every user: no secret to open up.
    context = inject(source("user-named")).text
    assert "type=secret" not in context
    assert f"from={vocabulary.CONFIG_STAGE},target=/run/dockerpypi,rw \\" in context


def test_crlf_and_a_byte_order_mark_are_kept() -> None:
    text = "\ufeff# syntax=docker/dockerfile:1\r\nFROM python\r\nRUN pip install \\\r\n  x\r\n"
    result = inject(text).text
    assert result.startswith("\ufeff# syntax=docker/dockerfile:1\r\n# dockerpypi --inject:")
    assert "\n" not in result.replace("\r\n", "")
    assert result.endswith("    pip install \\\r\n  x\r\n")


@pytest.mark.parametrize("command", [
    "pip install x", "pip3 install x", "pip3.11 install x", "python -m pip install x",
    "python3 -m pip install x", "python3.12 -I -m pip install x", "/opt/venv/bin/pip install x",
    '"$VENV/bin/python" -m pip install x', "pip --no-cache-dir install x", "pip download x",
    "pip wheel -w /w x", "pipx install black", "apt-get update && pip install x",
    "true; pip install x", "false || pip install x", "sh -c 'pip install x'",
    'bash -c "set -e; python3 -m pip install x"', "echo $(pip install x)",
    "echo pip install x",  # accepted on purpose: text is not parsed as shell
])
def test_pip_calls_are_found(command: str) -> None:
    assert installers_called(command) == ["pip"]


@pytest.mark.parametrize("command", [
    "uv pip install x", "uv pip sync r.txt", "uv pip compile r.in", "uv sync --frozen",
    "uv add x", "uv lock", "uv tool install ruff", "uv --quiet tool install ruff", "uvx ruff",
    "uv run python -c 1", "/root/.local/bin/uv sync",
])
def test_uv_calls_are_found(command: str) -> None:
    assert installers_called(command) == ["uv"]


@pytest.mark.parametrize("command", [
    "pip --version", "pip list", "pip freeze > f", "pip show x", "pip uninstall -y x",
    "mypip install x", "pip installer", "uv --version", "uv pip list", "uv venv",
    "poetry install", "npm install", "python -m venv /v", "python3 -m pipx_like install",
])
def test_other_commands_are_not(command: str) -> None:
    assert installers_called(command) == []


def test_both_installers_in_one_step_get_both_caches() -> None:
    text = inject("FROM p\nRUN pip install uv && uv pip install --system x\n").text
    assert "id=dockerpypi-pip-0" in text
    assert "id=dockerpypi-uv-0" in text
    assert ("export PIP_CACHE_DIR=/var/cache/dockerpypi/pip UV_CACHE_DIR=/var/cache/dockerpypi/uv"
            " UV_LINK_MODE=copy; \\") in text


@pytest.mark.parametrize(("dockerfile", "message"), [
    ("FROM p\nRUN --mount=type=cache,target=/run/dockerpypi pip install x\n",
     "line 2: RUN already mounts something at /run/dockerpypi"),
    ("FROM p\nRUN --mount=type=cache,dst=/var/cache/dockerpypi/pip/x pip install x\n",
     "line 2: RUN already mounts something at /var/cache/dockerpypi/pip/x"),
    ("FROM p\nRUN [\"pip\", \"install\", \"a b\"]\n", "line 2: exec-form RUN"),
    ("RUN pip install x\n", "line 1: RUN before any FROM"),
    ("# escape=x\nFROM p\n", "line 1: escape directive 'x' is invalid"),
])
def test_what_cannot_be_done_safely_is_refused(dockerfile: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        inject(dockerfile)


# --- one real build ----------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_an_injected_plain_dockerfile_installs_from_the_mirror(
    tmp_path: Path, base_image: str, make_mirror: Callable[..., Path],
) -> None:
    from docker.errors import DockerException
    from support.docker import buildx_build, client, run_in_image, unique_tag

    from dockerpypi.settings.resolve import resolve_settings

    context = tmp_path / "context"
    context.mkdir()
    plain = f"FROM {base_image}\nRUN pip install dockerpypi-alpha\n"
    (context / "Dockerfile").write_text(plain)
    injected = tmp_path / "Dockerfile.injected"  # the user's file stays as it is
    # The secrets form, built by hand here; `dockerpypi build --inject` (with
    # the settings context) is tested in test_build_docker.py.
    injected.write_text(inject(plain, config="secrets").text)
    # 1.0.7 exists only in this mirror: nothing else could have supplied it.
    mirror = make_mirror(["dockerpypi-alpha==1.0.7"], origin="local-mirror")
    secrets = {}
    settings = resolve_settings({}, environ={"DIB_OFFLINE": "1"}, context_dir=context)
    for file in files.config_files(settings):
        secrets[file.secret_id] = tmp_path / file.secret_id
        secrets[file.secret_id].write_text(file.content)
    tag = unique_tag("inject")
    try:
        buildx_build(context, tag=tag, dockerfile=injected,
                     build_contexts={vocabulary.MIRROR_STAGE: mirror}, secrets=secrets)
        status, output = run_in_image(tag, ["python3", "-c", "import dockerpypi_alpha as m; "
                                            "print(m.__version__, m.MIRROR_ORIGIN)"])
        assert (status, output.strip()) == (0, "1.0.7 local-mirror")
        assert (context / "Dockerfile").read_text() == plain
    finally:
        with contextlib.suppress(DockerException):  # a failed build made no image
            client().images.remove(tag, force=True)
