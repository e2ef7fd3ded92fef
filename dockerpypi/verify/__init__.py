"""Stage 4, verify: look through a built image for traces of the mirror.

:mod:`.image` reads the image from the engine through the docker CLI;
:mod:`.scan` reads its layers, config, history and provenance.
"""
