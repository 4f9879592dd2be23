"""The lab criteria table and its interpreter: table integrity, hand-checked CTCAE v4.03 cases, and generated
boundary cases (at, just below, just above every threshold of every rule) against an exact-decimal oracle."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from ctcae_engine.grade.findings import grade_labs
from ctcae_engine.grade.rules import LabRules
from ctcae_terms import allowed_grades, lookup_term
from ctcae_terms.criteria import load_lab_criteria, load_lab_test_map

CRITERIA = load_lab_criteria()
ADMIRAL_TERMS = {  # the 39 CTCAE v4 terms admiral grades from lab values (pseudo-terms folded into their term)
    "Anemia", "Leukocytosis", "Activated partial thromboplastin time prolonged", "Alanine aminotransferase increased",
    "Alkaline phosphatase increased", "Aspartate aminotransferase increased", "Blood bilirubin increased",
    "CD4 lymphocytes decreased", "Cholesterol high", "CPK increased", "Creatinine increased", "Fibrinogen decreased",
    "GGT increased", "Haptoglobin decreased", "Hemoglobin increased", "INR increased", "Lipase increased",
    "Lymphocyte count decreased", "Lymphocyte count increased", "Neutrophil count decreased",
    "Platelet count decreased", "Serum amylase increased", "White blood cell decreased", "Acidosis", "Alkalosis",
    "Hypercalcemia", "Hyperglycemia", "Hyperkalemia", "Hypermagnesemia", "Hypernatremia", "Hypertriglyceridemia",
    "Hyperuricemia", "Hypoalbuminemia", "Hypocalcemia", "Hypoglycemia", "Hypokalemia", "Hypomagnesemia",
    "Hyponatremia", "Hypophosphatemia",
}


# ---------------------------------------------------------------- table integrity
def test_table_covers_the_39_admiral_terms_in_both_directions():
    assert set(CRITERIA["term"]) == ADMIRAL_TERMS
    directions = CRITERIA.groupby("term")["direction"].first()
    assert (directions == "low").sum() >= 15 and (directions == "high").sum() >= 20


def test_ctcae_text_is_the_catalog_text_of_that_grade():
    for row in CRITERIA.itertuples():
        assert row.ctcae_text == lookup_term(row.term)[f"grade_{row.grade}"], row


def test_no_grade_5_and_only_grades_the_catalog_defines():
    for term, grades in CRITERIA.groupby("term")["grade"]:
        assert set(grades) <= set(allowed_grades(term)) - {5}, term


def test_each_key_has_one_term_direction_and_unit():
    per_key = CRITERIA.groupby("key")[["term", "direction", "unit"]].nunique()
    assert (per_key == 1).all().all()


def test_default_test_map_names_existing_keys_with_one_unit_per_test():
    keys = set(CRITERIA["key"])
    unit = CRITERIA.groupby("key")["unit"].first()
    for row in load_lab_test_map().itertuples():
        named = [k for k in (row.key_low, row.key_high) if k]
        assert named and set(named) <= keys, row
        assert len({unit[k] for k in named}) == 1, row


# ---------------------------------------------------------------- hand-checked CTCAE v4.03 cases
def adlb(rows: list[dict]) -> pd.DataFrame:
    """ADaM-like rows naming the criteria key directly (ATOXDSCL/ATOXDSCH, as admiral does)."""
    frame = pd.DataFrame(rows)
    for column in ("ATOXDSCL", "ATOXDSCH", "ANRLO", "ANRHI", "BASE"):
        if column not in frame.columns:
            frame[column] = None
    frame["USUBJID"] = "P1"
    frame["PARAMCD"] = "X"
    return frame


HAND = [  # (CTCAE text checked, key, direction, value, ULN/LLN, baseline, expected grade)
    ("ALT G1 '>ULN - 3.0 x ULN': exactly 3 x ULN is G1", "Alanine aminotransferase increased", "H", 120, 40, None, 1),
    ("ALT G2 '>3.0 - 5.0 x ULN'", "Alanine aminotransferase increased", "H", 120.01, 40, None, 2),
    ("ALT G3 '>5.0 - 20.0 x ULN': exactly 20 x ULN is G3", "Alanine aminotransferase increased", "H", 800, 40, None, 3),
    ("ALT G4 '>20.0 x ULN'", "Alanine aminotransferase increased", "H", 800.1, 40, None, 4),
    ("AST G1 '>ULN - 3.0 x ULN': 128.4 vs 3 x 42.8 (float noise) stays G1", "Aspartate aminotransferase increased",
     "H", 128.4, 42.8, None, 1),
    ("ALT within ULN is grade 0", "Alanine aminotransferase increased", "H", 40, 40, None, 0),
    ("Hypokalemia G2 '<LLN - 3.0 mmol/L' (worst case of G1/G2): 3.0 is G2", "Hypokalemia", "L", 3.0, 3.5, None, 2),
    ("Hypokalemia G3 '<3.0 - 2.5 mmol/L'", "Hypokalemia", "L", 2.99, 3.5, None, 3),
    ("Hypokalemia G3 '<3.0 - 2.5 mmol/L': 2.5 is G3", "Hypokalemia", "L", 2.5, 3.5, None, 3),
    ("Hypokalemia G4 '<2.5 mmol/L'", "Hypokalemia", "L", 2.49, 3.5, None, 4),
    ("Hyponatremia G1 '<LLN - 130 mmol/L': 130 is G1 (no G2)", "Hyponatremia", "L", 130, 135, None, 1),
    ("Hyponatremia G3 '<130 - 120 mmol/L'", "Hyponatremia", "L", 129.9, 135, None, 3),
    ("Hyponatremia G4 '<120 mmol/L'", "Hyponatremia", "L", 119.9, 135, None, 4),
    ("Platelets G1 '<LLN - 75.0 x 10e9 /L': 75 is G1", "Platelet count decreased", "L", 75, 150, None, 1),
    ("Platelets G2 '<75.0 - 50.0 x 10e9 /L'", "Platelet count decreased", "L", 74.9, 150, None, 2),
    ("Platelets G4 '<25.0 x 10e9 /L'", "Platelet count decreased", "L", 24.9, 150, None, 4),
    ("Neutrophils G3 '<1.0 - 0.5 x 10e9 /L': 0.5 is G3", "Neutrophil count decreased", "L", 0.5, 1.8, None, 3),
    ("Anemia G2 '<100 - 80g/L': 80 is G2", "Anemia", "L", 80, 120, None, 2),
    ("Anemia G3 '<80 g/L; transfusion indicated': lab alone never gives G4", "Anemia", "L", 30, 120, None, 3),
    ("Hemoglobin increased G1 'Increase in >0 - 2 gm/dL above ULN'", "Hemoglobin increased", "H", 180, 160, 150, 1),
    ("Hemoglobin increased G2 '>2 - 4 gm/dL above ULN'", "Hemoglobin increased", "H", 180.1, 160, 150, 2),
    ("Hemoglobin increased G3 '>4 gm/dL above ULN'", "Hemoglobin increased", "H", 200.1, 160, 150, 3),
    ("Hemoglobin increased G1 '... above baseline if baseline is above ULN'", "Hemoglobin increased", "H", 190, 160,
     170, 1),
    ("Hemoglobin increased G2 '... above baseline if baseline is above ULN'", "Hemoglobin increased", "H", 190.1,
     160, 170, 2),
    ("Creatinine G1 '>1 - 1.5 x baseline': exactly 1.5 x baseline is G1", "Creatinine increased", "H", 90, 100, 60, 1),
    ("Creatinine G2 '>1.5 - 3.0 x baseline'", "Creatinine increased", "H", 90.1, 100, 60, 2),
    ("Creatinine G3 '>3.0 baseline'", "Creatinine increased", "H", 180.1, 100, 60, 3),
    ("Creatinine G4 '>6.0 x ULN'", "Creatinine increased", "H", 600.1, 100, 60, 4),
    ("Fibrinogen G2 '25 - <50% decrease from baseline': -25% is G2", "Fibrinogen decreased", "L", 2.25, 2.0, 3.0, 2),
    ("Fibrinogen G3 '50 - <75% decrease from baseline': -50% is G3", "Fibrinogen decreased", "L", 1.5, 1.0, 3.0, 3),
    ("Fibrinogen G4 '75% decrease from baseline'", "Fibrinogen decreased", "L", 0.75, 0.5, 3.0, 4),
    ("Fibrinogen G4 'absolute value <50 mg/dL'", "Fibrinogen decreased", "L", 0.49, 0.1, 0.5, 4),
    ("Hyperuricemia G3 '>ULN - 10 mg/dL ... with physiologic consequences' (worst case)", "Hyperuricemia", "H", 421,
     420, None, 3),
    ("Hyperuricemia G4 '>0.59 mmol/L'", "Hyperuricemia", "H", 590.1, 420, None, 4),
    ("Hypertriglyceridemia G1 '1.71 mmol/L - 3.42': 1.71 read exclusive", "Hypertriglyceridemia", "H", 1.71, None,
     None, 0),
    ("Hypertriglyceridemia G1 '1.71 mmol/L - 3.42 mmol/L': 3.42 is G1", "Hypertriglyceridemia", "H", 3.42, None,
     None, 1),
    ("Leukocytosis G3 '>100,000/mm3': 100 x 10^9/L is 0", "Leukocytosis", "H", 100, 10, None, 0),
    ("Leukocytosis G3 '>100,000/mm3'", "Leukocytosis", "H", 100.1, 10, None, 3),
    ("Lymphocyte count increased G2 '>4000/mm3 - 20,000/mm3'", "Lymphocyte count increased", "H", 4.01, 3, None, 2),
    ("Hyperglycemia (non-fasting) G3 '>13.9 - 27.8 mmol/L'; G1-2 need fasting", "Hyperglycemia", "H", 13.9, 5.6,
     None, 0),
    ("Hypermagnesemia G3 '>1.23 - 3.30 mmol/L' (no G2)", "Hypermagnesemia", "H", 1.24, 1.0, None, 3),
    ("Acidosis G1 'pH <normal, but >=7.3': 7.3 is G1", "Acidosis", "L", 7.3, 7.35, None, 1),
    ("Acidosis G3 'pH <7.3'", "Acidosis", "L", 7.29, 7.35, None, 3),
    ("INR G1 '>1 - 1.5 x ULN; >1 - 1.5 times above baseline': 1.5 x baseline is G1", "INR increased", "H", 1.5, 1.1,
     1.0, 1),
    ("INR G2 '>1.5 - 2.5 times above baseline if on anticoagulation' (assumed)", "INR increased", "H", 1.51, 1.1, 1.0,
     2),
    ("aPTT G3 '>2.5 x ULN; hemorrhage'", "Activated partial thromboplastin time prolonged", "H", 87.6, 35, None, 3),
    ("Hypocalcemia (ionized) G3 'Ionized calcium <0.9 - 0.8 mmol/L'", "Hypocalcemia (ionized)", "L", 0.89, 1.12,
     None, 3),
    ("Hypercalcemia G4 'Corrected serum calcium of >3.4 mmol/L'", "Hypercalcemia", "H", 3.41, 2.6, None, 4),
]


@pytest.fixture(scope="module")
def hand_graded() -> pd.DataFrame:
    rows = []
    for _, key, direction, value, limit, base, _expected in HAND:
        row = {"AVAL": value, "BASE": base, "AVALU": CRITERIA.loc[CRITERIA["key"] == key, "unit"].iloc[0]}
        row["ATOXDSCL" if direction == "L" else "ATOXDSCH"] = key
        row["ANRLO" if direction == "L" else "ANRHI"] = limit
        rows.append(row)
    return grade_labs(adlb(rows))


@pytest.mark.parametrize(("case", "expected"), [(i, h[-1]) for i, h in enumerate(HAND)], ids=[h[0] for h in HAND])
def test_hand_checked_ctcae_cases(hand_graded, case, expected):
    assert hand_graded["grade"].iloc[case] == expected, hand_graded.iloc[case][["rule", "thresholds", "reason"]]


# ---------------------------------------------------------------- generated boundary cases
def _refs(key: str) -> dict[str, float]:
    """Typical reference values for a key: limits beyond the absolute thresholds, baseline apart from the ULN."""
    rows = CRITERIA[CRITERIA["key"] == key]
    absolute = rows.loc[rows["ref"] == "abs", "bound"]
    low = rows["direction"].iloc[0] == "low"
    if low:
        lln = float(absolute.max()) * 1.25 if len(absolute) else 2.0
        return {"lln": lln, "uln": lln * 3, "base": lln * 1.3}
    uln = float(absolute.min()) * 0.8 if len(absolute) else 40.0
    return {"lln": uln / 3, "uln": uln, "base": uln * 0.7}


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _oracle(key: str, value: float, refs: dict[str, float]) -> int:
    """A plain reading of the table in exact decimal arithmetic: highest grade any row fires; 0 if none fires
    (all references are given here)."""
    best = 0
    for row in CRITERIA[CRITERIA["key"] == key].itertuples():
        if row.ref == "abs":
            bound = _dec(row.bound)
        else:
            ref = refs["base"] if row.ref == "base" else refs["lln"] if row.ref == "lln" else refs["uln"]
            if row.ref == "uln_or_base" and refs["base"] > refs["uln"]:
                ref = refs["base"]
            bound = _dec(row.bound) * _dec(ref) + _dec(row.offset)
        v = _dec(value)
        fired = {"<": v < bound, "<=": v <= bound, ">": v > bound, ">=": v >= bound}[row.op]
        if fired:
            best = max(best, row.grade)
    return best


def _cases() -> list[tuple[str, str, float, dict[str, float]]]:
    cases = []
    for row in CRITERIA.itertuples():
        refs = _refs(row.key)
        if row.ref == "abs":
            bound = row.bound
        else:
            ref = {"uln": refs["uln"], "lln": refs["lln"], "base": refs["base"], "uln_or_base": refs["uln"]}[row.ref]
            bound = float(_dec(row.bound) * _dec(ref) + _dec(row.offset))
        for where, value in (("at", bound), ("just below", bound * (1 - 1e-9)), ("just above", bound * (1 + 1e-9))):
            cases.append((f"{row.term} G{row.grade} '{row.ctcae_text}' [{row.op} {row.ref}] {where}", row.key, value,
                          refs))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def boundary_graded() -> pd.DataFrame:
    rows = []
    for _, key, value, refs in CASES:
        direction = CRITERIA.loc[CRITERIA["key"] == key, "direction"].iloc[0]
        rows.append({"AVAL": value, "ANRLO": refs["lln"], "ANRHI": refs["uln"], "BASE": refs["base"],
                     "AVALU": CRITERIA.loc[CRITERIA["key"] == key, "unit"].iloc[0],
                     "ATOXDSCL" if direction == "low" else "ATOXDSCH": key})
    return grade_labs(adlb(rows))


def test_boundary_cases_cover_every_rule_three_times():
    assert len(CASES) == 3 * len(CRITERIA) and len(CRITERIA) > 150


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_boundary(boundary_graded, i):
    _, key, value, refs = CASES[i]
    assert boundary_graded["grade"].iloc[i] == _oracle(key, value, refs), boundary_graded.iloc[i][
        ["value_si", "rule", "thresholds", "reason"]]


def test_each_threshold_separates_grades_at_its_boundary():
    """Just past a threshold (in its direction) the row's grade is reached; at the threshold it is not (strict
    ops) or is (inclusive ops, the fibrinogen percent decreases)."""
    for row in CRITERIA.itertuples():
        refs = _refs(row.key)
        ref = {"abs": 1.0, "uln": refs["uln"], "lln": refs["lln"], "base": refs["base"], "uln_or_base": refs["uln"]}
        bound = row.bound if row.ref == "abs" else row.bound * ref[row.ref] + row.offset
        past = bound * (1 + 1e-9) if row.op.startswith(">") else bound * (1 - 1e-9)
        assert _oracle(row.key, past, refs) >= row.grade, row


# ---------------------------------------------------------------- semantics of the interpreter
def test_missing_limit_vs_absolute_bounds_and_grade_zero():
    out = grade_labs(adlb([
        {"ATOXDSCL": "Hypokalemia", "AVAL": 2.7, "AVALU": "mmol/L"},  # no LLN, still G3 by '<3.0 - 2.5 mmol/L'
        {"ATOXDSCL": "Hypokalemia", "AVAL": 3.8, "AVALU": "mmol/L"},  # no LLN: could be G2 or 0 -> NA + reason
        {"ATOXDSCL": "Hypokalemia", "AVAL": 3.8, "AVALU": "mmol/L", "ANRLO": 3.5},  # graded, normal: 0
    ]))
    assert out["grade"].iloc[0] == 3 and out["reason"].iloc[0] == ""
    assert pd.isna(out["grade"].iloc[1]) and out["reason"].iloc[1] == "no LLN to grade Hypokalemia"
    assert out["grade"].iloc[2] == 0 and out["rule"].iloc[2] == "" and out["reason"].iloc[2] == ""


def test_combined_grade_is_the_worse_direction():
    out = grade_labs(adlb([
        {"ATOXDSCL": "Hypocalcemia", "ATOXDSCH": "Hypercalcemia", "AVAL": 1.7, "ANRLO": 2.1, "ANRHI": 2.6,
         "AVALU": "mmol/L"},
        {"ATOXDSCL": "Hypocalcemia", "ATOXDSCH": "Hypercalcemia", "AVAL": 3.2, "ANRLO": 2.1, "ANRHI": 2.6,
         "AVALU": "mmol/L"},
        {"ATOXDSCL": "Hypocalcemia", "ATOXDSCH": "Hypercalcemia", "AVAL": 2.3, "ANRHI": 2.6, "AVALU": "mmol/L"},
    ]))
    assert out[["grade_low", "grade_high", "grade"]].iloc[0].tolist() == [3, 0, 3]
    assert out["term"].iloc[0] == "Hypocalcemia" and out["rule"].iloc[0].startswith("Hypocalcemia G3")
    assert out[["grade_low", "grade_high", "grade"]].iloc[1].tolist() == [0, 3, 3]
    assert out["term"].iloc[1] == "Hypercalcemia"
    # low direction unknown (no LLN) and high normal: the combined grade cannot be 0
    assert pd.isna(out["grade"].iloc[2]) and out["grade_high"].iloc[2] == 0


def test_interpreter_reads_a_new_rule_from_data_only():
    extra = pd.DataFrame([{"key": "Toy increased", "term": "Toy increased", "direction": "high", "grade": 2,
                           "op": ">", "ref": "uln", "bound": 2.0, "offset": 0.0, "unit": "U/L",
                           "ctcae_text": ">2 x ULN", "comment": "test"}])
    rules = LabRules(pd.concat([CRITERIA, extra], ignore_index=True))
    res = rules.grade_direction(np.array([len(rules.keys) - 1] * 2), np.array([81.0, 80.0]), np.full(2, np.nan),
                                np.array([40.0, 40.0]), np.full(2, np.nan))
    assert res["grade"].tolist() == [2, 0]
