"""The test support that packs installed tools into wheels installs and runs them again."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from support.wheelhouse import pack_installed


def test_packed_wheels_install_offline_and_run(tool_wheels: Callable[..., Path],
                                               tmp_path: Path) -> None:
    wheels = tool_wheels("pip")
    target = tmp_path / "target"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--isolated", "--no-index", "--no-deps",
         "--find-links", str(wheels), "--target", str(target), "pip"],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    ran = subprocess.run([sys.executable, "-m", "pip", "--version"], cwd=tmp_path,
                         env={"PYTHONPATH": str(target)}, capture_output=True, text=True,
                         check=False)
    assert ran.stdout.startswith("pip "), ran.stderr
    assert str(target) in ran.stdout


def test_packed_wheel_has_no_installer_files_and_a_full_record(tmp_path: Path) -> None:
    (wheel,) = pack_installed(["packaging"], tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = next(name for name in names if name.endswith(".dist-info/RECORD"))
        listed = {line.split(",")[0] for line in archive.read(record).decode().splitlines()}
    assert not any(name.endswith(("/INSTALLER", "/direct_url.json", ".pyc")) for name in names)
    assert listed == set(names)
    assert wheel.name.endswith("-py3-none-any.whl")


def test_a_packed_uv_wheel_carries_its_program(tool_wheels: Callable[..., Path],
                                               tmp_path: Path) -> None:
    (wheel,) = tool_wheels("uv").glob("uv-*.whl")
    target = tmp_path / "target"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--isolated", "--no-index", "--no-deps",
         "--target", str(target), str(wheel)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    ran = subprocess.run([str(target / "bin" / "uv"), "--version"], capture_output=True,
                         text=True, check=False)
    assert ran.stdout.startswith("uv "), ran.stderr
