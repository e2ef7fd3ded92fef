"""A distribution's own pip installs from a mirror ``mirror add`` made, names spelt either way.

Debian 12's venvs get pip 23.0.1. pip 22.3 to 23.1 compare the Name in a
PEP 658 metadata file with the requirement as the user spelt it, without
normalising either (pypa/pip#12038): offered those files, ``pip install
flask`` fails on Flask's ``Name: Flask``, and ``pip install Flask`` on its
dependency ``Jinja2``. The wheels here are tiny stand-ins made by the test,
named and spelt as the real ones are (file names lower case, metadata Names
as their authors write them, requirements spelt either way); the upstream
index is a fake one on 127.0.0.1, and the build is offline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version
from support.docker import LABELS, run_in_image, unique_tag
from support.index import write_simple_index
from support.server import serve_directory
from support.wheels import make_wheel

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ORIGIN = "upstream"
# (Name as its metadata spells it, version, requirements as its metadata spells them)
PROJECTS = (
    ("Flask", "3.0.3", ("Werkzeug>=3.0.0", "Jinja2>=3.1.2", "itsdangerous>=2.1.2")),
    ("Werkzeug", "3.0.3", ("MarkupSafe>=2.1.1",)),
    ("Jinja2", "3.1.4", ("MarkupSafe>=2.0",)),
    ("itsdangerous", "2.2.0", ()),
    ("MarkupSafe", "2.1.5", ()),
    ("SQLAlchemy", "2.0.30", ("typing-extensions>=4.6.0",)),
    ("typing_extensions", "4.12.2", ()),
)
DOCKERFILE = """\
FROM {base}
RUN python3 -m venv /lower && /lower/bin/pip install flask sqlalchemy
RUN python3 -m venv /spelt && /spelt/bin/pip install Flask SQLAlchemy
"""
IMPORTED = ("flask", "werkzeug", "jinja2", "itsdangerous", "markupsafe", "sqlalchemy",
            "typing_extensions")


def dockerpypi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerpypi", *args], capture_output=True,
                          text=True, check=False, timeout=600, env=os.environ.copy())


def test_the_images_own_pip_installs_flask_and_sqlalchemy_spelt_either_way(
        tmp_path: Path, base_image: str) -> None:
    status, output = run_in_image(base_image, ["sh", "-c", "python3 -m venv /v && "
                                               "/v/bin/python -m pip --version"])
    assert status == 0, output
    pip_version = Version(output.split()[1])
    # Else this test would not meet the bug it guards against.
    assert Version("22.3") <= pip_version < Version("23.2"), output

    upstream = tmp_path / "upstream"
    for name, version, requires in PROJECTS:
        make_wheel(upstream, name, version, requires=requires, origin=ORIGIN)
    write_simple_index(upstream)
    mirror = tmp_path / "mirror"
    with serve_directory(upstream) as served:
        added = dockerpypi("mirror", "add", "flask", "sqlalchemy", "--index-url", served,
                           "--mirror-dir", str(mirror))
    assert added.returncode == 0, added.stderr
    assert any(p.name.endswith(".whl.metadata") for p in mirror.iterdir())  # still offered

    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=base_image))
    tag = unique_tag("system-pip")
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    built = dockerpypi("build", "--inject", "--offline", "--mirror-dir", str(mirror), *labels,
                       "--no-cache", "--progress=plain", "-t", tag, "--load", str(context))

    assert built.returncode == 0, built.stderr[-4000:]
    assert "inconsistent Name" not in built.stderr
    check = "; ".join(f"import {m}; print({m}.__name__, {m}.MIRROR_ORIGIN)" for m in IMPORTED)
    for venv in ("/lower", "/spelt"):
        status, output = run_in_image(tag, [f"{venv}/bin/python", "-c", check])
        assert status == 0, output
        assert output.split() == [word for m in IMPORTED for word in (m, ORIGIN)], output
