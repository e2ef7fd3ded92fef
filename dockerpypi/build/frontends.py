"""What ``bake``, ``compose`` and the CI inputs share: several builds made ready at once.

A bake or compose project names several builds (targets, services). Each is
described to the pipeline as the ``docker buildx build`` arguments it stands
for (:func:`target_args`: its Dockerfile, context, platforms, and the names
of the contexts and secrets the user gave it), so that the subset, ``--inject``
and the step settings are chosen exactly as ``dockerpypi build`` chooses
them (:func:`dockerpypi.build.pipeline.prepared`). :func:`prepared_targets`
makes every build that installs from the mirror ready, inside one block, and
returns what each is given (:class:`TargetInputs`); each front end then
writes them its own way (a bake or compose override, action inputs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import process
from ..dockerfile.vocabulary import MIRROR_STAGE
from ..errors import DockerPypiWarning, UsageError
from . import pipeline
from .command import dockerfile_path, parse_docker_args

if TYPE_CHECKING:
    from .command import DockerArgs
    from .injected import Injecting


class Target(NamedTuple):
    """One build of a bake or compose project: its name there, and the ``docker buildx
    build`` arguments it stands for (None: not a Dockerfile on disk, built as it is)."""

    name: str
    given: DockerArgs | None


class InjectOptions(NamedTuple):
    """``--inject``'s options, as ``dockerpypi build`` takes them."""

    uid: int | None = None
    prefer_uv: bool = False


class TargetInputs(NamedTuple):
    """What dockerpypi gives one target: named contexts (name: directory), secrets
    (id: file), ``--inject``'s copy of the Dockerfile (None: the user's), and whether
    it needs the host's network."""

    contexts: dict[str, str]
    secrets: dict[str, Path]
    dockerfile: Path | None
    host_network: bool


def scan_options(words: Sequence[str], with_value: Collection[str], *,
                 long_names: Mapping[str, str] | None = None,
                 needs: Mapping[str, tuple[str, str]] | None = None,
                 ) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The options among a docker tool's ``words`` (as given, or by ``long_names``), and
    the other words.

    Options in ``with_value`` take the next word, or ``=VALUE``, or (a short
    one) the rest of the word (``-fcompose.yaml``); ``needs`` says what a
    missing value is (``{"-f": ("a bake file", "FILE")}``), for the one line.
    """
    options: list[tuple[str, str | None]] = []
    others: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            others += words[i:]
            break
        if not word.startswith("-") or word == "-":
            others.append(word)
            continue
        name, equals, value = word.partition("=")
        if not equals and not name.startswith("--") and len(name) > 2 and name[:2] in with_value:
            name, equals, value = name[:2], "=", name[2:]  # -fcompose.yaml
        shown = name
        name = (long_names or {}).get(name, name)
        if equals:
            options.append((name, value))
        elif shown in with_value or name in with_value:
            if i == len(words):
                what, placeholder = (needs or {}).get(shown, ("a value", "VALUE"))
                raise UsageError(f"{shown} needs {what}", fix=f"give {shown} {placeholder}")
            options.append((name, words[i]))
            i += 1
        else:
            options.append((name, None))
    return options, others


def target_args(context: Path, dockerfile: Path, *, platforms: Iterable[str] = (),
                contexts: Iterable[str] = (), secrets: Iterable[str] = (),
                network: str | None = None, builder: str | None = None) -> DockerArgs:
    """The ``docker buildx build`` arguments a target stands for.

    ``contexts`` are the names of the build contexts the user gives it,
    ``secrets`` their secret specs (``id=...,src=...``): what the user gives
    wins over dockerpypi's, as it does for ``dockerpypi build``.
    """
    args = ["--file", str(dockerfile)]
    for platform in platforms:
        args += ["--platform", platform]
    for name in contexts:
        args += ["--build-context", f"{name}=given"]
    for spec in secrets:
        args += ["--secret", spec]
    if network is not None:
        args += ["--network", network]
    if builder is not None:
        args += ["--builder", builder]
    return parse_docker_args([*args, str(context)])


def refuse_without_named_contexts(run: pipeline.BuildRun, command: str) -> None:
    """``bake`` and ``compose`` give the mirror as named build contexts only."""
    if run.transport.kind != "context":
        raise UsageError(f"dockerpypi {command} gives the mirror as named build contexts, and "
                         f"this engine has none ({run.transport.reason})",
                         fix="build each image with `dockerpypi build`, which serves the "
                             "mirror over HTTP")


_MOUNTS_MIRROR = re.compile(rf"\bfrom={re.escape(MIRROR_STAGE)}\b", re.IGNORECASE)


def installs_from_mirror(given: DockerArgs, injecting: Injecting | None,
                         run: pipeline.BuildRun) -> bool:
    """Whether a step of the build mounts the mirror (with ``--inject``: or would mount it)."""
    if injecting is not None:
        text = injecting.text
    else:
        source = dockerfile_path(given)
        try:
            text = source.read_text(encoding="utf-8", errors="replace") if source else ""
        except OSError:
            return False  # docker says why
    if _MOUNTS_MIRROR.search(text) is not None:
        return True
    return injecting is not None and injecting.result(run.settings, run.config).text != text


@contextmanager
def prepared_targets(run: pipeline.BuildRun, targets: Iterable[Target], *,
                     inject: InjectOptions | None, report: Callable[[str], None],
                     ) -> Iterator[dict[str, TargetInputs]]:
    """Each target that installs from the mirror made ready (its files exist while the
    block lasts): {target name: what it is given}. ``run`` is the run of the whole
    command (:func:`dockerpypi.build.pipeline.start`); ``report`` gets the lines of
    each target's preparation, prefixed with its name."""
    with ExitStack() as stack:
        ready: dict[str, TargetInputs] = {}
        for target in targets:
            inputs = _prepared(stack, run, target, inject, report)
            if inputs is not None:
                ready[target.name] = inputs
        yield ready


def _prepared(stack: ExitStack, run: pipeline.BuildRun, target: Target,
              inject: InjectOptions | None, report: Callable[[str], None]
              ) -> TargetInputs | None:
    name, given = target.name, target.given

    def said(line: str) -> None:
        report(f"{name}: {line}")

    def warned(warning: DockerPypiWarning) -> None:
        run.warn(type(warning)(f"{name}: {warning}"))

    if given is None:
        said("not a Dockerfile on disk: built as it is")
        return None
    own = pipeline.BuildRun(given, run.settings, run.mirror_dir, run.transport, report=said,
                            warn=warned, engine=run.engine, dry_run=run.dry_run)
    injecting = None
    if inject is not None:
        from .injected import read_for_injection

        injecting = read_for_injection(given, run.settings, uid=inject.uid,
                                       prefer_uv=inject.prefer_uv)
    if not installs_from_mirror(given, injecting, own):
        said("no step installs from the mirror: built as it is")
        return None
    ready = stack.enter_context(pipeline.prepared(own, injecting))
    final = ready.run.given
    added = _contexts(final.values("--build-context")).items() - _contexts(
        given.values("--build-context")).items()
    dockerfile = dockerfile_path(final)
    return TargetInputs({**ready.inputs.contexts, **dict(added)}, ready.inputs.secrets,
                        dockerfile if dockerfile != dockerfile_path(given) else None,
                        ready.inputs.host_network)


def _contexts(specs: Iterable[str]) -> dict[str, str]:
    return dict(spec.partition("=")[::2] for spec in specs)


def absolute(path: str, base: Path) -> Path:
    """``path`` as the tool reads it: relative to ``base`` unless absolute."""
    return Path(path) if Path(path).is_absolute() else base / path


class Ran(NamedTuple):
    """How a bake or compose run ended: the tool's exit code; for a dry run, the command
    and the override it would write."""

    code: int
    command: str | None = None
    override: str | None = None


def run_with_override(run: pipeline.BuildRun, targets: Iterable[Target], *,
                      inject: InjectOptions | None, name: str,
                      document: Callable[[Mapping[str, TargetInputs]], dict[str, Any]],
                      argv: Callable[[Path], list[str]]) -> Ran:
    """Make ``targets`` ready, write their ``document`` (the override file, ``name``) in a
    private directory and run ``argv(override)``; all removed when it ends."""
    from ..files import private_files

    with prepared_targets(run, targets, inject=inject, report=run.report) as ready:
        text = json.dumps(document(ready), indent=2) + "\n"  # JSON: YAML too, for Compose
        if run.dry_run:
            return Ran(0, process.shell_command(argv(Path(name)), run.secrets), text)
        with private_files({name: text}) as written:
            return Ran(process.run(argv(written[name]), secrets=run.secrets))
