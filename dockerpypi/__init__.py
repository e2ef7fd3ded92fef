"""dockerpypi: a PyPI mirror for every container build, and no trace of it in the image.

The public API is what this module names; everything in underscored modules
may change.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._urls import Credentials, MirrorURL
from .errors import DockerPypiError, SettingsError, UsageError, UserMessageError
from .settings import Settings, Sourced, resolve_settings

__all__ = [
    "Credentials",
    "DockerPypiError",
    "MirrorURL",
    "Settings",
    "SettingsError",
    "Sourced",
    "UsageError",
    "UserMessageError",
    "__version__",
    "resolve_settings",
]
