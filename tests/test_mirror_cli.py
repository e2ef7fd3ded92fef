"""``dockerpypi mirror add/index/list/path``: pip's command line, isolation, output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main as run
from support.server import ServedURL
from test_mirror_index import make_wheel

from dockerpypi.errors import UsageError, UserMessageError
from dockerpypi.mirror.check import check_mirror
from dockerpypi.mirror.fill import (
    MODE_HOST,
    MODE_TARGET,
    DownloadPlan,
    TargetTags,
    pip_environment,
    plan_download,
    remote_indexes,
    run_download,
)
from dockerpypi.mirror.index import list_projects, update_index
from dockerpypi.settings.urls import MirrorURL, parse_mirror_url

PUBLIC = MirrorURL("https://pypi.example/simple/")
TARGET = TargetTags("3.12", ("manylinux_2_28_x86_64", "manylinux2014_x86_64"), "cp",
                    ("cp312", "abi3"))


def url(raw: str) -> MirrorURL:
    return parse_mirror_url(raw, origin="test")


# --- pip's command line, as a pure function -----------------------------------------

def test_host_mode_downloads_for_this_machine_with_sdists_allowed(tmp_path: Path) -> None:
    plan = plan_download(tmp_path, ["requests>=2"], [tmp_path / "req.txt"], indexes=[PUBLIC],
                         python="/py", environ={})

    assert plan.mode == MODE_HOST
    assert plan.argv[:6] == ("/py", "-m", "pip", "download", "--dest", str(tmp_path))
    assert "--disable-pip-version-check" in plan.argv
    assert "--no-input" in plan.argv
    assert not [arg for arg in plan.argv if arg.startswith(("--only-binary", "--platform"))]
    assert plan.argv[-5:] == ("--index-url", PUBLIC.url, "--requirement",
                              str(tmp_path / "req.txt"), "requests>=2")


def test_target_tags_mode_passes_every_tag_and_wheels_only(tmp_path: Path) -> None:
    plan = plan_download(tmp_path, ["numpy"], [], indexes=[PUBLIC], tags=TARGET, environ={})

    assert plan.mode == MODE_TARGET
    argv = " ".join(plan.argv)
    assert ("--only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 "
            "--platform manylinux2014_x86_64 --implementation cp --abi cp312 --abi abi3") in argv


def test_target_tags_refuse_sdists_and_bad_versions(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="only as wheels: drop --allow-sdist"):
        plan_download(tmp_path, ["x"], [], indexes=[PUBLIC], tags=TARGET, only_binary=False)
    with pytest.raises(UsageError, match=r"write it as 3\.12"):
        plan_download(tmp_path, ["x"], [], indexes=[PUBLIC], tags=TargetTags("py3.12"))


def test_only_binary_can_be_asked_for_on_the_host(tmp_path: Path) -> None:
    plan = plan_download(tmp_path, ["x"], [], indexes=[PUBLIC], only_binary=True, environ={})
    assert "--only-binary=:all:" in plan.argv
    assert plan.mode == MODE_HOST


def test_pip_runs_without_the_machines_pip_settings() -> None:
    env = pip_environment({"PIP_INDEX_URL": "http://evil/", "PIP_FIND_LINKS": "/x",
                           "PIP_CONFIG_FILE": "/etc/pip.conf", "PATH": "/bin", "HOME": "/h"})
    assert env == {"PATH": "/bin", "HOME": "/h", "PIP_CONFIG_FILE": os.devnull}


def test_indexes_keep_their_order_and_plain_http_hosts_are_trusted(tmp_path: Path) -> None:
    indexes = [url("http://mirror.lan:3141/simple/"), PUBLIC]
    plan = plan_download(tmp_path, ["x"], [], indexes=indexes, retries=3, timeout=7.5,
                         environ={"PIP_EXTRA_INDEX_URL": "http://evil/"})
    argv = " ".join(plan.argv)

    assert (f"--index-url http://mirror.lan:3141/simple/ --extra-index-url {PUBLIC.url}"
            in argv)
    assert "--trusted-host mirror.lan" in argv
    assert "--retries 3 --timeout 7.5" in argv
    assert "PIP_EXTRA_INDEX_URL" not in plan.env


def test_credentials_go_in_the_environment_and_are_never_shown(tmp_path: Path) -> None:
    indexes = [url("https://me:p%40ss@private.example/simple/"), PUBLIC]
    plan = plan_download(tmp_path, ["x"], [], indexes=indexes, environ={})

    assert not [arg for arg in plan.argv if "p@ss" in arg or "p%40ss" in arg]
    assert "--index-url" not in plan.argv
    assert plan.env["PIP_INDEX_URL"] == "https://me:p%40ss@private.example/simple/"
    assert plan.env["PIP_EXTRA_INDEX_URL"] == PUBLIC.url
    assert plan.indexes == ("https://***@private.example/simple/", PUBLIC.url)
    assert set(plan.secrets) == {"p@ss", "p%40ss"}


def test_nothing_to_add_or_nowhere_to_add_from_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to add"):
        plan_download(tmp_path, [], [], indexes=[PUBLIC])
    with pytest.raises(UsageError, match="no index to download from"):
        plan_download(tmp_path, ["x"], [], indexes=[])


def test_remote_indexes_leave_out_file_mirrors_and_add_the_public_one() -> None:
    local, lan = url("file:///tmp/pypi"), url("http://lan/simple/")
    assert remote_indexes([local, lan], PUBLIC) == (lan, PUBLIC)
    assert remote_indexes([local, lan], None) == (lan,)
    assert remote_indexes([PUBLIC], PUBLIC) == (PUBLIC,)


# --- running pip --------------------------------------------------------------------

def _fake_pip(tmp_path: Path, script: str) -> DownloadPlan:
    return DownloadPlan(tmp_path, (sys.executable, "-c", script), dict(os.environ), MODE_HOST,
                        (), ("s3cret",))


def test_pip_output_is_scrubbed_and_its_error_becomes_one_line(tmp_path: Path) -> None:
    plan = _fake_pip(tmp_path, "print('Looking in indexes: http://u:s3cret@h/')\n"
                               "print('ERROR: No matching distribution found for nope')\n"
                               "raise SystemExit(1)")
    lines: list[str] = []

    with pytest.raises(UserMessageError) as caught:
        run_download(plan, lines.append)

    assert lines == ["Looking in indexes: http://u:***@h/"]  # the ERROR is the error's
    assert str(caught.value) == ("pip download failed (exit 1): No matching distribution found "
                                 "for nope: fix the requirement or the index and run again")


def test_a_python_without_pip_is_named(tmp_path: Path) -> None:
    plan = _fake_pip(tmp_path, "print('/x/python: No module named pip'); raise SystemExit(1)")
    with pytest.raises(UserMessageError, match=r"has no pip.*-m ensurepip"):
        run_download(plan)


# --- the commands -----------------------------------------------------------------

def test_path_prints_the_configured_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKERPYPI_MIRROR_DIR", str(tmp_path / "from-env"))
    assert run(["mirror", "path"], capsys) == (0, f"{tmp_path / 'from-env'}\n", "")
    assert run(["mirror", "path", "--mirror-dir", "flag"], capsys)[1] == f"{tmp_path / 'flag'}\n"


def test_index_and_list_print_text_and_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    mirror = tmp_path / "m"
    make_wheel(mirror, "Foo_Bar", "1.0")
    make_wheel(mirror, "foo_bar", "1.1")
    (mirror / "notes.txt").write_text("")
    where = ["--mirror-dir", str(mirror)]

    code, out, err = run(["mirror", "index", *where], capsys)
    assert code == 0
    assert "indexed 1 projects, 2 files" in out
    assert "(2 read, 0 unchanged" in out
    assert "skipped notes.txt" in err

    code, out, err = run(["mirror", "index", "--json", *where], capsys)
    data = json.loads(out)
    assert (data["files_read"], data["files_reused"], len(data["warnings"])) == (0, 2, 1)
    assert err == ""  # the warning is in the JSON, not beside it

    assert run(["mirror", "list", *where], capsys)[1] == "foo-bar  1.0, 1.1  (2 files)\n"
    listed = json.loads(run(["mirror", "list", "--json", *where], capsys)[1])
    assert listed["projects"][0]["versions"] == ["1.0", "1.1"]


@pytest.mark.parametrize(("args", "message"), [
    ([], "nothing to add"),
    (["x", "--offline"], "no index to download from"),
    (["x", "--platform", "any", "--allow-sdist", "--index-url", "http://h/"], "only as wheels"),
    (["x", "--index-url", "ftp://h/"], "--index-url has scheme 'ftp'"),
])
def test_add_refuses_what_it_cannot_do_with_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["mirror", "add", "--mirror-dir", str(tmp_path), *args], capsys)
    assert code == 2
    assert message in err


@pytest.mark.slow
def test_add_fetches_for_target_tags_from_an_upstream_with_credentials(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        http_mirror: Callable[..., ServedURL]) -> None:
    monkeypatch.chdir(tmp_path)
    upstream = tmp_path / "upstream"
    make_wheel(upstream, "app", "1.0", requires=["Lib_Dep>=1"])
    make_wheel(upstream, "lib_dep", "1.0")
    make_wheel(upstream, "unrelated", "1.0")
    update_index(upstream)
    served = http_mirror(root=upstream, username="me", password="s3cret")
    index = served.replace("http://", "http://me:s3cret@")
    mirror = tmp_path / "new" / "mirror"  # made by `add`

    code, out, err = run(["mirror", "add", "app", "--index-url", index, "--mirror-dir",
                          str(mirror), "--python-version", "3.12", "--platform",
                          "manylinux_2_28_x86_64", "--implementation", "cp", "--abi", "cp312"],
                         capsys)

    assert code == 0, err
    assert "s3cret" not in out + err
    assert "http://***@127.0.0.1" in err
    assert "mode: target tags" in err
    assert "+ app-1.0-py3-none-any.whl" in out
    assert "added 2 files" in out
    assert sorted(served.downloads()) == ["app-1.0-py3-none-any.whl",
                                          "lib_dep-1.0-py3-none-any.whl"]
    assert [p.name for p in list_projects(mirror)] == ["app", "lib-dep"]
    assert check_mirror(mirror).ok


# --- mirror add --image: docker's command line, as a pure function --------------------

IMAGE = "python:3.12-slim"


def test_image_mode_runs_pip_inside_the_image_as_the_invoking_user(tmp_path: Path) -> None:
    from dockerpypi.mirror.fill import MODE_IMAGE
    from dockerpypi.mirror.image import plan_image_download

    requirements = tmp_path / "reqs" / "requirements.txt"
    nested = tmp_path / "reqs" / "base.txt"
    indexes = [url("http://127.0.0.1:8080/simple/"), PUBLIC]
    plan = plan_image_download(tmp_path / "mirror", ["numpy<3"], [requirements], image=IMAGE,
                               indexes=indexes, retries=2, user=(1000, 1001),
                               mounted_files=[requirements, nested],
                               labels=["team=ml"], docker="/bin/docker", environ={"HOME": "/h"})

    mounted = "/dockerpypi-requirements" + str(requirements)
    assert plan.argv == (
        "/bin/docker", "run", "--rm", "--init", "--network=host", "--user=1000:1001",
        f"--mount=type=bind,source={tmp_path / 'mirror'},target=/dockerpypi-mirror",
        f"--mount=type=bind,source={requirements},target={mounted},readonly",
        f"--mount=type=bind,source={nested},target=/dockerpypi-requirements{nested},readonly",
        "--env=PIP_CONFIG_FILE=/dev/null", "--env=HOME=/tmp", "--label=team=ml",
        "--entrypoint=python3", IMAGE, "-m", "pip", "download", "--no-cache-dir",
        "--dest", "/dockerpypi-mirror", "--disable-pip-version-check", "--no-input",
        "--progress-bar", "off", "--retries", "2", "--trusted-host", "127.0.0.1",
        "--index-url", "http://127.0.0.1:8080/simple/", "--extra-index-url", PUBLIC.url,
        "--requirement", mounted, "numpy<3")
    assert plan.mode == f"{MODE_IMAGE} {IMAGE}"
    assert plan.image == IMAGE
    assert plan.env == {"HOME": "/h", "PIP_CONFIG_FILE": os.devnull}


def test_image_mode_passes_credentials_by_name_only(tmp_path: Path) -> None:
    from dockerpypi.mirror.image import plan_image_download

    indexes = [url("https://me:p%40ss@private.example/simple/"), PUBLIC]
    plan = plan_image_download(tmp_path, ["x"], [], image=IMAGE, indexes=indexes,
                               user=(0, 0), environ={"PIP_INDEX_URL": "http://evil/"})

    assert not [arg for arg in plan.argv if "p@ss" in arg or "p%40ss" in arg]
    assert "--env=PIP_INDEX_URL" in plan.argv
    assert "--env=PIP_EXTRA_INDEX_URL" in plan.argv
    assert "--index-url" not in plan.argv
    assert plan.env["PIP_INDEX_URL"] == "https://me:p%40ss@private.example/simple/"
    assert plan.env["PIP_EXTRA_INDEX_URL"] == PUBLIC.url
    assert set(plan.secrets) == {"p@ss", "p%40ss"}


def test_image_mode_quotes_mount_paths_and_allows_wheels_only(tmp_path: Path) -> None:
    from dockerpypi.mirror.image import plan_image_download

    mirror = tmp_path / 'odd,"name'
    plan = plan_image_download(mirror, ["x"], [], image=IMAGE, indexes=[PUBLIC], user=(1, 1),
                               only_binary=True, environ={})
    assert f'--mount=type=bind,"source={tmp_path}/odd,""name",target=/dockerpypi-mirror' \
        in plan.argv
    assert "--only-binary=:all:" in plan.argv


@pytest.mark.parametrize(("image", "indexes", "message"), [
    ("--privileged", [PUBLIC], "is not an image name"),
    ("", [PUBLIC], "is not an image name"),
    (IMAGE, [url("file:///srv/wheels")], "serve it with `dockerpypi mirror serve`"),
    (IMAGE, [], "no index to download from"),
])
def test_image_mode_refuses_what_the_container_cannot_do(
        tmp_path: Path, image: str, indexes: list[MirrorURL], message: str) -> None:
    from dockerpypi.mirror.image import plan_image_download

    with pytest.raises(UsageError, match=message):
        plan_image_download(tmp_path, ["x"], [], image=image, indexes=indexes, environ={})


def test_requirement_closure_follows_nested_files(tmp_path: Path) -> None:
    from dockerpypi.mirror.image import requirement_closure

    top = tmp_path / "app" / "requirements.txt"
    top.parent.mkdir()
    (tmp_path / "common").mkdir()
    top.write_text("# -r commented.txt\n-r ../common/base.txt  # shared\n"
                   "--constraint=constraints.txt\n-r \\\n  continued.txt\n"
                   "-r https://example.invalid/remote.txt\n-c missing.txt\nrequests>=2\n")
    (tmp_path / "common" / "base.txt").write_text("-rmore.txt\n-r ../app/requirements.txt\n")
    (tmp_path / "common" / "more.txt").write_text("idna\n")
    (top.parent / "constraints.txt").write_text("requests<3\n")
    (top.parent / "continued.txt").write_text("")
    (top.parent / "commented.txt").write_text("")

    assert requirement_closure([top]) == (
        top, tmp_path / "common" / "base.txt", top.parent / "constraints.txt",
        top.parent / "continued.txt", tmp_path / "common" / "more.txt")


@pytest.mark.parametrize(("args", "message"), [
    (["--image", IMAGE, "--platform", "manylinux_2_28_x86_64", "--abi", "cp312"],
     "--image resolves for the image's own Python and platform: drop --platform, --abi"),
    (["--image", IMAGE, "--python-version", "3.12"], "drop --python-version"),
    (["--label", "a=b"], "--label labels the container of --image"),
])
def test_add_refuses_image_with_target_tags_with_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["mirror", "add", "x", "--index-url", "http://h/", "--mirror-dir",
                        str(tmp_path), *args], capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


FAKE_DOCKER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "w") as log:
    json.dump({{"argv": sys.argv[1:], "index": os.environ.get("PIP_INDEX_URL")}}, log)
print("Saved /dockerpypi-mirror/nothing.whl")
"""


def test_add_with_image_runs_docker_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "log.json"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.txt").write_text("-c constraints.txt\napp\n")
    (tmp_path / "constraints.txt").write_text("app<2\n")

    code, out, err = run(["mirror", "add", "-r", "requirements.txt", "--image", IMAGE,
                          "--label", "k=v", "--index-url", "http://me:s3cret@127.0.0.1:9/",
                          "--mirror-dir", "m"], capsys)

    assert code == 0, err
    assert f"mode: image {IMAGE} (pip runs inside it" in err
    assert "s3cret" not in out + err
    logged = json.loads((tmp_path / "log.json").read_text())
    assert logged["index"] == "http://me:s3cret@127.0.0.1:9/"
    assert "s3cret" not in " ".join(logged["argv"])
    assert f"--user={os.getuid()}:{os.getgid()}" in logged["argv"]
    assert "--label=k=v" in logged["argv"]
    for name in ("requirements.txt", "constraints.txt"):
        assert (f"--mount=type=bind,source={tmp_path / name},"
                f"target=/dockerpypi-requirements{tmp_path / name},readonly") in logged["argv"]
    assert "nothing new to add" in out
    assert (tmp_path / "m" / "index.html").is_file()


@pytest.mark.parametrize(("code", "output", "message"), [
    (125, "docker: Error response from daemon: No such image: nope:1.",
     "docker could not run nope:1 (exit 125): docker: Error response from daemon: No such "
     "image: nope:1.; check the image name and that the Docker engine runs"),
    (127, 'exec: "python3": executable file not found in $PATH: unknown.',
     "nope:1 has no python3 on its PATH"),
    (1, "/usr/bin/python3: No module named pip", "nope:1 has no pip"),
    (1, "ERROR: No matching distribution found for x", "pip download failed (exit 1): No "
     "matching distribution found for x"),
])
def test_image_failures_say_whose_they_are(tmp_path: Path, code: int, output: str,
                                           message: str) -> None:
    script = f"print({output!r}); raise SystemExit({code})"
    plan = DownloadPlan(tmp_path, (sys.executable, "-c", script), dict(os.environ),
                        "image nope:1", (), (), image="nope:1")
    with pytest.raises(UserMessageError) as caught:
        run_download(plan)
    assert str(caught.value).startswith(message)


def test_a_missing_docker_is_named(tmp_path: Path) -> None:
    plan = DownloadPlan(tmp_path, (str(tmp_path / "no-docker"), "run"), {}, "image x", (), (),
                        image="x")
    with pytest.raises(UserMessageError, match="no-docker was not found: install Docker"):
        run_download(plan)


# --- mirror serve: refusals (serving itself: test_mirror_serve.py) -------------------

def test_serve_refuses_a_mirror_that_is_not_there_or_not_indexed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["mirror", "serve", "--mirror-dir", "missing"], capsys)
    assert code == 1
    assert err.count("\n") == 1
    assert "does not exist" in err
    assert "`dockerpypi mirror add PACKAGE`" in err

    make_wheel(tmp_path / "unindexed", "demo", "1.0")
    code, _, err = run(["mirror", "serve", "--mirror-dir", "unindexed"], capsys)
    assert code == 1
    assert err.count("\n") == 1
    assert "has no index.html" in err
    assert "`dockerpypi mirror index`" in err
