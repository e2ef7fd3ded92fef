"""Dockerfile text, no I/O: the vocabulary of a dockerpypi step and the BuildKit grammar.

:mod:`.vocabulary` says what a step is made of (stage names, mount targets,
secret ids, the mount flags, installers); :mod:`.grammar` how BuildKit reads
a Dockerfile (directives, continuations, heredocs, flags). On top of both,
:mod:`.inject` (each step planned by :mod:`.step_plans`) and
:mod:`.prefer_uv` rewrite a Dockerfile not written for dockerpypi (``build
--inject``), and :mod:`.steps` reads which requirements files a rendered one
installs (for the build's subset); which steps read a lock of the build
context, to read the mirror's copy instead (:mod:`.lock_mounts`):
:mod:`.uv_locks` the ``uv sync`` steps and their uv.lock, :mod:`.pylocks` pip
and uv pip with a pylock.toml, and :mod:`.poetry_steps` the ``poetry
install`` steps. render writes its steps with the vocabulary.
"""
