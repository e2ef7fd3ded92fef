"""``dockerpypi doctor``: can this machine build with the mirror, and if not, what to fix.

Each check gives a status (``ok``, ``note`` or ``fail``), one line of
detail, and for a failure the fix. The engine is asked through
:func:`dockerpypi.build.engine.probe_engine`; the transport is the one
``dockerpypi build`` would choose; the local mirror directory is checked with
:func:`dockerpypi.mirror.check.check_mirror`; every mirror URL is fetched
once with a short timeout, with its credentials in a header (they are never
printed).
"""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .build.command import is_loopback
from .build.engine import (
    EngineInfo,
    choose_transport,
    parse_version,
    probe_engine,
)
from .build.reach import builder_reach
from .engines import DOCKER
from .errors import UserMessageError
from .mirror.check import check_mirror
from .mirror.index import PAGE
from .settings.model import Settings
from .settings.urls import MirrorURL

if TYPE_CHECKING:
    from .build.engines.base import BuildEngine

OK, NOTE, FAIL = "ok", "note", "fail"
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, note (nothing to fix), fail
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return not any(check.failed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if check.failed]

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "checks": [check.to_json() for check in self.checks]}


# --- the engine ------------------------------------------------------------------

def engine_checks(settings: Settings, probe: Callable[[], EngineInfo] = probe_engine
                  ) -> list[Check]:
    """Engine, buildx, builder, named contexts, secrets, transport."""
    try:
        info = probe()
    except UserMessageError as error:
        return [Check("engine", FAIL, error.problem, error.fix or "start the Docker engine")]
    checks = [Check("engine", OK, f"Docker Engine {info.server_version}")]
    reach = builder_reach(info)
    if info.buildx_version is None:
        checks.append(Check("buildx", NOTE, "the buildx plugin is not installed: builds run "
                                            "`DOCKER_BUILDKIT=1 docker build` and get the "
                                            "mirror over http"))
    else:
        checks.append(Check("buildx", OK, f"buildx {info.buildx_version}"))
        builder = info.driver or "unknown"
        kit = f", BuildKit {info.buildkit_version}" if info.buildkit_version else ""
        loopback = [str(m) for m in settings.indexes if _is_loopback(m)]
        if loopback and not reach.reaches_loopback:
            checks.append(Check(
                "builder", NOTE, f"driver {builder}{kit}: {reach.builder} cannot reach "
                f"{loopback[0]} on this machine's loopback; builds fetch what they install "
                "from it here and send it as the pypi-mirror context"))
        else:
            checks.append(Check("builder", OK, f"driver {builder}{kit}"))
    transport = choose_transport(info, "auto")
    if transport.kind == "context":
        checks.append(Check("named contexts", OK, "supported: the mirror directory becomes "
                                                  "the build context pypi-mirror"))
    else:
        checks.append(Check("named contexts", NOTE, f"not available ({transport.reason}): the "
                                                    "mirror is served on 127.0.0.1 instead"))
    checks.append(_secrets_check(info))
    if transport.kind == "http" and not reach.reaches_loopback:
        checks.append(Check("transport", FAIL, f"http: {transport.reason}, but "
                                               f"{reach.builder} cannot reach this "
                                               "machine's 127.0.0.1",
                            "use a builder with named build contexts (buildx 0.8+ and "
                            "Engine 23+ or BuildKit 0.10+)"))
    else:
        checks.append(Check("transport", OK, f"{transport.kind}: {transport.reason}"))
    return checks


def podman_checks(cli: BuildEngine) -> list[Check]:
    """Engine, named contexts, secrets, transport: for ``podman build`` or ``buildah build``."""
    try:
        info = cli.probe()
        transport = cli.transport(info, "auto")
    except UserMessageError as error:
        return [Check("engine", FAIL, error.problem, error.fix or f"install {cli.name}")]
    platform = f" ({info.server_platform})" if info.server_platform else ""
    checks = [Check("engine", OK, f"{cli.name} {info.server_version}{platform}, {cli.why}")]
    if transport.kind == "context":
        checks.append(Check("named contexts", OK, f"supported: `{cli.name} build "
                                                  "--build-context` sends the mirror "
                                                  "directory as pypi-mirror"))
    else:
        checks.append(Check("named contexts", NOTE, f"not available ({transport.reason}): the "
                                                    "mirror is served on 127.0.0.1 instead"))
    checks.append(Check("secrets", OK, f"RUN --mount=type=secret is supported by {cli.name} "
                                       "build"))
    checks.append(Check("transport", OK, f"{transport.kind}: {transport.reason}"))
    return checks


def _secrets_check(info: EngineInfo) -> Check:
    """``RUN --mount=type=secret`` with target, uid and mode: Dockerfile frontend 1.2+."""
    server = info.server
    if info.driver in (None, "docker"):
        if server is not None and server < (20, 10, 0):
            return Check("secrets", FAIL, f"Engine {info.server_version} predates "
                                          "RUN --mount secrets with a target (20.10)",
                         "upgrade the Docker engine to 20.10 or later")
        return Check("secrets", OK, "RUN --mount=type=secret is supported by the engine's "
                                    "BuildKit")
    kit = parse_version(info.buildkit_version)
    if kit is not None and (0, 0, 0) < kit < (0, 8, 0):
        return Check("secrets", FAIL, f"BuildKit {info.buildkit_version} predates "
                                      "RUN --mount secrets with a target (0.8)",
                     "update the builder: docker buildx rm, then docker buildx create")
    return Check("secrets", OK, f"RUN --mount=type=secret is supported by the {info.driver} "
                                "builder")


# --- the local mirror --------------------------------------------------------------

def mirror_dir_checks(settings: Settings) -> list[Check]:
    """Present, indexed (index.html), consistent (every link, hash and file)."""
    path = settings.mirror_dir.value
    source = settings.mirror_dir.source
    used = any(m.is_local for m in settings.indexes)
    if not used:
        return [Check("mirror directory", NOTE, f"{path} is not used: no mirror is a "
                                                "file:// URL")]
    if not path.exists():
        return [Check("mirror directory", FAIL, f"{path} ({source}) does not exist",
                      "fill it with `dockerpypi mirror add PACKAGE`, or point --mirror-dir "
                      "(DOCKERPYPI_MIRROR_DIR) at your wheels")]
    if not path.is_dir():
        return [Check("mirror directory", FAIL, f"{path} ({source}) is not a directory",
                      "point --mirror-dir (DOCKERPYPI_MIRROR_DIR) at a directory of wheels")]
    checks = [Check("mirror directory", OK, f"{path} ({source})")]
    if not (path / PAGE).is_file():
        checks.append(Check("mirror index", FAIL, f"{path} has no {PAGE}, so installers "
                                                  "find nothing in it",
                            "run `dockerpypi mirror index`"))
        return checks
    checks.append(Check("mirror index", OK, f"{PAGE} present"))
    try:
        result = check_mirror(path, lock_timeout=10)
    except (UserMessageError, OSError) as error:
        checks.append(Check("mirror consistency", FAIL, f"could not be checked: {error}",
                            "run `dockerpypi mirror check` for details"))
        return checks
    if result.ok:
        checks.append(Check("mirror consistency", OK, f"{result.projects} projects, "
                                                      f"{result.files} files, every link "
                                                      "and hash matches"))
    else:
        first = result.problems[0]
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        checks.append(Check("mirror consistency", FAIL, f"{first.path}: {first.problem}{more}",
                            first.fix))
    return checks


# --- the mirror URLs -----------------------------------------------------------------

def _is_loopback(mirror: MirrorURL) -> bool:
    return is_loopback(mirror.hostname)


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but send the credentials only to the host that was asked."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.unredirected_hdrs.get("Authorization")
        if new is not None and auth and urlsplit(newurl).netloc == urlsplit(req.full_url).netloc:
            new.add_unredirected_header("Authorization", auth)
        return new


def probe_url(mirror: MirrorURL, timeout: float) -> tuple[bool, str, str]:
    """GET the index root of ``mirror``: (reachable, detail, fix). Never shows credentials."""
    request = urllib.request.Request(mirror.url, headers={"User-Agent": "dockerpypi-doctor"})
    credentials = mirror.credentials
    if credentials is not None:
        token = f"{credentials.username}:{credentials.password or ''}".encode()
        request.add_unredirected_header("Authorization",
                                        "Basic " + base64.b64encode(token).decode())
    handlers: list[urllib.request.BaseHandler] = [_SameHostRedirects()]
    if _is_loopback(mirror):
        handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach our loopback
    opener = urllib.request.build_opener(*handlers)
    started = time.monotonic()
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
        if status in (401, 403):
            if credentials is None:
                return False, f"asks for credentials (HTTP {status})", \
                    "put user:password@ in the mirror URL (percent-encoded), in " \
                    "DOCKERPYPI_MIRRORS or DIB_PYPI_MIRROR_URL rather than a file"
            return False, f"refuses the credentials (HTTP {status})", \
                "check the user name and password in the mirror URL (percent-encode " \
                "@ : / # % +)"
        if status == 404:
            return False, "has no index at this path (HTTP 404)", \
                "check the URL's path: a simple index usually ends in /simple/"
        return False, f"answers HTTP {status}", "check that the mirror server is healthy"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            text = f"no answer within {timeout:g}s"
        else:
            text = str(getattr(reason, "strerror", None) or reason)
        return False, f"cannot be reached ({text})", \
            "start the mirror, or fix the host and port in the URL"
    seconds = time.monotonic() - started
    return True, f"answers (HTTP {status} in {seconds:.2f}s)", ""


def url_checks(settings: Settings, timeout: float = DEFAULT_TIMEOUT) -> list[Check]:
    """Every index the build step would use, in order."""
    public = settings.public_index.value
    named: list[tuple[str, MirrorURL]] = [
        (f"mirror {n}", m) for n, m in enumerate(settings.mirrors.value, start=1)]
    if settings.uses_public_index:
        named.append(("public index", public))
    local = settings.local_mirror_url.rstrip("/")
    checks: list[Check | None] = [None] * len(named)
    remote: list[tuple[int, str, MirrorURL]] = []
    for position, (name, mirror) in enumerate(named):
        if not mirror.is_local:
            remote.append((position, name, mirror))
        elif mirror.url.rstrip("/") == local:
            checks[position] = Check(name, OK, f"{mirror} is the local mirror directory "
                                               f"{settings.mirror_dir.value} (checked above)")
        else:
            path = urlsplit(mirror.url).path
            checks[position] = Check(
                name, FAIL, f"{mirror} is not the mount point {settings.mount_point.value}: "
                f"a build step sees nothing at {path}",
                f"use {settings.local_mirror_url} for the local mirror directory, or "
                f"--mount-point {path}")
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(remote)))) as pool:
        answers = list(pool.map(lambda item: probe_url(item[2], timeout), remote))
    for (position, name, mirror), (reachable, detail, fix) in zip(remote, answers, strict=True):
        note = ""
        if _is_loopback(mirror):
            note = "; the build reaches it on the host's network (--network=host)"
        if not reachable and name == "public index":
            fix = f"{fix}, or pass --offline when builds must do without the public index"
        checks[position] = Check(name, OK if reachable else FAIL, f"{mirror} {detail}"
                                 + (note if reachable else ""), fix)
    return [check for check in checks if check is not None]


def run_doctor(settings: Settings, *, probe: Callable[[], EngineInfo] | None = None,
               timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Every check; ``probe`` asks docker about its engine (None: the engine setting's CLI
    is asked, docker through :func:`probe_engine`)."""
    if probe is None:
        from .build.engines.choice import build_engine

        cli = build_engine(settings.container_engine.value, settings.container_engine.source)
        checks = (engine_checks(settings) if cli.name == DOCKER
                  else podman_checks(cli))
    else:
        checks = engine_checks(settings, probe)
    checks += mirror_dir_checks(settings)
    checks += url_checks(settings, timeout)
    return Report(tuple(checks))


def report_lines(report: Report) -> list[str]:
    width = max((len(check.name) for check in report.checks), default=0)
    lines = []
    for check in report.checks:
        lines.append(f"{check.status:<4}  {check.name.ljust(width)}  {check.detail}")
        if check.fix:
            lines.append(f"{'':4}  {'':{width}}  fix: {check.fix}")
    return lines
