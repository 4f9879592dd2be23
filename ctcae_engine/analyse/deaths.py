"""DTHT01: summary of deaths over the safety population: all deaths after infusion, within 30 and 90 days of the
CAR-T infusion, by primary cause and by relation to treatment (FDA Standard Safety Tables / tern DTHT01 layout)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ctcae_engine.analyse.listings import deaths_frame

NO_FATAL_AE = "not recorded as a fatal AE"
COLUMNS = ["label", "n", "N", "pct"]


def deaths_summary(population: pd.DataFrame, ae: pd.DataFrame | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """DTHT01 rows (label, n, N = safety population, pct) and the note's fields (``N``, ``outside``: the deaths of
    participants never infused, named apart, not counted).

    Primary cause = the CTCAE term of the fatal AE (grade 5, AESDTH = Y or outcome FATAL; several joined by ";");
    relation = that AE's relation to treatment; a death without a fatal AE has cause "not recorded as a fatal AE"
    and unknown relation."""
    safety = population.loc[population["saffl"].astype(bool)]
    n_safety = len(safety)
    all_deaths = deaths_frame(population, ae)
    dead = all_deaths[all_deaths["saffl"].astype(bool)] if "saffl" in all_deaths.columns else all_deaths
    day = dead["day"]
    cause = dead["cause"].fillna(NO_FATAL_AE)
    related = dead["related"].astype("boolean")
    rows = [("All deaths after CAR-T infusion", len(dead)),
            ("Within 30 days of infusion", int(day.le(30).fillna(False).sum())),
            ("Within 90 days of infusion", int(day.le(90).fillna(False).sum())),
            ("More than 90 days after infusion", int(day.gt(90).fillna(False).sum()))]
    if day.isna().any():
        rows.append(("Day of death unknown", int(day.isna().sum())))
    rows += [(f"Primary cause: {term}", int(n)) for term, n in
             sorted(cause.value_counts().items(), key=lambda kv: (kv[0] == NO_FATAL_AE, -kv[1], kv[0]))]
    rows += [("Fatal AE related to treatment", int(related.eq(True).fillna(False).sum())),
             ("Fatal AE not related to treatment", int(related.eq(False).fillna(False).sum())),
             ("Relation unknown (no fatal AE recorded)", int(related.isna().sum()))]
    frame = pd.DataFrame([(label, n, n_safety, 100.0 * n / n_safety if n_safety else None) for label, n in rows],
                         columns=COLUMNS)
    outside = len(all_deaths) - len(dead)
    plural = outside != 1
    text = (f" {outside} death{'s' if plural else ''} of participants never infused {'are' if plural else 'is'} "
            "listed in DTHL01, not counted here." if outside else "")
    return frame, {"N": n_safety, "outside": text}
