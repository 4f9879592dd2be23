"""CRS / ICANS inputs as sites collect them: oxygen devices and flows, vasopressors from CM or a listing of drugs,
HYPOTEN Y/N, free-text ICANS findings, XCSTRESC; a value not understood never lowers a grade; episode continuity.

Expected grades are typed from Lee DW et al., ASTCT Consensus Grading for CRS and Neurologic Toxicity, Biol Blood
Marrow Transplant 2019;25:625-638 (Table 6: CRS; Table 8: ICANS, adults); each case quotes the text it checks.
"""

from types import SimpleNamespace

import pandas as pd
import pytest

from ctcae_engine.analyse import endpoints, safety_tables
from ctcae_engine.demo import load_demo
from ctcae_engine.grade import cart, cart_vasopressors, cart_vocab
from ctcae_engine.read.config import ConfigError, config_from_dict, load_config
from ctcae_engine.run import stages

FEVER = {"TEMPMAX": 38.6}
UNITS = {"TEMPMAX": "C", "O2FLOW": "L/min"}


def xc_rows(*assessments: dict, subject: str = "S1", start: str = "2021-01-01") -> pd.DataFrame:
    """XC rows for consecutive daily assessments (None = no assessment that day), one dict of test -> result."""
    rows = []
    for day, tests in enumerate(assessments):
        dtc = (pd.Timestamp(start) + pd.Timedelta(days=day)).strftime("%Y-%m-%d")
        for code, value in (tests or {}).items():
            rows.append({"USUBJID": subject, "XCDTC": dtc, "XCTESTCD": code, "XCORRES": str(value),
                         "XCORRESU": UNITS.get(code, "")})
    return pd.DataFrame(rows)


def crs(*assessments: dict, **kwargs) -> pd.DataFrame:
    return cart.grade_crs(xc_rows(*assessments), **kwargs)


def one_crs_grade(tests: dict, **kwargs):
    grade = crs(tests, **kwargs)["grade"].iat[0]
    return None if pd.isna(grade) else int(grade)


def cm_rows(*records: tuple) -> pd.DataFrame:
    """CM records (drug, start, end[, route[, indication]]) of participant S1."""
    rows = []
    for record in records:
        drug, start, end, route, indication = (*record, None, None)[:5]
        rows.append({"USUBJID": "S1", "CMTRT": drug, "CMDECOD": drug.upper(), "CMSTDTC": start, "CMENDTC": end,
                     "CMROUTE": route, "CMINDC": indication})
    return pd.DataFrame(rows)


# ---- 1. never lower a grade on a value not understood (measured defects)


def test_bipap_is_positive_pressure_grade_4():
    # measured defect: OXYGEN=BIPAP was an unknown code, dropped, and the fever alone gave grade 1
    # Table 6 grade 4: "Requiring positive pressure (eg, CPAP, BiPAP, intubation and mechanical ventilation)"
    assert one_crs_grade({**FEVER, "HYPOTEN": "NONE", "OXYGEN": "BIPAP"}) == 4


def test_hemiparesis_is_icans_grade_4():
    # measured defect: ICE 10 with MOTOR=HEMIPARESIS gave ICANS 0
    # Table 8 grade 4 motor findings: "Deep focal motor weakness such as hemiparesis or paraparesis"
    graded = cart.grade_icans(xc_rows({"ICE": 10, "MOTOR": "HEMIPARESIS"}))
    assert int(graded["grade"].iat[0]) == 4
    assert graded["drivers"].iat[0] == "motor DEEP_FOCAL_WEAKNESS"


def test_an_oxygen_value_not_understood_gives_na_with_the_reason_and_is_listed():
    xc = xc_rows({**FEVER, "HYPOTEN": "NONE", "OXYGEN": "HELMET"})
    graded = cart.grade_crs(xc)
    assert graded["grade"].isna().all()  # not 1 (fever alone): the helmet may be positive pressure
    assert graded["reason"].iat[0] == ("not understood: OXYGEN 'HELMET' is not understood (neither an XC code nor in "
                                       "the ASTCT vocabulary)")
    checked = cart.check_xc(xc)
    assert checked.loc[~checked["valid"], "value"].tolist() == ["HELMET"]


def test_a_value_not_understood_is_ignored_only_when_the_grade_cannot_depend_on_it():
    # "Fever >=38C" is required (no masking therapy): afebrile, CRS is grade 0 whatever the oxygen device
    afebrile = crs({"TEMPMAX": 37.0, "HYPOTEN": "NONE", "OXYGEN": "HELMET"})
    assert int(afebrile["grade"].iat[0]) == 0
    assert "not understood, the grade does not depend on it: OXYGEN 'HELMET'" in afebrile["note"].iat[0]
    # "Requiring multiple vasopressors (excluding vasopressin)" is grade 4, the highest: the device cannot raise it
    assert one_crs_grade({**FEVER, "HYPOTEN": "MULTI_VASOPRESSOR", "OXYGEN": "HELMET"}) == 4
    # ICANS: "unarousable" is grade 4 whatever the motor finding says
    unarousable = cart.grade_icans(xc_rows({"ICE": 0, "LOC": "UNAROUSABLE", "MOTOR": "LEFT ARM WEAK"}))
    assert int(unarousable["grade"].iat[0]) == 4
    # an unreadable temperature always leaves CRS undecided
    assert one_crs_grade({"TEMPMAX": "hot", "HYPOTEN": "NONE", "OXYGEN": "NONE"}) is None


@pytest.mark.parametrize(
    ("tests", "reason"),
    [
        pytest.param({"ICE": 10, "MOTOR": "LEFT ARM WEAK"},
                     "not understood: MOTOR 'LEFT ARM WEAK' is not understood (neither an XC code nor in the ASTCT "
                     "vocabulary)", id="free text outside the vocabulary"),
        pytest.param({"ICE": 11, "LOC": "NONE"}, "not understood: ICE '11' is not an integer 0-10",
                     id="ICE out of range with LOC NONE is not ICANS 0"),
        pytest.param({"ICE": "7.5"}, "not understood: ICE '7.5' is not an integer 0-10", id="only test unusable"),
    ],
)
def test_icans_not_understood_is_na_with_a_reason(tests, reason):
    graded = cart.grade_icans(xc_rows(tests))
    assert pd.isna(graded["grade"].iat[0])
    assert graded["reason"].iat[0] == reason


def test_icans_without_any_usable_domain_has_a_reason():
    xc = xc_rows({"ICE": ""})
    graded = cart.grade_icans(xc)
    assert pd.isna(graded["grade"].iat[0])
    assert graded["reason"].iat[0] == "no ICANS domain recorded: ICE result missing"


def test_a_missing_result_is_not_recorded_rather_than_not_understood():
    # a blank OXYGEN is "not recorded" (noted) as before; the grade uses what was recorded
    graded = crs({**FEVER, "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": ""})
    assert int(graded["grade"].iat[0]) == 2
    assert "OXYGEN not recorded" in graded["note"].iat[0]


# ---- 2. oxygen as collected: device and flow


@pytest.mark.parametrize(
    ("device", "flow", "grade"),
    [
        pytest.param("Nasal cannula", 3, 2, id="G2: 'Requiring low-flow nasal cannula' at 3 L/min"),
        pytest.param("NASAL_CANNULA", 6, 2, id="G2: 'low-flow nasal cannula ... <=6 L/min' at exactly 6"),
        pytest.param("nasal cannula", 8, 3, id="G3: 'high-flow nasal cannula ... >6 L/min': a cannula at 8 L/min"),
        pytest.param("Nasal cannula", None, 2, id="G2: nasal cannula, flow not given"),
        pytest.param("High-flow nasal cannula", 40, 3, id="G3: 'Requiring high-flow nasal cannula'"),
        pytest.param("HFNC", 4, 3, id="G3: a high-flow device is not lowered by a recorded flow"),
        pytest.param("Face mask", 5, 3, id="G3: 'facemask' at 5 L/min is grade 3, not 2"),
        pytest.param("FACEMASK", None, 3, id="G3: 'facemask'"),
        pytest.param("Non-rebreather mask", 15, 3, id="G3: 'nonrebreather mask'"),
        pytest.param("NRB", None, 3, id="G3: nonrebreather (abbreviation)"),
        pytest.param("Venturi mask", 8, 3, id="G3: 'Venturi mask'"),
        pytest.param("Blow-by", None, 2, id="G2: 'low-flow nasal cannula or blow-by'"),
        pytest.param("blow-by", 10, 2, id="G2: 'Low flow also includes blow-by oxygen delivery', whatever the flow"),
        pytest.param("CPAP", None, 4, id="G4: 'positive pressure (eg, CPAP ...)'"),
        pytest.param("BiPAP", None, 4, id="G4: 'positive pressure (eg, ... BiPAP ...)'"),
        pytest.param("Mechanical ventilation", None, 4, id="G4: 'intubation and mechanical ventilation'"),
        pytest.param("Intubated", None, 4, id="G4: 'intubation'"),
        pytest.param("Room air", None, 1, id="G1: fever on room air, no hypoxia"),
    ],
)
def test_oxygen_device_and_flow(device, flow, grade):
    tests = {**FEVER, "HYPOTEN": "NONE", "OXYGEN": device}
    if flow is not None:
        tests["O2FLOW"] = flow
    assert one_crs_grade(tests) == grade


def test_xcstresc_is_read_before_xcorres():
    xc = xc_rows({**FEVER, "HYPOTEN": "NONE", "OXYGEN": "mask, 5L"})
    xc["XCSTRESC"] = xc["XCORRES"].where(xc["XCTESTCD"] != "OXYGEN", "FACEMASK")
    assert int(cart.grade_crs(xc)["grade"].iat[0]) == 3  # Table 6 grade 3: "facemask"
    only_standard = xc.drop(columns=["XCORRES"])
    assert int(cart.grade_crs(only_standard)["grade"].iat[0]) == 3


# ---- 2. vasopressors as given: the counting rule of Table 6


HYPOTENSIVE = {**FEVER, "HYPOTEN": "Y", "OXYGEN": "NONE"}


@pytest.mark.parametrize(
    ("records", "grade"),
    [
        pytest.param([], 2, id="G2: hypotension 'Not requiring vasopressors' (CM records none that day)"),
        pytest.param([("Norepinephrine", "2021-01-01", "2021-01-01")], 3,
                     id="G3: 'Requiring a vasopressor'"),
        pytest.param([("Norepinephrine", "2021-01-01", "2021-01-02"), ("Vasopressin", "2021-01-01", "2021-01-01")], 3,
                     id="G3: 'a vasopressor with or without vasopressin'"),
        pytest.param([("Vasopressin", "2021-01-01", "2021-01-01")], 3, id="G3: vasopressin alone is a vasopressor"),
        pytest.param([("Norepinephrine", "2021-01-01", "2021-01-01"), ("Phenylephrine", "2021-01-01", "2021-01-01")],
                     4, id="G4: 'Requiring multiple vasopressors'"),
        pytest.param([("Noradrenaline", "2020-12-30", "2021-01-03"), ("Adrenaline", "2021-01-01T08:00", "2021-01-01")],
                     4, id="G4: multiple vasopressors, INN names, a record spanning the day"),
        pytest.param([("Norepinephrine", "2021-01-01", "2021-01-01"), ("Norepinephrine", "2021-01-01", "2021-01-01")],
                     3, id="G3: the same vasopressor recorded twice is one vasopressor"),
        pytest.param([("Phenylephrine", "2021-01-01", "2021-01-01", "NASAL")], 2,
                     id="G2: phenylephrine nasal spray is not a vasopressor for hypotension"),
        pytest.param([("Norepinephrine", "2020-12-28", "2020-12-29")], 2, id="G2: a vasopressor on other days"),
        pytest.param([("Tocilizumab", "2021-01-01", "2021-01-01")], 2, id="G2: tocilizumab is not a vasopressor"),
    ],
)
def test_vasopressors_from_cm(records, grade):
    cm = cm_rows(*records) if records else cm_rows(("Paracetamol", "2021-01-01", "2021-01-01"))
    assert one_crs_grade(HYPOTENSIVE, cm=cm) == grade


def test_multiple_vasopressors_excluding_vasopressin():
    # Table 6 grade 4: "Requiring multiple vasopressors (excluding vasopressin)": norepinephrine + vasopressin is not
    # "multiple" (grade 3); norepinephrine + epinephrine + vasopressin is (grade 4)
    one = cm_rows(("Norepinephrine", "2021-01-01", "2021-01-01"), ("Vasopressin", "2021-01-01", "2021-01-01"))
    two = cm_rows(("Norepinephrine", "2021-01-01", "2021-01-01"), ("Epinephrine", "2021-01-01", "2021-01-01"),
                  ("Vasopressin", "2021-01-01", "2021-01-01"))
    assert one_crs_grade(HYPOTENSIVE, cm=one) == 3
    assert one_crs_grade(HYPOTENSIVE, cm=two) == 4


def test_hypotension_y_without_any_vasopressor_record_is_na():
    graded = crs(HYPOTENSIVE)
    assert pd.isna(graded["grade"].iat[0])  # grade 2, 3 or 4: not graded 2
    assert "vasopressor use not recorded" in graded["reason"].iat[0]


def test_vasopressor_in_cm_raises_a_recorded_no_vasopressor():
    cm = cm_rows(("Norepinephrine", "2021-01-01", "2021-01-01", "INTRAVENOUS", "CRS hypotension"))
    graded = crs({**FEVER, "HYPOTEN": "NO_VASOPRESSOR", "OXYGEN": "NONE"}, cm=cm)
    assert int(graded["grade"].iat[0]) == 3  # Table 6 grade 3: "Requiring a vasopressor"
    assert graded["drivers"].iat[0] == ("fever 38.6 C, hypotension ONE_VASOPRESSOR, vasopressors NOREPINEPHRINE, "
                                        "CMINDC CRS hypotension")


def test_vasopressor_without_a_full_start_date_leaves_hypotension_ungraded():
    cm = cm_rows(("Norepinephrine", "2021-01", None))
    graded = crs(HYPOTENSIVE, cm=cm)
    assert pd.isna(graded["grade"].iat[0])
    assert "not placed on a day" in graded["reason"].iat[0]
    checked = cart_vasopressors.check_cm(cm)
    assert checked["reason"].iat[0] == "CMSTDTC '2021-01' is not a full date: vasopressor not placed"
    # a normotensive afebrile assessment is not affected
    assert one_crs_grade({"TEMPMAX": 37.0, "HYPOTEN": "NONE", "OXYGEN": "NONE"}, cm=cm) == 0


@pytest.mark.parametrize(
    ("listed", "grade"),
    [
        pytest.param("NONE", 2, id="G2: 'Not requiring vasopressors'"),
        pytest.param("NOREPINEPHRINE", 3, id="G3: 'Requiring a vasopressor'"),
        pytest.param("Norepinephrine, vasopressin", 3, id="G3: 'with or without vasopressin'"),
        pytest.param("norepinephrine; epinephrine", 4, id="G4: 'multiple vasopressors (excluding vasopressin)'"),
        pytest.param("DOPAMINE + PHENYLEPHRINE + VASOPRESSIN", 4, id="G4: two vasopressors and vasopressin"),
    ],
)
def test_vasopressors_listed_in_xc(listed, grade):
    assert one_crs_grade({**HYPOTENSIVE, "VASOPRES": listed}) == grade


def test_a_listed_drug_not_in_the_map_is_not_understood_until_the_study_maps_it():
    tests = {**HYPOTENSIVE, "VASOPRES": "METARAMINOL"}
    graded = crs(tests)
    assert pd.isna(graded["grade"].iat[0])
    assert graded["reason"].iat[0] == "not understood: VASOPRES drug(s) 'METARAMINOL' not in the vasopressor map"
    assert one_crs_grade(tests, vasopressors={"Metaraminol": "vasopressor"}) == 3


def test_the_study_config_edits_the_drug_map_and_the_episode_gap():
    raw = {"study": {"study_id": "S"}, "treatment": {"infusion_extrt": ["CAR-T"]},
           "cart": {"vasopressors": {"metaraminol": "vasopressor", "dopamine": "not_vasopressor"},
                    "episode_max_missing_days": 2}}
    cfg = config_from_dict(raw)
    assert cfg.cart.vasopressors == {"METARAMINOL": "vasopressor", "DOPAMINE": "not_vasopressor"}
    assert cfg.cart.episode_max_missing_days == 2
    assert load_config().cart.episode_max_missing_days == 1
    classes = cart_vocab.vasopressor_classes(cfg.cart.vasopressors)
    assert classes["METARAMINOL"] == "vasopressor" and "DOPAMINE" not in classes
    with pytest.raises(ConfigError, match=r"cart\.vasopressors\.midodrine: expected one of vasopressor"):
        config_from_dict({**raw, "cart": {"vasopressors": {"midodrine": "pressor"}}})


# ---- 2. free-text ICANS findings


@pytest.mark.parametrize(
    ("tests", "grade"),
    [
        pytest.param({"ICE": 10, "MOTOR": "Paraparesis"}, 4, id="G4: 'hemiparesis or paraparesis'"),
        pytest.param({"ICE": 10, "MOTOR": "Tremor"}, 0,
                     id="tremor: 'may be graded according to CTCAE ... but they do not influence ICANS grading'"),
        pytest.param({"ICE": 8, "MOTOR": "myoclonus"}, 1, id="myoclonus does not count; ICE 8 is 'ICE score 7-9'"),
        pytest.param({"ICE": 10, "LOC": "Awakens to voice"}, 2, id="G2: 'Awakens to voice'"),
        pytest.param({"ICE": 0, "LOC": "Stupor"}, 4, id="G4: 'stupor or coma'"),
        pytest.param({"ICE": 9, "SEIZURE": "Status epilepticus"}, 4, id="G4: 'Life-threatening prolonged seizure'"),
        pytest.param({"ICE": 9, "ICPEDEMA": "Papilledema"}, 4, id="G4: '... papilledema ...'"),
        pytest.param({"ICE": 9, "ICPEDEMA": "Cranial nerve VI palsy"}, 4, id="G4: 'cranial nerve VI palsy'"),
        pytest.param({"ICE": 9, "ICPEDEMA": "Focal edema"}, 3, id="G3: 'Focal/local edema on neuroimaging'"),
    ],
)
def test_icans_free_text(tests, grade):
    assert int(cart.grade_icans(xc_rows(tests))["grade"].iat[0]) == grade


def test_vocabulary_spellings_match_whatever_the_case_and_punctuation():
    codes, _ = cart_vocab.xc_codes(pd.Series(["OXYGEN"] * 4),
                                   pd.Series(["Non-rebreather", "NON REBREATHER", "nonrebreather", "non_rebreather"]))
    assert codes.tolist() == ["HIGH_FLOW"] * 4
    table = cart_vocab.vocabulary()
    assert {"BIPAP", "CPAP", "VENTURI", "BLOW BY"} <= set(table.loc[table["testcd"] == "OXYGEN", "as_collected"])


# ---- 3. episodes and missing days


def test_a_missing_assessment_day_does_not_split_an_episode():
    # grades 1, NA (no temperature), 1: one three-day episode, not two one-day episodes
    graded = crs({**FEVER, "HYPOTEN": "NONE", "OXYGEN": "NONE"}, {"HYPOTEN": "NONE", "OXYGEN": "NONE"},
                 {**FEVER, "HYPOTEN": "NONE", "OXYGEN": "NONE"})
    assert [None if pd.isna(g) else int(g) for g in graded["grade"]] == [1, None, 1]
    episodes = cart.episodes(graded)
    assert episodes[["max_grade", "duration_days"]].values.tolist() == [[1, 3]]
    assert cart.episodes(graded, max_missing_days=0)["duration_days"].tolist() == [1, 1]


def test_a_day_without_any_assessment_is_bridged_up_to_the_allowance():
    day = {**FEVER, "HYPOTEN": "NONE", "OXYGEN": "NONE"}
    one_gap = cart.grade_crs(xc_rows(day, None, day))
    assert cart.episodes(one_gap)["duration_days"].tolist() == [3]
    two_gaps = cart.grade_crs(xc_rows(day, None, None, day))
    assert cart.episodes(two_gaps)["duration_days"].tolist() == [1, 1]
    assert cart.episodes(two_gaps, max_missing_days=2)["duration_days"].tolist() == [4]


def test_demo_median_crs_duration_survives_one_removed_temperature():
    # reproduction: removing the day-2 TEMPMAX of ALPP-CART-DEMO-01007's CRS episode dropped the demo's median CRS
    # duration from 4 to 3 days (the episode split in two); with one missing day bridged it stays 4
    demo, cfg = load_demo(), load_config()
    population = endpoints.safety_population(demo["dm"], demo["ex"], cfg.treatment)
    xc = demo["xc"]
    gone = (xc["USUBJID"].eq("ALPP-CART-DEMO-01007") & xc["XCTESTCD"].eq("TEMPMAX")
            & xc["XCDTC"].str.startswith("2024-07-24"))
    assert gone.sum() == 1

    def median_duration(frame: pd.DataFrame, gap: int) -> float:
        eps = cart.episodes(cart.grade_crs(frame, demo["dm"]), gap).assign(syndrome="CRS")
        timing = safety_tables.crs_icans_timing(eps, population)
        return float(timing.loc[timing["measure"] == "duration (days)", "median"].iat[0])

    assert median_duration(xc, 1) == 4.0
    assert median_duration(xc[~gone], 1) == 4.0
    assert median_duration(xc[~gone], 0) == 3.0  # the old behaviour: every day needed an assessment


def test_the_bridged_day_is_listed_in_the_data_quality_appendix():
    """Issue 14: the day the episode rule bridges (01007's removed day-2 TEMPMAX) is listed in DQ12 with its
    episode, not silently counted; with every assessment present nothing is listed."""
    from ctcae_engine.analyse import data_quality

    demo, cfg = load_demo(), load_config()
    xc = demo["xc"]
    gone = (xc["USUBJID"].eq("ALPP-CART-DEMO-01007") & xc["XCTESTCD"].eq("TEMPMAX")
            & xc["XCDTC"].str.startswith("2024-07-24"))
    assert data_quality.episode_gaps(cart.grade_crs(xc, demo["dm"]), cart.grade_icans(xc, demo["dm"]), cfg).empty
    listed = data_quality.episode_gaps(cart.grade_crs(xc[~gone], demo["dm"]), None, cfg)
    assert listed[["Participant", "Syndrome", "Date", "Episode days"]].values.tolist() == [
        ["ALPP-CART-DEMO-01007", "CRS", "2024-07-24", 4]]
    assert "bridged" in listed["Reason"].iat[0]


def test_the_cart_stage_reads_cm_and_the_config():
    day = {**HYPOTENSIVE}
    xc = xc_rows(day, None, day)
    cm = cm_rows(("Norepinephrine", "2021-01-01", "2021-01-03"), ("Epinephrine", "2021-01-03", "2021-01-03"))
    results = SimpleNamespace(domains={"xc": xc, "cm": cm}, config=load_config(), ae=None, stage_errors=[],
                              unavailable={}, crs=None, icans=None, crs_vs_ae=None, episodes=None)
    stages.cart_toxicity(stages.Runner(results, strict=True))
    assert results.crs["grade"].tolist() == [3, 4]  # one vasopressor, then two (Table 6 grades 3 and 4)
    assert results.crs_episodes[["max_grade", "duration_days"]].values.tolist() == [[4, 3]]


# ---- 4. ctcae-engine grade on an XC file


def test_cli_grade_writes_every_xc_assessment_with_grade_and_drivers(tmp_path):
    from typer.testing import CliRunner

    from ctcae_engine.run.cli import app

    xc = xc_rows({**FEVER, "HYPOTEN": "Y", "OXYGEN": "Face mask", "O2FLOW": 5, "ICE": 10, "MOTOR": "Hemiparesis"},
                 {**FEVER, "HYPOTEN": "Y", "OXYGEN": "NONE", "ICE": 11})
    xc.to_csv(tmp_path / "toxicity.csv", index=False)
    cm_rows(("Norepinephrine", "2021-01-01", "2021-01-01")).to_csv(tmp_path / "cm.csv", index=False)
    out = tmp_path / "graded" / "xc.csv"
    result = CliRunner().invoke(app, ["grade", str(tmp_path / "toxicity.csv"), "--cm", str(tmp_path / "cm.csv"),
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 assessments (CRS and ICANS, ASTCT 2019): 3 graded, 1 with a reason" in result.output
    graded = pd.read_csv(out, dtype=str, keep_default_na=False).set_index(["syndrome", "dtc"])
    day1, day2 = "2021-01-01", "2021-01-02"
    # Table 6 grade 3: "Requiring a vasopressor" (norepinephrine) and "facemask"
    assert graded.loc[("CRS", day1), "grade"] == "3"
    assert graded.loc[("CRS", day1), "drivers"] == ("fever 38.6 C, hypotension ONE_VASOPRESSOR, vasopressors "
                                                    "NOREPINEPHRINE, hypoxia HIGH_FLOW")
    assert graded.loc[("CRS", day2), "grade"] == "2"  # hypotension "Not requiring vasopressors": none in CM that day
    assert graded.loc[("ICANS", day1), "grade"] == "4"  # "hemiparesis"
    assert graded.loc[("ICANS", day2), "grade"] == "" and "ICE '11'" in graded.loc[("ICANS", day2), "reason"]


def test_dq08_lists_a_vasopressor_the_study_maps_as_usable():
    from ctcae_engine.analyse.data_quality import xc_unusable

    xc = xc_rows({**HYPOTENSIVE, "VASOPRES": "METARAMINOL", "OXYGEN": "HELMET"})
    assert set(xc_unusable(xc)["Test"]) == {"VASOPRES", "OXYGEN"}
    raw = {"study": {"study_id": "S"}, "treatment": {"infusion_extrt": ["CAR-T"]},
           "cart": {"vasopressors": {"metaraminol": "vasopressor"}}}
    assert xc_unusable(xc, config_from_dict(raw))["Test"].tolist() == ["OXYGEN"]


def test_unusable_cm_vasopressor_records_are_listed_with_their_reason():
    """Issue 14: CM records the ASTCT hypotension grade cannot use are listed in DQ13, not dropped silently; a
    complete vasopressor record and a drug that is not a vasopressor are not listed."""
    from ctcae_engine.analyse import data_quality

    cm = cm_rows(("Norepinephrine", "2024-03", "2024-03-09"), ("Epinephrine", "2024-03-08", None),
                 ("Phenylephrine", "2024-03-08", "2024-03-08", "OPHTHALMIC"),
                 ("Vasopressin", "2024-03-08", "2024-03-09"), ("Paracetamol", "2024-03", None))
    listed = data_quality.cm_vasopressor_records(cm, load_config())
    assert listed[["Drug", "Counted"]].values.tolist() == [["NOREPINEPHRINE", "no"], ["EPINEPHRINE", "yes"],
                                                           ["PHENYLEPHRINE", "no"]]
    assert "not a full date" in listed["Reason"].iat[0] and "counted on CMSTDTC only" in listed["Reason"].iat[1]
    assert "'2024-03'" in listed["Reason"].iat[0] and listed["Start"].isna().iat[0]
    assert data_quality.cm_vasopressor_records(None, load_config()).empty  # no CM domain: nothing to list
