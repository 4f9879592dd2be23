"""Treatment-emergent windows as data, times of day, study periods and ADaM flags taken as given (issue 15).

Definitions checked: a treatment-emergent AE starts on or after the first dose and no later than the end of the
window (ADaM IG / admiral's derive_var_trtemfl convention, e.g. "no later than last dose + 30 days"); where the
date and time of both the onset and the first dose are known, an onset before the dose time is not emergent
(ADaM: ASTDTM >= TRTSDTM)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from ctcae_engine.analyse.endpoints import flag_ae, safety_population, window_bounds
from ctcae_engine.read.config import Relationship, Treatment, TreatmentEmergent

DRUG = Treatment(infusion_extrt=("DRUG",), lymphodepletion_extrt=("CYCLOPHOSPHAMIDE",))
REL = Relationship()


def multi_dose():
    """P1: three doses, the last on 2024-03-01; P2: one timed dose 2024-01-10T10:00 after cyclophosphamide."""
    dm = pd.DataFrame({"USUBJID": ["P1", "P2"], "RFXSTDTC": ["2024-01-01", "2024-01-10"]})
    ex = pd.DataFrame({"USUBJID": ["P1", "P1", "P1", "P2", "P2"],
                       "EXTRT": ["DRUG", "DRUG", "DRUG", "CYCLOPHOSPHAMIDE", "DRUG"],
                       "EXSTDTC": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-05", "2024-01-10T10:00"],
                       "EXENDTC": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-05", "2024-01-10T10:30"]})
    return dm, ex


def flags(ae: pd.DataFrame, window: TreatmentEmergent) -> pd.DataFrame:
    dm, ex = multi_dose()
    return flag_ae(ae, safety_population(dm, ex, DRUG), window, REL)


def test_population_carries_last_dose_infusion_time_and_dose_count():
    pop = safety_population(*multi_dose(), DRUG).set_index("usubjid")
    assert pop.loc["P1", ["lastdt", "n_infusions"]].tolist() == [pd.Timestamp("2024-03-01"), 3]
    assert pd.isna(pop.loc["P1", "infdtm"])  # date only: no time to compare
    assert pop.loc["P2", "infdtm"] == pd.Timestamp("2024-01-10 10:00")


def test_window_ends_at_the_earliest_of_day_n_and_last_dose_plus_m():
    pop = safety_population(*multi_dose(), DRUG)
    both = window_bounds(pop, TreatmentEmergent(window_days=365, after_last_dose_days=30))
    assert both.loc["P1", "win_end"] == pd.Timestamp("2024-03-31")  # last dose + 30 comes before day 365
    short = window_bounds(pop, TreatmentEmergent(window_days=10, after_last_dose_days=30))
    assert short.loc["P1", "win_end"] == pd.Timestamp("2024-01-11")  # day 10 comes first
    assert window_bounds(pop, TreatmentEmergent()).loc["P1", "win_end"] == pd.Timestamp("2024-12-31")


@pytest.mark.parametrize(("onset", "emergent"), [
    ("2024-03-31", True),    # last dose + 30 days: the last day of the window
    ("2024-04-01", False),   # + 31 days
    ("2023-12-31", False),   # before the first dose
])
def test_first_dose_to_last_dose_plus_30(onset, emergent):
    ae = pd.DataFrame({"USUBJID": ["P1"], "AEDECOD": ["Nausea"], "AESTDTC": [onset]})
    flagged = flags(ae, TreatmentEmergent(after_last_dose_days=30))
    assert bool(flagged.loc[0, "trtemfl"]) is emergent


@pytest.mark.parametrize(("onset", "emergent", "period"), [
    ("2024-01-10T08:00", False, "lymphodepletion"),  # day 0, two hours before the infusion
    ("2024-01-10T10:00", True, "post-infusion"),     # at the infusion time
    ("2024-01-10", True, "post-infusion"),           # no time: counted (the conservative reading)
    ("2024-01-07", False, "lymphodepletion"),
    ("2024-01-02", False, "before treatment"),
])
def test_time_of_day_and_period_on_day_0(onset, emergent, period):
    ae = pd.DataFrame({"USUBJID": ["P2"], "AEDECOD": ["Nausea"], "AESTDTC": [onset]})
    flagged = flags(ae, TreatmentEmergent())
    assert (bool(flagged.loc[0, "trtemfl"]), flagged.loc[0, "period"]) == (emergent, period)


def test_window_from_lymphodepletion_counts_the_lymphodepletion_period():
    ae = pd.DataFrame({"USUBJID": ["P2"], "AEDECOD": ["Nausea"], "AESTDTC": ["2024-01-07"]})
    flagged = flags(ae, TreatmentEmergent(start="lymphodepletion"))
    assert flagged.loc[0, "trtemfl"] and flagged.loc[0, "period"] == "lymphodepletion"


def test_adam_trtemfl_is_taken_as_given_unless_rederived():
    ae = pd.DataFrame({"USUBJID": ["P1", "P1"], "AEDECOD": ["Nausea", "Fatigue"],
                       "AESTDTC": ["2024-01-05", "2024-06-01"], "TRTEMFL": ["N", "Y"]})
    given = flags(ae, TreatmentEmergent(after_last_dose_days=30))
    assert given["trtemfl"].tolist() == [False, True]  # the sponsor's flags
    assert given["trtemfl_derived"].tolist() == [True, False]  # the window's: both differ, kept side by side
    assert set(given["trtemfl_source"]) == {"TRTEMFL as given"}
    rederived = flags(ae, dataclasses.replace(TreatmentEmergent(after_last_dose_days=30), use_given_flags=False))
    assert rederived["trtemfl"].tolist() == [True, False]


def test_an_undefined_grade_counts_the_same_in_the_overview_and_the_soc_pt_table():
    """CTCAE v4.03 Alopecia has grades 1-2 only; a reported grade 3 is kept (never lowered), listed as invalid,
    and counted as grade >= 3 by both tables."""
    from ctcae_engine.analyse.endpoints import ae_overview
    from ctcae_engine.analyse.safety_tables import ae_soc_pt_table
    from ctcae_engine.grade.ae import validate_ae

    ae = validate_ae(pd.DataFrame({"USUBJID": ["P1", "P2"], "AEDECOD": ["Alopecia", "Nausea"],
                                   "AEBODSYS": ["Skin", "GI"], "AETOXGR": ["3", "1"],
                                   "AESTDTC": ["2024-01-05", "2024-01-12"], "AEREL": ["RELATED", "RELATED"]}))
    assert not ae.loc[0, "valid"] and "grade 3 not defined for Alopecia" in ae.loc[0, "issue"]
    dm, ex = multi_dose()
    population = safety_population(dm, ex, DRUG)
    flagged = flag_ae(ae, population, TreatmentEmergent(), REL)
    overview = ae_overview(flagged, population).set_index("flag")
    soc_pt = ae_soc_pt_table(flagged, population)
    overall = soc_pt[soc_pt["level"].eq("overall")].iloc[0]
    alopecia = soc_pt[soc_pt["term"].eq("Alopecia")].iloc[0]
    assert overview.loc["teae_g3", "n"] == overall["grade_3plus"] == 1
    assert alopecia["grade_3"] == 1


def test_demo_lymphodepletion_period_is_counted_not_lost():
    """The demo's window starts at the infusion: its 65 AEs with onset on days -5..-1 (48 of grade >= 3, 58 still
    ongoing at the infusion) were in no table; AET01_PERIOD counts them and AET04_LD tabulates them."""
    import ctcae_engine as ce

    results = ce.run_study(None)
    periods = results.tables["AET01_PERIOD"].frame.set_index("Period")
    ld = periods.loc["lymphodepletion"]
    assert (ld["AE records"], ld["Grade >= 3 records"], ld["Ongoing at infusion"]) == (65, 48, 58)
    assert ld["Treatment-emergent records"] == 0
    assert periods["AE records"].sum() == len(results.ae)  # every AE record in exactly one period
    soc_pt = results.tables["AET04_LD"].frame
    assert soc_pt.loc[soc_pt["level"].eq("overall"), "any"].item() == ld["Participants"]


def test_repeated_infusion_records_are_listed_when_the_window_counts_from_one_infusion():
    from ctcae_engine.analyse.data_quality import repeated_infusions

    population = safety_population(*multi_dose(), DRUG)
    listed = repeated_infusions(population, TreatmentEmergent())
    assert listed[["Participant", "Infusion records", "Last"]].values.tolist() == [["P1", 3, "2024-03-01"]]
    assert repeated_infusions(population, TreatmentEmergent(after_last_dose_days=30)).empty


def test_sponsor_trtemfl_that_the_window_would_decide_otherwise_is_listed():
    from ctcae_engine.analyse.data_quality import sponsor_emergent_flags

    ae = pd.DataFrame({"USUBJID": ["P1", "P1"], "AEDECOD": ["Nausea", "Fatigue"],
                       "AESTDTC": ["2024-01-05", "2024-06-01"], "TRTEMFL": ["Y", "Y"]})
    listed = sponsor_emergent_flags(flags(ae, TreatmentEmergent(after_last_dose_days=30)))
    assert listed[["Term", "Sponsor TRTEMFL", "Engine (window)", "Period"]].values.tolist() == [
        ["Fatigue", "Y", "N", "after the window"]]


def test_arms_give_column_groups_plus_a_total_and_one_arm_stays_one_table():
    from ctcae_engine.analyse.endpoints import ae_overview, by_arm

    dm, ex = multi_dose()
    dm = dm.assign(ACTARM=["Low dose", "High dose"])
    ae = pd.DataFrame({"USUBJID": ["P1"], "AEDECOD": ["Nausea"], "AESTDTC": ["2024-01-05"], "AEREL": ["RELATED"]})
    population = safety_population(dm, ex, DRUG)
    table = by_arm(flag_ae(ae, population, TreatmentEmergent(), REL), population, ae_overview).set_index("flag")
    assert table.loc["teae", ["Low dose: n", "Low dose: N", "High dose: n", "Total: n", "Total: N"]].tolist() == [
        1, 1, 0, 1, 2]
    single = safety_population(dm.assign(ACTARM="Only"), ex, DRUG)
    flagged = flag_ae(ae, single, TreatmentEmergent(), REL)
    pd.testing.assert_frame_equal(by_arm(flagged, single, ae_overview), ae_overview(flagged, single))
