"""Chronic kidney disease from eGFR (issue 18, part 3), thresholds typed from the CTCAE v4.03 text:
G1 "eGFR (estimated Glomerular Filtration Rate) or CrCl (creatinine clearance) <LLN - 60 ml/min/1.73 m2 ...",
G2 "eGFR or CrCl 59 - 30 ml/min/1.73 m2", G3 "eGFR or CrCl 29 - 15 ml/min/1.73 m2",
G4 "eGFR or CrCl <15 ml/min/1.73 m2; dialysis or renal transplant indicated"."""

import pandas as pd
import pytest

from ctcae_engine.grade.findings import grade_labs


def lb(testcd: str, value: float, unit: str | None, lln: float | None = 90.0) -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": ["P1"], "LBTESTCD": [testcd], "LBSTRESN": [value], "LBSTRESU": [unit],
                         "LBSTNRLO": [lln], "LBSTNRHI": [None], "LBDTC": ["2024-01-01"]})


CASES = [
    (90.0, 0, "at the LLN 90: not '<LLN'"),
    (89.9, 1, "G1 '<LLN - 60 ml/min/1.73 m2'"),
    (60.0, 1, "G1 '<LLN - 60': 60 included"),
    (59.9, 2, "G2 '59 - 30' read as <60"),
    (59.0, 2, "G2 '59 - 30': 59"),
    (30.0, 2, "G2 '59 - 30': 30 included"),
    (29.9, 3, "G3 '29 - 15' read as <30"),
    (15.0, 3, "G3 '29 - 15': 15 included"),
    (14.9, 4, "G4 '<15 ml/min/1.73 m2'"),
    (0.0, 4, "G4 '<15': no filtration"),
]


@pytest.mark.parametrize(("value", "grade"), [c[:2] for c in CASES], ids=[c[2] for c in CASES])
@pytest.mark.parametrize("testcd", ["EGFR", "GFRE", "CREATCLR"])
@pytest.mark.parametrize("unit", ["mL/min/1.73 m2", "ml/min/1.73m2", "mL/min/{1.73_m2}"])
def test_ckd_thresholds(testcd, unit, value, grade):
    out = grade_labs(lb(testcd, value, unit))
    assert (out["term"].iloc[0], out["grade"].iloc[0]) == ("Chronic kidney disease", grade), out["reason"].iloc[0]


def test_g1_needs_the_lln_and_g2_does_not():
    assert pd.isna(grade_labs(lb("EGFR", 75, "mL/min/1.73 m2", None))["grade"].iloc[0])  # '<LLN' unknown
    assert grade_labs(lb("EGFR", 45, "mL/min/1.73 m2", None))["grade"].iloc[0] == 2  # '59 - 30' needs no LLN


def test_creatinine_clearance_in_ml_min_is_not_taken_as_normalised():
    out = grade_labs(lb("CREATCLR", 40, "mL/min"))
    assert pd.isna(out["grade"].iloc[0]) and "not convertible" in out["reason"].iloc[0]
    out = grade_labs(lb("EGFR", 40, None))
    assert pd.isna(out["grade"].iloc[0]) and out["reason"].iloc[0].startswith("no unit given")
