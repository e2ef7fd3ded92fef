"""The diskimage-builder ``pypi`` element contract (shared/spec/dib-pypi.md), row by row.

Each test resolves the settings from an explicit environment and an empty build
context, so nothing here reads the real environment or the current directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerpypi.errors import SettingsError
from dockerpypi.settings.dib import DibEnvironment, read_dib_environment
from dockerpypi.settings.model import Settings
from dockerpypi.settings.public_index import public_index_url
from dockerpypi.settings.resolve import resolve_settings
from dockerpypi.settings.urls import Credentials, MirrorURL

PUBLIC = public_index_url()  # pip's default index: tests/test_public_index.py
LOCAL = "file:///tmp/pypi"
A = "http://a.example:3141/root/pypi/+simple/"
B = "https://b.example/simple/"
C = "http://c.example/simple/"
SECRET = "s3cretPw"


def resolve(tmp_path: Path, environ: dict[str, str]) -> Settings:
    return resolve_settings({}, environ=environ, context_dir=tmp_path)


def index_urls(settings: Settings) -> list[str]:
    return [mirror.url for mirror in settings.indexes]


def mirror_urls(settings: Settings) -> list[str]:
    return [mirror.url for mirror in settings.mirrors.value]


def warned(settings: Settings, *words: str) -> bool:
    return any(all(word in str(warning) for word in words) for warning in settings.warnings)


def mirror(n: int) -> str:
    return f"http://m{n}.example/simple/"


# --- DIB_PYPI_MIRROR_URL: the switch and the primary index ---------------------

def test_base_is_the_primary_index_then_the_public_one(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A})
    assert index_urls(settings) == [A, PUBLIC]
    assert settings.mirrors.source == "env DIB_PYPI_MIRROR_URL"
    assert settings.warnings == ()


def test_extras_follow_the_base(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL_2": C, "DIB_PYPI_MIRROR_URL": A,
                                  "DIB_PYPI_MIRROR_URL_1": B})
    assert index_urls(settings) == [A, B, C, PUBLIC]
    assert settings.mirrors.source == ("env DIB_PYPI_MIRROR_URL, DIB_PYPI_MIRROR_URL_1, "
                                       "DIB_PYPI_MIRROR_URL_2")
    assert settings.warnings == ()


def test_base_with_credentials(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": f"https://ci:{SECRET}@b.example/simple/"})
    assert index_urls(settings) == [B, PUBLIC]
    assert settings.mirrors.value[0].credentials == Credentials("ci", SECRET)
    assert settings.has_credentials


# --- legacy PYPI_MIRROR_URL* ---------------------------------------------------

def test_legacy_base_is_honoured_with_a_deprecation_warning(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"PYPI_MIRROR_URL": A})
    assert index_urls(settings) == [A, PUBLIC]
    assert settings.mirrors.source == "env PYPI_MIRROR_URL"
    assert warned(settings, "PYPI_MIRROR_URL", "deprecated", "DIB_PYPI_MIRROR_URL")


def test_legacy_extras_are_honoured_with_a_deprecation_warning(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"PYPI_MIRROR_URL_1": C, "DIB_PYPI_MIRROR_URL": A})
    assert index_urls(settings) == [A, C, PUBLIC]
    assert warned(settings, "deprecated")


def test_legacy_switches_on_dib_extras(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"PYPI_MIRROR_URL": A, "DIB_PYPI_MIRROR_URL_1": B})
    # "DIB_..." sorts before "PYPI_...", as in the element.
    assert index_urls(settings) == [B, A, PUBLIC]


def test_no_deprecation_warning_without_legacy_names(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A, "DIB_PYPI_MIRROR_URL_1": B})
    assert not warned(settings, "deprecated")


# --- extras without the switch ---------------------------------------------------

@pytest.mark.parametrize("environ", [
    {"DIB_PYPI_MIRROR_URL_1": B},
    {"DIB_PYPI_MIRROR_URL_1": B, "DIB_PYPI_MIRROR_URL_2": C},
    {"PYPI_MIRROR_URL_1": B},
    {"DIB_PYPI_MIRROR_URL": "", "DIB_PYPI_MIRROR_URL_1": B},
    {"DIB_PYPI_MIRROR_URL": "", "PYPI_MIRROR_URL": "", "DIB_PYPI_MIRROR_URL_1": B},
], ids=["one-extra", "two-extras", "legacy-extra", "empty-base", "both-bases-empty"])
def test_extras_are_ignored_and_warned_without_the_base(
        tmp_path: Path, environ: dict[str, str]) -> None:
    settings = resolve(tmp_path, environ)
    assert index_urls(settings) == [LOCAL, PUBLIC]
    assert settings.mirrors.source == "default"
    extras = [name for name in environ if name[-1].isdigit()]
    assert warned(settings, "ignored", *extras)


def test_ignored_extras_are_not_validated(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL_1": "not a url"})
    assert index_urls(settings) == [LOCAL, PUBLIC]


# --- ordering ----------------------------------------------------------------------

def test_names_sort_as_strings_dib_before_pypi(tmp_path: Path) -> None:
    environ = {  # given in the reverse of the expected order
        "PYPI_MIRROR_URL_1": mirror(5),
        "PYPI_MIRROR_URL": mirror(4),
        "DIB_PYPI_MIRROR_URL_2": mirror(3),
        "DIB_PYPI_MIRROR_URL_1": mirror(2),
        "DIB_PYPI_MIRROR_URL": mirror(1),
    }
    settings = resolve(tmp_path, environ)
    assert mirror_urls(settings) == [mirror(n) for n in range(1, 6)]
    assert not warned(settings, "numeric order")


def test_single_digit_extras_keep_the_dib_order_without_warning(tmp_path: Path) -> None:
    environ = {f"DIB_PYPI_MIRROR_URL_{n}": mirror(n) for n in (9, 3, 1, 7, 2, 8, 5, 4, 6)}
    environ["DIB_PYPI_MIRROR_URL"] = mirror(0)
    settings = resolve(tmp_path, environ)
    assert mirror_urls(settings) == [mirror(n) for n in range(10)]
    assert settings.warnings == ()


def test_extras_past_nine_go_in_numeric_order_with_a_warning(tmp_path: Path) -> None:
    environ = {f"DIB_PYPI_MIRROR_URL_{n}": mirror(n) for n in range(12, 0, -1)}
    environ["DIB_PYPI_MIRROR_URL"] = mirror(0)
    settings = resolve(tmp_path, environ)
    assert mirror_urls(settings) == [mirror(n) for n in range(13)]
    # The warning gives both orders: the one used and the element's.
    assert warned(settings, "numeric order",
                  "DIB_PYPI_MIRROR_URL_9, DIB_PYPI_MIRROR_URL_10",
                  "DIB_PYPI_MIRROR_URL_1, DIB_PYPI_MIRROR_URL_10, DIB_PYPI_MIRROR_URL_11")


def test_two_before_ten(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A, "DIB_PYPI_MIRROR_URL_10": C,
                                  "DIB_PYPI_MIRROR_URL_2": B})
    assert index_urls(settings) == [A, B, C, PUBLIC]
    assert warned(settings, "numeric order")


def test_numeric_order_keeps_dib_names_before_legacy_names(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {
        "PYPI_MIRROR_URL_2": mirror(4), "DIB_PYPI_MIRROR_URL_10": mirror(2),
        "PYPI_MIRROR_URL_10": mirror(5), "DIB_PYPI_MIRROR_URL": mirror(0),
        "DIB_PYPI_MIRROR_URL_2": mirror(1), "PYPI_MIRROR_URL": mirror(3),
    })
    assert mirror_urls(settings) == [mirror(n) for n in range(6)]


def test_read_dib_environment_order_and_raw_values() -> None:
    dib = read_dib_environment({"DIB_PYPI_MIRROR_URL_11": " x ", "DIB_PYPI_MIRROR_URL": "y",
                                "DIB_PYPI_MIRROR_URL_3": "z"})
    assert dib.mirrors == (("DIB_PYPI_MIRROR_URL", "y"), ("DIB_PYPI_MIRROR_URL_3", "z"),
                           ("DIB_PYPI_MIRROR_URL_11", " x "))


# --- DIB_OFFLINE and DIB_NO_PYPI_PIP ------------------------------------------------

@pytest.mark.parametrize("value", ["1", "0", "true", "false", "no", " "])
def test_dib_offline_any_non_empty_value_drops_the_public_index(
        tmp_path: Path, value: str) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A, "DIB_OFFLINE": value})
    assert index_urls(settings) == [A]
    assert settings.offline.value is True
    assert settings.offline.source == "env DIB_OFFLINE"
    assert not settings.uses_public_index


@pytest.mark.parametrize("value", ["1", "0", "true", "false", "no", " "])
def test_dib_no_pypi_pip_any_non_empty_value_drops_the_public_index(
        tmp_path: Path, value: str) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A, "DIB_NO_PYPI_PIP": value})
    assert index_urls(settings) == [A]
    assert settings.public_fallback.value is False
    assert settings.public_fallback.source == "env DIB_NO_PYPI_PIP"
    assert settings.offline.value is False
    assert not settings.uses_public_index


@pytest.mark.parametrize("name", ["DIB_OFFLINE", "DIB_NO_PYPI_PIP"])
def test_empty_offline_variables_keep_the_public_index(tmp_path: Path, name: str) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A, name: ""})
    assert index_urls(settings) == [A, PUBLIC]
    assert settings.offline.source == "default"
    assert settings.public_fallback.source == "default"
    assert settings.uses_public_index


def test_read_dib_environment_offline_fields() -> None:
    assert read_dib_environment({"DIB_OFFLINE": "0", "DIB_NO_PYPI_PIP": "0"}) == DibEnvironment(
        mirrors=(), offline="DIB_OFFLINE", no_public_index="DIB_NO_PYPI_PIP", retries=None,
        image_cache=None, warnings=())
    empty = read_dib_environment({"DIB_OFFLINE": "", "DIB_NO_PYPI_PIP": ""})
    assert empty.offline is None
    assert empty.no_public_index is None


# --- DIB_PIP_RETRIES ----------------------------------------------------------------

@pytest.mark.parametrize(("value", "retries"), [("0", 0), ("3", 3), ("10", 10), (" 2 ", 2)])
def test_dib_pip_retries_is_taken(tmp_path: Path, value: str, retries: int) -> None:
    settings = resolve(tmp_path, {"DIB_PIP_RETRIES": value})
    assert settings.retries.value == retries
    assert settings.retries.source == "env DIB_PIP_RETRIES"


def test_no_dib_pip_retries_leaves_the_installer_default(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {})
    assert settings.retries.value is None
    assert settings.retries.source == "default"


@pytest.mark.parametrize("value", ["", " ", "abc", "-1", "1.5", "3x", "five", "true"])
def test_bad_dib_pip_retries_is_an_error_naming_it(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match=r"^DIB_PIP_RETRIES "):
        resolve(tmp_path, {"DIB_PIP_RETRIES": value})


def test_read_dib_environment_keeps_retries_raw() -> None:
    assert read_dib_environment({"DIB_PIP_RETRIES": ""}).retries == ("DIB_PIP_RETRIES", "")
    assert read_dib_environment({}).retries is None


# --- DIB_IMAGE_CACHE ----------------------------------------------------------------

def test_dib_image_cache_sets_the_mirror_dir(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_IMAGE_CACHE": "/var/cache/dib"})
    assert settings.mirror_dir.value == Path("/var/cache/dib/pypi/mirror")
    assert settings.mirror_dir.source == "env DIB_IMAGE_CACHE"


@pytest.mark.parametrize("environ", [{}, {"DIB_IMAGE_CACHE": ""}], ids=["unset", "empty"])
def test_mirror_dir_defaults_to_the_home_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    settings = resolve(tmp_path, environ)
    assert settings.mirror_dir.value == home / ".cache" / "image-create" / "pypi" / "mirror"
    assert settings.mirror_dir.source == "default"


def test_dib_image_cache_with_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    settings = resolve(tmp_path, {"DIB_IMAGE_CACHE": "~/dib-cache"})
    assert settings.mirror_dir.value == home / "dib-cache" / "pypi" / "mirror"


# --- no mirror variable ---------------------------------------------------------------

def test_no_mirror_variable_means_the_local_mirror_and_a_warning(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {})
    assert settings.mirrors.value == (MirrorURL(LOCAL),)
    assert settings.mirrors.source == "default"
    assert index_urls(settings) == [LOCAL, PUBLIC]
    assert warned(settings, "no mirror", LOCAL)


@pytest.mark.parametrize("name", ["DIB_OFFLINE", "DIB_NO_PYPI_PIP"])
def test_no_mirror_variable_offline_means_only_the_local_mirror(
        tmp_path: Path, name: str) -> None:
    settings = resolve(tmp_path, {name: "1"})
    assert index_urls(settings) == [LOCAL]
    assert warned(settings, "no mirror")


def test_a_configured_mirror_gives_no_local_mirror_warning(tmp_path: Path) -> None:
    assert not warned(resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A}), "no mirror")


# --- easy_install ---------------------------------------------------------------------

@pytest.mark.parametrize(("environ", "expected"), [
    ({"DIB_PYPI_MIRROR_URL": A}, A),
    ({"DIB_PYPI_MIRROR_URL": A, "DIB_PYPI_MIRROR_URL_1": B}, B),
    ({"DIB_PYPI_MIRROR_URL": A, "DIB_PYPI_MIRROR_URL_1": B, "DIB_PYPI_MIRROR_URL_2": C}, C),
    ({"DIB_PYPI_MIRROR_URL": A, "DIB_PYPI_MIRROR_URL_2": B, "DIB_PYPI_MIRROR_URL_10": C}, C),
    ({}, LOCAL),
    ({"DIB_PYPI_MIRROR_URL": A, "DIB_OFFLINE": "1"}, A),
])
def test_easy_install_index_is_the_last_user_mirror(
        tmp_path: Path, environ: dict[str, str], expected: str) -> None:
    settings = resolve(tmp_path, environ)
    assert settings.easy_install_index.url == expected
    assert settings.easy_install_index.url != PUBLIC


def test_easy_install_index_is_never_the_public_index(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A})
    assert settings.indexes[-1].url == PUBLIC
    assert settings.easy_install_index.url == A


# --- trusted hosts ------------------------------------------------------------------

def test_every_plain_http_host_is_trusted_once_and_no_https_host(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {
        "DIB_PYPI_MIRROR_URL": "https://secure.example/simple/",
        "DIB_PYPI_MIRROR_URL_1": "http://a.example:3141/root/pypi/+simple/",
        "DIB_PYPI_MIRROR_URL_2": "http://c.example/simple/",
        "DIB_PYPI_MIRROR_URL_3": "http://a.example:8080/other/",
        "DIB_PYPI_MIRROR_URL_4": "file:///srv/pypi",
        "DIB_PYPI_MIRROR_URL_5": "http://u:pw@C.EXAMPLE/third/",
    })
    assert settings.trusted_hosts == ("a.example", "c.example")


@pytest.mark.parametrize("environ", [
    {},
    {"DIB_PYPI_MIRROR_URL": B},
    {"DIB_PYPI_MIRROR_URL": "file:///srv/pypi", "DIB_PYPI_MIRROR_URL_1": B},
])
def test_no_trusted_host_without_plain_http(tmp_path: Path, environ: dict[str, str]) -> None:
    assert resolve(tmp_path, environ).trusted_hosts == ()


def test_trusted_host_beyond_the_first_mirror(tmp_path: Path) -> None:
    # The element trusted only the first index's host.
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": B, "DIB_PYPI_MIRROR_URL_1": C})
    assert settings.trusted_hosts == ("c.example",)


# --- stray prefix names -----------------------------------------------------------------

@pytest.mark.parametrize("stray", [
    "DIB_PYPI_MIRROR_URLS",
    "DIB_PYPI_MIRROR_URL_BACKUP",
    "DIB_PYPI_MIRROR_URL_",
    "DIB_PYPI_MIRROR_URL_1A",
    "DIB_PYPI_MIRROR_URL__1",
    "PYPI_MIRROR_URL_OLD",
])
def test_stray_prefix_names_are_warned_and_ignored(tmp_path: Path, stray: str) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A, stray: "not a url at all"})
    assert index_urls(settings) == [A, PUBLIC]
    assert warned(settings, stray, "ignored")


def test_stray_names_do_not_switch_mirrors_on(tmp_path: Path) -> None:
    settings = resolve(tmp_path, {"DIB_PYPI_MIRROR_URLS": A})
    assert index_urls(settings) == [LOCAL, PUBLIC]
    assert warned(settings, "DIB_PYPI_MIRROR_URLS", "ignored")


# --- empty and malformed values ------------------------------------------------------------

@pytest.mark.parametrize("legacy", ["PYPI_MIRROR_URL", "PYPI_MIRROR_URL_1"])
def test_empty_base_with_legacy_set_is_an_error_naming_the_base(
        tmp_path: Path, legacy: str) -> None:
    environ = {"DIB_PYPI_MIRROR_URL": "", "PYPI_MIRROR_URL": A, legacy: A}
    with pytest.raises(SettingsError, match=r"^DIB_PYPI_MIRROR_URL is empty"):
        resolve(tmp_path, environ)


def test_empty_extra_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^DIB_PYPI_MIRROR_URL_1 is empty"):
        resolve(tmp_path, {"DIB_PYPI_MIRROR_URL": A, "DIB_PYPI_MIRROR_URL_1": " "})


BAD_URLS = [
    f"mirror.example/{SECRET}/simple/",
    f"ftp://user:{SECRET}@mirror.example/simple/",
    f"user:{SECRET}@mirror.example/simple/",
    "http://",
    f"http://user:{SECRET}@/simple/",
    f"http://user:{SECRET}@mirror.example:80a/simple/",
    "http://mirror.example:65536/simple/",
    f"http://user:{SECRET}@mirror.example/sim ple/",
    "file://server/pypi",
    f"file://user:{SECRET}@server/pypi",
    "file:pypi/mirror",
]


@pytest.mark.parametrize("name", ["DIB_PYPI_MIRROR_URL", "DIB_PYPI_MIRROR_URL_1",
                                  "DIB_PYPI_MIRROR_URL_10", "PYPI_MIRROR_URL"])
@pytest.mark.parametrize("bad", BAD_URLS)
def test_malformed_url_is_an_error_naming_the_variable(
        tmp_path: Path, name: str, bad: str) -> None:
    environ = {"DIB_PYPI_MIRROR_URL": A, name: bad}
    with pytest.raises(SettingsError) as info:
        resolve(tmp_path, environ)
    message = str(info.value)
    assert message.startswith(f"{name} ")
    assert SECRET not in message
