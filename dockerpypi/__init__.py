"""dockerpypi: a PyPI mirror for every container build, and no trace of it in the image.

The public API is what this module names; everything in underscored modules
may change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .errors import DockerPypiError, SettingsError, UsageError, UserMessageError
    from .settings.model import Settings, Sourced
    from .settings.resolve import resolve_settings
    from .settings.urls import Credentials, MirrorURL

# Each public name and the module that defines it. They are imported on first
# use (PEP 562) rather than here: every `dockerpypi` command imports this
# package, and `dockerpypi --version` should not pay for the settings.
_PUBLIC = {
    "Credentials": "settings.urls",
    "MirrorURL": "settings.urls",
    "DockerPypiError": "errors",
    "SettingsError": "errors",
    "UsageError": "errors",
    "UserMessageError": "errors",
    "Settings": "settings.model",
    "Sourced": "settings.model",
    "resolve_settings": "settings.resolve",
}

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


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
