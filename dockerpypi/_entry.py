"""The ``dockerpypi`` process: :func:`dockerpypi.cli.main`, started and ended quickly.

A cached `dockerpypi build` is judged on what it adds to the docker command
it runs (benchmarks/README.md), and two costs of a short Python process do
nothing for it, about 30 ms together on the benchmark machine:

- The garbage collector's passes while click and our modules load. Imports
  make long-lived objects only (modules, classes, functions), so every pass
  walks them and frees nothing. The collector is off while they load, and
  what they made is then moved out of its sight (``gc.freeze``: a generation
  it never walks) before it is turned back on, so the command itself runs
  with the collector, however long it runs.
- The interpreter's teardown once the exit code is known: clearing every
  module and a last full collection, for a process that is about to be gone.
  After the usual shutdown (other threads joined, every other ``atexit``
  function run, standard streams flushed) the process exits at once, as
  Instagram's services do (their "Dismissing Python Garbage Collection").

Only the console script and ``python -m dockerpypi`` come through here;
:func:`dockerpypi.cli.main` (what the tests call) does neither.

What the modules a build loads cost, they cost at every start, and two
choices there follow from it:

- Records (the rule, said here once): a record is a frozen dataclass,
  except the classes every ``build`` or ``render`` defines on its way
  (``DockerArgs``, ``EngineInfo``, ``ConfigFile``, ...), which are named
  tuples. On CPython 3.11 making a frozen dataclass class compiles its
  methods one by one, about 1 ms a class; a named tuple takes a fifth of
  that, and is as immutable. Their fields are read by name, never by
  position. The public API's records (``Settings``, ``Sourced``,
  ``MirrorURL``, ``Credentials``) stay dataclasses although a build makes
  them: they are documented types, and their classes are made once.
- Imports: a module that only some paths need (logging, csv, tempfile,
  the subset machinery, jinja2) is imported inside the function that needs
  it, with a word on why.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import NoReturn


class _Exit:
    """The exit code :func:`_exit_without_teardown` ends the process with; None: the
    usual teardown (an error escaped, and Python's own exit path reports it)."""

    code: int | None = None


def _exit_without_teardown() -> None:
    code = _Exit.code
    # atexit runs its functions last registered first, so those registered
    # before this one (by site, sitecustomize or a .pth file, such as
    # coverage's) are still to come. CPython's atexit can run them now; where
    # it cannot, the usual teardown runs them.
    run_the_others = getattr(atexit, "_run_exitfuncs", None)
    if code is None or run_the_others is None:
        return
    atexit.unregister(_exit_without_teardown)
    run_the_others()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: what Python's own exit reports as 120
        code = code or 120
    os._exit(code)


def run() -> NoReturn:
    """The entry point of the ``dockerpypi`` console script."""
    gc.disable()
    # Before anything the command registers, so it runs after all of that; what
    # was registered before it, it runs itself.
    atexit.register(_exit_without_teardown)
    from .cli import main

    gc.freeze()
    gc.enable()
    try:
        main()
    except SystemExit as exited:
        if exited.code is None or isinstance(exited.code, int):
            _Exit.code = exited.code or 0
        raise
    raise AssertionError("main() always exits")  # pragma: no cover
