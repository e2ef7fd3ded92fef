"""The one exception hierarchy of dockerpypi.

Every error meant for a person derives from :class:`DockerPypiError` and
carries a one-line message that names the problem and the fix. The CLI maps
these classes to exit codes in one place (:func:`exit_code_for`); nothing else
decides an exit code.
"""

from __future__ import annotations


class DockerPypiError(Exception):
    """Base of every error dockerpypi reports to a person."""


class UserMessageError(DockerPypiError):
    """Something failed; the message says what and how to fix it (exit 1)."""


class SettingsError(UserMessageError):
    """A setting, flag or environment variable has a bad value (exit 2)."""


class UsageError(UserMessageError):
    """The command line itself is wrong (exit 2)."""


# One table, most specific first: the CLI's single place that turns an error
# into an exit code.
_EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (SettingsError, 2),
    (UsageError, 2),
    (UserMessageError, 1),
    (DockerPypiError, 1),
)


def exit_code_for(error: BaseException) -> int:
    """The process exit code for ``error``."""
    for kind, code in _EXIT_CODES:
        if isinstance(error, kind):
            return code
    return 1


def split_fix(message: str) -> tuple[str, str]:
    """dockerpypi's "problem: fix" messages, split at the last ": " outside parentheses."""
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
