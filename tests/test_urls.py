"""Mirror URLs: validation, and credentials split off the URL and kept out of sight."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import pytest

from dockerpypi.errors import SettingsError
from dockerpypi.settings.urls import REDACTED, Credentials, MirrorURL, parse_mirror_url

ORIGIN = "DIB_PYPI_MIRROR_URL_7"
# Every character that means something inside a URL's userinfo.
PASSWORD = "p@ss#w:rd/%+ ?&="
USERNAME = "bu:ild@er"
SECRET = "s3cretPw"  # the password planted in malformed URLs


# --- valid URLs -----------------------------------------------------------------

@pytest.mark.parametrize(("raw", "url"), [
    ("http://mirror.example/simple/", "http://mirror.example/simple/"),
    ("https://mirror.example:8443/root/pypi/+simple/", "https://mirror.example:8443/root/pypi/+simple/"),
    ("  http://mirror.example/simple/\n", "http://mirror.example/simple/"),
    ("HTTP://Mirror.EXAMPLE/Simple/", "http://mirror.example/Simple/"),
    ("http://mirror.example", "http://mirror.example/"),
    ("http://mirror.example:/simple/", "http://mirror.example/simple/"),
    ("http://127.0.0.1:3141/root/pypi/+simple/", "http://127.0.0.1:3141/root/pypi/+simple/"),
    ("http://[::1]:3141/simple/", "http://[::1]:3141/simple/"),
    ("file:///tmp/pypi", "file:///tmp/pypi"),
    ("file://localhost/tmp/pypi", "file:///tmp/pypi"),
    ("file:/tmp/pypi", "file:///tmp/pypi"),
    ("FILE:///srv/mirror/", "file:///srv/mirror/"),
])
def test_valid_urls_are_normalised(raw: str, url: str) -> None:
    mirror = parse_mirror_url(raw, origin=ORIGIN)
    assert mirror == MirrorURL(url)
    assert mirror.credentials is None
    assert mirror.with_credentials() == url


@pytest.mark.parametrize(("raw", "scheme", "hostname", "netloc", "plain_http", "local"), [
    ("http://mirror.example:3141/simple/", "http", "mirror.example", "mirror.example:3141",
     True, False),
    ("https://mirror.example/simple/", "https", "mirror.example", "mirror.example", False, False),
    ("file:///tmp/pypi", "file", None, "", False, True),
    ("http://[::1]/simple/", "http", "::1", "[::1]", True, False),
])
def test_properties(raw: str, scheme: str, hostname: str | None, netloc: str,
                    plain_http: bool, local: bool) -> None:
    mirror = parse_mirror_url(raw, origin=ORIGIN)
    assert mirror.scheme == scheme
    assert mirror.hostname == hostname
    assert mirror.netloc == netloc
    assert mirror.is_plain_http is plain_http
    assert mirror.is_local is local


# --- credentials ------------------------------------------------------------------

def test_userinfo_is_split_off_and_decoded() -> None:
    mirror = parse_mirror_url("http://user:p%40ss@host.example/simple/", origin=ORIGIN)
    assert mirror.url == "http://host.example/simple/"
    assert mirror.credentials == Credentials("user", "p@ss")
    assert mirror.credentials.username == "user"
    assert mirror.credentials.password == "p@ss"


@pytest.mark.parametrize(("raw", "credentials"), [
    ("https://token@host.example/simple/", Credentials("token", None)),
    ("https://user:@host.example/simple/", Credentials("user", "")),
    ("https://:pw@host.example/simple/", Credentials("", "pw")),
    ("https://us%3Aer:a%2Bb+c@host.example:8443/simple/", Credentials("us:er", "a+b+c")),
    ("https://host.example/simple/", None),
    # A bare "@" carries nothing to keep secret.
    ("https://@host.example/simple/", None),
])
def test_credentials_variants(raw: str, credentials: Credentials | None) -> None:
    mirror = parse_mirror_url(raw, origin=ORIGIN)
    assert mirror.credentials == credentials
    assert "@" not in mirror.url


def _userinfo(url: str) -> tuple[str | None, str | None]:
    parts = urlsplit(url)
    user = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    return user, password


@pytest.mark.parametrize("password", [PASSWORD, "@", "#", ":", "/", "%", "+", "%40", "a b", "é"])
def test_with_credentials_round_trips_every_special_character(password: str) -> None:
    mirror = MirrorURL("http://host.example:8080/simple/", Credentials(USERNAME, password))
    url = mirror.with_credentials()
    parts = urlsplit(url)
    assert parts.hostname == "host.example"
    assert parts.port == 8080
    assert parts.path == "/simple/"
    assert not parts.query
    assert not parts.fragment
    assert _userinfo(url) == (USERNAME, password)
    # And dockerpypi reads its own output back to the same thing.
    assert parse_mirror_url(url, origin=ORIGIN) == mirror


def test_with_credentials_without_password() -> None:
    mirror = MirrorURL("https://host.example/simple/", Credentials("token"))
    assert _userinfo(mirror.with_credentials()) == ("token", None)


def test_with_credentials_redacted() -> None:
    mirror = MirrorURL("https://host.example/simple/", Credentials(USERNAME, PASSWORD))
    assert mirror.with_credentials(redact=True) == f"https://{REDACTED}@host.example/simple/"
    assert str(mirror) == f"https://{REDACTED}@host.example/simple/"


def test_without_credentials_the_url_is_unchanged() -> None:
    mirror = MirrorURL("https://host.example/simple/")
    assert mirror.with_credentials() == mirror.url
    assert mirror.with_credentials(redact=True) == mirror.url
    assert str(mirror) == mirror.url


@pytest.mark.parametrize("render", [str, repr, format])
def test_password_and_username_never_shown(render: Callable[[object], str]) -> None:
    credentials = Credentials("the-user", SECRET)
    mirror = MirrorURL("https://host.example/simple/", credentials)
    for thing in (credentials, mirror, [mirror], {"m": mirror}):
        text = render(thing)
        assert SECRET not in text
        assert "the-user" not in text


def test_parsed_url_never_shows_password() -> None:
    raw = f"http://user:{SECRET}@host.example/simple/"
    mirror = parse_mirror_url(raw, origin=ORIGIN)
    for text in (str(mirror), repr(mirror), mirror.url, mirror.with_credentials(redact=True)):
        assert SECRET not in text
    assert SECRET in mirror.with_credentials()


# --- malformed URLs --------------------------------------------------------------

@pytest.mark.parametrize(("raw", "says"), [
    ("", "is empty"),
    ("   ", "is empty"),
    ("mirror.example/simple/", "has no scheme"),
    (f"//user:{SECRET}@mirror.example/simple/", "has no scheme"),
    # urlsplit reads the user name of a scheme-less URL as its scheme: not shown.
    (f"tokenuser:{SECRET}@mirror.example/simple/", "has no scheme"),
    (f"tokenuser:{SECRET}@mirror.example:3141/simple/", "has no scheme"),
    (f"tokenuser@mirror.example/{SECRET}/", "has no scheme"),
    (f"mirror.example/simple/?token={SECRET}", "has no scheme"),
    (f"mirror.example/simple/#{SECRET}", "has no scheme"),
    (f"mirror.example/{SECRET}/simple/", "has no scheme: write it as http://mirror.example/..."),
    (f"ftp://user:{SECRET}@mirror.example/simple/", "scheme 'ftp'"),
    ("git+https://mirror.example/simple/", "scheme 'git+https'"),
    ("http://", "no host"),
    ("https:///simple/", "no host"),
    (f"http://user:{SECRET}@/simple/", "no host"),
    ("http://:3141/simple/", "no host"),
    ("http:mirror.example/simple/", "no host"),
    (f"http://user:{SECRET}@mirror.example:port/simple/", "bad host or port"),
    ("http://mirror.example:99999/simple/", "bad host or port"),
    ("http://mirror.example:-1/simple/", "bad host or port"),
    ("http://[::1/simple/", "bad host or port"),
    (f"http://user:{SECRET}@mirror.example/sim ple/", "white space"),
    (f"http://user:{SECRET}@mirror.example/simple/ http://other.example/", "white space"),
    ("http://mirror.example/\tsimple/", "white space"),
    (f"http://user:{SECRET}@mirror.example/simple/?token=x", "query or fragment"),
    (f"http://user:{SECRET}@mirror.example/simple/#top", "query or fragment"),
    ("file://server/share/pypi", "with a host"),
    (f"file://user:{SECRET}@server/pypi", "with a host"),
    ("file:relative/pypi", "absolute path"),
    ("file://", "absolute path"),
])
def test_malformed_url_names_the_setting_and_hides_the_password(raw: str, says: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_mirror_url(raw, origin=ORIGIN)
    message = str(info.value)
    assert message.startswith(ORIGIN)
    assert says in message
    assert SECRET not in message
    assert "tokenuser" not in message


@pytest.mark.parametrize(("raw", "says"), [
    ("mirror.example/simple", "has no scheme: write it as http://mirror.example/... or "
                              "https://mirror.example/..."),
    ("//mirror.example/simple/", "write it as http://mirror.example/... or "
                                 "https://mirror.example/..."),
    ("mirror.example:3141/root/pypi/+simple/", "write it as http://mirror.example:3141/... or "
                                               "https://mirror.example:3141/..."),
    ("localhost:3141", "write it as http://localhost:3141/ or https://localhost:3141/"),
    ("[::1]:3141/simple/", "write it as http://[::1]:3141/... or https://[::1]:3141/..."),
    ("/srv/wheels", "is a path, not a URL: write file:///srv/wheels"),
])
def test_a_missing_scheme_is_named_with_the_url_to_write(raw: str, says: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_mirror_url(raw, origin="DIB_PYPI_MIRROR_URL")
    assert str(info.value).startswith("DIB_PYPI_MIRROR_URL ")
    assert says in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("raw", [
    f"builder:{SECRET}@mirror.example/simple/", f"builder:{SECRET}@mirror.example:3141/simple/",
    f"//builder:{SECRET}@mirror.example/simple/", f"builder@mirror.example/{SECRET}/",
    f"builder:{SECRET}/x@mirror.example/simple/",
])
def test_a_missing_scheme_before_credentials_repeats_nothing(raw: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_mirror_url(raw, origin="DIB_PYPI_MIRROR_URL")
    message = str(info.value)
    assert message == ("DIB_PYPI_MIRROR_URL has no scheme: write it as "
                       "http://user:password@host/path or https://user:password@host/path "
                       "(not repeated here: it may hold a password)")
    assert SECRET not in message
    assert "builder" not in message


@pytest.mark.parametrize("raw", ["http://user:p#ss@host/simple/", "http://user:p@ss@host:x/",
                                 "https://user:a/b@host/simple/"])
def test_unencoded_password_gets_a_hint_and_is_not_echoed(raw: str) -> None:
    with pytest.raises(SettingsError, match="percent-encode @ # / :") as caught:
        parse_mirror_url(raw, origin="DIB_PYPI_MIRROR_URL")
    assert "p#ss" not in str(caught.value)
    assert "p@ss" not in str(caught.value)
