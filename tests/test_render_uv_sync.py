"""`render --installer uv-sync`: uv's guide step, reading uv.lock's copy for the mirror.

And ``dockerpypi build`` (without ``--inject``) supplying that copy as the
``dockerpypi-locks`` context, or refusing in one line what it cannot do.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run_main
from support.wheels import make_wheel

from dockerpypi.build.locks_context import mounted_locks
from dockerpypi.build.subset.locks import step_locks
from dockerpypi.dockerfile.lock_mounts import LOCKS_STAGE
from dockerpypi.dockerfile.steps import read_steps
from dockerpypi.mirror.index import update_index
from dockerpypi.mirror.lockfile import rewrite_lock
from dockerpypi.render.steps import RunOptions, render_run, render_stage

LOCK = """\
version = 1
requires-python = ">=3.8"

[[package]]
name = "lib"
version = "1.0"
source = { registry = "https://pypi.example/simple" }
wheels = [
    { url = "https://files.example/lib-1.0-py3-none-any.whl", hash = "sha256:%s" },
]
""" % ("0" * 64)


def test_the_step_is_the_guides_with_the_locks_copy_mounted() -> None:
    text = render_run(RunOptions(installer="uv-sync"))
    assert "--mount=type=bind,source=pyproject.toml,target=pyproject.toml \\\n" in text
    assert f"--mount=type=bind,from={LOCKS_STAGE},source=uv.lock,target=uv.lock \\\n" in text
    assert "--mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv" in text
    assert text.rstrip().endswith("uv sync --locked --no-install-project")
    assert "regenerate with `dockerpypi render --installer uv-sync`" in text
    assert f"--build-context {LOCKS_STAGE}=." in text  # how a plain docker build runs it
    other = render_run(RunOptions(installer="uv-sync", lock="backend/uv.lock", uid=1000,
                                  command=("uv", "sync", "--frozen")))
    assert "source=backend/pyproject.toml,target=pyproject.toml" in other
    assert f"from={LOCKS_STAGE},source=backend/uv.lock,target=uv.lock" in other
    assert other.rstrip().endswith("uv sync --frozen")
    assert "--lock backend/uv.lock --uid 1000 -- uv sync --frozen" in other


def test_the_subset_and_the_build_read_the_rendered_step(tmp_path: Path) -> None:
    text = render_stage() + "FROM python\nWORKDIR /app\n" + render_run(
        RunOptions(installer="uv-sync"))
    assert mounted_locks(text) == ["uv.lock"]
    steps = read_steps(text)
    assert [step.command for step in steps.others] == ["uv sync --locked --no-install-project"]
    (tmp_path / "uv.lock").write_text(LOCK)
    found = step_locks(tmp_path, steps.others[0])
    assert found is not None
    assert [sorted(lock.files) for lock in found.locked] == [["lib-1.0-py3-none-any.whl"]]


@pytest.mark.parametrize(("args", "message"), [
    (["--installer", "uv-sync", "--lock", "../uv.lock"],
     "--lock '../uv.lock' must be a path inside the build context"),
    (["--installer", "uv-sync", "--lock", "poetry.lock"], "--lock 'poetry.lock' is not a uv.lock"),
    (["--installer", "uv-sync", "-r", "requirements.txt"],
     "--installer uv-sync installs uv.lock, not a requirements file"),
    (["--lock", "sub/uv.lock"], "--lock goes with --installer uv-sync"),
    (["--installer", "uv-sync", "--", "pip", "install", "."],
     "--installer uv-sync runs uv sync, not pip install ."),
])
def test_what_the_step_cannot_be_is_refused_in_one_line(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["render", *args], capsys)
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1, err


def _context(tmp_path: Path, lock: str | None = LOCK) -> Path:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(render_stage() + "FROM python\nWORKDIR /app\n"
                                        + render_run(RunOptions(installer="uv-sync")))
    (context / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1.0"\n')
    if lock is not None:
        (context / "uv.lock").write_text(lock)
    mirror = tmp_path / "mirror"
    make_wheel(mirror, "lib", "1.0")
    update_index(mirror)
    return context


def test_build_supplies_the_locks_copy_without_inject(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    context = _context(tmp_path)
    code, out, err = run_main(["build", "--dry-run", "--offline", "--mirror-dir",
                               str(tmp_path / "mirror"), "--platform=linux/amd64", str(context)],
                              capsys)
    assert code == 0, err
    assert f"--build-context {LOCKS_STAGE}=" in out
    assert (context / "uv.lock").read_text() == LOCK
    assert rewrite_lock(LOCK, "/tmp/pypi") != LOCK  # what the copy holds instead


@pytest.mark.parametrize(("lock", "extra", "message"), [
    (None, [], "a step mounts uv.lock from dockerpypi-locks, and the build context has no "
               "readable uv.lock"),
    (LOCK, ["--transport", "http"], "a lock naming the local mirror directory, which this build "
                                    "does not mount"),
])
def test_build_refuses_a_lock_it_cannot_supply_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], lock: str | None,
        extra: list[str], message: str) -> None:
    context = _context(tmp_path, lock)
    code, out, err = run_main(["build", "--dry-run", "--offline", *extra, "--mirror-dir",
                               str(tmp_path / "mirror"), "--platform=linux/amd64", str(context)],
                              capsys)
    assert code == 2
    assert out == ""
    assert message in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1, err


PYLOCK = """\
lock-version = "1.0"
created-by = "pip"

[[packages]]
name = "lib"
version = "1.0"

[[packages.wheels]]
name = "lib-1.0-py3-none-any.whl"
url = "https://files.example/lib-1.0-py3-none-any.whl"

[packages.wheels.hashes]
sha256 = "%s"
""" % ("0" * 64)


@pytest.mark.parametrize(("name", "text", "refused"), [
    ("pylock.toml", PYLOCK, None),
    ("requirements.txt", "lib==1.0\n", "dockerpypi writes only uv.lock and pylock.toml files"),
])
def test_build_supplies_a_pylocks_copy_a_step_mounts_and_refuses_other_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str,
        refused: str | None) -> None:
    context = _context(tmp_path)
    (context / name).write_text(text)
    (context / "Dockerfile").write_text(
        render_stage() + "FROM python\n" + render_run(RunOptions(command=(
            "pip", "install", "-r", "/tmp/lock/pylock.toml"))).replace(
            "RUN ", f"RUN --mount=type=bind,from={LOCKS_STAGE},source={name},"
                    "target=/tmp/lock/pylock.toml ", 1))
    code, out, err = run_main(["build", "--dry-run", "--offline", "--mirror-dir",
                               str(tmp_path / "mirror"), "--platform=linux/amd64", str(context)],
                              capsys)
    if refused is None:
        assert code == 0, err
        assert f"--build-context {LOCKS_STAGE}=" in out
    else:
        assert code == 2
        assert refused in err
    assert (context / name).read_text() == text
