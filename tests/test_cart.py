"""ASTCT 2019 CRS / ICANS grading (Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638).

Worked examples are derived from the paper's Table 6 (CRS) and Table 8 (ICANS, adults); each case id quotes the
consensus text it checks.
"""

from pathlib import Path

import pandas as pd
import pytest

from ctcae_engine.grade import cart
from ctcae_engine.read.files import read_domain
from ctcae_terms import lookup_term

EXAMPLE = Path(__file__).parent / "data" / "xc_example.csv"
DM = pd.DataFrame({
    "USUBJID": ["ALPP-101-001", "ALPP-101-002", "ALPP-102-003", "ALPP-102-004"],
    "RFXSTDTC": ["2021-03-01T10:00", "2021-04-12", "2021-05-03", "2021-06-07"],
})
UNITS = {"TEMPMAX": "C", "O2FLOW": "L/min"}


def make_xc(*assessments: dict, subject: str = "S1", start: str = "2021-01-01") -> pd.DataFrame:
    """XC rows (docs/ARCHITECTURE.md) for consecutive daily assessments, one dict of test -> result each."""
    rows = []
    for day, tests in enumerate(assessments):
        dtc = (pd.Timestamp(start) + pd.Timedelta(days=day)).strftime("%Y-%m-%d")
        for code, value in tests.items():
            unit = UNITS.get(code, "")
            if isinstance(value, tuple):
                value, unit = value
            rows.append({"USUBJID": subject, "XCDTC": dtc, "XCTESTCD": code, "XCORRES": str(value),
                         "XCORRESU": unit})
    return pd.DataFrame(rows)


def crs_grades(*assessments: dict) -> list:
    return cart.grade_crs(make_xc(*assessments))["grade"].tolist()


def icans_grade(**tests) -> int:
    return int(cart.grade_icans(make_xc(tests))["grade"].iat[0])


NO_ORGAN = {"HYPOTEN": "NONE", "OXYGEN": "NONE"}


@pytest.mark.parametrize(
    ("assessment", "grade"),
    [
        pytest.param({"TEMPMAX": 37.9, **NO_ORGAN}, 0, id="37.9 C is below 'Fever: Temperature >=38C': no CRS"),
        pytest.param({"TEMPMAX": 38.0, **NO_ORGAN}, 1,
                     id="G1: 'Temperature >=38C' at exactly 38.0, no hypotension, no hypoxia"),
        pytest.param({"TEMPMAX": (100.4, "F"), **NO_ORGAN}, 1, id="G1: 100.4 F = 38.0 C"),
        pytest.param({"TEMPMAX": 38.5, "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "NONE"}, 2,
                     id="G2: fever with hypotension 'Not requiring vasopressors'"),
        pytest.param({"TEMPMAX": 38.5, "HYPOTEN": "NONE", "OXYGEN": "LOW_FLOW"}, 2,
                     id="G2: fever with hypoxia 'Requiring low-flow nasal cannula or blow-by'"),
        pytest.param({"TEMPMAX": 38.5, "HYPOTEN": "NONE", "OXYGEN": "LOW_FLOW", "O2FLOW": 6.0}, 2,
                     id="G2: 'low-flow nasal cannula ... <=6 L/min' at exactly 6 L/min"),
        pytest.param({"TEMPMAX": 38.5, "HYPOTEN": "NONE", "OXYGEN": "LOW_FLOW", "O2FLOW": 6.5}, 3,
                     id="G3: 'high-flow nasal cannula ... >6 L/min' at 6.5 L/min (recorded as LOW_FLOW)"),
        pytest.param({"TEMPMAX": 38.5, "HYPOTEN": "NONE", "O2FLOW": 3}, 2,
                     id="G2: O2FLOW 3 L/min alone is low-flow nasal cannula"),
        pytest.param({"TEMPMAX": 38.5, "HYPOTEN": "ONE_VASOPRESSOR", "OXYGEN": "NONE"}, 3,
                     id="G3: 'Requiring a vasopressor with or without vasopressin'"),
        pytest.param({"TEMPMAX": 38.5, "HYPOTEN": "NONE", "OXYGEN": "HIGH_FLOW"}, 3,
                     id="G3: 'Requiring high-flow nasal cannula, facemask, nonrebreather mask, or Venturi mask'"),
        pytest.param({"TEMPMAX": 38.5, "HYPOTEN": "MULTI_VASOPRESSOR", "OXYGEN": "NONE"}, 4,
                     id="G4: 'Requiring multiple vasopressors (excluding vasopressin)'"),
        pytest.param({"TEMPMAX": 38.5, "HYPOTEN": "NONE", "OXYGEN": "POSITIVE_PRESSURE"}, 4,
                     id="G4: 'Requiring positive pressure (eg, CPAP, BiPAP, intubation and mechanical ventilation)'"),
        pytest.param({"TEMPMAX": 39.0, "HYPOTEN": "ONE_VASOPRESSOR", "OXYGEN": "LOW_FLOW"}, 3,
                     id="G3: 'a febrile patient on a single vasopressor and low-flow nasal cannula'"),
        pytest.param({"TEMPMAX": 39.0, "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "POSITIVE_PRESSURE"}, 4,
                     id="G4: grade driven by the more severe of hypotension and hypoxia"),
        pytest.param({"TEMPMAX": 37.2, "HYPOTEN": "MULTI_VASOPRESSOR", "OXYGEN": "POSITIVE_PRESSURE"}, 0,
                     id="no CRS: 'Fever >=38C' is required when no antipyretic/anti-cytokine therapy was given"),
    ],
)
def test_crs_grade_table6(assessment, grade):
    assert crs_grades(assessment) == [grade]


@pytest.mark.parametrize(
    ("assessments", "grades"),
    [
        pytest.param(
            [{"TEMPMAX": 38.8, "FEVMASK": "Y", **NO_ORGAN},
             {"TEMPMAX": 37.1, "FEVMASK": "N", "HYPOTEN": "ONE_VASOPRESSOR", "OXYGEN": "NONE"}],
            [1, 3],
            id="tocilizumab after CRS fever: 'fever is no longer required to grade subsequent CRS severity'",
        ),
        pytest.param(
            [{"TEMPMAX": 38.8, "FEVMASK": "Y", **NO_ORGAN},
             {"TEMPMAX": 37.1, "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "LOW_FLOW"},
             {"TEMPMAX": 36.9, "HYPOTEN": "NONE", "OXYGEN": "POSITIVE_PRESSURE"}],
            [1, 2, 4],
            id="masked fever: 'CRS grading is driven by hypotension and/or hypoxia' for the rest of the episode",
        ),
        pytest.param(
            [{"TEMPMAX": 37.0, "FEVMASK": "Y", "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "NONE"}],
            [0],
            id="premedication before any fever masks nothing: 'patients who have CRS then receive' therapy",
        ),
        pytest.param(
            [{"TEMPMAX": 38.8, "FEVMASK": "Y", **NO_ORGAN},
             {"TEMPMAX": 36.9, **NO_ORGAN},
             {"TEMPMAX": 37.0, "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "NONE"}],
            [1, 0, 0],
            id="waiver ends with the episode: later afebrile hypotension is not CRS",
        ),
        pytest.param(
            [{"TEMPMAX": 38.8, "FEVMASK": "N", **NO_ORGAN},
             {"TEMPMAX": 37.2, "FEVMASK": "N", "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "NONE"},
             {"TEMPMAX": 37.2, "FEVMASK": "Y", "HYPOTEN": "ONE_VASOPRESSOR", "OXYGEN": "NONE"}],
            [1, 0, 3],
            id="no masking therapy yet: afebrile hypotension is not CRS; after therapy it is graded",
        ),
        pytest.param(
            [{"TEMPMAX": 39.0, "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "NONE"},
             {"FEVMASK": "Y"},
             {"TEMPMAX": 37.2, "HYPOTEN": "ONE_VASOPRESSOR", "OXYGEN": "LOW_FLOW"}],
            [2, None, 3],
            id="an assessment recording only FEVMASK does not end the episode: 'fever is no longer required'",
        ),
    ],
)
def test_masked_fever(assessments, grades):
    assert [None if pd.isna(g) else g for g in crs_grades(*assessments)] == grades


def test_missing_temperature_gives_na_with_reason_and_malformed_row_is_listed():
    frame = make_xc({"TEMPMAX": "38,5", "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "NONE"})
    graded = cart.grade_crs(frame)
    assert graded["grade"].isna().all()
    assert graded["reason"].iat[0] == "not understood: TEMPMAX '38,5' is not a number"
    assert "TEMPMAX '38,5' is not a number" in graded["note"].iat[0]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"XCTESTCD": "TEMPMAX", "XCORRES": "38,5", "XCORRESU": "C"}, "TEMPMAX '38,5' is not a number"),
        ({"XCTESTCD": "TEMPMAX", "XCORRES": "385", "XCORRESU": "C"}, "TEMPMAX '385' is implausible (outside 25-45 C)"),
        ({"XCTESTCD": "TEMPMAX", "XCORRES": "38.5", "XCORRESU": "K"}, "TEMPMAX unit 'K' is neither C nor F"),
        ({"XCTESTCD": "ICE", "XCORRES": "11"}, "ICE '11' is not an integer 0-10"),
        ({"XCTESTCD": "ICE", "XCORRES": "7.5"}, "ICE '7.5' is not an integer 0-10"),
        ({"XCTESTCD": "HYPOTEN", "XCORRES": "DOPAMINE"},
         "HYPOTEN 'DOPAMINE' is not understood (neither an XC code nor in the ASTCT vocabulary)"),
        ({"XCTESTCD": "FEVMASK", "XCORRES": "YES"}, "FEVMASK 'YES' is not Y or N"),
        ({"XCTESTCD": "O2FLOW", "XCORRES": "-2", "XCORRESU": "L/min"}, "O2FLOW '-2' is negative"),
        ({"XCTESTCD": "CRP", "XCORRES": "12"}, "XCTESTCD 'CRP' is not a CRS/ICANS test code"),
        ({"XCTESTCD": "LOC", "XCORRES": None}, "LOC result missing"),
        ({"XCTESTCD": "ICE", "XCORRES": "8", "XCDTC": "2021-03"}, "XCDTC '2021-03' is not a full ISO 8601 date"),
    ],
)
def test_check_xc_lists_each_malformed_row_with_its_reason(row, reason):
    frame = pd.DataFrame([{"USUBJID": "S1", "XCDTC": "2021-01-01", "XCORRESU": "", **row}])
    checked = cart.check_xc(frame)
    assert not checked["valid"].iat[0]
    assert checked["reason"].iat[0] == reason


def test_check_xc_requires_the_contract_columns():
    with pytest.raises(ValueError, match="XCTESTCD"):
        cart.check_xc(pd.DataFrame({"USUBJID": ["S1"], "XCDTC": ["2021-01-01"], "XCORRES": ["1"]}))


@pytest.mark.parametrize(
    ("tests", "grade"),
    [
        pytest.param({"ICE": 10}, 0, id="ICE 10: no impairment"),
        pytest.param({"ICE": 9}, 1, id="G1: 'ICE score 7-9' upper bound 9"),
        pytest.param({"ICE": 7}, 1, id="G1: 'ICE score 7-9' lower bound 7"),
        pytest.param({"ICE": 6}, 2, id="G2: 'ICE score 3-6' upper bound 6"),
        pytest.param({"ICE": 3}, 2, id="G2: 'ICE score 3-6' lower bound 3"),
        pytest.param({"ICE": 2}, 3, id="G3: 'ICE score 0-2' upper bound 2"),
        pytest.param({"ICE": 0, "LOC": "NONE"}, 3, id="G3: ICE 0 'if awake with global aphasia'"),
        pytest.param({"ICE": 0, "LOC": "UNAROUSABLE"}, 4,
                     id="G4: ICE 0 '(patient is unarousable and unable to perform ICE)'"),
        pytest.param({"ICE": 10, "LOC": "AWAKENS_VOICE"}, 2, id="G2: depressed consciousness 'Awakens to voice'"),
        pytest.param({"ICE": 10, "LOC": "AWAKENS_TACTILE"}, 3,
                     id="G3: depressed consciousness 'Awakens only to tactile stimulus'"),
        pytest.param({"ICE": 3, "SEIZURE": "RESOLVED"}, 3,
                     id="G3: 'a patient with an ICE score of 3 who has generalized seizure is ... grade 3'"),
        pytest.param({"ICE": 8, "SEIZURE": "PROLONGED"}, 4,
                     id="G4: 'Life-threatening prolonged seizure (>5 min)'"),
        pytest.param({"ICE": 8, "MOTOR": "DEEP_FOCAL_WEAKNESS"}, 4,
                     id="G4: 'Deep focal motor weakness such as hemiparesis or paraparesis'"),
        pytest.param({"ICE": 8, "ICPEDEMA": "FOCAL_EDEMA"}, 3, id="G3: 'Focal/local edema on neuroimaging'"),
        pytest.param({"ICE": 8, "ICPEDEMA": "DIFFUSE_EDEMA"}, 4, id="G4: 'Diffuse cerebral edema on neuroimaging'"),
    ],
)
def test_icans_grade_table8(tests, grade):
    assert icans_grade(**tests) == grade


def test_every_example_row_is_graded_or_listed():
    xc = read_domain(EXAMPLE)
    checked = cart.check_xc(xc)
    assert checked.index.equals(xc.index)
    assert (checked["valid"] | (checked["reason"] != "")).all()
    assert checked.loc[~checked["valid"], "reason"].tolist() == ["TEMPMAX '38,2' is not a number"]


def test_example_crs_episodes():
    xc = read_domain(EXAMPLE)
    before = xc.copy()
    episodes = cart.episodes(cart.grade_crs(xc, DM)).set_index("usubjid")
    pd.testing.assert_frame_equal(xc, before)  # the caller's frame is not mutated
    assert list(episodes.index) == ["ALPP-101-001", "ALPP-101-002", "ALPP-102-004"]  # 003: hypotension, no fever
    s1, s4 = episodes.loc["ALPP-101-001"], episodes.loc["ALPP-102-004"]
    assert (s1["onset_day"], s1["duration_days"], s1["max_grade"]) == (1, 4, 3)
    assert "hypotension ONE_VASOPRESSOR" in s1["drivers"] and "masked" in s1["drivers"]
    assert (s4["onset_day"], s4["end_day"], s4["max_grade"], s4["resolved"]) == (1, 7, 4, True)
    assert episodes.loc["ALPP-101-002", "max_grade"] == 1  # fever only, one reading in F (100.9 F = 38.3 C)


def test_example_icans_episodes():
    episodes = cart.episodes(cart.grade_icans(read_domain(EXAMPLE), DM)).set_index("usubjid")
    assert episodes.loc["ALPP-101-001", "max_grade"] == 2
    assert (episodes.loc["ALPP-102-004", "max_grade"], episodes.loc["ALPP-102-004", "onset_day"]) == (4, 3)


def test_episodes_split_on_a_crs_free_day():
    graded = cart.grade_crs(make_xc({"TEMPMAX": 38.5, **NO_ORGAN}, {"TEMPMAX": 37.0, **NO_ORGAN},
                                    {"TEMPMAX": 38.9, "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "NONE"}))
    episodes = cart.episodes(graded)
    assert episodes["max_grade"].tolist() == [1, 2]
    assert episodes["duration_days"].tolist() == [1, 1]
    # a day graded 0 ends an episode whatever the continuity allowance: it is a recorded CRS-free day
    assert cart.episodes(graded, max_missing_days=3)["max_grade"].tolist() == [1, 2]


def test_crs_vs_ctcae_side_by_side():
    ae = pd.DataFrame({
        "USUBJID": ["ALPP-101-001", "ALPP-102-004", "ALPP-102-004"],
        "AETERM": ["CRS", "cytokine release syndrome", "Hypotension"],
        "AEDECOD": ["Cytokine release syndrome", "Cytokine release syndrome", "Hypotension"],
        "AETOXGR": ["2", "4", "3"],
        "AESTDTC": ["2021-03-02", "2021-06-08", "2021-06-09"],
    })
    table = cart.crs_vs_ctcae(cart.grade_crs(read_domain(EXAMPLE), DM), ae).set_index("usubjid")
    assert table.loc["ALPP-101-001", "astct_grade"] == 3 and table.loc["ALPP-101-001", "ctcae_grade"] == 2
    assert table.loc["ALPP-101-001", "comparison"] == "ASTCT higher"
    # CTCAE v4.03 CRS G2 text, quoted from the packaged catalog
    assert table.loc["ALPP-101-001", "ctcae_text"] == lookup_term("Cytokine release syndrome")["grade_2"]
    assert table.loc["ALPP-101-001", "ctcae_text"].startswith("Therapy or infusion interruption indicated")
    assert table.loc["ALPP-102-004", "comparison"] == "same grade"
    assert table.loc["ALPP-101-002", "comparison"] == "CRS by ASTCT, no CRS AE reported"
    assert table.loc["ALPP-102-003", "comparison"] == "no CRS"
    assert table.loc["ALPP-102-004", "n_crs_ae"] == 1


def test_astct_tables_are_data_with_consensus_text():
    crs = cart.astct_table("crs").set_index(["domain", "value"])
    assert crs.loc[("HYPOTEN", "MULTI_VASOPRESSOR"), "grade"] == 4
    assert "vasopressin" in crs.loc[("HYPOTEN", "ONE_VASOPRESSOR"), "astct_text"]
    icans = cart.astct_table("icans")
    assert sorted(icans.loc[icans["domain"] == "ICE", "value"].astype(int)) == list(range(11))


def test_participant_with_no_gradable_assessment_is_not_reported_as_no_crs():
    xc = make_xc({"HYPOTEN": "NONE", "OXYGEN": "NONE"}, {"HYPOTEN": "NONE"}, subject="S9")
    ae = pd.DataFrame(columns=["USUBJID", "AETERM", "AEDECOD", "AETOXGR", "AESTDTC"])
    row = cart.crs_vs_ctcae(cart.grade_crs(xc), ae).set_index("usubjid").loc["S9"]
    assert pd.isna(row["astct_grade"])
    assert row["comparison"] == "XC present but no assessment gradable (see reasons)"
