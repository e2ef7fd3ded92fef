"""The Jinja2 templates of ``templates/``, rendered, and renderings kept between runs.

The templates ship inside the wheel as ``dockerpypi/templates`` (the
repository's top-level ``templates/`` in a checkout). Two caches in the
user's cache directory keep a repeated ``dockerpypi render`` quick: the
compiled templates (``templates/``), and the renderings themselves
(:data:`dockerpypi.caches.RENDERS`), so that a rendering asked for again imports no jinja2
at all, the largest part of the command's start-up.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..caches import RENDERS, TEMPLATES, ensure_cache_dir, memo_get, memo_put
from ..errors import UsageError

if TYPE_CHECKING:
    import jinja2

# The templates whose output holds no secret: the Dockerfile lines depend on
# structure alone. Their renderings are always kept; the config files only
# when the caller says so (``keep``): a password must never land in a cache file.
_KEPT_TEMPLATES = frozenset({"run.Dockerfile.j2", "stage.Dockerfile.j2"})

# What the compiled templates depend on besides their source: a cached
# compilation made under other options must not be reused.
_ENVIRONMENT_OPTIONS: dict[str, Any] = {
    "keep_trailing_newline": True,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "autoescape": False,  # config files and Dockerfiles, not HTML
}


def template_dirs() -> list[str]:
    """The directories the templates are read from."""
    here = Path(__file__).resolve().parent.parent
    # Installed wheel: dockerpypi/templates. Checkout or editable install:
    # the repository's top-level templates/.
    candidates = [here / "templates", here.parent / "templates"]
    return [str(path) for path in candidates if path.is_dir()]


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes), which is why
    # no TOML writer is needed for the few strings the uv file holds.
    return json.dumps(value)


# jinja2, and what only making its environment needs, is imported in the
# functions below, not at the top: `dockerpypi --version`, the commands that
# render nothing, and a render whose text is kept should not pay for it.

@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the templates, made once a process."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dirs()),
        undefined=jinja2.StrictUndefined,
        bytecode_cache=_bytecode_cache(),
        **_ENVIRONMENT_OPTIONS,
    )
    env.filters["toml_string"] = _toml_string
    env.filters["sh_quote"] = shlex.quote
    return env


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the user's cache directory between runs.

    Compiling the templates is a large share of a `dockerpypi render`; jinja2
    checks each cached compilation against the template's source (and this
    against the options above and jinja2's version), so an edited template is
    compiled again. An unwritable cache directory only means no cache.
    """
    import contextlib
    import hashlib

    import jinja2

    directory = ensure_cache_dir(TEMPLATES.name)
    if directory is None:
        return None
    salt = f"{jinja2.__version__} {sorted(_ENVIRONMENT_OPTIONS.items())}"

    class _Cache(jinja2.FileSystemBytecodeCache):
        def get_source_checksum(self, source: str) -> str:
            return hashlib.sha1(f"{salt}\n{source}".encode(), usedforsecurity=False).hexdigest()

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            # Read-only or full: the next run compiles again.
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    return _Cache(str(directory), "%s.jinja2-cache")


def render_template(template: str, keep: bool = False, **context: object) -> str:
    """``template`` rendered with ``context`` (and the version of dockerpypi).

    The text is kept in :data:`dockerpypi.caches.RENDERS` for the next run, and taken from
    there when it is, for the Dockerfile templates always and for the others
    when ``keep`` (the caller knows the text holds no credentials).
    """
    context = {"version": __version__, **context}
    keep = keep or template in _KEPT_TEMPLATES
    key = _kept_key(template, context) if keep else None
    if key is not None:
        kept = memo_get(RENDERS.name, key)
        if kept is not None:
            return kept
    text = _render_now(template, context)
    if key is not None:
        memo_put(RENDERS.name, key, text)
    return text


def _render_now(template: str, context: dict[str, object]) -> str:
    import jinja2

    try:
        loaded = environment().get_template(template)
    except jinja2.TemplateNotFound:
        raise UsageError(f"template {template} is missing from the installation "
                         f"(looked in {', '.join(template_dirs()) or 'nowhere'}): "
                         "reinstall dockerpypi") from None
    return loaded.render(**context)


def _kept_key(template: str, context: dict[str, object]) -> str | None:
    """What a kept rendering depends on, as one string; None when that cannot be told.

    The context, and the state of everything that turns it into text
    (:func:`renderer_stamps`).
    """
    stamps = renderer_stamps()
    if stamps is None:
        return None
    text = json.dumps([template, context, stamps], sort_keys=True, default=repr)
    # A repr that shows an address changes every run: keeping it would only fill the file.
    return None if " at 0x" in text else text


@functools.cache
def renderer_stamps() -> tuple[object, ...] | None:
    """The template files, this module (the environment and its filters), jinja2 and
    MarkupSafe as installed, and Python, by size and modification time: editing,
    reinstalling or upgrading any of them changes the key, and a changed key is
    simply a miss. Once a process: a build renders several files.
    """
    files = [Path(__file__)]
    for directory in template_dirs():
        files += sorted(Path(directory).glob("*.j2"))
    for package in ("jinja2", "markupsafe"):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            return None
        files.append(Path(spec.origin))
    stamps: list[object] = []
    for path in files:
        try:
            status = path.stat()
        except OSError:
            return None
        stamps.append((str(path), status.st_mtime_ns, status.st_size))
    return (*stamps, sys.version)
