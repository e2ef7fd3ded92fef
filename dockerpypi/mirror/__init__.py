"""The local mirror directory: fill it, index it, check it.

Layout (one directory serves pip, uv, ``--find-links`` and plain HTTP)::

    <mirror>/<file>.whl, <file>.tar.gz   distributions, flat (``pip download -d``)
    <mirror>/<file>.whl.metadata         the wheel's METADATA (PEP 658/714)
    <mirror>/index.html                  PEP 503 root page
    <mirror>/<project>/index.html        links ``../<file>#sha256=...``

Each job is a module of its own (:mod:`.index`, :mod:`.fill` with uv's
:mod:`.resolve`, :mod:`.targets` and :mod:`.download`, :mod:`.check`),
imported only by the command that needs it so the CLI stays quick to start.
"""

from __future__ import annotations
