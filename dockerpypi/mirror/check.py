"""Verify the mirror's pages against its files, as an installer would see them.

The pages are parsed as HTML (not the indexer's state file), so whatever wrote
them, this says whether pip and uv will get what the links promise.
"""

from __future__ import annotations

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
    sha256_of,
)

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
    parser = _Anchors()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser.anchors


@dataclass
class _Checker:
    root: Path
    problems: list[Problem] = field(default_factory=list)
    linked: set[str] = field(default_factory=set)
    hashes: dict[str, str] = field(default_factory=dict)
    files: int = 0

    def found(self, kind: str, path: str, problem: str, fix: str) -> None:
        self.problems.append(Problem(kind, path, problem, fix))

    def sha256(self, name: str) -> str:
        if name not in self.hashes:  # a file may be linked from more than one page
            self.hashes[name] = sha256_of(self.root / name)
        return self.hashes[name]

    def project_pages(self) -> Iterator[str]:
        """The project names the root page links, each checked for its form."""
        for anchor in _anchors(self.root / PAGE):
            href = anchor.get("href", "")
            name = unquote(href).rstrip("/")
            if urlsplit(href).scheme or not name or "/" in name or name.startswith("."):
                self.found("link", PAGE, f"links {href!r}, not a project page beside it",
                           _REINDEX)
                continue
            if name != canonicalize_name(name):
                self.found("name", PAGE, f"links project {name!r} by a name that is not "
                                         f"normalized ({canonicalize_name(name)!r})", _REINDEX)
            if not (self.root / name / PAGE).is_file():
                self.found("page", f"{name}/{PAGE}", f"is linked from {PAGE} but missing",
                           _REINDEX)
                continue
            yield name

    def check_page(self, project: str) -> None:
        page = f"{project}/{PAGE}"
        for anchor in _anchors(self.root / project / PAGE):
            href, fragment = urldefrag(anchor.get("href", ""))
            target = posixpath.normpath(posixpath.join(project, unquote(href)))
            if urlsplit(href).scheme or "/" in target or target.startswith("."):
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
        if not (self.root / name).is_file():
            self.found("missing", name, f"is linked from {page} but missing", _REINDEX)
            return
        algorithm, _, expected = fragment.partition("=")
        if algorithm != "sha256" or not expected:
            self.found("hash", page, f"links {name} without a #sha256= hash", _REINDEX)
        elif self.sha256(name) != expected:
            self.found("hash", name, f"does not match the sha256 in {page}", _REFETCH)
        self.check_metadata(page, name, anchor)

    def check_metadata(self, page: str, name: str, anchor: dict[str, str]) -> None:
        values = {anchor[key] for key in ("data-dist-info-metadata", "data-core-metadata")
                  if key in anchor}
        if not values or values == {"true"}:  # PEP 658 allows "true": nothing to compare
            return
        sidecar = name + METADATA_SUFFIX
        if len(values) > 1:
            self.found("metadata", page, f"gives two metadata hashes for {name}", _REINDEX)
        elif not (self.root / sidecar).is_file():
            self.found("metadata", sidecar, f"is promised by {page} but missing", _REINDEX)
        elif f"sha256={self.sha256(sidecar)}" != values.pop():
            self.found("metadata", sidecar, f"does not match the hash in {page}",
                       "run `dockerpypi mirror index --full`")

    def unlisted_pages(self, listed: set[str]) -> None:
        """Project pages the root does not link: an installer still finds them, so check them."""
        for path in sorted(self.root.iterdir()):
            # (dot directories are dockerpypi's own: a build's subset, for one)
            if (path.is_dir() and not path.name.startswith(".") and path.name not in listed
                    and (path / PAGE).is_file()):
                self.found("unlisted", f"{path.name}/{PAGE}", f"is not linked from {PAGE}",
                           _REINDEX)
                self.check_page(path.name)

    def orphans(self) -> None:
        """Distributions no page links."""
        for path in sorted(self.root.iterdir()):
            name = path.name
            if is_index_file(name) or name in self.linked or not path.is_file():
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
            if not (root / PAGE).is_file():
                checker.found("page", PAGE, "is missing, so nothing is indexed", _REINDEX)
            else:
                for project in checker.project_pages():
                    listed.add(project)
                    checker.check_page(project)
                checker.unlisted_pages(listed)
                checker.orphans()
    except OSError as exc:  # an unreadable directory or file: nothing can be checked
        raise UserMessageError(f"cannot read {exc.filename or root} ({exc.strerror or exc}): "
                               f"make {root} readable (chmod -R u+rX), or choose another "
                               "--mirror-dir") from None
    return CheckResult(root, len(listed), checker.files, tuple(checker.problems),
                       time.monotonic() - started)
