"""Build backends for the fake index: a tiny PEP 517 backend, and wheels of installed ones.

No real backend can be downloaded in a test. ``make_backend`` writes one as a
wheel: its ``get_requires_for_build_wheel`` asks for a second package (so the
path of what a backend asks for is proven, not only ``[build-system]
requires``), and its ``build_wheel`` imports that package and writes the
project's wheel with the standard library. ``wheel_of_installed`` packs a
distribution installed in the test's own environment (hatchling, pip) back
into a wheel, from the files its RECORD lists; ``setuptools_from_image`` takes
setuptools and wheel from the Debian files of the base image.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import subprocess
import zipfile
from pathlib import Path

from support.docker import LABELS
from support.wheels import make_wheel

BACKEND = "dpp-backend"
HELPER = "dpp-build-helper"

_BACKEND_SOURCE = '''\
"""A PEP 517 backend that needs dpp-build-helper to build, which it asks for."""
import base64, hashlib, io, os, tarfile, tomllib, zipfile

def _project():
    with open("pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]

def get_requires_for_build_wheel(config_settings=None):
    return ["dpp-build-helper>=1"]

def get_requires_for_build_sdist(config_settings=None):
    return []

def _hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    import dpp_build_helper  # only in the build environment: what the hook asked for
    project = _project()
    name, version = project["name"], project["version"]
    module = name.replace("-", "_")
    entries = {}
    for root, dirs, files in os.walk(module):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for file in sorted(files):
            path = os.path.join(root, file)
            with open(path, "rb") as handle:
                entries[path.replace(os.sep, "/")] = handle.read()
    entries[f"{module}/_built_with.py"] = (
        f"HELPER = {dpp_build_helper.__version__!r}\\n".encode())
    info = f"{module}-{version}.dist-info"
    metadata = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in project.get("dependencies", [])]
    entries[f"{info}/METADATA"] = ("\\n".join(metadata) + "\\n").encode()
    entries[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\\nGenerator: dpp-backend\\n"
                                b"Root-Is-Purelib: true\\nTag: py3-none-any\\n")
    record = "".join(f"{p},{_hash(d)},{len(d)}\\n" for p, d in entries.items())
    entries[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\\n").encode()
    filename = f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in entries.items():
            archive.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), data)
    return filename

def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    base = f"{project['name'].replace('-', '_')}-{project['version']}"
    with tarfile.open(os.path.join(sdist_directory, base + ".tar.gz"), "w:gz") as archive:
        archive.add(".", arcname=base)
    return base + ".tar.gz"
'''


def make_backend(dest: Path, *, origin: str = "upstream") -> list[Path]:
    """The backend's wheel and the helper its hook asks for, in ``dest``."""
    return [make_wheel(dest, BACKEND, "1.0", origin=origin,
                       files={"dpp_backend/__init__.py": _BACKEND_SOURCE}),
            make_wheel(dest, HELPER, "1.0", origin=origin),
            make_wheel(dest, HELPER, "0.9", origin=origin)]


def write_project(directory: Path, name: str, version: str, *, dependencies: list[str],
                  requires: list[str], backend: str) -> Path:
    """A project directory with a pyproject.toml and a package of one module."""
    module = name.replace("-", "_")
    (directory / module).mkdir(parents=True)
    (directory / module / "__init__.py").write_text(f"__version__ = {version!r}\n")
    deps = ", ".join(f'"{d}"' for d in dependencies)
    reqs = ", ".join(f'"{r}"' for r in requires)
    (directory / "pyproject.toml").write_text(
        f'[build-system]\nrequires = [{reqs}]\nbuild-backend = "{backend}"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{deps}]\n')
    return directory


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def wheel_of_installed(name: str, dest: Path) -> Path:
    """A wheel of the installed distribution ``name``, from the files its RECORD lists.

    Scripts (outside site-packages), byte code and the installer's own records
    are left out, as they are not in the wheel it was installed from.
    """
    dist = importlib.metadata.distribution(name)
    info = next(str(f).split("/", 1)[0] for f in dist.files or ()
                if str(f).endswith(".dist-info/METADATA"))
    left_out = {f"{info}/{n}" for n in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    entries: dict[str, bytes] = {}
    for file in dist.files or ():
        path = str(file)
        if path.startswith("..") or "__pycache__" in path or path in left_out:
            continue
        entries[path] = Path(str(dist.locate_file(file))).read_bytes()
    tag = next(line.split(": ", 1)[1] for line in entries[f"{info}/WHEEL"].decode().splitlines()
               if line.startswith("Tag: "))
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in entries.items())
    entries[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{info.removesuffix('.dist-info')}-{tag}.whl"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries.items():
            archive.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), data)
    return target


_PACK_FROM_IMAGE = '''\
import base64, glob, hashlib, os, shutil, zipfile
out = "/out"
for wheel in glob.glob("/usr/share/python-wheels/setuptools-*.whl"):
    shutil.copy(wheel, out)
# Debian installs wheel as an egg-info without a file list: its package directory is it.
site = "/usr/lib/python3/dist-packages"
egg = glob.glob(site + "/wheel-*.egg-info")[0]
version = os.path.basename(egg)[len("wheel-"):-len(".egg-info")]
info = f"wheel-{version}.dist-info"
entries = {}
for root, dirs, files in os.walk(site + "/wheel"):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    for name in sorted(files):
        path = os.path.join(root, name)
        entries[os.path.relpath(path, site)] = open(path, "rb").read()
entries[info + "/METADATA"] = open(egg + "/PKG-INFO", "rb").read()
entries[info + "/entry_points.txt"] = open(egg + "/entry_points.txt", "rb").read()
entries[info + "/WHEEL"] = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
def digest(data):
    raw = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
record = "".join(f"{p},{digest(d)},{len(d)}\\n" for p, d in entries.items())
entries[info + "/RECORD"] = (record + info + "/RECORD,,\\n").encode()
with zipfile.ZipFile(f"{out}/wheel-{version}-py3-none-any.whl", "w") as archive:
    for path, data in entries.items():
        archive.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), data)
'''


def setuptools_from_image(image: str, dest: Path) -> list[Path]:
    """setuptools and wheel as wheels, taken from Debian's files in ``image`` (no network).

    Debian ships setuptools as a wheel for venvs, and wheel (which setuptools
    before 70.1 asks for through its hook) installed: that one is packed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    labels = [arg for key, value in LABELS.items() for arg in ("--label", f"{key}={value}")]
    done = subprocess.run(
        ["docker", "run", "--rm", "--network=none", *labels, "--user",
         f"{os.getuid()}:{os.getgid()}", "-v", f"{dest}:/out", image,
         "python3", "-c", _PACK_FROM_IMAGE],
        capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return sorted(dest.glob("*.whl"))
