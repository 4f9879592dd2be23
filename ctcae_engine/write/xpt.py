"""SAS transport (XPT) version 5, the FDA's submission format, through pyreadstat.

Version 5 limits: names of at most 8 characters (letters, digits, underscore; not starting with a digit), labels of
at most 40, character values of at most 200 bytes, numbers as 8-byte floats, dates as SAS dates (days since
1960-01-01, format DATE9.). A name that breaks the rule, or two names equal once upper-cased, raise a ValueError
naming them (the ADaM outputs never do). A longer label is cut to 40 characters; a longer text value is cut to 200
bytes (at a character boundary) and the cut is returned so the caller can say so (Parquet and Dataset-JSON keep it
whole). The header's creation and modification times are set to ``created`` so that the same data give the same
file.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,7}")
MAX_LABEL, MAX_TEXT = 40, 200
_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
_OBS = b"HEADER RECORD*******OBS     HEADER RECORD"


def check_names(columns: list[str]) -> None:
    """Raise ValueError when a name cannot be an XPT v5 variable name, or two clash once upper-cased."""
    bad = [c for c in columns if not NAME.fullmatch(str(c))]
    if bad:
        raise ValueError(f"SAS XPT v5 names are at most 8 letters, digits or _: {', '.join(map(str, bad))}")
    upper = pd.Series([str(c).upper() for c in columns])
    twice = sorted(set(upper[upper.duplicated()]))
    if twice:
        raise ValueError(f"SAS XPT v5: two or more variables have the same name: {', '.join(twice)}")


def _cut(text: str) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= MAX_TEXT else data[:MAX_TEXT].decode("utf-8", errors="ignore")


def _stamp(path: Path, created: datetime) -> None:
    """Set every header time stamp (before the first observation record) to ``created``."""
    raw = path.read_bytes()
    head = raw.find(_OBS)
    head = len(raw) if head < 0 else head
    text = created.strftime("%d%b%y:%H:%M:%S").upper().encode("ascii")
    path.write_bytes(_STAMP.sub(text, raw[:head]) + raw[head:])


def write_xpt(frame: pd.DataFrame, path: str | Path, name: str, label: str = "",
              labels: dict[str, str] | None = None, created: datetime | None = None) -> dict[str, int]:
    """Write ``frame`` as XPT v5 dataset ``name``; returns {column: values cut to 200 bytes} (empty when none)."""
    import pyreadstat

    check_names(list(frame.columns))
    out = frame.reset_index(drop=True).copy()
    cut: dict[str, int] = {}
    formats: dict[str, str] = {}
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            out[column] = values.dt.date.astype(object).where(values.notna(), None)
            formats[column] = "DATE9."
        elif pd.api.types.is_bool_dtype(values.dtype):
            out[column] = values.map({True: "Y", False: "N"}).fillna("")
        elif pd.api.types.is_numeric_dtype(values.dtype):
            out[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            text = values.astype(object).where(values.notna(), "").astype(str)
            short = text.map(_cut)
            if (changed := int(short.ne(text).sum())):
                cut[column] = changed
            out[column] = short
    column_labels = {c: (labels or {}).get(c, c)[:MAX_LABEL] for c in out.columns}
    path = Path(path)
    pyreadstat.write_xport(out, str(path), file_label=label[:MAX_LABEL], column_labels=column_labels,
                           table_name=name.upper()[:8], file_format_version=5, variable_format=formats)
    if created is not None:
        _stamp(path, created)
    return cut


def read_xpt(path: str | Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """(frame, {name: label}) of an XPT file; dates as datetime64, missing text as ""."""
    import pyreadstat

    frame, meta = pyreadstat.read_xport(str(path), dates_as_pandas_datetime=True)
    return frame, dict(zip(meta.column_names, meta.column_labels, strict=True))
