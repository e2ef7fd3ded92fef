"""PDM: the steps --inject recognises, the env file's PDM settings, pdm.lock read as pins.

The locks of the fill tests are made by the host's PDM (the dev extra's)
against a fake index on 127.0.0.1, so they are in the layout PDM writes.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main
from support.pdmproject import pdm_lock, write_project
from support.server import ServedURL
from support.wheels import wheel_filename

from dockerpypi.dockerfile.inject import inject
from dockerpypi.dockerfile.vocabulary import installers_called
from dockerpypi.errors import UsageError, UserMessageError
from dockerpypi.mirror.pdmlock import (
    builds_itself,
    bypasses,
    has_static_urls,
    lock_requirements,
    read_pdm_lock,
    split_pdm_locks,
)
from dockerpypi.mirror.pinned import pinned_hashes
from dockerpypi.render import files, steps
from dockerpypi.settings.resolve import resolve_settings

A = "a" * 64
B = "b" * 64


# --- which steps are PDM's ----------------------------------------------------


@pytest.mark.parametrize("command", [
    "pdm install --check --prod --no-editable", "pdm sync --prod --no-self",
    "pdm -v install", "/root/.local/bin/pdm sync", "python3 -m pdm install",
    "cd /project && pdm install -G web", "pdm add requests", "pdm update", "pdm lock",
    "pdm build", "pdm self update", "sh -c 'pdm sync'",
])
def test_pdm_calls_are_found(command: str) -> None:
    assert installers_called(command) == ["pdm"]


@pytest.mark.parametrize("command", [
    "pdm --version", "pdm run python app.py", "pdm list", "pdm export -o r.txt",
    "pdm config python.use_venv false", "mypdm install", "pdm installer",
])
def test_other_pdm_commands_are_not(command: str) -> None:
    assert installers_called(command) == []


def test_installing_pdm_with_pip_is_a_pip_step() -> None:
    assert installers_called("pip install -U pdm") == ["pip"]


def test_a_pdm_step_gets_the_mirror_and_a_cache_of_its_own() -> None:
    text = inject("FROM p\nWORKDIR /project\nRUN pdm install --check --prod --no-editable\n").text
    assert "--mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly" in text
    assert "--mount=type=cache,id=dockerpypi-pdm-0,target=/var/cache/dockerpypi/pdm" in text
    assert "export PDM_CACHE_DIR=/var/cache/dockerpypi/pdm; \\" in text
    assert "id=dockerpypi-pip-0" not in text


def test_a_named_user_s_pdm_step_caches_nothing() -> None:
    text = inject("FROM p\nUSER app\nRUN pdm sync\n").text
    assert "export PDM_NO_CACHE=1; \\" in text
    assert "type=cache" not in text


def test_render_writes_a_pdm_step_with_pdm_s_cache() -> None:
    text = steps.render_run(steps.RunOptions(requirements=None,
                                             command=("pdm", "sync", "--prod", "--no-self")))
    assert "--mount=type=cache,id=dockerpypi-pdm-0,target=/var/cache/dockerpypi/pdm" in text
    assert "id=dockerpypi-pip-0" not in text
    assert text.rstrip().endswith("pdm sync --prod --no-self")


# --- the env file ---------------------------------------------------------------


def env_file(tmp_path: Path, **environ: str) -> str:
    return files.render_env(resolve_settings({}, environ=environ, context_dir=tmp_path))


def exported(text: str) -> dict[str, str]:
    """The variables the env file leaves set, as a shell sourcing it sees them."""
    script = f"{text}\nenv"
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True,
                          env={"PDM_PYPI_USERNAME": "image", "PDM_IGNORE_STORED_INDEX": "1"})
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def test_pdm_is_given_the_first_index_and_no_update_check(tmp_path: Path) -> None:
    variables = exported(env_file(tmp_path, DOCKERPYPI_OFFLINE="1"))
    assert variables["PDM_PYPI_URL"] == "file:///tmp/pypi"
    assert variables["PDM_CHECK_UPDATE"] == "false"
    # The image's own would send its credentials to the mirror, or drop the mirror.
    assert "PDM_PYPI_USERNAME" not in variables
    assert "PDM_IGNORE_STORED_INDEX" not in variables
    assert "PDM_PYPI_VERIFY_SSL" not in variables


def test_a_plain_http_mirror_is_trusted_and_timeouts_are_whole_seconds(tmp_path: Path) -> None:
    variables = exported(env_file(
        tmp_path, DOCKERPYPI_MIRRORS="http://mirror.example:3141/simple/ https://b.example/",
        DOCKERPYPI_TIMEOUT="2.5"))
    assert variables["PDM_PYPI_URL"] == "http://mirror.example:3141/simple/"
    assert variables["PDM_PYPI_VERIFY_SSL"] == "false"  # else unearth skips a non-loopback http
    assert variables["PDM_REQUEST_TIMEOUT"] == "3"


def test_pdm_s_index_keeps_its_credentials_unless_redacted(tmp_path: Path) -> None:
    resolved = resolve_settings({}, environ={
        "DOCKERPYPI_MIRRORS": "https://builder:s3cret@mirror.example/simple/"},
        context_dir=tmp_path)
    assert "export PDM_PYPI_URL=https://builder:s3cret@mirror.example/simple/" in \
        files.render_env(resolved)
    assert "s3cret" not in files.render_env(resolved, redact=True)
    assert all("s3cret" not in f.content for f in files.config_files(resolved, redact=True))


def test_pdm_not_configured_gets_nothing(tmp_path: Path) -> None:
    assert "PDM_PYPI_URL" not in env_file(tmp_path, DOCKERPYPI_INSTALLERS="pip uv")


# --- pdm.lock as requirements -------------------------------------------------------


def lock_text(*packages: str, strategy: str = '["inherit_metadata"]') -> str:
    return (f'[metadata]\ngroups = ["default"]\nstrategy = {strategy}\nlock_version = "4.5.1"\n'
            'content_hash = "sha256:00"\n\n' + "\n".join(packages))


def package(name: str, version: str, *files: str, extra: str = "") -> str:
    listed = ",\n".join(f"    {entry}" for entry in files)
    return (f'[[package]]\nname = "{name}"\nversion = "{version}"\n{extra}'
            f'files = [\n{listed}\n]\n')


def test_each_package_is_one_line_pinned_to_its_files(tmp_path: Path) -> None:
    path = tmp_path / "pdm.lock"
    path.write_text(lock_text(
        package("alpha", "1.0", f'{{file = "alpha-1.0-py3-none-any.whl", hash = "sha256:{A}"}}',
                f'{{file = "alpha-1.0.tar.gz", hash = "sha256:{B}"}}'),
        package("colorama", "0.4.6",
                f'{{file = "colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:{B}"}}',
                extra='marker = "sys_platform == \\"win32\\""\n'),
        # An extra of a package is its own entry, with the same files.
        package("httpx", "0.28.1", f'{{file = "httpx-0.28.1-py3-none-any.whl", '
                f'hash = "sha256:{A}"}}', extra='marker = "python_version >= \\"3.11\\""\n'),
        package("httpx", "0.28.1", f'{{file = "httpx-0.28.1-py3-none-any.whl", '
                f'hash = "sha256:{A}"}}', extra='extras = ["socks"]\nmarker = "os_name == '
                '\\"posix\\""\n'),
        '[[package]]\nname = "app"\nversion = "0.1.0"\npath = "./app"\n'))

    lines = lock_requirements(read_pdm_lock(path))

    assert lines == [
        f"alpha==1.0 --hash=sha256:{A} --hash=sha256:{B}",
        f'colorama==0.4.6 ; sys_platform == "win32" --hash=sha256:{B}',
        f'httpx==0.28.1 ; (python_version >= "3.11") or (os_name == "posix") '
        f"--hash=sha256:{A}",
    ]
    # What the hash-pinned path reads from them: the names and the hashes allowed.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"{line}\n" for line in lines))
    assert pinned_hashes([requirements]) == {"alpha": frozenset({A, B}),
                                             "colorama": frozenset({B}),
                                             "httpx": frozenset({A})}


def test_a_static_urls_lock_names_its_files_by_url(tmp_path: Path) -> None:
    path = tmp_path / "pdm.lock"
    path.write_text(lock_text(
        package("alpha", "1.0", '{url = "https://files.example/packages/ab/alpha-1.0-py3-none-'
                f'any.whl", hash = "sha256:{A}"}}'),
        strategy='["inherit_metadata", "static_urls"]'))
    lock = read_pdm_lock(path)
    assert lock_requirements(lock) == [f"alpha==1.0 --hash=sha256:{A}"]
    assert has_static_urls(lock)


@pytest.mark.parametrize(("entry", "message"), [
    ('{file = "alpha-1.0-py3-none-any.whl", hash = "md5:00"}', "gives no sha256 for alpha-1.0"),
    ('{file = "../alpha-1.0-py3-none-any.whl", hash = "sha256:' + A + '"}', "no plain file name"),
])
def test_a_file_that_cannot_be_checked_is_refused(tmp_path: Path, entry: str,
                                                  message: str) -> None:
    path = tmp_path / "pdm.lock"
    path.write_text(lock_text(package("alpha", "1.0", entry)))
    with pytest.raises(UserMessageError, match=message):
        lock_requirements(read_pdm_lock(path), where=str(path))


@pytest.mark.parametrize("text", ["not = [toml", 'package = "no tables"\n'])
def test_what_is_no_pdm_lock_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pdm.lock"
    path.write_text(text)
    with pytest.raises(UsageError, match=r"pdm\.lock"):
        read_pdm_lock(path)


def test_the_lock_files_among_the_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pdm.lock").write_text("")
    for name in ("app", "uvapp"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text("")
        (tmp_path / name / "pdm.lock").write_text("")
    (tmp_path / "uvapp" / "uv.lock").write_text("")  # uv's, which mirror add reads first

    locks, rest = split_pdm_locks(["pdm.lock", "./app", "uvapp", "requests"])

    assert locks == (tmp_path / "pdm.lock", tmp_path / "app" / "pdm.lock")
    assert rest == ("uvapp", "requests")


@pytest.mark.parametrize(("tool", "builds"), [
    ("", True), ("[tool.pdm]\ndistribution = false\n", False),
    ('[tool.pdm]\npackage-type = "application"\n', False),
    ('[tool.pdm]\npackage-type = "library"\n', True)])
def test_pdm_builds_the_project_by_its_own_rule(tmp_path: Path, tool: str, builds: bool) -> None:
    project = write_project(tmp_path / "app", "dpp-app", [], tool=tool)
    assert builds_itself(project) is builds


# --- what would take a build past the mirror ----------------------------------------


def test_a_project_s_own_source_and_static_urls_are_said(tmp_path: Path) -> None:
    write_project(tmp_path / "api", "dpp-api", [], tool=(
        '\n[[tool.pdm.source]]\nname = "private"\nurl = "https://u:secret@pkgs.example/simple"\n'
        '\n[[tool.pdm.source]]\nname = "pypi"\nurl = "https://proxy.example/simple"\n'))
    (tmp_path / "pdm.lock").write_text(lock_text(
        package("alpha", "1.0", f'{{url = "https://files.example/alpha-1.0-py3-none-any.whl", '
                f'hash = "sha256:{A}"}}'), strategy='["static_urls"]'))

    said = bypasses(tmp_path)

    assert len(said) == 3
    private, pypi, static = sorted(said, key=lambda line: ("static_urls" in line, " pypi " in line))
    assert "[[tool.pdm.source]] private is asked beside the mirror by PDM" in private
    assert "[[tool.pdm.source]] pypi replaces the mirror" in pypi
    assert all("remove it from pyproject.toml" in line for line in (private, pypi))
    assert "secret" not in " ".join(said)
    assert "made with static_urls" in static
    assert "`pdm lock --refresh -S no_static_urls`" in static


def test_a_plain_project_is_not_said(tmp_path: Path) -> None:
    write_project(tmp_path, "dpp-app", ["dpp-lib"])
    (tmp_path / "pdm.lock").write_text(lock_text(package(
        "dpp-lib", "1.0", f'{{file = "dpp_lib-1.0-py3-none-any.whl", hash = "sha256:{A}"}}')))
    assert bypasses(tmp_path) == []


# --- mirror add pdm.lock, with a lock the real PDM wrote ------------------------------


def test_mirror_add_fetches_exactly_the_locked_files(
        tmp_path: Path, http_mirror: Callable[..., ServedURL], tmpdir_env: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    packages = ["dpp-dep==1.0", "dpp-dep==2.0",
                {"name": "dpp-lib", "version": "1.0", "requires": ["dpp-dep"]},
                # Locked for Windows too; its marker keeps it out of this machine's mirror.
                {"name": "dpp-win", "version": "1.0", "tag": "py3-none-win_amd64"}]
    upstream = http_mirror(packages, origin="upstream")
    project = write_project(tmp_path / "app", "dpp-app",
                            ["dpp-lib", "dpp-dep<2", "dpp-win; sys_platform == 'win32'"],
                            tool="\n[tool.pdm]\ndistribution = false\n")
    lock = pdm_lock(project, upstream)
    # Released after the lock: a resolution of the project would take it.
    newer = http_mirror(["dpp-dep==1.5", *packages], origin="upstream")
    locked = {p["name"]: p for p in read_pdm_lock(lock)["package"]}
    assert locked["dpp-win"]["marker"] == 'sys_platform == "win32"'
    mirror = tmp_path / "mirror"

    code, _, err = run_main(["mirror", "add", str(project), "--index-url", newer,
                             "--mirror-dir", str(mirror)], capsys)

    assert code == 0, err
    wheels = sorted(path.name for path in mirror.glob("*.whl"))
    assert wheels == [wheel_filename("dpp-dep", "1.0"), wheel_filename("dpp-lib", "1.0")]
    for name in wheels:
        project_name = name.split("-")[0].replace("_", "-")
        digest = hashlib.sha256((mirror / name).read_bytes()).hexdigest()
        assert {"file": name, "hash": f"sha256:{digest}"} in locked[project_name]["files"]
    assert not list(tmpdir_env.glob("dockerpypi-pdm-*"))  # the requirements file is gone


def test_a_lock_no_file_of_which_the_index_has_is_refused(
        tmp_path: Path, http_mirror: Callable[..., ServedURL],
        capsys: pytest.CaptureFixture[str]) -> None:
    upstream = http_mirror(["dpp-dep==1.0"], origin="upstream")
    project = write_project(tmp_path / "app", "dpp-app", ["dpp-dep"],
                            tool="\n[tool.pdm]\ndistribution = false\n")
    lock = pdm_lock(project, upstream)
    rebuilt = http_mirror(["dpp-dep==1.0"], origin="rebuilt")  # same version, other bytes

    code, _, err = run_main(["mirror", "add", str(lock), "--index-url", rebuilt,
                             "--mirror-dir", str(tmp_path / "mirror")], capsys)

    assert code != 0
    assert "no file of dpp-dep 1.0 on the index has a sha256" in err
    assert not list((tmp_path / "mirror").glob("*.whl"))


def test_build_inject_warns_of_a_source_that_outranks_the_mirror(
        tmp_path: Path, make_mirror: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    context = write_project(tmp_path / "context", "dpp-app", [], tool=(
        '\n[[tool.pdm.source]]\nname = "private"\nurl = "https://pkgs.example/simple"\n'))
    (context / "Dockerfile").write_text("FROM python:3.12-slim\nRUN pip install -U pdm\n"
                                        "COPY . /project/\nWORKDIR /project\n"
                                        "RUN pdm install --check --prod --no-editable\n")
    mirror = make_mirror(["dpp-dep==1.0"])
    assert run_main(["mirror", "index", "--mirror-dir", str(mirror)], capsys)[0] == 0

    code, _, err = run_main(["build", "--inject", "--offline", "--dry-run", "--mirror-dir",
                             str(mirror), str(context)], capsys)

    assert code == 0, err
    assert ("[[tool.pdm.source]] private is asked beside the mirror by PDM; no PDM setting "
            "outranks a project's source") in " ".join(err.split())
