"""Stage 2, render: the text a build step needs, from the settings.

The temporary config files (pip.conf, uv.toml, .pydistutils.cfg, the env
file) and the Dockerfile lines (``RUN`` steps, the two ``FROM scratch``
stages), each from a Jinja2 template in ``templates/``. Pure text: the
vocabulary of a step comes from :mod:`dockerpypi.dockerfile`.
"""
