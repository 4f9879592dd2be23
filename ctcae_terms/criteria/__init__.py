"""Lab grading criteria as data: one row per CTCAE criterion, plus the default test-code -> criteria map.

``lab_criteria_v4.03.csv``: one row per term x direction x grade x alternative criterion. A row says
"grade ``grade`` when value ``op`` bound", where bound = ``bound`` (``ref`` = abs, in ``unit``) or
``bound`` x reference + ``offset`` (``ref`` = uln, lln, base, or uln_or_base: baseline when it is above the
ULN, else the ULN). Several rows for one grade are alternatives (any of them fires the grade).
``ctcae_text`` is the CTCAE v4.03 grade text the row implements; ``comment`` records interpretation choices.

Optional ``duration_h``: the row fires only for a run of the participant's consecutive readings meeting it that
spans more than that many hours (Fever G4). Optional ``min_count``: only when at least that many separate
(distinct date/time) readings of the participant meet it (QTc G3 "on at least two separate ECGs").
Optional ``value_fits_from``: on a worst-case row (CTCAE separates the grades only by clinical context, e.g.
Hypokalemia G1 and G2 share "<LLN - 3.0 mmol/L"), the lowest grade the value alone also fits; reconciliation
does not call a reported grade in that range under-reported.

``lab_criteria_units_v4.03.csv``: the same criteria in the other units the CTCAE v4.03 text states them in (most
lab thresholds are written in conventional units with rounded SI equivalents: "Hypercalcemia G2: >11.5 - 12.5 mg/dL;
>2.9 - 3.1 mmol/L"). One row per criteria row with a constant (``ref`` abs, or an offset) and unit: ``key``,
``grade`` and ``ref`` name the criteria row, ``bound`` / ``offset`` its constant in ``unit`` (canonical spelling),
``text`` the part of the CTCAE text that states it and ``unit_text`` the unit as printed there. Rows that are pure
multiples of ULN, LLN or baseline hold in every unit and are not repeated.

``lab_test_map.csv``: LBTESTCD / PARAMCD -> criteria keys for the low and high direction, by specimen
(blank = any blood specimen, URINE; REST = recorded at rest) and fasting flag (blank = any, Y).
``clinical_criteria_v4.03.csv`` and ``clinical_test_map.csv``: the same for vital signs (VS) and ECG (EG).
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from ctcae_terms._files import read_table

REFS = ("abs", "uln", "lln", "base", "uln_or_base")
OPS = ("<", "<=", ">", ">=")


def _read(name: str) -> pd.DataFrame:
    return read_table(__package__, name)


@cache
def _criteria(name: str) -> pd.DataFrame:
    table = _read(name)
    table["grade"] = table["grade"].astype("int64")
    for column in ("bound", "offset", "duration_h", "min_count", "value_fits_from"):
        table[column] = pd.to_numeric(table[column].replace("", None), errors="raise").astype("float64")
    bad = table[~table["ref"].isin(REFS) | ~table["op"].isin(OPS) | ~table["direction"].isin(("low", "high"))]
    if not bad.empty:
        raise ValueError(f"lab criteria rows with unknown ref/op/direction:\n{bad}")
    return table


def load_lab_criteria() -> pd.DataFrame:
    """The lab criteria table as a new DataFrame (see module docstring for the columns)."""
    return _criteria("lab_criteria_v4.03.csv").copy()


@cache
def _criteria_units(name: str) -> pd.DataFrame:
    table = _read(name)
    table["grade"] = table["grade"].astype("int64")
    for column in ("bound", "offset"):
        table[column] = pd.to_numeric(table[column], errors="raise").astype("float64")
    if not table["ref"].isin(REFS).all():
        raise ValueError(f"{name}: unknown ref in {sorted(set(table['ref']) - set(REFS))}")
    return table


def load_lab_criteria_units() -> pd.DataFrame:
    """The lab criteria's thresholds in the other units the CTCAE v4.03 text gives (see module docstring), new frame."""
    return _criteria_units("lab_criteria_units_v4.03.csv").copy()


def load_clinical_criteria() -> pd.DataFrame:
    """The vital-sign and ECG criteria table (same columns as the lab table) as a new DataFrame."""
    return _criteria("clinical_criteria_v4.03.csv").copy()


@cache
def _test_map(name: str) -> pd.DataFrame:
    return _read(name)


def load_lab_test_map() -> pd.DataFrame:
    """The default lab test code -> criteria key map as a new DataFrame (empty string = none)."""
    return _test_map("lab_test_map.csv").copy()


def load_clinical_test_map() -> pd.DataFrame:
    """The default VS/EG test code -> criteria key map as a new DataFrame (empty string = none)."""
    return _test_map("clinical_test_map.csv").copy()


def value_fits_from() -> dict[tuple[str, int], int]:
    """(term, grade) -> lowest grade the value alone also fits, for grades whose every criterion row is a
    worst-case reading (``value_fits_from`` set); lab and clinical tables together."""
    table = pd.concat([_criteria("lab_criteria_v4.03.csv"), _criteria("clinical_criteria_v4.03.csv")])
    fits = table.groupby(["term", "grade"])["value_fits_from"]
    every = fits.apply(lambda column: column.notna().all())
    lowest = fits.min()[every]
    return {(term, int(grade)): int(low) for (term, grade), low in lowest.items()}


@cache
def _astct(name: str) -> pd.DataFrame:
    table = _read(f"astct_{name}.csv")
    table["grade"] = table["grade"].astype("int64")
    return table


def load_astct(name: str) -> pd.DataFrame:
    """The ASTCT 2019 grading table as data (new frame): ``"crs"`` (Lee 2019 Table 6) or ``"icans"`` (Table 8,
    adults)."""
    if name not in ("crs", "icans"):
        raise ValueError(f"unknown ASTCT table {name!r}; expected 'crs' or 'icans'")
    return _astct(name).copy()


@cache
def _plausibility() -> pd.DataFrame:
    table = _read("plausibility.csv")
    for column in ("low", "high"):
        table[column] = pd.to_numeric(table[column], errors="raise").astype("float64")
    if table.duplicated(["analyte", "unit"]).any() or (table["low"] > table["high"]).any():
        raise ValueError("plausibility.csv: one window per analyte and unit, low <= high")
    return table


def load_plausibility() -> pd.DataFrame:
    """Plausibility windows as a new DataFrame: ``analyte`` (as in the test maps), ``unit`` (the criteria table unit
    of that analyte), ``low`` / ``high`` (inclusive: a value outside is implausible, listed with its reason and never
    graded) and ``source`` (why the window is where it is). They are checks of data entry, not CTCAE thresholds."""
    return _plausibility().copy()
