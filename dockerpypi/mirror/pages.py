"""The PEP 503 pages: a root page of projects, and one page of file links per project.

Links are relative (``../<file>#sha256=...``) so that the same tree works as
``--index-url file://<dir>`` and served over HTTP at any path.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from .state import IndexedFile

# The shape of the pages. Bump it when a page changes: the index state records
# it, so that every mirror's pages are written again once, and it names kept
# build subsets, so that none written in an older shape is used again.
# (own_anchors below reads back what _HTML and _anchor write: a page of another
# shape, an older one included, goes to `mirror check`'s HTML parser instead.)
PAGE_FORMAT = 2

_HTML = ('<!DOCTYPE html>\n<html>\n<head>\n'
         '<meta name="pypi:repository-version" content="1.0">\n'
         '<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{links}</body>\n</html>\n')


def _page(title: str, links: Iterable[str]) -> bytes:
    escaped = html.escape(title)
    return _HTML.format(title=escaped, links="".join(links)).encode("utf-8")


def _anchor(attrs: list[tuple[str, str]], text: str) -> str:
    # Attribute values are escaped: "<4,>=3.8" must not end the tag (PEP 503).
    rendered = " ".join(f'{key}="{html.escape(value)}"' for key, value in attrs)
    return f"<a {rendered}>{html.escape(text)}</a><br>\n"


def _file_link(indexed: IndexedFile) -> str:
    attrs = [("href", f"../{quote(indexed.filename)}#sha256={indexed.sha256}")]
    if indexed.requires_python:
        attrs.append(("data-requires-python", indexed.requires_python))
    if indexed.metadata_sha256:
        # PEP 714's name only. pip 22.3 to 23.1 read just the older
        # data-dist-info-metadata, and when they do they compare the Name in
        # the sidecar with the requirement as spelt, unnormalised (pypa/pip#12038:
        # `pip install flask` fails on Flask's "Name: Flask"). Without that
        # attribute they take the metadata from the wheel itself, as pip always
        # did; pip 23.2 on (which fixed the comparison) and uv read this name.
        attrs.append(("data-core-metadata", f"sha256={indexed.metadata_sha256}"))
    return _anchor(attrs, indexed.filename)


def project_page(project: str, files: Iterable[IndexedFile]) -> bytes:
    ordered = sorted(files, key=lambda f: f.filename)
    return _page(f"Links for {project}", (_file_link(f) for f in ordered))


def root_page(projects: Iterable[str]) -> bytes:
    return _page("Simple index", (_anchor([("href", f"{quote(p)}/")], p) for p in sorted(projects)))


# Reading a page back (``mirror check``): a page in exactly the shape above is
# read with two expressions, ten times faster than an HTML parser, which a
# mirror of 100,000 files feels; any other page (hand-made, another tool's)
# returns None, and the caller parses it as HTML.
_OWN_ANCHOR = re.compile(r'<a ([^<>]*)>[^<>]*</a><br>\n')
_OWN_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"<>]*)"')
_OWN_SKELETON = re.compile(re.escape(_HTML.split("{title}")[0]) + r"([^<>]*)"
                           + re.escape(_HTML.split("{title}")[1]) + r"\1"
                           + re.escape(_HTML.split("{title}")[2].replace("{links}", "")))


def own_anchors(text: str) -> list[dict[str, str]] | None:
    """The attributes of each anchor of a page this module wrote, unescaped as an HTML
    parser gives them; None when ``text`` is not in this module's shape."""
    if _OWN_SKELETON.fullmatch(_OWN_ANCHOR.sub("", text)) is None:
        return None
    anchors = []
    for anchor in _OWN_ANCHOR.finditer(text):
        attributes = anchor.group(1)
        pairs = _OWN_ATTRIBUTE.findall(attributes)
        if " ".join(f'{key}="{value}"' for key, value in pairs) != attributes:
            return None
        anchors.append({key: html.unescape(value) for key, value in pairs})
    return anchors
