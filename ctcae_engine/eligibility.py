"""Protocol eligibility screen from screening labs, thresholds from the study configuration (table id ``ELIG``).

Input: the graded-observations frame (value_si, unit_si, uln_si, testcd, usubjid, adt) when available, else SDTM
LB (LBTESTCD, LBSTRESN, LBSTRESU, LBSTNRHI, LBDTC, VISIT, LBBLFL) or ADaM ADLB (PARAMCD, AVAL, AVALU, ANRHI, ADT,
AVISIT, ABLFL). Screening records: VISIT containing ``eligibility.screening_visit``; else baseline-flagged records;
else each participant's earliest record of the test. The latest screening value of each test is used.
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd

from ctcae_engine.columns import join_texts, pick
from ctcae_engine.config import StudyConfig
from ctcae_engine.dates import to_date

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
DECIMALS = 9  # compared values are rounded to 9 decimals first; no screening threshold is finer than that


def _canonical_labs(labs: pd.DataFrame) -> pd.DataFrame:
    """usubjid, testcd, value, unit, uln, adt, visit, baseline, text (the result as given) from any accepted input."""
    graded = {"value_si", "testcd", "usubjid"} <= set(labs.columns)
    value_col = "value_si" if graded else pick(labs, "LBSTRESN", "AVAL")
    given_col = pick(labs, "LBSTRESC", "LBORRES", "AVALC") or value_col
    if value_col is None:
        raise ValueError("labs: no numeric result column (value_si, LBSTRESN or AVAL)")
    unit_col = "unit_si" if graded else pick(labs, "LBSTRESU", "AVALU")
    uln_col = "uln_si" if graded else pick(labs, "LBSTNRHI", "ANRHI")
    date_col = "adt" if graded else pick(labs, "LBDTC", "ADT")
    visit_col = pick(labs, "VISIT", "AVISIT")
    base_col = "baseline" if graded else pick(labs, "LBBLFL", "ABLFL")
    n = len(labs)
    out = pd.DataFrame(
        {
            "usubjid": labs[pick(labs, "usubjid", "USUBJID")].astype("string").str.strip(),
            "testcd": labs["testcd" if graded else pick(labs, "LBTESTCD", "PARAMCD")].astype("string").str.upper(),
            "value": pd.to_numeric(labs[value_col], errors="coerce"),
            "text": labs[given_col].astype("string").str.strip().replace("", pd.NA),
            "unit": labs[unit_col].astype("string").str.strip() if unit_col else pd.Series(pd.NA, index=labs.index),
            "uln": pd.to_numeric(labs[uln_col], errors="coerce") if uln_col else np.full(n, np.nan),
            "adt": to_date(labs[date_col], sas_days=True) if date_col else pd.NaT,
            "visit": labs[visit_col].astype("string") if visit_col else pd.Series(pd.NA, index=labs.index),
        },
        index=labs.index,
    )
    if base_col is None:
        out["baseline"] = False
    elif graded:
        out["baseline"] = labs[base_col].fillna(False).astype(bool)
    else:
        out["baseline"] = labs[base_col].astype("string").str.upper().eq("Y").fillna(False)
    return out


def _screening_records(labs: pd.DataFrame, config: StudyConfig) -> pd.DataFrame:
    screen = labs["visit"].str.upper().str.contains(config.eligibility.screening_visit.upper(), regex=False)
    screen = screen.fillna(False).astype(bool)
    if screen.any():
        chosen = labs.loc[screen].sort_values("adt", na_position="first").groupby(["usubjid", "testcd"]).tail(1)
    elif labs["baseline"].any():
        chosen = labs.loc[labs["baseline"]].sort_values("adt", na_position="first")
        chosen = chosen.groupby(["usubjid", "testcd"]).tail(1)
    else:
        chosen = labs.sort_values("adt", na_position="last").groupby(["usubjid", "testcd"]).head(1)
    return chosen


def eligibility_screen(
    labs: pd.DataFrame, config: StudyConfig, participants: pd.Series | None = None
) -> pd.DataFrame:
    """One row per participant x criterion: usubjid, criterion, testcd, value (in the criterion's unit, or x ULN
    for ULN-relative criteria), threshold, passed (bool) and reason ("" when passed; "not measured", the failed
    comparison, a unit that cannot be converted, no ULN). ``participants`` (default: everyone in ``labs``) lists
    who must appear even without any screening lab."""
    graded = {"value_si", "testcd", "usubjid"} <= set(labs.columns)
    test_col = "testcd" if graded else pick(labs, "LBTESTCD", "PARAMCD")
    if test_col is None:
        raise ValueError("labs: no test code column (testcd, LBTESTCD or PARAMCD)")
    wanted = {crit.testcd for crit in config.eligibility.criteria}
    canon = _canonical_labs(labs.loc[labs[test_col].astype("string").str.upper().isin(wanted).fillna(False)])
    chosen = _screening_records(canon, config).set_index(["usubjid", "testcd"])
    if participants is None:
        participants = labs[pick(labs, "usubjid", "USUBJID")].astype("string").str.strip().unique()
    people = pd.Series(participants, dtype="string")
    people = people.dropna().drop_duplicates()
    parts = []
    for crit in config.eligibility.criteria:
        keys = pd.MultiIndex.from_arrays([people, pd.Series(crit.testcd, index=people.index, dtype="string")])
        rec = chosen.reindex(keys)
        value = rec["value"].to_numpy(dtype=float)
        unit = rec["unit"].astype("string").str.upper().str.strip()
        reason = pd.Series("", index=range(len(people)), dtype="object")
        measured = rec["text"].notna().to_numpy() | ~np.isnan(value)
        if crit.relative_to_uln:
            uln = rec["uln"].to_numpy(dtype=float)
            shown = np.divide(value, uln, out=np.full(len(value), np.nan), where=uln > 0)
            threshold = f"{crit.operator} {crit.limit:g} x ULN"
            reason[measured & ~np.isnan(value) & ~(uln > 0)] = "no upper limit of normal to compare with"
        else:
            factor = unit.map(crit.unit_factors).to_numpy(dtype=float)
            shown = value * factor
            threshold = f"{crit.operator} {crit.limit:g} {crit.unit}"
            bad_unit = measured & ~np.isnan(value) & np.isnan(factor)
            reason[bad_unit] = "unit '" + unit[bad_unit].fillna("").to_numpy() + f"' not convertible to {crit.unit}"
        shown = np.round(shown, DECIMALS)  # float noise (1.05 / 0.7 = 1.5000000000000002) must not move a boundary
        passed = _OPS[crit.operator](shown, crit.limit) & ~np.isnan(shown)
        reason[measured & np.isnan(value)] = "non-numeric result '" + rec["text"].fillna("").to_numpy()[
            measured & np.isnan(value)] + "'"
        reason[~measured] = "not measured"
        failed_cmp = ~passed & reason.eq("").to_numpy()
        reason[failed_cmp] = [f"{v:.4g} not {threshold}" for v in shown[failed_cmp]]
        parts.append(
            pd.DataFrame(
                {"usubjid": people.to_numpy(), "criterion": crit.criterion, "testcd": crit.testcd, "value": shown,
                 "threshold": threshold, "passed": passed, "reason": reason.to_numpy()}
            )
        )
    columns = ["usubjid", "criterion", "testcd", "value", "threshold", "passed", "reason"]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    table = table.sort_values("usubjid", kind="stable").reset_index(drop=True)
    table.attrs["table_id"] = "ELIG"
    return table


def eligibility_summary(screen: pd.DataFrame) -> pd.DataFrame:
    """One row per participant: eligible (every criterion passed), n_failed and failed ("criterion: reason; ...")."""
    failed = screen.loc[~screen["passed"]]
    text = (failed["criterion"] + ": " + failed["reason"]).groupby(failed["usubjid"]).agg("; ".join)
    out = pd.DataFrame({"usubjid": screen["usubjid"].drop_duplicates()})
    out["n_failed"] = out["usubjid"].map(failed.groupby("usubjid").size()).fillna(0).astype(int)
    out["eligible"] = out["n_failed"].eq(0)
    out["failed"] = join_texts(out["usubjid"].map(text).fillna(""))
    out = out.reset_index(drop=True)
    out.attrs["table_id"] = "ELIG_SUMMARY"
    return out
