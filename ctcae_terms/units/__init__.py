"""Unit spellings and per-analyte conversion factors, as data.

``unit_aliases.csv`` maps a spelling (compared case-insensitively, spaces removed) to a canonical unit.
``unit_factors.csv`` holds value_in_to_unit = value_in_from_unit x factor + offset, per analyte ("*" = any
analyte; offset is 0 except for temperatures); the engine also uses each row in reverse. ``exact`` = yes marks a
definitional factor (SI prefixes, mEq/L of an ion of known charge, cells/uL = 10^6/L); blank marks a factor that rests
on a molar mass (mg/dL <-> mmol/L), which the engine uses only where no unit with an exact factor has a threshold.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from ctcae_terms._files import read_table


def _read(name: str) -> pd.DataFrame:
    return read_table(__package__, name)


@cache
def _aliases() -> pd.DataFrame:
    return _read("unit_aliases.csv")


@cache
def _factors() -> pd.DataFrame:
    table = _read("unit_factors.csv")
    table["factor"] = table["factor"].astype("float64")
    table["offset"] = table["offset"].replace("", "0").astype("float64")
    table["exact"] = table["exact"].str.strip().str.lower().eq("yes")
    return table


def load_unit_aliases() -> pd.DataFrame:
    """Unit spelling -> canonical unit, as a new DataFrame."""
    return _aliases().copy()


def load_unit_factors() -> pd.DataFrame:
    """Conversion factors (analyte, from_unit, to_unit, factor, offset, exact), as a new DataFrame."""
    return _factors().copy()
