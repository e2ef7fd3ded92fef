"""Bad input, through the real CLI in a subprocess: one clear line, the right code, no debris.

Every case runs with its own empty TMPDIR and working directory (HOME is
elsewhere: the docker CLI keeps its own files there) and must

- exit with the code errors.py gives its kind of error (1 a failure, 2 bad
  usage or a bad setting),
- write exactly one line to stderr, ``dockerpypi: error: ...``, that names
  what is wrong, and no traceback,
- leave no file behind in TMPDIR or the working directory,
- never print a credential it was given.

"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

PASSWORD = "s3cret@#:/%+word"
ENCODED = quote(PASSWORD, safe="")
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent.sock"}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str  # a part of the one line on stderr
    env: dict[str, str | None] = field(default_factory=dict)  # None: unset it


CASES: dict[str, Case | object] = {
    # malformed URLs and unknown schemes
    "bracket-without-end": Case(("render", "pip-conf", "--index-url", "http://[::1/"), 2,
                                "--index-url is not a valid URL (bad host or port)"),
    "port-out-of-range": Case(("render", "pip-conf", "--index-url", "http://mirror:99999/"), 2,
                              "--index-url is not a valid URL"),
    "query-in-index-url": Case(("config", "--index-url", "http://mirror/simple/?page=2"), 2,
                               "--index-url has a query or fragment"),
    "file-url-with-host": Case(("config", "--index-url", "file://mirror/srv/wheels"), 2,
                               "--index-url is a file:// URL with a host"),
    "unknown-scheme": Case(("render", "uv-toml", "--index-url", "ftp://mirror/simple/"), 2,
                           "--index-url has scheme 'ftp': use http://, https:// or file://"),
    "no-scheme": Case(("render", "pip-conf", "--index-url", "mirror/simple/"), 2,
                      "--index-url has no scheme: write it as http://mirror/... or "
                      "https://mirror/..."),
    "dib-variable-without-scheme": Case(
        ("config",), 2, "DIB_PYPI_MIRROR_URL has no scheme: write it as "
        "http://mirror.example/... or https://mirror.example/...",
        {"DIB_PYPI_MIRROR_URL": "mirror.example/simple", "DOCKERPYPI_MIRRORS": None}),
    "dib-variable-without-scheme-with-password": Case(
        ("render", "pip-conf"), 2, "DIB_PYPI_MIRROR_URL has no scheme: write it as "
        "http://user:password@host/path",
        {"DIB_PYPI_MIRROR_URL": f"builder:{ENCODED}@mirror.example/simple",
         "DOCKERPYPI_MIRRORS": None}),
    "bad-dib-variable-with-password": Case(
        ("render", "pip-conf"), 2, "DIB_PYPI_MIRROR_URL is not a valid URL",
        {"DIB_PYPI_MIRROR_URL": f"http://builder:{ENCODED}@mirror:port/",
         "DOCKERPYPI_MIRRORS": None}),
    # "#" starts the fragment: what is left has no host (the message could say why)
    "password-typed-raw-in-a-url": Case(
        ("config",), 2, "DOCKERPYPI_MIRRORS has no host",
        {"DOCKERPYPI_MIRRORS": f"http://builder:{PASSWORD}@mirror:3141/"}),
    "public-index-scheme": Case(("doctor", "--public-index", "git://mirror/simple/"), 2,
                                "--public-index has scheme 'git'"),
    # empty variables
    "empty-mirrors": Case(("render", "pip-conf"), 2, "DOCKERPYPI_MIRRORS names no mirror",
                          {"DOCKERPYPI_MIRRORS": " "}),
    "empty-retries": Case(("config",), 2, "DOCKERPYPI_RETRIES must be a whole number",
                          {"DOCKERPYPI_RETRIES": ""}),
    "empty-dib-retries": Case(("config",), 2, "DIB_PIP_RETRIES must be a whole number",
                              {"DIB_PIP_RETRIES": ""}),
    "empty-timeout": Case(("config",), 2, "DOCKERPYPI_TIMEOUT must be a number of seconds",
                          {"DOCKERPYPI_TIMEOUT": ""}),
    "empty-mirror-dir": Case(("mirror", "path"), 2, "DOCKERPYPI_MIRROR_DIR is empty",
                             {"DOCKERPYPI_MIRROR_DIR": ""}),
    "empty-public-index": Case(("config",), 2, "DOCKERPYPI_PUBLIC_INDEX is empty",
                               {"DOCKERPYPI_PUBLIC_INDEX": ""}),
    "empty-offline": Case(("config",), 2, "DOCKERPYPI_OFFLINE must be true or false",
                          {"DOCKERPYPI_OFFLINE": ""}),
    "empty-mount-point": Case(("render",), 2, "DOCKERPYPI_MOUNT_POINT must be an absolute path",
                              {"DOCKERPYPI_MOUNT_POINT": ""}),
    "empty-installers": Case(("render", "env"), 2, "DOCKERPYPI_INSTALLERS names no installer",
                             {"DOCKERPYPI_INSTALLERS": ""}),
    # missing or unusable mirror directory
    "check-missing-mirror-dir": Case(("mirror", "check", "--mirror-dir", "no-such-dir"), 1,
                                     "mirror directory", {}),
    "index-mirror-dir-is-a-file": Case(("mirror", "index", "--mirror-dir", "a-file.txt"), 1,
                                       "a-file.txt"),
    "build-mirror-dir-is-a-file": Case(
        ("build", "--mirror-dir", "a-file.txt", "--offline", "-t", "app", "ctx"), 2,
        "a-file.txt (flag --mirror-dir) is not a directory: point --mirror-dir at a directory"),
    # (no engine: the error comes before dockerpypi asks for one)
    "offline-build-without-its-mirror": Case(
        ("build", "--offline", "--mirror-dir", "no-such-dir", "-t", "app", "ctx"), 2,
        "no-such-dir (flag --mirror-dir) does not exist, and the build can install from "
        "nothing else (offline: flag --offline/--online): fill it with `dockerpypi mirror add "
        "--mirror-dir", NO_ENGINE),
    "offline-build-with-a-mirror-to-quote": Case(
        ("build", "--offline", "--mirror-dir", "my wheels", "-t", "app", "ctx"), 2,
        "fill it with `dockerpypi mirror add --mirror-dir '", NO_ENGINE),
    "offline-build-with-an-empty-mirror": Case(
        ("build", "--mirror-dir", "ctx", "-t", "app", "ctx"), 2,
        "ctx (flag --mirror-dir) holds no packages", {**NO_ENGINE, "DIB_OFFLINE": "1"}),
    "doctor-missing-mirror-dir": Case(("doctor", "--offline", "--mirror-dir", "no-such-dir"), 1,
                                      "checks failed (engine, mirror directory)", NO_ENGINE),
    # conflicting flags
    "dry-run-and-verify": Case(("build", "--dry-run", "--verify", "-t", "app", "ctx"), 2,
                               "--verify checks the image a build made, and --dry-run builds "
                               "none: drop one of them"),
    "verify-without-a-tag": Case(("build", "--verify", "--load", "ctx"), 2,
                                 "--verify needs the image's name: add -t NAME"),
    "verify-with-only-a-file-output": Case(
        ("build", "--verify", "-t", "app", "--output", "type=tar,dest=out.tar", "ctx"), 2,
        "--verify reads the image from the engine, and this build does not put it there"),
    "our-option-after-dockers": Case(("build", "-t", "app", "ctx", "--offline"), 2,
                                     "--offline is a dockerpypi option: put it before"),
    "image-and-archive": Case(("verify", "app", "--archive", "a-file.txt"), 2,
                              "give an IMAGE or --archive FILE, not both"),
    "command-after-render-stage": Case(("render", "stage", "--", "pip", "install", "x"), 2,
                                       "a command after -- goes with plain `dockerpypi render`"),
    "nothing-after-separator": Case(("render", "--installer", "uv", "--"), 2,
                                    "nothing after --"),
    "output-into-missing-directory": Case(("render", "pip-conf", "-o", "no-dir/pip.conf"), 2,
                                          "directory"),
    "output-is-a-directory": Case(("render", "pip-conf", "-o", "ctx"), 2,
                                  "is a directory: give a file name to -o"),
    # missing Dockerfile
    "inject-missing-dockerfile": Case(
        ("build", "--inject", "--offline", "-t", "app", "-f", "missing.Dockerfile", "ctx"), 2,
        "there is no Dockerfile at missing.Dockerfile"),
    "missing-dockerfile": Case(
        ("build", "--offline", "-t", "app", "-f", "missing.Dockerfile", "ctx"), 2,
        "there is no Dockerfile at missing.Dockerfile"),
    "missing-build-context": Case(
        ("build", "--offline", "-t", "app", "no-such-context"), 2,
        "the build context no-such-context is not a directory"),
    "unknown-choice": Case(("render", "--installer", "pipx"), 2, "--installer"),
    "prefer-uv-without-inject": Case(("build", "--prefer-uv", "--offline", "-t", "app", "ctx"),
                                     2, "--prefer-uv rewrites steps of --inject: add --inject"),
    # no engine
    "build-without-engine": Case(("build", "--offline", "-t", "app", "ctx"), 1,
                                 "no Docker engine answers (Cannot connect to the Docker "
                                 "daemon at unix:///nonexistent.sock", NO_ENGINE),
    "verify-without-engine": Case(("verify", "app"), 1,
                                  "no Docker engine answers (Cannot connect to the Docker "
                                  "daemon at unix:///nonexistent.sock", NO_ENGINE),
    "build-verify-without-engine": Case(("build", "--verify", "-t", "app", "ctx"), 1,
                                        "no Docker engine answers", NO_ENGINE),
    "doctor-without-engine": Case(("doctor", "--offline"), 1,
                                  "1 check failed (engine): apply the fixes shown above",
                                  NO_ENGINE),
}


def listing(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_gives_one_line_and_the_right_code(case: Case, tmp_path: Path) -> None:
    cwd, temporary, home = tmp_path / "cwd", tmp_path / "tmp", tmp_path / "home"
    for directory in (cwd, temporary, home):
        directory.mkdir()
    (cwd / "ctx").mkdir()
    (cwd / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    (cwd / "a-file.txt").write_text("not a directory\n")
    mirror = home / "mirror"
    mirror.mkdir()
    (mirror / "index.html").write_text("<!DOCTYPE html><html><body></body></html>\n")
    before = listing(cwd)
    env: dict[str, str | None] = {
        "PATH": os.environ["PATH"], "HOME": str(home), "TMPDIR": str(temporary),
        # a configured mirror that exists: no warning stands beside the error
        "DOCKERPYPI_MIRRORS": "file:///tmp/pypi", "DOCKERPYPI_MIRROR_DIR": str(mirror),
        "DOCKER_HOST": os.environ.get("DOCKER_HOST"),
        **case.env,
    }
    result = subprocess.run([sys.executable, "-m", "dockerpypi", *case.args], cwd=cwd,
                            env={key: value for key, value in env.items() if value is not None},
                            capture_output=True, text=True, check=False, timeout=120)
    lines = result.stderr.splitlines()
    assert result.returncode == case.code, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dockerpypi: error: "), lines[0]
    assert case.says in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    for secret in (PASSWORD, ENCODED):
        assert secret not in result.stdout + result.stderr
    assert listing(cwd) == before
    assert listing(temporary) == set()


def _as_root_without_its_file_access() -> None:
    """Take from this (forked) root process what lets root read any file whatever its mode.

    Root reads an unreadable directory through two capabilities, CAP_DAC_OVERRIDE
    and CAP_DAC_READ_SEARCH. Dropped from the bounding set, the program exec'd
    next does not get them back, so it meets the mode bits as any other user does.
    It keeps uid 0, and with it the interpreter: switching to another user
    would need that user to reach the virtual environment and the Python it
    links to, which may well live in root's own home (pyenv does, here).
    """
    import ctypes
    import ctypes.util

    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2  # linux/prctl.h, capability.h
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    for capability in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_an_unreadable_mirror_directory(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "index.html").write_text("<html></html>\n")
    mirror.chmod(0)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "dockerpypi", "mirror", "check", "--mirror-dir", str(mirror)],
            cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TMPDIR": str(tmp_path)},
            preexec_fn=_as_root_without_its_file_access if os.geteuid() == 0 else None)
    finally:
        mirror.chmod(0o755)
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"dockerpypi: error: cannot read {mirror}"), lines[0]
    assert "(Permission denied)" in lines[0], lines[0]
    assert f"make {mirror} readable" in lines[0], lines[0]
