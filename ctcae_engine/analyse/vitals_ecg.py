"""Vital-sign and ECG tables: participants by worst post-baseline grade (VSEG01) and the worst records (VSEG02).

Same baseline and treatment-emergent window as the lab tables (:mod:`ctcae_engine.analyse.safety_tables`).
"""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse.endpoints import window_bounds
from ctcae_engine.analyse.safety_tables import lab_shift_table
from ctcae_engine.read.config import TreatmentEmergent


def _graded(vitals: pd.DataFrame | None, ecg: pd.DataFrame | None) -> list[tuple[str, pd.DataFrame]]:
    return [(d, f) for d, f in (("VS", vitals), ("EG", ecg)) if f is not None]


def worst_grade_counts(vitals: pd.DataFrame | None, ecg: pd.DataFrame | None, population: pd.DataFrame | None,
                       window: TreatmentEmergent) -> pd.DataFrame | None:
    """VSEG01: participants per vital-sign / ECG term and direction by worst post-baseline CTCAE grade (from
    :func:`~ctcae_engine.analyse.safety_tables.lab_shift_table`), with a total and a grade >= 3 column."""
    graded = _graded(vitals, ecg)
    if not graded:
        return None
    shift = lab_shift_table(pd.concat([f for _, f in graded], ignore_index=True), population, window)
    counts = shift.pivot_table(index=["term", "direction"], columns="worst_grade", values="n", aggfunc="sum",
                               fill_value=0, observed=True)
    counts.columns = [f"Worst {c}" for c in counts.columns]
    counts.insert(0, "Participants", counts.sum(axis=1))
    high = [c for c in counts.columns if c in ("Worst 3", "Worst 4", "Worst 5")]
    counts["Grade >= 3"] = counts[high].sum(axis=1) if high else 0
    out = counts.reset_index().rename(columns={"term": "CTCAE term", "direction": "Direction"})
    out.attrs = {}  # nothing of the shift table's metadata travels with the counts
    return out


def worst_records(vitals: pd.DataFrame | None, ecg: pd.DataFrame | None, population: pd.DataFrame | None,
                  window: TreatmentEmergent) -> pd.DataFrame | None:
    """VSEG02: per participant and term, the worst post-baseline record of grade >= 2 in the treatment-emergent
    window (earliest if tied; undated records are kept)."""
    graded = _graded(vitals, ecg)
    if not graded:
        return None
    parts = []
    for domain, frame in graded:
        for direction in ("low", "high"):
            part = pd.DataFrame({"Participant": frame["usubjid"], "Source": domain,
                                 "CTCAE term": frame[f"term_{direction}"], "Grade": frame[f"grade_{direction}"],
                                 "adt": frame["adt"], "Test": frame["testcd"], "Value": frame["value_si"],
                                 "Unit": frame["unit_si"], "Rule": frame["rule"]})
            parts.append(part[part["Grade"].ge(2).fillna(False).to_numpy(dtype=bool)
                              & ~frame["baseline"].fillna(False).to_numpy(dtype=bool)])
    worst = pd.concat(parts, ignore_index=True)
    bounds = window_bounds(population, window) if population is not None else None
    if bounds is not None and len(worst):
        win = worst[["Participant"]].join(bounds, on="Participant")
        inside = worst["adt"].isna() | (worst["adt"].ge(win["win_start"]) & worst["adt"].le(win["win_end"])).fillna(
            False)
        worst = worst[inside.to_numpy(dtype=bool)]
    worst = worst.sort_values(["Participant", "CTCAE term", "Grade", "adt"], ascending=[True, True, False, True],
                              kind="stable").drop_duplicates(["Participant", "CTCAE term"])
    worst.insert(4, "Date", worst.pop("adt").dt.strftime("%Y-%m-%d").astype("string").fillna("not dated"))
    return worst.reset_index(drop=True)
