"""Mirror URLs: validation, and credentials kept apart from the URL.

A URL given by the user may carry ``user:password@``. dockerpypi splits that
off at once so that the URL itself can be shown, logged and put in a
Dockerfile, while the credentials travel only inside build secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..errors import SettingsError

SCHEMES = ("http", "https", "file")
REDACTED = "***"

# What may be repeated of a URL given without a scheme: a host (or [IPv6]) and
# a port. A path may hold a token (some indexes take one there), and an @, a
# query or a % escape may be or hold a credential: none of that is shown.
_PLAIN_ADDRESS = re.compile(
    r"(?://)?(?P<host>(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?)"
    r"(?P<path>/[A-Za-z0-9._~+/-]*)?")
_PLAIN_PATH = re.compile(r"/(?!/)[A-Za-z0-9._~+/-]*")

@dataclass(frozen=True)
class Credentials:
    """Basic-auth credentials of one mirror, never shown (``repr`` hides them)."""

    username: str
    password: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(username={REDACTED!r}, password={REDACTED!r})"

    def userinfo(self) -> str:
        """Percent-encoded ``user[:password]`` for a URL (``@ # : / % +`` are safe)."""
        user = quote(self.username, safe="")
        if self.password is None:
            return user
        return f"{user}:{quote(self.password, safe='')}"


@dataclass(frozen=True)
class MirrorURL:
    """One index URL without credentials, and the credentials it came with."""

    url: str
    credentials: Credentials | None = None

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def hostname(self) -> str | None:
        return urlsplit(self.url).hostname

    @property
    def netloc(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def is_plain_http(self) -> bool:
        return self.scheme == "http"

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    def with_credentials(self, *, redact: bool = False) -> str:
        """The URL with its credentials put back (or ``***`` when ``redact``)."""
        if self.credentials is None:
            return self.url
        parts = urlsplit(self.url)
        userinfo = REDACTED if redact else self.credentials.userinfo()
        return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))

    def __str__(self) -> str:
        return self.with_credentials(redact=True)


def parse_mirror_url(raw: str, *, origin: str) -> MirrorURL:
    """Validate ``raw`` and split off its credentials.

    ``origin`` names where the value came from (``DIB_PYPI_MIRROR_URL``,
    ``--index-url``, ...) so the error can say which setting to fix. The error
    never repeats the URL itself: it may hold a password.
    """
    text = raw.strip()
    if not text:
        raise SettingsError(f"{origin} is empty: set it to an index URL such as file:///tmp/pypi "
                            "or http://mirror.example/simple/, or unset it")
    if any(ch.isspace() for ch in text):
        raise SettingsError(f"{origin} holds white space inside the URL: give one URL per setting")
    # A password typed as is (p@ss#word) splits the URL in the wrong places.
    hint = ("; percent-encode @ # / : % in a user name or password (%40 %23 %2F %3A %25)"
            if "@" in text else "")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise SettingsError(f"{origin} is not a valid URL (bad host or port): "
                            f"write it as scheme://host[:port]/path{hint}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        # Without "://" what urlsplit calls the scheme may be the user name of a
        # scheme-less "user:token@host" (some indexes take a token as the user
        # name), so it is named only when it is plainly a scheme.
        if bool(scheme) and text.lower().startswith(f"{scheme}://"):
            raise SettingsError(f"{origin} has scheme '{scheme}': use http://, https:// or "
                                "file://")
        raise SettingsError(_no_scheme(text, origin))
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SettingsError(f"{origin} is a file:// URL with a host: write file:///absolute/path")
        if not parts.path.startswith("/"):
            raise SettingsError(f"{origin} is a file:// URL without an absolute path: "
                                "write file:///absolute/path")
        return MirrorURL(urlunsplit(("file", "", parts.path, "", "")))
    if not parts.hostname:
        raise SettingsError(f"{origin} has no host: write {scheme}://host[:port]/path{hint}")
    if parts.query or parts.fragment:
        raise SettingsError(f"{origin} has a query or fragment: an index URL is "
                            f"scheme://host/path{hint}")
    credentials = None
    # A bare "@" (http://@host/) carries no credentials at all.
    if parts.username or parts.password is not None:
        credentials = Credentials(unquote(parts.username or ""),
                                  None if parts.password is None else unquote(parts.password))
    host = parts.hostname
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return MirrorURL(urlunsplit((scheme, netloc, parts.path or "/", "", "")), credentials)


def _no_scheme(text: str, origin: str) -> str:
    """The message for a URL written without a scheme: the URL to write instead, as
    far as what was given can be repeated without showing a credential."""
    if _PLAIN_PATH.fullmatch(text):
        return f"{origin} is a path, not a URL: write file://{text}"
    plain = _PLAIN_ADDRESS.fullmatch(text)
    if plain is not None:
        address = plain.group("host") + ("/..." if plain.group("path") not in (None, "/") else "/")
        return f"{origin} has no scheme: write it as http://{address} or https://{address}"
    if "@" in text:
        return (f"{origin} has no scheme: write it as http://user:password@host/path or "
                "https://user:password@host/path (not repeated here: it may hold a password)")
    return f"{origin} has no scheme: write it as http://host/path or https://host/path"
