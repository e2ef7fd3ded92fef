"""Stage 3, build: ``docker buildx build`` with the mirror and the settings supplied.

The command line (:mod:`.command`), what the engine can do and how the
mirror reaches it (:mod:`.engine`, kept by :mod:`.engine_cache`), the local
mirror a build can use (:mod:`.local_mirror`) and the part of it the build
needs (:mod:`.subset`, found again by :mod:`.kept_subset`).
"""
