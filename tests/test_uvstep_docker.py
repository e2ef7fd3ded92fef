"""uv for the step, not the image: pip steps on an image without uv run the mirror's uv.

The fake index on 127.0.0.1 serves tiny wheels and uv's own wheel (packed
from the test environment); ``dockerpypi mirror add -r requirements.txt`` and
``dockerpypi mirror add uv`` fill the mirror from it, and it is stopped
before the build (``--offline --network=none``). The base image has no uv:
the rendered ``auto`` step and a pip step of a Dockerfile written as pip's
docs write it (``--inject --prefer-uv``) run uv from the mirror, mounted for
the step only, and the image holds what pip would have installed, bytecode
included, and nothing of uv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.docker import LABELS, run_in_image, unique_tag
from support.index import write_index_of, write_simple_index
from support.server import serve_directory

from dockerpypi.render.steps import RunOptions, render_run, render_stage

pytestmark = [pytest.mark.docker, pytest.mark.slow]

UPSTREAM = (
    "dockerpypi-probe==1.0",
    "dockerpypi-probe==2.0",
    {"name": "dockerpypi-probe-app", "version": "1.0", "requires": ["dockerpypi-probe<2"]},
)
VENV = "FROM {base}\nRUN python3 -m venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\n"
# As pip's and Docker's docs write it; the second step installs into a directory.
PIP_DOCS = VENV + """\
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
RUN pip install --no-cache-dir --target /opt/target dockerpypi-probe==1.0
"""
# What the image must hold and lack, printed by one script run in it.
CHECK = r"""
site=$(echo /opt/venv/lib/python3*/site-packages)
/opt/venv/bin/python -c 'import dockerpypi_probe_app as a, dockerpypi_probe as p
print("versions", a.__version__, p.__version__, p.MIRROR_ORIGIN)'
echo "installer $(cat $site/dockerpypi_probe-1.0.dist-info/INSTALLER)"
ls $site/dockerpypi_probe/__pycache__/ | sed -n 's/^/pyc /p'
if [ -d /opt/target ]; then
  echo "target-installer $(cat /opt/target/dockerpypi_probe-1.0.dist-info/INSTALLER)"
  ls /opt/target/dockerpypi_probe/__pycache__/ | sed -n 's/^/target-pyc /p'
fi
command -v uv && echo "uv on PATH"
find / -xdev \( -name uv -o -name uvx \) -print | sed 's/^/found /'
[ -e /run/dockerpypi ] && echo "found /run/dockerpypi"
true
"""


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=600, env=os.environ.copy())


@pytest.mark.parametrize("kind", ["rendered", "rendered-secrets", "inject-prefer-uv"])
def test_pip_steps_run_the_mirrors_uv_and_leave_nothing_of_it(
        kind: str, tmp_path: Path, base_image: str, tool_wheels: Callable[..., Path]) -> None:
    root = write_index_of(tmp_path / "upstream", UPSTREAM, origin="upstream")
    for wheel in tool_wheels("uv").iterdir():
        shutil.copy2(wheel, root)
    write_simple_index(root)
    context = tmp_path / "context"
    context.mkdir()
    (context / "requirements.txt").write_text("dockerpypi-probe-app\n")
    mirror = tmp_path / "mirror"
    with serve_directory(root) as upstream:
        for what in (["-r", str(context / "requirements.txt")], ["uv"]):
            added = dockerpypi("mirror", "add", *what, "--index-url", upstream,
                               "--mirror-dir", str(mirror))
            assert added.returncode == 0, added.stderr
    assert len(list(mirror.glob("uv-*.whl"))) == 1
    if kind.startswith("rendered"):
        run = render_run(RunOptions(config="secrets" if kind.endswith("secrets") else "context"))
        dockerfile = render_stage() + VENV.format(base=base_image) + run
        options = []
    else:
        dockerfile = PIP_DOCS.format(base=base_image)
        options = ["--inject", "--prefer-uv"]
    (context / "Dockerfile").write_text(dockerfile)
    tag = unique_tag(f"uvstep-{kind}")
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]

    built = dockerpypi("build", *options, "--offline", "--mirror-dir", str(mirror), *labels,
                       "--network=none", "--no-cache", "--progress=plain", "-t", tag, "--load",
                       str(context))

    assert built.returncode == 0, built.stderr[-4000:]
    assert "uv for the steps that want it: uv-" in built.stderr, built.stderr[-4000:]
    assert (context / "Dockerfile").read_text() == dockerfile
    status, output = run_in_image(tag, ["sh", "-c", CHECK])
    assert status == 0, output
    lines = output.splitlines()
    # What pip resolves (the app's probe<2), installed by uv, bytecode compiled as pip does.
    assert "versions 1.0 1.0 upstream" in lines, output
    assert "installer uv" in lines, output
    assert any(line.startswith("pyc __init__.cpython-") for line in lines), output
    if kind == "inject-prefer-uv":
        assert "target-installer uv" in lines, output
        assert any(line.startswith("target-pyc __init__.cpython-") for line in lines), output
    # Nothing of uv or of its mount in the image.
    assert not [line for line in lines if line.startswith(("found", "uv on PATH"))], output
    verified = dockerpypi("verify", tag)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert ": clean (" in verified.stdout, verified.stdout
