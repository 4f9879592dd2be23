"""Censored lab results ("<0.1", ">1000"): graded when every value the result allows has the same CTCAE v4.03 grade,
flagged in ``thresholds``; otherwise listed with the reason. Expected grades are typed from the CTCAE text."""

import dask.dataframe as dd
import pandas as pd
import pytest

from ctcae_engine.api import grade_labs as grade_any
from ctcae_engine.grade.censored import parse
from ctcae_engine.grade.findings import grade_labs


def lb(rows: list[tuple]) -> pd.DataFrame:
    """SDTM LB rows: (LBTESTCD, LBSTRESC, LBSTRESU, LBSTNRLO, LBSTNRHI), LBSTRESN empty for a censored result."""
    frame = pd.DataFrame(rows, columns=["LBTESTCD", "LBSTRESC", "LBSTRESU", "LBSTNRLO", "LBSTNRHI"])
    frame.insert(0, "USUBJID", [f"C-{i:03d}" for i in range(len(frame))])
    frame["LBSTRESN"] = pd.to_numeric(frame["LBSTRESC"], errors="coerce")
    frame["LBDTC"] = "2024-05-02"
    return frame.astype(object).where(frame.notna(), None)


CASES = [  # (CTCAE v4.03 text deciding it, row, expected grade or None, thresholds or reason)
    ("ANC G4 '<0.5 x 10e9 /L': every value below 0.1 is G4", ("NEUT", "<0.1", "10^9/L", 1.8, 7.5), 4,
     "censored '<0.1', every value it allows: < 0.5 10^9/L"),
    ("ANC G4 '<0.5 x 10e9 /L': every value below 0.5 is G4", ("NEUT", "<0.5", "10^9/L", 1.8, 7.5), 4,
     "censored '<0.5', every value it allows: < 0.5 10^9/L"),
    ("ANC '<=0.5': 0.5 itself is G3 '<1.0 - 0.5', below it G4", ("NEUT", "<=0.5", "10^9/L", 1.8, 7.5), None,
     "censored result '<=0.5': the values it allows span grades 3 to 4"),
    ("ANC '<2.0' with LLN 1.8: 0 (1.9) to G4 (0.1)", ("NEUT", "<2.0", "10^9/L", 1.8, 7.5), None,
     "censored result '<2.0': the values it allows span grades 0 to 4"),
    ("ALT G4 '>20.0 x ULN': every value above 1000 U/L with ULN 40", ("ALT", ">1000", "U/L", 0, 40), 4,
     "censored '>1000', every value it allows: > 800 U/L (20 x ULN 40)"),
    ("ALT G4 '>20.0 x ULN': '>=801' with ULN 40 is above 800", ("ALT", ">=801", "U/L", 0, 40), 4,
     "censored '>=801', every value it allows: > 800 U/L (20 x ULN 40)"),
    ("ALT below the ULN whatever the value: grade 0", ("ALT", "<5", "U/L", 0, 40), 0,
     "censored '<5', every value it allows: grade 0"),
    ("Platelets G4 '<25,000/mm3': '<10' 10^3/uL", ("PLAT", "< 10", "10^3/uL", 150, 400), 4,
     "censored '< 10', every value it allows: < 25 10^9/L"),
    ("Hypocalcemia G4 'Corrected serum calcium of <6.0 mg/dL', compared in mg/dL", ("CA", "<6.0", "mg/dL", 8.4, 10.2),
     4, "censored '<6.0', every value it allows: < 6 mg/dL"),
    ("Hypokalemia '<3.6' without an LLN: G4 near 0, unknown just below 3.6", ("K", "<3.6", "mmol/L", None, 5.1), None,
     "censored result '<3.6': some of the values it allows cannot be graded (a limit or baseline is missing)"),
    ("no number: not censored", ("NEUT", "<LLOQ", "10^9/L", 1.8, 7.5), None, "non-numeric result '<LLOQ'"),
    ("'<0' allows no count", ("NEUT", "<0", "10^9/L", 1.8, 7.5), None,
     "implausible censored result '<0' (allows no value >= 0)"),
    ("a unit that does not convert still says so", ("PLAT", "<10", "mg/dL", 150, 400), None,
     "unit 'mg/dL' not convertible to 10^9/L for PLAT"),
]


@pytest.fixture(scope="module")
def graded() -> pd.DataFrame:
    return grade_labs(lb([case[1] for case in CASES]))


@pytest.mark.parametrize("i", range(len(CASES)), ids=[case[0] for case in CASES])
def test_censored_result(graded, i):
    _, _, expected, text = CASES[i]
    row = graded.iloc[i]
    if expected is None:
        assert pd.isna(row["grade"]) and row["reason"] == text and row["thresholds"] == ""
    else:
        assert row["grade"] == expected and row["reason"] == "" and row["thresholds"] == text
    assert pd.isna(row["value_si"])  # no number to plot or compare


def test_a_censored_result_is_never_the_baseline():
    """Creatinine G1 '>1 - 1.5 x baseline': the flagged '<20' cannot be the baseline, so the baseline is missing."""
    frame = lb([("CREAT", "<20", "umol/L", 45, 110), ("CREAT", "60", "umol/L", 45, 110)])
    frame["USUBJID"] = "C-1"
    frame["LBBLFL"] = ["Y", None]
    out = grade_labs(frame)
    assert out["baseline"].tolist() == [False, False] and out["base_si"].isna().all()
    assert out["reason"].iloc[1] == "no baseline to grade Creatinine increased"


def test_parse_reads_only_a_comparison_and_a_number():
    import numpy as np

    found = parse(np.array(["<0.1", "> 1000", "<=2", "\u22645", "<LLOQ", "0.3", "<1e-3"], dtype=object),
                  np.ones(7, dtype=bool))
    assert found.rows.tolist() == [True, True, True, True, False, False, True]
    assert found.index.tolist() == [0, 1, 2, 3, 6]
    assert found.low[0] == 0 and 0.0999 < found.high[0] < 0.1 and found.high[1] == np.inf and found.high[2] == 2


def test_dask_grades_censored_results_as_pandas():
    frame = lb([case[1] for case in CASES])
    got = grade_any(dd.from_pandas(frame, npartitions=3, sort=False)).compute().sort_index()
    want = grade_labs(frame)
    for column in ("grade", "thresholds", "reason"):
        assert got[column].astype(str).tolist() == want[column].astype(str).tolist()
