"""The local mirror directory: fill it, index it, check it.

Layout (one directory serves pip, uv, ``--find-links`` and plain HTTP)::

    <mirror>/<file>.whl, <file>.tar.gz   distributions, flat (``pip download -d``)
    <mirror>/<file>.whl.metadata         the wheel's METADATA (PEP 658/714)
    <mirror>/index.html                  PEP 503 root page
    <mirror>/<project>/index.html        links ``../<file>#sha256=...``

Each job is a module of its own, imported only by the command that needs it
so the CLI stays quick to start: :mod:`.index` (the update, under the lock)
with :mod:`.distfile` (names, hashes, metadata), :mod:`.state` (what was
indexed) and :mod:`.pages` (the HTML), writing through
:mod:`dockerpypi.files`; :mod:`.fill` with uv's :mod:`.resolve`,
:mod:`.targets` and :mod:`.download`, or pip in the image (:mod:`.image`);
:mod:`.check`.
"""

from __future__ import annotations
