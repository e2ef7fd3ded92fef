"""uv.lock: the files ``mirror add`` takes from it, the copy a build step reads, the steps.

Locks are made by the host's uv against fake indexes on 127.0.0.1 (or a
directory), so they are in the layout uv really writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.tags import Tag
from support.cli import run_main
from support.server import ServedURL
from support.uvproject import uv_lock, write_project
from support.wheels import make_wheel

from dockerpypi.dockerfile.inject import inject
from dockerpypi.dockerfile.lock_mounts import LOCKS_STAGE
from dockerpypi.errors import UserMessageError
from dockerpypi.mirror.download import Downloader
from dockerpypi.mirror.lockfile import lock_picks, read_lock, rewrite_lock
from dockerpypi.mirror.locks import UV, split
from dockerpypi.mirror.picks import Pick

UPSTREAM = (
    "dockerpypi-probe==1.0",
    "dockerpypi-probe==2.0",
    {"name": "dockerpypi-probe-app", "version": "1.0", "requires": ["dockerpypi-probe<2"]},
)
LOCKED = ["dockerpypi_probe-1.0-py3-none-any.whl", "dockerpypi_probe_app-1.0-py3-none-any.whl"]


@pytest.fixture
def locked(tmp_path: Path, http_mirror: Callable[..., ServedURL], uv_binary: Path,
           make_mirror: Callable[..., Path]) -> tuple[Path, ServedURL]:
    """(project, its index): a project locked against an index served on 127.0.0.1."""
    root = make_mirror(UPSTREAM, origin="upstream")
    upstream = http_mirror(root=root)
    project = write_project(tmp_path / "project", ["dockerpypi-probe-app"])
    uv_lock(uv_binary, project, upstream)
    return project, upstream


# --- the lock's files --------------------------------------------------------------


def test_the_picks_are_the_locked_files_with_the_locks_hashes(
        locked: tuple[Path, ServedURL]) -> None:
    project, upstream = locked
    picks = lock_picks(read_lock(project / "uv.lock"))
    assert sorted(pick.filename for pick in picks) == LOCKED
    for pick in picks:
        assert pick.url == f"{upstream}{pick.filename}"
        data = (upstream.root / pick.filename).read_bytes()
        assert pick.sha256 == hashlib.sha256(data).hexdigest()


def _package(name: str, wheels: list[str], sdist: str | None = None,
             source: dict[str, str] | None = None) -> dict[str, object]:
    def entry(filename: str) -> dict[str, object]:
        return {"url": f"https://files.example/{filename}", "hash": f"sha256:{'0' * 64}",
                "size": 3}

    package: dict[str, object] = {
        "name": name, "version": "1.0",
        "source": source or {"registry": "https://pypi.example/simple"},
        "wheels": [entry(w) for w in wheels]}
    if sdist is not None:
        package["sdist"] = entry(sdist)
    return package


def test_target_tags_keep_the_wheels_that_fit_and_an_sdist_only_where_none_does() -> None:
    lock = {"package": [
        _package("native", ["native-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
                            "native-1.0-cp312-cp312-win_amd64.whl"], "native-1.0.tar.gz"),
        _package("windows-only", ["windows_only-1.0-cp312-cp312-win_amd64.whl"],
                 "windows_only-1.0.tar.gz"),
        _package("local", [], source={"editable": "."}),
        _package("from-a-path", ["x-1.0-py3-none-any.whl"], source={"registry": "../wheels"}),
    ]}
    linux = [Tag("cp312", "cp312", "manylinux_2_28_x86_64"), Tag("py3", "none", "any")]

    assert [p.filename for p in lock_picks(lock, linux)] == [
        "native-1.0-cp312-cp312-manylinux_2_28_x86_64.whl", "windows_only-1.0.tar.gz"]
    assert [p.filename for p in lock_picks(lock)] == [
        "native-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "native-1.0-cp312-cp312-win_amd64.whl", "windows_only-1.0-cp312-cp312-win_amd64.whl"]
    assert {p.size for p in lock_picks(lock)} == {3}


def test_a_locked_file_without_a_sha256_is_refused() -> None:
    package = _package("loose", ["loose-1.0-py3-none-any.whl"])
    package["wheels"] = [{"url": "https://files.example/loose-1.0-py3-none-any.whl"}]
    message = re.escape("no sha256 for loose-1.0-py3-none-any.whl")
    with pytest.raises(UserMessageError, match=message) as caught:
        lock_picks({"package": [package]})
    assert caught.value.fix == "run `uv lock --refresh`"


@pytest.mark.parametrize("name", ["..%2F..%2F.bashrc", "%2Fetc%2Fpasswd", "..%5C..%5Cx.whl",
                                  ".hidden-1.0-py3-none-any.whl", "evil-1.0.sh"])
def test_a_locked_file_whose_name_is_no_wheel_or_sdist_is_refused(name: str) -> None:
    package = _package("evil", [name])
    with pytest.raises(UserMessageError, match=r"^locks/uv\.lock: evil 1\.0 has a file .* no "
                                               r"wheel or sdist name"):
        lock_picks({"package": [package]}, where="locks/uv.lock")


def test_the_downloader_writes_only_plain_names_inside_the_mirror(tmp_path: Path) -> None:
    source = tmp_path / "escaped.whl"
    source.write_bytes(b"abc")
    pick = Pick("../escaped-copy.whl", source.as_uri(), hashlib.sha256(b"abc").hexdigest())
    with pytest.raises(UserMessageError, match="no plain file name in the mirror"):
        Downloader(tmp_path / "mirror").fetch_all([pick])
    assert not (tmp_path / "escaped-copy.whl").exists()


def test_lock_arguments_are_told_from_package_names(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "uv.lock").write_text("version = 1\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "uv.lock").write_text("version = 1\n")
    locks, rest = split(UV, ["requests", "project/uv.lock", "./project", "project", "."])
    assert locks == ((project / "uv.lock").resolve(), (tmp_path / "uv.lock").resolve())
    assert rest == ("requests", "project")  # a bare name is a package, even with a directory


# --- the copy a build step reads -----------------------------------------------------


def test_the_rewritten_lock_is_the_one_uv_writes_against_the_mirror_directory(
        locked: tuple[Path, ServedURL], uv_binary: Path, tmp_path: Path) -> None:
    project, upstream = locked
    text = (project / "uv.lock").read_text()
    mirror = tmp_path / "mirror"
    mirror.symlink_to(upstream.root)  # the same files, under the path a build sees
    against_directory = write_project(tmp_path / "direct", ["dockerpypi-probe-app"])
    uv_lock(uv_binary, against_directory, str(mirror))

    assert rewrite_lock(text, str(mirror)) == (against_directory / "uv.lock").read_text()


def test_the_rewritten_lock_passes_uv_sync_offline_against_the_mirror_only(
        locked: tuple[Path, ServedURL], uv_binary: Path, tmp_path: Path) -> None:
    project, upstream = locked
    copy = rewrite_lock((project / "uv.lock").read_text(), str(upstream.root))
    (project / "uv.lock").write_text(copy)
    env = {**os.environ, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never",
           "UV_CACHE_DIR": str(tmp_path / "fresh-cache")}
    seen = len(upstream.requests)
    said = []
    # A plain `uv sync` finds the copy up to date too: it would not write the lock.
    for mode in (["--locked"], ["--frozen"], []):
        result = subprocess.run([str(uv_binary), "sync", *mode, "--offline", "--default-index",
                                 f"file://{upstream.root}"], cwd=project, env=env,
                                capture_output=True, text=True, check=False, timeout=120)
        assert result.returncode == 0, result.stderr
        said.append(result.stderr)
        assert (project / "uv.lock").read_text() == copy
    assert "+ dockerpypi-probe==1.0" in said[0]
    assert "+ dockerpypi-probe-app==1.0" in said[0]
    assert len(upstream.requests) == seen  # nothing asked of the index


def test_the_copy_keeps_the_locks_hashes_so_uv_refuses_a_file_changed_in_the_mirror(
        locked: tuple[Path, ServedURL], uv_binary: Path, tmp_path: Path) -> None:
    project, _ = locked
    mirror = tmp_path / "mirror"
    make_wheel(mirror, "dockerpypi-probe", "1.0", origin="tampered")  # same name, other bytes
    make_wheel(mirror, "dockerpypi-probe-app", "1.0", requires=["dockerpypi-probe<2"],
               origin="upstream")
    (project / "uv.lock").write_text(rewrite_lock((project / "uv.lock").read_text(),
                                                  str(mirror)))
    env = {**os.environ, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never",
           "UV_CACHE_DIR": str(tmp_path / "fresh-cache")}
    result = subprocess.run([str(uv_binary), "sync", "--frozen", "--offline"], cwd=project,
                            env=env, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode != 0
    assert "Hash mismatch for `dockerpypi-probe==1.0`" in result.stderr, result.stderr


def test_only_remote_registries_are_rewritten_and_the_rest_is_kept_byte_for_byte() -> None:
    text = (
        'version = 1\nrevision = 3\n\n'
        '[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { editable = "." }\n'
        'dependencies = [\n    { name = "six" },\n]\n\n'
        '[package.metadata]\n'
        'requires-dist = [{ name = "six", url = "https://x.example/six.whl" }]\n\n'
        '[[package]]\nname = "six"\nversion = "1.0"\n'
        'source = { registry = "https://index.example/simple" }\n'
        'sdist = { url = "https://files.example/p/six-1.0.tar.gz", hash = "sha256:aa", '
        'size = 1, upload-time = "2024-01-01T00:00:00Z" }\n'
        'wheels = [\n    { url = "https://files.example/p/six-1.0-py3-none-any.whl#frag", '
        'hash = "sha256:bb", size = 2 },\n]\n\n'
        '[[package]]\nname = "local"\nversion = "1.0"\nsource = { registry = "../wheels" }\n'
        'wheels = [\n    { path = "local-1.0-py3-none-any.whl", hash = "sha256:cc" },\n]\n'
    )
    rewritten = rewrite_lock(text, "/tmp/pypi/")
    expected = text.replace('registry = "https://index.example/simple"', 'registry = "/tmp/pypi"') \
        .replace('{ url = "https://files.example/p/six-1.0.tar.gz"',
                 '{ path = "/tmp/pypi/six-1.0.tar.gz"') \
        .replace('{ url = "https://files.example/p/six-1.0-py3-none-any.whl#frag"',
                 '{ path = "/tmp/pypi/six-1.0-py3-none-any.whl"')
    assert rewritten == expected


# --- the steps that read it ----------------------------------------------------------

GUIDE = """\
FROM python:3.12-slim
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --locked --no-install-project
COPY . /app
RUN uv sync --locked
"""


def _overlay(source: str, target: str) -> str:
    return f"--mount=type=bind,from={LOCKS_STAGE},source={source},target={target}"


def test_the_guides_steps_read_the_copy_bind_mounted_last_over_the_lock() -> None:
    result = inject(GUIDE, has_lock=lambda kind, path: (kind, path) == ("uv.lock", "uv.lock"))
    lines = [line.strip().removesuffix(" \\") for line in result.text.splitlines()]
    first = lines.index(_overlay("uv.lock", "uv.lock"))
    # BuildKit uses the last mount at a target: the copy comes after the user's.
    assert first > lines.index("--mount=type=bind,source=uv.lock,target=uv.lock")
    assert _overlay("uv.lock", "/app/uv.lock") in lines  # after COPY . /app, in WORKDIR
    assert f"FROM scratch AS {LOCKS_STAGE}" in lines
    assert result.locks == {"uv.lock": "uv.lock"}


@pytest.mark.parametrize(("copy", "workdir", "target"), [
    ("COPY pyproject.toml uv.lock ./", "/app", "/app/uv.lock"),
    ("COPY . .", "/srv/app", "/srv/app/uv.lock"),
    ("COPY [\"uv.lock\", \"/srv/app/\"]", "/srv/app", "/srv/app/uv.lock"),
    ("COPY --chown=1000 . /app", "app", "/app/uv.lock"),
    ("COPY uv.lock /app", "/app", "/app/uv.lock"),  # the WORKDIR is a directory
    ("COPY uv.lock /srv/app", "/srv/app/", "/srv/app/uv.lock"),
])
def test_a_copied_lock_is_overlaid_where_it_landed(copy: str, workdir: str,
                                                   target: str) -> None:
    text = (f"FROM base AS builder\nWORKDIR {workdir}\n{copy}\n"
            "FROM builder\nRUN uv sync --frozen\n")
    result = inject(text, has_lock=lambda kind, path: True)
    assert _overlay("uv.lock", target) in result.text


@pytest.mark.parametrize("text", [
    "FROM base\nWORKDIR /app\nCOPY . /src\nRUN uv sync --locked\n",  # not in WORKDIR
    "FROM base\nWORKDIR /app\nCOPY --from=other /app /app\nRUN uv sync --locked\n",
    "FROM base\nWORKDIR $HOME\nCOPY . .\nRUN uv sync --locked\n",
    "FROM base\nWORKDIR /app\nCOPY . .\nRUN uv pip install -r requirements.txt\n",
    "FROM base AS a\nWORKDIR /app\nCOPY . .\nFROM base\nWORKDIR /app\nRUN uv sync\n",
])
def test_no_overlay_where_the_step_does_not_read_the_contexts_lock(text: str) -> None:
    result = inject(text, has_lock=lambda kind, path: True)
    assert LOCKS_STAGE not in result.text
    assert result.locks == {}


def test_a_lock_the_context_lacks_or_another_project_is_said_and_left_alone() -> None:
    missing = inject(GUIDE, has_lock=lambda kind, path: False)
    assert LOCKS_STAGE not in missing.text
    assert "line 3: uv sync reads uv.lock as it is" in " ".join(missing.notes)
    elsewhere = inject("FROM base\nCOPY . /app\nRUN uv sync --project /app --locked\n",
                       has_lock=lambda kind, path: True)
    assert LOCKS_STAGE not in elsewhere.text
    assert any("--project/--directory" in note for note in elsewhere.notes)


@pytest.mark.parametrize("source", ["../uv.lock", "../../app/../uv.lock", "/uv.lock"])
def test_a_mounted_lock_is_read_inside_the_context_as_buildkit_does(source: str) -> None:
    asked: list[str] = []

    def has_lock(kind: str, path: str) -> bool:
        assert kind == "uv.lock"
        asked.append(path)
        return True

    text = f"FROM base\nRUN --mount=type=bind,source={source},target=uv.lock uv sync --locked\n"
    result = inject(text, has_lock=has_lock)
    # BuildKit stops a `..` at the context's root: no lock outside it is read or rewritten
    assert set(asked) == {"uv.lock"}
    assert result.locks == {"uv.lock": "uv.lock"}
    assert _overlay("uv.lock", "uv.lock") in result.text


def test_without_has_lock_inject_leaves_locks_alone() -> None:
    assert LOCKS_STAGE not in inject(GUIDE).text


# --- mirror add uv.lock --------------------------------------------------------------


def test_mirror_add_a_project_directory_fetches_its_locked_files(
        locked: tuple[Path, ServedURL], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    project, _ = locked
    mirror = tmp_path / "mirror"
    code, _, err = run_main(["mirror", "add", f"{project}/", "--mirror-dir", str(mirror)],
                              capsys)
    assert code == 0, err
    assert sorted(p.name for p in mirror.glob("*.whl")) == LOCKED
    assert (mirror / "dockerpypi-probe" / "index.html").is_file()
    assert "resolver: none, the lock's own versions and files" in err


def test_mirror_add_refuses_a_file_that_differs_from_the_lock(
        locked: tuple[Path, ServedURL], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    project, upstream = locked
    (upstream.root / LOCKED[0]).write_bytes(b"changed on the index")
    mirror = tmp_path / "mirror"
    code, _, err = run_main(["mirror", "add", str(project / "uv.lock"),
                             "--mirror-dir", str(mirror)], capsys)
    assert code == 1
    assert f"{LOCKED[0]} from {upstream}{LOCKED[0]} has sha256" in err
    assert not (mirror / LOCKED[0]).exists()


@pytest.mark.parametrize("extra", [["six"], ["--index-url", "http://127.0.0.1:9/"],
                                   ["-r", "requirements.txt"]])
def test_mirror_add_takes_a_lock_alone(locked: tuple[Path, ServedURL], tmp_path: Path,
                                       extra: list[str], monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    project, _ = locked
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.txt").write_text("six\n")
    code, _, err = run_main(["mirror", "add", str(project / "uv.lock"), *extra,
                             "--mirror-dir", str(tmp_path / "mirror")], capsys)
    assert code == 2
    assert "give it alone" in err
    assert not (tmp_path / "mirror").exists()


# --- build --inject ------------------------------------------------------------------


def _guide_context(project: Path) -> Path:
    (project / "Dockerfile").write_text(GUIDE)
    return project


def _guide_dry_run(project: Path, mirror: Path, capsys: pytest.CaptureFixture[str],
                   *ours: str) -> tuple[int, str, str]:
    """``build --inject --dry-run`` of uv's guide Dockerfile in ``project``: (code, out, err)."""
    return run_main(["build", "--inject", *ours, "--dry-run", "--mirror-dir", str(mirror),
                     str(_guide_context(project))], capsys)


def test_a_dry_run_sends_the_rewritten_lock_as_its_own_build_context(
        locked: tuple[Path, ServedURL], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    project, _ = locked
    mirror = tmp_path / "mirror"
    assert run_main(["mirror", "add", str(project), "--mirror-dir", str(mirror)], capsys)[0] == 0
    code, out, err = _guide_dry_run(project, mirror, capsys, "--offline")
    assert code == 0, err
    assert f"--build-context {LOCKS_STAGE}=" in out
    assert "line 3: uv sync reads uv.lock with the mirror as its index" in err


def test_an_offline_build_is_refused_when_the_mirror_lacks_the_locks_files(
        locked: tuple[Path, ServedURL], tmp_path: Path, make_mirror: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    project, _ = locked
    mirror = make_mirror(["dockerpypi-probe==1.0"])
    assert run_main(["mirror", "index", "--mirror-dir", str(mirror)], capsys)[0] == 0
    code, _, err = _guide_dry_run(project, mirror, capsys, "--offline")
    assert code == 2
    assert "has no file of 1 of its packages (dockerpypi-probe-app 1.0), and this build" in err
    # the fix names the build's mirror directory, quoted for the shell
    fix = shlex.join(["dockerpypi", "mirror", "add", str(project / "uv.lock"), "--mirror-dir",
                      str(mirror)])
    assert f"run `{fix}`" in err


def test_a_package_is_served_by_any_of_its_locked_files(
        locked: tuple[Path, ServedURL], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    project, _ = locked
    mirror = tmp_path / "mirror"
    assert run_main(["mirror", "add", str(project), "--mirror-dir", str(mirror)], capsys)[0] == 0
    # a wheel for another platform, as `mirror add --platform` leaves out
    lock = project / "uv.lock"
    text = lock.read_text()
    line = next(line for line in text.splitlines()
                if "dockerpypi_probe-1.0-py3-none-any.whl" in line and "url = " in line)
    other = line.replace("py3-none-any", "cp312-cp312-win_amd64")
    lock.write_text(text.replace(line, f"{line}\n{other}"))
    assert len(lock_picks(read_lock(lock))) == 3
    code, out, err = _guide_dry_run(project, mirror, capsys, "--offline")
    assert code == 0, err
    assert f"--build-context {LOCKS_STAGE}=" in out


@pytest.mark.parametrize("lock_text", [
    "[[package]\nname = \"broken\"\n",  # not TOML
    '[[package]]\nname = "loose"\nversion = "1.0"\n'
    'source = { registry = "https://pypi.example/simple" }\n'
    'wheels = [{ url = "https://files.example/loose-1.0-py3-none-any.whl" }]\n',  # no sha256
])
def test_a_build_with_another_index_leaves_a_lock_it_cannot_check_and_warns_once(
        tmp_path: Path, make_mirror: Callable[..., Path], lock_text: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = write_project(tmp_path / "project", ["loose"])
    (project / "uv.lock").write_text(lock_text)
    mirror = make_mirror(["dockerpypi-probe==1.0"])
    assert run_main(["mirror", "index", "--mirror-dir", str(mirror)], capsys)[0] == 0
    code, out, err = _guide_dry_run(project, mirror, capsys)
    assert code == 0, err
    assert LOCKS_STAGE not in out
    # the guide's two steps read the lock: it is checked, and warned about, once
    assert err.count("so uv sync reads it as it is (its own index)") == 1, err
    offline = _guide_dry_run(project, mirror, capsys, "--offline")
    assert offline[0] != 0


def test_a_build_whose_steps_see_no_mirror_directory_leaves_the_lock_and_says_so(
        locked: tuple[Path, ServedURL], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    project, _ = locked
    mirror = tmp_path / "mirror"
    assert run_main(["mirror", "add", str(project), "--mirror-dir", str(mirror)], capsys)[0] == 0
    code, out, err = _guide_dry_run(project, mirror, capsys, "--offline", "--transport", "http")
    assert code == 0, err
    assert LOCKS_STAGE not in out
    assert "line 3: uv sync reads uv.lock as it is" in err


def test_a_build_with_another_index_warns_once_of_a_lock_the_mirror_does_not_serve(
        locked: tuple[Path, ServedURL], make_mirror: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    project, _ = locked
    mirror = make_mirror(["dockerpypi-probe==1.0"])
    assert run_main(["mirror", "index", "--mirror-dir", str(mirror)], capsys)[0] == 0
    code, out, err = _guide_dry_run(project, mirror, capsys)
    assert code == 0, err
    assert LOCKS_STAGE not in out
    # the guide's two steps read the lock, three times in all: one warning
    assert err.count("lets the steps use the mirror") == 1, err


def test_an_injected_build_reads_the_lock_without_the_downloader(
        locked: tuple[Path, ServedURL], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    project, _ = locked
    mirror = tmp_path / "mirror"
    assert run_main(["mirror", "add", str(project), "--mirror-dir", str(mirror)], capsys)[0] == 0
    argv = ["build", "--inject", "--offline", "--dry-run", "--mirror-dir", str(mirror),
            str(_guide_context(project))]
    script = ("import json, sys\nfrom dockerpypi.cli import main\ntry:\n"
              f"    main({argv!r})\nexcept SystemExit:\n    pass\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60)
    assert LOCKS_STAGE in done.stdout
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "dockerpypi.mirror.lockfile" in loaded
    # (packaging.tags comes with the mirror's index here, which an offline build reads anyway)
    heavy = {"dockerpypi.mirror.download", "dockerpypi.mirror.uvlock", "urllib.request",
             "http.client"} & loaded
    assert not heavy


@pytest.mark.parametrize("offline", [["--offline"], ["env", "DOCKERPYPI_OFFLINE"],
                                     ["env", "DIB_OFFLINE"]])
def test_mirror_add_a_lock_offline_asks_only_the_configured_mirrors(
        locked: tuple[Path, ServedURL], tmp_path: Path, offline: list[str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    project, upstream = locked
    monkeypatch.delenv("DOCKERPYPI_MIRRORS", raising=False)
    monkeypatch.delenv("DIB_PYPI_MIRROR_URL", raising=False)
    flags = offline if offline[0] == "--offline" else []
    if offline[0] == "env":
        monkeypatch.setenv(offline[1], "1")
    mirror = tmp_path / "mirror"
    args = ["mirror", "add", str(project / "uv.lock"), *flags, "--mirror-dir", str(mirror)]
    code, _, err = run_main(args, capsys)
    assert code == 2, err
    assert "offline, but the lock's files come from http://127.0.0.1:" in err
    assert "configure that index as a mirror" in err
    assert not list(mirror.glob("*.whl"))
    # the lock's index configured as a mirror: the files come from it
    monkeypatch.setenv("DOCKERPYPI_MIRRORS", str(upstream))
    code, _, err = run_main(args, capsys)
    assert code == 0, err
    assert sorted(path.name for path in mirror.glob("*.whl")) == LOCKED
