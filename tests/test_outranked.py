"""What could outrank the mirror in a step, and what wins (pip and uv, run for real).

- the project's own uv settings (``[[tool.uv.index]]`` ``default = true``,
  ``[tool.uv] index-url``, a uv.toml beside pyproject.toml): the step's
  ``UV_CONFIG_FILE`` wins, for ``uv pip install`` as for ``uv sync``;
- the image's pip.conf, whose ``[install]`` section pip ranks above any
  ``[global]``: the step's pip.conf names the mirror in those sections too;
- index variables set by ``ENV``: the env file unsets them;
- options on the command line: they win, and dockerpypi says so in one line.

Each index here is a directory on disk: the mirror holds 1.0, the index the
project or image names holds 2.0, so the installed version says who won.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_main
from support.index import write_index_of

from dockerpypi.dockerfile.inject import inject
from dockerpypi.dockerfile.outranked import own_indexes
from dockerpypi.render.files import SHADOWING_VARIABLES

PROBE = "dockerpypi-probe"


@pytest.fixture
def indexes(tmp_path: Path) -> tuple[Path, Path]:
    """(the mirror with 1.0, another index with 2.0), both PEP 503 trees on disk."""
    mirror = write_index_of(tmp_path / "mirror", [f"{PROBE}==1.0"], origin="mirror")
    other = write_index_of(tmp_path / "other", [f"{PROBE}==2.0"], origin="other")
    return mirror, other


def rendered(tmp_path: Path, kind: str, mirror: Path,
             capsys: pytest.CaptureFixture[str]) -> Path:
    """The step's config file of ``kind`` for an offline build from ``mirror``, as written."""
    path = tmp_path / kind
    code, _, err = run_main(["render", kind, "--index-url", mirror.as_uri() + "/", "--offline",
                             "-o", str(path)], capsys)
    assert code == 0, err
    return path


def installed(target: Path) -> str:
    found = [p.name for p in target.glob(f"{PROBE.replace('-', '_')}-*.dist-info")]
    assert len(found) == 1, found
    return found[0].removesuffix(".dist-info").split("-")[1]


def clean_env(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
            "UV_PYTHON_DOWNLOADS": "never", **more}


@pytest.mark.parametrize("project_says", [
    '[[tool.uv.index]]\nname = "own"\nurl = "{other}"\ndefault = true\n',
    '[tool.uv]\nindex-url = "{other}"\n',
    "uv.toml",
])
def test_the_projects_own_uv_index_does_not_outrank_the_steps_config_file(
        tmp_path: Path, indexes: tuple[Path, Path], uv_binary: Path, project_says: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    mirror, other = indexes
    project = tmp_path / "project"
    project.mkdir()
    pyproject = '[project]\nname = "app"\nversion = "0.1.0"\n'
    if project_says == "uv.toml":
        (project / "uv.toml").write_text(f'[[index]]\nurl = "{other.as_uri()}/"\n'
                                         "default = true\n")
    else:
        pyproject += "\n" + project_says.format(other=other.as_uri() + "/")
    (project / "pyproject.toml").write_text(pyproject)
    config = rendered(tmp_path, "uv-toml", mirror, capsys)
    command = [str(uv_binary), "pip", "install", "--python", sys.executable, "--target",
               str(tmp_path / "target"), PROBE]
    # Without the step's file the project's index is used: the case is real.
    alone = subprocess.run([*command[:-2], str(tmp_path / "alone"), PROBE], cwd=project,
                           env=clean_env(UV_CACHE_DIR=str(tmp_path / "cache-a")),
                           capture_output=True, text=True, check=False, timeout=120)
    assert alone.returncode == 0, alone.stderr
    assert installed(tmp_path / "alone") == "2.0"

    done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False,
                          timeout=120, env=clean_env(UV_CONFIG_FILE=str(config),
                                                     UV_CACHE_DIR=str(tmp_path / "cache-b")))

    assert done.returncode == 0, done.stderr
    assert installed(tmp_path / "target") == "1.0"


@pytest.mark.parametrize("image_conf", [
    "[install]\nindex-url = {other}\n",
    "[global]\nextra-index-url = {other}\n",
    "[install]\nextra-index-url = {other}\n",
    "[download]\nindex-url = {other}\n",
])
def test_the_images_pip_conf_does_not_outrank_the_steps(
        tmp_path: Path, indexes: tuple[Path, Path], image_conf: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """pip ranks a command's section above [global] in every file, the image's too."""
    mirror, other = indexes
    # The image's global config (/etc/xdg/pip/pip.conf), found through XDG_CONFIG_DIRS.
    xdg = tmp_path / "xdg"
    (xdg / "pip").mkdir(parents=True)
    (xdg / "pip" / "pip.conf").write_text(image_conf.format(other=other.as_uri() + "/"))
    config = rendered(tmp_path, "pip-conf", mirror, capsys)
    verb = "download" if "[download]" in image_conf else "install"
    target = ["--dest" if verb == "download" else "--target", str(tmp_path / "target")]

    done = subprocess.run([sys.executable, "-m", "pip", verb, "-q", "--no-cache-dir", *target,
                           PROBE], env=clean_env(PIP_CONFIG_FILE=str(config),
                                                 XDG_CONFIG_DIRS=str(xdg)),
                          capture_output=True, text=True, check=False, timeout=120)

    assert done.returncode == 0, done.stderr
    got = [p.name for p in (tmp_path / "target").iterdir()]
    assert any(name.startswith(f"{PROBE.replace('-', '_')}-1.0") for name in got), got


def test_the_env_file_unsets_every_index_variable_of_pip_and_uv(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["render", "env"], capsys)
    assert code == 0
    unset = next(line for line in out.splitlines() if line.startswith("unset "))
    assert set(unset.split()[1:]) == set(SHADOWING_VARIABLES)
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "UV_INDEX",
                 "UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS",
                 "UV_TORCH_BACKEND", "UV_NO_CONFIG"):
        assert name in SHADOWING_VARIABLES


@pytest.mark.parametrize(("command", "found"), [
    ("pip install -i https://u:secret@own.example/simple/ app", ["-i"]),
    ("python3 -m pip install --index-url=https://own.example/ app", ["--index-url"]),
    ("uv pip install --extra-index-url https://own.example/ -f /wheels app",
     ["--extra-index-url", "-f"]),
    ("uv sync --locked --default-index https://own.example/", ["--default-index"]),
    ("uv pip install --index own=https://own.example/ app", ["--index"]),
    ("pip install -f/wheels app", ["-f"]),
    ("sed -i s/a/b/ x && pip install app", []),  # -i of another command
    ("uv sync --frozen --no-install-project", []),
    ("pip install -r requirements.txt", []),
])
def test_index_options_of_installer_calls_are_found(command: str, found: list[str]) -> None:
    assert own_indexes(command) == found


def test_inject_and_render_say_in_one_line_when_the_command_names_its_own_index(
        capsys: pytest.CaptureFixture[str]) -> None:
    result = inject("FROM python\nRUN pip install -i https://u:secret@own.example/simple/ app\n")
    [note] = [note for note in result.notes if "outranks" in note]
    assert note == ("line 2: -i on the command line outranks the mirror's settings, so the "
                    "installer asks that index too: remove it to install from the mirror only")
    code, out, err = run_main(["render", "--", "pip", "install", "--index-url",
                               "https://u:secret@own.example/simple/", "app"], capsys)
    assert code == 0
    assert "RUN " in out
    [warning] = [line for line in err.splitlines() if "outranks" in line]
    assert "--index-url on the command line outranks the mirror's settings" in warning
    assert "secret" not in err
