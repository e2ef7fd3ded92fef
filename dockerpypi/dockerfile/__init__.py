"""Dockerfile text, no I/O: the vocabulary of a dockerpypi step and the BuildKit grammar.

What a step is made of (stage names, mount targets, secret ids, mount flags,
installers), how BuildKit reads a Dockerfile (directives, continuations,
heredocs, flags), and on top of both ``--inject`` and ``--prefer-uv``, which
rewrite a Dockerfile not written for dockerpypi. render, build and the
subset read Dockerfiles through this package.
"""
