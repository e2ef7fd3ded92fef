"""The transport decision, from what the engine and builder report."""

from __future__ import annotations

import pytest

from dockerpypi.build.engine import (
    BuilderInfo,
    EngineInfo,
    choose_transport,
    parse_inspect,
    parse_version,
)
from dockerpypi.errors import UserMessageError


@pytest.mark.parametrize(("info", "kind", "buildx", "why"), [
    (EngineInfo("26.1.5+dfsg1", "0.13.1+ds1", "docker", "v0.0.0+unknown"), "context", True,
     "supports named build contexts"),
    (EngineInfo("20.10.24+dfsg1", "0.13.1", "docker", "v0.8.2"), "http", True,
     "built-in BuildKit has no named build contexts"),
    (EngineInfo("20.10.24", None, None, None), "http", False, "buildx is not installed"),
    (EngineInfo("24.0.7", "0.7.1", "docker", None), "http", True, "predates named build"),
    (EngineInfo("20.10.24", "0.12.1", "docker-container", "v0.12.5"), "context", True,
     "docker-container builder supports"),
    (EngineInfo("20.10.24", "0.12.1", "docker-container", "v0.9.3"), "http", True,
     "BuildKit v0.9.3 has no named"),
    (EngineInfo("27.3.1", "0.17.1", "remote", "v0.0.0+unknown"), "context", True,
     "remote builder supports"),
])
def test_auto_transport(info: EngineInfo, kind: str, buildx: bool, why: str) -> None:
    chosen = choose_transport(info)
    assert (chosen.kind, chosen.use_buildx) == (kind, buildx)
    assert why in chosen.reason


def test_requested_transport_wins_but_context_needs_buildx() -> None:
    modern = EngineInfo("26.1.5", "0.13.1", "docker", None)
    assert choose_transport(modern, "http").kind == "http"
    old = EngineInfo("20.10.24", None, None, None)
    with pytest.raises(UserMessageError, match="needs the docker buildx plugin"):
        choose_transport(old, "context")


@pytest.mark.parametrize(("text", "expected"), [
    ("26.1.5+dfsg1", (26, 1, 5)), ("v0.13.1", (0, 13, 1)), ("20.10.24", (20, 10, 24)),
    ("v0.0.0+unknown", (0, 0, 0)), ("v0.12", (0, 12, 0)), ("23", (23, 0, 0)),
    ("v0.13.1-desktop.1", (0, 13, 1)), ("", None), (None, None), ("dev", None),
])
def test_version_parsing(text: str | None, expected: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize(("info", "kind"), [
    # The bounds themselves: 0.8 has named contexts, Engine 23 too, BuildKit 0.10 too,
    # whatever number of parts the version is written with.
    (EngineInfo("24.0.7", "0.8", "docker", None), "context"),
    (EngineInfo("24.0.7", "v0.7.99", "docker", None), "http"),
    (EngineInfo("23", "0.10.0", "docker", None), "context"),
    (EngineInfo("22.06.0-beta.0", "0.10.0", "docker", None), "http"),
    (EngineInfo("20.10.24", "0.12.1", "docker-container", "v0.10"), "context"),
    (EngineInfo("20.10.24", "0.12.1", "docker-container", "v0.9.99"), "http"),
    (EngineInfo("20.10.24", "0.12.1", "docker-container", "v0.0.0+unknown"), "context"),
])
def test_version_bounds(info: EngineInfo, kind: str) -> None:
    assert choose_transport(info).kind == kind


def test_the_settings_travel_as_a_context_only_where_they_can() -> None:
    context = choose_transport(EngineInfo("26.1.5", "0.13.1", "docker", None))
    assert context.config_form(credentials=False) == "context"
    assert context.config_form(credentials=True) == "secrets"  # a context stays in the cache
    assert (context.docker, context.env) == (("docker", "buildx", "build"), None)
    served = choose_transport(EngineInfo("20.10.24", None, None, None))
    assert served.config_form(credentials=False) == "secrets"
    assert (served.docker, served.env) == (("docker", "build"), {"DOCKER_BUILDKIT": "1"})


INSPECT = """\
Name:          default
Driver:        docker
Last Activity: 2024-05-01 09:26:36 +0000 UTC

Nodes:
Name:             default
Endpoint:         default
Status:           running
BuildKit version: v0.13.2
Platforms:        linux/amd64, linux/amd64/v2, linux/386
"""


def test_buildx_inspect_is_read_into_a_model() -> None:
    builder = parse_inspect(INSPECT)
    assert builder == BuilderInfo("docker", "v0.13.2", ("linux/amd64", "linux/amd64/v2",
                                                        "linux/386"), "default", "default")
    assert builder.platform == "linux/amd64"
    # A second node's lines do not change the first's answer.
    second = "Name: other\nBuildKit version: v0.9.0\nPlatforms: linux/arm64\n"
    assert parse_inspect(INSPECT + second) == builder
    # An empty Platforms line (a node not yet booted) says nothing.
    assert parse_inspect("Platforms:\nPlatforms: linux/arm64\n").platform == "linux/arm64"
    nothing = parse_inspect("")
    assert nothing == BuilderInfo(None, None, ())
    assert nothing.platform is None
