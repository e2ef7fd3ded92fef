"""A local devpi-server as a caching mirror of the public index (``dockerpypi devpi``).

:mod:`.server` starts, finds and stops the server process; :mod:`.serverdir`
is the directory it runs from (secrets, pid, state, log); :mod:`.api` talks
to it over HTTP and points ``root/pypi`` at the upstream.
"""
