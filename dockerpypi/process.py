"""The one place where dockerpypi runs a process, and the private files that process reads.

Both own the signals while they work: the secret files must be gone however
the build ends (success, failure, Ctrl-C, SIGTERM from a CI runner), and a
signal meant for the build must reach docker rather than kill us first.
Processes whose output is read (:func:`output_of`, :func:`output_stream`)
are killed when the reading ends early, Ctrl-C included.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO

from .caches import write_tree
from .errors import UserMessageError
from .settings.urls import REDACTED

LOGGER = "dockerpypi"

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# scheme://userinfo@ up to the *last* @ of the word: a password typed without
# percent-encoding may hold @ : / # itself, and over-redacting a path is
# harmless. buildx's docker-image:// and oci-layout:// put a digest after @.
_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])(?!docker-image://|oci-layout://)"
                       r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s,'\"]*@")

Handler = Callable[[int, "FrameType | None"], None]


def _debug(message: str, *args: object) -> None:
    # A debug record reaches a handler only once someone has set logging up,
    # which imports it (--verbose does, as would an application embedding us).
    # Until then, importing it (~8 ms) would be paid by every build for nothing.
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(LOGGER).debug(message, *args)


def _warning(message: str, *args: object) -> None:
    import logging  # unset, Python's last-resort handler prints it to stderr

    logging.getLogger(LOGGER).warning(message, *args)


def redact(argv: Iterable[str], secrets: Iterable[str] = ()) -> list[str]:
    """``argv`` with URL credentials shown as MirrorURL shows them (``***@``) and every
    known secret string replaced by ``***``."""
    known = sorted({s for s in secrets if s}, key=len, reverse=True)
    shown = []
    for arg in argv:
        arg = _USERINFO.sub(rf"\g<scheme>{REDACTED}@", arg)
        for secret in known:
            arg = arg.replace(secret, REDACTED)
        shown.append(arg)
    return shown


def shell_command(argv: Iterable[str], secrets: Iterable[str] = ()) -> str:
    """``argv`` as one shell-quoted line, redacted, for people to read or paste."""
    return shlex.join(redact(argv, secrets))


@contextmanager
def _signals_handled(handler: Handler) -> Iterator[None]:
    # Python may only set handlers in the main thread; elsewhere (an embedding
    # application) the default behaviour stays.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in _SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _exit_code(signum: int) -> int:
    return 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


def run(argv: Sequence[str], *, secrets: Iterable[str] = (),
        env: Mapping[str, str] | None = None) -> int:
    """Run ``argv`` and return its exit code (128+N when a signal N ended it).

    SIGINT and SIGTERM are forwarded to the process, which is then waited for,
    so that the caller can clean up after it. On a terminal docker gets Ctrl-C
    from the terminal as well; docker gives up only after a third signal.
    """
    _debug("running: %s", shell_command(argv, secrets))
    received: list[int] = []
    process: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if process is not None and process.poll() is None:
            process.send_signal(signum)

    with _signals_handled(forward):
        if received:
            return _exit_code(received[0])
        try:
            process = subprocess.Popen(list(argv),
                                       env=None if env is None else {**os.environ, **env})
        except FileNotFoundError:
            raise _not_found(argv) from None
        if received:  # arrived before `process` was set
            process.send_signal(received[0])
        code = process.wait()  # PEP 475: the wait resumes after each handler
    if code < 0:
        return _exit_code(-code)
    if received and code == 0:
        return _exit_code(received[0])
    return code


def _not_found(argv: Sequence[str]) -> UserMessageError:
    return UserMessageError(f"{argv[0]} was not found: install Docker with the buildx "
                            "plugin, or put docker on PATH")


def output_of(argv: Sequence[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to its end and return what it wrote (both streams, as text).

    A process that has not ended after ``timeout`` seconds is killed, and
    that is an error that says which command hung.
    """
    _debug("running: %s", shell_command(argv))
    try:
        return subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise _not_found(argv) from None
    except subprocess.TimeoutExpired:
        raise UserMessageError(f"`{shell_command(argv[:3])}` did not answer in {timeout:.0f}s: "
                               "check that the engine is up (`docker info`) and try "
                               "again") from None


class Streamed:
    """A running process whose standard output is read as a stream (see :func:`output_stream`)."""

    def __init__(self, process: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
        assert process.stdout is not None
        self.stdout: IO[bytes] = process.stdout
        self.pid = process.pid
        self._process = process
        self._errors = errors

    def finish(self) -> tuple[int, str]:
        """Read what is left of the output, wait for the end; the exit code and stderr."""
        while self.stdout.read(1 << 20):
            pass  # a tar's padding after its end marker, or the rest of a stream given up on
        return self._process.wait(), self._stderr()

    def ended(self, within: float) -> tuple[int, str] | None:
        """The exit code and stderr if the process ends within ``within`` seconds (its
        output is not read meanwhile), else None."""
        try:
            code = self._process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            return None
        return code, self._stderr()

    def _stderr(self) -> str:
        self._errors.seek(0)
        return self._errors.read().decode("utf-8", "replace")


@contextmanager
def output_stream(argv: Sequence[str]) -> Iterator[Streamed]:
    """Run ``argv`` and give its standard output to be read as it comes.

    Nothing of the output is kept: a ``docker save`` of gigabytes passes
    through in chunks. Its stderr goes to an unnamed temporary file, which
    cannot fill up and stall the process. If the block ends before the
    process (an error, Ctrl-C), the process is killed and waited for.
    """
    _debug("running: %s", shell_command(argv))
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=errors)
        except FileNotFoundError:
            raise _not_found(argv) from None
        try:
            yield Streamed(process, errors)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()


def _interruption(signum: int) -> BaseException:
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return SystemExit(_exit_code(signum))


# The key and directory name of private_files' readable tree.
TREE = "context"


@contextmanager
def private_files(contents: Mapping[str, str], *,
                  tree: Mapping[str, str] | None = None) -> Iterator[dict[str, Path]]:
    """Write each ``name: text`` to a file only its owner can read; yield ``name: path``.

    ``tree`` (relative path: text) is written as a directory any user can
    read (0755, files 0644), yielded as ``TREE``: a build context whose files
    a non-root build step reads. It sits inside the private directory, so on
    this machine only its owner reaches it.

    The directory (0700) and files (0600) are removed when the block ends,
    however it ends: SIGINT or SIGTERM become exceptions that unwind through
    the clean-up, and a signal during the clean-up waits until it is done.
    """
    cleaning = False
    pending: list[int] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if cleaning:
            pending.append(signum)
            return
        raise _interruption(signum)

    with _signals_handled(interrupt):
        directory: Path | None = None
        try:
            directory = Path(tempfile.mkdtemp(prefix="dockerpypi-"))  # mode 0700
            paths = {}
            for name, text in contents.items():
                path = directory / name
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    os.fchmod(handle.fileno(), 0o600)  # whatever the umask
                    handle.write(text)
                paths[name] = path
            if tree is not None:
                paths[TREE] = write_tree(directory / TREE, tree)
            yield paths
        finally:
            cleaning = True
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
                if directory.exists():
                    _warning("could not remove %s: delete it by hand", directory)
    if pending:
        raise _interruption(pending[0])
