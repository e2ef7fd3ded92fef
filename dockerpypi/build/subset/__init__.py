"""Send a build only the part of the mirror it can need.

A named build context is transferred whole: with a 2 GB mirror of which a
build installs 40 MB, the first build on a builder spends most of its time
copying files no step reads. ``dockerpypi build`` therefore hands the builder a
directory of hard links to the files the build's requirements can resolve to,
with PEP 503 pages for just those files. The directory is named by what it
holds and stays in the mirror for the next build
(:mod:`dockerpypi.build.kept_subset` finds it again without this package);
unused ones are pruned.

What the build can need is decided without running an installer, one
module a step:

1. :mod:`.wanted`, the requirements: the Dockerfile's ``RUN`` steps that
   bind-mount the ``pypi-mirror`` stage must be the steps ``dockerpypi
   render`` writes (a requirements file mounted under
   ``/run/dockerpypi/requirements/`` and the default pip or uv command:
   :mod:`dockerpypi.dockerfile.steps` reads them); their requirements files
   are read from the build context. And the target: Linux on the builder's
   architecture (or docker's ``--platform``), CPython. A step that installs
   a lock file (``uv sync`` of a uv.lock it bind-mounts, as ``--inject``
   writes it) wants the lock's files instead: :mod:`.locks`, where another
   kind of lock plugs in with one function.
2. :mod:`.closure`, over the mirror's index: for every requirement, every
   version in the mirror that satisfies it (not only the one an installer
   would pick) with the wheels that fit the target, then the dependencies of
   each of those wheels, their markers evaluated for the target (with the
   extras asked for). The result is a superset of every resolution pip or uv
   can reach from the whole mirror: each version an installer may try
   satisfies some requirement of a version it already tried, so it is in the
   set, and the installer in the build behaves as it would with the whole
   mirror. The Python version is not in the Dockerfile, so every CPython
   from 3.8 to 3.15 is tried and kept when the mirror can serve the whole
   requirement set to it from wheels alone; a mirror filled for the image
   (``mirror add --python-version ...``) serves exactly the image's Python, a
   pure-Python set serves all of them.
3. :mod:`.directory`: the hard links and pages written in the mirror, under
   a name taken from what they hold; the unused ones pruned
   (:data:`dockerpypi.caches.MIRROR_SUBSETS` says when).
4. :mod:`.send`: :func:`~.send.mirror_context`, what the build's context
   transport calls: the subset, or the whole mirror and one line why.

The metadata comes from the index (``.dockerpypi-index.json`` and the PEP 658
``.metadata`` sidecars), which is also what the installers in the build read.
When any of this cannot be told (:class:`CannotTell`), the whole mirror is
sent, as before, and one line says why: no requirements found, a custom
command, a requirement that is not a name from an index, a version the
mirror has only as an sdist (building it needs build dependencies nobody
lists), a requirement the mirror cannot satisfy, an index out of date, an
unknown platform.

The whole package is imported only by a build that chooses a subset anew:
it loads ``packaging`` and the mirror's index, about half of what
``dockerpypi build`` itself costs.
"""


class CannotTell(Exception):
    """Why the part of the mirror a build needs cannot be told (the whole mirror is sent)."""
