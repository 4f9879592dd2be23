"""Reconciliation covers the safety population and the treatment-emergent window only (issue 14, part 4).

Reproduction: the demo's screen failure ALPP-CART-DEMO-01012 has a screening ALT of CTCAE grade 3 (">5.0 - 20.0 x
ULN") and, never infused, no AE form: DQ04 listed it as a MISSING_AE. A screen failure has no treatment-emergent
window, so there is nothing to reconcile.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ctcae_engine.analyse.reconciliation import in_scope
from ctcae_engine.demo import DATA_DIR
from ctcae_engine.read.config import TreatmentEmergent
from ctcae_engine.run.pipeline import run_study

DAY0 = pd.Timestamp("2025-01-10")


def _found() -> pd.DataFrame:
    day = lambda n: DAY0 + pd.Timedelta(days=n)  # noqa: E731
    return pd.DataFrame([
        {"type": "MISSING_AE", "usubjid": "SF", "term": "Alanine aminotransferase increased", "domain": "LB",
         "obs_first": day(-20), "obs_last": day(-20), "ae_start": pd.NaT},
        {"type": "MISSING_AE", "usubjid": "P", "term": "Alanine aminotransferase increased", "domain": "LB",
         "obs_first": day(-20), "obs_last": day(-18), "ae_start": pd.NaT},  # screening, before the window
        {"type": "MISSING_AE", "usubjid": "P", "term": "Alanine aminotransferase increased", "domain": "LB",
         "obs_first": day(10), "obs_last": day(12), "ae_start": pd.NaT},  # in the window
        {"type": "MISSING_AE", "usubjid": "P", "term": "Alanine aminotransferase increased", "domain": "LB",
         "obs_first": day(200), "obs_last": day(200), "ae_start": pd.NaT},  # after a 90-day window
        {"type": "GRADE_UNDER_REPORTED", "usubjid": "P", "term": "Neutrophil count decreased", "domain": "LB",
         "obs_first": day(-3), "obs_last": day(9), "ae_start": day(-2)},  # a reported AE: its grade is checked
        {"type": "GRADE_UNDER_REPORTED", "usubjid": "SF", "term": "Neutrophil count decreased", "domain": "LB",
         "obs_first": day(-30), "obs_last": day(-30), "ae_start": day(-30)},
        {"type": "CRS_ASTCT_VS_AE", "usubjid": "P", "term": "Cytokine release syndrome", "domain": "XC",
         "obs_first": pd.NaT, "obs_last": pd.NaT, "ae_start": pd.NaT},
    ])


def test_screen_failures_and_observations_outside_the_window_are_not_discrepancies():
    population = pd.DataFrame({"usubjid": ["P", "SF"], "saffl": [True, False], "infdt": [DAY0, pd.NaT]})
    kept = in_scope(_found(), population, TreatmentEmergent(window_days=90))
    assert "SF" not in set(kept["usubjid"])
    missing = kept[kept["type"].eq("MISSING_AE")]
    assert missing["obs_first"].tolist() == [DAY0 + pd.Timedelta(days=10)]
    assert kept.loc[~kept["type"].eq("MISSING_AE"), "type"].tolist() == ["GRADE_UNDER_REPORTED", "CRS_ASTCT_VS_AE"]


@pytest.mark.slow  # full demo run
def test_demo_screen_failure_screening_alt_is_not_a_missing_ae():
    results = run_study(DATA_DIR, None, strict=True)
    found = results.reconciliation
    assert not found["usubjid"].eq("ALPP-CART-DEMO-01012").any()
    # the planted in-window MISSING_AE stays (ALT G3 of 01003 after infusion)
    assert ((found["usubjid"] == "ALPP-CART-DEMO-01003") & (found["type"] == "MISSING_AE")).sum() == 1
