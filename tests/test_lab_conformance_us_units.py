"""Conformance with admiral 1.4.1 (CTCAE v4, US conventional units) on the CDISC pilot ADLB: the same 45,077 rows as
tests/test_lab_conformance.py converted to mg/dL, g/dL and 10^3/uL (../shared/peer/README.md says how) and graded by
admiral with its US-units metadata (``atoxgr_criteria_ctcv4_uscv``).

The documented difference: pharmaverseadam maps total lymphocytes (LYMPH, 10^3/uL) to "CD4 lymphocytes decreased";
admiral's US metadata wants that term in 1/uL and leaves all 2,498 rows ungraded; this engine converts 10^3/uL
exactly (= 10^9/L) and grades them as it does in SI (2,480 graded, 18 without an LLN).
Run with ``pytest -s`` to see the agreement table.
"""

import pandas as pd
import pytest
from conftest import SHARED, require_shared
from test_lab_conformance import agreement_table

from ctcae_engine.grade.findings import grade_labs

PEER_US = SHARED / "peer" / "admiral_adlb_ctcv4_uscv.csv"
pytestmark = pytest.mark.slow  # admiral conformance over 45,077 rows


@pytest.fixture(scope="module")
def graded() -> pd.DataFrame:
    require_shared(PEER_US)
    peer = pd.read_csv(PEER_US, dtype=str, keep_default_na=False).replace("", pd.NA)
    for column in ("AVAL", "ANRLO", "ANRHI", "BASE", "PCHG"):
        peer[column] = pd.to_numeric(peer[column])
    return grade_labs(peer)


def _cd4_from_lymphocytes(out: pd.DataFrame) -> pd.Series:
    return out["PARAMCD"].eq("LYMPH") & out["ATOXDSCL"].eq("CD4 lymphocytes decreased")


def test_equal_to_admiral_us_units_on_every_row_admiral_grades(graded):
    table = agreement_table(graded, "CD4 from 10^3/uL lymphocytes", _cd4_from_lymphocytes(graded))
    print("\n" + table.to_string(index=False))
    assert len(graded) == 45077
    assert table["rows compared"].tolist() == [22496, 35081, 42572]
    assert (table["different"] == 0).all(), table
    assert table["graded here only (CD4 from 10^3/uL lymphocytes)"].tolist() == [2480, 0, 2480]
    assert (table["graded here only (other)"] == 0).all(), table


def test_cd4_from_lymphocytes_is_graded_as_in_si(graded, peer_adlb):
    """The only rows admiral leaves ungraded here and this engine grades: the same grades as from the SI file."""
    cd4 = _cd4_from_lymphocytes(graded)
    assert graded.loc[cd4, "ATOXGRL"].isna().all()
    si = grade_labs(peer_adlb)
    assert graded.loc[cd4, "grade_low"].astype("string").equals(si.loc[cd4, "grade_low"].astype("string"))
    assert graded.loc[cd4, "grade_low"].value_counts().to_dict() == {0: 2440, 1: 33, 2: 7}


def test_the_rounded_si_thresholds_no_longer_decide_conventional_values(graded, peer_adlb):
    """Calcium 8.0 mg/dL: not '<8.0 - 7.0 mg/dL' (G2) but G1 '<LLN - 8.0 mg/dL' (SI 1.996 < 2.0 mmol/L gives G2);
    cholesterol 300 mg/dL with ULN 300: not '>ULN', and not '>300 - 400 mg/dL' (G2): G0 (SI 7.758 mmol/L is above
    the rounded 7.75 mmol/L and graded G2 though below its ULN 7.76). admiral's US metadata agrees."""
    calcium = graded["PARAMCD"].eq("CA") & graded["AVAL"].eq(8.0) & graded["ANRLO"].gt(8.0)
    assert calcium.sum() == 6 and graded.loc[calcium, "USUBJID"].nunique() == 3
    assert graded.loc[calcium, "grade_low"].eq(1).all() and graded.loc[calcium, "ATOXGRL"].eq("1").all()
    assert peer_adlb.loc[calcium, "ATOXGRL"].eq("2").all()  # the SI file, same rows: G2 by 1.996 < 2.0 mmol/L
    cholesterol = graded["ROWID"].eq("70799")
    assert graded.loc[cholesterol, ["AVAL", "ANRHI"]].iloc[0].tolist() == [300, 300]
    assert graded.loc[cholesterol, "grade_high"].iloc[0] == 0 and peer_adlb.loc[cholesterol, "ATOXGRH"].iloc[0] == "2"


def test_every_ungraded_row_says_why(graded):
    missing = graded["grade"].isna()
    assert graded.loc[missing, "reason"].value_counts().to_dict() == {
        "no LLN to grade CD4 lymphocytes decreased": 18, "missing result": 7}
