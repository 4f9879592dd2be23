"""Real SDTM LB (CDISC pilot, pharmaversesdtm): graded from original units and from standard units.

The two must agree except where a value sits exactly on a threshold in one unit system and the other unit's
rounding moves it across (e.g. calcium 8.4 mg/dL = LLN 8.4 but 2.0958 mmol/L < LLN 2.1), or where CTCAE v4.03's
two thresholds are not exact conversions of each other and each unit is compared with its own (calcium 8.0 mg/dL is
not '<8.0 - 7.0 mg/dL' but 1.996 mmol/L is '<2.0 - 1.75 mmol/L').
"""


import pandas as pd
import pytest
from conftest import PHARMAVERSE, require_shared

from ctcae_engine.grade.findings import grade_labs
from ctcae_engine.read.files import read_domain

DATA = PHARMAVERSE
pytestmark = pytest.mark.slow  # the whole real pilot LB (59,580 rows), graded twice


@pytest.fixture(scope="module")
def lb() -> pd.DataFrame:
    require_shared(DATA / "lb.csv", DATA / "dm.csv")
    return read_domain(DATA / "lb.csv")


@pytest.fixture(scope="module")
def graded(lb) -> tuple[pd.DataFrame, pd.DataFrame]:
    dm = read_domain(DATA / "dm.csv")
    return grade_labs(lb, first_dose=dm), grade_labs(lb, result="original", first_dose=dm)


def test_every_row_is_graded_or_has_a_reason(lb, graded):
    for out in graded:
        assert len(out) == len(lb) == 59580 and out.index.equals(lb.index)
        assert (out["grade"].notna() | (out["reason"] != "")).all()
        assert (out.loc[out["grade"].isna(), "reason"] != "").all()


def test_original_and_standard_units_agree_except_at_exact_thresholds(lb, graded):
    std, orig = graded
    both = std["grade"].notna() & orig["grade"].notna()
    assert both.sum() > 34000
    differ = both & (std["grade"] != orig["grade"])
    rate = 1 - differ.sum() / both.sum()
    print(f"\nLB graded from both unit systems: {both.sum()} rows, agreement {rate:.4%}, {differ.sum()} differ")
    assert rate > 0.998
    # every disagreement: the original value equals its own reference limit (a tie the conversion breaks) or a
    # CTCAE constant of its own unit that the rounded SI constant does not match (calcium 8.0 mg/dL vs 2.0 mmol/L)
    value = pd.to_numeric(lb["LBORRES"], errors="coerce")
    at_limit = (value == pd.to_numeric(lb["LBORNRLO"])) | (value == pd.to_numeric(lb["LBORNRHI"]))
    calcium_8 = lb["LBTESTCD"].eq("CA") & value.eq(8.0)
    assert (at_limit | calcium_8)[differ].all(), lb.loc[differ & ~at_limit, ["LBTESTCD", "LBORRES", "LBSTRESN"]]
    assert int((differ & at_limit).sum()) == 47 and int((differ & calcium_8).sum()) == 3


def test_pilot_values_graded_by_the_text_in_their_own_unit(lb, graded):
    """Calcium 8.0 mg/dL (LLN 8.4): Hypocalcemia G1 'Corrected serum calcium of <LLN - 8.0 mg/dL', not G2
    '<8.0 - 7.0 mg/dL' (three participants). Cholesterol 300 mg/dL with ULN 300: not '>ULN - 300 mg/dL', so G0 (in
    SI 7.758 mmol/L is above the rounded '>7.75 - 10.34 mmol/L' of G2 while below its ULN 7.76)."""
    std, orig = graded
    value = pd.to_numeric(lb["LBORRES"], errors="coerce")
    calcium = lb["LBTESTCD"].eq("CA") & value.eq(8.0) & lb["LBORRESU"].eq("mg/dL")
    assert lb.loc[calcium, "USUBJID"].nunique() == 3
    assert orig.loc[calcium, "grade_low"].eq(1).all() and std.loc[calcium, "grade_low"].eq(2).all()
    assert orig.loc[calcium, "thresholds"].eq("< 8.4 mg/dL (LLN 8.4)").all()
    cholesterol = lb["LBTESTCD"].eq("CHOL") & value.eq(300) & pd.to_numeric(lb["LBORNRHI"]).eq(300)
    assert cholesterol.sum() == 1
    assert orig.loc[cholesterol, "grade_high"].iloc[0] == 0 and std.loc[cholesterol, "grade_high"].iloc[0] == 2


def test_same_grading_support_in_both_unit_systems(graded):
    std, orig = graded
    assert (std["grade"].isna() == orig["grade"].isna()).all()
    assert std.loc[std["LBTESTCD"].eq("HGB"), "unit_si"].eq("g/L").all()  # standard unit mmol/L, converted
    assert orig.loc[orig["LBTESTCD"].eq("GLUC"), "unit_si"].eq("mmol/L").all()  # original mg/dL, converted


def test_known_real_values(lb, graded):
    std, _ = graded
    urine_ph = lb["LBTESTCD"].eq("PH")
    assert std.loc[urine_ph, "grade"].isna().all()  # urinalysis pH is never Acidosis/Alkalosis
    # the pilot's censored results: bilirubin '<3.42' umol/L (ULN 21) is below the ULN whatever its value, so grade 0
    # (flagged); glucose '<2.2204' mmol/L is Hypoglycemia G2 '<3.0 - 2.2 mmol/L' just below 2.2204 and G4 near 0: listed
    censored = lb["LBSTRESC"].fillna("").str.startswith("<")
    assert censored.sum() == 6
    bili = censored & lb["LBTESTCD"].eq("BILI")
    assert bili.sum() == 5 and std.loc[bili, "grade"].eq(0).all()
    assert std.loc[bili, "thresholds"].eq("censored '<3.42', every value it allows: grade 0").all()
    glucose = censored & lb["LBTESTCD"].eq("GLUC")
    assert std.loc[glucose, "grade"].isna().all()
    assert std.loc[glucose, "reason"].tolist() == ["censored result '<2.2204': the values it allows span grades 2 to 4"]
    # baselines come from LBBLFL; hyperuricemia >ULN is graded 3 (worst case, "with physiologic consequences")
    urate = std[std["LBTESTCD"].eq("URATE") & (std["value_si"] > std["uln_si"])]
    assert len(urate) > 0 and urate["grade"].ge(3).all()
