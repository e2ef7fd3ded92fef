"""Download chosen files into the mirror: in parallel, hash-checked, atomic.

A file lands under its own name only whole and with the sha256 the index
gave for it: it is written to a hidden temporary file beside it (which the
indexer never reads) and renamed. A file already in the mirror with the
right hash is not fetched again. Credentials go in an Authorization header,
only to the origins (scheme, host, port) of the indexes they belong to, as
pip and uv send them.

requests keeps one pooled connection per worker; the standard library's
urllib would open a new TLS connection per file. It is imported when a
download starts: :mod:`.resolve` imports this module to plan, also for the
``pip download`` path, which never downloads here. :mod:`.causes` is
imported when a download fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from ..errors import UserMessageError
from ..process import scrub
from ..settings.urls import Credentials
from .picks import Pick, is_plain_name

if TYPE_CHECKING:
    import requests

WORKERS = 8  # enough to fill the link; more only adds connections to the index
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 5  # pip's default
_CHUNK = 1 << 16
_TEMP_SUFFIX = ".dockerpypi-download"
# A temporary download this old was left by a fill that was killed outright
# (fills do not hold the mirror lock while downloading, so a younger one may
# be another fill's, still running).
STALE_DOWNLOAD_SECONDS = 3600.0


class Transfer(Protocol):
    """Told how a :meth:`Downloader.fetch_all` goes; ``advance`` and ``add_total`` are
    called from the download threads."""

    def begin(self, files: int, size: int) -> None:
        """``files`` to fetch, ``size`` bytes of them known from the index."""

    def add_total(self, size: int) -> None:
        """More bytes to fetch: a file the index gave no size for has begun."""

    def advance(self, size: int) -> None:
        """``size`` more bytes written."""

    def saved(self, name: str) -> None:
        """``name`` is whole, checked and in place."""


class _Stopped(Exception):
    """Another download failed or Ctrl-C came: this one gives up quietly."""


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or ""), port


def remove_stale_downloads(directory: Path, older_than: float = STALE_DOWNLOAD_SECONDS) -> None:
    """Remove the temporary files of downloads that were killed outright."""
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith(_TEMP_SUFFIX):
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > older_than:
                        Path(entry.path).unlink()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_present(path: Path, pick: Pick) -> bool:
    """``path`` already holds ``pick``: same size (a cheap first test) and same sha256."""
    if pick.sha256 is None:
        return False  # nothing to tell a stale file from the right one
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if pick.size is not None and size != pick.size:
        return False
    return sha256_file(path) == pick.sha256


def _copy(source: IO[bytes], target: IO[bytes], stop: threading.Event,
          advance: Callable[[int], None] | None) -> tuple[str, int]:
    """Copy all of ``source``: its sha256 and its length."""
    digest = hashlib.sha256()
    written = 0
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        if stop.is_set():
            raise _Stopped
        digest.update(chunk)
        target.write(chunk)
        written += len(chunk)
        if advance is not None:
            advance(len(chunk))
    return digest.hexdigest(), written


class Downloader:
    """Fetches :class:`Pick` files into one directory; one per ``mirror add``."""

    def __init__(self, directory: Path, *, auth: Mapping[tuple[str, str, int | None],
                                                         Credentials] | None = None,
                 timeout: float | None = None, retries: int | None = None,
                 secrets: Sequence[str] = ()) -> None:
        self.directory = directory
        self.auth = dict(auth or {})
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.retries = DEFAULT_RETRIES if retries is None else retries
        self.secrets = tuple(secrets)
        self.stop = threading.Event()
        self.transfer: Transfer | None = None

    def _session(self) -> requests.Session:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        session = requests.Session()
        retry = Retry(total=self.retries, backoff_factor=0.25,
                      status_forcelist=(429, 500, 502, 503, 504))
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=WORKERS, max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _shown(self, text: str) -> str:
        return scrub(text, self.secrets)

    def _write(self, pick: Pick, source: IO[bytes], length: int | None) -> None:
        """Save ``source`` as ``pick`` (``length``: its size, if the server said)."""
        transfer = self.transfer
        counted = pick.size  # in the total already (Transfer.begin)
        if counted is None and length is not None and transfer is not None:
            transfer.add_total(length)
            counted = length
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{pick.filename}.",
                                         suffix=_TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                digest, written = _copy(source, handle, self.stop,
                                        None if transfer is None else transfer.advance)
            if transfer is not None and written != (counted or 0):
                transfer.add_total(written - (counted or 0))  # the total ends true
            if pick.sha256 is not None and digest != pick.sha256:
                raise UserMessageError(
                    f"{pick.filename} from {self._shown(pick.url)} has sha256 {digest}, but "
                    f"the index says {pick.sha256} (it was changed on the index or on the way, "
                    "so it was not saved)", fix="check the index and run again")
            Path(temporary).chmod(0o644)  # mkstemp makes 0600; builds may run as another user
            Path(temporary).replace(self.directory / pick.filename)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _fetch_http(self, session: requests.Session, pick: Pick) -> None:
        import requests

        credentials = self.auth.get(origin(pick.url))
        auth = None
        if credentials is not None:
            auth = (credentials.username, credentials.password or "")
        try:
            with session.get(pick.url, auth=auth, stream=True, timeout=self.timeout) as reply:
                if reply.status_code != 200:
                    raise UserMessageError(
                        f"downloading {pick.filename} from {self._shown(pick.url)} failed: "
                        f"HTTP {reply.status_code} {reply.reason}",
                        fix="check the index and its credentials, then run again")
                reply.raw.decode_content = True
                length = reply.headers.get("Content-Length", "")
                self._write(pick, reply.raw, int(length) if length.isdigit() else None)
        except requests.RequestException as exc:
            from .causes import network_cause

            cause = network_cause(self._shown(pick.url), self._shown(str(exc)))
            raise UserMessageError(f"downloading {pick.filename} failed: {cause}",
                                   fix=f"{cause.fix}, then run again") from None

    def _fetch_file(self, pick: Pick) -> None:
        path = Path(url2pathname(unquote(urlsplit(pick.url).path)))
        try:
            with path.open("rb") as source:
                self._write(pick, source, os.fstat(source.fileno()).st_size)
        except OSError as exc:
            raise UserMessageError(f"cannot read {pick.filename} at {path} "
                                   f"({exc.strerror or exc})", fix="check the index") from None

    def _fetch(self, session: requests.Session, pick: Pick) -> str:
        if pick.url.startswith("file:"):
            self._fetch_file(pick)
        else:
            self._fetch_http(session, pick)
        return pick.filename

    def fetch_all(self, picks: Iterable[Pick],
                  transfer: Transfer | None = None) -> tuple[str, ...]:
        """Fetch every pick not already present; the names written, in order of ``picks``.

        ``transfer`` is told the files and bytes to fetch, and how far they got.

        The first failure stops the others (their temporary files are removed)
        and is raised; files already renamed into place stay: they are whole
        and checked, and the next run keeps them.
        """
        picks = list(picks)
        for pick in picks:
            if not is_plain_name(pick.filename):
                raise UserMessageError(f"{pick.url} names the file {pick.filename!r}, which is "
                                       "no plain file name in the mirror",
                                       fix="check the index or lock it came from")
        remove_stale_downloads(self.directory)
        todo = [pick for pick in picks if not is_present(self.directory / pick.filename, pick)]
        if not todo:
            return ()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.transfer = transfer
        if transfer is not None:
            transfer.begin(len(todo), sum(pick.size or 0 for pick in todo))
        with self._session() as session, \
                ThreadPoolExecutor(min(WORKERS, len(todo)), "dockerpypi-download") as pool:
            futures: list[Future[str]] = [pool.submit(self._fetch, session, pick)
                                          for pick in todo]
            try:
                pending: set[Future[str]] = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in done:
                        name = future.result()  # raises the first failure
                        if transfer is not None:
                            transfer.saved(name)
            except BaseException:
                self.stop.set()
                for future in futures:
                    future.cancel()
                raise
        return tuple(pick.filename for pick in todo)

