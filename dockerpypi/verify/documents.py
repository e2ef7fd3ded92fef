"""The image config, its history, and JSON documents (metadata file, provenance): their traces.

Both functions are pure: they take a parsed document and the needles, and
return :class:`~dockerpypi.verify.report.Finding` objects.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .needles import INDEX_ASSIGNMENT, INDEX_ENV, INDEX_VARIABLE, Needle, redactor, shorten
from .report import Finding

_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def scan_config(config: Mapping[str, Any], needles: Sequence[Needle], *,
                prefix: str = "") -> list[Finding]:
    """Traces in an image config: Env, Labels, Cmd, Entrypoint, history, everything else."""
    findings: list[Finding] = []
    settings = config.get("config") or {}
    where = f"{prefix}config"
    clean = redactor(needles)

    def shown(text: str) -> str:
        return shorten(clean(text))

    def hits(text: str) -> list[Needle]:
        return [n for n in needles if n.found_in(text.encode())]

    for entry in settings.get("Env") or []:
        variable = str(entry).split("=", 1)[0]
        if INDEX_ENV.match(str(entry)):
            findings.append(Finding(where, f"Env {variable}", "sets a variable that points "
                                                              "an installer at an index"))
        findings += [Finding(where, f"Env {variable}", n.found) for n in hits(str(entry))]
    for key, value in (settings.get("Labels") or {}).items():
        findings += [Finding(where, f"Labels {key}", n.found)
                     for n in hits(f"{key}={value}")]
    for name in ("Cmd", "Entrypoint"):
        findings += [Finding(where, name, n.found)
                     for n in hits(json.dumps(settings.get(name)))]
    for number, step in enumerate(config.get("history") or [], start=1):
        text = f"{step.get('created_by', '')} {step.get('comment', '')}"
        label = f"{prefix}history step {number} ({shown(step.get('created_by', ''))})"
        match = INDEX_ASSIGNMENT.search(text)
        if match:
            findings.append(Finding(label, "created_by", f"sets {match.group(0)[:-1]} (a build "
                                                         "arg or variable that selects an "
                                                         "index)", step=number))
        findings += [Finding(label, "created_by", n.found, step=number) for n in hits(text)]
    # Everything else (OnBuild, Healthcheck, the legacy builder's container_config...).
    rest = {key: value for key, value in config.items() if key not in ("config", "history")}
    rest["config"] = {key: value for key, value in settings.items()
                      if key not in ("Env", "Labels", "Cmd", "Entrypoint")}
    findings += [Finding(where, "other fields", n.found) for n in hits(json.dumps(rest))]
    return findings


def scan_document(document: Any, needles: Sequence[Needle], where: str) -> list[Finding]:
    """Traces in a JSON document (metadata file, provenance, manifest), field by field.

    Strings that are base64 (BuildKit puts the Dockerfile into max-mode
    provenance that way, and buildx the provenance itself into the metadata
    file) are decoded and searched too; decoded JSON is walked in turn.
    """
    findings: list[Finding] = []

    def check(data: bytes, path: str, how: str) -> None:
        findings.extend(Finding(where, path or "/", f"{how}{n.found}")
                        for n in needles if n.found_in(data))

    def walk(value: Any, path: str, depth: int) -> None:
        if depth > 64:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                key = str(key)
                child = f"{path}/{key}"
                check(key.encode(), child, "its key ")
                if key.startswith("build-arg:") and re.fullmatch(
                        INDEX_VARIABLE, key.removeprefix("build-arg:")):
                    findings.append(Finding(where, child, "a build arg that selects an index"))
                walk(item, child, depth + 1)
        elif isinstance(value, list):
            for position, item in enumerate(value):
                walk(item, f"{path}/{position}", depth + 1)
        elif isinstance(value, str):
            check(value.encode(), path, "")
            decoded = _base64(value)
            if decoded is not None:
                try:
                    inner = json.loads(decoded)
                except ValueError:
                    check(decoded, path, "(base64) ")
                else:
                    if isinstance(inner, (dict, list)):
                        walk(inner, f"{path}(base64)", depth + 1)
                    else:
                        check(decoded, path, "(base64) ")

    walk(document, "", 0)
    return findings


def _base64(text: str) -> bytes | None:
    stripped = "".join(text.split())
    if len(stripped) < 16 or not _BASE64.fullmatch(stripped):
        return None
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
