"""The built wheel carries its templates: `dockerpypi render` works from an install.

The wheel is built without network (hatchling from this environment) and put
into a fresh virtual environment with --no-deps; the dependencies (click,
jinja2, ...) are borrowed from this environment through a .pth line that adds
its site-packages *after* the fresh one, so `dockerpypi` itself can only come
from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "-w", str(out), str(ROOT)],
                   check=True, env=env, capture_output=True)
    (wheel,) = out.glob("dockerpypi-*.whl")
    return wheel


def test_wheel_ships_every_template(built_wheel: Path) -> None:
    shipped = {name for name in zipfile.ZipFile(built_wheel).namelist()
               if name.startswith("dockerpypi/templates/")}
    expected = {f"dockerpypi/templates/{path.name}" for path in (ROOT / "templates").iterdir()}
    assert expected
    assert shipped == expected


@pytest.mark.slow
def test_render_runs_from_an_installed_wheel(built_wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    env = {"PATH": os.environ["PATH"], "PIP_CONFIG_FILE": os.devnull, "HOME": str(tmp_path)}
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(built_wheel)], check=True, env=env, capture_output=True)
    ask = "import sysconfig; print(sysconfig.get_path('purelib'))"
    fresh_site = subprocess.run([python, "-c", ask], check=True, capture_output=True,
                                text=True).stdout.strip()
    borrowed = Path(fresh_site) / "zz-borrowed-deps.pth"
    borrowed.write_text(sysconfig.get_path("purelib") + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([python, "-c", "import dockerpypi; print(dockerpypi.__file__)"],
                           cwd=elsewhere, env=env, check=True, capture_output=True, text=True)
    assert where.stdout.strip().startswith(str(target))

    run = subprocess.run([target / "bin" / "dockerpypi", "render"], cwd=elsewhere, env=env,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert "RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly" in run.stdout
    stage = subprocess.run([target / "bin" / "dockerpypi", "render", "stage"], cwd=elsewhere,
                           env=env, capture_output=True, text=True, check=True)
    assert "FROM scratch AS pypi-mirror" in stage.stdout
