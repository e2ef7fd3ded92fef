"""``dockerpypi verify``: the command line of :mod:`dockerpypi.verify`.

Only click is imported at the top (see cli.py); the scanner is imported when
the command runs, and reads the engine through the docker CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._options import settings_from, settings_options_for, warn

if TYPE_CHECKING:
    from .settings import Settings
    from .verify import VerifyResult

# The settings that change what verify looks for: the mirrors' URLs and
# credentials, the public index's credentials, the mount point. The others
# (retries, timeout, which config files a build writes...) only change builds.
VERIFY_SETTINGS = ("mirrors", "public_index", "mount_point")


def run_verify(settings: Settings, image: str | None, *, needles: tuple[str, ...] = (),
               archive: Path | None = None, metadata_file: Path | None = None,
               ) -> tuple[VerifyResult, list[Any]]:
    """Verify ``image`` (or ``archive``) against ``settings``; return the result and needles."""
    from .verify import default_needles, read_metadata_file, verify_image

    found, notes = default_needles(settings, needles)
    metadata = read_metadata_file(metadata_file) if metadata_file is not None else None
    result = verify_image(image, found, mount_point=settings.mount_point.value,
                          archive=archive, metadata=metadata,
                          metadata_name=f"metadata file {metadata_file}", notes=notes)
    return result, found


def failure_message(result: VerifyResult) -> str:
    count = len(result.findings)
    return (f"{result.image} keeps {count} trace{'' if count == 1 else 's'} of the mirror "
            "configuration (see the report): remove the ARG, ENV, COPY or RUN that put them "
            "there and build with `dockerpypi build`, which passes the mirror as build secrets")


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def verify(image: str | None, needles: tuple[str, ...], metadata_file: Path | None,
           archive: Path | None, as_json: bool, **kwargs: Any) -> None:
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
    build`: DOCKER_HOST, DOCKER_CONTEXT or the current `docker context`.
    """
    from .errors import UsageError, UserMessageError

    if (image is None) == (archive is None):
        raise UsageError("give an IMAGE or --archive FILE" + (", not both" if image else ""))
    settings = settings_from(kwargs)
    for warning in settings.warnings:
        if not warning.startswith("no mirror is configured"):  # about builds, not this
            warn(warning)
    from .verify import report_json, report_lines, summary

    result, found = run_verify(settings, image, needles=needles, archive=archive,
                               metadata_file=metadata_file)
    if as_json:
        click.echo(json.dumps(report_json(result, found), indent=2))
    else:
        for line in report_lines(result, found):
            click.echo(line)
        click.echo(summary(result))
    if not result.clean:
        raise UserMessageError(failure_message(result))
