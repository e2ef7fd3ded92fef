"""Why the indexes offered nothing: the cause behind "no matching distribution".

pip and uv both take an index page they could not read for a project with
no versions. pip says "No matching distribution found for six" and keeps
why (a refused connection, an unknown host, HTTP 401, 403 or 404, a
certificate it does not trust) for its debug log; uv, told to ask every
index as pip does, says "six was not found in the package registry" and
keeps it for its trace. Asking pip for its debug log would cost every run
(pip formats each debug record once a log file is open); a failed run
instead asks each index for that one project's page itself, with the same
credentials, and says what went wrong in words, with its fix.

Only a failed run imports this module, and only :func:`probe` asks the
network: requests is imported there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from ..settings.urls import MirrorURL

PROBE_TIMEOUT = 10.0  # seconds per index: the failure is already known, this only names it
# What a network error's text says, most specific first, and what to do about it.
_NETWORK: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("connection refused", "errno 111", "os error 111", "actively refused"),
     "refused the connection",
     "start the index server, or correct the host and port in the index URL"),
    (("name or service not known", "temporary failure in name resolution",
      "nodename nor servname", "nameresolutionerror", "failed to resolve", "getaddrinfo",
      "no address associated"),
     "names a host that does not resolve",
     "correct the host name in the index URL, or check this machine's DNS"),
    (("timed out", "timeout"),
     "did not answer in time",
     "check the network and the index, or raise the timeout (DOCKERPYPI_TIMEOUT)"),
    (("certificate", "ssl", "tls", "wrong version number"),
     "failed the TLS handshake",
     "check that the URL's scheme (http:// or https://) is the one the index serves, "
     "and that this machine trusts the index's certificate"),
    (("network is unreachable", "no route to host"),
     "cannot be reached",
     "check the network and the index URL"),
)
_HTTP_FIXES = {
    401: "put the index's user name and password (or token) in its URL, as "
         "USER:PASSWORD@ before the host, or correct them",
    403: "check that the credentials in the index URL may read this index",
    404: "check the index URL (the simple index, often ending in /simple/) and the "
         "project's name",
}
# pip's and uv's words for a project no index gave a version of.
_NOTHING_FOUND = (
    re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)"),
    re.compile(r"\b([A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry"),
)


@dataclass(frozen=True)
class Cause:
    """What one index did with a project's page."""

    page: str  # the page's URL, without credentials
    what: str  # "refused the connection", "answered HTTP 401 Unauthorized"
    fix: str
    missing: bool = False  # HTTP 404: not on this index, which another may make up for

    def __str__(self) -> str:
        return f"{self.page} {self.what}"


def network_cause(page: str, error: str) -> Cause:
    """The cause a network error's text (from requests or urllib3) names."""
    lowered = error.lower()
    for needles, what, fix in _NETWORK:
        if any(needle in lowered for needle in needles):
            return Cause(page, what, fix)
    short = error if len(error) <= 160 else error[:157] + "..."
    return Cause(page, f"could not be read ({short})", "check the index URL and the network")


def network_fix(error: str) -> str | None:
    """The fix for the network error a resolver's report names, if it names one."""
    lowered = error.lower()
    return next((fix for needles, _, fix in _NETWORK
                 if any(needle in lowered for needle in needles)), None)


def http_cause(page: str, status: int, reason: str) -> Cause:
    what = f"answered HTTP {status} {reason}".rstrip()
    if status >= 500:
        return Cause(page, what, "the index failed: check it, or try again later")
    return Cause(page, what, _HTTP_FIXES.get(status, "check the index URL"),
                 missing=status == 404)


def project_nothing_was_found_for(report: str) -> str | None:
    """The project pip's or uv's error report says no index had a version of."""
    for pattern in _NOTHING_FOUND:
        found = pattern.search(report)
        if found:
            return found.group(1)
    return None


def probe(project: str, indexes: Sequence[MirrorURL],
          timeout: float | None = None) -> list[Cause]:
    """Ask each http(s) index for ``project``'s page; what went wrong, index by index.

    A 404 is kept only when no index has the project (one mirror without it
    is normal when another has it); an index that answers 200 is no cause.
    """
    import requests

    name = canonicalize_name(project)
    seconds = min(timeout or PROBE_TIMEOUT, PROBE_TIMEOUT)
    causes: list[Cause] = []
    found = False
    with requests.Session() as session:
        for index in indexes:
            if index.is_local:
                continue
            page = f"{index.url.rstrip('/')}/{name}/"
            credentials = index.credentials
            auth = None if credentials is None else (credentials.username,
                                                     credentials.password or "")
            try:
                with session.get(page, auth=auth, timeout=seconds, stream=True) as reply:
                    status, reason = reply.status_code, reply.reason or ""
            except requests.RequestException as exc:
                causes.append(network_cause(page, str(exc)))
                continue
            if status < 400:
                found = True
            else:
                causes.append(http_cause(page, status, reason))
    return [cause for cause in causes if not (found and cause.missing)]


def explain(head: str, causes: Sequence[Cause], fix: str) -> str:
    """``head``, what each index did, and the fix for the first of them (else ``fix``)."""
    if not causes:
        return f"{head}: {fix}"
    first = next((cause for cause in causes if not cause.missing), causes[0])
    return f"{head}; {'; '.join(str(cause) for cause in causes)}: {first.fix}"
