"""A local devpi-server as a caching mirror of the public index (``dockerpypi devpi``)."""
