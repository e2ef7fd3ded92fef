"""``dockerpypi doctor``: the command line of :mod:`dockerpypi.doctor`.

The checks (:mod:`dockerpypi.doctor`) are imported when the command runs
(the rule: cli/__init__.py).
"""

from __future__ import annotations

from typing import Any

import click

from ..errors import UserMessageError
from .options import settings_from, settings_options
from .output import Output, json_option, lines, warn


@click.command("doctor")
@settings_options
@click.option("--url-timeout", type=click.FloatRange(min=0.1, max=120), default=5.0,
              show_default=True, metavar="SECONDS",
              help="How long to wait for each mirror URL to answer.")
@json_option
def doctor(url_timeout: float, as_json: bool, **kwargs: Any) -> Output:
    """Check that builds can get the mirror: engine, builder, mirror directory, mirror URLs.

    Every check prints ok, note or fail; each failure comes with its fix.
    Credentials are sent to their mirror, never printed. Exit 1 when a check
    fails, 0 when all is well.
    """
    from ..doctor import report_lines, run_doctor

    settings = settings_from(kwargs)
    warn(*settings.warnings)
    report = run_doctor(settings, timeout=url_timeout)
    failures = report.failures
    error = None
    if failures:
        names = ", ".join(check.name for check in failures)
        error = UserMessageError(f"{len(failures)} check{'s' if len(failures) > 1 else ''} "
                                 f"failed ({names})", fix="apply the fixes shown above")
    return Output(text=lines(report_lines(report)), json=report.to_json(), error=error)
