"""``mirror add`` with uv resolving and dockerpypi downloading: tags, hashes, credentials.

The pure parts (pip's tag order, uv's target words, the choice of resolver,
uv's command line) are tested as functions; the rest runs the real uv against
a fake upstream index on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.tags import Tag
from support.cli import run_main as run
from support.server import ServedURL
from support.wheels import make_wheel

from dockerpypi.errors import UsageError, UserMessageError
from dockerpypi.mirror.check import check_mirror
from dockerpypi.mirror.download import Downloader
from dockerpypi.mirror.index import update_index
from dockerpypi.mirror.picks import Pick
from dockerpypi.mirror.resolve import (
    ResolverChoice,
    _reason,
    choose_files,
    choose_resolver,
    plan_uv,
    uv_environment,
)
from dockerpypi.mirror.targets import TargetTags, best_wheel, supported_tags, uv_target
from dockerpypi.settings.urls import parse_mirror_url

BENCH = TargetTags("3.11", ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64",
                            "manylinux2014_x86_64", "manylinux1_x86_64"), "cp", ("cp311",))
X86_TAGS = ("cp311-cp311-manylinux2014_x86_64", "cp311-abi3-manylinux_2_28_x86_64",
            "cp311-cp311-manylinux_2_28_x86_64", "cp39-cp39-manylinux2014_aarch64",
            "cp311-cp311-musllinux_1_2_x86_64")
TARGET_ARGS = ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
               "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64"]
UV = ResolverChoice("uv", uv="/opt/uv", target=("--python-version", "3.11"))


# --- pip's choice of wheel, and uv's target ------------------------------------------

def test_the_best_wheel_is_the_one_pip_would_pick() -> None:
    supported = supported_tags(BENCH)
    wheels = [f"demo-1.0-{tag}.whl" for tag in X86_TAGS] + ["demo-1.0-py3-none-any.whl"]

    assert best_wheel(wheels, supported) == "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert best_wheel(wheels[:2], supported) == "demo-1.0-cp311-cp311-manylinux2014_x86_64.whl"
    # a compressed tag set counts by its best tag; pure Python comes after every binary
    assert best_wheel(["a-1-py3-none-any.whl", "a-1-cp311-cp311-manylinux1_x86_64."
                       "manylinux_2_5_x86_64.whl"], supported) != "a-1-py3-none-any.whl"
    assert best_wheel(["a-1-py3-none-any.whl", "not a wheel.whl"], supported) \
        == "a-1-py3-none-any.whl"
    assert best_wheel(["a-1-cp39-cp39-manylinux2014_aarch64.whl"], supported) is None


def test_legacy_manylinux_tags_stand_for_the_older_ones_as_in_pip() -> None:
    supported = supported_tags(TargetTags("3.11", ("manylinux2014_x86_64",)))
    assert Tag("cp311", "cp311", "manylinux1_x86_64") in supported
    assert Tag("cp311", "cp311", "manylinux_2_17_x86_64") not in supported
    assert supported.index(Tag("cp311", "cp311", "manylinux2014_x86_64")) == 0


@pytest.mark.parametrize(("tags", "words"), [
    (BENCH, ("--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28")),
    (TargetTags("311", ("manylinux2014_aarch64",)),
     ("--python-version", "3.11", "--python-platform", "aarch64-manylinux_2_17")),
    (TargetTags("3.12", ("win_amd64",), "cp", ("cp312", "abi3", "none")),
     ("--python-version", "3.12", "--python-platform", "x86_64-pc-windows-msvc")),
    (TargetTags(), ()),
])
def test_target_tags_become_uv_words(tags: TargetTags, words: tuple[str, ...]) -> None:
    assert uv_target(tags) == words


@pytest.mark.parametrize(("tags", "reason"), [
    (TargetTags("3.11", ("musllinux_1_2_x86_64",)), "uv has no target for --platform"),
    (TargetTags("3.11", ("manylinux_2_28_x86_64", "manylinux2014_aarch64")), "one architecture"),
    (TargetTags("3.11", ("manylinux_2_24_x86_64", "manylinux1_x86_64")),
     "no manylinux_2_24 target"),
    (TargetTags("3.10", implementation="pp"), "CPython only"),
    (TargetTags("3.11", abis=("cp311d",)), "not --abi cp311d"),
    (TargetTags("3"), "as X.Y"),
])
def test_targets_uv_cannot_take_are_refused_with_the_reason(tags: TargetTags,
                                                            reason: str) -> None:
    from dockerpypi.mirror.targets import UnmappableTarget

    with pytest.raises(UnmappableTarget, match=reason):
        uv_target(tags)


# --- who resolves -----------------------------------------------------------------

def test_uv_is_the_default_and_pip_takes_over_with_a_reason() -> None:
    found: Callable[[], str | None] = lambda: "/opt/uv"  # noqa: E731
    missing: Callable[[], str | None] = lambda: None  # noqa: E731
    musl = TargetTags("3.11", ("musllinux_1_2_x86_64",))

    assert choose_resolver("auto", image=None, tags=BENCH, uv=found) == ResolverChoice(
        "uv", "/opt/uv", ("--python-version", "3.11", "--python-platform",
                          "x86_64-manylinux_2_28"))
    assert choose_resolver("pip", image=None, tags=BENCH, uv=found).name == "pip"
    assert choose_resolver("auto", image="python:3.12", tags=TargetTags(), uv=found) \
        == ResolverChoice("pip")
    auto_musl = choose_resolver("auto", image=None, tags=musl, uv=found)
    assert auto_musl.name == "pip"
    assert auto_musl.note is not None
    assert auto_musl.note.startswith("uv has no target for --platform musllinux_1_2_x86_64")
    absent = choose_resolver("auto", image=None, tags=BENCH, uv=missing)
    assert absent.name == "pip"
    assert absent.note is not None
    assert "uv was not found" in absent.note


@pytest.mark.parametrize(("image", "tags", "uv", "error", "message"), [
    ("python:3.12", TargetTags(), "/opt/uv", UsageError, "drop --resolver uv"),
    (None, TargetTags("3.11", ("musllinux_1_2_x86_64",)), "/opt/uv", UsageError,
     "use --resolver pip"),
    (None, TargetTags(), None, UserMessageError, "pip install uv, or use --resolver pip"),
])
def test_asking_for_uv_by_name_when_it_cannot_run_is_an_error(
        image: str | None, tags: TargetTags, uv: str | None, error: type[Exception],
        message: str) -> None:
    with pytest.raises(error, match=message):
        choose_resolver("uv", image=image, tags=tags, uv=lambda: uv)


def test_uv_runs_isolated_with_credentials_only_in_its_environment(tmp_path: Path) -> None:
    indexes = [parse_mirror_url("https://me:p%40ss@private.example/simple/", origin="t"),
               parse_mirror_url("https://public.example/simple/", origin="t")]
    plan = plan_uv(tmp_path, ["app<2"], [tmp_path / "req.txt"], choice=UV, indexes=indexes,
                   tags=TargetTags("3.11"), only_binary=None, mode="target tags",
                   secrets=("p@ss",), retries=2, timeout=7.5, python="/py",
                   environ={"UV_INDEX_URL": "http://evil/", "UV_CACHE_DIR": "/c",
                            "UV_FIND_LINKS": "/x", "HOME": "/h"})

    assert not [arg for arg in plan.argv if "p@ss" in arg or "p%40ss" in arg]
    assert "--default-index" not in plan.argv
    assert plan.env["UV_INDEX"] == "https://me:p%40ss@private.example/simple/"
    assert plan.env["UV_DEFAULT_INDEX"] == "https://public.example/simple/"
    assert "UV_INDEX_URL" not in plan.env
    assert "UV_FIND_LINKS" not in plan.env
    assert (plan.env["UV_CACHE_DIR"], plan.env["UV_PYTHON_DOWNLOADS"]) == ("/c", "never")
    assert (plan.env["UV_HTTP_RETRIES"], plan.env["UV_HTTP_TIMEOUT"]) == ("2", "8")
    assert plan.argv[:8] == ("/opt/uv", "pip", "compile", "--no-config", "--format",
                             "pylock.toml", "--no-header", "--no-progress")
    assert plan.argv[-2:] == (str(tmp_path / "req.txt"), "-")
    assert "--only-binary" in plan.argv  # target tags: wheels only, as with pip
    assert plan.requirements == "app<2\n"
    assert dict(plan.auth) == {("https", "private.example", 443): indexes[0].credentials}


def test_without_credentials_the_indexes_keep_pips_order_in_argv(tmp_path: Path) -> None:
    indexes = [parse_mirror_url(u, origin="t") for u in ("http://a/", "http://b/", "http://c/")]
    plan = plan_uv(tmp_path, ["x"], [], choice=UV, indexes=indexes, tags=TargetTags(),
                   only_binary=None, mode="host", secrets=(), environ={})
    argv = " ".join(plan.argv)
    assert "--index http://a/ --index http://b/ --default-index http://c/" in argv
    assert "--only-binary" not in plan.argv
    assert plan.allow_sdist
    assert uv_environment({"UV_NATIVE_TLS": "1", "UV_INDEX": "x"}) == {
        "UV_NATIVE_TLS": "1", "UV_PYTHON_DOWNLOADS": "never"}


def test_a_package_without_a_fitting_wheel_is_named() -> None:
    lock = {"packages": [
        {"name": "native", "version": "1.0",
         "wheels": [{"url": "http://h/native-1.0-cp39-cp39-manylinux2014_aarch64.whl"}],
         "sdist": {"url": "http://h/native-1.0.tar.gz", "hashes": {"sha256": "ab"}}}]}
    supported = supported_tags(BENCH)

    with pytest.raises(UserMessageError, match=r"uv chose native 1\.0, but none of its wheels "
                                               r"fits the target tags \(wheels: native-1\.0-"):
        choose_files(lock, supported, allow_sdist=False)
    assert choose_files(lock, supported, allow_sdist=True) == (
        Pick("native-1.0.tar.gz", "http://h/native-1.0.tar.gz", "ab"),)


def test_uvs_error_report_becomes_one_line() -> None:
    lines = ["Resolved 2 packages", "\u00d7 No solution found when resolving dependencies:",
             "\u2570\u2500\u25b6 Because nope was not found in the package registry, your "
             "requirements are unsatisfiable."]
    assert _reason(lines) == ("No solution found when resolving dependencies: Because nope "
                              "was not found in the package registry, your requirements are "
                              "unsatisfiable")
    # uv's plain form, when its output is not a terminal
    assert _reason(["error: No solution found", "  cause: Because x was not found."]) == (
        "No solution found: Because x was not found")


# --- downloading ------------------------------------------------------------------

def test_a_failed_download_is_one_line_and_leaves_nothing_behind(
        tmp_path: Path, upstream_index: ServedURL) -> None:
    mirror = tmp_path / "mirror"
    missing = Pick("gone-1.0-py3-none-any.whl", f"{upstream_index}gone-1.0-py3-none-any.whl")
    with pytest.raises(UserMessageError) as caught:
        Downloader(mirror, retries=0).fetch_all([missing])
    assert caught.value.problem == (f"downloading gone-1.0-py3-none-any.whl from {missing.url} "
                                    "failed: HTTP 404 File not found")
    assert caught.value.fix == "check the index and its credentials, then run again"
    assert list(mirror.iterdir()) == []


# --- the command, with the real uv against a fake upstream ------------------------

def tagged_copies(upstream: Path, name: str, tags: tuple[str, ...], **kwargs: object) -> None:
    """One wheel per tag (the same bytes: uv and dockerpypi go by the file name)."""
    built = make_wheel(upstream, name, "1.0", origin="upstream", **kwargs)  # type: ignore[arg-type]
    for tag in tags:
        shutil.copy(built, upstream / built.name.replace("py3-none-any", tag))
    built.unlink()


@pytest.fixture
def native_upstream(tmp_path: Path, http_mirror: Callable[..., ServedURL]) -> ServedURL:
    upstream = tmp_path / "upstream"
    tagged_copies(upstream, "dpp-native", X86_TAGS,
                  requires=["dpp-lib>=1", 'dpp-linux-only; sys_platform == "linux"'])
    make_wheel(upstream, "dpp-lib", "1.0", origin="upstream")
    make_wheel(upstream, "dpp-linux-only", "1.0", origin="upstream")
    make_wheel(upstream, "dpp-unrelated", "1.0", origin="upstream")
    update_index(upstream)
    return http_mirror(root=upstream)


def add(capsys: pytest.CaptureFixture[str], mirror: Path, index: str,
        *args: str) -> tuple[int, str, str]:
    return run(["mirror", "add", "--index-url", index, "--mirror-dir", str(mirror), *args],
               capsys)


def distributions(mirror: Path) -> set[str]:
    return {p.name for p in mirror.iterdir() if p.name.endswith(".whl")}


@pytest.mark.slow
def test_uv_fills_for_another_platform_with_the_best_wheel_and_a_rerun_adds_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        native_upstream: ServedURL) -> None:
    mirror = tmp_path / "mirror"

    code, out, err = add(capsys, mirror, native_upstream, "dpp-native", *TARGET_ARGS)

    assert code == 0, err
    assert "resolver: uv (dockerpypi downloads" in err
    expected = {"dpp_native-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                "dpp_lib-1.0-py3-none-any.whl", "dpp_linux_only-1.0-py3-none-any.whl"}
    assert distributions(mirror) == expected
    assert set(native_upstream.downloads()) == expected  # no other file was fetched
    assert "added 3 files" in out
    assert check_mirror(mirror).ok

    (mirror / "dpp_lib-1.0-py3-none-any.whl").write_bytes(b"stale")  # wrong hash: replaced
    fetched = len(native_upstream.requests)
    code, out, err = add(capsys, mirror, native_upstream, "dpp-native", *TARGET_ARGS, "--json")

    assert code == 0, err
    result = json.loads(out)
    assert (result["resolver"], result["added"]) == ("uv", ["dpp_lib-1.0-py3-none-any.whl"])
    wheels_fetched = [r.path for r in native_upstream.requests[fetched:]
                      if r.path.endswith(".whl")]
    assert wheels_fetched == ["/dpp_lib-1.0-py3-none-any.whl"]
    assert check_mirror(mirror).ok


@pytest.mark.slow
def test_uv_fills_for_an_aarch64_image_on_this_machine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        native_upstream: ServedURL) -> None:
    mirror = tmp_path / "mirror"
    code, out, err = add(capsys, mirror, native_upstream, "dpp-native", "--python-version",
                         "3.9", "--platform", "manylinux2014_aarch64", "--quiet")
    assert (code, out, err) == (0, "", "")
    assert "dpp_native-1.0-cp39-cp39-manylinux2014_aarch64.whl" in distributions(mirror)


@pytest.mark.slow
def test_a_file_changed_on_the_upstream_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        native_upstream: ServedURL) -> None:
    changed = native_upstream.root / "dpp_lib-1.0-py3-none-any.whl"
    changed.write_bytes(changed.read_bytes() + b"tampered")  # after its hash was indexed
    mirror = tmp_path / "mirror"

    code, _, err = add(capsys, mirror, native_upstream, "dpp-native", *TARGET_ARGS)

    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("dockerpypi: error: dpp_lib-1.0-py3-none-any.whl from "
                           f"{native_upstream}dpp_lib-1.0-py3-none-any.whl has sha256 ")
    assert "but the index says" in last
    assert "dpp_lib-1.0-py3-none-any.whl" not in distributions(mirror)
    assert not [p for p in mirror.iterdir() if p.name.startswith(".dpp_lib")]  # no temp file


@pytest.mark.slow
def test_credentials_reach_uv_and_the_downloads_but_never_the_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        http_mirror: Callable[..., ServedURL]) -> None:
    upstream = tmp_path / "upstream"
    make_wheel(upstream, "app", "1.0", requires=["lib"])
    make_wheel(upstream, "lib", "1.0")
    update_index(upstream)
    served = http_mirror(root=upstream, username="me", password="s3cr3t")
    index = served.replace("http://", "http://me:s3cr3t@")

    code, out, err = add(capsys, tmp_path / "mirror", index, "app", "--resolver", "uv",
                         "--json")

    assert code == 0, err
    assert "s3cr3t" not in out + err
    result = json.loads(out)
    assert result["resolver"] == "uv"
    assert result["indexes"] == [served.replace("http://", "http://***@")]
    assert sorted(result["added"]) == ["app-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl"]
    assert 401 not in {r.status for r in served.requests if r.path.endswith(".whl")}


@pytest.mark.slow
def test_without_uv_pip_resolves_and_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        native_upstream: ServedURL) -> None:
    import uv

    def no_uv() -> str:
        raise FileNotFoundError("uv")

    monkeypatch.setattr(uv, "find_uv_bin", no_uv)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # pip runs as sys.executable -m pip
    mirror = tmp_path / "mirror"

    code, out, err = add(capsys, mirror, native_upstream, "dpp-native", *TARGET_ARGS)

    assert code == 0, err
    assert "resolver: pip download (uv was not found (pip install uv for a faster fill): " \
           "pip resolves instead)" in err
    assert "dpp_native-1.0-cp311-cp311-manylinux_2_28_x86_64.whl" in distributions(mirror)
    assert "added 3 files" in out


@pytest.mark.slow
def test_resolver_pip_is_chosen_by_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        native_upstream: ServedURL) -> None:
    code, out, err = add(capsys, tmp_path / "mirror", native_upstream, "dpp-lib",
                         "--resolver", "pip", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["resolver"] == "pip"
    assert result["command"].split()[1:4] == ["-m", "pip", "download"]
    assert result["added"] == ["dpp_lib-1.0-py3-none-any.whl"]


def test_resolver_uv_with_image_is_refused_with_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = add(capsys, tmp_path, "http://127.0.0.1:9/", "x", "--image",
                       "python:3.12-slim", "--resolver", "uv")
    assert code == 2
    assert "--image runs pip inside the image: drop --resolver uv" in err
    assert list(tmp_path.iterdir()) == []


def test_a_killed_downloads_leftover_is_removed_once_it_is_stale(tmp_path: Path) -> None:
    import os
    import time

    from dockerpypi.mirror.download import STALE_DOWNLOAD_SECONDS, remove_stale_downloads

    stale = tmp_path / ".six-1.16.0-py2.py3-none-any.whl.abc123.dockerpypi-download"
    fresh = tmp_path / ".six-1.17.0-py2.py3-none-any.whl.def456.dockerpypi-download"
    kept = tmp_path / "six-1.16.0-py2.py3-none-any.whl"
    for path in (stale, fresh, kept):
        path.write_bytes(b"x")
    old = time.time() - STALE_DOWNLOAD_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(kept, (old, old))
    remove_stale_downloads(tmp_path)
    # Another fill may still be writing the fresh one; finished files are never touched.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, kept.name])
