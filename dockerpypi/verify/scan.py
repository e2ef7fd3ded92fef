"""``dockerpypi verify``'s work: one image (or archive) and its metadata file, searched.

:func:`verify_settings` makes the needles from the settings and runs
:func:`verify_image`, which reads the image from the engine through the
docker CLI (:mod:`.image`), so it reads the engine ``dockerpypi build`` wrote
to, or reads an archive; and searches the buildx metadata file and the
provenance in it too.
"""

from __future__ import annotations

import json
import tarfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..engines import DOCKER, image_cli, resolve_engine
from ..errors import UsageError
from ..settings.model import Settings
from .archive import ArchiveScan, ScanProgress, counted, scan_archive
from .documents import scan_config, scan_document
from .image import config_document, inspect_image, saved
from .needles import MAX_READ, Needle, default_needles
from .report import VerifyResult

_WRITTEN_BY = "give the tar that `docker save` or `buildx --output type=oci` wrote"


def read_metadata_file(path: Path) -> Any:
    """The JSON document ``docker buildx build --metadata-file`` wrote at ``path``."""
    fix = "give the file `docker buildx build --metadata-file` wrote"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read the metadata file {path} ({error.strerror})",
                         fix=fix) from None
    except (UnicodeDecodeError, ValueError):
        raise UsageError(f"the metadata file {path} is not JSON", fix=fix) from None


def verify_settings(settings: Settings, image: str | None, *, needles: Iterable[str] = (),
                    archive: Path | None = None, metadata_file: Path | None = None,
                    progress: ScanProgress | None = None, cli: str | None = None
                    ) -> tuple[VerifyResult, list[Needle]]:
    """Verify ``image`` (or ``archive``) for the traces of ``settings`` and ``needles``.

    The image is read through ``cli`` (None: the one the ``engine`` setting
    names). Returns the result, and the needles searched for (to take their
    credentials out of what is shown).
    """
    if cli is None:
        cli = image_cli(resolve_engine(settings.container_engine.value))
    found, notes = default_needles(settings, needles)
    metadata = read_metadata_file(metadata_file) if metadata_file is not None else None
    result = verify_image(image, found, mount_point=settings.mount_point.value,
                          archive=archive, metadata=metadata,
                          metadata_name=f"metadata file {metadata_file}", notes=notes,
                          progress=progress, cli=cli)
    return result, found


def verify_image(image: str | None, needles: Sequence[Needle], *, mount_point: str,
                 archive: Path | None = None, metadata: Any = None,
                 metadata_name: str = "metadata file", notes: Sequence[str] = (),
                 max_read: int = MAX_READ,
                 progress: ScanProgress | None = None, cli: str = DOCKER) -> VerifyResult:
    """Scan ``image`` on the engine (or the tar ``archive``) and the buildx ``metadata``.

    ``progress`` hears how the reading of the layers goes; ``cli`` reads the
    image (docker, or podman for the images podman and buildah build).
    """
    started = time.monotonic()
    if (image is None) == (archive is None):
        raise UsageError("give an IMAGE or --archive FILE, not both")
    found_notes = list(notes)
    if archive is not None:
        try:
            with archive.open("rb") as handle:
                if progress is not None:
                    progress.scan_started(archive.stat().st_size, None)
                scan = scan_archive(counted(handle, progress), needles,
                                    mount_point=mount_point, max_read=max_read,
                                    progress=progress)
        except OSError as error:
            raise UsageError(f"cannot read {archive} ({error.strerror})",
                             fix=_WRITTEN_BY) from None
        except tarfile.TarError as error:
            raise UsageError(f"{archive} is not a tar archive ({error})",
                             fix=_WRITTEN_BY) from None
        image_id = scan.image_ids[0] if scan.image_ids else None
        shown = str(archive)
    else:
        assert image is not None
        found = inspect_image(image, cli)
        image_id = found.id
        if not found.layers:
            # The engine refuses to save an image without layers ("empty
            # export"): FROM scratch with only ENV or LABEL. Its config and
            # history are all there is.
            config = config_document(found)
            scan = ArchiveScan(scan_config(config, needles), [image_id], 0, 0, [], [])
        else:
            if progress is not None:
                progress.scan_started(found.size, found.saved_layers)
            with saved(found) as stream:
                scan = scan_archive(counted(stream, progress), needles,
                                    mount_point=mount_point, max_read=max_read,
                                    progress=progress)
        shown = image
    findings = list(scan.findings)
    if metadata is not None:
        findings += scan_document(metadata, needles, metadata_name)
        described = metadata.get("containerimage.config.digest") \
            if isinstance(metadata, dict) else None
        if described and image_id and described != image_id:
            found_notes.append(f"the {metadata_name} describes image {described[:19]}, "
                               f"not {image_id[:19]}")
    return VerifyResult(
        image=shown,
        image_id=image_id,
        layers=scan.layers,
        files_read=scan.files_read,
        skipped=tuple(scan.skipped),
        searched=tuple(dict.fromkeys(n.label for n in needles)),
        findings=tuple(findings),
        notes=tuple(found_notes + scan.notes),
        seconds=time.monotonic() - started,
    )
