"""Settings resolution: precedence per field, sources, files, parsing, and secrecy."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest

import dockerpypi
from dockerpypi.errors import SettingsError
from dockerpypi.settings import urls as _urls
from dockerpypi.settings.model import Override, Settings, Sourced, describe, display_value
from dockerpypi.settings.public_index import public_index_url
from dockerpypi.settings.resolve import resolve_settings
from dockerpypi.settings.urls import Credentials, MirrorURL

PUBLIC = public_index_url()  # pip's default index: tests/test_public_index.py
SECRET = "s3cretPw"
QUOTED = "p%40ss%23w%3Ard%2F%25%2B"  # p@ss#w:rd/%+
PASSWORD = "p@ss#w:rd/%+"


def resolve(tmp_path: Path, environ: dict[str, str] | None = None,
            flags: dict[str, object] | None = None) -> Settings:
    return resolve_settings(flags or {}, environ=environ or {}, context_dir=tmp_path)


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def urls(mirrors: tuple[MirrorURL, ...]) -> list[str]:
    return [m.url for m in mirrors]


def warned(settings: Settings, *words: str) -> bool:
    return any(all(word in str(warning) for word in words) for warning in settings.warnings)


def everything_shown(settings: Settings) -> str:
    """Every way a Settings object reaches a person or a log."""
    return "\n".join([
        repr(settings), str(settings), json.dumps(describe(settings)),
        " ".join(str(m) for m in settings.indexes), " ".join(map(str, settings.warnings)),
    ])


# --- precedence, field by field --------------------------------------------------------

FLAG = "flag"
ENV = "env"
DIB = "dib"
FILE = "file"
LAYERS = (FLAG, ENV, DIB, FILE)
SOURCE_FILE = "file dockerpypi.toml"


@dataclass(frozen=True)
class Field:
    """One settings field as each source gives it, and what each gives."""

    name: str
    flag: object
    env: str
    dib: dict[str, str] | None  # None: no diskimage-builder variable feeds it
    file: str  # the TOML line
    # what the field resolves to, and its source, with each layer on top
    expect: dict[str, tuple[object, str]] = field(default_factory=dict)
    default: object = None


FIELDS = [
    Field("mirrors", ("http://flag.example/simple/",), "http://env.example/simple/",
          {"DIB_PYPI_MIRROR_URL": "http://dib.example/simple/"},
          'mirrors = ["http://file.example/simple/"]',
          {FLAG: (["http://flag.example/simple/"], "flag --index-url"),
           ENV: (["http://env.example/simple/"], "env DOCKERPYPI_MIRRORS"),
           DIB: (["http://dib.example/simple/"], "env DIB_PYPI_MIRROR_URL"),
           FILE: (["http://file.example/simple/"], SOURCE_FILE)},
          ["file:///tmp/pypi"]),
    Field("public_fallback", True, "false", {"DIB_NO_PYPI_PIP": "1"}, "public-fallback = false",
          {FLAG: (True, "flag --public-fallback/--no-public-fallback"),
           ENV: (False, "env DOCKERPYPI_PUBLIC_FALLBACK"),
           DIB: (False, "env DIB_NO_PYPI_PIP"),
           FILE: (False, SOURCE_FILE)},
          True),
    Field("public_index", "https://flag.example/simple/", "https://env.example/simple/", None,
          'public-index = "https://file.example/simple/"',
          {FLAG: ("https://flag.example/simple/", "flag --public-index"),
           ENV: ("https://env.example/simple/", "env DOCKERPYPI_PUBLIC_INDEX"),
           FILE: ("https://file.example/simple/", SOURCE_FILE)},
          PUBLIC),
    Field("offline", False, "yes", {"DIB_OFFLINE": "1"}, "offline = false",
          {FLAG: (False, "flag --offline/--online"),
           ENV: (True, "env DOCKERPYPI_OFFLINE"),
           DIB: (True, "env DIB_OFFLINE"),
           FILE: (False, SOURCE_FILE)},
          False),
    Field("retries", "1", "2", {"DIB_PIP_RETRIES": "3"}, "retries = 4",
          {FLAG: (1, "flag --retries"), ENV: (2, "env DOCKERPYPI_RETRIES"),
           DIB: (3, "env DIB_PIP_RETRIES"), FILE: (4, SOURCE_FILE)},
          None),
    Field("timeout", "1.5", "2.5", None, "timeout = 3.5",
          {FLAG: (1.5, "flag --timeout"), ENV: (2.5, "env DOCKERPYPI_TIMEOUT"),
           FILE: (3.5, SOURCE_FILE)},
          None),
    Field("mirror_dir", "/flag/dir", "/env/dir", {"DIB_IMAGE_CACHE": "/dib"},
          'mirror-dir = "/file/dir"',
          {FLAG: (Path("/flag/dir"), "flag --mirror-dir"),
           ENV: (Path("/env/dir"), "env DOCKERPYPI_MIRROR_DIR"),
           DIB: (Path("/dib/pypi/mirror"), "env DIB_IMAGE_CACHE"),
           FILE: (Path("/file/dir"), SOURCE_FILE)},
          "home"),
    Field("mount_point", "/flag/mnt", "/env/mnt", None, 'mount-point = "/file/mnt"',
          {FLAG: ("/flag/mnt", "flag --mount-point"),
           ENV: ("/env/mnt", "env DOCKERPYPI_MOUNT_POINT"),
           FILE: ("/file/mnt", SOURCE_FILE)},
          "/tmp/pypi"),
    Field("installers", ("uv",), "pip", None, 'installers = ["uv", "pip"]',
          {FLAG: (("uv",), "flag --configure"), ENV: (("pip",), "env DOCKERPYPI_INSTALLERS"),
           FILE: (("uv", "pip"), SOURCE_FILE)},
          ("pip", "uv", "pdm")),
    Field("easy_install", True, "0", None, 'easy-install = true',
          {FLAG: (True, "flag --easy-install/--no-easy-install"),
           ENV: (False, "env DOCKERPYPI_EASY_INSTALL"),
           FILE: (True, SOURCE_FILE)},
          False),
    Field("container_engine", "podman", "buildah", None, 'container-engine = "docker"',
          {FLAG: ("podman", "flag --engine"), ENV: ("buildah", "env DOCKERPYPI_CONTAINER_ENGINE"),
           FILE: ("docker", SOURCE_FILE)},
          "auto"),
]


def _comparable(name: str, value: Any) -> Any:
    if name == "mirrors":
        return urls(value)
    if name == "public_index":
        return value.url
    return value


def _precedence_cases() -> list[Any]:
    cases = []
    for spec in FIELDS:
        present = [layer for layer in LAYERS if layer in spec.expect]
        for start in range(len(present) + 1):
            cases.append(pytest.param(spec, present[start:],
                                      id=f"{spec.name}-{'+'.join(present[start:]) or 'default'}"))
    return cases


@pytest.mark.parametrize(("spec", "layers"), _precedence_cases())
def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    spec: Field, layers: list[str]) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    context = tmp_path / "context"
    context.mkdir()
    flags: dict[str, object] = {}
    environ: dict[str, str] = {}
    if FLAG in layers:
        flags[spec.name] = spec.flag
    if ENV in layers:
        environ["DOCKERPYPI_" + spec.name.upper()] = spec.env
    if DIB in layers:
        assert spec.dib is not None
        environ.update(spec.dib)
    if FILE in layers:
        write(context, "dockerpypi.toml", spec.file + "\n")

    settings = resolve_settings(flags, environ=environ, context_dir=context)
    sourced: Sourced[Any] = getattr(settings, spec.name)
    if layers:
        value, source = spec.expect[layers[0]]
    else:
        value = home / ".cache/image-create/pypi/mirror" if spec.default == "home" else spec.default
        source = "default"
    assert _comparable(spec.name, sourced.value) == value
    assert sourced.source == source
    # Every weaker source that gave a value is recorded, strongest first; the
    # default is never listed.
    assert [o.source for o in sourced.overridden] == [spec.expect[x][1] for x in layers[1:]]
    for override in sourced.overridden:
        assert override.shown == display_value(
            _parse_alone(tmp_path, spec, override.source))


def _parse_alone(tmp_path: Path, spec: Field, source: str) -> object:
    """What one source gives for the field on its own (the shown override)."""
    layer = next(x for x in LAYERS if x in spec.expect and spec.expect[x][1] == source)
    alone = tmp_path / f"alone-{layer}"
    alone.mkdir(exist_ok=True)
    flags: dict[str, object] = {}
    environ: dict[str, str] = {}
    if layer == FLAG:
        flags[spec.name] = spec.flag
    elif layer == ENV:
        environ["DOCKERPYPI_" + spec.name.upper()] = spec.env
    elif layer == DIB:
        assert spec.dib is not None
        environ.update(spec.dib)
    else:
        write(alone, "dockerpypi.toml", spec.file + "\n")
    settings = resolve_settings(flags, environ=environ, context_dir=alone)
    value: object = getattr(settings, spec.name).value
    return value


def test_every_field_is_in_the_precedence_table(tmp_path: Path) -> None:
    names = [str(row["name"]).replace("-", "_") for row in describe(resolve(tmp_path))]
    assert [spec.name for spec in FIELDS] == names
    declared = [f.name for f in fields(Settings) if f.name != "warnings"]
    assert declared == names


def test_the_package_names_its_public_api() -> None:
    # Each name of dockerpypi.__all__ is imported on first use (PEP 562).
    found = subprocess.run(
        [sys.executable, "-c", "import dockerpypi\n"
         "for name in dockerpypi.__all__:\n"
         "    print(name, getattr(dockerpypi, name).__module__ if name != '__version__' else '')"],
        capture_output=True, text=True, check=True, timeout=60).stdout.split("\n")
    modules = dict(line.split(" ", 1) for line in found if line)
    assert set(modules) == set(dockerpypi.__all__)
    assert modules["resolve_settings"] == "dockerpypi.settings.resolve"
    assert dockerpypi.Settings is Settings
    assert dockerpypi.Sourced is Sourced
    assert dockerpypi.resolve_settings is resolve_settings
    assert dockerpypi.MirrorURL is MirrorURL
    assert dockerpypi.Credentials is Credentials
    assert dockerpypi.SettingsError is SettingsError


def test_fields_resolve_independently(tmp_path: Path) -> None:
    write(tmp_path, "dockerpypi.toml", 'retries = 4\ntimeout = 9\nmirrors = ["http://f.example/"]\n')
    settings = resolve(tmp_path, {"DIB_PIP_RETRIES": "3", "DOCKERPYPI_TIMEOUT": "2"},
                       {"mirrors": ("http://flag.example/",)})
    assert (settings.retries.value, settings.retries.source) == (3, "env DIB_PIP_RETRIES")
    assert (settings.timeout.value, settings.timeout.source) == (2.0, "env DOCKERPYPI_TIMEOUT")
    assert urls(settings.mirrors.value) == ["http://flag.example/"]
    assert settings.installers.source == "default"


@pytest.mark.parametrize("empty", [None, ()])
def test_flags_not_given_are_skipped(tmp_path: Path, empty: object) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_INSTALLERS": "uv", "DOCKERPYPI_MIRRORS": "http://e/"},
                       {"installers": empty, "mirrors": empty, "retries": None})
    assert settings.installers.source == "env DOCKERPYPI_INSTALLERS"
    assert settings.mirrors.source == "env DOCKERPYPI_MIRRORS"
    assert settings.retries.source == "default"


def test_unknown_flag_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="bogus"):
        resolve(tmp_path, {}, {"bogus": 1})


def test_dockerpypi_offline_false_beats_dib_offline(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_OFFLINE": "1", "DOCKERPYPI_OFFLINE": "0",
                                  "DIB_PYPI_MIRROR_URL": "http://a.example/"})
    assert settings.offline.value is False
    assert [m.url for m in settings.indexes] == ["http://a.example/", PUBLIC]
    assert settings.offline.overridden == (Override("env DIB_OFFLINE", "true"),)


# --- overridden values are redacted ---------------------------------------------------

def test_overridden_mirrors_are_redacted(tmp_path: Path) -> None:
    write(tmp_path, "dockerpypi.toml", f'mirrors = ["http://u:{SECRET}f@file.example/"]\n')
    settings = resolve(tmp_path, {
        "DOCKERPYPI_MIRRORS": f"https://u:{SECRET}e@env.example/simple/ http://plain.example/",
        "DIB_PYPI_MIRROR_URL": f"http://u:{SECRET}d@dib.example/",
    }, {"mirrors": (f"http://u:{SECRET}@flag.example/",)})
    assert settings.mirrors.overridden == (
        Override("env DOCKERPYPI_MIRRORS", "https://***@env.example/simple/ http://plain.example/"),
        Override("env DIB_PYPI_MIRROR_URL", "http://***@dib.example/"),
        Override(SOURCE_FILE, "http://***@file.example/"),
    )
    assert SECRET not in everything_shown(settings)


def test_overridden_public_index_is_redacted(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_PUBLIC_INDEX": f"https://u:{SECRET}@env.example/"},
                       {"public_index": "https://flag.example/simple/"})
    assert settings.public_index.overridden == (
        Override("env DOCKERPYPI_PUBLIC_INDEX", "https://***@env.example/"),)


def test_invalid_overridden_value_is_shown_as_invalid(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_PIP_RETRIES": "many",
                                  "DIB_PYPI_MIRROR_URL": f"ftp://u:{SECRET}@dib.example/"},
                       {"retries": "2", "mirrors": ("http://flag.example/",)})
    assert settings.retries.value == 2
    assert settings.retries.overridden == (Override("env DIB_PIP_RETRIES", "<invalid>"),)
    assert settings.mirrors.overridden == (Override("env DIB_PYPI_MIRROR_URL", "<invalid>"),)
    assert SECRET not in everything_shown(settings)


# --- configuration files ---------------------------------------------------------------

def test_pyproject_table_is_read(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml",
          '[project]\nname = "app"\n\n[tool.dockerpypi]\nretries = 7\ninstallers = "uv"\n')
    settings = resolve(tmp_path)
    assert settings.retries.value == 7
    assert settings.retries.source == "file pyproject.toml [tool.dockerpypi]"
    assert settings.installers.value == ("uv",)


def test_dockerpypi_toml_is_preferred_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.dockerpypi]\nretries = 7\ntimeout = 5\n")
    write(tmp_path, "dockerpypi.toml", "retries = 1\n")
    settings = resolve(tmp_path)
    assert (settings.retries.value, settings.retries.source) == (1, SOURCE_FILE)
    # The whole pyproject table is passed over, not merged field by field.
    assert settings.timeout.source == "default"
    assert settings.retries.overridden == ()


@pytest.mark.parametrize("text", [
    '[project]\nname = "app"\n',
    "[tool.black]\nline-length = 100\n",
    "",
])
def test_pyproject_without_the_table_gives_nothing(tmp_path: Path, text: str) -> None:
    write(tmp_path, "pyproject.toml", text)
    settings = resolve(tmp_path)
    assert all(row["source"] == "default" for row in describe(settings))


def test_no_file_gives_defaults(tmp_path: Path) -> None:
    assert all(row["source"] == "default" for row in describe(resolve(tmp_path)))


@pytest.mark.parametrize(("name", "text"), [
    ("dockerpypi.toml", "retries = 1\nindex-url = 'http://x.example/'\n"),
    ("dockerpypi.toml", "mirror_dir = '/x'\n"),
    ("pyproject.toml", "[tool.dockerpypi]\nretires = 1\n"),
    ("pyproject.toml", "[tool.dockerpypi.index-url]\nurl = 'http://x.example/'\n"),
])
def test_unknown_file_key_is_an_error(tmp_path: Path, name: str, text: str) -> None:
    write(tmp_path, name, text)
    with pytest.raises(SettingsError, match="unknown key") as info:
        resolve(tmp_path)
    assert name in str(info.value)
    assert "mirror-dir" in str(info.value)  # the known keys are listed


@pytest.mark.parametrize("name", ["dockerpypi.toml", "pyproject.toml"])
@pytest.mark.parametrize("text", ["retries = \n", "[tool.dockerpypi\n", "a = 1\na = 2\n",
                                  "mirrors = ['x'\n"])
def test_invalid_toml_is_an_error(tmp_path: Path, name: str, text: str) -> None:
    write(tmp_path, name, text)
    with pytest.raises(SettingsError, match="not valid TOML") as info:
        resolve(tmp_path)
    assert name in str(info.value)


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "dockerpypi.toml").write_bytes(b"retries = '\xff'\n")
    with pytest.raises(SettingsError, match=r"dockerpypi\.toml"):
        resolve(tmp_path)


@pytest.mark.parametrize("text", ['tool = "x"\n', "[tool]\ndockerpypi = 3\n",
                                  'tool = ["dockerpypi"]\n'])
def test_pyproject_tool_that_is_not_a_table_is_an_error(tmp_path: Path, text: str) -> None:
    write(tmp_path, "pyproject.toml", text)
    with pytest.raises(SettingsError, match="must be a table"):
        resolve(tmp_path)


def test_bad_file_value_names_the_file_and_key(tmp_path: Path) -> None:
    write(tmp_path, "dockerpypi.toml", "timeout = 0\n")
    with pytest.raises(SettingsError, match=r"^dockerpypi.toml: timeout "):
        resolve(tmp_path)


@pytest.mark.parametrize("name", ["dockerpypi.toml", "pyproject.toml"])
def test_relative_mirror_dir_in_a_file_is_relative_to_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    context = tmp_path / "context"
    table = "" if name == "dockerpypi.toml" else "[tool.dockerpypi]\n"
    write(context, name, table + 'mirror-dir = "cache/../mirror"\n')
    settings = resolve(context)
    assert settings.mirror_dir.value == context / "cache/../mirror"
    assert settings.mirror_dir.value.is_absolute()


def test_relative_mirror_dir_elsewhere_is_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    context = tmp_path / "context"
    context.mkdir()
    settings = resolve(context, {"DOCKERPYPI_MIRROR_DIR": "env-mirror"})
    assert settings.mirror_dir.value == tmp_path / "env-mirror"
    settings = resolve(context, {}, {"mirror_dir": "flag-mirror"})
    assert settings.mirror_dir.value == tmp_path / "flag-mirror"


def test_mirror_dir_with_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = resolve(tmp_path, {"DOCKERPYPI_MIRROR_DIR": "~/m"})
    assert settings.mirror_dir.value == tmp_path / "home" / "m"


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_mirror_dir_is_an_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match=r"^DOCKERPYPI_MIRROR_DIR is empty"):
        resolve(tmp_path, {"DOCKERPYPI_MIRROR_DIR": value})


@pytest.mark.parametrize("key", ["mirrors", "public-index"])
def test_credentials_in_a_file_are_warned_about(tmp_path: Path, key: str) -> None:
    value = '["http://u:pw@f.example/"]' if key == "mirrors" else '"http://u:pw@f.example/"'
    write(tmp_path, "dockerpypi.toml", f"{key} = {value}\n")
    settings = resolve(tmp_path)
    assert warned(settings, "dockerpypi.toml", "credentials", key)
    assert "pw@" not in " ".join(map(str, settings.warnings))


def test_no_credential_warning_for_a_plain_file_mirror(tmp_path: Path) -> None:
    write(tmp_path, "dockerpypi.toml", 'mirrors = ["http://f.example/"]\n')
    assert not warned(resolve(tmp_path), "credentials")


# --- DOCKERPYPI_* variables -----------------------------------------------------------

def test_unknown_dockerpypi_variable_is_warned(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_FOO": "1", "DOCKERPYPI_MIRROR": "http://x.example/"})
    assert warned(settings, "DOCKERPYPI_FOO", "not a dockerpypi setting")
    assert warned(settings, "DOCKERPYPI_MIRROR ", "DOCKERPYPI_MIRRORS")
    assert settings.mirrors.source == "default"


@pytest.mark.parametrize("name", ["DOCKERPYPI_TEST_UPDATE_GOLDEN", "DOCKERPYPI_ENGINE",
                                  "DOCKERPYPI_ENGINE_HOST", "NOT_DOCKERPYPI_FOO"])
def test_test_and_engine_variables_are_not_warned(tmp_path: Path, name: str) -> None:
    assert not warned(resolve(tmp_path, {name: "1"}), name)


BOOL_VARS = ["DOCKERPYPI_OFFLINE", "DOCKERPYPI_PUBLIC_FALLBACK", "DOCKERPYPI_EASY_INSTALL"]


@pytest.mark.parametrize("var", BOOL_VARS)
@pytest.mark.parametrize(("raw", "value"), [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), ("On", True), (" 1 ", True),
    ("0", False), ("false", False), ("No", False), ("off", False),
])
def test_strict_booleans(tmp_path: Path, var: str, raw: str, value: bool) -> None:
    settings = resolve(tmp_path, {var: raw})
    name = var.removeprefix("DOCKERPYPI_").lower()
    assert getattr(settings, name).value is value


@pytest.mark.parametrize("var", BOOL_VARS)
@pytest.mark.parametrize("raw", ["", " ", "maybe", "2", "y", "enabled", "-1", "truee"])
def test_garbage_boolean_is_an_error(tmp_path: Path, var: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=f"^{var} must be true or false"):
        resolve(tmp_path, {var: raw})


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("5", 5), (" 12 ", 12)])
def test_dockerpypi_retries(tmp_path: Path, raw: str, value: int) -> None:
    assert resolve(tmp_path, {"DOCKERPYPI_RETRIES": raw}).retries.value == value


@pytest.mark.parametrize("raw", ["", "-1", "1.0", "x", "true"])
def test_bad_dockerpypi_retries(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^DOCKERPYPI_RETRIES "):
        resolve(tmp_path, {"DOCKERPYPI_RETRIES": raw})


@pytest.mark.parametrize("text", ["retries = true", "retries = 1.5", "retries = -2"])
def test_bad_file_retries(tmp_path: Path, text: str) -> None:
    write(tmp_path, "dockerpypi.toml", text + "\n")
    with pytest.raises(SettingsError, match=r"^dockerpypi.toml: retries "):
        resolve(tmp_path)


def test_dockerpypi_mirrors_splits_on_commas_and_space(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {
        "DOCKERPYPI_MIRRORS": " http://a.example/,https://b.example/simple/\n http://c.example/ ,"})
    assert urls(settings.mirrors.value) == [
        "http://a.example/", "https://b.example/simple/", "http://c.example/"]


@pytest.mark.parametrize("raw", ["", " ", ",", " , "])
def test_empty_dockerpypi_mirrors_is_an_error(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^DOCKERPYPI_MIRRORS names no mirror"):
        resolve(tmp_path, {"DOCKERPYPI_MIRRORS": raw})


def test_empty_file_mirrors_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "dockerpypi.toml", "mirrors = []\n")
    with pytest.raises(SettingsError, match="names no mirror"):
        resolve(tmp_path)


def test_bad_mirror_in_dockerpypi_mirrors(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^DOCKERPYPI_MIRRORS ") as info:
        resolve(tmp_path, {"DOCKERPYPI_MIRRORS": f"http://a.example/ ftp://u:{SECRET}@b.example/"})
    assert SECRET not in str(info.value)


def test_bad_mirror_flag(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^--index-url ") as info:
        resolve(tmp_path, {}, {"mirrors": (f"http://u:{SECRET}@/simple/",)})
    assert SECRET not in str(info.value)


# --- installers --------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [
    ("pip", ("pip",)),
    ("uv", ("uv",)),
    ("uv,pip", ("uv", "pip")),
    ("pip uv", ("pip", "uv")),
    ("PIP, Uv", ("pip", "uv")),
    ("pip pip uv pip", ("pip", "uv")),
    ("uv,,uv", ("uv",)),
])
def test_installers_from_the_environment(tmp_path: Path, raw: str, value: tuple[str, ...]) -> None:
    assert resolve(tmp_path, {"DOCKERPYPI_INSTALLERS": raw}).installers.value == value


def test_installers_from_flags_are_deduplicated(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {}, {"installers": ("uv", "pip", "uv")})
    assert settings.installers.value == ("uv", "pip")


@pytest.mark.parametrize("raw", ["poetry", "pip,conda", "pip3"])
def test_unknown_installer_is_an_error(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^DOCKERPYPI_INSTALLERS names unknown installer"):
        resolve(tmp_path, {"DOCKERPYPI_INSTALLERS": raw})


@pytest.mark.parametrize("raw", ["", " ", ",,"])
def test_no_installer_is_an_error(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^DOCKERPYPI_INSTALLERS names no installer"):
        resolve(tmp_path, {"DOCKERPYPI_INSTALLERS": raw})


def test_unknown_installer_in_file(tmp_path: Path) -> None:
    write(tmp_path, "dockerpypi.toml", 'installers = ["pip", "conda"]\n')
    with pytest.raises(SettingsError, match=r"^dockerpypi.toml: installers .*'conda'"):
        resolve(tmp_path)


# --- mount point ---------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [
    ("/srv/pypi", "/srv/pypi"),
    ("/srv/pypi/", "/srv/pypi"),
    (" /srv//pypi ", "/srv/pypi"),
    ("//srv/pypi", "/srv/pypi"),
    ("/tmp/pypi-mirror_1.2+local@x", "/tmp/pypi-mirror_1.2+local@x"),
])
def test_valid_mount_point(tmp_path: Path, raw: str, value: str) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_MOUNT_POINT": raw})
    assert settings.mount_point.value == value
    assert settings.local_mirror_url == f"file://{value}"


@pytest.mark.parametrize("raw", [
    "", "relative/path", "./pypi", "~/pypi", "/", "//", "///", "/with space", "/tab\there", "/a,b",
    "/a=b", "/a'b", '/a"b', "/a#b", "/a?b", "/a%20b",
])
def test_invalid_mount_point(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^DOCKERPYPI_MOUNT_POINT "):
        resolve(tmp_path, {"DOCKERPYPI_MOUNT_POINT": raw})


def test_invalid_mount_point_flag_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^--mount-point "):
        resolve(tmp_path, {}, {"mount_point": "pypi"})


@pytest.mark.parametrize("source", ["flag", "env", "file"])
def test_default_mirror_follows_the_mount_point(tmp_path: Path, source: str) -> None:
    flags: dict[str, object] = {}
    environ: dict[str, str] = {}
    if source == "flag":
        flags["mount_point"] = "/srv/pypi"
    elif source == "env":
        environ["DOCKERPYPI_MOUNT_POINT"] = "/srv/pypi"
    else:
        write(tmp_path, "dockerpypi.toml", 'mount-point = "/srv/pypi/"\n')
    settings = resolve(tmp_path, environ, flags)
    assert settings.mirrors.value == (MirrorURL("file:///srv/pypi"),)
    assert settings.mirrors.source == "default"
    assert settings.local_mirror_url == "file:///srv/pypi"
    assert warned(settings, "no mirror", "file:///srv/pypi")
    assert not warned(settings, "file:///tmp/pypi")


def test_explicit_mirrors_do_not_follow_the_mount_point(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_MOUNT_POINT": "/srv/pypi",
                                  "DIB_PYPI_MIRROR_URL": "file:///tmp/pypi"})
    assert urls(settings.mirrors.value) == ["file:///tmp/pypi"]
    assert settings.local_mirror_url == "file:///srv/pypi"


# --- timeout --------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [("2.5", 2.5), ("10", 10.0), (" 0.1 ", 0.1),
                                            ("1e1", 10.0)])
def test_valid_timeout(tmp_path: Path, raw: str, value: float) -> None:
    assert resolve(tmp_path, {"DOCKERPYPI_TIMEOUT": raw}).timeout.value == value


@pytest.mark.parametrize("raw", ["0", "0.0", "-1", "", "abc", "nan", "inf", "-inf", "true"])
def test_timeout_must_be_above_zero(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^DOCKERPYPI_TIMEOUT must be a number of seconds"):
        resolve(tmp_path, {"DOCKERPYPI_TIMEOUT": raw})


@pytest.mark.parametrize("text", ["timeout = 0", "timeout = -1.5", "timeout = true",
                                  'timeout = "soon"'])
def test_bad_file_timeout(tmp_path: Path, text: str) -> None:
    write(tmp_path, "dockerpypi.toml", text + "\n")
    with pytest.raises(SettingsError, match=r"^dockerpypi.toml: timeout "):
        resolve(tmp_path)


def test_bad_timeout_flag(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^--timeout "):
        resolve(tmp_path, {}, {"timeout": "0"})


# --- credentials ------------------------------------------------------------------------------

def test_credentials_are_split_off_the_mirror(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_MIRRORS": "http://user:p%40ss@host.example/simple/"})
    (mirror,) = settings.mirrors.value
    assert mirror.url == "http://host.example/simple/"
    assert mirror.credentials == Credentials("user", "p@ss")
    assert settings.has_credentials
    assert settings.trusted_hosts == ("host.example",)


def test_credentials_round_trip_through_settings(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_MIRRORS": f"https://ci:{QUOTED}@host.example/simple/"})
    (mirror,) = settings.mirrors.value
    assert mirror.credentials == Credentials("ci", PASSWORD)
    assert _urls.parse_mirror_url(mirror.with_credentials(), origin="x") == mirror


def test_no_credentials(tmp_path: Path) -> None:
    assert not resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": "http://a.example/"}).has_credentials


def test_public_index_credentials_count(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_PUBLIC_INDEX": "https://u:pw@pub.example/simple/"})
    assert settings.has_credentials
    offline = resolve(tmp_path, {"DOCKERPYPI_PUBLIC_INDEX": "https://u:pw@pub.example/simple/",
                                 "DIB_OFFLINE": "1"})
    assert not offline.has_credentials  # the public index is not used


@pytest.mark.parametrize("environ", [
    {"DOCKERPYPI_MIRRORS": f"http://user:{SECRET}@host.example/simple/"},
    {"DIB_PYPI_MIRROR_URL": f"http://user:{SECRET}@host.example/simple/"},
    {"DOCKERPYPI_PUBLIC_INDEX": f"https://user:{SECRET}@pub.example/simple/"},
    {"DOCKERPYPI_MIRRORS": f"http://user:{SECRET}@a.example/",
     "DIB_PYPI_MIRROR_URL": f"http://user:{SECRET}@b.example/"},
])
def test_settings_never_show_the_password(tmp_path: Path, environ: dict[str, str]) -> None:
    settings = resolve(tmp_path, environ)
    assert settings.has_credentials
    assert SECRET not in everything_shown(settings)
    assert "***" in everything_shown(settings)


def test_describe_never_shows_the_password(tmp_path: Path) -> None:
    write(tmp_path, "dockerpypi.toml", f'mirrors = ["http://u:{SECRET}@f.example/"]\n')
    settings = resolve(tmp_path, {"DOCKERPYPI_MIRRORS": f"http://u:{SECRET}@e.example/"})
    rows = describe(settings)
    text = json.dumps(rows)
    assert SECRET not in text
    mirrors = next(row for row in rows if row["name"] == "mirrors")
    assert mirrors["value"] == ["http://***@e.example/"]
    assert mirrors["shown"] == "http://***@e.example/"
    assert mirrors["overridden"] == [{"source": SOURCE_FILE, "value": "http://***@f.example/"}]


# --- describe, display_value and the properties -------------------------------------------

def test_describe_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = resolve(tmp_path, {"DIB_PIP_RETRIES": "0", "DOCKERPYPI_INSTALLERS": "uv"})
    rows = {str(row["name"]): row for row in describe(settings)}
    assert list(rows) == ["mirrors", "public-fallback", "public-index", "offline", "retries",
                          "timeout", "mirror-dir", "mount-point", "installers", "easy-install",
                          "container-engine"]
    assert rows["retries"] == {"name": "retries", "value": 0, "shown": "0",
                               "source": "env DIB_PIP_RETRIES", "overridden": []}
    assert rows["timeout"]["value"] is None
    assert rows["timeout"]["shown"] == "installer default"
    assert rows["installers"]["value"] == ["uv"]
    assert rows["public-index"]["value"] == PUBLIC
    assert rows["public-fallback"]["shown"] == "true"
    assert rows["mirror-dir"]["value"] == str(tmp_path / "home/.cache/image-create/pypi/mirror")
    json.dumps(rows)  # JSON-ready as is


@pytest.mark.parametrize(("value", "shown"), [
    (None, "installer default"),
    (True, "true"),
    (False, "false"),
    (0, "0"),
    (2.5, "2.5"),
    ("/tmp/pypi", "/tmp/pypi"),
    (Path("/x/y"), "/x/y"),
    (("pip", "uv"), "pip uv"),
    ((MirrorURL("http://a.example/", Credentials("u", SECRET)), MirrorURL("file:///tmp/pypi")),
     "http://***@a.example/ file:///tmp/pypi"),
])
def test_display_value(value: object, shown: str) -> None:
    assert display_value(value) == shown


@pytest.mark.parametrize(("environ", "uses"), [
    ({}, True),
    ({"DOCKERPYPI_OFFLINE": "1"}, False),
    ({"DOCKERPYPI_PUBLIC_FALLBACK": "0"}, False),
    ({"DOCKERPYPI_OFFLINE": "0", "DOCKERPYPI_PUBLIC_FALLBACK": "1"}, True),
    ({"DOCKERPYPI_OFFLINE": "1", "DOCKERPYPI_PUBLIC_FALLBACK": "1"}, False),
])
def test_uses_public_index(tmp_path: Path, environ: dict[str, str], uses: bool) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_MIRRORS": "http://a.example/", **environ})
    assert settings.uses_public_index is uses
    expected = ["http://a.example/"] + ([PUBLIC] if uses else [])
    assert [m.url for m in settings.indexes] == expected


def test_plain_http_public_index_is_trusted(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DOCKERPYPI_PUBLIC_INDEX": "http://pub.example/simple/",
                                  "DOCKERPYPI_MIRRORS": "https://a.example/ http://b.example/"})
    assert settings.trusted_hosts == ("b.example", "pub.example")
    assert settings.easy_install_index.url == "http://b.example/"


def test_warnings_do_not_change_equality(tmp_path: Path) -> None:
    quiet = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": "http://a.example/"})
    noisy = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": "http://a.example/", "DOCKERPYPI_X": "1"})
    assert quiet.warnings != noisy.warnings
    assert quiet == noisy
