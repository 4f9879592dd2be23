"""The lab criteria table and its interpreter: table integrity, hand-checked CTCAE v4.03 cases, generated
boundary cases (at, just below, just above every threshold of every rule) against an exact-decimal reading of the
table, and an oracle typed from the CTCAE v4.03 text (not from the table) that fails when the table is scrambled."""

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
    # beyond admiral: Chronic kidney disease from eGFR (issue 18; its oracle is tests/test_chronic_kidney_disease.py)
    assert set(CRITERIA["term"]) == ADMIRAL_TERMS | {"Chronic kidney disease"}
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


# ---------------------------------------------------------------- CTCAE v4.03 oracle, typed from the CTCAE text
# Independent of ctcae_terms/criteria: every boundary below is typed from the CTCAE v4.03 grade text (as printed in
# ../shared/ctcae/CTCAE_4.03.csv, quoted in each entry) and graded through grade_labs on SDTM LB rows, so a
# scrambled criteria table fails here. Convention (docs/grading.md): "A - B" = lower bound exclusive, upper
# inclusive, so a value exactly on a boundary keeps the milder grade. Values are given in the rule's SI unit.
# Group: (CTCAE term, LBTESTCD, LBSTRESU, LLN, ULN, flagged baseline or None, LBFAST, boundaries); boundary:
# (CTCAE v4.03 text of the grade it opens, boundary value, expected grades (just below, on, just above)).
ORACLE = [
    ("Alanine aminotransferase increased", "ALT", "U/L", 7, 40, None, None, [
        (">ULN - 3.0 x ULN", 40, (0, 0, 1)),
        (">3.0 - 5.0 x ULN", 3.0 * 40, (1, 1, 2)),
        (">5.0 - 20.0 x ULN", 5.0 * 40, (2, 2, 3)),
        (">20.0 x ULN", 20.0 * 40, (3, 3, 4))]),
    ("Aspartate aminotransferase increased", "AST", "U/L", 8, 40, None, None, [
        (">ULN - 3.0 x ULN", 40, (0, 0, 1)),
        (">3.0 - 5.0 x ULN", 3.0 * 40, (1, 1, 2)),
        (">5.0 - 20.0 x ULN", 5.0 * 40, (2, 2, 3)),
        (">20.0 x ULN", 20.0 * 40, (3, 3, 4))]),
    ("Alkaline phosphatase increased", "ALP", "U/L", 40, 120, None, None, [
        (">ULN - 2.5 x ULN", 120, (0, 0, 1)),
        (">2.5 - 5.0 x ULN", 2.5 * 120, (1, 1, 2)),
        (">5.0 - 20.0 x ULN", 5.0 * 120, (2, 2, 3)),
        (">20.0 x ULN", 20.0 * 120, (3, 3, 4))]),
    ("Blood bilirubin increased", "BILI", "umol/L", 3, 20, None, None, [
        (">ULN - 1.5 x ULN", 20, (0, 0, 1)),
        (">1.5 - 3.0 x ULN", 1.5 * 20, (1, 1, 2)),
        (">3.0 - 10.0 x ULN", 3.0 * 20, (2, 2, 3)),
        (">10.0 x ULN", 10.0 * 20, (3, 3, 4))]),
    ("GGT increased", "GGT", "U/L", 8, 60, None, None, [
        (">ULN - 2.5 x ULN", 60, (0, 0, 1)),
        (">2.5 - 5.0 x ULN", 2.5 * 60, (1, 1, 2)),
        (">5.0 - 20.0 x ULN", 5.0 * 60, (2, 2, 3)),
        (">20.0 x ULN", 20.0 * 60, (3, 3, 4))]),
    ("CPK increased", "CK", "U/L", 30, 200, None, None, [
        (">ULN - 2.5 x ULN", 200, (0, 0, 1)),
        (">2.5 x ULN - 5 x ULN", 2.5 * 200, (1, 1, 2)),
        (">5 x ULN - 10 x ULN", 5 * 200, (2, 2, 3)),
        (">10 x ULN", 10 * 200, (3, 3, 4))]),
    ("Lipase increased", "LIPASE", "U/L", 10, 60, None, None, [
        (">ULN - 1.5 x ULN", 60, (0, 0, 1)),
        (">1.5 - 2.0 x ULN", 1.5 * 60, (1, 1, 2)),
        (">2.0 - 5.0 x ULN", 2.0 * 60, (2, 2, 3)),
        (">5.0 x ULN", 5.0 * 60, (3, 3, 4))]),
    ("Serum amylase increased", "AMYLASE", "U/L", 30, 100, None, None, [
        (">ULN - 1.5 x ULN", 100, (0, 0, 1)),
        (">1.5 - 2.0 x ULN", 1.5 * 100, (1, 1, 2)),
        (">2.0 - 5.0 x ULN", 2.0 * 100, (2, 2, 3)),
        (">5.0 x ULN", 5.0 * 100, (3, 3, 4))]),
    ("Activated partial thromboplastin time prolonged", "APTT", "s", 25, 35, None, None, [
        (">ULN - 1.5 x ULN", 35, (0, 0, 1)),
        (">1.5 - 2.5 x ULN", 1.5 * 35, (1, 1, 2)),
        (">2.5 x ULN; hemorrhage (G4 is clinical only)", 2.5 * 35, (2, 2, 3))]),
    # Creatinine increased: the ULN multiples with a baseline far above (no baseline multiple fires) ...
    ("Creatinine increased", "CREAT", "umol/L", 45, 100, 1000, None, [
        (">1 - 1.5 x baseline; >ULN - 1.5 x ULN", 100, (0, 0, 1)),
        (">1.5 - 3.0 x baseline; >1.5 - 3.0 x ULN", 1.5 * 100, (1, 1, 2)),
        (">3.0 baseline; >3.0 - 6.0 x ULN", 3.0 * 100, (2, 2, 3)),
        (">6.0 x ULN", 6.0 * 100, (3, 3, 4))]),
    # ... and the baseline multiples with the ULN far above (no ULN multiple fires); '>3.0 baseline' is NCI's text
    ("Creatinine increased", "CREAT", "umol/L", 45, 1000, 50, None, [
        (">1 - 1.5 x baseline; >ULN - 1.5 x ULN", 50, (0, 0, 1)),
        (">1.5 - 3.0 x baseline; >1.5 - 3.0 x ULN", 1.5 * 50, (1, 1, 2)),
        (">3.0 baseline; >3.0 - 6.0 x ULN", 3.0 * 50, (2, 2, 3))]),
    ("INR increased", "INR", None, 0.8, 1.2, 10, None, [
        (">1 - 1.5 x ULN; >1 - 1.5 times above baseline if on anticoagulation", 1.2, (0, 0, 1)),
        (">1.5 - 2.5 x ULN; >1.5 - 2.5 times above baseline if on anticoagulation", 1.5 * 1.2, (1, 1, 2)),
        (">2.5 x ULN; >2.5 times above baseline if on anticoagulation", 2.5 * 1.2, (2, 2, 3))]),
    ("INR increased", "INR", None, 0.8, 4.0, 1.0, None, [  # anticoagulation assumed (worst case, docs/grading.md)
        (">1 - 1.5 x ULN; >1 - 1.5 times above baseline if on anticoagulation", 1.0, (0, 0, 1)),
        (">1.5 - 2.5 x ULN; >1.5 - 2.5 times above baseline if on anticoagulation", 1.5, (1, 1, 2)),
        (">2.5 x ULN; >2.5 times above baseline if on anticoagulation", 2.5, (2, 2, 3))]),
    # Hemoglobin increased (g/L: 2 gm/dL = 20 g/L): above the ULN when the baseline is not above it ...
    ("Hemoglobin increased", "HGB", "g/L", 120, 160, 140, None, [
        ("Increase in >0 - 2 gm/dL above ULN or above baseline if baseline is above ULN", 160, (0, 0, 1)),
        ("Increase in >2 - 4 gm/dL above ULN or above baseline if baseline is above ULN", 180, (1, 1, 2)),
        ("Increase in >4 gm/dL above ULN or above baseline if baseline is above ULN", 200, (2, 2, 3))]),
    # ... and above the baseline when the baseline is above the ULN
    ("Hemoglobin increased", "HGB", "g/L", 120, 160, 170, None, [
        ("Increase in >0 - 2 gm/dL above ULN or above baseline if baseline is above ULN", 170, (0, 0, 1)),
        ("Increase in >2 - 4 gm/dL above ULN or above baseline if baseline is above ULN", 190, (1, 1, 2)),
        ("Increase in >4 gm/dL above ULN or above baseline if baseline is above ULN", 210, (2, 2, 3))]),
    # Fibrinogen decreased: the LLN fractions with a baseline far below (no decrease from it) ...
    ("Fibrinogen decreased", "FIBRINO", "g/L", 4.0, 8.0, 0.5, None, [
        ("<1.0 - 0.75 x LLN or <25% decrease from baseline", 4.0, (1, 0, 0)),
        ("<0.75 - 0.5 x LLN or 25 - <50% decrease from baseline", 0.75 * 4.0, (2, 1, 1)),
        ("<0.5 - 0.25 x LLN or 50 - <75% decrease from baseline", 0.5 * 4.0, (3, 2, 2)),
        ("<0.25 x LLN or 75% decrease from baseline or absolute value <50 mg/dL", 0.25 * 4.0, (4, 3, 3))]),
    # ... the decreases from baseline ("25 - <50%": a decrease of exactly 25% is already G2) with the LLN far below ...
    ("Fibrinogen decreased", "FIBRINO", "g/L", 0.4, 8.0, 4.0, None, [
        ("<1.0 - 0.75 x LLN or <25% decrease from baseline", 4.0, (1, 0, 0)),
        ("<0.75 - 0.5 x LLN or 25 - <50% decrease from baseline", 3.0, (2, 2, 1)),
        ("<0.5 - 0.25 x LLN or 50 - <75% decrease from baseline", 2.0, (3, 3, 2)),
        ("<0.25 x LLN or 75% decrease from baseline or absolute value <50 mg/dL", 1.0, (4, 4, 3))]),
    # ... and the absolute value (50 mg/dL = 0.5 g/L)
    ("Fibrinogen decreased", "FIBRINO", "g/L", 0.4, 8.0, 0.5, None, [
        ("<0.25 x LLN or 75% decrease from baseline or absolute value <50 mg/dL", 0.5, (4, 0, 0))]),
    ("Anemia", "HGB", "g/L", 120, 160, None, None, [  # G4 is clinical only
        ("Hemoglobin (Hgb) <LLN - 10.0 g/dL; <LLN - 6.2 mmol/L; <LLN - 100 g/L", 120, (1, 0, 0)),
        ("Hgb <10.0 - 8.0 g/dL; <6.2 - 4.9 mmol/L; <100 - 80g/L", 100, (2, 1, 1)),
        ("Hgb <8.0 g/dL; <4.9 mmol/L; <80 g/L; transfusion indicated", 80, (3, 2, 2))]),
    ("CD4 lymphocytes decreased", "CD4", "10^9/L", 0.7, 1.5, None, None, [
        ("<LLN - 500/mm3; <LLN - 0.5 x 10e9 /L", 0.7, (1, 0, 0)),
        ("<500 - 200/mm3; <0.5 - 0.2 x 10e9 /L", 0.5, (2, 1, 1)),
        ("<200 - 50/mm3; <0.2 x 0.05 - 10e9 /L", 0.2, (3, 2, 2)),
        ("<50/mm3; <0.05 x 10e9 /L", 0.05, (4, 3, 3))]),
    ("Lymphocyte count decreased", "LYM", "10^9/L", 1.0, 3.5, None, None, [
        ("<LLN - 800/mm3; <LLN - 0.8 x 10e9/L", 1.0, (1, 0, 0)),
        ("<800 - 500/mm3; <0.8 - 0.5 x 10e9 /L", 0.8, (2, 1, 1)),
        ("<500 - 200/mm3; <0.5 - 0.2 x 10e9 /L", 0.5, (3, 2, 2)),
        ("<200/mm3; <0.2 x 10e9 /L", 0.2, (4, 3, 3))]),
    ("Lymphocyte count increased", "LYM", "10^9/L", 1.0, 3.5, None, None, [
        (">4000/mm3 - 20,000/mm3", 4.0, (0, 0, 2)),
        (">20,000/mm3", 20.0, (2, 2, 3))]),
    ("Neutrophil count decreased", "NEUT", "10^9/L", 2.0, 7.5, None, None, [
        ("<LLN - 1500/mm3; <LLN - 1.5 x 10e9 /L", 2.0, (1, 0, 0)),
        ("<1500 - 1000/mm3; <1.5 - 1.0 x 10e9 /L", 1.5, (2, 1, 1)),
        ("<1000 - 500/mm3; <1.0 - 0.5 x 10e9 /L", 1.0, (3, 2, 2)),
        ("<500/mm3; <0.5 x 10e9 /L", 0.5, (4, 3, 3))]),
    ("Platelet count decreased", "PLAT", "10^9/L", 150, 400, None, None, [
        ("<LLN - 75,000/mm3; <LLN - 75.0 x 10e9 /L", 150, (1, 0, 0)),
        ("<75,000 - 50,000/mm3; <75.0 - 50.0 x 10e9 /L", 75, (2, 1, 1)),
        ("<50,000 - 25,000/mm3; <50.0 - 25.0 x 10e9 /L", 50, (3, 2, 2)),
        ("<25,000/mm3; <25.0 x 10e9 /L", 25, (4, 3, 3))]),
    ("White blood cell decreased", "WBC", "10^9/L", 4.0, 10.0, None, None, [
        ("<LLN - 3000/mm3; <LLN - 3.0 x 10e9 /L", 4.0, (1, 0, 0)),
        ("<3000 - 2000/mm3; <3.0 - 2.0 x 10e9 /L", 3.0, (2, 1, 1)),
        ("<2000 - 1000/mm3; <2.0 - 1.0 x 10e9 /L", 2.0, (3, 2, 2)),
        ("<1000/mm3; <1.0 x 10e9 /L", 1.0, (4, 3, 3))]),
    ("Leukocytosis", "WBC", "10^9/L", 4.0, 10.0, None, None, [  # G3 only; G4 is clinical
        (">100,000/mm3", 100, (0, 0, 3))]),
    ("Haptoglobin decreased", "HAPTOG", "g/L", 0.3, 2.0, None, None, [
        ("<LLN", 0.3, (1, 0, 0))]),
    ("Hypoalbuminemia", "ALB", "g/L", 35, 50, None, None, [  # G4 is clinical only
        ("<LLN - 3 g/dL; <LLN - 30 g/L", 35, (1, 0, 0)),
        ("<3 - 2 g/dL; <30 - 20 g/L", 30, (2, 1, 1)),
        ("<2 g/dL; <20 g/L", 20, (3, 2, 2))]),
    ("Hypoglycemia", "GLUC", "mmol/L", 3.9, 5.6, None, None, [
        ("<LLN - 55 mg/dL; <LLN - 3.0 mmol/L", 3.9, (1, 0, 0)),
        ("<55 - 40 mg/dL; <3.0 - 2.2 mmol/L", 3.0, (2, 1, 1)),
        ("<40 - 30 mg/dL; <2.2 - 1.7 mmol/L", 2.2, (3, 2, 2)),
        ("<30 mg/dL; <1.7 mmol/L; life-threatening consequences; seizures", 1.7, (4, 3, 3))]),
    # Hyperglycemia: G1-2 are defined on fasting glucose only; a non-fasting value reaches G3-4 only
    ("Hyperglycemia", "GLUC", "mmol/L", 3.9, 5.6, None, None, [
        ("Fasting glucose value >ULN - 8.9 mmol/L (non-fasting: no grade)", 5.6, (0, 0, 0)),
        ("Fasting glucose value >8.9 - 13.9 mmol/L (non-fasting: no grade)", 8.9, (0, 0, 0)),
        (">250 - 500 mg/dL; >13.9 - 27.8 mmol/L; hospitalization indicated", 13.9, (0, 0, 3)),
        (">500 mg/dL; >27.8 mmol/L; life-threatening consequences", 27.8, (3, 3, 4))]),
    ("Hyperglycemia", "GLUC", "mmol/L", 3.9, 5.6, None, "Y", [
        ("Fasting glucose value >ULN - 160 mg/dL; Fasting glucose value >ULN - 8.9 mmol/L", 5.6, (0, 0, 1)),
        ("Fasting glucose value >160 - 250 mg/dL; Fasting glucose value >8.9 - 13.9 mmol/L", 8.9, (1, 1, 2)),
        (">250 - 500 mg/dL; >13.9 - 27.8 mmol/L; hospitalization indicated", 13.9, (2, 2, 3)),
        (">500 mg/dL; >27.8 mmol/L; life-threatening consequences", 27.8, (3, 3, 4))]),
    # Hypokalemia: G1 and G2 are both '<LLN - 3.0 mmol/L' (G2 adds 'symptomatic'): the worst case G2
    ("Hypokalemia", "K", "mmol/L", 3.5, 5.1, None, None, [
        ("<LLN - 3.0 mmol/L; symptomatic; intervention indicated", 3.5, (2, 0, 0)),
        ("<3.0 - 2.5 mmol/L; hospitalization indicated", 3.0, (3, 2, 2)),
        ("<2.5 mmol/L; life-threatening consequences", 2.5, (4, 3, 3))]),
    ("Hyperkalemia", "K", "mmol/L", 3.5, 5.1, None, None, [
        (">ULN - 5.5 mmol/L", 5.1, (0, 0, 1)),
        (">5.5 - 6.0 mmol/L", 5.5, (1, 1, 2)),
        (">6.0 - 7.0 mmol/L; hospitalization indicated", 6.0, (2, 2, 3)),
        (">7.0 mmol/L; life-threatening consequences", 7.0, (3, 3, 4))]),
    ("Hyponatremia", "SODIUM", "mmol/L", 135, 145, None, None, [  # no G2
        ("<LLN - 130 mmol/L", 135, (1, 0, 0)),
        ("<130 - 120 mmol/L", 130, (3, 1, 1)),
        ("<120 mmol/L; life-threatening consequences", 120, (4, 3, 3))]),
    ("Hypernatremia", "SODIUM", "mmol/L", 135, 145, None, None, [
        (">ULN - 150 mmol/L", 145, (0, 0, 1)),
        (">150 - 155 mmol/L", 150, (1, 1, 2)),
        (">155 - 160 mmol/L; hospitalization indicated", 155, (2, 2, 3)),
        (">160 mmol/L; life-threatening consequences", 160, (3, 3, 4))]),
    ("Hypomagnesemia", "MG", "mmol/L", 0.7, 1.0, None, None, [
        ("<LLN - 1.2 mg/dL; <LLN - 0.5 mmol/L", 0.7, (1, 0, 0)),
        ("<1.2 - 0.9 mg/dL; <0.5 - 0.4 mmol/L", 0.5, (2, 1, 1)),
        ("<0.9 - 0.7 mg/dL; <0.4 - 0.3 mmol/L", 0.4, (3, 2, 2)),
        ("<0.7 mg/dL; <0.3 mmol/L; life-threatening consequences", 0.3, (4, 3, 3))]),
    ("Hypermagnesemia", "MG", "mmol/L", 0.7, 1.0, None, None, [  # no G2
        (">ULN - 3.0 mg/dL; >ULN - 1.23 mmol/L", 1.0, (0, 0, 1)),
        (">3.0 - 8.0 mg/dL; >1.23 - 3.30 mmol/L", 1.23, (1, 1, 3)),
        (">8.0 mg/dL; >3.30 mmol/L; life-threatening consequences", 3.30, (3, 3, 4))]),
    ("Hypophosphatemia", "PHOS", "mmol/L", 0.9, 1.5, None, None, [
        ("<LLN - 2.5 mg/dL; <LLN - 0.8 mmol/L", 0.9, (1, 0, 0)),
        ("<2.5 - 2.0 mg/dL; <0.8 - 0.6 mmol/L", 0.8, (2, 1, 1)),
        ("<2.0 - 1.0 mg/dL; <0.6 - 0.3 mmol/L", 0.6, (3, 2, 2)),
        ("<1.0 mg/dL; <0.3 mmol/L; life-threatening consequences", 0.3, (4, 3, 3))]),
    # calcium: total calcium (CA) is graded with the corrected-calcium thresholds, ionized calcium (CAION) with its own
    ("Hypocalcemia", "CA", "mmol/L", 2.1, 2.6, None, None, [
        ("Corrected serum calcium of <LLN - 8.0 mg/dL; <LLN - 2.0 mmol/L", 2.1, (1, 0, 0)),
        ("Corrected serum calcium of <8.0 - 7.0 mg/dL; <2.0 - 1.75 mmol/L", 2.0, (2, 1, 1)),
        ("Corrected serum calcium of <7.0 - 6.0 mg/dL; <1.75 - 1.5 mmol/L", 1.75, (3, 2, 2)),
        ("Corrected serum calcium of <6.0 mg/dL; <1.5 mmol/L", 1.5, (4, 3, 3))]),
    ("Hypercalcemia", "CA", "mmol/L", 2.1, 2.6, None, None, [
        ("Corrected serum calcium of >ULN - 11.5 mg/dL; >ULN - 2.9 mmol/L", 2.6, (0, 0, 1)),
        ("Corrected serum calcium of >11.5 - 12.5 mg/dL; >2.9 - 3.1 mmol/L", 2.9, (1, 1, 2)),
        ("Corrected serum calcium of >12.5 - 13.5 mg/dL;>3.1 - 3.4 mmol/L", 3.1, (2, 2, 3)),
        ("Corrected serum calcium of >13.5 mg/dL; >3.4 mmol/L", 3.4, (3, 3, 4))]),
    ("Hypocalcemia", "CAION", "mmol/L", 1.1, 1.3, None, None, [
        ("Ionized calcium <LLN - 1.0 mmol/L", 1.1, (1, 0, 0)),
        ("Ionized calcium <1.0 - 0.9 mmol/L; symptomatic", 1.0, (2, 1, 1)),
        ("Ionized calcium <0.9 - 0.8 mmol/L; hospitalization indicated", 0.9, (3, 2, 2)),
        ("Ionized calcium <0.8 mmol/L; life-threatening consequences", 0.8, (4, 3, 3))]),
    ("Hypercalcemia", "CAION", "mmol/L", 1.1, 1.3, None, None, [
        ("Ionized calcium >ULN - 1.5 mmol/L", 1.3, (0, 0, 1)),
        ("Ionized calcium >1.5 - 1.6 mmol/L; symptomatic", 1.5, (1, 1, 2)),
        ("Ionized calcium >1.6 - 1.8 mmol/L; hospitalization indicated", 1.6, (2, 2, 3)),
        ("Ionized calcium >1.8 mmol/L; life-threatening consequences", 1.8, (3, 3, 4))]),
    ("Acidosis", "PH", None, 7.35, 7.45, None, None, [  # no G2; G4 is clinical only
        ("pH <normal, but >=7.3", 7.35, (1, 0, 0)),
        ("pH <7.3", 7.3, (3, 1, 1))]),
    ("Alkalosis", "PH", None, 7.35, 7.45, None, None, [
        ("pH >normal, but <=7.5", 7.45, (0, 0, 1)),
        ("pH >7.5", 7.5, (1, 1, 3))]),
    # Hypertriglyceridemia G1 '1.71 mmol/L - 3.42 mmol/L' has no '>': read like every range, lower bound exclusive
    # (as admiral does, docs/grading.md); no reference range is needed
    ("Hypertriglyceridemia", "TRIG", "mmol/L", None, None, None, None, [
        ("150 mg/dL - 300 mg/dL; 1.71 mmol/L - 3.42 mmol/L", 1.71, (0, 0, 1)),
        (">300 mg/dL - 500 mg/dL; >3.42 mmol/L - 5.7 mmol/L", 3.42, (1, 1, 2)),
        (">500 mg/dL - 1000 mg/dL; >5.7 mmol/L - 11.4 mmol/L", 5.7, (2, 2, 3)),
        (">1000 mg/dL; >11.4 mmol/L; life-threatening consequences", 11.4, (3, 3, 4))]),
    ("Cholesterol high", "CHOL", "mmol/L", 3.0, 5.2, None, None, [
        (">ULN - 300 mg/dL; >ULN - 7.75 mmol/L", 5.2, (0, 0, 1)),
        (">300 - 400 mg/dL; >7.75 - 10.34 mmol/L", 7.75, (1, 1, 2)),
        (">400 - 500 mg/dL; >10.34 - 12.92 mmol/L", 10.34, (2, 2, 3)),
        (">500 mg/dL; >12.92 mmol/L", 12.92, (3, 3, 4))]),
    # Hyperuricemia: G1 and G3 are both '>ULN - 10 mg/dL (0.59 mmol/L)', told apart by physiologic consequences:
    # the worst case G3
    ("Hyperuricemia", "URATE", "umol/L", 150, 420, None, None, [
        (">ULN - 10 mg/dL (0.59 mmol/L) with physiologic consequences", 420, (0, 0, 3)),
        (">10 mg/dL; >0.59 mmol/L; life-threatening consequences", 590, (3, 3, 4))]),
]
JUST = 1e-6  # "just below / above" = a relative step of 1e-6 from the boundary


def _oracle_cases() -> list[tuple[str, int, str, float, int]]:
    """One case per boundary x (just below, on, just above): (id, group, CTCAE term, value, expected grade)."""
    cases = []
    for g, (term, testcd, _unit, _lln, _uln, base, fast, boundaries) in enumerate(ORACLE):
        context = f"{testcd}" + (f" base {base}" if base is not None else "") + (" fasting" if fast else "")
        for text, bound, expected in boundaries:
            for where, value, grade in zip(("just below", "on", "just above"),
                                           (bound * (1 - JUST), bound, bound * (1 + JUST)), expected, strict=True):
                cases.append((f"{term} '{text}' {where} {bound:g} [{context}] -> G{grade}", g, term, value, grade))
    return cases


ORACLE_CASES = _oracle_cases()


def _oracle_frame() -> pd.DataFrame:
    """SDTM LB rows: one participant per group, its flagged baseline record (LBBLFL = Y) first when it has one."""
    rows = []
    for g, (_term, testcd, unit, lln, uln, base, fast, _boundaries) in enumerate(ORACLE):
        record = {"USUBJID": f"ORACLE-{g:02d}", "LBTESTCD": testcd, "LBSTRESU": unit, "LBSTNRLO": lln,
                  "LBSTNRHI": uln, "LBFAST": fast}
        if base is not None:
            rows.append({**record, "LBSTRESN": base, "LBBLFL": "Y", "LBDTC": "2024-01-01"})
        rows.extend({**record, "LBSTRESN": value, "LBBLFL": None, "LBDTC": "2024-01-10", "case": i}
                    for i, (_, group, _, value, _) in enumerate(ORACLE_CASES) if group == g)
    frame = pd.DataFrame(rows)
    frame["LBSTRESC"] = frame["LBSTRESN"].map(repr)
    return frame


def oracle_failures(criteria: pd.DataFrame | None = None) -> list[str]:
    """Grade the oracle's LB rows (with the engine's table, or ``criteria`` instead) and list every case whose
    grade for its CTCAE term differs from the grade typed above."""
    frame = _oracle_frame()
    out = grade_labs(frame.drop(columns="case"), criteria=criteria)
    failures = []
    for row, i in zip(out.itertuples(), frame["case"], strict=True):
        if pd.isna(i):
            continue  # a baseline record
        case_id, _, term, _, expected = ORACLE_CASES[int(i)]
        side = "low" if row.term_low == term else "high" if row.term_high == term else None
        got = None if side is None else getattr(row, f"grade_{side}")
        if side is None or pd.isna(got) or got != expected:
            failures.append(f"{case_id}: got {got} ({row.term_low}/{row.term_high}; {row.reason or row.rule})")
    return failures


def test_oracle_covers_every_lab_term_with_three_cases_per_boundary():
    assert {group[0] for group in ORACLE} == ADMIRAL_TERMS
    assert len(ORACLE_CASES) == 3 * sum(len(group[-1]) for group in ORACLE) and len(ORACLE_CASES) > 400
    assert len({case[0] for case in ORACLE_CASES}) == len(ORACLE_CASES)  # ids are unique


@pytest.fixture(scope="module")
def oracle_graded() -> dict[str, str]:
    return {failure.split(": got ")[0]: failure for failure in oracle_failures()}


@pytest.mark.parametrize("case", [c[0] for c in ORACLE_CASES])
def test_ctcae_oracle(oracle_graded, case):
    assert case not in oracle_graded, oracle_graded.get(case)


def _scrambled(change) -> pd.DataFrame:
    table = load_lab_criteria()
    change(table)
    return table


def _set(table: pd.DataFrame, key: str, grade: int, column: str, value: object, ref: str | None = None) -> None:
    where = (table["key"] == key) & (table["grade"] == grade)
    if ref is not None:
        where &= table["ref"] == ref
    assert where.sum() == 1
    table.loc[where, column] = value


def _shuffle_bounds(table: pd.DataFrame) -> None:
    rng = np.random.default_rng(4)
    absolute = table.index[table["ref"] == "abs"]
    table.loc[absolute, "bound"] = rng.permutation(table.loc[absolute, "bound"].to_numpy())


SCRAMBLES = {
    "ALT G2 3.0 -> 3.5 x ULN": lambda t: _set(t, "Alanine aminotransferase increased", 2, "bound", 3.5),
    "Hypokalemia G3 '<3.0' read as '<=3.0'": lambda t: _set(t, "Hypokalemia", 3, "op", "<="),
    "Platelets G3 50 -> 40 x 10^9/L": lambda t: _set(t, "Platelet count decreased", 3, "bound", 40.0),
    "Creatinine G2 baseline multiple 1.5 -> 2.0": lambda t: _set(t, "Creatinine increased", 2, "bound", 2.0, "base"),
    "Fibrinogen G2 '25%' decrease read as exclusive": lambda t: _set(t, "Fibrinogen decreased", 2, "op", "<", "base"),
    "Hemoglobin increased G2 offset 20 -> 25 g/L": lambda t: _set(t, "Hemoglobin increased", 2, "offset", 25.0),
    "ionized Hypercalcemia G4 1.8 -> 1.9": lambda t: _set(t, "Hypercalcemia (ionized)", 4, "bound", 1.9),
    "every absolute bound shuffled": _shuffle_bounds,
}


@pytest.mark.parametrize("name", SCRAMBLES)
def test_oracle_catches_a_scrambled_criteria_table(name):
    """The oracle does not read the criteria table: graded with a copy where one threshold is wrong, it fails."""
    failures = oracle_failures(criteria=_scrambled(SCRAMBLES[name]))
    assert failures, f"the oracle did not notice: {name}"


def test_oracle_names_the_cases_a_moved_threshold_breaks():
    failures = oracle_failures(criteria=_scrambled(SCRAMBLES["ALT G2 3.0 -> 3.5 x ULN"]))
    assert [f.split(": got ")[0] for f in failures] == [
        "Alanine aminotransferase increased '>3.0 - 5.0 x ULN' just above 120 [ALT] -> G2"]


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
