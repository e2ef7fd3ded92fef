"""Dockerfiles made of dockerpypi's own output, and what the built image reports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support.docker import run_in_image
from support.wheels import module_name


def dockerpypi(*args: str, cwd: Path | None = None) -> str:
    """Run the real CLI, as a user would, and return what it printed."""
    result = subprocess.run([sys.executable, "-m", "dockerpypi", *args], cwd=cwd,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def copy_uv(context: Path, uv_binary: Path) -> str:
    """Put the host's uv in the build context; return the line that copies it in."""
    shutil.copy2(uv_binary, context / "uv")
    return "COPY uv /usr/local/bin/uv\n"


def write_dockerfile(context: Path, base_image: str, installer: str, *,
                     user: int | None = None, requirements: tuple[str, ...] = (),
                     uv_binary: Path | None = None, secrets: bool = False) -> Path:
    """``render stage`` + ``FROM base`` (+ uv, + a non-root venv) + ``render``.

    For uv, ``uv_binary`` (the host's uv) is copied in from the build context
    itself, which every engine can do (a named context would exclude 20.10).
    """
    (context / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    lines = [dockerpypi("render", "stage"), f"FROM {base_image}\n"]
    if installer == "uv":
        assert uv_binary is not None, "a uv build needs the uv_binary fixture"
    # With --installer auto the image has uv when uv_binary is given.
    if uv_binary is not None and installer in ("uv", "auto"):
        lines.append(copy_uv(context, uv_binary))
    render_args = ["render", "--installer", installer, *(["--secrets"] if secrets else [])]
    if user is not None:
        lines.append(f"RUN python3 -m venv /opt/venv && chown -R {user}:{user} /opt/venv\n"
                     f"ENV PATH=/opt/venv/bin:$PATH\nUSER {user}\n")
        render_args += ["--uid", str(user)]
    lines.append(dockerpypi(*render_args))
    dockerfile = context / "Dockerfile"
    dockerfile.write_text("".join(lines))
    return dockerfile


def installed(image: str, *packages: str) -> dict[str, tuple[str, str]]:
    """{package: (version, origin)} as the image itself reports them."""
    code = "; ".join(f"import {module_name(p)} as m; print({p!r}, m.__version__, m.MIRROR_ORIGIN)"
                     for p in packages)
    status, output = run_in_image(image, ["python3", "-c", code])
    assert status == 0, output
    found = {}
    for line in output.splitlines():
        name, version, origin = line.split()
        found[name] = (version, origin)
    return found
