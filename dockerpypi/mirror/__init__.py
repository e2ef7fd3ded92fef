"""The local mirror directory: fill it, index it, check it, serve it.

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
:mod:`.targets` and :mod:`.download`, or pip in the image (:mod:`.image`),
with :mod:`.causes` (why the indexes gave nothing); what a project directory
(:mod:`.project`), a hash-pinned requirements file (:mod:`.pinned`) and
the lock files ask for (:mod:`.locks`, one registry of their kinds: a
uv.lock, :mod:`.uvlock`, a pylock.toml, :mod:`.pylock`, a pdm.lock,
:mod:`.pdmlock`, a Pipfile.lock, :mod:`.pipfile`, and a poetry.lock,
:mod:`.poetrylock`);
:mod:`.check`; :mod:`.serve`, the read-only HTTP server. :mod:`.filenames`
is a leaf that render and build import too.
"""

from __future__ import annotations
