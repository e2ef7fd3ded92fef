"""What a source distribution's file name ends with: a leaf, imported by render and build too.

(:mod:`.distfile` reads what the names and the files say; it imports
packaging, which a `dockerpypi build` does not always need.)
"""

from __future__ import annotations

# Every form of source distribution pip or uv installs: PEP 625's .tar.gz,
# the older .zip, and the other archives either of them still unpacks. The mirror's
# index reads .tar.gz and .zip only (packaging parses no other sdist name),
# and says so of the others.
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar.lz", ".tlz",
                  ".tar.lzma", ".tar.zst", ".tgz", ".tar")
