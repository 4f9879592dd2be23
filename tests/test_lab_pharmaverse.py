"""Real SDTM LB (CDISC pilot, pharmaversesdtm): graded from original units and from standard units.

The two must agree except where a value sits exactly on a threshold in one unit system and the other unit's
rounding moves it across (e.g. calcium 8.4 mg/dL = LLN 8.4 but 2.0958 mmol/L < LLN 2.1).
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
    # every disagreement: the original value equals its own reference limit (a tie the conversion breaks)
    value = pd.to_numeric(lb["LBORRES"], errors="coerce")
    at_limit = (value == pd.to_numeric(lb["LBORNRLO"])) | (value == pd.to_numeric(lb["LBORNRHI"]))
    assert at_limit[differ].all(), lb.loc[differ & ~at_limit, ["LBTESTCD", "LBORRES", "LBSTRESN"]]


def test_same_grading_support_in_both_unit_systems(graded):
    std, orig = graded
    assert (std["grade"].isna() == orig["grade"].isna()).all()
    assert std.loc[std["LBTESTCD"].eq("HGB"), "unit_si"].eq("g/L").all()  # standard unit mmol/L, converted
    assert orig.loc[orig["LBTESTCD"].eq("GLUC"), "unit_si"].eq("mmol/L").all()  # original mg/dL, converted


def test_known_real_values(lb, graded):
    std, _ = graded
    urine_ph = lb["LBTESTCD"].eq("PH")
    assert std.loc[urine_ph, "grade"].isna().all()  # urinalysis pH is never Acidosis/Alkalosis
    # the pilot's "<0.2"-style results are kept with their reason
    censored = lb["LBSTRESC"].fillna("").str.startswith("<")
    assert censored.sum() == 6
    assert (std.loc[censored, "reason"] == "non-numeric result '" + lb.loc[censored, "LBSTRESC"] + "'").all()
    # baselines come from LBBLFL; hyperuricemia >ULN is graded 3 (worst case, "with physiologic consequences")
    urate = std[std["LBTESTCD"].eq("URATE") & (std["value_si"] > std["uln_si"])]
    assert len(urate) > 0 and urate["grade"].ge(3).all()
