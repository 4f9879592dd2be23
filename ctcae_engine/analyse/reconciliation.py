"""Reported AE grades against the grades derived from the observations: CRS against ASTCT 2019, and the rows of
every source combined (the graded domains are reconciled by :func:`ctcae_engine.grade.ae.reconcile`)."""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse.endpoints import window_bounds
from ctcae_engine.read.config import TreatmentEmergent
from ctcae_engine.read.dates import dtc_bounds

# CRS01 comparisons that are not a discrepancy (nothing to reconcile)
CRS_AGREE = frozenset({"same grade", "no CRS", "no XC assessment, no CRS AE"})


def crs_discrepancies(crs_vs_ae: pd.DataFrame) -> pd.DataFrame:
    """The CRS AEs whose reported grade differs from ASTCT 2019 (``crs_vs_ae``: :func:`ctcae_engine.grade.cart.
    crs_vs_ctcae`), as discrepancy rows of domain XC."""
    differ = crs_vs_ae[~crs_vs_ae["comparison"].isin(CRS_AGREE)]
    return pd.DataFrame({
        "type": "CRS_ASTCT_VS_AE", "usubjid": differ["usubjid"], "term": "Cytokine release syndrome",
        "reported_grade": differ["ctcae_grade"], "derived_grade": differ["astct_grade"],
        "ae_start": dtc_bounds(differ["ae_start"])["earliest"],
        "evidence": ("ASTCT 2019 grade " + differ["astct_grade"].astype("string").fillna("not assessed") + " ("
                     + differ["astct_drivers"].astype("string").fillna("") + "): " + differ["comparison"]),
        "detail": differ["comparison"], "domain": "XC"})


def combine_discrepancies(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Discrepancy rows of every source (:func:`ctcae_engine.grade.ae.reconcile` per graded domain, with its
    ``domain``, and :func:`crs_discrepancies`) as one frame sorted by participant, domain and type."""
    if not parts:
        return pd.DataFrame(columns=["type", "usubjid", "term", "domain"])
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["usubjid", "domain", "type"], kind="stable").reset_index(drop=True)


def in_scope(found: pd.DataFrame, population: pd.DataFrame | None,
             window: TreatmentEmergent | None = None) -> pd.DataFrame:
    """The discrepancy rows (:func:`combine_discrepancies`) of the safety population; MISSING_AE rows only in the
    treatment-emergent window.

    A participant not infused (a screen failure) has nothing to reconcile: a screening ALT grade 3 is not a missing AE.
    A MISSING_AE row (observations without an AE) is kept when its observations (``obs_first`` .. ``obs_last``) overlap
    the participant's treatment-emergent window (``window``: the ``[treatment_emergent]`` section): a grade 3 value
    at screening or long after the window asks for no AE. A row about a reported AE (its grade against the
    observations) is kept for every participant of the safety population: the investigator's grade is checked
    whenever the AE started. Without a population the rows are returned as they are.
    """
    if population is None or found.empty or "saffl" not in population.columns:
        return found
    safety = population.loc[population["saffl"].astype(bool), "usubjid"]
    kept = found[found["usubjid"].isin(safety)]
    bounds = window_bounds(population, window)
    if bounds is None or kept.empty:
        return kept.reset_index(drop=True)
    start = kept["usubjid"].map(bounds["win_start"])
    end = kept["usubjid"].map(bounds["win_end"])
    dates = kept.reindex(columns=["obs_first", "obs_last"])
    first, last = (pd.to_datetime(dates[c], errors="coerce").dt.normalize() for c in ("obs_first", "obs_last"))
    outside = kept["type"].eq("MISSING_AE") & ((last < start) | (first > end)).fillna(False)
    return kept[~outside].reset_index(drop=True)
