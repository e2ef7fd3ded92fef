"""Verify the mirror's pages against its files, as an installer would see them.

The pages are parsed as HTML (not the indexer's state file), so whatever wrote
them, this says whether pip and uv will get what the links promise.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import posixpath
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

from packaging.utils import canonicalize_name

from ..errors import UserMessageError
from .index import (
    DEFAULT_LOCK_TIMEOUT,
    METADATA_SUFFIX,
    PAGE,
    is_index_file,
    mirror_lock,
    parse_distribution,
)
from .pages import own_anchors
from .reading import sha256_files

_REINDEX = "run `dockerpypi mirror index`"
_REFETCH = ("delete it and fetch it again with `dockerpypi mirror add`, or run "
            "`dockerpypi mirror index --full` if the change was intended")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the mirror, with its fix as a field (as errors carry theirs)."""

    kind: str  # missing, hash, metadata, orphan, unlisted, name, page, link
    path: str  # relative to the mirror directory
    problem: str  # what is wrong with ``path``
    fix: str  # what to run, or do, about it

    @property
    def message(self) -> str:
        return f"{self.problem}: {self.fix}"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class CheckResult:
    mirror_dir: Path
    projects: int
    files: int
    problems: tuple[Problem, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "mirror_dir": str(self.mirror_dir),
            "ok": self.ok,
            "projects": self.projects,
            "files": self.files,
            "problems": [{"kind": p.kind, "path": p.path, "message": p.message}
                         for p in self.problems],
            "seconds": round(self.seconds, 3),
        }


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":  # values arrive HTML-unescaped
            self.anchors.append({key: value or "" for key, value in attrs})


def _anchors(page: Path) -> list[dict[str, str]]:
    text = page.read_text(encoding="utf-8", errors="replace")
    own = own_anchors(text)  # a page in dockerpypi's own shape: read without the parser
    if own is not None:
        return own
    parser = _Anchors()
    parser.feed(text)
    parser.close()
    return parser.anchors


def _has_scheme(href: str) -> bool:
    return ":" in href and bool(urlsplit(href).scheme)  # no colon, no scheme: the common case


def _defragged(href: str) -> tuple[str, str]:
    if ":" in href:
        return urldefrag(href)
    url, _, fragment = href.partition("#")  # what urldefrag gives a relative link
    return url, fragment


@dataclass
class _Checker:
    """The checks, in the order their problems are told; the hashes are compared at the
    end (:meth:`compare_hashes`), all files read together, each once."""

    root: Path
    problems: list[tuple[int, Problem]] = field(default_factory=list)
    linked: set[str] = field(default_factory=set)
    files: int = 0
    # The mirror's top level, listed once: regular files (symlinks followed), directories.
    present: set[str] = field(default_factory=set)
    directories: list[str] = field(default_factory=list)
    # (order, file, expected sha256, problem as found()'s arguments after the hash)
    hashes: list[tuple[int, str, str, tuple[str, str, str, str]]] = field(
        default_factory=list)
    _order: Iterator[int] = field(default_factory=itertools.count)

    def list(self) -> None:
        with os.scandir(self.root) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_file():
                        self.present.add(entry.name)
                    elif entry.is_dir():
                        self.directories.append(entry.name)

    def found(self, kind: str, path: str, problem: str, fix: str) -> None:
        self.problems.append((next(self._order), Problem(kind, path, problem, fix)))

    def compare(self, name: str, expected: str, kind: str, path: str, problem: str,
                fix: str) -> None:
        """A problem if ``name``'s sha256 is not ``expected``: told in its place, later."""
        self.hashes.append((next(self._order), name, expected, (kind, path, problem, fix)))

    def compare_hashes(self) -> None:
        names = list(dict.fromkeys(name for _, name, _, _ in self.hashes))
        digests = dict(zip(names, sha256_files(self.root, names), strict=True))
        for order, name, expected, problem in self.hashes:
            if digests[name] != expected:
                self.problems.append((order, Problem(*problem)))
        self.hashes = []

    def told(self) -> tuple[Problem, ...]:
        return tuple(problem for _, problem in sorted(self.problems, key=lambda p: p[0]))

    def project_pages(self) -> Iterator[str]:
        """The project names the root page links, each checked for its form."""
        for anchor in _anchors(self.root / PAGE):
            href = anchor.get("href", "")
            name = unquote(href).rstrip("/")
            if _has_scheme(href) or not name or "/" in name or name.startswith("."):
                self.found("link", PAGE, f"links {href!r}, not a project page beside it",
                           _REINDEX)
                continue
            if name != canonicalize_name(name):
                self.found("name", PAGE, f"links project {name!r} by a name that is not "
                                         f"normalized ({canonicalize_name(name)!r})", _REINDEX)
            if name not in self.directories or not (self.root / name / PAGE).is_file():
                self.found("page", f"{name}/{PAGE}", f"is linked from {PAGE} but missing",
                           _REINDEX)
                continue
            yield name

    def check_page(self, project: str) -> None:
        page = f"{project}/{PAGE}"
        for anchor in _anchors(self.root / project / PAGE):
            href, fragment = _defragged(anchor.get("href", ""))
            target = posixpath.normpath(posixpath.join(project, unquote(href)))
            if _has_scheme(href) or "/" in target or target.startswith("."):
                self.found("link", page, f"links {href!r}, outside the mirror's flat layout",
                           _REINDEX)
                continue
            self.files += 1
            self.linked.add(target)
            self.check_file(page, project, target, fragment, anchor)

    def check_file(self, page: str, project: str, name: str, fragment: str,
                   anchor: dict[str, str]) -> None:
        try:
            owner = parse_distribution(name).project
        except ValueError as exc:
            self.found("name", page, f"links {name}, which is {exc}", _REINDEX)
            return
        if owner != canonicalize_name(project):
            self.found("name", page, f"links {name}, a file of {owner}, not {project}",
                       _REINDEX)
        if name not in self.present:
            self.found("missing", name, f"is linked from {page} but missing", _REINDEX)
            return
        algorithm, _, expected = fragment.partition("=")
        if algorithm != "sha256" or not expected:
            self.found("hash", page, f"links {name} without a #sha256= hash", _REINDEX)
        else:
            self.compare(name, expected, "hash", name, f"does not match the sha256 in {page}",
                         _REFETCH)
        self.check_metadata(page, name, anchor)

    def check_metadata(self, page: str, name: str, anchor: dict[str, str]) -> None:
        values = {anchor[key] for key in ("data-dist-info-metadata", "data-core-metadata")
                  if key in anchor}
        if not values or values == {"true"}:  # PEP 658 allows "true": nothing to compare
            return
        sidecar = name + METADATA_SUFFIX
        if len(values) > 1:
            self.found("metadata", page, f"gives two metadata hashes for {name}", _REINDEX)
        elif sidecar not in self.present:
            self.found("metadata", sidecar, f"is promised by {page} but missing", _REINDEX)
        else:
            algorithm, _, expected = values.pop().partition("=")
            self.compare(sidecar, expected if algorithm == "sha256" else "", "metadata",
                         sidecar, f"does not match the hash in {page}",
                         "run `dockerpypi mirror index --full`")

    def unlisted_pages(self, listed: set[str]) -> None:
        """Project pages the root does not link: an installer still finds them, so check them."""
        for name in sorted(self.directories):
            # (dot directories are dockerpypi's own: a build's subset, for one)
            if (not name.startswith(".") and name not in listed
                    and (self.root / name / PAGE).is_file()):
                self.found("unlisted", f"{name}/{PAGE}", f"is not linked from {PAGE}",
                           _REINDEX)
                self.check_page(name)

    def orphans(self) -> None:
        """Distributions no page links."""
        for name in sorted(self.present):
            if is_index_file(name) or name in self.linked:
                continue
            try:
                parse_distribution(name)
            except ValueError:
                continue  # not a distribution: the indexer warns about it, pip ignores it
            self.found("orphan", name, "is not in the index", _REINDEX)


def check_mirror(mirror_dir: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 on_wait: Callable[[], None] | None = None) -> CheckResult:
    """Check every page, link, hash and file of ``mirror_dir``."""
    started = time.monotonic()
    root = Path(mirror_dir)
    if not root.is_dir():
        raise UserMessageError(f"mirror directory {root} does not exist: fill it with "
                               "`dockerpypi mirror add PACKAGE`")
    checker = _Checker(root)
    listed: set[str] = set()
    try:
        # Under the lock: an update running alongside would show a half-updated mirror.
        with mirror_lock(root, lock_timeout, on_wait, reading=True):
            checker.list()
            if PAGE not in checker.present:
                checker.found("page", PAGE, "is missing, so nothing is indexed", _REINDEX)
            else:
                for project in checker.project_pages():
                    listed.add(project)
                    checker.check_page(project)
                checker.unlisted_pages(listed)
                checker.orphans()
                checker.compare_hashes()
    except OSError as exc:  # an unreadable directory or file: nothing can be checked
        raise UserMessageError(f"cannot read {exc.filename or root} ({exc.strerror or exc}): "
                               f"make {root} readable (chmod -R u+rX), or choose another "
                               "--mirror-dir") from None
    return CheckResult(root, len(listed), checker.files, checker.told(),
                       time.monotonic() - started)
