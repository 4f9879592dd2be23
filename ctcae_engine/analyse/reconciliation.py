"""Reported AE grades against the grades derived from the observations: CRS against ASTCT 2019, and the rows of
every source combined (the graded domains are reconciled by :func:`ctcae_engine.grade.ae.reconcile`)."""

from __future__ import annotations

import pandas as pd

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
