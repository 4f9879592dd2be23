"""Units, input shapes and reasons of grade_labs: every row is graded or says why it is not."""

import numpy as np
import pandas as pd
import pytest

import ctcae_engine.grade.findings  # noqa: F401  (registers the df.ctcae accessor)
from ctcae_engine.grade.findings import grade_labs
from ctcae_engine.grade.units import conversion_factor, normalise_unit


@pytest.mark.parametrize(
    ("spelling", "unit"),
    [("GI/L", "10^9/L"), ("THOU/uL", "10^9/L"), ("x10E9/L", "10^9/L"), ("10*3/uL", "10^9/L"), ("/mm3", "/uL"),
     ("cells/uL", "/uL"), ("mg/dl", "mg/dL"), ("IU/L", "U/L"), ("µmol/L", "umol/L"), (" mEq/L ", "mEq/L"),
     ("furlongs", "furlongs"), ("", None), (None, None)],
)
def test_unit_spellings_normalise(spelling, unit):
    assert normalise_unit(spelling) == unit


@pytest.mark.parametrize(
    ("analyte", "unit", "target", "factor"),
    [
        ("HGB", "mmol/L", "g/L", 16.114),  # hemoglobin (Fe) 1 mmol/L = 16.114 g/L
        ("HGB", "g/dL", "g/L", 10.0),
        ("GLUC", "mg/dL", "mmol/L", 0.05551),
        ("GLUC", "mmol/L", "mg/dL", 1 / 0.05551),  # a factor row also works in reverse
        ("CREAT", "mg/dL", "umol/L", 88.4),
        ("BILI", "mg/dL", "umol/L", 17.1),
        ("URATE", "mg/dL", "umol/L", 59.48),
        ("CA", "mg/dL", "mmol/L", 10 / 40.078),  # calcium 40.078 g/mol
        ("CAION", "mg/dL", "mmol/L", 10 / 40.078),  # ionized calcium: the same molar mass (admiral: x 0.25)
        ("CA", "mEq/L", "mmol/L", 0.5),  # divalent ion
        ("K", "mEq/L", "mmol/L", 1.0),  # monovalent ion
        ("NEUT", "cells/uL", "10^9/L", 0.001),
        ("PLAT", "THOU/uL", "10^9/L", 1.0),
        ("ALT", "IU/L", "U/L", 1.0),
        ("ALT", "ukat/L", "U/L", 60.0),
        ("FIBRINO", "mg/dL", "g/L", 0.01),
        ("INR", None, "ratio", 1.0),  # unitless targets accept a missing unit
        ("URATE", "mmol/L", "umol/L", 1000.0),  # SI prefix, any analyte
        ("CREAT", "umol/L", "mmol/L", 0.001),
    ],
)
def test_conversion_factors(analyte, unit, target, factor):
    assert conversion_factor(analyte, unit, target) == pytest.approx(factor)


@pytest.mark.parametrize(
    ("analyte", "unit", "target"),
    [("GLUC", "g/L", "mmol/L"), ("PLAT", "mg/dL", "10^9/L"), ("K", None, "mmol/L"), ("SODIUM", "mg/dL", "mmol/L")],
)
def test_unknown_conversions_are_none(analyte, unit, target):
    assert conversion_factor(analyte, unit, target) is None


def lb(rows: list[tuple], **extra: list) -> pd.DataFrame:
    """SDTM LB rows: (USUBJID, LBTESTCD, LBSTRESC, LBSTRESU, LBSTNRLO, LBSTNRHI, LBDTC)."""
    frame = pd.DataFrame(rows, columns=["USUBJID", "LBTESTCD", "LBSTRESC", "LBSTRESU", "LBSTNRLO", "LBSTNRHI", "LBDTC"])
    frame["LBSTRESN"] = pd.to_numeric(frame["LBSTRESC"], errors="coerce")
    for key, values in extra.items():
        frame[key] = values
    return frame.astype(object).where(frame.notna(), None)


def test_conventional_units_are_converted_before_grading():
    out = grade_labs(lb([
        ("P1", "GLUC", "40", "mg/dL", "70", "100", "2024-01-05"),  # 2.22 mmol/L: Hypoglycemia G2 '<3.0 - 2.2 mmol/L'
        ("P1", "HGB", "4.8", "mmol/L", "7.4", "9.9", "2024-01-05"),  # 77.3 g/L: Anemia G3 '<80 g/L'
        ("P1", "NEUT", "400", "cells/uL", "1800", "7500", "2024-01-05"),  # 0.4 x 10^9/L: G4 '<0.5 x 10e9 /L'
        ("P1", "K", "2.4", "mEq/L", "3.5", "5.1", "2024-01-05"),  # Hypokalemia G4 '<2.5 mmol/L'
    ]))
    assert out["grade"].tolist() == [2, 3, 4, 4]
    assert out["unit_si"].tolist() == ["mmol/L", "g/L", "10^9/L", "mmol/L"]
    np.testing.assert_allclose(out["value_si"], [40 * 0.05551, 4.8 * 16.114, 0.4, 2.4])
    np.testing.assert_allclose(out["lln_si"], [70 * 0.05551, 7.4 * 16.114, 1.8, 3.5])
    assert out["reason"].eq("").all()


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (("P1", "ALT", "<LLOQ", "U/L", "0", "40", ""), "non-numeric result '<LLOQ'"),
        (("P1", "ALT", ">100", "U/L", "0", "40", ""),
         "censored result '>100': the values it allows span grades 1 to 4"),
        (("P1", "PH", "NEG", "", "7.35", "7.45", ""), "non-numeric result 'NEG'"),
        (("P1", "ALT", None, "U/L", "0", "40", ""), "missing result"),
        (("P1", "ALT", "  ", "U/L", "0", "40", ""), "missing result"),
        (("P1", "PLAT", "150", "mg/dL", "150", "400", ""), "unit 'mg/dL' not convertible to 10^9/L for PLAT"),
        (("P1", "K", "4.1", None, "3.5", "5.1", ""), "no unit given; K rule needs mmol/L"),
        (("P1", "BUN", "12", "mg/dL", "7", "20", ""), "test BUN not mapped to a CTCAE term"),
        (("P1", "ALT", "30", "U/L", None, None, ""), "no ULN to grade Alanine aminotransferase increased"),
        (("P1", "K", "3.6", "mmol/L", None, "5.1", ""), "no LLN to grade Hypokalemia"),
    ],
    ids=lambda x: x if isinstance(x, str) else x[1],
)
def test_ungradable_rows_are_kept_with_a_reason(row, reason):
    out = grade_labs(lb([row, ("P1", "ALT", "30", "U/L", "0", "40", "")]))
    assert len(out) == 2
    assert pd.isna(out["grade"].iloc[0]) and out["reason"].iloc[0] == reason
    assert out["grade"].iloc[1] == 0 and out["reason"].iloc[1] == ""  # grade 0 = graded and normal


def test_missing_limit_still_grades_what_absolute_bounds_allow():
    out = grade_labs(lb([
        ("P1", "K", "2.8", "mmol/L", None, None, ""),  # Hypokalemia G3 '<3.0 - 2.5 mmol/L' needs no LLN
        ("P1", "NEUT", "0.4", "10^9/L", None, None, ""),  # Neutrophil count decreased G4 '<0.5 x 10e9 /L'
        ("P1", "NEUT", "1.6", "10^9/L", None, None, ""),  # could be G1 '<LLN - 1.5' or 0: unknown without LLN
    ]))
    assert out["grade"].tolist()[:2] == [3, 4]
    assert pd.isna(out["grade"].iloc[2]) and out["reason"].iloc[2] == "no LLN to grade Neutrophil count decreased"


def test_unconvertible_unit_still_grades_uln_multiples_in_the_given_unit():
    out = grade_labs(lb([("P1", "ALT", "130", "IU/dL", "0", "40", "")]))  # odd unit, same as its range
    assert out["grade"].iloc[0] == 2 and out["unit_si"].iloc[0] == "IU/dL"  # ALT G2 '>3.0 - 5.0 x ULN'


def test_urine_ph_is_not_acidosis_but_blood_ph_is():
    frame = lb([("P1", "PH", "5.0", "", "4.5", "8", ""), ("P1", "PH", "7.25", "", "7.35", "7.45", "")],
               LBCAT=["URINALYSIS", "CHEMISTRY"], LBSPEC=["URINE", "ARTERIAL BLOOD"])
    out = grade_labs(frame)
    assert pd.isna(out["grade"].iloc[0]) and "not mapped" in out["reason"].iloc[0]
    assert out["term"].iloc[1] == "Acidosis" and out["grade"].iloc[1] == 3  # Acidosis G3 'pH <7.3'


def test_fasting_glucose_uses_fasting_grades():
    rows = [("P1", "GLUC", "9.5", "mmol/L", "3.9", "5.6", "")] * 2
    out = grade_labs(lb(rows, LBFAST=["Y", None]))
    # Hyperglycemia G2 'Fasting glucose value >8.9 - 13.9 mmol/L'; non-fasting: only G3-4 are defined -> 0
    assert out["grade"].tolist() == [2, 0]


def test_mapping_override_by_dict():
    frame = lb([("P1", "ANCX", "0.8", "10^9/L", "1.8", "7.5", "")])
    assert "not mapped" in grade_labs(frame)["reason"].iloc[0]
    out = grade_labs(frame, mapping={"ANCX": ("Neutrophil count decreased", None)})
    assert out["term"].iloc[0] == "Neutrophil count decreased" and out["grade"].iloc[0] == 3


def test_mapping_override_keeps_the_analyte_for_unit_factors():
    frame = lb([("P1", "GLUC", "40", "mg/dL", "70", "100", "")])
    out = grade_labs(frame, mapping={"GLUC": ("Hypoglycemia", "Hyperglycemia (fasting)")})
    assert out["value_si"].iloc[0] == pytest.approx(40 * 0.05551) and out["grade"].iloc[0] == 2


def test_mapping_naming_unknown_criteria_is_rejected():
    with pytest.raises(ValueError, match="do not exist"):
        grade_labs(lb([("P1", "ALT", "30", "U/L", "0", "40", "")]), mapping={"ALT": (None, "ALT high")})


def test_baseline_is_last_value_on_or_before_first_dose():
    frame = lb([
        ("P1", "CREAT", "80", "umol/L", "45", "90", "2024-01-01"),
        ("P1", "CREAT", "70", "umol/L", "45", "90", "2024-01-10T08:00"),  # same day as first dose: pre-dose
        ("P1", "CREAT", "60", "umol/L", "45", "90", "2024-01"),  # partial date: never baseline
        ("P1", "CREAT", "120", "umol/L", "45", "90", "2024-01-20"),  # 1.71 x baseline: G2 '>1.5 - 3.0 x baseline'
        ("P2", "CREAT", "85", "umol/L", "45", "90", "2024-02-01"),  # P2 dosed before: no baseline
    ])
    dm = pd.DataFrame({"USUBJID": ["P1", "P2"], "RFXSTDTC": ["2024-01-10T09:30", "2024-01-15"]})
    out = grade_labs(frame, first_dose=dm)
    assert out["baseline"].tolist() == [False, True, False, False, False]
    assert out["base_si"].iloc[:4].tolist() == [70.0] * 4 and np.isnan(out["base_si"].iloc[4])
    assert out["grade"].iloc[3] == 2 and "baseline 70" in out["thresholds"].iloc[3]
    # Creatinine G1 '>1 - 1.5 x baseline' cannot be excluded without a baseline: reason, not a guess
    assert pd.isna(out["grade"].iloc[4]) and out["reason"].iloc[4] == "no baseline to grade Creatinine increased"
    out_dict = grade_labs(frame, first_dose={"P1": "2024-01-10", "P2": "2024-01-15"})
    assert out_dict["base_si"].equals(out["base_si"])


def test_flagged_baseline_wins_over_derivation():
    frame = lb([("P1", "CREAT", "50", "umol/L", "45", "90", "2024-01-01"),
                ("P1", "CREAT", "70", "umol/L", "45", "90", "2024-01-09"),
                ("P1", "CREAT", "80", "umol/L", "45", "90", "2024-01-20")], LBBLFL=["Y", None, None])
    out = grade_labs(frame, first_dose={"P1": "2024-01-10"})
    assert out["base_si"].tolist() == [50.0] * 3 and out["baseline"].tolist() == [True, False, False]
    assert out["grade"].iloc[2] == 2  # 80 > 1.5 x 50: G2 '>1.5 - 3.0 x baseline'


def test_input_frame_untouched_and_accessor_is_the_same_function():
    frame = lb([("P1", "ALT", "130", "U/L", "0", "40", "2024-01-05")])
    before = frame.copy()
    out = frame.ctcae.grade_labs()
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_frame_equal(out, grade_labs(frame))
    assert out["rule"].iloc[0] == "Alanine aminotransferase increased G2: >3.0 - 5.0 x ULN"
    assert out["thresholds"].iloc[0] == "> 120 U/L (3 x ULN 40)"
    assert out["adt"].iloc[0] == pd.Timestamp("2024-01-05")


def test_changing_the_result_never_changes_the_callers_frame():
    frame = lb([("P1", "ALT", "130", "U/L", "0", "40", "2024-01-05")])
    frame["LBSTRESN"] = frame["LBSTRESN"].astype(float)
    before = frame.copy()
    out = grade_labs(frame)
    out.loc[0, "LBSTRESN"] = 999.0
    out["LBSTRESN"] *= 0
    pd.testing.assert_frame_equal(frame, before)


def test_adam_unit_comes_from_param_when_no_avalu():
    adlb = pd.DataFrame({"USUBJID": ["P1"], "PARAMCD": ["HGB"], "PARAM": ["Hemoglobin (g/dL)"], "AVAL": [7.5],
                         "ANRLO": [12.0], "ANRHI": [16.0]})
    out = grade_labs(adlb)
    assert out["value_si"].iloc[0] == 75.0 and out["grade"].iloc[0] == 3  # Anemia G3 '<8.0 g/dL'


def test_adam_unit_is_read_from_each_rows_param():
    """ADLB without AVALU: the unit in PARAM's parentheses belongs to its own row. Albumin 38 g/L and 3.8 g/dL are the
    same value, above a 35 g/L LLN: no CTCAE v4.03 'Hypoalbuminemia' (<LLN - 3 g/dL) grade for either."""
    adlb = pd.DataFrame({"USUBJID": ["A", "B"], "PARAMCD": ["ALB", "ALB"],
                         "PARAM": ["Albumin (g/L)", "Albumin (g/dL)"], "AVAL": [38.0, 3.8],
                         "ANRLO": [35.0, 3.5], "ANRHI": [50.0, 5.0]})
    graded = grade_labs(adlb)
    assert graded["value_si"].tolist() == [38.0, 38.0]
    assert graded["grade"].tolist() == [0, 0]


@pytest.mark.parametrize("value", ["-5", "-inf", "inf", "nan"], ids=["negative", "minus infinity", "infinity", "nan"])
def test_implausible_results_are_not_graded(value):
    """A negative or infinite neutrophil count is a data error, not CTCAE v4.03 'Neutrophil count decreased' grade 4
    (<0.5 x 10e9/L): it is listed with its reason and its value_si is empty (figures and tables never see it)."""
    out = grade_labs(pd.DataFrame({"USUBJID": ["S1"], "LBTESTCD": ["NEUT"], "LBSTRESC": [value],
                                   "LBSTRESN": [value], "LBSTRESU": ["10^9/L"], "LBSTNRLO": ["2"],
                                   "LBSTNRHI": ["7.5"], "LBDTC": ["2025-01-10"]}))
    assert pd.isna(out.loc[0, "grade"]) and np.isnan(out.loc[0, "value_si"])
    assert "implausible" in out.loc[0, "reason"] or "non-numeric" in out.loc[0, "reason"]
