"""Reported AE grades against the grades derived from the observations, over every graded domain and CRS."""

from __future__ import annotations

import pandas as pd

from ctcae_engine.grade import ae as ae_checks
from ctcae_engine.read.dates import dtc_bounds

# CRS01 comparisons that are not a discrepancy (nothing to reconcile)
CRS_AGREE = frozenset({"same grade", "no CRS", "no XC assessment, no CRS AE"})


def reconcile_all(ae: pd.DataFrame, labs: pd.DataFrame | None = None, vitals: pd.DataFrame | None = None,
                  ecg: pd.DataFrame | None = None, crs_vs_ae: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`ctcae_engine.grade.ae.reconcile` once per graded domain (each CTCAE term is graded from one domain)
    plus the CRS AEs whose grade differs from ASTCT 2019 (``crs_vs_ae``: :func:`ctcae_engine.grade.cart.crs_vs_ctcae`),
    one row per discrepancy with its ``domain``, sorted by participant, domain and type."""
    parts = []
    for domain, graded in (("LB", labs), ("VS", vitals), ("EG", ecg)):
        if graded is not None:
            found = ae_checks.reconcile(ae, graded)
            if len(found):
                parts.append(found.assign(domain=domain))
    if crs_vs_ae is not None:
        differ = crs_vs_ae[~crs_vs_ae["comparison"].isin(CRS_AGREE)]
        parts.append(pd.DataFrame({
            "type": "CRS_ASTCT_VS_AE", "usubjid": differ["usubjid"], "term": "Cytokine release syndrome",
            "reported_grade": differ["ctcae_grade"], "derived_grade": differ["astct_grade"],
            "ae_start": dtc_bounds(differ["ae_start"])["earliest"],
            "evidence": ("ASTCT 2019 grade " + differ["astct_grade"].astype("string").fillna("not assessed") + " ("
                         + differ["astct_drivers"].astype("string").fillna("") + "): " + differ["comparison"]),
            "detail": differ["comparison"], "domain": "XC"}))
    if not parts:
        return pd.DataFrame(columns=["type", "usubjid", "term", "domain"])
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["usubjid", "domain", "type"], kind="stable").reset_index(drop=True)
