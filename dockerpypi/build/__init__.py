"""Stage 3, build: ``docker buildx build`` with the mirror and the settings supplied.

The run itself (:mod:`.pipeline`, one state object per build), the command
line it hands docker (:mod:`.command`), what the engine can do
(:mod:`.engine`, kept by :mod:`.engine_cache`) and how the mirror reaches
the build (:mod:`.transports`), the local mirror a build can use
(:mod:`.local_mirror`) and the part of it the build needs (:mod:`.subset`,
found again by :mod:`.kept_subset`), ``--inject``'s copy of the Dockerfile
(:mod:`.injected`).
"""
