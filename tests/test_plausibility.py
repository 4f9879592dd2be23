"""Plausibility windows as data (issue 18, issue 16): a value outside its analyte's window, in the criteria table
unit after conversion, is listed with its reason and never graded; a value that is not finite after conversion
likewise. The windows are data checks, not CTCAE thresholds; the grades of plausible values quote CTCAE v4.03."""

import pandas as pd
import pytest

from ctcae_engine.grade import cart
from ctcae_engine.grade.findings import grade_ecg, grade_labs, grade_vitals
from ctcae_terms.criteria import load_plausibility


def vs(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["USUBJID", "VSTESTCD", "VSSTRESN", "VSSTRESU", "VSDTC"])


def lb(rows: list[tuple]) -> pd.DataFrame:
    """(LBTESTCD, LBSTRESN, LBSTRESU, LBSTNRLO, LBSTNRHI)."""
    frame = pd.DataFrame(rows, columns=["LBTESTCD", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI"])
    return frame.assign(USUBJID="P1", LBDTC="2024-01-01")


VITALS = [
    ("TEMP", 385, "C", "implausible TEMP 385 C (plausible 25 - 45 C)"),
    ("TEMP", 38.5, "F", "implausible TEMP 38.5 F = 3.61111 C (plausible 25 - 45 C)"),
    ("TEMP", 24.9, "C", "implausible TEMP 24.9 C (plausible 25 - 45 C)"),
    ("TEMP", 45.1, "C", "implausible TEMP 45.1 C (plausible 25 - 45 C)"),
    ("SYSBP", 1400, "mmHg", "implausible SYSBP 1400 mmHg (plausible 40 - 300 mmHg)"),
    ("DIABP", 900, "mmHg", "implausible DIABP 900 mmHg (plausible 10 - 200 mmHg)"),
    ("WEIGHT", 7500, "kg", "implausible WEIGHT 7500 kg (plausible 1 - 500 kg)"),
]


@pytest.mark.parametrize(("testcd", "value", "unit", "reason"), VITALS, ids=[v[3] for v in VITALS])
def test_implausible_vital_signs_are_listed_never_graded(testcd, value, unit, reason):
    out = grade_vitals(vs([("P1", testcd, value, unit, "2024-01-01")]))
    assert pd.isna(out["grade"].iloc[0]) and out["reason"].iloc[0] == reason
    assert pd.isna(out["value_si"].iloc[0])  # never plotted, never a baseline


def test_window_edges_are_plausible_and_graded():
    out = grade_vitals(vs([("P1", "TEMP", 25.0, "C", "2024-01-01"), ("P1", "TEMP", 45.0, "C", "2024-01-01"),
                           ("P1", "TEMP", 101.3, "F", "2024-01-01")]))
    # 25 C: Hypothermia G4 "<=28 degrees C"; 45 C: Fever G3 ">40.0 degrees C ... for <=24 hrs";
    # 101.3 F = 38.5 C: Fever G1 "38.0 - 39.0 degrees C (100.4 - 102.2 degrees F)": F converted because the unit says F
    assert out["grade"].tolist() == [4, 3, 1] and (out["reason"] == "").all()


def test_temperature_without_a_unit_is_not_taken_for_celsius_or_fahrenheit():
    out = grade_vitals(vs([("P1", "TEMP", 101.3, None, "2024-01-01")]))
    assert pd.isna(out["grade"].iloc[0]) and out["reason"].iloc[0].startswith("no unit given")


def test_spo2_over_100_percent_and_qtcf_5200_ms_are_implausible():
    spo2 = grade_vitals(vs([("P1", "OXYSAT", 101, "%", "2024-01-01"), ("P1", "OXYSAT", 87, "%", "2024-01-01")]),
                        assume_at_rest=True)
    assert spo2["reason"].iloc[0] == "implausible OXYSAT 101 % (plausible 0 - 100 %)"
    assert spo2["grade"].iloc[1] == 3  # Hypoxia G3 "Decreased oxygen saturation at rest (e.g., pulse oximeter <88%"
    ecg = pd.DataFrame({"USUBJID": ["P1", "P1"], "EGTESTCD": ["QTCF", "QTCF"], "EGSTRESN": [5200, 199],
                        "EGSTRESU": ["ms", "ms"], "EGDTC": ["2024-01-01", "2024-01-02"]})
    out = grade_ecg(ecg)
    assert out["reason"].tolist() == ["implausible QTCF 5200 ms (plausible 200 - 800 ms)",
                                      "implausible QTCF 199 ms (plausible 200 - 800 ms)"]
    assert out["grade"].isna().all()


def test_issue_16_potassium_500_and_hemoglobin_1e308_are_not_graded():
    """Issue 16 measured K 500 mmol/L -> G4 and HGB 1e308 g/dL -> value_si inf, G3."""
    out = grade_labs(lb([("K", 500, "mmol/L", 3.5, 5.1), ("HGB", 1e308, "g/dL", 12, 16),
                         ("K", 6.5, "mmol/L", 3.5, 5.1)]))
    assert out["reason"].tolist()[:2] == ["implausible K 500 mmol/L (plausible 0.5 - 25 mmol/L)",
                                          "implausible HGB 1e+308 g/dL = inf g/L: not finite after conversion"]
    assert out["grade"].iloc[:2].isna().all() and out["value_si"].iloc[:2].isna().all()
    # Hyperkalemia G3 ">6.0 - 7.0 mmol/L"
    assert out["grade"].iloc[2] == 3


def test_windows_are_data_and_the_xc_temperature_check_reads_the_same_row():
    table = load_plausibility()
    assert {"TEMP", "QTC", "OXYSAT", "SYSBP", "DIABP", "WEIGHT", "K", "HGB"} <= set(table["analyte"])
    temp = table[table["analyte"] == "TEMP"].iloc[0]
    assert (temp["unit"], temp["low"], temp["high"]) == ("C", 25.0, 45.0)
    assert cart.PLAUSIBLE_TEMP_C == (25.0, 45.0)
    assert table["source"].str.len().gt(0).all()
