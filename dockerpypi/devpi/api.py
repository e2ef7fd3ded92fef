"""Talking to devpi-server's JSON API on 127.0.0.1, and the URLs it serves.

devpi-server has no option for the upstream of ``root/pypi``: it is the index's
``mirror_url``, set through this API. Once the server answers, ``root/pypi``
is created (``PUT``) or pointed at the configured upstream (``PATCH``) as
root, with HTTP Basic authentication and the password dockerpypi gave
devpi-init (:mod:`.serverdir`). What to send is worked out by pure functions
(:func:`mirror_update`); :func:`call` sends it.
"""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SettingsError, UserMessageError
from ..settings.urls import MirrorURL, parse_mirror_url
from .serverdir import PASSWORD_FILE, read_password

HOST = "127.0.0.1"
MIRROR_INDEX = "root/pypi"
ROOT_USER = "root"


def base_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def index_url(port: int) -> str:
    """The PEP 503 URL to give installers (devpi's bare index URL is not one)."""
    return f"{base_url(port)}/{MIRROR_INDEX}/+simple/"


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def mirror_index_config(upstream: str) -> dict[str, object]:
    """The configuration ``root/pypi`` is created with."""
    return {"type": "mirror", "mirror_url": upstream, "volatile": False,
            "title": "PyPI mirror (dockerpypi)"}


@dataclass(frozen=True)
class APIRequest:
    """One call to devpi's JSON API: method, path under the server, JSON body."""

    method: str
    path: str
    body: object


def mirror_update(current: Mapping[str, Any] | None, upstream: str) -> APIRequest | None:
    """What makes ``root/pypi`` mirror ``upstream``, given its config (None: no index).

    Returns None when nothing needs to change.
    """
    path = f"/{MIRROR_INDEX}"
    if current is None:
        return APIRequest("PUT", path, mirror_index_config(upstream))
    if current.get("type") != "mirror":
        raise UserMessageError(f"{MIRROR_INDEX} on this devpi-server is a {current.get('type')!r} "
                               "index, not a mirror: use a new --serverdir")
    if _same_url(current.get("mirror_url"), upstream):
        return None
    # devpi's "key=value" list form changes this one key and keeps the rest.
    return APIRequest("PATCH", path, [f"mirror_url={upstream}"])


def _same_url(a: object, b: str) -> bool:
    return isinstance(a, str) and a.rstrip("/") == b.rstrip("/")


# --- on the wire -----------------------------------------------------------------------


def port_answers(port: int) -> bool:
    """Whether anything accepts connections on ``port`` of :data:`HOST`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((HOST, port)) == 0


def _opener() -> urllib.request.OpenerDirector:
    # The server is on loopback: never through a proxy from the environment.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def api_answers(port: int) -> bool:
    """Whether devpi-server on ``port`` answers its API (it is ready)."""
    try:
        with _opener().open(f"{base_url(port)}/+api", timeout=2.0) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def call(port: int, request: APIRequest, *, auth: str | None = None) -> Any:
    """Call devpi's JSON API; the decoded ``result``, or None for a 404."""
    data = None if request.method == "GET" else json.dumps(request.body).encode()
    sent = urllib.request.Request(f"{base_url(port)}{request.path}", data=data,
                                  method=request.method)
    sent.add_header("Accept", "application/json")
    if data is not None:
        sent.add_header("Content-Type", "application/json")
    if auth is not None:
        sent.add_header("Authorization", auth)
    try:
        with _opener().open(sent, timeout=30.0) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        if error.code == 404 and request.method == "GET":
            return None
        raise UserMessageError(
            f"devpi-server refused {request.method} {request.path} "
            f"(HTTP {error.code}: {_error_message(error)}); start again with a new "
            "--serverdir") from None
    except (OSError, ValueError) as error:
        raise UserMessageError(f"devpi-server's API failed ({request.method} {request.path}: "
                               f"{error}); see its log") from None
    return body.get("result") if isinstance(body, dict) else None


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read())
    except (OSError, ValueError):
        return error.reason or "no message"
    message = body.get("message") if isinstance(body, dict) else None
    # devpi's messages run over several lines ("Access was denied ...\n\n\nUnauthorized: ...").
    return " ".join(str(message or error.reason).split())


def configure_mirror(port: int, serverdir: Path, upstream: MirrorURL) -> list[str]:
    """Make ``root/pypi`` of the server on ``port`` mirror ``upstream``; notes for the
    user. The root password is the one kept in ``serverdir``."""
    current = call(port, APIRequest("GET", f"/{MIRROR_INDEX}?no_projects=", None))
    change = mirror_update(current, upstream.with_credentials())
    if change is None:
        return []
    password = read_password(serverdir)
    if password is None:
        raise UserMessageError(
            f"{MIRROR_INDEX} must mirror {upstream}, but {serverdir} has no root password "
            f"of dockerpypi's ({PASSWORD_FILE}): use a --serverdir that dockerpypi "
            "initialised")
    call(port, change, auth=basic_auth(ROOT_USER, password))
    if change.method == "PATCH" and current is not None:
        return [f"{MIRROR_INDEX} now mirrors {upstream} (was "
                f"{_redacted(current.get('mirror_url'))}); what it cached from the old "
                "upstream stays available: use a new --serverdir for a clean mirror"]
    return []


def _redacted(raw: object) -> str:
    try:
        return str(parse_mirror_url(str(raw), origin="devpi's mirror_url"))
    except SettingsError:
        return "another URL"
