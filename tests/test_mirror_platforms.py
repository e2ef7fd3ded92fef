"""Several platforms: `mirror add` fills each machine's wheels in one call, and a build
for several platforms is sent the wheels of each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main
from support.dockerfiles import write_dockerfile
from support.server import ServedURL
from support.wheels import make_wheel

from dockerpypi.mirror.index import update_index
from dockerpypi.mirror.targets import TargetTags, by_machine, platform_machine

NATIVE = ("cp311-cp311-manylinux_2_28_x86_64", "cp311-cp311-manylinux_2_28_aarch64",
          "cp311-cp311-win_amd64", "cp311-cp311-musllinux_1_2_x86_64")


@pytest.mark.parametrize(("platform", "machine"), [
    ("manylinux_2_28_x86_64", "x86_64"), ("manylinux2014_aarch64", "aarch64"),
    ("manylinux1_i686", "i686"), ("musllinux_1_2_armv7l", "armv7l"),
    ("linux_s390x", "s390x"), ("macosx_11_0_arm64", "arm64"), ("win_amd64", "amd64"),
    ("any", "any"),
])
def test_a_platform_tag_names_its_machine(platform: str, machine: str) -> None:
    assert platform_machine(platform) == machine


def test_the_platforms_of_several_machines_are_one_target_each() -> None:
    tags = TargetTags("3.11", ("manylinux_2_28_x86_64", "manylinux2014_aarch64",
                               "manylinux2014_x86_64"), "cp", ("cp311",))
    assert by_machine(tags) == (
        TargetTags("3.11", ("manylinux_2_28_x86_64", "manylinux2014_x86_64"), "cp", ("cp311",)),
        TargetTags("3.11", ("manylinux2014_aarch64",), "cp", ("cp311",)))
    one = TargetTags("3.11", ("manylinux_2_28_x86_64", "manylinux2014_x86_64"))
    assert by_machine(one) == (one,)
    assert by_machine(TargetTags()) == (TargetTags(),)


@pytest.fixture
def native_index(tmp_path: Path, http_mirror: Callable[..., ServedURL]) -> ServedURL:
    upstream = tmp_path / "upstream"
    for tag in NATIVE:
        make_wheel(upstream, "dpp-native", "1.0", tag=tag, origin=tag, requires=["dpp-lib"])
    make_wheel(upstream, "dpp-lib", "1.0", origin="upstream")
    update_index(upstream)
    return http_mirror(root=upstream)


def wheels(mirror: Path) -> set[str]:
    return {path.name for path in mirror.iterdir() if path.name.endswith(".whl")}


@pytest.mark.slow
def test_mirror_add_fills_every_machine_asked_in_one_call(
        tmp_path: Path, native_index: ServedURL, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = tmp_path / "mirror"
    code, out, err = run_main(["mirror", "add", "--index-url", native_index, "--mirror-dir",
                               str(mirror), "dpp-native", "--python-version", "3.11",
                               "--platform", "manylinux_2_28_x86_64",
                               "--platform", "manylinux_2_28_aarch64"], capsys)
    assert code == 0, err
    assert "resolver: uv" in err
    expected = {"dpp_native-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                "dpp_native-1.0-cp311-cp311-manylinux_2_28_aarch64.whl",
                "dpp_lib-1.0-py3-none-any.whl"}
    assert wheels(mirror) == expected
    assert set(native_index.downloads()) == expected  # nothing else was fetched
    assert "added 3 files" in out
    return_code, out, _ = run_main(["mirror", "add", "--index-url", native_index,
                                    "--mirror-dir", str(mirror), "dpp-native",
                                    "--python-version", "3.11", "--platform",
                                    "manylinux_2_28_aarch64", "--platform",
                                    "manylinux_2_28_x86_64", "--json"], capsys)
    assert return_code == 0
    assert '"added": []' in out


@pytest.mark.slow
def test_a_build_for_two_platforms_is_sent_the_wheels_of_both(
        tmp_path: Path, native_index: ServedURL, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = tmp_path / "mirror"
    code, _, err = run_main(["mirror", "add", "--index-url", native_index, "--mirror-dir",
                             str(mirror), "dpp-native", "--python-version", "3.11",
                             "--platform", "manylinux_2_28_x86_64",
                             "--platform", "manylinux_2_28_aarch64", "-q"], capsys)
    assert code == 0, err
    context = tmp_path / "context"
    context.mkdir()
    write_dockerfile(context, "dockerpypi-test/python:3.11-bookworm", "pip",
                     requirements=("dpp-native",))
    for platforms, machines, files in (("linux/amd64,linux/arm64", "x86_64, aarch64", 3),
                                       ("linux/arm64", "aarch64", 2)):
        code, _, err = run_main(["build", "--dry-run", "--offline", "--mirror-dir",
                                   str(mirror), "--platform", platforms, "-t", "app",
                                   str(context)], capsys)
        assert code == 0, err
        assert f"would send {files} of 3 mirror files" in err, err
        assert f"for CPython 3.11 on {machines}" in err
