"""Data cut-off: records dated after the study's data cut-off are excluded from the analysis, and listed.

``apply_cutoff(domains, cutoff)`` returns the domains as of the cut-off and a frame of every row it removed
(domain, USUBJID, date as given, reason). Which date decides, per domain:

======  ===========================  ==========================================================================
domain  date                         after the cut-off
======  ===========================  ==========================================================================
AE      AESTDTC (ADaM ASTDTC/ASTDT)  the row is removed (an AE that started on or before the cut-off is kept,
                                     whatever its end date)
LB VS   LBDTC, VSDTC, EGDTC, XCDTC,  the row is removed
EG XC   PCDTC, RSDTC, EXSTDTC,
PC RS   CMSTDTC (ADaM ADT)
EX CM
DS      DSSTDTC                      the row is removed (a death or any other disposition event after the cut-off)
DM      DTHDTC (ADaM ADSL DTHDT)     the participant stays; DTHDTC and DTHFL are blanked (death not counted)
======  ===========================  ==========================================================================

A date is "after" the cut-off only when its earliest possible day is: ``2025-07`` is after 2025-06-30, but
``2025-06`` and ``2025`` are kept because they may fall on or before it. A time part is ignored (a record on the
cut-off day is kept). Missing or malformed dates are kept: the module that reads them grades the row or lists it
with the reason. Dates are read by :mod:`ctcae_engine.read.dates` (``dtc_bounds``), as every other module reads them.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from ctcae_engine.read.columns import pick
from ctcae_engine.read.dates import as_day, dtc_bounds

# domain -> candidate date columns (first present wins); the row is removed when that date is after the cut-off
ROW_DATES: dict[str, tuple[str, ...]] = {
    "ae": ("AESTDTC", "ASTDTC", "ASTDT"),
    "adae": ("ASTDTC", "ASTDT", "AESTDTC"),
    "lb": ("LBDTC",),
    "adlb": ("ADTM", "ADT", "LBDTC"),
    "vs": ("VSDTC",),
    "advs": ("ADTM", "ADT", "VSDTC"),
    "eg": ("EGDTC",),
    "adeg": ("ADTM", "ADT", "EGDTC"),
    "xc": ("XCDTC",),
    "cm": ("CMSTDTC",),
    "pc": ("PCDTC",),
    "rs": ("RSDTC",),
    "adrs": ("ADT", "RSDTC"),
    "ex": ("EXSTDTC",),
    "ds": ("DSSTDTC",),
}
# domain -> (death date column, columns blanked with it); the participant's row stays
DEATH_DATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "dm": ("DTHDTC", ("DTHDTC", "DTHFL")),
    "adsl": ("DTHDT", ("DTHDT", "DTHDTC", "DTHFL")),
}
EXCLUDED_COLUMNS = ["domain", "USUBJID", "date", "column", "row", "reason"]


def after_cutoff(values: pd.Series, cutoff: date | datetime | str) -> pd.Series:
    """True where an ISO 8601 date (complete or partial) is certainly after the cut-off day (same index).

    Partial dates count as their earliest possible day; missing or malformed values are False (kept).
    """
    day = pd.Timestamp(as_day(cutoff, "data cut-off"))
    return dtc_bounds(values)["earliest"].gt(day).fillna(False).astype(bool)


def _listed(domain: str, frame: pd.DataFrame, column: str, reason: str) -> pd.DataFrame:
    subject = frame["USUBJID"].astype("string") if "USUBJID" in frame.columns else pd.Series(
        pd.NA, index=frame.index, dtype="string")
    return pd.DataFrame({"domain": domain.upper(), "USUBJID": subject, "date": frame[column].astype("string"),
                         "column": column, "row": frame.index, "reason": reason})


def apply_cutoff(
    domains: dict[str, pd.DataFrame], cutoff: date | datetime | str | None
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Split the study's domains at the data cut-off.

    Returns ``(domains_in, excluded)``: a new dict with the records on or before the cut-off (frames with nothing
    to remove are passed on unchanged; the input frames are never modified) and one row per removed record or
    blanked death, sorted by domain, participant and date: ``domain``, ``USUBJID``, ``date`` (as given),
    ``column`` (the date column read), ``row`` (index label in the input frame) and ``reason``.
    ``cutoff`` None: nothing is removed.
    """
    kept = dict(domains)
    listed: list[pd.DataFrame] = []
    if cutoff is None:
        return kept, pd.DataFrame(columns=EXCLUDED_COLUMNS)
    day = as_day(cutoff, "data cut-off").isoformat()
    reason = f"after data cut-off {day}"
    for name, frame in domains.items():
        column = pick(frame, *ROW_DATES.get(name, ()))
        if column is not None:
            late = after_cutoff(frame[column], day)
            if late.any():
                listed.append(_listed(name, frame[late], column, reason))
                kept[name] = frame[~late]
        if name in DEATH_DATES and DEATH_DATES[name][0] in frame.columns:
            column, blanked = DEATH_DATES[name]
            late = after_cutoff(frame[column], day)
            if late.any():
                listed.append(_listed(name, frame[late], column,
                                      f"death {reason}: participant kept, {'/'.join(blanked)} blanked"))
                out = frame.copy()
                for col in blanked:
                    if col in out.columns:
                        out[col] = out[col].mask(late, "")
                kept[name] = out
    if not listed:
        return kept, pd.DataFrame(columns=EXCLUDED_COLUMNS)
    excluded = pd.concat(listed, ignore_index=True).sort_values(["domain", "USUBJID", "date"], kind="stable")
    return kept, excluded.reindex(columns=EXCLUDED_COLUMNS).reset_index(drop=True)


def cutoff_summary(excluded: pd.DataFrame) -> pd.DataFrame:
    """Count of excluded records per domain with the first and last date (for the data-quality appendix)."""
    if excluded.empty:
        return pd.DataFrame(columns=["Domain", "Date column", "Records", "Participants", "First date", "Last date",
                                     "Reason"])
    out = excluded.groupby(["domain", "column", "reason"], sort=True).agg(
        Records=("row", "size"), Participants=("USUBJID", "nunique"), first=("date", "min"), last=("date", "max"),
    ).reset_index()
    out = out.rename(columns={"domain": "Domain", "column": "Date column", "first": "First date", "last": "Last date",
                              "reason": "Reason"})
    return out[["Domain", "Date column", "Records", "Participants", "First date", "Last date", "Reason"]]
