"""Dockerfile text, no I/O: the vocabulary of a dockerpypi step and the BuildKit grammar.

:mod:`.vocabulary` says what a step is made of (stage names, mount targets,
secret ids, the mount flags, installers); :mod:`.grammar` how BuildKit reads
a Dockerfile (directives, continuations, heredocs, flags). On top of both,
:mod:`.inject` and :mod:`.prefer_uv` rewrite a Dockerfile not written for
dockerpypi (``build --inject``), and :mod:`.steps` reads which requirements
files a rendered one installs (for the build's subset), :mod:`.uv_locks`
which ``uv sync`` steps read a uv.lock from the build context. render writes
its steps with the vocabulary.
"""
