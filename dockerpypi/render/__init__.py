"""Stage 2, render: the text a build step needs, from the settings.

:mod:`.steps` writes the Dockerfile lines (``RUN`` steps, the two ``FROM
scratch`` stages), :mod:`.files` the temporary config files (pip.conf,
uv.toml, .pydistutils.cfg, the env file), each from a Jinja2 template in
``templates/`` rendered (and kept between runs) by :mod:`.templates`. Pure
text apart from that cache: the vocabulary of a step comes from
:mod:`dockerpypi.dockerfile`.
"""
