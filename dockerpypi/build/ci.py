"""``dockerpypi ci``: the mirror as the inputs of docker/build-push-action and bake-action.

In CI the build runs in a later step, inside the action, after dockerpypi has
exited; so what a build is given (:class:`~.frontends.TargetInputs`) must
outlive dockerpypi. :func:`kept` copies it into a directory the workflow
names (the step settings, secrets at mode 0600, ``--inject``'s Dockerfile
and contexts); the mirror subset stays where builds keep it, in the mirror.
Then:

- ``ci build``: the inputs of docker/build-push-action (:func:`action_inputs`):
  ``build-contexts``, ``secret-files``, and ``file`` with ``--inject``,
  ``network`` for a mirror on loopback;
- ``ci bake``: the bake override (:mod:`.bake`) written into that directory,
  and docker/bake-action's ``files`` input that lists it after the user's.

They are printed as GitHub Actions step outputs (:func:`github_outputs`),
for ``>> "$GITHUB_OUTPUT"``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..dockerfile.vocabulary import MIRROR_STAGE
from ..errors import UsageError
from ..files import write_atomic, write_private
from .frontends import InjectOptions, Target, TargetInputs, prepared_targets

if TYPE_CHECKING:
    from .bake import BakeArgs
    from .command import DockerArgs
    from .pipeline import BuildRun


def kept(inputs: TargetInputs, directory: Path, mirror_dir: Path | None) -> TargetInputs:
    """``inputs`` copied into ``directory``, but the mirror (or its subset, kept in it)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    contexts = {}
    for name, source in inputs.contexts.items():
        path = Path(source)
        if name == MIRROR_STAGE or (mirror_dir is not None and path.is_relative_to(mirror_dir)):
            contexts[name] = source
            continue
        target = directory / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(path, target)
        contexts[name] = str(target)
    secrets = {}
    for secret_id, written in inputs.secrets.items():
        secrets[secret_id] = directory / "secrets" / secret_id
        secrets[secret_id].parent.mkdir(mode=0o700, exist_ok=True)
        write_private(secrets[secret_id], written.read_bytes())
    dockerfile = None
    if inputs.dockerfile is not None:
        dockerfile = directory / "Dockerfile"
        write_atomic(dockerfile, inputs.dockerfile.read_bytes())
        ignore = inputs.dockerfile.with_name(inputs.dockerfile.name + ".dockerignore")
        if ignore.is_file():
            write_atomic(directory / "Dockerfile.dockerignore", ignore.read_bytes())
    return TargetInputs(contexts, secrets, dockerfile, inputs.host_network)


def action_inputs(inputs: TargetInputs | None) -> dict[str, list[str]]:
    """docker/build-push-action's inputs for ``inputs`` (None: the build gets nothing)."""
    if inputs is None:
        return {"build-contexts": [], "secret-files": []}
    found = {
        "build-contexts": [f"{name}={path}" for name, path in inputs.contexts.items()],
        "secret-files": [f"{secret_id}={path}" for secret_id, path in inputs.secrets.items()],
    }
    if inputs.dockerfile is not None:
        found["file"] = [str(inputs.dockerfile)]
    if inputs.host_network:
        found["network"] = ["host"]
    return found


def github_outputs(outputs: Mapping[str, Sequence[str]]) -> str:
    """``outputs`` in the form of ``$GITHUB_OUTPUT``: ``name=value``, or a heredoc of lines."""
    text = []
    for name, values in outputs.items():
        if len(values) == 1:
            text.append(f"{name}={values[0]}\n")
            continue
        delimiter = f"EOF_{uuid.uuid4().hex}"
        text.append(f"{name}<<{delimiter}\n" + "".join(f"{value}\n" for value in values)
                    + f"{delimiter}\n")
    return "".join(text)


def _out_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a directory", fix="give --out a directory")
    return out.absolute()


def ci_build(run: BuildRun, given: DockerArgs, *, out: Path,
             inject: InjectOptions | None) -> dict[str, list[str]]:
    """The build-push-action inputs of the build ``given``, their files kept in ``out``."""
    from .frontends import refuse_without_named_contexts

    refuse_without_named_contexts(run, "ci")
    out = _out_dir(out)
    with prepared_targets(run, [Target("build", given)], inject=inject,
                          report=run.report) as ready:
        inputs = ready.get("build")
        return action_inputs(kept(inputs, out, run.mirror_dir) if inputs else None)


def ci_bake(run: BuildRun, given: BakeArgs, *, cwd: Path, out: Path,
            inject: InjectOptions | None) -> dict[str, list[str]]:
    """The bake override for ``given`` written in ``out``; bake-action's ``files``."""
    from .bake import OVERRIDE_NAME, files_in_use, override, read_targets, refuse_host_network
    from .frontends import refuse_without_named_contexts

    refuse_without_named_contexts(run, "ci")
    out = _out_dir(out)
    files = files_in_use(given, cwd)
    with prepared_targets(run, read_targets(given, files, cwd), inject=inject,
                          report=run.report) as ready:
        refuse_host_network(ready, run.settings)
        document = override({name: kept(inputs, out / name, run.mirror_dir)
                             for name, inputs in ready.items()})
    write_atomic(out / OVERRIDE_NAME, (json.dumps(document, indent=2) + "\n").encode())
    return {"files": [*files, str(out / OVERRIDE_NAME)]}
