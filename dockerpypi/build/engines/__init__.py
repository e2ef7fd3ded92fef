"""The container CLIs that build: docker (buildx) and podman or buildah, behind one interface.

:mod:`.base` says what a build asks of an engine's CLI; :mod:`.docker` is
what ``docker buildx build`` (or ``docker build``) does, :mod:`.podman`
what ``podman build`` and ``buildah build`` do; :mod:`.choice` picks one
from the ``engine`` setting.
"""
