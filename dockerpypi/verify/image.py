"""An image on the engine, read through the docker CLI: the engine `dockerpypi build` wrote to.

The docker CLI picks the engine the same way for every command: DOCKER_HOST,
else DOCKER_CONTEXT, else the current ``docker context``. So ``verify`` reads
the images ``build`` made, wherever that engine is. Images podman or buildah
built are read through podman's CLI instead (``cli``: see
:func:`dockerpypi.engines.image_cli`), which has the same three commands;
it prints ``image inspect`` and ``history`` as a JSON array, and says
"image not known" where docker says "No such image".

``docker image inspect`` is parsed once into :class:`EngineImage`; ``docker
save`` is handed over as a stream (:func:`saved`), never held in memory or
written to disk. ``docker history`` is asked only for an image without
layers, which the engine will not save.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from .. import process
from ..engines import DOCKER, missing_fix
from ..errors import UserMessageError

# `docker image inspect` and `docker history` answer in well under a second;
# a minute means the engine (or the ssh to it) hangs.
INSPECT_TIMEOUT = 60
# How long a `docker save` whose stream broke off gets to say why, before it is killed.
_SAVE_GRACE = 10
_NOT_FOUND = re.compile(r"No such image|image not known", re.IGNORECASE)


@dataclass(frozen=True)
class EngineImage:
    """What ``docker image inspect`` says about an image, as verify needs it."""

    reference: str  # as given: a name, a name:tag, an ID
    id: str  # sha256:...
    layers: tuple[str, ...]  # the layers' diff IDs, bottom first (a layer may repeat)
    size: int  # bytes, the layers unpacked
    config: Mapping[str, Any]  # the image config's "config": Env, Labels, Cmd, Entrypoint...
    cli: str = DOCKER  # the CLI that read it, and reads the rest of it

    @property
    def saved_layers(self) -> int:
        """How many layer blobs ``docker save`` writes: each distinct layer once."""
        return len(set(self.layers))

    @classmethod
    def from_inspect(cls, reference: str, data: Mapping[str, Any],
                     cli: str = DOCKER) -> EngineImage:
        """From the JSON object ``docker image inspect --format '{{json .}}'`` prints."""
        image_id = str(data["Id"])
        if ":" not in image_id:  # podman: the bare hex digest
            image_id = f"sha256:{image_id}"
        return cls(reference=reference, id=image_id,
                   layers=tuple((data.get("RootFS") or {}).get("Layers") or ()),
                   size=int(data.get("Size") or 0), config=data.get("Config") or {}, cli=cli)


def _detail(stderr: str) -> str:
    """docker's last words, on one line, short, with any URL credentials taken out."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()] or ["no answer"]
    detail = lines[-1].removeprefix("Error: ").removeprefix("Error response from daemon: ")
    detail = detail if len(detail) <= 200 else detail[:200] + "..."
    return process.redact([detail])[0]


def _failure(reference: str, stderr: str, cli: str = DOCKER) -> UserMessageError:
    if _NOT_FOUND.search(stderr):
        return UserMessageError(f"no image {reference} on the engine",
                                fix="build it with --load (or -t and the docker driver), or "
                                    "give its ID" if cli == DOCKER else
                                    f"build it with {cli}, or give --engine for the engine "
                                    "that built it")
    if cli != DOCKER:
        return UserMessageError(f"{cli} cannot read its images ({_detail(stderr)})",
                                fix=f"check that `{cli} info` works, then try again")
    return UserMessageError(f"no Docker engine answers ({_detail(stderr)})",
                            fix="start the engine, or point DOCKER_HOST or `docker context "
                                "use` at one")


def _docker(argv: list[str], reference: str, cli: str) -> str:
    done = process.output_of([cli, *argv], timeout=INSPECT_TIMEOUT, missing=missing_fix(cli))
    if done.returncode != 0:
        raise _failure(reference, done.stderr, cli)
    return done.stdout


def json_records(text: str) -> list[Any]:
    """The records of ``{{json .}}`` output: docker prints one JSON value a line,
    podman one JSON array of them (over several lines for ``image inspect``)."""
    try:
        whole = json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return whole if isinstance(whole, list) else [whole]


def inspect_image(reference: str, cli: str = DOCKER) -> EngineImage:
    """The image ``reference`` names on the engine; one line with the fix if there is none."""
    out = _docker(["image", "inspect", "--format", "{{json .}}", "--", reference], reference,
                  cli)
    try:
        return EngineImage.from_inspect(reference, json_records(out)[0], cli)
    except (IndexError, ValueError, KeyError, TypeError, AttributeError):
        raise UserMessageError(f"`{cli} image inspect {reference}` printed no image "
                               "description", fix=f"update the {cli} CLI, then try again"
                               ) from None


def config_document(image: EngineImage) -> dict[str, Any]:
    """The image config as the archive holds it (``config`` and ``history``, oldest first).

    Only for an image without layers: the engine saves none (\"empty
    export\"), and the config and history are all there is to it.
    """
    out = _docker(["history", "--no-trunc", "--format", "{{json .}}", "--", image.id],
                  image.reference, image.cli)
    history = []
    for step in reversed(json_records(out)):  # the newest first
        history.append({"created_by": step.get("CreatedBy") or "",
                        "comment": step.get("Comment") or step.get("comment") or "",
                        "empty_layer": True})
    return {"config": dict(image.config), "history": history}


@contextmanager
def saved(image: EngineImage) -> Iterator[IO[bytes]]:
    """``docker save`` of ``image`` (by its ID: the image inspected), as a stream to read.

    When the stream breaks off (the tar ends early), docker's own reason is
    the error if it gave one; a broken tar from a save that succeeded is an
    error of its own.
    """
    import tarfile

    # podman saves docker's format (docker-archive) by default, as archive.py reads it.
    with process.output_stream([image.cli, "save", image.id],
                               missing=missing_fix(image.cli)) as saving:
        try:
            yield saving.stdout
        except tarfile.TarError as error:
            ended = saving.ended(within=_SAVE_GRACE)
            if ended is not None and ended[0] != 0:
                raise _stopped(image, ended[1]) from None
            raise UserMessageError(f"the engine sent a broken export of {image.reference} "
                                   f"({error})", fix="try again") from None
        code, stderr = saving.finish()
        if code != 0:
            raise _stopped(image, stderr)


def _stopped(image: EngineImage, stderr: str) -> UserMessageError:
    if _NOT_FOUND.search(stderr):  # removed since it was inspected
        return _failure(image.reference, stderr, image.cli)
    return UserMessageError(f"the engine stopped sending {image.reference} "
                            f"({_detail(stderr)})", fix="try again")
