"""DMT01 and SAET01 headline numbers against plain pandas computations from the demo's SDTM."""

from __future__ import annotations

import pandas as pd
import pytest

from ctcae_engine import load_config
from ctcae_engine.demo import DATA_DIR
from ctcae_engine.run.pipeline import run_study

DATA = str(DATA_DIR)


@pytest.fixture(scope="module")
def results():
    return run_study(DATA_DIR, load_config())


def test_dmt01_age_and_race_match_plain_pandas(results):
    dm = pd.read_csv(f"{DATA}/dm.csv", dtype=str)
    ex = pd.read_csv(f"{DATA}/ex.csv", dtype=str)
    infused = set(ex.loc[ex["EXTRT"].eq("ANTI-ALPP CAR-T CELLS"), "USUBJID"])
    age = dm.loc[dm["USUBJID"].isin(infused), "AGE"].astype(float)
    table = results.tables["DMT01"].frame
    total = [c for c in table.columns if c.startswith("Total")][0]
    assert total == f"Total (N={len(infused)})"
    cell = table.set_index(["Characteristic", "Statistic"])[total]
    assert cell[("Age (years)", "Mean (SD)")] == f"{age.mean():.1f} ({age.std():.1f})"
    asian = dm.loc[dm["USUBJID"].isin(infused), "RACE"].eq("ASIAN").sum()
    assert cell[("Race", "ASIAN")] == f"{asian} ({100 * asian / len(infused):.1f}%)"
    assert cell[("ECOG performance status", "not collected")] == ""


def test_saet01_any_sae_matches_plain_pandas(results):
    ae = pd.read_csv(f"{DATA}/ae.csv", dtype=str)
    ex = pd.read_csv(f"{DATA}/ex.csv", dtype=str)
    infused = set(ex.loc[ex["EXTRT"].eq("ANTI-ALPP CAR-T CELLS"), "USUBJID"])
    first = results.tables["SAET01"].frame.iloc[0]
    ser = ae[ae["AESER"].eq("Y") & ae["USUBJID"].isin(infused)]
    fatal = ser[ser["AESDTH"].eq("Y") | ser["AEOUT"].eq("FATAL") | ser["AETOXGR"].eq("5")]
    assert first["Fatal SAE: n"] == fatal["USUBJID"].nunique()
    assert first["Any SAE: n"] <= ser["USUBJID"].nunique()  # treatment-emergent only
    assert "N = 20" in results.tables["SAET01"].note
