"""Stage 1, settings: what to configure, and where each value came from.

:mod:`.resolve` merges the sources (flags, environment, ``[tool.dockerpypi]``,
the diskimage-builder contract of :mod:`.dib`) into one ``Settings``;
:mod:`.urls` checks mirror URLs and keeps credentials apart;
:mod:`.public_index` knows the public index without naming it. (Nothing is
imported here: every command imports this package.)
"""
