"""Dose-limiting toxicities (DLT01 by dose level with the stopping rule, DLT02 listing) from the flagged AEs.

The definition is the protocol's, written in the study configuration (``[dlt]``): an AE with onset on days
0..``window_days`` after the infusion, of CTCAE grade >= ``min_grade``, related to the treatment when
``related_only``, and not one of ``exclude_terms``. A participant is DLT-evaluable once the window has closed by
the data cut-off, or earlier with a DLT (or a death in the window). The stopping rule is the k-of-first-n kind
(``stop_at`` DLTs among the first ``of_first`` evaluable participants of a dose level, in order of infusion).
"""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse.endpoints import ae_grade, reported_term
from ctcae_engine.read.config import Dlt
from ctcae_engine.read.fields import AE

LISTING_COLUMNS = ["Participant", "Dose level", "Term", "Grade", "Day", "Related"]


def dlt_events(flagged: pd.DataFrame, dlt: Dlt) -> pd.DataFrame:
    """The AE records that meet the DLT definition, as a listing (DLT02)."""
    if not dlt.enabled:
        return pd.DataFrame(columns=[c for c in LISTING_COLUMNS if c != "Dose level"])
    grade = ae_grade(flagged)
    term = reported_term(flagged)
    meets = (flagged["ady"].between(0, dlt.window_days).fillna(False) & grade.ge(dlt.min_grade).fillna(False)
             & ~term.str.upper().isin(dlt.exclude_terms).fillna(False))
    if dlt.related_only:
        meets &= flagged["related"].astype(bool)
    rows = flagged[meets.to_numpy(dtype=bool)]
    return pd.DataFrame({"Participant": AE.subjects(rows), "Term": term[rows.index], "Grade": grade[rows.index],
                         "Day": rows["ady"], "Related": rows["related"].astype(bool)}).reset_index(drop=True)


def dlt_listing(flagged: pd.DataFrame, population: pd.DataFrame, dlt: Dlt) -> pd.DataFrame:
    """DLT02: every AE that meets the DLT definition, with the participant's dose level."""
    events = dlt_events(flagged, dlt)
    arm = population.set_index("usubjid")["arm"] if "arm" in population.columns else pd.Series(dtype=object)
    events.insert(1, "Dose level", events["Participant"].map(arm))
    return events[LISTING_COLUMNS].sort_values(["Dose level", "Participant", "Day"], kind="stable",
                                               ignore_index=True)


def dlt_table(flagged: pd.DataFrame, population: pd.DataFrame, dlt: Dlt,
              data_cutoff: str | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """DLT01: per dose level, participants infused, DLT-evaluable, with a DLT (n, % of evaluable) and the stopping
    rule's status ("continue", "STOP: boundary reached")."""
    columns = ["Dose level", "Infused", "DLT-evaluable", "With a DLT", "% of evaluable", "Stopping rule"]
    rule = f"{dlt.stop_at} DLTs among the first {dlt.of_first} evaluable participants of a dose level"
    if not dlt.enabled:
        return pd.DataFrame(columns=columns), {"rule": "no DLT definition in the study configuration ([dlt])"}
    infused = population[population["saffl"].astype(bool)].sort_values("infdt", kind="stable")
    with_dlt = set(dlt_events(flagged, dlt)["Participant"])
    cutoff = pd.Timestamp(data_cutoff) if data_cutoff else pd.Timestamp.max
    closed = (infused["infdt"] + pd.Timedelta(days=dlt.window_days)).le(cutoff)
    died = infused["dthdt"].le(infused["infdt"] + pd.Timedelta(days=dlt.window_days)).fillna(False)
    evaluable = infused[(closed | died | infused["usubjid"].isin(with_dlt)).to_numpy(dtype=bool)]
    rows = []
    arms = infused["arm"] if "arm" in infused.columns else pd.Series("All", index=infused.index)
    for arm in sorted(arms.dropna().unique()):
        level = evaluable[evaluable["arm"].eq(arm)] if "arm" in evaluable.columns else evaluable
        n_dlt = int(level["usubjid"].isin(with_dlt).sum())
        first = level.head(dlt.of_first)["usubjid"].isin(with_dlt).sum()
        rows.append({"Dose level": arm, "Infused": int(arms.eq(arm).sum()), "DLT-evaluable": len(level),
                     "With a DLT": n_dlt, "% of evaluable": 100.0 * n_dlt / len(level) if len(level) else float("nan"),
                     "Stopping rule": "STOP: boundary reached" if first >= dlt.stop_at
                     else f"continue ({int(first)} of the first {min(len(level), dlt.of_first)})"})
    return pd.DataFrame(rows, columns=columns), {"rule": rule}
