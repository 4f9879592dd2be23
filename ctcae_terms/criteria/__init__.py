"""Lab grading criteria as data: one row per CTCAE criterion, plus the default test-code -> criteria map.

``lab_criteria_v4.03.csv``: one row per term x direction x grade x alternative criterion. A row says
"grade ``grade`` when value ``op`` bound", where bound = ``bound`` (``ref`` = abs, in ``unit``) or
``bound`` x reference + ``offset`` (``ref`` = uln, lln, base, or uln_or_base: baseline when it is above the
ULN, else the ULN). Several rows for one grade are alternatives (any of them fires the grade).
``ctcae_text`` is the CTCAE v4.03 grade text the row implements; ``comment`` records interpretation choices.

``lab_test_map.csv``: LBTESTCD / PARAMCD -> criteria keys for the low and high direction, by specimen
(blank = any blood specimen, URINE) and fasting flag (blank = any, Y).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import pandas as pd

REFS = ("abs", "uln", "lln", "base", "uln_or_base")
OPS = ("<", "<=", ">", ">=")


def _read(name: str) -> pd.DataFrame:
    with files(__package__).joinpath(name).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


@cache
def _criteria() -> pd.DataFrame:
    table = _read("lab_criteria_v4.03.csv")
    table["grade"] = table["grade"].astype("int64")
    table["bound"] = table["bound"].astype("float64")
    table["offset"] = table["offset"].astype("float64")
    bad = table[~table["ref"].isin(REFS) | ~table["op"].isin(OPS) | ~table["direction"].isin(("low", "high"))]
    if not bad.empty:
        raise ValueError(f"lab criteria rows with unknown ref/op/direction:\n{bad}")
    return table


def load_lab_criteria() -> pd.DataFrame:
    """The lab criteria table as a new DataFrame (see module docstring for the columns)."""
    return _criteria().copy()


@cache
def _test_map() -> pd.DataFrame:
    return _read("lab_test_map.csv")


def load_lab_test_map() -> pd.DataFrame:
    """The default test code -> criteria key map as a new DataFrame (empty string = none)."""
    return _test_map().copy()
