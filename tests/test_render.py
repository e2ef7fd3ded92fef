"""Golden-file tests of every template, and checks of what the files mean.

Set DOCKERPYPI_TEST_UPDATE_GOLDEN=1 to rewrite the golden files after an
intended change, then read the diff.
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path

import pytest

from dockerpypi import __version__
from dockerpypi.errors import UsageError
from dockerpypi.render import files, steps
from dockerpypi.settings.model import Settings
from dockerpypi.settings.public_index import public_index_url
from dockerpypi.settings.resolve import resolve_settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GOLDEN = Path(__file__).parent / "golden"
PASSWORD = "p@ss#w:rd/%+"
QUOTED_PASSWORD = "p%40ss%23w%3Ard%2F%25%2B"


def settings(tmp_path: Path, **environ: str) -> Settings:
    return resolve_settings({}, environ=environ, context_dir=tmp_path)


def check_golden(name: str, text: str) -> None:
    # The version and the public index change without the templates changing;
    # the public index host is also never written into this repository.
    text = text.replace(__version__, "<version>").replace(public_index_url(), "<public-index>")
    path = GOLDEN / name
    if os.environ.get("DOCKERPYPI_TEST_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {name}: run with DOCKERPYPI_TEST_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


SETTINGS_CASES = {
    "default": {},
    "dib-mirrors": {
        "DIB_PYPI_MIRROR_URL": "http://mirror.example:3141/root/pypi/+simple/",
        "DIB_PYPI_MIRROR_URL_1": "https://secure.example/simple/",
        "DIB_PYPI_MIRROR_URL_2": "http://other.example/simple/",
        "DIB_PIP_RETRIES": "0",
        "DOCKERPYPI_TIMEOUT": "2.5",
    },
    "offline-local": {"DIB_OFFLINE": "1", "DOCKERPYPI_EASY_INSTALL": "1"},
    "credentials": {
        "DOCKERPYPI_MIRRORS": f"http://builder:{QUOTED_PASSWORD}@127.0.0.1:8080/simple/",
        "DIB_NO_PYPI_PIP": "1",
        "DOCKERPYPI_EASY_INSTALL": "true",
    },
}


@pytest.mark.parametrize("case", sorted(SETTINGS_CASES))
@pytest.mark.parametrize(("kind", "suffix"), [("pip-conf", "conf"), ("uv-toml", "toml"),
                                              ("pydistutils", "cfg"), ("env", "sh")])
def test_config_files_match_golden(tmp_path: Path, case: str, kind: str, suffix: str) -> None:
    resolved = settings(tmp_path, **SETTINGS_CASES[case])
    make = {"pip-conf": files.render_pip_conf, "uv-toml": files.render_uv_toml,
            "pydistutils": files.render_pydistutils, "env": files.render_env}[kind]
    text = make(resolved, redact=True)
    assert PASSWORD not in text
    assert QUOTED_PASSWORD not in text
    check_golden(f"{kind}.{case}.{suffix}", text)


def test_pip_conf_means_what_the_spec_says(tmp_path: Path) -> None:
    resolved = settings(tmp_path, **SETTINGS_CASES["dib-mirrors"])
    parser = configparser.RawConfigParser()  # pip's own parser has no interpolation
    parser.read_string(files.render_pip_conf(resolved))
    section = parser["global"]
    assert section["index-url"] == "http://mirror.example:3141/root/pypi/+simple/"
    assert section["extra-index-url"].split() == [
        "https://secure.example/simple/", "http://other.example/simple/", public_index_url()]
    # every plain-http host, no https host
    assert section["trusted-host"].split() == ["mirror.example", "other.example"]
    assert section["retries"] == "0"
    assert section["timeout"] == "2.5"


def test_uv_toml_keeps_mirror_first_and_replaces_the_default_index(tmp_path: Path) -> None:
    resolved = settings(tmp_path, **SETTINGS_CASES["dib-mirrors"])
    data = tomllib.loads(files.render_uv_toml(resolved))
    assert data["index-strategy"] == "first-index"
    assert [index["url"] for index in data["index"]] == [
        "http://mirror.example:3141/root/pypi/+simple/", "https://secure.example/simple/",
        "http://other.example/simple/", public_index_url()]
    assert [index.get("default", False) for index in data["index"]] == [False] * 3 + [True]
    assert "offline" not in data


def test_offline_uv_has_no_public_index_and_no_offline_switch(tmp_path: Path) -> None:
    local = tomllib.loads(files.render_uv_toml(settings(tmp_path, DIB_OFFLINE="1")))
    assert local["index"] == [{"name": "mirror-1", "url": "file:///tmp/pypi", "default": True}]
    # uv's own offline mode would blame its cache for a package the mirror lacks
    assert "offline" not in local


def test_env_file_names_the_indexes_without_credentials(tmp_path: Path) -> None:
    import subprocess
    text = files.render_env(settings(tmp_path, **SETTINGS_CASES["credentials"]))
    said = subprocess.run(["sh", "-c", text], capture_output=True, text=True, check=True).stderr
    assert said == "dockerpypi: indexes for this step: http://***@127.0.0.1:8080/simple/\n"


def test_credentials_round_trip_into_the_secret_files(tmp_path: Path) -> None:
    resolved = settings(tmp_path, **SETTINGS_CASES["credentials"])
    parser = configparser.RawConfigParser()
    parser.read_string(files.render_pip_conf(resolved))
    url = parser["global"]["index-url"]
    from urllib.parse import unquote, urlsplit
    parts = urlsplit(url)
    assert (parts.username, unquote(parts.password or "")) == ("builder", PASSWORD)
    # DIB_NO_PYPI_PIP: one index only, none the image's pip.conf could add
    for section in parser.sections():
        assert parser[section]["extra-index-url"] == ""
        assert parser[section]["index-url"] == url
    uv = tomllib.loads(files.render_uv_toml(resolved))
    assert uv["index"][0]["url"] == url
    cfg = configparser.RawConfigParser()
    cfg.read_string(files.render_pydistutils(resolved))
    assert cfg["easy_install"]["index_url"] == url
    assert cfg["easy_install"]["allow_hosts"] == "127.0.0.1:8080"
    for file in files.config_files(resolved, redact=True):
        assert PASSWORD not in file.content
        assert QUOTED_PASSWORD not in file.content


def test_easy_install_index_is_the_last_user_mirror(tmp_path: Path) -> None:
    resolved = settings(tmp_path, DIB_PYPI_MIRROR_URL="https://first.example/simple/",
                        DIB_PYPI_MIRROR_URL_1="https://last.example/simple/")
    cfg = configparser.RawConfigParser()
    cfg.read_string(files.render_pydistutils(resolved))
    assert cfg["easy_install"]["index_url"] == "https://last.example/simple/"
    assert cfg["easy_install"]["allow_hosts"] == "last.example"


def test_env_file_selects_only_configured_installers(tmp_path: Path) -> None:
    pip_only = files.render_env(settings(tmp_path, DOCKERPYPI_INSTALLERS="pip"))
    assert "PIP_CONFIG_FILE=/run/dockerpypi/pip.conf" in pip_only
    assert "UV_CONFIG_FILE" not in pip_only.split("unset", 1)[1].split("\n", 1)[1]
    names = [f.name for f in files.config_files(settings(tmp_path, DOCKERPYPI_INSTALLERS="uv"))]
    assert names == ["env", "uv-toml"]


def test_env_file_is_valid_posix_shell(tmp_path: Path) -> None:
    import subprocess
    env_text = files.render_env(settings(
        tmp_path, DOCKERPYPI_TIMEOUT="2.5", DOCKERPYPI_RETRIES="1", DOCKERPYPI_EASY_INSTALL="1"))
    script = env_text + '\nprintf "%s|%s|%s|%s" "$PIP_CONFIG_FILE" "$UV_HTTP_TIMEOUT" ' \
                        '"$UV_HTTP_RETRIES" "${PIP_INDEX_URL-unset}"\n'
    out = subprocess.run(["sh", "-c", script], env={"PIP_INDEX_URL": "http://baked.example/"},
                         capture_output=True, text=True, check=True).stdout
    # uv takes whole seconds: 2.5 rounds up, never down to a shorter timeout
    assert out == "/run/dockerpypi/pip.conf|3|1|unset"



@pytest.mark.parametrize(("environ", "names", "pays"), [
    ({"DIB_OFFLINE": "1"}, ["a-1.0-py3-none-any.whl", "a"], False),
    ({"DIB_OFFLINE": "1"}, ["a-1.0-py3-none-any.whl", "b-2.0.tar.gz"], True),  # uv builds b
    ({"DIB_OFFLINE": "1"}, ["c-1.0.zip"], True),
    ({"DIB_OFFLINE": "1"}, ["d-1.0.tar.bz2"], True),  # an older sdist form: built too
    ({}, ["a-1.0-py3-none-any.whl"], True),  # the public index: downloads to keep
    ({"DOCKERPYPI_MIRRORS": "http://127.0.0.1:3141/simple/", "DIB_OFFLINE": "1"},
     ["a-1.0-py3-none-any.whl"], True),  # served over HTTP: downloads too
])
def test_uv_cache_pays_only_for_downloads_and_builds(tmp_path: Path, environ: dict[str, str],
                                                     names: list[str], pays: bool) -> None:
    assert files.uv_cache_pays(settings(tmp_path, **environ), names) is pays


def test_env_file_turns_uv_cache_off_after_the_step_set_it(tmp_path: Path) -> None:
    import subprocess
    resolved = settings(tmp_path, DIB_OFFLINE="1")
    assert "UV_NO_CACHE" not in files.render_env(resolved)
    env_text = files.render_env(resolved, uv_cache=False)
    # The step exports its cache variables first, then sources the file.
    script = ("export UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy\n" + env_text +
              '\nprintf "%s|%s" "${UV_NO_CACHE-unset}" "${UV_LINK_MODE-unset}"\n')
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "1|unset"  # uv's default link mode: hard links within the step
    pip_only = settings(tmp_path, DIB_OFFLINE="1", DOCKERPYPI_INSTALLERS="pip")
    assert "UV_NO_CACHE" not in files.render_env(pip_only, uv_cache=False)


RUN_CASES = {
    "auto-default": steps.RunOptions(),
    "pip-default": steps.RunOptions(installer="pip"),
    "secrets-nonroot": steps.RunOptions(config="secrets", uid=10001),
    "uv-nonroot": steps.RunOptions(installer="uv", requirements="reqs/prod.txt", uid=10001),
    "custom-command": steps.RunOptions(requirements=None,
                                        command=("pip", "install", "numpy<3")),
    "mount-point": steps.RunOptions(mount_point="/srv/wheels", uid=1000, gid=100),
}


@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_run_lines_match_golden(case: str) -> None:
    check_golden(f"run.{case}.Dockerfile", steps.render_run(RUN_CASES[case]))


def test_run_lines_never_use_arg_env_or_copy() -> None:
    for options in RUN_CASES.values():
        lines = [line.strip() for line in steps.render_run(options).splitlines()]
        instructions = [line.split()[0] for line in lines
                        if line and not line.startswith("#") and not line.startswith("--")
                        and line[0].isupper()]
        assert instructions == ["RUN"]


@pytest.mark.parametrize("syntax", [None, "docker/dockerfile:1"])
def test_stage_matches_golden(syntax: str | None) -> None:
    check_golden(f"stage.{'syntax' if syntax else 'plain'}.Dockerfile",
                 steps.render_stage(syntax=syntax))


@pytest.mark.parametrize("bad", ["/etc/passwd", "../outside.txt", "with space.txt", "a,b.txt"])
def test_requirements_outside_the_context_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="inside the build context"):
        steps.render_run(steps.RunOptions(requirements=bad))


def test_nothing_to_install_is_refused() -> None:
    with pytest.raises(UsageError, match="nothing to install"):
        steps.render_run(steps.RunOptions(requirements=None))


def test_the_example_carries_the_step_render_writes() -> None:
    example = (Path(__file__).resolve().parent.parent / "examples" / "Dockerfile").read_text()
    assert steps.render_run(steps.RunOptions()).lstrip("\n") in example
    assert steps.render_stage() in example
