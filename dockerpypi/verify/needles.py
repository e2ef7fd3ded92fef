"""What ``verify`` looks for: the needles (mirror URLs, credentials, ``--needle``) and shapes.

By content: the configured mirror URLs and their credentials (passwords and
tokens, as typed and percent-encoded), plus any ``--needle``: each a
:class:`Needle`, made by :func:`default_needles`. A credential is never
printed: a finding calls it ``credential of mirror N``, and :func:`redactor`
takes credentials out of any text before it is shown.

By shape, whatever the mirror: installer config files that select an index
(:data:`CONFIG_FILE_NAMES`, :data:`INDEX_SETTING`), ``.netrc`` files,
variables and build args that select an index (:data:`INDEX_ENV`,
:data:`INDEX_ASSIGNMENT`), and, in layers, what :class:`Rules` names: files
under the mirror's mount point or a build step's own directories, and stub
files at secret mount targets.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ..dockerfile.vocabulary import CACHE_ROOT, STEP_DIR, secret_mounts
from ..errors import UsageError
from ..settings.model import Settings

# Files larger than this are not read: installer config and scripts are tiny,
# the big files in an image are libraries and archives.
MAX_READ = 4 * 1024 * 1024
# A credential shorter than this is not searched for: it would be found everywhere.
MIN_SECRET = 4

# File names installers read index settings (or HTTP credentials) from.
CONFIG_FILE_NAMES = frozenset({"pip.conf", "pip.ini", "uv.toml", ".pydistutils.cfg",
                               "pydistutils.cfg", ".netrc"})
# A line that selects an index in pip.conf, uv.toml or .pydistutils.cfg.
INDEX_SETTING = re.compile(
    rb"(?im)^[ \t]*(?:(?:(?:extra|default)[-_]?)?index(?:[-_]?url)?|find[-_]links|"
    rb"trusted[-_]host|no[-_]index|allow[-_]hosts|index[-_]strategy)[ \t]*[=:]"
    rb"|^[ \t]*\[\[[ \t]*(?:tool\.uv\.)?index[ \t]*\]\]")
# An entry of a .netrc file.
NETRC_ENTRY = re.compile(rb"(?:^|\s)(?:machine|default|login|password)\s")
# Variables that select an index: in the image's Env, or a step's build args.
INDEX_VARIABLE = (r"(?:(?:PIP|UV)_\w*(?:INDEX|FIND_LINKS|TRUSTED_HOST|INSECURE_HOST)\w*"
                  r"|DOCKERPYPI_(?:MIRRORS|PUBLIC_INDEX)|DIB_PYPI_MIRROR_URL\w*"
                  r"|PYPI_MIRROR_URL\w*)")
# An Env entry (NAME=value) that points an installer at an index.
INDEX_ENV = re.compile(rf"^(?:{INDEX_VARIABLE}|(?:PIP|UV)_CONFIG_FILE|DOCKERPYPI_\w+)=")
# Such a variable set anywhere in a text (a history step's command line).
INDEX_ASSIGNMENT = re.compile(rf"(?<![A-Za-z0-9_]){INDEX_VARIABLE}=")


@dataclass(frozen=True)
class Needle:
    """A string that must not be in the image; ``label`` is how findings name it."""

    text: str
    label: str
    secret: bool = False
    # A URL needle must not run on into a longer host name or port: the
    # mirror 127.0.0.1:9 is not in a text that says 127.0.0.1:90.
    whole: bool = False

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")

    @property
    def found(self) -> str:
        """What a finding says of a text that holds the needle."""
        return f"contains {self.label}"

    @functools.cached_property
    def _pattern(self) -> re.Pattern[bytes]:
        return re.compile(re.escape(self.data) + rb"(?![A-Za-z0-9_.-])")

    def found_in(self, data: bytes) -> bool:
        """Whether the needle is in ``data`` (a quick search, then the boundary if needed)."""
        if self.data not in data:
            return False
        return not self.whole or self._pattern.search(data) is not None


def _url_needles(url: str) -> list[str]:
    """What to search for to find ``url``, also when credentials were put back into it.

    ``http://user:pw@host/simple/`` does not contain ``http://host/simple/``,
    so an http(s) mirror is searched by ``host[:port]/path`` (without the
    trailing slash); a bare host name is searched as ``://host`` and
    ``@host``, since the name alone (``localhost``) is in every image.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        return [url.rstrip("/")]
    path = parts.path.rstrip("/")
    if path or parts.port is not None:
        return [parts.netloc + path]
    return [f"://{parts.netloc}", f"@{parts.netloc}"]


def default_needles(settings: Settings, extra: Iterable[str] = ()) -> tuple[list[Needle],
                                                                            list[str]]:
    """The needles for ``settings`` (mirror URLs and credentials) and ``extra``; and notes.

    The public index's URL is not a trace (every pip knows it), but its
    credentials, if it has any, are. Credentials are chosen as
    :func:`dockerpypi.build.command.credential_strings` chooses them.
    """
    needles: list[Needle] = []
    notes: list[str] = []
    seen: set[str] = set()

    def add(needle: Needle) -> None:
        if needle.text and needle.text not in seen:
            seen.add(needle.text)
            needles.append(needle)

    public = settings.public_index.value
    numbered = [(f"mirror {n}", mirror) for n, mirror in enumerate(settings.mirrors.value, 1)]
    for name, mirror in numbered:
        for text in _url_needles(mirror.url):
            add(Needle(text, f"{name} ({mirror.url})", whole=True))
    for name, mirror in [*numbered, ("the public index", public)]:
        credentials = mirror.credentials
        if credentials is None:
            continue
        # A user name next to a password is not a secret; alone it is a token.
        secret = credentials.password if credentials.password is not None \
            else credentials.username
        if not secret:
            continue
        if len(secret) < MIN_SECRET:
            notes.append(f"the credential of {name} has fewer than {MIN_SECRET} characters "
                         "and was not searched for (it would match everywhere)")
            continue
        for text in (secret, quote(secret, safe="")):
            add(Needle(text, f"credential of {name}", secret=True))
    for text in extra:
        if not text:
            raise UsageError("--needle needs a text to search for",
                             fix="drop the empty --needle")
        add(Needle(text, repr(text)))
    return needles, notes


def redactor(needles: Sequence[Needle]) -> Callable[[str], str]:
    """A function that takes credentials (and URL userinfo) out of a text for display."""
    from ..process import redact

    secrets = [needle.text for needle in needles if needle.secret]
    return lambda text: redact([text], secrets)[0]


def shorten(text: str, limit: int = 100) -> str:
    """One line; both ends of a long one (a RUN line's target is often at the end)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-limit // 2:]}"


@dataclass(frozen=True)
class Rules:
    """What a layer is searched for: the needles, and the paths only a build step may use."""

    needles: Sequence[Needle]
    scratch_dirs: tuple[str, ...]  # absolute, no trailing slash
    secret_targets: frozenset[str]
    max_read: int = MAX_READ

    @classmethod
    def make(cls, needles: Sequence[Needle], mount_point: str, max_read: int) -> Rules:
        scratch = (mount_point.rstrip("/") or "/", STEP_DIR, CACHE_ROOT)
        targets = {target for _, target in secret_mounts()}
        # A secret mounted without target= lands in /run/secrets/<id>.
        targets |= {f"/run/secrets/{secret_id}" for secret_id, _ in secret_mounts()}
        return cls(needles, scratch, frozenset(targets), max_read)

    def shown(self, text: str) -> str:
        """``text`` for a label: credentials out first, then shortened (never the reverse,
        which could cut a credential in two and show half of it)."""
        return shorten(redactor(self.needles)(text))

    def in_scratch(self, path: str) -> str | None:
        """The build step's directory ``path`` is under, if any."""
        return next((d for d in self.scratch_dirs if path.startswith(d + "/")), None)

    def hits(self, data: bytes) -> list[Needle]:
        """The needles in ``data``."""
        return [n for n in self.needles if n.found_in(data)]
