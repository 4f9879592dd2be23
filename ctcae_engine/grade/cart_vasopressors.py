"""Vasopressors as given -> the hypotension grade of ASTCT 2019 CRS (Lee 2019, Table 6).

Sources: SDTM CM (CMDECOD, else CMTRT; CMSTDTC / CMENDTC; CMROUTE and CMINDC when present) and XC rows
``XCTESTCD = VASOPRES`` listing the drugs of an assessment ("NOREPINEPHRINE, VASOPRESSIN", or "NONE"). The drug ->
class map is data (:func:`ctcae_engine.grade.cart_vocab.vasopressor_classes`, study overrides in
``[cart] vasopressors``). The counting rule of Table 6 is applied per calendar day:

- grade 3: "Requiring a vasopressor with or without vasopressin": one vasopressor, or vasopressin alone;
- grade 4: "Requiring multiple vasopressors (excluding vasopressin)": two or more distinct drugs of class
  ``vasopressor``; vasopressin never adds to the count.

Drugs given on the same calendar day count as given together (the CM dates are days). A CM record covers the days
CMSTDTC..CMENDTC; without a full CMENDTC it covers CMSTDTC only (noted). A vasopressor whose start is not a full date
cannot be placed: it is listed with its reason and the participant's hypotensive assessments are not graded
(docs/cart.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ctcae_engine.grade.cart_vocab import match_key, non_systemic_routes, text_key, vasopressor_classes
from ctcae_engine.read.columns import as_text
from ctcae_engine.read.dates import to_date

ONE_VASOPRESSOR_GRADE = 3
"""Lee 2019 Table 6 grade 3 hypotension: "Requiring a vasopressor with or without vasopressin"."""
MULTI_VASOPRESSOR_GRADE = 4
"""Lee 2019 Table 6 grade 4 hypotension: "Requiring multiple vasopressors (excluding vasopressin)"."""
_NONE = {"NONE", "N", "NO", ""}
_DRUG_SEPARATORS = r"\s*(?:[,;/+&]|\bAND\b)\s*"


def vasopressor_grade(n_vasopressors: pd.Series, vasopressin: pd.Series) -> pd.Series:
    """The hypotension grade the drugs give: 4 for >= 2 vasopressors (vasopressin excluded from the count), 3 for
    one vasopressor or vasopressin alone, 0 for none."""
    n = n_vasopressors.astype("float64")
    grade = np.where(n >= 2, MULTI_VASOPRESSOR_GRADE,
                     np.where((n == 1) | vasopressin.fillna(False).astype(bool), ONE_VASOPRESSOR_GRADE, 0))
    return pd.Series(grade.astype("float64"), index=n_vasopressors.index).where(n.notna())


def listed_drugs(values: pd.Series, vasopressors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Parse XC VASOPRES values (same index): ``n_vasopressors``, ``vasopressin``, ``drugs`` (upper-case, ", "
    joined), ``grade`` and ``reason`` (the drugs not in the vasopressor map; the value is then not understood)."""
    classes = vasopressor_classes(vasopressors)
    out = pd.DataFrame(index=values.index)
    n, vasopressin, drugs, reasons = [], [], [], []
    for value in as_text(values, upper=True, blank_is_missing=False).fillna(""):
        names = [name for name in re.split(_DRUG_SEPARATORS, value) if name]
        names = [] if set(names) <= _NONE else names
        kinds = [classes.get(text_key(name)) for name in names]
        unknown = [name for name, kind in zip(names, kinds, strict=True) if kind is None]
        n.append(len({name for name, kind in zip(names, kinds, strict=True) if kind == "vasopressor"}))
        vasopressin.append("vasopressin" in kinds)
        drugs.append(", ".join(names))
        reasons.append(f"VASOPRES drug(s) {', '.join(repr(u) for u in unknown)} not in the vasopressor map"
                       if unknown else "")
    out["n_vasopressors"] = pd.Series(n, index=values.index, dtype="float64")
    out["vasopressin"] = pd.Series(vasopressin, index=values.index, dtype=bool)
    out["drugs"] = pd.Series(drugs, index=values.index, dtype="string")
    out["grade"] = vasopressor_grade(out["n_vasopressors"], out["vasopressin"])
    out["reason"] = pd.Series(reasons, index=values.index, dtype="string")
    return out


def _column(cm: pd.DataFrame, name: str) -> pd.Series:
    if name in cm.columns:
        return as_text(cm[name], blank_is_missing=True)
    return pd.Series(pd.NA, index=cm.index, dtype="string")


def check_cm(cm: pd.DataFrame, vasopressors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per CM row (same index): ``usubjid``, ``drug`` (CMDECOD, else CMTRT, upper case), ``vaso_class``
    (NA: not a vasopressor of the map), ``start``, ``end`` (dates), ``route``, ``indication``, ``counted`` (a
    vasopressor counted for hypotension) and ``reason`` (why a vasopressor record is not counted, or a caveat)."""
    for needed in ("USUBJID", "CMSTDTC"):
        if needed not in cm.columns:
            raise ValueError(f"CM frame lacks required column {needed}")
    if "CMDECOD" not in cm.columns and "CMTRT" not in cm.columns:
        raise ValueError("CM frame lacks CMDECOD and CMTRT")
    out = pd.DataFrame(index=cm.index)
    out["usubjid"] = as_text(cm["USUBJID"], blank_is_missing=False)
    out["drug"] = _column(cm, "CMDECOD").fillna(_column(cm, "CMTRT")).str.upper()
    out["vaso_class"] = match_key(out["drug"].fillna("")).map(vasopressor_classes(vasopressors)).astype("string")
    out["start"] = to_date(_column(cm, "CMSTDTC"))
    out["end"] = to_date(_column(cm, "CMENDTC"))
    out["route"] = _column(cm, "CMROUTE").str.upper()
    out["indication"] = _column(cm, "CMINDC")
    is_vaso = out["vaso_class"].notna()
    topical = match_key(out["route"].fillna("")).isin(non_systemic_routes())
    shown = "'" + _column(cm, "CMSTDTC").fillna("") + "'"
    checks = [
        (is_vaso & topical, "route " + out["route"].fillna("") + ": not given for blood pressure, not counted"),
        (is_vaso & out["start"].isna(), "CMSTDTC " + shown + " is not a full date: vasopressor not placed"),
        (is_vaso & out["end"].lt(out["start"]), "CMENDTC before CMSTDTC: vasopressor not placed"),
        (is_vaso & out["end"].isna(), "CMENDTC missing or partial: counted on CMSTDTC only"),
    ]
    reason = pd.Series("", index=cm.index, dtype="string")
    for failed, message in reversed(checks):  # first matching check wins
        reason = reason.mask(failed.fillna(False).astype(bool), message)
    out["reason"] = reason.fillna("").astype(str)
    out["counted"] = is_vaso & ~topical & out["start"].notna() & ~out["end"].lt(out["start"]).fillna(False)
    out["placed"] = ~(is_vaso & ~topical & ~out["counted"])  # False: a vasopressor that could not be placed
    return out


def vasopressor_days(cm: pd.DataFrame, vasopressors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per participant x calendar day with a counted vasopressor: usubjid, adate, n_vasopressors (vasopressin
    excluded), vasopressin, drugs, indications, grade (3 or 4), note (records counted on their start day only)."""
    checked = check_cm(cm, vasopressors)
    rows = checked[checked["counted"]].copy()
    columns = ["usubjid", "adate", "n_vasopressors", "vasopressin", "drugs", "indications", "grade", "note"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows["end"] = rows["end"].fillna(rows["start"])
    rows["adate"] = [pd.date_range(s, e, freq="D") for s, e in zip(rows["start"], rows["end"], strict=True)]
    days = rows.explode("adate")
    days["adate"] = pd.to_datetime(days["adate"])
    grouped = days.groupby(["usubjid", "adate"], sort=True)
    pressors = days[days["vaso_class"] == "vasopressor"].groupby(["usubjid", "adate"], sort=True)["drug"].nunique()
    out = pd.DataFrame({
        "n_vasopressors": pressors.reindex(grouped.size().index, fill_value=0),
        "vasopressin": grouped["vaso_class"].agg(lambda k: bool((k == "vasopressin").any())),
        "drugs": grouped["drug"].agg(lambda d: ", ".join(sorted(set(d)))),
        "indications": grouped["indication"].agg(lambda i: "; ".join(sorted(set(i.dropna())))),
        "note": grouped["reason"].agg(lambda r: "; ".join(sorted({x for x in r if x}))),
    })
    out["grade"] = vasopressor_grade(out["n_vasopressors"], out["vasopressin"])
    return out.reset_index()[columns]


def unplaced_vasopressors(cm: pd.DataFrame, vasopressors: Mapping[str, str] | None = None) -> pd.Series:
    """Participant -> "; "-joined reasons of their vasopressor records that could not be placed on a day."""
    checked = check_cm(cm, vasopressors)
    bad = checked[~checked["placed"]]
    return (bad["drug"].fillna("") + " (" + bad["reason"] + ")").groupby(bad["usubjid"]).agg("; ".join)
