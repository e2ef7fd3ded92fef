"""The one place where dockerpypi starts a process, and where it handles signals.

Every child starts in :func:`_start` (logged with its credentials redacted; a
missing program is an error that says what to install), in one of the shapes
its callers need:

- :func:`run`: in the foreground, signals forwarded to it (``docker build``);
- :func:`output_of`: to its end, both streams kept (``docker inspect``);
- :func:`output_stream`: standard output read as it comes (``docker save``);
- :func:`output_lines`: each line of its output handed on (pip, uv);
- :func:`start_detached`: in a session of its own, outliving us (devpi-server);
  :func:`alive`, :func:`argv_of` and :func:`terminate` find and end it later.

Signals (SIGINT, SIGTERM) are handled here only: :func:`signals_unwind`,
:func:`signals_held` and :func:`signals_recorded` are what the rest of
dockerpypi uses. The secret files of a build must be gone however it ends
(success, failure, Ctrl-C, SIGTERM from a CI runner: :func:`.files.private_files`),
and a signal meant for the build must reach docker rather than kill us first.
Processes whose output is read are ended when the reading ends early, Ctrl-C
included.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal

from .errors import UserMessageError
from .settings.urls import REDACTED

LOGGER = "dockerpypi"
# What to do when docker is not found: the default of every function here.
DOCKER_MISSING = "install Docker with the buildx plugin, or put docker on PATH"
DOCKER_SLOW = "check that the engine is up (`docker info`) and try again"

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


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret string replaced by ``***`` (the longest
    first, so that a secret holding another is hidden whole; empty ones ignored)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redact(argv: Iterable[str], secrets: Iterable[str] = ()) -> list[str]:
    """``argv`` with URL credentials shown as MirrorURL shows them (``***@``) and every
    known secret string replaced by ``***`` (:func:`scrub`)."""
    secrets = tuple(secrets)
    return [scrub(_USERINFO.sub(rf"\g<scheme>{REDACTED}@", arg), secrets) for arg in argv]


def shell_command(argv: Iterable[str], secrets: Iterable[str] = ()) -> str:
    """``argv`` as one shell-quoted line, redacted, for people to read or paste."""
    return shlex.join(redact(argv, secrets))


# --- signals ------------------------------------------------------------------------


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


def _interruption(signum: int) -> BaseException:
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return SystemExit(_exit_code(signum))


def _unwind(signum: int, frame: FrameType | None) -> None:
    raise _interruption(signum)


@contextmanager
def signals_unwind() -> Iterator[None]:
    """SIGINT and SIGTERM unwind the block: KeyboardInterrupt, or SystemExit(143).

    Python's default for SIGTERM ends the process at once; here, as for
    Ctrl-C, the ``finally`` clauses on the way out run (a temporary
    directory is removed), and the exit code is the shell's.
    """
    with _signals_handled(_unwind):
        yield


@contextmanager
def signals_held() -> Iterator[None]:
    """No interruption while the block runs (a removal that must not stop halfway).

    A SIGINT or SIGTERM meanwhile waits until the block is done, then unwinds
    as in :func:`signals_unwind`; an error the block raises goes on instead.
    """
    pending: list[int] = []
    with _signals_handled(lambda signum, frame: pending.append(signum)):
        yield
    if pending:
        raise _interruption(pending[0])


@contextmanager
def signals_recorded() -> Iterator[list[int]]:
    """The SIGINT and SIGTERM the block receives, in a list that fills as they come;
    nothing is raised (for a loop that runs until one comes)."""
    received: list[int] = []
    with _signals_handled(lambda signum, frame: received.append(signum)):
        yield received


# --- child processes ----------------------------------------------------------------


def _start(argv: Sequence[str], *, missing: str, secrets: Iterable[str] = (),
           **options: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen(argv, **options)``, logged; a missing program says ``missing``."""
    _debug("running: %s", shell_command(argv, secrets))
    try:
        return subprocess.Popen(list(argv), **options)
    except FileNotFoundError:
        raise UserMessageError(f"{argv[0]} was not found: {missing}") from None


def _environment(environ: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if environ is None else dict(environ)


def run(argv: Sequence[str], *, secrets: Iterable[str] = (),
        env: Mapping[str, str] | None = None, missing: str = DOCKER_MISSING) -> int:
    """Run ``argv`` and return its exit code (128+N when a signal N ended it).

    ``env`` holds variables added to this process's environment; ``missing``
    is the fix when the program is not found. SIGINT and
    SIGTERM are forwarded to the process, which is then waited for, so that
    the caller can clean up after it. On a terminal docker gets Ctrl-C from
    the terminal as well; docker gives up only after a third signal.
    """
    received: list[int] = []
    process: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if process is not None and process.poll() is None:
            process.send_signal(signum)

    with _signals_handled(forward):
        if received:
            return _exit_code(received[0])
        process = _start(argv, missing=missing, secrets=secrets,
                         env=None if env is None else {**os.environ, **env})
        if received:  # arrived before `process` was set
            process.send_signal(received[0])
        code = process.wait()  # PEP 475: the wait resumes after each handler
    if code < 0:
        return _exit_code(-code)
    if received and code == 0:
        return _exit_code(received[0])
    return code


def output_of(argv: Sequence[str], *, timeout: float | None,
              environ: Mapping[str, str] | None = None,
              missing: str = DOCKER_MISSING, slow: str = DOCKER_SLOW
              ) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to its end and return what it wrote (both streams, as text).

    ``environ`` is its whole environment (None: this process's). A process
    that has not ended after ``timeout`` seconds is killed, and that is an
    error that says which command hung, with ``slow`` as its fix (as
    ``missing`` is the fix when the program is not found).
    """
    with _start(argv, missing=missing, env=_environment(environ), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise UserMessageError(
                f"`{shell_command(argv[:3])}` did not answer in {timeout:.0f}s",
                fix=slow) from None
        except BaseException:  # Ctrl-C: it ends with us
            process.kill()
            raise
    return subprocess.CompletedProcess(list(argv), process.returncode, out, err)


def output_lines(argv: Sequence[str], on_line: Callable[[str], None], *,
                 environ: Mapping[str, str] | None = None, input: str | None = None,
                 read: Literal["both", "stderr"] = "both", secrets: Iterable[str] = (),
                 missing: str = DOCKER_MISSING) -> int:
    """Run ``argv``, hand each line it writes (without its line end) to ``on_line``;
    its exit code.

    ``read`` is which output: both streams as one, or standard error alone
    (standard output is then dropped). ``input`` is written to its standard
    input, which is otherwise empty. ``secrets`` are not logged. If
    ``on_line`` raises, or Ctrl-C comes, the process is ended and waited for
    before that goes on.
    """
    with _start(argv, missing=missing, secrets=secrets, env=_environment(environ),
                stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                stdout=subprocess.PIPE if read == "both" else subprocess.DEVNULL,
                stderr=subprocess.STDOUT if read == "both" else subprocess.PIPE,
                text=True, errors="replace") as process:
        stream = process.stdout if read == "both" else process.stderr
        assert stream is not None
        try:
            if input is not None:
                assert process.stdin is not None
                process.stdin.write(input)
                process.stdin.close()
            for raw in stream:
                on_line(raw.rstrip("\r\n"))
        except BaseException:
            process.terminate()
            raise
    return process.returncode


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
def output_stream(argv: Sequence[str], *, missing: str = DOCKER_MISSING
                  ) -> Iterator[Streamed]:
    """Run ``argv`` and give its standard output to be read as it comes.

    Nothing of the output is kept: a ``docker save`` of gigabytes passes
    through in chunks. Its stderr goes to an unnamed temporary file, which
    cannot fill up and stall the process. If the block ends before the
    process (an error, Ctrl-C), the process is killed and waited for.
    """
    with tempfile.TemporaryFile() as errors:
        process = _start(argv, missing=missing, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=errors)
        try:
            yield Streamed(process, errors)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()


# --- processes that outlive us --------------------------------------------------------


class Detached:
    """A process :func:`start_detached` started: its pid, and its exit code once it ended."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.pid = process.pid
        self._process = process

    def exit_code(self) -> int | None:
        """Its exit code if it has ended (and is reaped), else None."""
        return self._process.poll()


def start_detached(argv: Sequence[str], *, log: Path, cwd: Path,
                   environ: Mapping[str, str], missing: str) -> Detached:
    """Start ``argv`` in a session of its own, so that it outlives this process and
    no Ctrl-C at our terminal reaches it: its output goes to the file ``log``
    (replaced), its input is empty, and it inherits no open file but those."""
    with log.open("wb") as output:
        return Detached(_start(argv, missing=missing, env=dict(environ), cwd=cwd,
                               stdin=subprocess.DEVNULL, stdout=output,
                               stderr=subprocess.STDOUT, start_new_session=True,
                               close_fds=True))


def argv_of(pid: int) -> list[str] | None:
    """The argv of process ``pid`` from /proc ([] when it is gone); None where /proc
    cannot tell."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return [] if Path("/proc/self").exists() else None  # gone, or no /proc here
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_zombie(pid: int) -> bool:
    """Whether the process has ended, all of it, and only its entry is left."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        threads = sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    # "pid (comm) state ...": comm may hold spaces and parentheses. The main
    # thread shows Z as soon as it has ended, while the other threads (devpi
    # runs fifty) may still hold the process's files, its listening socket
    # among them: ended only once it is the last one.
    return stat.rpartition(")")[2].split()[:1] == ["Z"] and threads <= 1


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (any thread of it)."""
    # Only a process started by this very one is our child; reaping it keeps
    # it from lingering as a zombie that os.kill still reaches.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _gone_within(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def terminate(pid: int, timeout: float, *, name: str) -> bool:
    """SIGTERM process ``pid`` (``name``, for an error), SIGKILL after ``timeout``
    seconds; True when SIGTERM was enough."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _gone_within(pid, timeout):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _gone_within(pid, 5.0):
        raise UserMessageError(f"{name} (pid {pid}) did not end after SIGKILL: check it with "
                               "ps and end it by hand")
    return False
