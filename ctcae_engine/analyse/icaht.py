"""Immune effector cell-associated hematotoxicity (ICAHT) from the graded labs (``ICAHT01``, ``ICAHT02``).

Source: Rejeski K, Subklewe M, Aljurf M, et al. *Immune effector cell-associated hematotoxicity: EHA/EBMT consensus
grading and best practice recommendations.* Blood 2023;142(10):865-877 (doi:10.1182/blood.2023020578): "a
classification system based on depth and duration of neutropenia was developed for early (day 0-30) and late (after
day +30) cytopenia". The grade table is data, ``ctcae_terms/criteria/icaht.csv`` (one row per threshold and grade:
early ICAHT from the days with ANC <= 500/uL and <= 100/uL, late ICAHT from ANC nadirs confirmed by two results);
this module counts the days and tests and looks the grade up. How the days are counted between lab days, and when a
grade cannot be given, is in docs/cart.md ("Hematotoxicity: ICAHT").

Input: the graded labs (docs/ARCHITECTURE.md "graded observations": usubjid, testcd, adt, value_si in 10^9/L,
reason) and the safety population (usubjid, saffl, infdt = day 0). Only the ANC rows are read (the test codes the lab
test map sends to the analyte NEUT).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ctcae_engine.analyse.endpoints import proportion
from ctcae_terms._files import read_table

_PACKAGE = "ctcae_terms.criteria"
EARLY_LAST_DAY = 30
"""Early ICAHT covers day 0 to day +30 (Rejeski 2023); late ICAHT every day after."""
STABLE_RECOVERY_DAYS = 3
"""A recovery above a threshold lasting fewer days than this is not a recovery: its days count as below ("days of
nonstable count recovery (<3 days) are counted to the cumulative total", the ICAHT duration rule restated in the
EHA/EBMT thrombocytopenia (T-ICAHT) grading table note, http://www.ash-sap.org/view-large/12809257; count
recovery = the first of 3 consecutive days)."""
ANC_UNIT = "10^9/L"
PER_UL = 1000.0  # 1 x 10^9/L = 1000 cells/uL

ICAHT_COLUMNS = ["usubjid", "infdt", "early_grade", "days_le500", "days_le100", "early_nadir", "early_nadir_day",
                 "late_grade", "late_tests_le1500", "late_tests_le1000", "late_tests_le500", "late_tests_le100",
                 "late_nadir", "late_nadir_day", "n_anc", "reason", "note"]


def icaht_table() -> pd.DataFrame:
    """The grading table as data (phase, threshold_per_ul, measure, min, max, grade, consensus_text, comment)."""
    table = read_table(_PACKAGE, "icaht.csv")
    for column in ("threshold_per_ul", "min", "max", "grade"):
        table[column] = pd.to_numeric(table[column].replace("", np.nan))
    return table


def anc_testcds() -> frozenset[str]:
    """Lab test codes that are an absolute neutrophil count (the lab test map's analyte NEUT)."""
    mapping = read_table(_PACKAGE, "lab_test_map.csv")
    return frozenset(mapping.loc[mapping["analyte"].eq("NEUT"), "testcd"].str.upper())


def _grade(table: pd.DataFrame, phase: str, counts: dict[float, int]) -> int:
    """The highest grade of ``phase`` whose count (days or tests at or below its threshold) lies in [min, max]."""
    rows = table[table["phase"].eq(phase)]
    grade = 0
    for row in rows.itertuples(index=False):
        value = counts.get(float(row.threshold_per_ul), 0)
        upper = np.inf if pd.isna(row.max) else row.max
        if row.min <= value <= upper:
            grade = max(grade, int(row.grade))
    return grade


def _day_ranges(days: list[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9"."""
    parts: list[str] = []
    for day in sorted(days):
        if parts and int(parts[-1].split("-")[-1]) == day - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{day}"
        else:
            parts.append(str(day))
    return ", ".join(parts)


def _low_days(measured: pd.Series, unreadable: set[int], threshold: float,
              last_day: int) -> tuple[list[bool | None], int, int]:
    """Status of days 0..``last_day`` for one threshold (True below, False above, None unknown) and the cumulative
    days below with every unknown day above (lower bound) and below (upper bound)."""
    days = np.array(measured.index, dtype=int)
    low = (measured.to_numpy() <= threshold)
    status: list[bool | None] = []
    for day in range(last_day + 1):
        if day in measured.index:
            status.append(bool(measured.loc[day] <= threshold))
            continue
        before, after = days[days < day], days[days > day]
        if day in unreadable or not len(before) or not len(after):
            status.append(None)  # no result, or no result on one side: the day's status is unknown
        else:
            status.append(bool(low[days == before.max()][0]))  # below until a result above (the recovery value)
    bounds = []
    for unknown_as in (False, True):
        filled = [unknown_as if s is None else s for s in status]
        bounds.append(sum(_bridge(filled)))
    return status, bounds[0], bounds[1]


def _bridge(filled: list[bool]) -> list[bool]:
    """Days above the threshold between two days below, fewer than STABLE_RECOVERY_DAYS in a row, count as below."""
    out = list(filled)
    i = 0
    while i < len(out):
        if out[i]:
            i += 1
            continue
        j = i
        while j < len(out) and not out[j]:
            j += 1
        if i > 0 and j < len(out) and j - i < STABLE_RECOVERY_DAYS:
            out[i:j] = [True] * (j - i)
        i = j
    return out


def _early(table: pd.DataFrame, daily: pd.Series, unreadable: set[int], last_day: int) -> dict[str, object]:
    thresholds = sorted({float(t) for t in table.loc[table["phase"].eq("early"), "threshold_per_ul"]}, reverse=True)
    window = daily[(daily.index >= 0) & (daily.index <= EARLY_LAST_DAY)]
    out: dict[str, object] = {"early_nadir": np.nan, "early_nadir_day": pd.NA}
    if len(window):
        out["early_nadir"] = float(window.min()) / PER_UL
        out["early_nadir_day"] = int(window.idxmin())
    if daily.empty and not unreadable:
        return {**out, "early_grade": pd.NA, "early_reason": "no ANC result", "early_note": ""}
    low_bound, high_bound, unknown = {}, {}, set()
    for threshold in thresholds:
        status, lower, upper = _low_days(daily, unreadable, threshold, last_day)
        low_bound[threshold], high_bound[threshold] = lower, upper
        unknown |= {day for day, s in enumerate(status) if s is None}
        out[f"days_le{int(threshold)}"] = lower if lower == upper else pd.NA
    low_grade, high_grade = _grade(table, "early", low_bound), _grade(table, "early", high_bound)
    spans = [f"ANC <= {int(t)}/uL on {low_bound[t]} to {high_bound[t]} days" for t in thresholds
             if low_bound[t] != high_bound[t]]
    why = f"ANC not known on day {_day_ranges(sorted(unknown))}"
    if unreadable & unknown:
        why += f" (unreadable result on day {_day_ranges(sorted(unreadable & unknown))})"
    if low_grade == high_grade:
        note = f"early ICAHT: {why}; {', '.join(spans)}: the grade does not depend on it" if spans else ""
        return {**out, "early_grade": low_grade, "early_reason": "", "early_note": note}
    return {**out, "early_grade": pd.NA, "early_note": "",
            "early_reason": f"early ICAHT: {why}; {', '.join(spans)}: grade {low_grade} to {high_grade}"}


def _late(table: pd.DataFrame, daily: pd.Series, unreadable: set[int]) -> dict[str, object]:
    late = daily[daily.index > EARLY_LAST_DAY]
    unread = {day for day in unreadable if day > EARLY_LAST_DAY}
    rows = table[table["phase"].eq("late")]
    need = int(rows["min"].min())
    out: dict[str, object] = {"late_nadir": np.nan, "late_nadir_day": pd.NA, "late_note": ""}
    counts = {float(t): int((late <= t).sum()) for t in rows["threshold_per_ul"]}
    for threshold, n in counts.items():
        out[f"late_tests_le{int(threshold)}"] = n
    if len(late):
        out["late_nadir"] = float(late.min()) / PER_UL
        out["late_nadir_day"] = int(late.idxmin())
    if len(late) < need:
        seen = "no ANC result" if late.empty else f"{len(late)} ANC result (day {int(late.index[0])})"
        return {**out, "late_grade": pd.NA,
                "late_reason": f"late ICAHT: {seen} after day {EARLY_LAST_DAY}; the consensus needs at least {need}"}
    grade = _grade(table, "late", counts)
    worst_if_unread = _grade(table, "late", {t: n + len(unread) for t, n in counts.items()})
    if worst_if_unread != grade:
        return {**out, "late_grade": pd.NA,
                "late_reason": f"late ICAHT: unreadable ANC on day {_day_ranges(sorted(unread))}: grade {grade} to "
                               f"{worst_if_unread}"}
    single = [t for t, n in counts.items() if 0 < n < need]
    if single:
        lowest = min(single)
        out["late_note"] = (f"late ICAHT: one ANC <= {int(lowest)}/uL after day {EARLY_LAST_DAY} (day "
                            f"{int(late.idxmin())}), not confirmed by a second result")
    return {**out, "late_grade": grade, "late_reason": ""}


def grade_icaht(labs: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Early and late ICAHT per participant of the safety population (``ICAHT01``), by Rejeski 2023.

    One row per participant infused: ``early_grade`` / ``late_grade`` (Int64, NA when the data cannot decide, with
    the ``reason``), ``days_le500`` / ``days_le100`` (cumulative days 0..30 at or below the threshold, censored at
    death (``dthdt``): days after death are not counted; NA when not known), the nadirs (10^9/L) and their day, the
    late results at or below each threshold, ``n_anc`` (ANC results read) and a ``note`` (e.g. a single unconfirmed
    late nadir, or a day count not known that the grade does not depend on).
    """
    table = icaht_table()
    anc = labs[labs["testcd"].astype("string").str.upper().isin(anc_testcds())]
    saf = population[population["saffl"].astype(bool)]
    rows = []
    for person in saf.itertuples(index=False):
        mine = anc[anc["usubjid"].eq(person.usubjid)]
        base: dict[str, object] = {"usubjid": person.usubjid, "infdt": person.infdt}
        if pd.isna(person.infdt):
            rows.append({**base, "early_grade": pd.NA, "late_grade": pd.NA, "n_anc": len(mine),
                         "reason": "infusion date unknown: no day 0"})
            continue
        day = (pd.to_datetime(mine["adt"]) - pd.Timestamp(person.infdt).normalize()).dt.days
        value = pd.to_numeric(mine["value_si"], errors="coerce") * PER_UL
        readable = value.notna() & mine["unit_si"].astype("string").eq(ANC_UNIT).fillna(False) & day.notna()
        daily = value[readable].groupby(day[readable].astype(int)).min().round(6)  # a day's lowest result counts
        unreadable = {int(d) for d in day[~readable & day.notna()]} - set(daily.index)
        death = pd.to_datetime(getattr(person, "dthdt", pd.NaT))
        death_day = (death.normalize() - pd.Timestamp(person.infdt).normalize()).days if pd.notna(death) else None
        last_day = EARLY_LAST_DAY if death_day is None else max(0, min(EARLY_LAST_DAY, death_day))
        early, late = _early(table, daily, unreadable, last_day), _late(table, daily, unreadable)
        reason = "; ".join(r for r in (early.pop("early_reason"), late.pop("late_reason")) if r)
        undated = int((~readable & day.isna()).sum())
        note = "; ".join(filter(None, [early.pop("early_note"), late.pop("late_note")]))
        if undated:
            note = "; ".join(filter(None, [note, f"{undated} ANC result(s) without a usable date not read"]))
        rows.append({**base, **early, **late, "n_anc": int(readable.sum()), "reason": reason, "note": note})
    out = pd.DataFrame(rows).reindex(columns=ICAHT_COLUMNS)
    for column in ("early_grade", "late_grade", "days_le500", "days_le100", "early_nadir_day", "late_nadir_day",
                   "late_tests_le1500", "late_tests_le1000", "late_tests_le500", "late_tests_le100", "n_anc"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("Int64")
    for column in ("early_nadir", "late_nadir"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    out["reason"] = out["reason"].fillna("").astype(str)
    out["note"] = out["note"].fillna("").astype(str)
    return out.reset_index(drop=True)


def icaht_incidence(icaht: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Early and late ICAHT by grade over the safety population (``ICAHT02``): any grade, grade 1..4, grade >= 3,
    grade 0 and not gradable, with n, N, % and the exact 95% CI."""
    total = int(population["saffl"].astype(bool).sum())
    rows = []
    for phase, column in (("Early ICAHT (day 0-30)", "early_grade"), (f"Late ICAHT (after day {EARLY_LAST_DAY})",
                                                                       "late_grade")):
        grade = pd.to_numeric(icaht[column], errors="coerce")
        cats = [("Any grade", grade.ge(1))]
        cats += [(f"Grade {g}", grade.eq(g)) for g in range(1, 5)]
        cats += [("Grade >= 3", grade.ge(3)), ("Grade 0", grade.eq(0)), ("Not gradable", grade.isna())]
        rows += [{"phase": phase, **proportion(label, int(mask.fillna(False).sum()), total)} for label, mask in cats]
    return pd.DataFrame(rows, columns=["phase", "label", "n", "N", "pct", "ci_low", "ci_high"])
