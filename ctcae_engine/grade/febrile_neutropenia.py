"""Febrile neutropenia (CTCAE v4.03), derived from graded labs (ANC) and graded vital signs (temperature).

CTCAE v4.03, Febrile neutropenia G3: "ANC <1000/mm3 with a single temperature of >38.3 degrees C (101 degrees F)
or a sustained temperature of >=38 degrees C (100.4 degrees F) for more than one hour". G4 ("life-threatening
consequences; urgent intervention indicated") and G5 (death) are clinical and never assigned here.

Inputs are the graded-observation frames of :mod:`ctcae_engine.grade.findings` (``value_si``: ANC in 10^9/L,
temperature in C; implausible values already have no ``value_si``). A febrile reading is a temperature >38.3 C, or
one of a run of consecutive readings >=38.0 C (no reading below 38.0 between, no gap over ``sustained_max_gap_h``)
whose first-to-last span exceeds one hour. A febrile reading and an ANC pair when their date/times are at most
``pair_h`` hours apart (a date without a time is midnight). Output: one row per febrile reading (G3 when an ANC
<1.0 x 10^9/L pairs with it, 0 when only ANCs >=1.0 do, NA "no ANC within ..." when none does) and one row per ANC
<1.0 x 10^9/L that no febrile reading pairs with (0 when a temperature was taken within ``pair_h``, NA otherwise),
in the graded-observation columns with ``derived`` = True. docs/grading.md documents the choices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ctcae_engine.grade.rules import MAX_GAP_H, long_runs
from ctcae_engine.read.dates import to_datetime

TERM = "Febrile neutropenia"
TESTCD = "FEBNEUT"
CTCAE_TEXT = ("ANC <1000/mm3 with a single temperature of >38.3 degrees C (101 degrees F) or a sustained "
              "temperature of >=38 degrees C (100.4 degrees F) for more than one hour")
RULE = f"{TERM} G3 (derived from LB ANC and VS temperature): {CTCAE_TEXT}"
ANC_TERM = "Neutrophil count decreased"  # rows graded by it (NEUT, ANC or a sponsor's code) carry the ANC
TEMP_TERMS = ("Fever", "Hypothermia")  # the two directions of a temperature row
ANC_LIMIT = 1.0  # 10^9/L = 1000/mm3
SINGLE_C, SUSTAINED_C, SUSTAINED_H = 38.3, 38.0, 1.0
PAIR_H = 24.0
COLUMNS = ["usubjid", "testcd", "dtc", "adt", "value_si", "unit_si", "term_low", "grade_low", "term_high",
           "grade_high", "term", "grade", "rule", "thresholds", "reason", "derived", "source_dtc", "source_value"]


def _readings(graded: pd.DataFrame | None, is_kind: pd.Series | None) -> pd.DataFrame:
    """usubjid, dtc, hours (NaN without a usable date), value of the rows of ``graded`` selected by ``is_kind``."""
    if graded is None or is_kind is None or not is_kind.any():
        return pd.DataFrame({"usubjid": pd.Series(dtype=object), "dtc": pd.Series(dtype=object),
                             "hours": pd.Series(dtype=float), "value": pd.Series(dtype=float)})
    rows = graded[is_kind & graded["value_si"].notna()]
    stamp = to_datetime(rows["dtc"].astype("string").fillna("").astype(object)).to_numpy(dtype="datetime64[ns]")
    hours = np.where(np.isnat(stamp), np.nan, stamp.astype(np.int64) / 3.6e12)
    return pd.DataFrame({"usubjid": rows["usubjid"].astype(str).to_numpy(), "dtc": rows["dtc"].to_numpy(dtype=object),
                         "hours": hours, "value": rows["value_si"].to_numpy(dtype=float)})


def _terms(graded: pd.DataFrame | None, names: tuple[str, ...]) -> pd.Series | None:
    if graded is None or "term_low" not in graded.columns:
        return None
    return graded["term_low"].isin(names) | graded["term_high"].isin(names)


def _febrile(temp: pd.DataFrame, sustained_max_gap_h: float) -> pd.DataFrame:
    """The febrile readings of ``temp`` with ``why`` (the part of the criterion each meets)."""
    if temp.empty:
        return temp.assign(why=pd.Series(dtype=object))
    group = pd.factorize(temp["usubjid"])[0].astype(np.int64)
    value, hours = temp["value"].to_numpy(), temp["hours"].to_numpy()
    single = value > SINGLE_C
    sustained = long_runs(value >= SUSTAINED_C, group, hours, SUSTAINED_H, sustained_max_gap_h)
    why = np.where(single, f"> {SINGLE_C:g} C", f"sustained >= {SUSTAINED_C:g} C for > {SUSTAINED_H:g} h")
    return temp.assign(why=why)[single | sustained]


def _nearest(left: pd.DataFrame, right: pd.DataFrame, pair_h: float, which: pd.Series | None = None) -> pd.DataFrame:
    """For each row of ``left`` (its position ``pos``), the nearest-in-time row of ``right`` of the same participant
    within ``pair_h`` hours (restricted to ``which`` rows of ``right`` when given): columns r_dtc, r_value, r_gap."""
    cand = right if which is None else right[which]
    pairs = left.reset_index(drop=True).rename_axis("pos").reset_index()[["pos", "usubjid", "hours"]].merge(
        cand[["usubjid", "hours", "dtc", "value"]], on="usubjid", suffixes=("", "_r"))
    pairs["gap"] = (pairs["hours"] - pairs["hours_r"]).abs()
    pairs = pairs[pairs["gap"] <= pair_h * (1 + 1e-12)].sort_values(["pos", "gap", "hours_r"], kind="stable")
    first = pairs.drop_duplicates("pos").set_index("pos")
    return pd.DataFrame({"r_dtc": first["dtc"], "r_value": first["value"], "r_gap": first["gap"]}).reindex(
        range(len(left)))


def febrile_neutropenia(labs: pd.DataFrame | None, vitals: pd.DataFrame | None, pair_h: float = PAIR_H,
                        sustained_max_gap_h: float = MAX_GAP_H) -> pd.DataFrame:
    """Febrile neutropenia rows derived from graded labs and graded vital signs (module docstring): ``pair_h`` is the
    longest time (hours) between an ANC and a temperature that are read together, ``sustained_max_gap_h`` the longest
    gap between two consecutive readings >=38.0 C of one sustained run."""
    anc = _readings(labs, _terms(labs, (ANC_TERM,)))
    temp = _readings(vitals, _terms(vitals, TEMP_TERMS))
    anc, temp = anc[anc["hours"].notna()], temp[temp["hours"].notna()]  # no date, no pairing in time
    febrile = _febrile(temp, sustained_max_gap_h).reset_index(drop=True)
    low_anc = anc["value"] < ANC_LIMIT
    near_low = _nearest(febrile, anc, pair_h, low_anc)
    near_any = _nearest(febrile, anc, pair_h)
    window = f"within {pair_h:g} h"
    fired = near_low["r_value"].notna().to_numpy()
    paired = fired | near_any["r_value"].notna().to_numpy()
    partner = near_low.where(pd.Series(fired), near_any)
    fever_rows = pd.DataFrame({
        "usubjid": febrile["usubjid"], "dtc": febrile["dtc"], "value_si": febrile["value"], "unit_si": "C",
        "grade": np.where(fired, 3.0, np.where(paired, 0.0, np.nan)),
        "thresholds": [
            f"temperature {t:g} C {w}; ANC {a:g} 10^9/L {'<' if f else '>='} {ANC_LIMIT:g} 10^9/L ({g:g} h apart)"
            if p else f"temperature {t:g} C {w}" for t, w, a, g, f, p in zip(
                febrile["value"], febrile["why"], partner["r_value"], partner["r_gap"], fired, paired, strict=True)],
        "reason": np.where(paired, "", f"no ANC {window} of the febrile temperature: {TERM} not assessable"),
        "source_dtc": partner["r_dtc"].to_numpy(dtype=object), "source_value": partner["r_value"].to_numpy()})
    lonely = anc[low_anc.to_numpy()].reset_index(drop=True)
    lonely = lonely[_nearest(lonely, febrile, pair_h)["r_value"].isna().to_numpy()].reset_index(drop=True)
    near_temp = _nearest(lonely, temp, pair_h)
    has_temp = near_temp["r_value"].notna().to_numpy()
    anc_rows = pd.DataFrame({
        "usubjid": lonely["usubjid"], "dtc": lonely["dtc"], "value_si": lonely["value"], "unit_si": "10^9/L",
        "grade": np.where(has_temp, 0.0, np.nan),
        "thresholds": [f"ANC {a:g} 10^9/L < {ANC_LIMIT:g} 10^9/L; no febrile temperature {window}"
                       + (f" (nearest {t:g} C, {g:g} h apart)" if h else "") for a, t, g, h in zip(
                           lonely["value"], near_temp["r_value"], near_temp["r_gap"], has_temp, strict=True)],
        "reason": np.where(has_temp, "", f"no temperature {window} of the ANC <{ANC_LIMIT:g} x 10^9/L: {TERM} "
                                         "not assessable"),
        "source_dtc": near_temp["r_dtc"].to_numpy(dtype=object), "source_value": near_temp["r_value"].to_numpy()})
    out = pd.concat([fever_rows, anc_rows], ignore_index=True) if len(anc_rows) else fever_rows
    grade = pd.array(out["grade"].to_numpy(dtype=float), dtype="Int64")
    out = out.assign(testcd=TESTCD, adt=to_datetime(out["dtc"].astype(object)).dt.normalize(), term_low="",
                     grade_low=pd.array([pd.NA] * len(out), dtype="Int64"), term_high=TERM, grade_high=grade, term=TERM,
                     grade=grade, rule=np.where(out["grade"].eq(3), RULE, f"{TERM} (derived): {CTCAE_TEXT}"),
                     derived=True)
    out["source_dtc"] = out["source_dtc"].astype(object)
    return out.sort_values(["usubjid", "adt", "dtc"], kind="stable").reset_index(drop=True)[COLUMNS]
