"""Reported AEs vs observation-derived grades (ae.reconcile) on hand-made frames of the documented contracts.

Graded observations follow docs/ARCHITECTURE.md "graded observations"; their grades are the CTCAE v4.03 lab
grades the rule engine gives, e.g. Neutrophil count decreased G4 '<500/mm3; <0.5 x 10e9 /L',
G3 '<1000 - 500/mm3; <1.0 - 0.5 x 10e9 /L', G2 '<1500 - 1000/mm3; <1.5 - 1.0 x 10e9 /L'.
"""

import pandas as pd
import pytest

from ctcae_engine.grade.ae import reconcile, validate_ae

ANC = "Neutrophil count decreased"
PLT = "Platelet count decreased"


def graded(*rows: tuple) -> pd.DataFrame:
    """rows: (usubjid, date, testcd, value, term, grade) -> a frame of the graded-observations contract."""
    frame = pd.DataFrame(rows, columns=["usubjid", "dtc", "testcd", "value_si", "term", "grade"])
    frame["adt"] = pd.to_datetime(frame["dtc"])
    frame["unit_si"] = "10^9/L"
    frame["grade"] = frame["grade"].astype("Int64")
    frame["rule"] = "CTCAE " + frame["term"] + " G" + frame["grade"].astype(str)
    return frame


def aes(*rows: tuple) -> pd.DataFrame:
    """rows: (usubjid, aedecod, aetoxgr, aestdtc, aeendtc) -> validated AEs."""
    frame = pd.DataFrame(rows, columns=["USUBJID", "AEDECOD", "AETOXGR", "AESTDTC", "AEENDTC"])
    return validate_ae(frame)


def test_under_reported_grade_names_the_worst_observation():
    ae = aes(("S1", ANC, "2", "2021-03-05", "2021-03-12"))
    obs = graded(("S1", "2021-03-06", "NEUT", 1.2, ANC, 2), ("S1", "2021-03-08", "NEUT", 0.3, ANC, 4),
                 ("S1", "2021-03-10", "NEUT", 0.4, ANC, 4))
    out = reconcile(ae, obs)
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["type"], row["term"], row["reported_grade"], row["derived_grade"]) == (
        "GRADE_UNDER_REPORTED", ANC, 2, 4)
    assert row["evidence"].startswith("NEUT 2021-03-08: 0.3 10^9/L")  # earliest of the two grade-4 results
    assert row["obs_row"] == 1 and row["ae_row"] == 0 and row["n_obs"] == 3


def test_matching_grade_is_not_a_discrepancy_and_window_days_reach_beyond_the_ae():
    ae = aes(("S1", ANC, "4", "2021-03-05", "2021-03-12"))
    obs = graded(("S1", "2021-03-02", "NEUT", 0.3, ANC, 4),  # 3 days before the start: inside a 3-day window
                 ("S1", "2021-03-16", "NEUT", 0.2, ANC, 4))  # 4 days after the end: outside
    out = reconcile(ae, obs, window_days=3)
    assert out["type"].tolist() == ["MISSING_AE"]
    assert out["obs_first"].iat[0] == pd.Timestamp("2021-03-16")
    assert reconcile(ae, obs, window_days=4).empty


def test_over_reported_grade_but_never_for_grade_5():
    ae = aes(("S1", PLT, "3", "2021-03-05", "2021-03-08"), ("S2", "Anemia", "5", "2021-03-05", "2021-03-05"))
    obs = graded(("S1", "2021-03-07", "PLAT", 80, PLT, 1), ("S2", "2021-03-05", "HGB", 70, "Anemia", 3))
    out = reconcile(ae, obs)
    assert out[["usubjid", "type", "reported_grade", "derived_grade"]].values.tolist() == [
        ["S1", "GRADE_OVER_REPORTED", 3, 1]]


def test_missing_ae_groups_consecutive_results_into_one_row():
    obs = graded(("S1", "2021-03-20", "NEUT", 0.8, ANC, 3), ("S1", "2021-03-22", "NEUT", 0.3, ANC, 4),
                 ("S1", "2021-03-24", "NEUT", 0.9, ANC, 3),
                 ("S1", "2021-05-01", "NEUT", 0.7, ANC, 3),  # weeks later: a second episode, a second row
                 ("S1", "2021-03-21", "NEUT", 1.3, ANC, 2))  # grade 2 is below min_grade 3
    out = reconcile(aes(("S1", "Nausea", "1", "2021-03-01", "2021-03-02")), obs)
    assert out["type"].tolist() == ["MISSING_AE", "MISSING_AE"]
    first = out.iloc[0]
    assert (first["derived_grade"], first["n_obs"], first["obs_first"], first["obs_last"]) == (
        4, 3, pd.Timestamp("2021-03-20"), pd.Timestamp("2021-03-24"))
    assert first["evidence"].startswith("NEUT 2021-03-22: 0.3") and pd.isna(first["ae_row"])
    assert reconcile(aes(("S1", "Nausea", "1", "2021-03-01", None)), obs, min_grade=2)["n_obs"].tolist() == [4, 1]


def test_ae_of_another_participant_does_not_cover():
    obs = graded(("S1", "2021-03-20", "NEUT", 0.3, ANC, 4))
    out = reconcile(aes(("S2", ANC, "4", "2021-03-19", "2021-03-25")), obs)
    assert sorted(out["type"]) == ["MISSING_AE", "NO_OBS_IN_WINDOW"]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param("2021-03", "2021-03-25", [], id="partial start widens to the 1st of the month"),
        pytest.param("2021-03-18", None, [], id="no end date: ongoing, window stays open"),
        pytest.param(None, None, ["AE_DATE_UNUSABLE", "MISSING_AE"], id="no start date: listed, covers nothing"),
        pytest.param("03/18/2021", None, ["AE_DATE_UNUSABLE", "MISSING_AE"], id="non-ISO start: listed"),
    ],
)
def test_ae_dates(start, end, expected):
    obs = graded(("S1", "2021-04-20", "NEUT", 0.3, ANC, 4)) if end is None and start == "2021-03-18" else graded(
        ("S1", "2021-03-20", "NEUT", 0.3, ANC, 4))
    out = reconcile(aes(("S1", ANC, "4", start, end)), obs)
    assert sorted(out["type"]) == expected


def test_both_directions_of_the_contract_are_compared():
    obs = graded(("S1", "2021-03-06", "K", 6.5, "Hyperkalemia", 3))
    obs = obs.assign(term_low="Hypokalemia", grade_low=pd.array([0], dtype="Int64"),
                     term_high="Hyperkalemia", grade_high=pd.array([3], dtype="Int64"))
    out = reconcile(aes(("S1", "Hypokalemia", "2", "2021-03-05", "2021-03-07")), obs)
    assert sorted(out["type"]) == ["GRADE_OVER_REPORTED", "MISSING_AE"]
    assert out.set_index("type").loc["MISSING_AE", "term"] == "Hyperkalemia"


def test_terms_not_graded_from_observations_are_left_alone_and_inputs_kept():
    ae = aes(("S1", "Nausea", "3", "2021-03-05", None))
    obs = graded(("S1", "2021-03-06", "NEUT", 2.0, ANC, 0))
    ae_before, obs_before = ae.copy(), obs.copy()
    out = reconcile(ae, obs)
    assert out.empty and list(out.columns)[:3] == ["type", "usubjid", "term"]
    pd.testing.assert_frame_equal(ae, ae_before)
    pd.testing.assert_frame_equal(obs, obs_before)
    with pytest.raises(ValueError, match="validate_ae"):
        reconcile(pd.DataFrame({"USUBJID": ["S1"]}), obs)


def test_on_the_demo_trial_every_discrepancy_points_at_real_evidence():
    """Realistic data: the demo trial's AE and LB domains, labs graded by the lab engine."""
    from pathlib import Path

    from ctcae_engine.read.files import read_study

    grading = pytest.importorskip("ctcae_engine.grade.findings")
    folder = Path(__file__).resolve().parents[1] / "ctcae_engine" / "demo" / "data"
    if not (folder / "lb.csv").is_file() or not (folder / "ae.csv").is_file():
        pytest.skip("demo data not generated")
    study = read_study(folder)
    labs = grading.grade_labs(study["lb"])
    out = reconcile(validate_ae(study["ae"]), labs)
    assert not out.empty and set(out["type"]) <= {"GRADE_UNDER_REPORTED", "GRADE_NEEDS_CONTEXT", "GRADE_OVER_REPORTED",
                                                  "NO_OBS_IN_WINDOW", "MISSING_AE", "AE_DATE_UNUSABLE"}
    with_obs = out[out["obs_row"].notna()]
    cited = labs.loc[with_obs["obs_row"].astype(int)]
    # the cited observation carries the derived grade for that term, in one of its two directions
    same = ((cited["term_low"].to_numpy() == with_obs["term"].to_numpy())
            & (cited["grade_low"].to_numpy() == with_obs["derived_grade"].to_numpy()))
    same |= ((cited["term_high"].to_numpy() == with_obs["term"].to_numpy())
             & (cited["grade_high"].to_numpy() == with_obs["derived_grade"].to_numpy()))
    assert same.all()
    assert (out.loc[out["type"] == "MISSING_AE", "derived_grade"] >= 3).all()
    assert with_obs["evidence"].str.len().gt(0).all()


def test_worst_case_grade_is_for_review_not_under_reported():
    """v4.03 Hypokalemia G1 '<LLN - 3.0 mmol/L' and G2 '<LLN - 3.0 mmol/L; symptomatic; intervention indicated'
    share the value range: the engine's worst-case G2 does not make a reported G1 under-reported, but
    G3 '<3.0 - 2.5 mmol/L; hospitalization indicated' is set by the value and does."""
    ae = aes(("S1", "Hypokalemia", "1", "2021-03-05", "2021-03-09"), ("S2", "Hypokalemia", "1", "2021-03-05",
                                                                       "2021-03-09"))
    obs = graded(("S1", "2021-03-06", "K", 3.3, "Hypokalemia", 2), ("S2", "2021-03-06", "K", 2.8, "Hypokalemia", 3),
                 ("S3", "2021-03-06", "K", 3.3, "Hypokalemia", 2))
    out = reconcile(ae, obs, min_grade=2).set_index("usubjid")
    assert out.loc["S1", "type"] == "GRADE_NEEDS_CONTEXT"
    assert out.loc["S2", "type"] == "GRADE_UNDER_REPORTED"
    assert "S3" not in out.index  # a worst-case G2 alone does not reach min_grade 2 by its value: no MISSING_AE


def test_duplicate_index_labels_are_kept_apart():
    """Graded observations concatenated from two sources repeat index labels: reconcile must neither crash nor
    merge distinct observations that share a label (CTCAE v4.03 Neutrophil count decreased G4: <500/mm3)."""
    ae = aes(("S1", ANC, "2", "2021-03-05", "2021-03-12"), ("S2", ANC, "4", "2021-03-05", "2021-03-12"))
    ae.index = [0, 0]
    first = graded(("S1", "2021-03-06", "NEUT", 1.2, ANC, 2))
    second = graded(("S1", "2021-03-08", "NEUT", 0.3, ANC, 4), ("S2", "2021-03-08", "NEUT", 0.3, ANC, 4))
    obs = pd.concat([first, second])  # labels 0, 0, 1
    out = reconcile(ae, obs)
    assert out["type"].tolist() == ["GRADE_UNDER_REPORTED"]
    row = out.iloc[0]
    assert (row["usubjid"], row["derived_grade"], row["ae_row"], row["obs_row"]) == ("S1", 4, 0, 0)
    assert row["evidence"].startswith("NEUT 2021-03-08: 0.3 10^9/L")  # the second label-0 row, not the first


def test_one_stacking_of_graded_observations_for_reconcile_and_lab_tables():
    from ctcae_engine.analyse.safety_tables import _lab_long
    from ctcae_engine.grade.ae import stack_directions

    obs = pd.DataFrame({"usubjid": [" S1", "S2"], "testcd": ["K", "K"], "adt": pd.to_datetime(["2021-03-01"] * 2),
                        "baseline": [True, False], "term_low": ["Hypokalemia", "Hypokalemia"],
                        "grade_low": [0, 3], "term_high": ["Hyperkalemia", ""], "grade_high": [1, pd.NA]},
                       index=[5, 5])
    long = stack_directions(obs)
    assert long[["usubjid", "direction", "term", "obs_pos"]].values.tolist() == [
        ["S1", "low", "Hypokalemia", 0], ["S2", "low", "Hypokalemia", 1], ["S1", "high", "Hyperkalemia", 0]]
    pd.testing.assert_frame_equal(_lab_long(obs), long.drop(columns="obs_pos"))
