"""Temperature (issue 18): Hypothermia graded from TEMP, and Fever G4 only over a run of readings without long gaps.

CTCAE v4.03 Hypothermia: G2 "35 - >32 degrees C;  95 - >89.6 degrees F", G3 "32 - >28 degrees C;  89.6 - >82.4
degrees F", G4 "<=28 degrees C; 82.4 degrees F; life-threatening consequences ..."; no G1.
CTCAE v4.03 Fever: G3 ">40.0 degrees C (>104.0 degrees F) for <=24 hrs", G4 ">40.0 degrees C (>104.0 degrees F)
for >24 hrs"."""

import pandas as pd
import pytest

from ctcae_engine.grade.findings import grade_vitals
from ctcae_engine.read.config import DEMO_CONFIG, config_from_dict


def vs(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["USUBJID", "VSTESTCD", "VSSTRESN", "VSSTRESU", "VSDTC"])


HYPOTHERMIA = [
    (27.0, "C", 4, "the measured defect: TEMP 27 C came back as 'Fever grade 0'; G4 '<=28 degrees C'"),
    (28.0, "C", 4, "G4 '<=28 degrees C': 28 included"),
    (28.01, "C", 3, "G3 '32 - >28 degrees C'"),
    (32.0, "C", 3, "G3 '32 - >28 degrees C': 32 included"),
    (32.01, "C", 2, "G2 '35 - >32 degrees C'"),
    (35.0, "C", 2, "G2 '35 - >32 degrees C': 35 included"),
    (95.0, "F", 2, "G2 '95 - >89.6 degrees F': 95 F = 35 C"),
    (89.6, "F", 3, "G3 '89.6 - >82.4 degrees F': 89.6 F = 32 C"),
    (82.4, "F", 4, "G4 '82.4 degrees F' (= 28 C)"),
]


@pytest.mark.parametrize(("value", "unit", "grade"), [h[:3] for h in HYPOTHERMIA], ids=[h[3] for h in HYPOTHERMIA])
def test_hypothermia_thresholds(value, unit, grade):
    out = grade_vitals(vs([("P1", "TEMP", value, unit, "2024-01-01")]))
    assert (out["term"].iloc[0], out["grade"].iloc[0], out["grade_low"].iloc[0]) == ("Hypothermia", grade, grade)
    assert out["rule"].iloc[0].startswith(f"Hypothermia G{grade}:")


@pytest.mark.parametrize("value", [35.01, 37.0, 38.0])
def test_above_35_c_is_no_hypothermia(value):
    """Hypothermia has no G1; above 35 C (G2 '35 - >32') the low direction is grade 0."""
    out = grade_vitals(vs([("P1", "TEMP", value, "C", "2024-01-01")]))
    assert out["grade_low"].iloc[0] == 0 and out["term_low"].iloc[0] == "Hypothermia"


def test_two_readings_over_40_three_months_apart_are_not_a_24_hour_fever():
    """The measured defect: two readings > 40 C three months apart were both G4 (first-to-last span > 24 h)."""
    apart = vs([("P1", "TEMP", 40.5, "C", "2024-01-01T08:00"), ("P1", "TEMP", 40.6, "C", "2024-04-01T08:00")])
    assert grade_vitals(apart)["grade"].tolist() == [3, 3]


def test_fever_run_counts_only_with_gaps_of_at_most_the_maximum():
    """Readings every 6 h, all > 40.0 C, over 30 h: one run of > 24 h, G4. One 13 h gap splits it into runs of 12 h
    and 12 h (each <= 24 h): G3. ``fever_max_gap_h`` moves the limit; a gap of exactly the maximum is allowed."""
    times = ["2024-01-01T00:00", "2024-01-01T06:00", "2024-01-01T12:00", "2024-01-01T18:00", "2024-01-02T00:00",
             "2024-01-02T06:00"]
    run = vs([("P1", "TEMP", 40.3, "C", t) for t in times])
    assert grade_vitals(run)["grade"].tolist() == [4] * 6
    gap = vs([("P1", "TEMP", 40.3, "C", t) for t in
              ("2024-01-01T00:00", "2024-01-01T06:00", "2024-01-01T12:00", "2024-01-02T01:00", "2024-01-02T07:00",
               "2024-01-02T13:00")])
    assert grade_vitals(gap)["grade"].tolist() == [3] * 6  # 13 h between 12:00 and 01:00
    assert grade_vitals(gap, fever_max_gap_h=13)["grade"].tolist() == [4] * 6  # 37 h run, gaps <= 13 h
    twelve = gap.assign(VSDTC=[t.replace("T01:", "T00:").replace("T07:", "T06:").replace("T13:", "T12:")
                               for t in gap["VSDTC"]])  # gaps of exactly 12 h, span 36 h
    assert grade_vitals(twelve)["grade"].tolist() == [4] * 6


def test_fever_max_gap_is_a_grading_option_of_the_study():
    import tomllib

    raw = tomllib.loads(DEMO_CONFIG.read_text())
    raw.pop("data", None)
    assert config_from_dict(raw).grading.options("vitals")["fever_max_gap_h"] == 12.0
    raw.setdefault("grading", {})["fever_max_gap_h"] = 6
    assert config_from_dict(raw).grading.options("vitals")["fever_max_gap_h"] == 6.0
