"""What ``verify`` found, and how it reads: the findings, the result, its text and JSON.

Every text shown passes through :func:`dockerpypi.verify.needles.redactor`
first, so that no credential leaves in a report.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..errors import UserMessageError
from .needles import MAX_READ, Needle, redactor


@dataclass(frozen=True)
class Finding:
    """One trace: where it is (a layer and its step, the config, a document), and what."""

    where: str  # "layer 2/5 (step 3: RUN ...)", "config", "history step 4 (...)", ...
    path: str  # a file in a layer, a config field, a JSON path
    problem: str
    layer: int | None = None  # 1-based layer index
    step: int | None = None  # 1-based history step

    def __str__(self) -> str:
        return f"{self.where}: {self.path}: {self.problem}"

    def to_json(self) -> dict[str, object]:
        return {"where": self.where, "layer": self.layer, "step": self.step,
                "path": self.path, "problem": self.problem}


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify`` found in one image (and metadata file)."""

    image: str
    image_id: str | None
    layers: int
    files_read: int
    skipped: tuple[str, ...]  # files too large to read
    searched: tuple[str, ...]  # needle labels
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, object]:
        return {
            "image": self.image,
            "id": self.image_id,
            "clean": self.clean,
            "layers": self.layers,
            "files_read": self.files_read,
            "skipped_large_files": list(self.skipped),
            "searched_for": list(self.searched),
            "findings": [finding.to_json() for finding in self.findings],
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
        }


def report_lines(result: VerifyResult, needles: Sequence[Needle]) -> Iterator[str]:
    """The text report: one line per finding, credentials taken out."""
    clean = redactor(needles)
    for finding in result.findings:
        yield clean(str(finding))
    for note in result.notes:
        yield clean(f"note: {note}")


def report_json(result: VerifyResult, needles: Sequence[Needle]) -> dict[str, object]:
    """:meth:`VerifyResult.to_json` with credentials taken out of every text."""
    clean = redactor(needles)

    def scrub(value: object) -> object:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        return value

    data = scrub(result.to_json())
    assert isinstance(data, dict)
    return data


def summary(result: VerifyResult) -> str:
    """The last line of the text report: clean or how many traces, and what was read."""
    skipped = f", {len(result.skipped)} over {MAX_READ >> 20} MiB not read" \
        if result.skipped else ""
    searched = ", ".join(result.searched) or "nothing but the shapes of installer config"
    count = len(result.findings)
    state = "clean" if result.clean else f"{count} trace{'' if count == 1 else 's'}"
    return (f"{result.image}: {state} ({result.layers} layers, {result.files_read} files "
            f"read{skipped}; searched for {searched}) in {result.seconds:.1f}s")


def failure(result: VerifyResult) -> UserMessageError | None:
    """The error ``verify`` (and ``build --verify``) ends with: None for a clean image."""
    if result.clean:
        return None
    count = len(result.findings)
    return UserMessageError(
        f"{result.image} keeps {count} trace{'' if count == 1 else 's'} of the mirror "
        "configuration (see the report)",
        fix="remove the ARG, ENV, COPY or RUN that put them there and build with "
            "`dockerpypi build`, which passes the mirror settings to the build steps as a "
            "build context (or secrets), never in a layer")
