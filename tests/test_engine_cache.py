"""The engine probe: its questions, and its answer kept between runs.

The key must change with everything that can change the answer (a swapped
docker CLI or buildx, a restarted engine, another builder or context), and
any trouble with the kept file must end in asking docker again.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockerpypi import caches
from dockerpypi.build import engine, engine_cache
from dockerpypi.build.engine import EngineInfo
from dockerpypi.errors import UserMessageError

FAKE_DOCKER = """\
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_CALLS"], "a") as calls:
    calls.write(" ".join(args) + "\\n")
if args[:1] == ["version"]:
    print(json.dumps({"Server": {"Version": "26.1.5", "Os": "linux", "Arch": "arm64"}}))
elif args[:2] == ["buildx", "version"]:
    print("github.com/docker/buildx v0.13.1 fake")
elif args[:2] == ["buildx", "inspect"]:
    print("Name: default\\nDriver: docker\\nBuildKit version: v0.13.2\\n"
          "Platforms: linux/riscv64, linux/arm64")
elif args[:2] == ["context", "inspect"]:
    print(json.dumps([{"Name": "default",
                       "Endpoints": {"docker": {"Host": os.environ["DOCKER_HOST"]}}}]))
"""


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """A docker CLI on PATH, an engine socket in DOCKER_HOST, a DOCKER_CONFIG of our own."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    docker.chmod(0o755)
    config = tmp_path / "docker-config"
    (config / "buildx" / "instances").mkdir(parents=True)
    calls = tmp_path / "calls.txt"
    calls.write_text("")
    # Short: a unix socket path has a limit of about 100 bytes.
    socket_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"dpp-{os.getpid()}-{tmp_path.name}.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(socket_path))
    for name in list(os.environ):
        if name.startswith(("DOCKER_", "BUILDX_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("FAKE_DOCKER_CALLS", str(calls))
    try:
        yield {"docker": docker, "config": config, "socket": socket_path, "calls": calls}
    finally:
        server.close()
        socket_path.unlink(missing_ok=True)


def probes(setup: dict[str, Path]) -> int:
    return setup["calls"].read_text().count("version --format")


# --- the key ------------------------------------------------------------------------

def test_the_key_changes_with_what_can_change_the_answer(
        setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    first = engine_cache.engine_key()
    assert first is not None
    assert engine_cache.engine_key() == first  # nothing changed
    seen = {first}

    def changed() -> str:
        key = engine_cache.engine_key()
        assert key is not None
        assert key not in seen
        seen.add(key)
        return key

    # The engine restarts: its socket is made anew.
    setup["socket"].unlink()
    with socket.socket(socket.AF_UNIX) as again:
        again.bind(str(setup["socket"]))
        changed()
        # Another docker CLI.
        setup["docker"].write_text(setup["docker"].read_text() + "# another build\n")
        changed()
        # A buildx plugin appears where docker looks first.
        plugins = setup["config"] / "cli-plugins"
        plugins.mkdir()
        (plugins / "docker-buildx").write_text("plugin")
        changed()
        # Another builder selected, by variable or by `docker buildx use`.
        monkeypatch.setenv("BUILDX_BUILDER", "other")
        changed()
        (setup["config"] / "buildx" / "current").write_text('{"Name": "ci"}')
        changed()
        (setup["config"] / "buildx" / "instances" / "ci").write_text("{}")
        changed()
        # A second socket path in DOCKER_HOST is another engine.
        other = setup["socket"].with_name(setup["socket"].name + "2")
        with socket.socket(socket.AF_UNIX) as second:
            second.bind(str(other))
            monkeypatch.setenv("DOCKER_HOST", f"unix://{other}")
            try:
                changed()
            finally:
                other.unlink()


def test_buildx_rewriting_the_current_builder_file_is_no_change(
        setup: dict[str, Path]) -> None:
    current = setup["config"] / "buildx" / "current"
    current.write_text('{"Name": ""}')
    key = engine_cache.engine_key()
    current.write_text('{"Name": ""}')  # buildx does this on every build
    os.utime(current, (1, 1))
    assert engine_cache.engine_key() == key


@pytest.mark.parametrize(("variable", "value"), [
    ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
    ("DOCKER_HOST", "ssh://builder@example.invalid"),
    ("DOCKER_HOST", "unix:///no/such/socket"),
    ("DOCKER_CONTEXT", "remote"),
])
def test_an_engine_that_cannot_be_recognised_has_no_key(
        setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch, variable: str,
        value: str) -> None:
    monkeypatch.setenv(variable, value)
    assert engine_cache.engine_key() is None


def test_a_docker_context_in_the_config_file_has_no_key(
        setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST")
    config = setup["config"] / "config.json"
    config.write_text(json.dumps({"currentContext": "remote"}))
    assert engine_cache.engine_key() is None
    config.write_text("{not json")
    assert engine_cache.engine_key() is None
    monkeypatch.setenv("PATH", "/nonexistent")
    assert engine_cache.engine_key() is None


# --- the probe and what is kept ----------------------------------------------------

def test_the_probe_asks_everything_and_reads_the_platforms(setup: dict[str, Path]) -> None:
    info = engine.probe_engine()
    assert info == EngineInfo("26.1.5", "v0.13.1", "docker", "v0.13.2", "linux/arm64",
                              "linux/riscv64", context="default",
                              engine_host=f"unix://{setup['socket']}", builder_name="default")
    assert probes(setup) == 1


def test_no_docker_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserMessageError, match="docker is not installed"):
        engine.current_engine()


def test_the_answer_is_kept_until_the_key_changes(setup: dict[str, Path]) -> None:
    first = engine.current_engine()
    assert engine.current_engine() == first
    assert probes(setup) == 1
    setup["docker"].write_text(setup["docker"].read_text() + "# upgraded\n")
    assert engine.current_engine() == first
    assert probes(setup) == 2
    assert engine.current_engine() == first
    assert probes(setup) == 2


@pytest.mark.parametrize("broken", [
    b"{not json", b"[]", b'{"key": 1}', b"\xff", b"",
])
def test_a_broken_cache_file_means_asking_again(setup: dict[str, Path], broken: bytes) -> None:
    first = engine.current_engine()
    caches.ENGINE.path.write_bytes(broken)
    assert engine.current_engine() == first
    assert probes(setup) == 2
    assert engine.current_engine() == first
    assert probes(setup) == 2  # and the new answer was kept


def test_a_kept_answer_of_another_shape_or_age_means_asking_again(
        setup: dict[str, Path]) -> None:
    engine.current_engine()
    path = caches.ENGINE.path
    kept = json.loads(path.read_text())
    fewer = dict(kept["info"])
    del fewer["builder_platform"]
    for change in ({"info": {**kept["info"], "unknown_field": "x"}},
                   {"info": fewer},
                   {"info": {**kept["info"], "driver": 3}},
                   {"written": kept["written"] - engine_cache.MAX_AGE_SECONDS - 1},
                   {"written": kept["written"] + 3600}):  # from the future: a clock jump
        path.write_text(json.dumps({**kept, **change}))
        before = probes(setup)
        engine.current_engine()
        assert probes(setup) == before + 1


def test_an_unwritable_cache_directory_only_costs_the_probe(
        setup: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    first = engine.current_engine()
    assert engine.current_engine() == first
    assert probes(setup) == 2
    assert blocker.read_text() == ""


def test_a_builder_outside_the_engine_is_not_kept(
        setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    remote = EngineInfo("26.1.5", "0.13.1", "docker-container", "v0.13.2", "linux/amd64", None)
    calls: list[None] = []

    def probe(builder: str | None = None) -> EngineInfo:
        calls.append(None)
        return remote

    monkeypatch.setattr(engine, "probe_engine", probe)
    assert engine.current_engine() == remote
    assert engine.current_engine() == remote
    assert len(calls) == 2
    assert not caches.ENGINE.path.exists()


def test_the_subset_takes_the_platform_from_the_probe(
        setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from dockerpypi.build.subset.wanted import builder_platform

    # The engine's own platform, unless BUILDX_BUILDER picks a builder: then that one's.
    assert builder_platform(None, engine.current_engine()) == "linux/arm64"
    monkeypatch.setenv("BUILDX_BUILDER", "cross")
    assert builder_platform(None, engine.current_engine()) == "linux/riscv64"
    assert probes(setup) == 2  # the variable is part of the key
    assert builder_platform(None, engine.current_engine()) == "linux/riscv64"
    assert probes(setup) == 2
    # A --builder of the build's own is asked about by name.
    assert builder_platform("named", engine.current_engine()) == "linux/riscv64"
    assert "buildx inspect named" in setup["calls"].read_text()
