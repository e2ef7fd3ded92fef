"""Stage 1, settings: what to configure, and where each value came from.

:mod:`.sources` reads each setting's candidates (flags, environment,
``[tool.dockerpypi]`` or ``dockerpypi.toml``, and the diskimage-builder
contract of :mod:`.dib`); :mod:`.values` parses and checks a raw value;
:mod:`.resolve` merges them into one :class:`.model.Settings`, whose values
remember their source; :mod:`.urls` checks mirror URLs and keeps credentials
apart; :mod:`.public_index` knows the public index without naming it.
(Nothing is imported here: every command imports this package.)
"""
