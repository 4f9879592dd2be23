"""Protocol eligibility screen from screening labs, thresholds from the study configuration (table id ``ELIG``).

Input: the graded-observations frame (value_si, unit_si, uln_si, testcd, usubjid, adt) when available, else SDTM
LB (LBTESTCD, LBSTRESN, LBSTRESU, LBSTNRHI, LBDTC, VISIT, LBBLFL) or ADaM ADLB (PARAMCD, AVAL, AVALU, ANRHI, ADT,
AVISIT, ABLFL); graded rows without value_si (test not mapped, unit not convertible) are read from LBSTRESN/AVAL.
Per participant and test: the latest record of a VISIT containing ``eligibility.screening_visit``; else the latest
baseline-flagged record; else the earliest record of the test.
Units are converted with the engine's unit table (``ctcae_terms/units``, the one grading uses); a criterion's
``unit_factors`` in the configuration add or override factors for that criterion.
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd

from ctcae_engine.grade import units
from ctcae_engine.read import canonical
from ctcae_engine.read.columns import first, join_texts
from ctcae_engine.read.config import Eligibility, EligibilityCriterion
from ctcae_engine.read.fields import LABS
from ctcae_terms.criteria import load_lab_test_map

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
DECIMALS = 9  # compared values are rounded to 9 decimals first; no screening threshold is finer than that


def _canonical_labs(labs: pd.DataFrame) -> pd.DataFrame:
    """usubjid, testcd, value, unit, uln, adt, visit, baseline, text (the result as given) from any accepted input:
    the graded-observations frame (value_si, unit_si, uln_si; where the grader could not convert a value, the
    input's own value and unit when it kept the input columns), else the findings frame of
    :func:`ctcae_engine.read.canonical.observations` (SDTM LB or ADaM ADLB)."""
    graded = {"value_si", "testcd", "usubjid"} <= set(labs.columns)
    try:
        obs = canonical.observations(labs)
    except ValueError:  # a graded frame without the input columns
        if not graded:
            raise
        obs = None
    visit = first(labs, "VISIT", "AVISIT")
    out = pd.DataFrame({"visit": visit.astype("string") if visit is not None else pd.NA}, index=labs.index)
    if obs is not None:
        out["usubjid"] = pd.Series(obs["usubjid"], index=labs.index, dtype="string").str.strip()
        out["testcd"] = pd.Series(obs["testcd"].astype(object), index=labs.index, dtype="string")
        out["value"] = obs["value"]
        out["text"] = pd.Series(obs["result"], index=labs.index, dtype="string").str.strip().replace("", pd.NA)
        out["unit"] = pd.Series(obs["unit"].astype(object), index=labs.index, dtype="string")
        out["uln"] = obs["uln"]
        out["adt"] = obs["adt"]
        out["baseline"] = obs["baseline_flag"]
    if graded:  # the grader's unit where it converted the value; as given otherwise (test not mapped, unit unknown)
        value_si = pd.to_numeric(labs["value_si"], errors="coerce")
        converted = value_si.notna() if obs is not None else pd.Series(True, index=labs.index)
        out["usubjid"] = labs["usubjid"].astype("string").str.strip()
        out["testcd"] = labs["testcd"].astype("string").str.upper()
        for column, source in (("value", value_si), ("uln", pd.to_numeric(labs["uln_si"], errors="coerce")),
                               ("unit", labs["unit_si"].astype("string").str.strip())):
            out[column] = source.where(converted, out[column]) if column in out else source
        if "text" not in out:  # the graded columns alone
            out["text"] = value_si.astype("string")
        out["adt"] = labs["adt"]
        out["baseline"] = labs["baseline"].fillna(False).astype(bool)
    return out[["usubjid", "testcd", "value", "text", "unit", "uln", "adt", "visit", "baseline"]]


def _screening_records(labs: pd.DataFrame, eligibility: Eligibility) -> pd.DataFrame:
    """One record per (usubjid, testcd), chosen per participant and test: the latest screening-visit record, else
    the latest baseline-flagged record, else the earliest record (undated records last in each tier)."""
    screen = labs["visit"].str.upper().str.contains(eligibility.screening_visit.upper(), regex=False)
    screen = screen.fillna(False).to_numpy(dtype=bool)
    tier = np.where(screen, 0, np.where(labs["baseline"].to_numpy(dtype=bool), 1, 2))
    when = pd.to_datetime(labs["adt"]).to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
    when[np.isnat(pd.to_datetime(labs["adt"]).to_numpy(dtype="datetime64[ns]"))] = np.nan
    order = np.where(tier < 2, -when, when)  # latest first in tiers 0-1, earliest first in tier 2
    ranked = labs.assign(_tier=tier, _order=np.nan_to_num(order, nan=np.inf))
    ranked = ranked.sort_values(["_tier", "_order"], kind="stable")
    return ranked.drop_duplicates(["usubjid", "testcd"]).drop(columns=["_tier", "_order"])


def _factors(crit: EligibilityCriterion, unit: pd.Series) -> np.ndarray:
    """Factor from each row's unit to the criterion's unit: the configuration's ``unit_factors`` first, then the
    engine's unit table for the test's analyte; NaN where neither knows the unit."""
    analyte = dict(zip(load_lab_test_map()["testcd"], load_lab_test_map()["analyte"], strict=True))
    target = units.normalise_unit(crit.unit) or crit.unit
    known: dict[str, float] = {}
    for given in unit.dropna().unique():
        factor = crit.unit_factors.get(given)
        if factor is None:
            factor = units.conversion_factor(analyte.get(crit.testcd, crit.testcd), given, target)
        known[given] = np.nan if factor is None else factor
    return unit.map(known).to_numpy(dtype=float, na_value=np.nan)


def eligibility_screen(
    labs: pd.DataFrame, eligibility: Eligibility, participants: pd.Series | None = None
) -> pd.DataFrame:
    """One row per participant x criterion: usubjid, criterion, testcd, value (in the criterion's unit, or x ULN
    for ULN-relative criteria), threshold, passed (bool) and reason ("" when passed; "not measured", the failed
    comparison, a unit that cannot be converted, no ULN). ``participants`` (default: everyone in ``labs``) lists
    who must appear even without any screening lab."""
    graded = {"value_si", "testcd", "usubjid"} <= set(labs.columns)
    test_col = "testcd" if graded else LABS.column(labs, "test")
    if test_col is None:
        raise ValueError("labs: no test code column (testcd, LBTESTCD or PARAMCD)")
    wanted = {crit.testcd for crit in eligibility.criteria}
    canon = _canonical_labs(labs.loc[labs[test_col].astype("string").str.upper().isin(wanted).fillna(False)])
    chosen = _screening_records(canon, eligibility).set_index(["usubjid", "testcd"])
    if participants is None:
        participants = LABS.subjects(labs).unique()
    people = pd.Series(participants, dtype="string")
    people = people.dropna().drop_duplicates()
    parts = []
    for crit in eligibility.criteria:
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
            factor = _factors(crit, unit)
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
    return out


def eligibility_failures(screen: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """ELIG01: the participants who failed a screening criterion (criteria not met, details), and how many of how
    many screened participants met every criterion (``eligible``, ``screened``)."""
    summary = eligibility_summary(screen)
    failed = summary.loc[~summary["eligible"].astype(bool), ["usubjid", "n_failed", "failed"]]
    failed = failed.rename(columns={"usubjid": "Participant", "n_failed": "Criteria not met", "failed": "Details"})
    return failed.reset_index(drop=True), {"eligible": int(summary["eligible"].sum()), "screened": len(summary)}
