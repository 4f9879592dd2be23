"""Protocol eligibility screen (NCT04627740 screening labs, thresholds from the study configuration), checked by hand.

Protocol criteria: WBC > 3.5 x 10^9/L, hemoglobin > 90 g/L, platelets > 75 x 10^9/L, ALT and AST <= 5 x ULN,
total bilirubin <= 1.5 x ULN, albumin >= 35 g/L. Each is checked exactly at its limit (a strict ">" fails there,
"<=" / ">=" pass), just either side of it, in the other units the configuration accepts, and when missing.
"""

from pathlib import Path

import pandas as pd
import pytest

from ctcae_engine.analyse.eligibility import eligibility_screen, eligibility_summary
from ctcae_engine.analyse.endpoints import safety_population
from ctcae_engine.read.config import load_config
from ctcae_engine.read.files import read_study

CFG = load_config()
DEMO = Path(__file__).resolve().parents[1] / "ctcae_engine" / "demo" / "data"
WBC, HGB, PLT = "WBC > 3.5 x 10^9/L", "Hemoglobin > 90 g/L", "Platelets > 75 x 10^9/L"
ALT, AST, BILI, ALB = "ALT <= 5 x ULN", "AST <= 5 x ULN", "Total bilirubin <= 1.5 x ULN", "Albumin >= 35 g/L"
TESTCD = {WBC: "WBC", HGB: "HGB", PLT: "PLAT", ALT: "ALT", AST: "AST", BILI: "BILI", ALB: "ALB"}


def screen_one(criterion: str, result: str | None, unit: str, uln: float | None = None) -> pd.Series:
    """The screen's row for one SDTM LB screening record of the criterion's test."""
    lb = pd.DataFrame({"USUBJID": ["S1"], "LBTESTCD": [TESTCD[criterion]], "LBSTRESC": [result],
                       "LBSTRESN": [pd.to_numeric(result, errors="coerce")], "LBSTRESU": [unit],
                       "LBSTNRHI": [uln], "VISIT": ["SCREENING"], "LBDTC": ["2021-02-20"]})
    return eligibility_screen(lb, CFG.eligibility).set_index("criterion").loc[criterion]


@pytest.mark.parametrize(
    "criterion, result, unit, uln, passed",
    [
        (WBC, "3.5", "10^9/L", None, False),
        (WBC, "3.51", "10^9/L", None, True),
        (WBC, "3.5", "10^3/uL", None, False),
        (WBC, "3510", "/uL", None, True),
        (HGB, "90", "g/L", None, False),
        (HGB, "91", "g/L", None, True),
        (HGB, "9.0", "g/dL", None, False),
        (HGB, "9.1", "g/dL", None, True),
        (HGB, "5.58", "mmol/L", None, False),
        (HGB, "5.59", "mmol/L", None, True),
        (PLT, "75", "10^9/L", None, False),
        (PLT, "75.1", "GI/L", None, True),
        (ALT, "200", "U/L", 40.0, True),
        (ALT, "201", "U/L", 40.0, False),
        (AST, "150", "U/L", 30.0, True),
        (AST, "150.5", "U/L", 30.0, False),
        (BILI, "31.5", "umol/L", 21.0, True),
        (BILI, "1.05", "mg/dL", 0.7, True),
        (BILI, "31.6", "umol/L", 21.0, False),
        (ALB, "35", "g/L", None, True),
        (ALB, "3.5", "g/dL", None, True),
        (ALB, "34.9", "g/L", None, False),
        (ALB, "3.49", "g/dL", None, False),
    ],
    ids=[
        "WBC-exactly-3.5e9/L-fails->3.5", "WBC-3.51-passes", "WBC-3.5x10^3/uL-same-unit-fails",
        "WBC-3510/uL=3.51e9/L-passes",
        "Hb-exactly-90g/L-fails->90", "Hb-91g/L-passes", "Hb-9.0g/dL=90g/L-fails", "Hb-9.1g/dL=91g/L-passes",
        "Hb-5.58mmol/L=89.9g/L-fails", "Hb-5.59mmol/L=90.1g/L-passes",
        "PLT-exactly-75e9/L-fails->75", "PLT-75.1-passes",
        "ALT-exactly-5xULN-passes-<=5xULN", "ALT-5.025xULN-fails",
        "AST-exactly-5xULN-passes", "AST-5.02xULN-fails",
        "bilirubin-exactly-1.5xULN-passes", "bilirubin-1.05/0.7mg/dL-exactly-1.5xULN-despite-float-noise",
        "bilirubin-1.505xULN-fails",
        "albumin-exactly-35g/L-passes->=35", "albumin-3.5g/dL=35g/L-passes", "albumin-34.9g/L-fails",
        "albumin-3.49g/dL-fails",
    ],
)
def test_every_criterion_at_its_boundary(criterion, result, unit, uln, passed):
    row = screen_one(criterion, result, unit, uln)
    assert row["passed"] == passed
    assert (row["reason"] == "") == passed
    if not passed:
        assert row["reason"].endswith(f"not {row['threshold']}")


def test_units_are_converted_before_comparing():
    assert screen_one(HGB, "9.0", "g/dL")["value"] == 90.0  # g/dL x 10
    assert screen_one(HGB, "5.59", "mmol/L")["value"] == pytest.approx(5.59 * 16.114)  # Hb monomer 16,114 g/mol
    assert screen_one(ALB, "3.5", "g/dL")["value"] == 35.0
    assert screen_one(ALT, "200", "U/L", 40.0)["value"] == 5.0  # shown as x ULN


@pytest.mark.parametrize(
    "result, unit, uln, criterion, reason",
    [
        (None, "g/L", None, HGB, "not measured"),
        ("", "g/L", None, ALB, "not measured"),
        ("<10", "GI/L", None, PLT, "non-numeric result '<10'"),
        ("4.0", "mg/dL", None, WBC, "unit 'MG/DL' not convertible to 10^9/L"),
        ("100", "g/L", None, HGB, ""),
        ("45", "U/L", None, ALT, "no upper limit of normal to compare with"),
        ("45", "U/L", 0.0, AST, "no upper limit of normal to compare with"),
    ],
    ids=["missing-result-not-measured", "empty-result-not-measured", "non-numeric", "unit-not-convertible",
         "in-range-passes", "no-ULN", "ULN-zero"],
)
def test_unusable_values_fail_with_the_reason(result, unit, uln, criterion, reason):
    row = screen_one(criterion, result, unit, uln)
    assert row["reason"] == reason
    assert row["passed"] == (reason == "")


def screening_lb():
    good = [("WBC", "5.0", "10^9/L", None), ("HGB", "120", "g/L", None), ("PLAT", "200", "GI/L", None),
            ("ALT", "30", "U/L", "40"), ("AST", "30", "U/L", "40"), ("BILI", "10", "umol/L", "21"),
            ("ALB", "40", "g/L", None)]
    rows = [("P01", *g, "SCREENING") for g in good]
    p02 = {"HGB": ("HGB", "8.5", "g/dL", None), "ALT": ("ALT", "210", "U/L", "40"),
           "PLAT": ("PLAT", "<10", "GI/L", None)}
    rows += [("P02", *p02.get(g[0], g), "SCREENING") for g in good if g[0] != "ALB"]
    rows.append(("P02", "WBC", "1.0", "10^9/L", None, "DAY 7"))  # not a screening record
    rows += [("P03", *(("WBC", "3500", "/uL", None) if g[0] == "WBC" else g), "SCREENING") for g in good]
    rows.append(("P05", "BILI", "32", "umol/L", "21", "SCREENING"))  # 1.52 x ULN
    frame = pd.DataFrame(rows, columns=["USUBJID", "LBTESTCD", "LBSTRESC", "LBSTRESU", "LBSTNRHI", "VISIT"])
    frame["LBSTRESN"] = pd.to_numeric(frame["LBSTRESC"], errors="coerce")
    frame["LBDTC"] = "2021-02-20"
    return frame


@pytest.mark.parametrize(
    "usubjid, criterion, passed, reason",
    [
        ("P01", HGB, True, ""),
        ("P02", HGB, False, "85 not > 90 g/L"),  # 8.5 g/dL = 85 g/L
        ("P02", ALT, False, "5.25 not <= 5 x ULN"),  # 210 / 40
        ("P02", ALB, False, "not measured"),
        ("P02", PLT, False, "non-numeric result '<10'"),
        ("P02", WBC, True, ""),  # the day-7 value is not a screening value
        ("P03", WBC, False, "3.5 not > 3.5 10^9/L"),  # 3500 /uL = 3.5 x 10^9/L, by the engine's unit table
        ("P05", BILI, False, "1.524 not <= 1.5 x ULN"),
        ("P04", WBC, False, "not measured"),
    ],
    ids=["Hb>90-pass", "Hb-in-g/dL-fails", "ALT>5xULN", "albumin-missing", "PLT-non-numeric", "screening-visit-only",
         "WBC-in-/uL-converted", "bilirubin>1.5xULN", "no-labs-at-all"],
)
def test_eligibility_screen(usubjid, criterion, passed, reason):
    screen = eligibility_screen(screening_lb(), CFG.eligibility,
                                participants=pd.Series(["P01", "P02", "P03", "P04", "P05"]))
    row = screen.set_index(["usubjid", "criterion"]).loc[(usubjid, criterion)]
    assert (row["passed"], row["reason"]) == (passed, reason)


def test_eligibility_summary():
    screen = eligibility_screen(screening_lb(), CFG.eligibility, participants=pd.Series(["P01", "P02", "P04"]))
    summary = eligibility_summary(screen).set_index("usubjid")
    assert summary["eligible"].to_dict() == {"P01": True, "P02": False, "P04": False}
    assert summary.loc["P02", "n_failed"] == 4 and summary.loc["P04", "n_failed"] == 7
    assert "Albumin >= 35 g/L: not measured" in summary.loc["P02", "failed"]


def test_adam_adlb_and_graded_observations_are_accepted():
    """ADaM ADLB (AVAL, AVALU, ANRHI, AVISIT) and the graded-observations frame (value_si, unit_si, uln_si) give the
    same screen as SDTM LB."""
    lb = screening_lb()
    adlb = pd.DataFrame({"USUBJID": lb["USUBJID"], "PARAMCD": lb["LBTESTCD"], "AVAL": lb["LBSTRESN"],
                         "AVALC": lb["LBSTRESC"], "AVALU": lb["LBSTRESU"], "ANRHI": lb["LBSTNRHI"],
                         "AVISIT": lb["VISIT"], "ADT": lb["LBDTC"]})
    graded = pd.DataFrame({"usubjid": lb["USUBJID"], "testcd": lb["LBTESTCD"], "value_si": lb["LBSTRESN"],
                           "LBSTRESC": lb["LBSTRESC"], "unit_si": lb["LBSTRESU"],
                           "uln_si": pd.to_numeric(lb["LBSTNRHI"]), "VISIT": lb["VISIT"],
                           "adt": pd.to_datetime(lb["LBDTC"]), "baseline": False})
    people = pd.Series(["P01", "P02", "P03", "P05"])
    expected = eligibility_screen(lb, CFG.eligibility, people)
    pd.testing.assert_frame_equal(eligibility_screen(adlb, CFG.eligibility, people), expected)
    pd.testing.assert_frame_equal(eligibility_screen(graded, CFG.eligibility, people), expected)


def test_latest_screening_record_wins_and_input_is_not_mutated():
    lb = pd.concat([screening_lb().query("USUBJID == 'P01'"),
                    pd.DataFrame({"USUBJID": ["P01"], "LBTESTCD": ["WBC"], "LBSTRESC": ["3.0"], "LBSTRESN": [3.0],
                                  "LBSTRESU": ["10^9/L"], "LBSTNRHI": [None], "VISIT": ["SCREENING 2"],
                                  "LBDTC": ["2021-02-27"]})], ignore_index=True)
    before = lb.copy()
    row = eligibility_screen(lb, CFG.eligibility).set_index("criterion").loc[WBC]
    assert (row["value"], row["passed"]) == (3.0, False)  # the repeat screening value a week later decides
    pd.testing.assert_frame_equal(lb, before)


@pytest.mark.skipif(not (DEMO / "lb.csv").is_file(), reason="demo data not generated")
def test_demo_trial_screen_failures_fail_eligibility():
    study = read_study(DEMO)
    pop = safety_population(study["dm"], study["ex"], CFG.treatment)
    summary = eligibility_summary(eligibility_screen(study["lb"], CFG.eligibility, study["dm"]["USUBJID"]))
    not_infused = set(pop.loc[~pop["saffl"], "usubjid"])
    assert set(summary.loc[~summary["eligible"], "usubjid"]) == not_infused


def test_graded_frame_falls_back_to_lbstresn_where_the_grader_left_value_si_empty():
    """Creatinine clearance has no CTCAE v4.03 lab rule, so the grader leaves value_si NaN ('test not mapped'); the
    screen reads LBSTRESN / LBSTRESU / LBSTNRHI as given instead of calling '85' non-numeric."""
    import dataclasses

    from ctcae_engine.read.config import EligibilityCriterion

    crcl = EligibilityCriterion("CrCl >= 60 mL/min", "CRCL", ">=", 60.0, "mL/min", unit_factors={"ML/MIN": 1.0})
    cfg = dataclasses.replace(CFG, eligibility=dataclasses.replace(CFG.eligibility, criteria=(crcl,)))
    graded = pd.DataFrame({"usubjid": ["S1", "S2"], "testcd": ["CRCL", "CRCL"], "value_si": [float("nan")] * 2,
                           "unit_si": [None, None], "uln_si": [float("nan")] * 2, "LBSTRESC": ["85", "45"],
                           "LBSTRESN": [85.0, 45.0], "LBSTRESU": ["mL/min", "mL/min"], "VISIT": ["SCREENING"] * 2,
                           "adt": pd.to_datetime(["2021-02-20"] * 2), "baseline": False,
                           "reason": ["test not mapped"] * 2})
    out = eligibility_screen(graded, cfg.eligibility).set_index("usubjid")
    assert out.loc["S1", ["value", "passed", "reason"]].tolist() == [85.0, True, ""]
    assert out.loc["S2", ["value", "passed", "reason"]].tolist() == [45.0, False, "45 not >= 60 mL/min"]


def test_screening_record_is_chosen_per_participant_and_test():
    """P01 has a SCREENING visit; P02 only a baseline-flagged record; P03 neither (earliest record). One
    participant's screening visit must not turn the others' baseline records into 'not measured'."""
    lb = pd.DataFrame({
        "USUBJID": ["P01", "P01", "P02", "P02", "P03", "P03"], "LBTESTCD": ["WBC"] * 6,
        "LBSTRESC": ["4.0", "2.0", "5.0", "1.0", "6.0", "1.5"], "LBSTRESN": [4.0, 2.0, 5.0, 1.0, 6.0, 1.5],
        "LBSTRESU": ["10^9/L"] * 6, "LBSTNRHI": [None] * 6,
        "VISIT": ["SCREENING", "DAY 1", "BASELINE", "DAY 7", "DAY 1", "DAY 7"],
        "LBBLFL": ["", "", "Y", "", "", ""],
        "LBDTC": ["2021-02-20", "2021-03-11", "2021-03-01", "2021-03-17", "2021-03-01", "2021-03-17"]})
    out = eligibility_screen(lb, CFG.eligibility).query("testcd == 'WBC'").set_index("usubjid")
    assert out.loc[["P01", "P02", "P03"], "value"].tolist() == [4.0, 5.0, 6.0]
    assert out["passed"].all()
