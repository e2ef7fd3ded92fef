"""A PEP 503 "simple" index written as static files.

Layout (chosen so one directory works three ways):

    root/index.html                  links to every project page
    root/<project>/index.html        links "../<file>#sha256=..." to its files
    root/<file>.whl                  the distributions themselves, flat

The flat files make ``root`` usable as ``--find-links root`` too, and the
relative links make the same tree work as ``--index-url file://root/`` and
when served over HTTP at any path or port. Everything a page says is read
from the files (name, version, Requires-Python from the wheel's METADATA), so
the index is always consistent with what lies beside it.
"""

from __future__ import annotations

import hashlib
import html
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

_PAGE = (
    "<!DOCTYPE html>\n<html>\n<head><meta name=\"pypi:repository-version\" content=\"1.0\">"
    "<title>{title}</title></head>\n<body>\n{links}</body>\n</html>\n"
)


def _project_of(filename: str) -> str | None:
    if filename.endswith(".whl"):
        return parse_wheel_filename(filename)[0]
    if filename.endswith((".tar.gz", ".zip")):
        return parse_sdist_filename(filename)[0]
    return None


def _requires_python(path: Path) -> str | None:
    if path.suffix != ".whl":
        return None  # sdists would need their PKG-INFO read; the tests only make wheels
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = HeaderParser().parsestr(archive.read(name).decode("utf-8"))
    return metadata.get("Requires-Python")


def _link(href: str, text: str, requires_python: str | None = None) -> str:
    # Attribute values are HTML-escaped: a specifier like "<4,>=3.8" must not
    # end the tag early (PEP 503 asks for exactly this escaping).
    attrs = f'href="{html.escape(href)}"'
    if requires_python:
        attrs += f' data-requires-python="{html.escape(requires_python)}"'
    return f"<a {attrs}>{html.escape(text)}</a><br>\n"


def write_simple_index(root: Path) -> list[str]:
    """(Re)write the index pages for the distributions lying in ``root``.

    Returns the normalized project names. Safe to call again after adding
    files; pages of projects whose files are gone are left as they were.
    """
    projects: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(root.iterdir()):
        project = _project_of(path.name) if path.is_file() else None
        if project is not None:
            projects[canonicalize_name(project)].append(path)

    for project, files in projects.items():
        links = ""
        for path in files:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            links += _link(f"../{path.name}#sha256={digest}", path.name, _requires_python(path))
        page = root / project / "index.html"
        page.parent.mkdir(exist_ok=True)
        page.write_text(_PAGE.format(title=f"Links for {project}", links=links), encoding="utf-8")

    names = sorted(projects)
    root_links = "".join(_link(f"{name}/", name) for name in names)
    (root / "index.html").write_text(
        _PAGE.format(title="Simple index", links=root_links), encoding="utf-8"
    )
    return names


def write_index_of(root: Path, packages: Iterable[str | Mapping[str, Any]], *,
                   origin: str) -> Path:
    """Tiny wheels in ``root``, each ``"name==version"`` or a dict of make_wheel's
    keyword arguments, with ``MIRROR_ORIGIN = origin`` unless the dict says otherwise;
    then their index. Returns ``root``."""
    from support.wheels import make_wheel

    root.mkdir(parents=True, exist_ok=True)
    for spec in packages:
        if isinstance(spec, str):
            name, version = spec.split("==")
            make_wheel(root, name, version, origin=origin)
        else:
            make_wheel(root, **{"origin": origin, **spec})
    write_simple_index(root)
    return root
