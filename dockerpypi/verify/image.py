"""An image on the engine, read through the docker CLI: the engine `dockerpypi build` wrote to.

The docker CLI picks the engine the same way for every command: DOCKER_HOST,
else DOCKER_CONTEXT, else the current ``docker context``. So ``verify`` reads
the images ``build`` made, wherever that engine is.

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
from ..errors import UserMessageError

# `docker image inspect` and `docker history` answer in well under a second;
# a minute means the engine (or the ssh to it) hangs.
INSPECT_TIMEOUT = 60
# How long a `docker save` whose stream broke off gets to say why, before it is killed.
_SAVE_GRACE = 10
_NOT_FOUND = re.compile(r"No such image", re.IGNORECASE)


@dataclass(frozen=True)
class EngineImage:
    """What ``docker image inspect`` says about an image, as verify needs it."""

    reference: str  # as given: a name, a name:tag, an ID
    id: str  # sha256:...
    layers: tuple[str, ...]  # the layers' diff IDs, bottom first (a layer may repeat)
    size: int  # bytes, the layers unpacked
    config: Mapping[str, Any]  # the image config's "config": Env, Labels, Cmd, Entrypoint...

    @property
    def saved_layers(self) -> int:
        """How many layer blobs ``docker save`` writes: each distinct layer once."""
        return len(set(self.layers))

    @classmethod
    def from_inspect(cls, reference: str, data: Mapping[str, Any]) -> EngineImage:
        """From the JSON object ``docker image inspect --format '{{json .}}'`` prints."""
        return cls(reference=reference, id=str(data["Id"]),
                   layers=tuple((data.get("RootFS") or {}).get("Layers") or ()),
                   size=int(data.get("Size") or 0), config=data.get("Config") or {})


def _detail(stderr: str) -> str:
    """docker's last words, on one line, short, with any URL credentials taken out."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()] or ["no answer"]
    detail = lines[-1].removeprefix("Error: ").removeprefix("Error response from daemon: ")
    detail = detail if len(detail) <= 200 else detail[:200] + "..."
    return process.redact([detail])[0]


def _failure(reference: str, stderr: str) -> UserMessageError:
    if _NOT_FOUND.search(stderr):
        return UserMessageError(f"no image {reference} on the engine",
                                fix="build it with --load (or -t and the docker driver), or "
                                    "give its ID")
    return UserMessageError(f"no Docker engine answers ({_detail(stderr)})",
                            fix="start the engine, or point DOCKER_HOST or `docker context "
                                "use` at one")


def _docker(argv: list[str], reference: str) -> str:
    done = process.output_of(["docker", *argv], timeout=INSPECT_TIMEOUT)
    if done.returncode != 0:
        raise _failure(reference, done.stderr)
    return done.stdout


def inspect_image(reference: str) -> EngineImage:
    """The image ``reference`` names on the engine; one line with the fix if there is none."""
    out = _docker(["image", "inspect", "--format", "{{json .}}", "--", reference], reference)
    try:
        return EngineImage.from_inspect(reference, json.loads(out.splitlines()[0]))
    except (IndexError, ValueError, KeyError, TypeError, AttributeError):
        raise UserMessageError(f"`docker image inspect {reference}` printed no image "
                               "description", fix="update the docker CLI, then try again"
                               ) from None


def config_document(image: EngineImage) -> dict[str, Any]:
    """The image config as the archive holds it (``config`` and ``history``, oldest first).

    Only for an image without layers: the engine saves none (\"empty
    export\"), and the config and history are all there is to it.
    """
    out = _docker(["history", "--no-trunc", "--format", "{{json .}}", "--", image.id],
                  image.reference)
    history = []
    for line in reversed(out.splitlines()):  # docker lists the newest first
        if line.strip():
            step = json.loads(line)
            history.append({"created_by": step.get("CreatedBy") or "",
                            "comment": step.get("Comment") or "", "empty_layer": True})
    return {"config": dict(image.config), "history": history}


@contextmanager
def saved(image: EngineImage) -> Iterator[IO[bytes]]:
    """``docker save`` of ``image`` (by its ID: the image inspected), as a stream to read.

    When the stream breaks off (the tar ends early), docker's own reason is
    the error if it gave one; a broken tar from a save that succeeded is an
    error of its own.
    """
    import tarfile

    with process.output_stream(["docker", "save", image.id]) as saving:
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
        return _failure(image.reference, stderr)
    return UserMessageError(f"the engine stopped sending {image.reference} "
                            f"({_detail(stderr)})", fix="try again")
