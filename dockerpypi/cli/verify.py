"""``dockerpypi verify``: the command line of :mod:`dockerpypi.verify`.

The scanner, and rich for the progress display, are imported when the
command runs (the rule: cli/__init__.py).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from ..errors import NoMirrorConfigured, UsageError
from .options import settings_from, settings_options_for
from .output import Output, json_option, lines, warn
from .progress import progress_display

# The settings that change what verify looks for: the mirrors' URLs and
# credentials, the public index's credentials, the mount point. The others
# (retries, timeout, which config files a build writes...) only change builds.
# engine: which CLI reads the image (docker, or podman for podman's and buildah's).
VERIFY_SETTINGS = ("mirrors", "public_index", "mount_point", "container_engine")


@click.command("verify")
@settings_options_for(*VERIFY_SETTINGS)
@click.argument("image", required=False)
@click.option("--needle", "needles", multiple=True, metavar="TEXT",
              help="Also search for TEXT; repeat for more.")
@click.option("--metadata-file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Also search the file `docker buildx build "
                                   "--metadata-file` wrote, and the provenance in it.")
@click.option("--archive", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Search a tar written by `docker save` or `buildx --output type=oci` "
                   "instead of an image on the engine.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print only the traces found: no summary line, no progress.")
@json_option
def verify(image: str | None, needles: tuple[str, ...], metadata_file: Path | None,
           archive: Path | None, quiet: bool, as_json: bool, **kwargs: Any) -> Output:
    """Look through an image for traces of the mirror configuration.

    \b
    dockerpypi verify app:latest
    dockerpypi verify --needle devpi.internal --metadata-file meta.json app

    Every layer (also files a later layer deleted), the image config and its
    history are searched for installer config files, files left at the mirror's
    mount points, and the configured mirror URLs and credentials (never
    printed: a finding says "credential of mirror N"). Exit 1 when anything is
    found, 0 when the image is clean.

    The image is read from the engine the docker CLI uses, as for `dockerpypi
    build`: DOCKER_HOST, DOCKER_CONTEXT or the current `docker context`; with
    --engine podman or buildah, from podman's storage.
    """
    from ..verify.report import failure, report_json, report_lines, summary
    from ..verify.scan import verify_settings

    if (image is None) == (archive is None):
        raise UsageError("give an IMAGE or --archive FILE" + (", not both" if image else ""))
    settings = settings_from(kwargs)
    warn(*settings.warnings, ignore=(NoMirrorConfigured,))  # about builds, not this
    display = progress_display(quiet or as_json)
    with display or contextlib.nullcontext():
        result, found = verify_settings(settings, image, needles=needles, archive=archive,
                                        metadata_file=metadata_file, progress=display)
    text = list(report_lines(result, found))
    if not quiet:
        text.append(summary(result))
    return Output(text=lines(text), json=report_json(result, found), error=failure(result))
