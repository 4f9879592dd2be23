"""CSV files meant for spreadsheets, written so that no cell runs as a formula (CSV injection).

A data manager opens ``graded/*.csv``, ``tables/*.csv``, the listings and ``ungraded_rows.csv`` in Excel or
LibreOffice; a cell such as ``=HYPERLINK(...)`` or ``@SUM(...)`` coming from the sponsor's data would run there. The
OWASP convention (https://owasp.org/www-community/attacks/CSV_Injection): a text cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is written with a single quote in front (``'=HYPERLINK(...)``), which the
spreadsheet shows as the text it is. Only text cells change: numbers (numeric columns, and text that is a plain
number such as ``-1.5``, ``+3`` or ``-28``, which a spreadsheet reads as that number) are written as they are. Column
names follow the same rule. Parquet files keep every text exactly as read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection)."""
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutral(value: object) -> object:
    """One cell as a spreadsheet may show it: a text starting with a trigger (and not a plain number) gets a
    leading single quote; anything else is returned as it is."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every formula-like text cell and column name neutralised (see the module docstring); the
    frame itself when nothing needs it, else a new frame in which only the affected columns changed."""
    changed: dict[int, pd.Series] = {}
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if not (pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype)
                or isinstance(column.dtype, pd.CategoricalDtype)):
            continue
        codes, uniques = pd.factorize(column, use_na_sentinel=True)  # each distinct text looked at once
        fixed = [neutral(u) for u in uniques]
        if any(f is not u for f, u in zip(fixed, uniques, strict=True)):
            values = pd.Series(pd.array(fixed + [None], dtype=object)[codes], index=column.index, dtype=object)
            changed[position] = values.where(codes >= 0, column.astype(object))
    names = [neutral(str(c)) if isinstance(c, str) else c for c in frame.columns]
    if not changed and names == list(frame.columns):
        return frame
    out = frame.copy()
    for position, values in changed.items():
        out.isetitem(position, values)
    out.columns = names
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as the engine's CSV (no index, ``\\n`` line ends), spreadsheet-safe; returns the path."""
    spreadsheet_safe(frame).to_csv(path, index=False, lineterminator="\n")
    return Path(path)
