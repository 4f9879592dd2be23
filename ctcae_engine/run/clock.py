"""When a report is made: the one place the engine reads the clock.

Reproducible builds (https://reproducible-builds.org/specs/source-date-epoch/): when the environment variable
``SOURCE_DATE_EPOCH`` is set (whole seconds since 1970-01-01 00:00 UTC), that instant is the report's generation
time, so the same inputs and the same ``SOURCE_DATE_EPOCH`` give byte-identical files. Otherwise it is now (UTC,
whole seconds). The data cut-off is a separate date of the study configuration and never stands in for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


def report_time(environ: Mapping[str, str] | None = None) -> datetime:
    """The generation time: ``SOURCE_DATE_EPOCH`` of ``environ`` (default ``os.environ``) when set, else now; UTC,
    whole seconds. ``ValueError`` when ``SOURCE_DATE_EPOCH`` is set but not a non-negative integer (the
    specification asks to fail rather than fall back to the clock)."""
    environ = os.environ if environ is None else environ
    text = environ.get(SOURCE_DATE_EPOCH, "").strip()
    if not text:
        return datetime.now(timezone.utc).replace(microsecond=0)
    if not text.isdigit():
        raise ValueError(f"{SOURCE_DATE_EPOCH}={text!r} is not a whole number of seconds since 1970-01-01 UTC")
    return datetime.fromtimestamp(int(text), timezone.utc)


def run_time_source(environ: Mapping[str, str] | None = None) -> str:
    """Where :func:`report_time` takes the time from: "SOURCE_DATE_EPOCH" or "clock"."""
    environ = os.environ if environ is None else environ
    return SOURCE_DATE_EPOCH if environ.get(SOURCE_DATE_EPOCH, "").strip() else "clock"
