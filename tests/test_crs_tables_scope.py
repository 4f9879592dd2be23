"""CRS / ICANS tables (issue 14, part 4): grade 5 comes from a fatal AE, never from observations, and the
per-participant CRS table lists the safety population only.

ASTCT 2019 (Lee et al.): "Grade 5 CRS is defined as death due to CRS in which another cause is not the principal
factor leading to this outcome" - the engine never assigns it from XC observations (docs/cart.md), so a "Grade 5"
row is shown only when the investigator reported a fatal CRS (or ICANS) AE.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ctcae_engine.analyse.safety_tables import crs_icans_incidence, crs_icans_per_participant
from ctcae_engine.demo import DATA_DIR
from ctcae_engine.run.pipeline import run_study

POPULATION = pd.DataFrame({"usubjid": ["P1", "P2", "P3", "SF"], "saffl": [True, True, True, False]})
EPISODES = pd.DataFrame({"usubjid": ["P1", "P2"], "syndrome": ["CRS", "CRS"], "onset_day": [2, 3],
                         "max_grade": [2, 3], "duration_days": [3, 4]})


def _ae(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["USUBJID", "AEDECOD", "AETOXGR", "AEOUT"])


def test_no_grade_5_row_without_a_fatal_crs_ae():
    table = crs_icans_incidence(EPISODES, POPULATION, _ae([("P1", "Cytokine release syndrome", "2", "RECOVERED")]))
    assert "Grade 5" not in set(table["label"])
    assert crs_icans_incidence(EPISODES, POPULATION)["label"].tolist() == [
        "Any grade", "Grade 1", "Grade 2", "Grade 3", "Grade 4", "Grade >= 3"]


def test_a_fatal_crs_ae_gives_grade_5():
    """P2 (ASTCT grade 3 from XC) died of CRS (AE grade 5, outcome FATAL): counted once, at grade 5."""
    ae = _ae([("P2", "Cytokine release syndrome", "5", "FATAL"), ("SF", "Cytokine release syndrome", "5", "FATAL")])
    crs = crs_icans_incidence(EPISODES, POPULATION, ae).set_index("label")["n"]
    assert crs.to_dict() == {"Any grade": 2, "Grade 1": 0, "Grade 2": 1, "Grade 3": 0, "Grade 4": 0, "Grade 5": 1,
                             "Grade >= 3": 1}  # SF (not infused) is not counted


def test_per_participant_crs_table_lists_the_safety_population_only():
    per = pd.DataFrame({"usubjid": ["P1", "SF"], "astct_grade": [2, pd.NA]})
    assert crs_icans_per_participant(per, POPULATION)["usubjid"].tolist() == ["P1"]


@pytest.mark.slow  # full demo run
def test_demo_crs01_has_no_screen_failure_and_crst01_no_empty_grade_5():
    results = run_study(DATA_DIR, None, strict=True)
    listed = set(results.tables["CRS01"].frame["usubjid"])
    failures = set(results.population.loc[~results.population["saffl"], "usubjid"])
    assert failures and not listed & failures
    assert "Grade 5" not in set(results.tables["CRST01"].frame["label"])
