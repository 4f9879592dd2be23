"""Lab values in US conventional units are compared with the CTCAE v4.03 threshold written in their own unit.

CTCAE v4.03 states most lab thresholds in conventional units with rounded SI equivalents ("Hypercalcemia G2:
Corrected serum calcium of >11.5 - 12.5 mg/dL; >2.9 - 3.1 mmol/L"). Converting 11.6 mg/dL to 2.894 mmol/L and
comparing it with the rounded 2.9 gives G1 where the text in the value's own unit says G2. Every expected grade here
is typed from the CTCAE v4.03 text (quoted), never read from ctcae_terms' tables; the catalog check at the top reads
the other-unit table only to hold it against NCI's text in ../shared/ctcae.
"""

import re

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED

from ctcae_engine.grade.findings import grade_labs
from ctcae_engine.grade.rules import LabRules
from ctcae_engine.grade.units import conversion, nearest_unit, normalise_unit
from ctcae_terms.criteria import load_lab_criteria, load_lab_criteria_units, load_lab_test_map

CATALOG = SHARED / "ctcae" / "CTCAE_4.03.csv"


def lb(rows: list[dict]) -> pd.DataFrame:
    """SDTM LB rows from dicts with LBTESTCD, value, unit and optional LLN / ULN / LBFAST."""
    frame = pd.DataFrame([{
        "USUBJID": f"US-{i:04d}", "LBTESTCD": r["test"], "LBSTRESN": r["value"], "LBSTRESC": repr(r["value"]),
        "LBSTRESU": r.get("unit"), "LBSTNRLO": r.get("lln"), "LBSTNRHI": r.get("uln"), "LBFAST": r.get("fast"),
        "LBDTC": "2024-03-01"} for i, r in enumerate(rows)])
    return frame.astype(object).where(frame.notna(), None)


def grade_of(out: pd.DataFrame, i: int, term: str) -> object:
    """The grade of ``term`` in row ``i`` (its own direction, whichever the combined grade shows)."""
    row = out.iloc[i]
    side = "low" if row["term_low"] == term else "high" if row["term_high"] == term else None
    assert side is not None, (term, row["term_low"], row["term_high"], row["reason"])
    return row[f"grade_{side}"]


# ---------------------------------------------------------------- the other-unit thresholds against NCI's text
def _catalog_text() -> dict[tuple[str, int], str]:
    raw = pd.read_csv(CATALOG, dtype=str, keep_default_na=False, encoding="ascii")
    out = {}
    for row in raw.itertuples(index=False):
        for grade in range(1, 6):
            out[(row[2].strip(), grade)] = " ".join(row[2 + grade].replace("\xa0", " ").split())
    return out


def _number(text: str) -> float:
    return float(re.search(r"\d[\d,]*(?:\.\d+)?", text).group().replace(",", ""))


@pytest.mark.needs_shared(CATALOG)
def test_other_unit_thresholds_are_the_catalog_text():
    """Each other-unit threshold quotes a part of NCI's CTCAE v4.03 grade text: the quote is in the catalog's text of
    that term and grade, its first number is the threshold, its unit as printed is the row's unit, its comparison sign
    is the criteria row's, and it is the SI threshold's rounded equivalent (NCI rounded loosely: within 8 %)."""
    catalog = _catalog_text()
    criteria = load_lab_criteria()
    other = load_lab_criteria_units()
    assert len(other) == 58
    test_map = load_lab_test_map()
    analyte_of = {**dict(zip(test_map["key_high"], test_map["analyte"], strict=True)),
                  **dict(zip(test_map["key_low"], test_map["analyte"], strict=True))}
    for row in other.itertuples():
        own = criteria[(criteria["key"] == row.key) & (criteria["grade"] == row.grade) & (criteria["ref"] == row.ref)]
        assert len(own) == 1, row
        own = own.iloc[0]
        quote = " ".join(row.text.split())
        assert quote in catalog[(own["term"], row.grade)], row
        constant = row.bound if row.ref == "abs" else row.offset
        assert _number(quote) == constant, row
        assert row.unit_text in quote and normalise_unit(row.unit_text) == row.unit, row
        sign = re.search(r"[<>]", quote.split(str(row.unit_text))[0])
        if sign is not None and row.ref == "abs":  # Hypertriglyceridemia G1 '150 mg/dL - 300 mg/dL' has none
            assert own["op"].startswith(sign.group()), row
        analyte = analyte_of[row.key]
        factor, _ = conversion(analyte, row.unit, own["unit"])
        si = own["bound"] if row.ref == "abs" else own["offset"]
        assert constant * factor == pytest.approx(si, rel=0.08), row  # magnesium 0.9 mg/dL = 0.370, text 0.4


def test_every_constant_of_a_key_has_its_other_unit_value():
    """A key is graded in another unit only with all of that unit's constants; the table gives them for these."""
    rules = LabRules()
    units = {rules.keys[k]: [u for _, u in rules.units_of(k)] for k in range(len(rules.keys))}
    assert units["Hypercalcemia"] == ["mmol/L", "mg/dL"] and units["Hypercalcemia (ionized)"] == ["mmol/L"]
    assert units["Anemia"] == ["g/L", "g/dL", "mmol/L"]
    assert units["Hyperuricemia"] == ["umol/L", "mg/dL", "mmol/L"]
    assert units["Platelet count decreased"] == ["10^9/L", "/uL"]
    assert units["Hyperkalemia"] == ["mmol/L"]  # 'mmol/L' only in the text: mEq/L converts exactly
    assert sum(len(u) - 1 for u in units.values()) == 24


def test_a_partial_other_unit_table_is_refused():
    other = load_lab_criteria_units()
    other = other.drop(other.index[(other["key"] == "Hypercalcemia") & (other["grade"] == 3)])
    with pytest.raises(ValueError, match="Hypercalcemia in mg/dL"):
        LabRules(load_lab_criteria(), other)


# ---------------------------------------------------------------- the reproductions of issue 18
ISSUE = [  # (CTCAE v4.03 text deciding it, test, value, unit, LLN, ULN, term, expected grade)
    ("Hypophosphatemia G3 '<2.0 - 1.0 mg/dL'", "PHOS", 1.9, 2.5, 4.5, "Hypophosphatemia", 3),
    ("Hypophosphatemia G4 '<1.0 mg/dL'", "PHOS", 0.95, 2.5, 4.5, "Hypophosphatemia", 4),
    ("Hypercalcemia G2 'Corrected serum calcium of >11.5 - 12.5 mg/dL'", "CA", 11.6, 8.4, 10.2, "Hypercalcemia", 2),
    ("Hypercalcemia G4 'Corrected serum calcium of >13.5 mg/dL'", "CA", 13.6, 8.4, 10.2, "Hypercalcemia", 4),
    ("Hyperglycemia G3 '>250 - 500 mg/dL' (non-fasting)", "GLUC", 250.3, 70, 99, "Hyperglycemia", 3),
    ("Hypoglycemia G2 '<55 - 40 mg/dL'", "GLUC", 54.5, 70, 99, "Hypoglycemia", 2),
    ("Hypertriglyceridemia G1 '150 mg/dL - 300 mg/dL'", "TRIG", 151, None, None, "Hypertriglyceridemia", 1),
    ("Hypertriglyceridemia G2 '>300 mg/dL - 500 mg/dL'", "TRIG", 302, None, None, "Hypertriglyceridemia", 2),
    ("Hypomagnesemia G2 '<1.2 - 0.9 mg/dL'", "MG", 0.95, 1.6, 2.4, "Hypomagnesemia", 2),
    ("Hyperuricemia G3 '>ULN - 10 mg/dL (0.59 mmol/L) with physiologic consequences' (worst case)", "URATE", 9.95,
     3.5, 7.2, "Hyperuricemia", 3),
    ("Hypermagnesemia G1 '>ULN - 3.0 mg/dL' (ULN 2.4; SI gave G3: two grades off)", "MG", 3.0, 1.6, 2.4,
     "Hypermagnesemia", 1),
    ("Hypermagnesemia G4 '>8.0 mg/dL'", "MG", 8.01, 1.6, 2.4, "Hypermagnesemia", 4),
    ("Cholesterol high G3 '>400 - 500 mg/dL'", "CHOL", 500, 120, 200, "Cholesterol high", 3),
    ("Hypocalcemia G3 'Corrected serum calcium of <7.0 - 6.0 mg/dL'", "CA", 6.0, 8.4, 10.2, "Hypocalcemia", 3),
    ("Hypoglycemia G3 '<40 - 30 mg/dL'", "GLUC", 30, 70, 99, "Hypoglycemia", 3),
    ("Hypomagnesemia G3 '<0.9 - 0.7 mg/dL'", "MG", 0.7, 1.6, 2.4, "Hypomagnesemia", 3),
]


@pytest.fixture(scope="module")
def issue_graded() -> pd.DataFrame:
    return grade_labs(lb([{"test": t, "value": v, "unit": "mg/dL", "lln": lo, "uln": hi}
                          for _, t, v, lo, hi, _, _ in ISSUE]))


@pytest.mark.parametrize("i", range(len(ISSUE)), ids=[case[0] for case in ISSUE])
def test_issue_reproduction_graded_in_the_values_own_unit(issue_graded, i):
    text, _, value, _, _, term, expected = ISSUE[i]
    assert grade_of(issue_graded, i, term) == expected, issue_graded.iloc[i][["thresholds", "reason"]]
    assert issue_graded["reason"].iloc[i] == ""


def test_thresholds_name_the_unit_compared_in_and_value_si_stays_in_the_table_unit(issue_graded):
    calcium = issue_graded.iloc[2]  # 11.6 mg/dL
    assert calcium["thresholds"] == "> 11.5 mg/dL"
    assert calcium["unit_si"] == "mmol/L" and calcium["value_si"] == pytest.approx(11.6 / 4.0078)
    magnesium = issue_graded.iloc[10]  # 3.0 mg/dL, ULN 2.4: '>ULN - 3.0 mg/dL'
    assert magnesium["thresholds"] == "> 2.4 mg/dL (ULN 2.4)"
    assert magnesium["rule"] == "Hypermagnesemia G1: >ULN - 3.0 mg/dL; >ULN - 1.23 mmol/L"


def test_si_records_are_still_compared_in_si():
    """Hypercalcemia G1 '>ULN - 2.9 mmol/L': 2.89 mmol/L stays G1 (the mg/dL thresholds are for mg/dL records)."""
    out = grade_labs(lb([{"test": "CA", "value": 2.89, "unit": "mmol/L", "lln": 2.1, "uln": 2.6}]))
    assert out["grade"].iloc[0] == 1 and out["thresholds"].iloc[0] == "> 2.6 mmol/L (ULN 2.6)"


def test_hemoglobin_in_mmol_per_l_uses_the_mmol_per_l_anemia_text():
    """Anemia G2 '<6.2 - 4.9 mmol/L': 6.2 mmol/L is not below 6.2, so G1 '<LLN - 6.2 mmol/L' (converted to g/L,
    99.9 < 100 g/L would say G2). Hemoglobin increased has gm/dL only: converted by 16.114 g/L per mmol/L."""
    out = grade_labs(lb([{"test": "HGB", "value": 6.2, "unit": "mmol/L", "lln": 7.4, "uln": 9.9},
                         {"test": "HGB", "value": 12.5, "unit": "mmol/L", "lln": 7.4, "uln": 9.9}]))
    assert grade_of(out, 0, "Anemia") == 1 and out["thresholds"].iloc[0] == "< 7.4 mmol/L (LLN 7.4)"
    # 12.5 mmol/L = 201.4 g/L; ULN 9.9 mmol/L = 159.5 g/L: > ULN + 4 gm/dL (40 g/L) -> G3
    assert grade_of(out, 1, "Hemoglobin increased") == 3
    assert out["thresholds"].iloc[1].endswith("g/L (ULN 159.529 + 40)")


def test_baseline_rules_in_another_unit_use_the_baseline_in_that_unit():
    """Hemoglobin increased 'Increase in >2 - 4 gm/dL above ULN or above baseline if baseline is above ULN': baseline
    17.0 g/dL above ULN 16.0, so 19.1 g/dL is G2 and 19.0 G1. Fibrinogen decreased '25 - <50% decrease from
    baseline': 225 mg/dL from 300 mg/dL is a 25 % decrease, G2."""
    adlb = pd.DataFrame({"USUBJID": ["A", "A", "B"], "PARAMCD": ["HGB", "HGB", "FIBRINO"],
                         "PARAM": ["Hemoglobin (g/dL)", "Hemoglobin (g/dL)", "Fibrinogen (mg/dL)"],
                         "AVAL": [19.1, 19.0, 225.0], "ANRLO": [12.0, 12.0, 200.0], "ANRHI": [16.0, 16.0, 400.0],
                         "BASE": [17.0, 17.0, 300.0]})
    out = grade_labs(adlb)
    assert out["grade"].tolist() == [2, 1, 2]
    assert out["thresholds"].tolist() == ["> 19 g/dL (baseline 17 + 2)", "> 17 g/dL (baseline 17)",
                                          "<= 225 mg/dL (0.75 x baseline 300)"]
    assert out["base_si"].tolist() == [170.0, 170.0, 3.0] and out["unit_si"].tolist() == ["g/L", "g/L", "g/L"]


def test_nearest_unit_prefers_an_exact_factor():
    assert nearest_unit("CA", "mg/dL", ["mmol/L", "mg/dL"]) == 1  # its own unit
    assert nearest_unit("CA", "mEq/L", ["mmol/L", "mg/dL"]) == 0  # divalent: exactly 0.5 mmol/L per mEq/L
    assert nearest_unit("URATE", "umol/L", ["umol/L", "mg/dL", "mmol/L"]) == 0
    assert nearest_unit("HGB", "mg/dL", ["g/L", "g/dL", "mmol/L"]) == 0  # exact 0.01 g/L per mg/dL
    assert nearest_unit("CAION", "mg/dL", ["mmol/L"]) == 0  # molar mass, the only one
    assert nearest_unit("PLAT", "mg/dL", ["10^9/L", "/uL"]) is None


def test_calcium_in_meq_per_l_is_compared_in_mmol_per_l():
    """Hypocalcemia G2 '<2.0 - 1.75 mmol/L': 3.9 mEq/L = 1.95 mmol/L."""
    out = grade_labs(lb([{"test": "CA", "value": 3.9, "unit": "mEq/L", "lln": 4.2, "uln": 5.2}]))
    assert out["grade"].iloc[0] == 2 and out["thresholds"].iloc[0] == "< 2 mmol/L"


# ---------------------------------------------------------------- unit spellings of US data
@pytest.mark.parametrize(("test", "unit", "value", "expected", "text"), [
    ("CD4", "1/uL", 150, 3, "CD4 G3 '<200 - 50/mm3'"),
    ("CD4", "cells/uL", 150, 3, "CD4 G3 '<200 - 50/mm3'"),
    ("CD4", "1/uL", 0, 4, "CD4 G4 '<50/mm3'"),
    ("CD4", "cells/uL", 0, 4, "CD4 G4 '<50/mm3'"),
    ("WBC", "10^3/uL", 0, 4, "WBC G4 '<1000/mm3; <1.0 x 10e9 /L'"),
    ("WBC", "10^3/uL", 2.5, 2, "WBC G2 '<3.0 - 2.0 x 10e9 /L'"),
    ("WBC", "10^3/mL", 2500, 2, "WBC G2 '<3000 - 2000/mm3' (10^3/mL = 10^6/L = 1/uL)"),
    ("WBC", "10^3/mL", 0, 4, "WBC G4 '<1000/mm3'"),
    ("NEUT", "10^3/uL", 0, 4, "ANC G4 '<0.5 x 10e9 /L'"),
    ("NEUT", "10^3/uL", 0.6, 3, "ANC G3 '<1.0 - 0.5 x 10e9 /L'"),
    ("NEUT", "/mm3", 0, 4, "ANC G4 '<500/mm3'"),
    ("NEUT", "cells/mm3", 499, 4, "ANC G4 '<500/mm3'"),
    ("PLAT", "10^3/uL", 0, 4, "PLT G4 '<25.0 x 10e9 /L'"),
    ("PLAT", "10^3/uL", 49.9, 3, "PLT G3 '<50.0 - 25.0 x 10e9 /L'"),
    ("PLAT", "10^3/mL", 74999, 2, "PLT G2 '<75,000 - 50,000/mm3'"),
    ("PLAT", "G/L", 0, 4, "PLT G4 '<25.0 x 10e9 /L' (G/L = giga per litre)"),
    ("LYM", "10^3/uL", 0, 4, "Lymphocyte count decreased G4 '<0.2 x 10e9 /L'"),
    ("LYM", "10^3/uL", 0.45, 3, "Lymphocyte count decreased G3 '<0.5 - 0.2 x 10e9 /L'"),
    ("LYM", "G/L", 0.45, 3, "Lymphocyte count decreased G3 '<0.5 - 0.2 x 10e9 /L'"),
    ("WBC", "G/L", 0.9, 4, "WBC G4 '<1.0 x 10e9 /L'"),
    ("K", "mEq/L", 2.4, 4, "Hypokalemia G4 '<2.5 mmol/L'"),
    ("SODIUM", "mEq/L", 119, 4, "Hyponatremia G4 '<120 mmol/L'"),
    ("HGB", "g%", 7.9, 3, "Anemia G3 'Hgb <8.0 g/dL'"),
    ("ALB", "g%", 2.9, 2, "Hypoalbuminemia G2 '<3 - 2 g/dL'"),
    ("GLUC", "mg%", 39, 3, "Hypoglycemia G3 '<40 - 30 mg/dL'"),
    ("CA", "mg%", 6.9, 3, "Hypocalcemia G3 'Corrected serum calcium of <7.0 - 6.0 mg/dL'"),
], ids=lambda x: x if isinstance(x, str) else None)
def test_us_unit_spellings_are_graded(test, unit, value, expected, text):
    lln = {"CD4": 500, "WBC": 4.0, "NEUT": 1.8, "PLAT": 150, "LYM": 1.0, "K": 3.5, "SODIUM": 135, "HGB": 12,
           "ALB": 3.5, "GLUC": 70, "CA": 8.4}[test]
    if unit in ("1/uL", "cells/uL", "10^3/mL", "/mm3", "cells/mm3") and test != "CD4":
        lln *= 1000  # the reference range in the record's own unit
    out = grade_labs(lb([{"test": test, "value": value, "unit": unit, "lln": lln, "uln": lln * 3}]))
    assert out["reason"].iloc[0] == "" and out["grade"].iloc[0] == expected, out.iloc[0][["thresholds", "reason"]]


@pytest.mark.parametrize(("spelling", "unit"), [
    ("1/uL", "/uL"), ("10^3/mL", "/uL"), ("cells/mm3", "/uL"), ("/mm3", "/uL"), ("g%", "g/dL"), ("mg%", "mg/dL"),
    ("10^3/uL", "10^9/L"), ("mEq/L", "mEq/L"),
])
def test_us_spellings_normalise(spelling, unit):
    assert normalise_unit(spelling) == unit


def test_g_per_l_means_giga_only_for_cell_counts():
    assert conversion("PLAT", "G/L", "10^9/L") == (1.0, 0.0)
    assert conversion("ALB", "G/L", "g/L") == (1.0, 0.0)  # albumin G/L is grams
    assert conversion("ALB", "G/L", "10^9/L") is None


def test_ionized_calcium_in_mg_per_dl_is_converted_with_the_molar_mass():
    """v4.03 gives ionized calcium in mmol/L only. 6.01 mg/dL / 4.0078 = 1.4996 mmol/L: not '>1.5 - 1.6 mmol/L'
    (G2) but G1 'Ionized calcium >ULN - 1.5 mmol/L' (admiral multiplies by 4: 1.5025, G2)."""
    out = grade_labs(lb([{"test": "CAION", "value": 6.01, "unit": "mg/dL", "lln": 4.5, "uln": 5.3},
                         {"test": "CAION", "value": 6.02, "unit": "mg/dL", "lln": 4.5, "uln": 5.3}]))
    assert out["value_si"].iloc[0] == pytest.approx(6.01 * 10 / 40.078)
    assert out["grade"].tolist() == [1, 2]  # 6.02 mg/dL = 1.50207 mmol/L > 1.5: G2


# ---------------------------------------------------------------- a missing or unknown unit
def test_hemoglobin_increased_without_a_unit_is_not_graded():
    """AVAL 21.5, ULN 17, no unit: in g/dL it is G3 'Increase in >4 gm/dL above ULN', in g/L G1: the offset's unit
    decides, so no grade, with the reason."""
    adlb = pd.DataFrame({"USUBJID": ["P1", "P1"], "PARAMCD": ["HGB", "HGB"], "PARAM": ["Hemoglobin", "Hemoglobin"],
                         "AVAL": [21.5, 21.5], "ANRLO": [12.0, 12.0], "ANRHI": [17.0, 17.0],
                         "ATOXDSCH": ["Hemoglobin increased"] * 2, "AVALU": [None, "furlongs"]})
    out = grade_labs(adlb)
    assert out["grade"].isna().all()
    assert out["reason"].tolist() == ["no unit given; HGB rule needs g/L",
                                      "unit 'furlongs' not convertible to g/L for HGB"]
    given = grade_labs(adlb.assign(AVALU="g/dL"))
    assert given["grade"].tolist() == [3, 3]  # 21.5 > 17 + 4 g/dL


def test_pure_uln_multiples_still_grade_without_a_unit():
    """ALT G2 '>3.0 - 5.0 x ULN': value and ULN share whatever unit they are in."""
    out = grade_labs(lb([{"test": "ALT", "value": 130, "unit": None, "lln": 0, "uln": 40}]))
    assert out["grade"].iloc[0] == 2 and out["reason"].iloc[0] == ""


# ---------------------------------------------------------------- boundary grid at every conventional constant
# Typed from the CTCAE v4.03 text. Group: (CTCAE term, LBTESTCD, unit, LLN, ULN, LBFAST, step, boundaries);
# boundary: (text of the grade the constant opens, constant, grades (below, on, above)). Each constant is graded one
# reporting step below and above (step), just below and above (a relative 1e-6) and on it. "A - B" ranges: lower
# bound exclusive, upper inclusive (docs/grading.md), so a value on a constant keeps the milder grade.
GRID = [
    ("Hypophosphatemia", "PHOS", "mg/dL", 2.7, 4.5, None, 0.1, [
        ("<2.5 - 2.0 mg/dL", 2.5, (2, 1, 1)), ("<2.0 - 1.0 mg/dL", 2.0, (3, 2, 2)),
        ("<1.0 mg/dL; life-threatening consequences", 1.0, (4, 3, 3))]),
    ("Hypocalcemia", "CA", "mg/dL", 8.4, 10.2, None, 0.1, [
        ("Corrected serum calcium of <8.0 - 7.0 mg/dL", 8.0, (2, 1, 1)),
        ("Corrected serum calcium of <7.0 - 6.0 mg/dL", 7.0, (3, 2, 2)),
        ("Corrected serum calcium of <6.0 mg/dL", 6.0, (4, 3, 3))]),
    ("Hypercalcemia", "CA", "mg/dL", 8.4, 10.2, None, 0.1, [
        ("Corrected serum calcium of >11.5 - 12.5 mg/dL", 11.5, (1, 1, 2)),
        ("Corrected serum calcium of >12.5 - 13.5 mg/dL", 12.5, (2, 2, 3)),
        ("Corrected serum calcium of >13.5 mg/dL", 13.5, (3, 3, 4))]),
    ("Hypoglycemia", "GLUC", "mg/dL", 70, 99, None, 1, [
        ("<55 - 40 mg/dL", 55, (2, 1, 1)), ("<40 - 30 mg/dL", 40, (3, 2, 2)),
        ("<30 mg/dL; life-threatening consequences; seizures", 30, (4, 3, 3))]),
    ("Hyperglycemia", "GLUC", "mg/dL", 70, 99, None, 1, [  # non-fasting: G1-2 need a fasting value
        (">250 - 500 mg/dL; hospitalization indicated", 250, (0, 0, 3)),
        (">500 mg/dL; life-threatening consequences", 500, (3, 3, 4))]),
    ("Hyperglycemia", "GLUC", "mg/dL", 70, 99, "Y", 1, [
        ("Fasting glucose value >160 - 250 mg/dL", 160, (1, 1, 2)),
        (">250 - 500 mg/dL; hospitalization indicated", 250, (2, 2, 3)),
        (">500 mg/dL; life-threatening consequences", 500, (3, 3, 4))]),
    ("Hypomagnesemia", "MG", "mg/dL", 1.6, 2.6, None, 0.1, [
        ("<1.2 - 0.9 mg/dL", 1.2, (2, 1, 1)), ("<0.9 - 0.7 mg/dL", 0.9, (3, 2, 2)),
        ("<0.7 mg/dL; life-threatening consequences", 0.7, (4, 3, 3))]),
    ("Hypermagnesemia", "MG", "mg/dL", 1.6, 2.6, None, 0.1, [  # no G2
        (">3.0 - 8.0 mg/dL", 3.0, (1, 1, 3)), (">8.0 mg/dL; life-threatening consequences", 8.0, (3, 3, 4))]),
    ("Hypertriglyceridemia", "TRIG", "mg/dL", None, None, None, 1, [
        ("150 mg/dL - 300 mg/dL", 150, (0, 0, 1)), (">300 mg/dL - 500 mg/dL", 300, (1, 1, 2)),
        (">500 mg/dL - 1000 mg/dL", 500, (2, 2, 3)), (">1000 mg/dL; life-threatening consequences", 1000, (3, 3, 4))]),
    ("Cholesterol high", "CHOL", "mg/dL", 120, 200, None, 1, [
        (">300 - 400 mg/dL", 300, (1, 1, 2)), (">400 - 500 mg/dL", 400, (2, 2, 3)), (">500 mg/dL", 500, (3, 3, 4))]),
    ("Hyperuricemia", "URATE", "mg/dL", 3.5, 7.2, None, 0.1, [  # G3 '>ULN - 10 mg/dL' is the worst case of G1/G3
        (">10 mg/dL; life-threatening consequences", 10, (3, 3, 4))]),
    ("Hypoalbuminemia", "ALB", "g/dL", 3.5, 5.0, None, 0.1, [
        ("<3 - 2 g/dL", 3, (2, 1, 1)), ("<2 g/dL", 2, (3, 2, 2))]),
    ("Anemia", "HGB", "g/dL", 12.0, 16.0, None, 0.1, [
        ("Hgb <10.0 - 8.0 g/dL", 10.0, (2, 1, 1)), ("Hgb <8.0 g/dL; transfusion indicated", 8.0, (3, 2, 2))]),
    ("Hemoglobin increased", "HGB", "g/dL", 12.0, 17.0, None, 0.1, [  # no baseline: measured from the ULN
        ("Increase in >2 - 4 gm/dL above ULN", 19.0, (1, 1, 2)), ("Increase in >4 gm/dL above ULN", 21.0, (2, 2, 3))]),
    ("Fibrinogen decreased", "FIBRINO", "mg/dL", 150, 400, None, 1, [  # 50 mg/dL < 0.5 x LLN (75): G3 by the LLN
        ("<0.25 x LLN or 75% decrease from baseline or absolute value <50 mg/dL", 50, (4, 3, 3))]),
    ("CD4 lymphocytes decreased", "CD4", "/mm3", 600, 1500, None, 1, [
        ("<500 - 200/mm3", 500, (2, 1, 1)), ("<200 - 50/mm3", 200, (3, 2, 2)), ("<50/mm3", 50, (4, 3, 3))]),
    ("Lymphocyte count decreased", "LYM", "/mm3", 1000, 3500, None, 1, [
        ("<800 - 500/mm3", 800, (2, 1, 1)), ("<500 - 200/mm3", 500, (3, 2, 2)), ("<200/mm3", 200, (4, 3, 3))]),
    ("Lymphocyte count increased", "LYM", "/mm3", 1000, 3500, None, 1, [
        (">4000/mm3 - 20,000/mm3", 4000, (0, 0, 2)), (">20,000/mm3", 20000, (2, 2, 3))]),
    ("Neutrophil count decreased", "NEUT", "/mm3", 1800, 7500, None, 1, [
        ("<1500 - 1000/mm3", 1500, (2, 1, 1)), ("<1000 - 500/mm3", 1000, (3, 2, 2)), ("<500/mm3", 500, (4, 3, 3))]),
    ("Platelet count decreased", "PLAT", "/mm3", 150000, 400000, None, 1, [
        ("<75,000 - 50,000/mm3", 75000, (2, 1, 1)), ("<50,000 - 25,000/mm3", 50000, (3, 2, 2)),
        ("<25,000/mm3", 25000, (4, 3, 3))]),
    ("White blood cell decreased", "WBC", "/mm3", 4000, 10000, None, 1, [
        ("<3000 - 2000/mm3", 3000, (2, 1, 1)), ("<2000 - 1000/mm3", 2000, (3, 2, 2)), ("<1000/mm3", 1000, (4, 3, 3))]),
    ("Leukocytosis", "WBC", "/mm3", 4000, 10000, None, 1, [(">100,000/mm3", 100000, (0, 0, 3))]),
]
JUST = 1e-6


def _grid_cases() -> list[tuple[str, int, float, int]]:
    cases = []
    for g, (term, test, unit, _lln, _uln, fast, step, boundaries) in enumerate(GRID):
        for text, bound, (below, on, above) in boundaries:
            points = (("one step below", bound - step, below), ("just below", bound * (1 - JUST), below),
                      ("on", bound, on), ("just above", bound * (1 + JUST), above),
                      ("one step above", bound + step, above))
            for where, value, grade in points:
                value = float(np.round(value, 10))
                context = f"{test} {unit}" + (" fasting" if fast else "")
                cases.append((f"{term} '{text}' {where} {bound:g}: {value:g} [{context}] -> G{grade}", g, value, grade))
    return cases


GRID_CASES = _grid_cases()


@pytest.fixture(scope="module")
def grid_graded() -> pd.DataFrame:
    rows = []
    for _, g, value, _ in GRID_CASES:
        _term, test, unit, lln, uln, fast, _step, _ = GRID[g]
        rows.append({"test": test, "value": value, "unit": unit, "lln": lln, "uln": uln, "fast": fast})
    return grade_labs(lb(rows))


def test_grid_covers_every_conventional_constant():
    constants = {(group[0], b[1]) for group in GRID for b in group[-1]}
    assert len(constants) == 53 and len(GRID_CASES) == 5 * sum(len(group[-1]) for group in GRID)


@pytest.mark.parametrize("i", range(len(GRID_CASES)), ids=[case[0] for case in GRID_CASES])
def test_conventional_boundary(grid_graded, i):
    _, g, _, expected = GRID_CASES[i]
    got = grade_of(grid_graded, i, GRID[g][0])
    assert got == expected, grid_graded.iloc[i][["value_si", "thresholds", "reason"]]
