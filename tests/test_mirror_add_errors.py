"""``mirror add`` failing: the real cause, said once, and as JSON with ``--json``.

The real pip and uv run against an index that cannot give them anything: a
port nothing listens on, an index answering 401 to wrong credentials, an
index URL that answers 404. Both resolvers take such a page for a project
without versions; the error must still say what the index did, once, with
its fix, and never the credentials.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import run_main as run
from support.server import ServedURL

from dockerpypi.errors import UserMessageError
from dockerpypi.mirror.causes import (
    explain,
    http_cause,
    network_cause,
    project_nothing_was_found_for,
)
from dockerpypi.mirror.download import Downloader
from dockerpypi.mirror.picks import Pick

SECRET = "n0t-the-password"


@pytest.fixture
def refused_index() -> str:
    """An index URL on a port of 127.0.0.1 that was bound, then closed: refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple/"


@pytest.fixture
def unauthorized_index(http_mirror: Callable[..., ServedURL]) -> str:
    """An index that wants other credentials than the URL carries: 401."""
    served = http_mirror(["six==1.16.0"], username="me", password="the-password")
    return served.replace("http://", f"http://me:{SECRET}@")


@pytest.fixture
def missing_index(http_mirror: Callable[..., ServedURL]) -> str:
    """A server whose index is elsewhere than the URL says: 404."""
    return http_mirror(["six==1.16.0"]) + "no-such-index/"


# The cause each kind of index must be named by (lower case), once.
CAUSES = {
    "refused_index": ("refused", "start the index server"),
    "unauthorized_index": ("http 401 unauthorized", "user name and password"),
    "missing_index": ("http 404", "check the index url"),
}


@pytest.mark.slow
@pytest.mark.parametrize("resolver", ["pip", "uv"])
@pytest.mark.parametrize("kind", sorted(CAUSES))
def test_the_cause_is_said_once_with_its_fix_and_as_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        request: pytest.FixtureRequest, resolver: str, kind: str) -> None:
    index: str = request.getfixturevalue(kind)
    cause, fix = CAUSES[kind]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKERPYPI_RETRIES", "0")  # pip would say "Retrying" per retry
    args = ["mirror", "add", "six", "--resolver", resolver, "--index-url", index,
            "--mirror-dir", str(tmp_path / "mirror")]

    code, out, err = run(args, capsys)

    assert code == 1
    assert out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("dockerpypi: error: ")
    assert cause in last.lower()
    assert err.lower().count(cause) == 1, err  # not echoed before the error says it
    assert fix in last.lower()
    assert SECRET not in err

    code, out, err = run([*args, "--json"], capsys)

    assert code == 1
    error = json.loads(out)  # one JSON document, the error's
    assert error["ok"] is False
    assert error["exit_code"] == 1
    assert cause in error["error"].lower()
    assert fix in error["fix"].lower()
    assert SECRET not in out + err
    assert err.strip() == f"dockerpypi: error: {error['error']}: {error['fix']}"


def test_a_failed_command_prints_its_error_as_one_json_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKERPYPI_RETRIES", "many")
    code, out, err = run(["config", "--json"], capsys)
    assert code == 2
    error = json.loads(out)
    assert sorted(error) == ["error", "exit_code", "fix", "ok"]
    assert (error["ok"], error["exit_code"]) == (False, 2)
    assert error["error"].startswith("DOCKERPYPI_RETRIES must be a whole number")
    assert err.strip() == ": ".join(["dockerpypi: error", error["error"], error["fix"]][
        :3 if error["fix"] else 2])
    monkeypatch.delenv("DOCKERPYPI_RETRIES")

    # click's own usage errors, once --json has been read
    code, out, err = run(["mirror", "add", "--json", "--resolver", "nope"], capsys)
    assert code == 2
    error = json.loads(out)
    assert error["exit_code"] == 2
    assert "--resolver" in error["error"]
    assert error["fix"] == "see `dockerpypi mirror add --help`"

    # No JSON asked for: nothing on stdout.
    assert run(["mirror", "add"], capsys)[:2] == (2, "")


def test_a_report_printed_before_failing_is_the_only_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "orphan-1.0-py3-none-any.whl").write_bytes(b"not indexed")

    code, out, err = run(["mirror", "check", "--json", "--mirror-dir", str(mirror)], capsys)

    assert code == 1
    report = json.loads(out)  # a second document would make this fail
    assert report["ok"] is False
    assert "problem" in err


def test_a_download_that_fails_on_the_network_names_the_cause(
        tmp_path: Path, refused_index: str) -> None:
    pick = Pick("six-1.16.0-py2.py3-none-any.whl",
                f"{refused_index}six-1.16.0-py2.py3-none-any.whl")
    with pytest.raises(UserMessageError) as caught:
        Downloader(tmp_path / "mirror", retries=0).fetch_all([pick])
    assert str(caught.value) == (
        f"downloading {pick.filename} failed: {pick.url} refused the connection: start the "
        "index server, or correct the host and port in the index URL, then run again")


# --- the words, as functions ----------------------------------------------------------

@pytest.mark.parametrize(("error", "what"), [
    ("HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /s/x/ "
     "(Caused by NewConnectionError('...: Failed to establish a new connection: [Errno 111] "
     "Connection refused'))", "refused the connection"),
    ("HTTPConnectionPool(host='nope.invalid', port=80): Max retries exceeded (Caused by "
     "NameResolutionError(\"...: Failed to resolve 'nope.invalid' ([Errno -2] Name or "
     "service not known)\"))", "names a host that does not resolve"),
    ("HTTPSConnectionPool(host='h', port=443): Max retries exceeded (Caused by SSLError("
     "SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
     "failed: self-signed certificate')))", "failed the TLS handshake"),
    ("HTTPConnectionPool(host='h', port=80): Read timed out. (read timeout=10)",
     "did not answer in time"),
    ("something else entirely", "could not be read (something else entirely)"),
])
def test_network_errors_are_named(error: str, what: str) -> None:
    cause = network_cause("http://h/simple/x/", error)
    assert cause.what == what
    assert cause.fix


def test_a_404_is_no_cause_when_another_index_has_the_project() -> None:
    missing = http_cause("http://a/simple/x/", 404, "Not Found")
    refused = network_cause("http://b/simple/x/", "[Errno 111] Connection refused")
    assert missing.missing
    # The fix is the refused index's: the 404 may only mean "not on this one".
    assert explain("pip download failed (exit 1): none", [missing, refused], "generic") == (
        "pip download failed (exit 1): none; http://a/simple/x/ answered HTTP 404 Not Found; "
        f"http://b/simple/x/ refused the connection: {refused.fix}")
    assert explain("failed: none", [], "fix the requirement") == (
        "failed: none: fix the requirement")


@pytest.mark.parametrize(("report", "project"), [
    ("Could not find a version that satisfies the requirement Six>=2 (from versions: none)\n"
     "No matching distribution found for Six>=2", "Six"),
    ("No solution found when resolving dependencies: Because zope.interface was not found "
     "in the package registry and you require zope.interface", "zope.interface"),
    ("Cannot install a and b because these package versions have conflicting dependencies",
     None),
])
def test_the_project_nothing_was_found_for(report: str, project: str | None) -> None:
    assert project_nothing_was_found_for(report) == project
