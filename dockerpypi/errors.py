"""The one exception hierarchy of dockerpypi, and its warnings.

Every error meant for a person derives from :class:`DockerPypiError` and
carries its parts as fields: the ``problem``, the ``fix``, and the process
``exit_code`` its class gives. It prints as one line, ``problem: fix``; the
CLI prints that line on standard error and the fields in ``--json``, and
asks :func:`exit_code_for` for the exit code; nothing else decides one.

Raise with both parts, ``UserMessageError(problem, fix=...)``. A message
given whole (``UserMessageError("problem: fix")``, as many raise sites still
do) prints as it was written; its fix is taken from it once, when the error is
made (:meth:`DockerPypiError.__init__`): what follows its last ": " outside
parentheses, or none.

Warnings are classes too (:class:`DockerPypiWarning` and below): the CLI
prints them (``dockerpypi: warning: ...``), and a command that does not care
about some leaves them out by class, never by their words.
"""

from __future__ import annotations

# --- errors ---------------------------------------------------------------------------


class DockerPypiError(Exception):
    """Base of every error dockerpypi reports to a person (exit 1)."""

    exit_code = 1

    def __init__(self, problem: str, fix: str | None = None) -> None:
        if fix is None:  # a whole message: its fix is its tail, if it has one
            problem, fix = _split_fix(problem)
        self.problem = problem
        self.fix = fix  # "": the message names no fix
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.problem}: {self.fix}" if self.fix else self.problem


class UserMessageError(DockerPypiError):
    """Something failed; the message says what and how to fix it (exit 1)."""


class SettingsError(UserMessageError):
    """A setting, flag or environment variable has a bad value (exit 2)."""

    exit_code = 2


class UsageError(UserMessageError):
    """The command line itself is wrong (exit 2)."""

    exit_code = 2


def exit_code_for(error: BaseException) -> int:
    """The process exit code for ``error``: its class's, or 1 for anything else."""
    return error.exit_code if isinstance(error, DockerPypiError) else 1


def _split_fix(message: str) -> tuple[str, str]:
    """A whole "problem: fix" message, split at the last ": " outside parentheses."""
    depth = 0
    cut = -1
    for position, char in enumerate(message):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == ":" and depth == 0 and message[position + 1:position + 2] == " ":
            cut = position
    if cut < 0:
        return message, ""
    return message[:cut], message[cut + 2:]


# --- warnings ---------------------------------------------------------------------------
#
# They derive from UserWarning, so the standard `warnings` machinery could take
# them too; dockerpypi hands them around as values (Settings.warnings, a
# command's output) and prints them in one place (dockerpypi.cli.output).


class DockerPypiWarning(UserWarning):
    """Something a person should know; the command goes on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SettingsWarning(DockerPypiWarning):
    """A setting was ignored, is deprecated, or is risky where it was given."""


class NoMirrorConfigured(SettingsWarning):
    """No mirror was given, so builds use the local mirror directory: about builds only."""


class CredentialsHidden(DockerPypiWarning):
    """Output shows credentials as ``***``, so it cannot be used as it is."""


class MirrorWarning(DockerPypiWarning):
    """About the local mirror directory: a file skipped, nothing in it, another user."""


class DevpiWarning(DockerPypiWarning):
    """About the devpi-server dockerpypi started or found."""


class BuildWarning(DockerPypiWarning):
    """About a build: the local mirror is missing, a loopback mirror is out of reach."""
