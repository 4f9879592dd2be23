"""ORR at week 8 (RECIST 1.1), PFS (Kaplan-Meier) and CAR-T persistence, each headline number computed by hand.

Crafted trial: five participants infused on 2021-03-10 (day 0), P06 never infused.
"""

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from ctcae_engine.analyse.efficacy import (
    best_overall_response,
    cart_samples,
    orr_table,
    persistence_at_target,
    persistence_over_time,
    pfs_curve,
    pfs_data,
    pfs_summary,
    pfs_table,
)
from ctcae_engine.analyse.endpoints import safety_population
from ctcae_engine.read.config import load_config
from ctcae_engine.read.files import read_study

CFG = load_config()


def pfs_of(rs_frame: pd.DataFrame, pop: pd.DataFrame, cfg=None, **options) -> pd.DataFrame:
    """pfs_data under a study configuration's [pfs] section and data cut-off (the demo's by default)."""
    cfg = cfg or CFG
    return pfs_data(rs_frame, pop, cfg.pfs, data_cutoff=cfg.study.data_cutoff, **options)
DAY0 = pd.Timestamp("2021-03-10")


def on(day: int) -> str:
    return (DAY0 + pd.Timedelta(days=day)).strftime("%Y-%m-%d")


@pytest.fixture()
def population() -> pd.DataFrame:
    ids = ["P01", "P02", "P03", "P04", "P05", "P06"]
    return pd.DataFrame({"usubjid": ids, "saffl": [True] * 5 + [False],
                         "infdt": [DAY0] * 5 + [pd.NaT], "ldstdt": [DAY0 - pd.Timedelta(days=5)] * 6,
                         "dthdt": [pd.NaT, pd.NaT, DAY0 + pd.Timedelta(days=23), pd.NaT, pd.NaT, pd.NaT],
                         "reason": [""] * 6})


def rs() -> pd.DataFrame:
    rows = [
        ("P01", 28, "PR"), ("P01", 56, "PR"), ("P01", 144, "PD"),  # PR confirmed 28 days later
        ("P02", 28, "SD"), ("P02", 56, "SD"),  # SD on day 56 (>= 42)
        ("P03", 14, "PD"), ("P03", 56, "CR"),  # after PD nothing counts; died day 23
        ("P04", 56, "PR"), ("P04", 120, "SD"),  # PR never confirmed
        ("P05", 90, "CR"), ("P05", 28, "CHECK"),  # only outside the week-8 window; an invalid value
        ("P06", 28, "CR"),  # not infused
    ]
    frame = pd.DataFrame([(s, on(d), r) for s, d, r in rows], columns=["USUBJID", "RSDTC", "RSSTRESC"])
    frame["RSTESTCD"] = "OVRLRESP"
    frame["RSEVAL"] = "INVESTIGATOR"
    independent = frame.assign(RSEVAL="INDEPENDENT ASSESSOR", RSSTRESC="CR")  # another reader: ignored
    return pd.concat([frame, independent], ignore_index=True)


def confirmation(required: bool):
    return dataclasses.replace(CFG, response=dataclasses.replace(CFG.response, confirmation_required=required))


@pytest.mark.parametrize(
    "required, expected",
    [
        (False, {"P01": "PR", "P02": "SD", "P03": "PD", "P04": "PR", "P05": "NE"}),
        (True, {"P01": "PR", "P02": "SD", "P03": "PD", "P04": "SD", "P05": "NE"}),
    ],
    ids=["RECIST1.1-unconfirmed-allowed", "RECIST1.1-confirmation-at-4-weeks"],
)
def test_best_overall_response_week8(population, required, expected):
    bor = best_overall_response(rs(), population, confirmation(required).response)
    assert bor.set_index("usubjid")["bor"].to_dict() == expected
    assert "no valid response assessment" in bor.set_index("usubjid").loc["P05", "reason"]


def test_sd_before_minimum_duration_is_ne(population):
    early = pd.DataFrame({"USUBJID": ["P01"], "RSDTC": [on(28)], "RSSTRESC": ["SD"], "RSTESTCD": ["OVRLRESP"]})
    bor = best_overall_response(early, population, CFG.response).set_index("usubjid")
    assert bor.loc["P01", "bor"] == "NE"  # RECIST 1.1: SD must be met once at >= the protocol minimum (42 days)


def test_orr_by_hand(population):
    table = orr_table(best_overall_response(rs(), population, CFG.response))[0].set_index("label")
    orr = table.loc["Objective response (CR + PR)"]
    assert (orr["n"], orr["N"], orr["pct"]) == (2, 5, 40.0)  # P01 PR, P04 PR
    # Clopper-Pearson 2/5: beta(0.025; 2, 4) = 0.05274, beta(0.975; 3, 3) = 0.85337
    assert (orr["ci_low"], orr["ci_high"]) == (pytest.approx(5.2745, abs=1e-3), pytest.approx(85.3367, abs=1e-3))


def test_pfs_events_and_censoring(population):
    pfs = pfs_of(rs(), population, CFG).set_index("usubjid")
    assert pfs.loc["P01", ["time_days", "event", "event_type"]].tolist() == [144.0, True, "progression"]
    assert pfs.loc["P03", ["time_days", "event", "event_type"]].tolist() == [14.0, True, "progression"]
    assert pfs.loc["P02", ["time_days", "event", "censor_reason"]].tolist() == [56.0, False,
                                                                                 "last adequate assessment"]
    assert pfs.loc["P05", "time_days"] == 90.0  # CHECK is not an adequate assessment
    assert "P06" not in pfs.index


def test_death_before_progression_is_the_event(population):
    only_sd = pd.DataFrame({"USUBJID": ["P03"], "RSDTC": [on(10)], "RSSTRESC": ["SD"], "RSTESTCD": ["OVRLRESP"]})
    pfs = pfs_of(only_sd, population, CFG).set_index("usubjid")
    assert pfs.loc["P03", ["time_days", "event", "event_type"]].tolist() == [23.0, True, "death"]
    assert pfs.loc["P04", "censor_reason"].startswith("no adequate post-infusion assessment")


def fda_trial() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Schedule weeks 4, 8, 12, 24, 36, 48 (days 28, 56, 84, 168, 252, 336) +/- 7 days; infusion = day 0.
    (response days, death day, new anticancer therapy day) per participant."""
    plan = {
        "A": ([(28, "SD"), (56, "SD"), (252, "PD")], None, None),  # weeks 12 and 24 missed before PD
        "B": ([(28, "SD"), (56, "SD"), (168, "PD")], None, None),  # only week 12 missed
        "C": ([(28, "SD")], 150, None),  # weeks 8 and 12 missed before death
        "D": ([], 20, None),  # death before the first scheduled assessment
        "E": ([], 100, None),  # weeks 4, 8, 12 missed, no assessment at all
        "F": ([(28, "SD"), (56, "NE"), (84, "NE"), (120, "PD")], None, None),  # NE is not an adequate assessment
        "G": ([(30, "SD"), (60, "SD"), (90, "PD")], None, 70),  # new therapy on day 70, PD after it
        "H": ([(28, "SD")], 50, 40),  # new therapy on day 40, death after it
        "I": ([(28, "SD"), (91, "PD")], None, None),  # PD on day 91: inside the week-12 window, one missed
        "J": ([(28, "SD"), (92, "PD")], None, None),  # PD on day 92: weeks 8 and 12 both missed
    }
    rs_rows = [(s, on(d), r) for s, (visits, _, _) in plan.items() for d, r in visits]
    rs_frame = pd.DataFrame(rs_rows, columns=["USUBJID", "RSDTC", "RSSTRESC"]).assign(RSTESTCD="OVRLRESP")
    pop = pd.DataFrame({"usubjid": list(plan), "saffl": True, "infdt": DAY0, "ldstdt": pd.NaT, "reason": ""})
    pop["dthdt"] = [DAY0 + pd.Timedelta(days=d) if d is not None else pd.NaT for _, d, _ in plan.values()]
    nact = pd.DataFrame([(s, on(n)) for s, (_, _, n) in plan.items() if n is not None], columns=["USUBJID", "CMSTDTC"])
    return rs_frame, pop, nact


@pytest.mark.parametrize(
    "usubjid, time_days, event, event_type, reason",
    [
        ("A", 56.0, False, "censored", "progression after 2 missed scheduled assessment(s)"),
        ("B", 168.0, True, "progression", ""),
        ("C", 28.0, False, "censored", "death after 2 missed scheduled assessment(s)"),
        ("D", 20.0, True, "death", ""),
        ("E", 0.0, False, "censored", "death after 3 missed scheduled assessment(s)"),
        ("F", 28.0, False, "censored", "progression after 2 missed scheduled assessment(s)"),
        ("G", 60.0, False, "censored", "new anticancer therapy on day 70"),
        ("H", 28.0, False, "censored", "new anticancer therapy on day 40"),
        ("I", 91.0, True, "progression", ""),
        ("J", 28.0, False, "censored", "progression after 2 missed scheduled assessment(s)"),
    ],
    ids=[
        "FDA2018-progression-after-more-than-one-missed-visit-censored-at-last-assessment",
        "FDA2018-progression-after-one-missed-visit-is-an-event",
        "FDA2018-death-after-more-than-one-missed-visit-censored-at-last-assessment",
        "FDA2018-death-before-first-PD-assessment-is-an-event",
        "FDA2018-no-post-baseline-assessment-death-after-missed-visits-censored-at-day-0",
        "FDA2018-NE-visit-is-not-an-adequate-assessment",
        "FDA2018-new-anticancer-treatment-censored-at-last-assessment-before-it",
        "FDA2018-death-after-new-anticancer-treatment-censored",
        "visit-window-day-91-within-week-12-plus-7",
        "visit-window-day-92-past-week-12-plus-7",
    ],
)
def test_pfs_fda_censoring_rules(usubjid, time_days, event, event_type, reason):
    rs_frame, pop, nact = fda_trial()
    row = pfs_of(rs_frame, pop, CFG, new_therapy=nact).set_index("usubjid").loc[usubjid]
    assert (row["time_days"], row["event"], row["event_type"]) == (time_days, event, event_type)
    assert row["censor_reason"].startswith(reason)


def test_pfs_missed_assessment_rule_is_configurable():
    rs_frame, pop, nact = fda_trial()
    lenient = dataclasses.replace(CFG, pfs=dataclasses.replace(CFG.pfs, max_missed_assessments=2))
    pfs = pfs_of(rs_frame, pop, lenient).set_index("usubjid")
    assert pfs.loc["A", ["time_days", "event"]].tolist() == [252.0, True]  # 2 missed is now tolerated
    assert pfs.loc["E", ["time_days", "event"]].tolist() == [0.0, False]  # 3 missed still censored
    # without new-therapy data G's PD on day 90 is an event (no visit missed: the week-12 window 77..91 holds it)
    assert pfs.loc["G", ["time_days", "event"]].tolist() == [90.0, True]
    off = dataclasses.replace(CFG, pfs=dataclasses.replace(CFG.pfs, assessment_days=()))
    assert pfs_of(rs_frame, pop, off).set_index("usubjid").loc["J", ["time_days", "event"]].tolist() == [92.0, True]
    wide = dataclasses.replace(CFG, pfs=dataclasses.replace(CFG.pfs, assessment_tolerance_days=14))
    assert pfs_of(rs_frame, pop, wide).set_index("usubjid").loc["J", "event"]  # week 12 window now 70..98


def test_pfs_no_baseline_assessment_censored_at_day_0():
    rs_frame, pop, _ = fda_trial()
    baseline = pd.DataFrame({"USUBJID": ["B"], "RSDTC": [on(-7)], "RSSTRESC": [""], "RSTESTCD": ["OVRLRESP"]})
    cfg = dataclasses.replace(CFG, pfs=dataclasses.replace(CFG.pfs, require_baseline_assessment=True))
    pfs = pfs_of(pd.concat([rs_frame, baseline], ignore_index=True), pop, cfg).set_index("usubjid")
    assert pfs.loc["B", ["time_days", "event"]].tolist() == [168.0, True]  # has a baseline record
    assert pfs.loc["A", ["time_days", "event", "censor_reason"]].tolist() == [
        0.0, False, "no baseline tumour assessment: censored at day 0"]


def test_pfs_undated_new_therapy_is_noted_not_used():
    rs_frame, pop, _ = fda_trial()
    nact = pd.DataFrame({"USUBJID": ["B", "D"], "CMSTDTC": ["2021", on(-30)]})  # partial; before infusion
    pfs = pfs_of(rs_frame, pop, CFG, new_therapy=nact).set_index("usubjid")
    assert pfs.loc["B", ["time_days", "event"]].tolist() == [168.0, True]
    assert pfs.loc["B", "note"] == "new anticancer therapy with missing or partial start date not used"
    assert pfs.loc["D", "event"] and pd.isna(pfs.loc["D", "nact_day"])  # prior therapy is not a new one


def adrs(numeric_dates: bool = False) -> pd.DataFrame:
    """The crafted SDTM RS above as an ADaM ADRS: PARAMCD OVR, AVALC, ADT (ISO text or SAS day numbers), ANL01FL,
    with a duplicate non-analysis record and the sponsor's BOR rows (which the OVR route must not read)."""
    sdtm = rs()
    frame = pd.DataFrame({"USUBJID": sdtm["USUBJID"], "PARAMCD": "OVR", "AVALC": sdtm["RSSTRESC"],
                          "ADT": sdtm["RSDTC"], "RSEVAL": sdtm["RSEVAL"], "ANL01FL": "Y"})
    if numeric_dates:
        frame["ADT"] = (pd.to_datetime(frame["ADT"]) - pd.Timestamp("1960-01-01")).dt.days.astype(float)
    extra = frame.iloc[[0]].assign(AVALC="PD", ANL01FL="")  # not flagged for analysis: ignored
    bor = frame.drop_duplicates("USUBJID").assign(PARAMCD="BOR", AVALC="CR")
    return pd.concat([frame, extra, bor], ignore_index=True)


@pytest.mark.parametrize("numeric_dates", [False, True], ids=["ADT-iso-text", "ADT-sas-numeric"])
def test_adrs_ovr_gives_the_same_orr_and_pfs_as_sdtm_rs(population, numeric_dates):
    sdtm_bor = best_overall_response(rs(), population, CFG.response)
    adam_bor = best_overall_response(adrs(numeric_dates), population, CFG.response)
    pd.testing.assert_frame_equal(adam_bor, sdtm_bor)
    assert orr_table(adam_bor)[0].iloc[0][["n", "N"]].tolist() == [2, 5]  # P01 PR, P04 PR (as by hand above)
    pd.testing.assert_frame_equal(pfs_of(adrs(numeric_dates), population, CFG), pfs_of(rs(), population, CFG))


def test_adrs_with_only_bor_is_taken_as_given(population):
    only_bor = adrs().query("PARAMCD == 'BOR'").assign(AVALC=["PR", "SD", "PD", "CR", "NE", "CR"])
    bor = best_overall_response(only_bor, population, CFG.response).set_index("usubjid")
    assert bor["bor"].to_dict() == {"P01": "PR", "P02": "SD", "P03": "PD", "P04": "CR", "P05": "NE"}
    assert bor.loc["P01", "reason"].startswith("BOR as derived in ADRS")
    assert orr_table(bor.reset_index())[0].iloc[0][["n", "N"]].tolist() == [2, 5]
    with pytest.raises(ValueError, match="PFS needs the dated assessments"):
        pfs_of(only_bor, population, CFG)


def test_pfs_kaplan_meier_by_hand():
    pfs = pd.DataFrame({"usubjid": list("ABCDEF"), "time_days": [30, 60, 100, 200, 250, 300],
                        "event": [True, False, True, False, True, False]})
    row = pfs_summary(pfs, CFG.pfs).iloc[0]
    # S(30) = 5/6; S(100) = 5/6 * 3/4 = 0.625 (still at day 183); S(250) = 0.3125 -> median 250
    assert row["median_days"] == 250.0 and row["events"] == 3
    assert row["rate_pct"] == pytest.approx(62.5)
    # exponential Greenwood (log-log) interval at day 183
    greenwood = 1 / (6 * 5) + 1 / (4 * 3)
    se = math.sqrt(greenwood / math.log(0.625) ** 2)
    assert row["rate_ci_low"] == pytest.approx(100 * 0.625 ** math.exp(1.959964 * se), abs=1e-3)
    assert row["rate_ci_high"] == pytest.approx(100 * 0.625 ** math.exp(-1.959964 * se), abs=1e-3)
    curve = pfs_curve(pfs)
    assert curve.set_index("time_days").loc[100.0, "survival"] == pytest.approx(0.625)


def test_pfs_rate_not_estimable_when_follow_up_is_short():
    pfs = pd.DataFrame({"usubjid": list("AB"), "time_days": [30, 60], "event": [True, False]})
    assert math.isnan(pfs_summary(pfs, CFG.pfs).iloc[0]["rate_pct"])


def pc() -> pd.DataFrame:
    rows = [
        ("P01", 180, "1200"), ("P01", 200, "<LLOQ"),  # nearest to day 182: detectable
        ("P02", 170, "BLQ"), ("P02", 190, "500"),  # day 190 is nearer (8 vs 12 days)
        ("P03", 182, "30"),  # below the LLOQ of 50 copies/ug
        ("P04", 120, "900"),  # outside 182 +/- 28
        ("P05", 182, "<LLOQ"),
        ("P01", 7, "25000"), ("P02", 8, "18000"), ("P03", 7, "abc"),
    ]
    frame = pd.DataFrame([(s, on(d), v) for s, d, v in rows], columns=["USUBJID", "PCDTC", "PCORRES"])
    frame["PCTESTCD"] = "CARTDNA"
    return frame


def test_persistence_at_month_6(population):
    table = persistence_at_target(cart_samples(pc(), population, CFG.persistence), population,
                                  CFG.persistence).set_index("label")
    evaluable = table.iloc[0]
    assert (evaluable["n"], evaluable["N"], evaluable["pct"]) == (2, 4, 50.0)  # P01, P02 of P01, P02, P03, P05
    assert table.iloc[1][["n", "N"]].tolist() == [2, 5]


def test_persistence_samples_and_levels_over_time(population):
    samples = cart_samples(pc(), population, CFG.persistence)
    assert samples.loc[samples["usubjid"].eq("P03") & samples["ady"].eq(7), "reason"].item() == "non-numeric result"
    assert not samples.loc[samples["usubjid"].eq("P03") & samples["ady"].eq(182), "detectable"].item()
    levels = persistence_over_time(cart_samples(pc(), population, CFG.persistence),
                                   CFG.persistence).set_index("timepoint_day")
    assert levels.loc[182, ["n", "n_detectable"]].tolist() == [4, 2]
    # 1200, 500, <LLOQ, <LLOQ: the median falls between a sample below the LLOQ and 500 (issue 17: not 250, which
    # counted the samples below the LLOQ as 0); the upper quartile is quantified
    assert levels.loc[182, "median"] == "<LLOQ"
    assert levels.loc[182, "q3"] == pytest.approx(500 + 0.25 * (1200 - 500))
    assert levels.loc[7, ["n", "median"]].tolist() == [2, 21500.0]
    assert 91 not in levels.index  # day 120 is 29 days from day 91: outside the window


DEMO = Path(__file__).resolve().parents[1] / "ctcae_engine" / "demo" / "data"


@pytest.mark.skipif(not (DEMO / "rs.csv").is_file(), reason="demo data not generated")
def test_demo_trial_orr_week8():
    """By hand from rs.csv: week-8 PR in 01001, 01004, 01009, 01013, 01017; PD by week 8 in 01003, 01008, 01014,
    01015, 01016; 01006 has only a week-4 SD (day < 42: NE); the other 9 have SD."""
    study = read_study(DEMO)
    pop = safety_population(study["dm"], study["ex"], CFG.treatment)
    # with confirmation: 01017's week-12 PR is only 24 days after the week-8 PR (< 4 weeks): it counts as SD
    confirmed = best_overall_response(study["rs"], pop, confirmation(True).response)
    assert confirmed["bor"].value_counts().to_dict() == {"SD": 10, "PR": 4, "PD": 5, "NE": 1}
    assert confirmed.set_index("usubjid").loc["ALPP-CART-DEMO-01017", "bor"] == "SD"
    bor = best_overall_response(study["rs"], pop, CFG.response)
    assert bor["bor"].value_counts().to_dict() == {"SD": 9, "PR": 5, "PD": 5, "NE": 1}
    assert bor.set_index("usubjid").loc["ALPP-CART-DEMO-01006", "bor"] == "NE"
    orr = orr_table(bor)[0].iloc[0]
    assert (orr["n"], orr["N"]) == (5, 20)
    pfs = pfs_of(study["rs"], pop, CFG)
    assert len(pfs) == 20 and pfs["time_days"].notna().all()


def _dm_ex(dthdtc: list[str | None], dthfl: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = ["P01", "P02", "P03", "P04", "P05"]
    dm = pd.DataFrame({"USUBJID": ids, "RFXSTDTC": on(0), "DTHDTC": dthdtc, "DTHFL": dthfl})
    ex = pd.DataFrame({"USUBJID": ids, "EXTRT": CFG.treatment.infusion_extrt[0], "EXSTDTC": on(0)})
    return dm, ex


def test_pfs_death_with_partial_date_is_an_event_not_a_censor():
    """DM.DTHDTC '2021-05' (partial): the death is imputed to the earliest day it can mean, not before the
    last known alive date, and stays a PFS event; DTHFL = Y with no date at all is an event too, with a note."""
    dm, ex = _dm_ex([None, "2021-05", on(23), None, None], ["", "Y", "Y", "Y", ""])
    pop = safety_population(dm, ex, CFG.treatment)
    assert pop["dthfl"].tolist() == [False, True, True, True, False]
    assert pop["dthdt"].iloc[1] == pd.Timestamp("2021-05-01") and pop["dthdt_imputed"].iloc[1] == "D"
    assert pop["dthdt_imputed"].iloc[3] == "Y" and "without a death date" in pop["dth_reason"].iloc[3]
    pfs = pfs_of(rs(), pop, CFG).set_index("usubjid")
    # P02: SD day 28 and 56, died 2021-05-01 = day 52 -> death event on day 52
    assert (pfs.at["P02", "event"], pfs.at["P02", "event_type"], pfs.at["P02", "time_days"]) == (True, "death", 52)
    # P04: PR day 56, SD day 120, died on an unknown date -> death event at the last assessment (day 120)
    assert (pfs.at["P04", "event"], pfs.at["P04", "event_type"], pfs.at["P04", "time_days"]) == (True, "death", 120)
    assert "no usable date" in pfs.at["P04", "note"]


def test_partial_death_date_not_before_the_infusion():
    """A death in the infusion month ('2021-03') cannot be before the infusion (2021-03-10): imputed to day 0."""
    dm, ex = _dm_ex(["2021-03", "2021", None, None, None], ["Y", "Y", "", "", ""])
    pop = safety_population(dm, ex, CFG.treatment)
    assert pop["dthdt"].iloc[0] == DAY0 and pop["dthdt_imputed"].iloc[0] == "D"
    assert pop["dthdt"].iloc[1] == DAY0 and pop["dthdt_imputed"].iloc[1] == "M"


def test_pfs_summary_with_no_participant_says_so(population):
    """No infused participant (or none with a PFS time): PFS01 is one row with n = 0 and a note, not an error."""
    pfs = pfs_of(rs(), population.assign(saffl=False), CFG)
    assert pfs.empty
    table = pfs_summary(pfs, CFG.pfs)
    assert (table.at[0, "n"], table.at[0, "events"]) == (0, 0)
    assert math.isnan(table.at[0, "median_days"]) and math.isnan(table.at[0, "rate_pct"])
    shown, fields = pfs_table(pfs, CFG.pfs)
    assert fields["note"] == "No participant with an analysable PFS time." and shown.equals(table)


def test_participants_whose_week_8_window_is_open_at_an_interim_cut_off_are_not_yet_evaluable():
    """At a cut-off 30 days after P05's infusion its day-63 window is still open: not a non-responder but not yet
    evaluable, left out of the ORR denominator with a note. A CR or PD already seen is final and counts."""
    population = pd.DataFrame({"usubjid": ["P01", "P05"], "saffl": True,
                               "infdt": pd.to_datetime(["2021-01-01", "2021-03-01"])})
    rs_frame = pd.DataFrame({"USUBJID": ["P01", "P05"], "RSTESTCD": "OVRLRESP", "RSEVAL": "INVESTIGATOR",
                             "RSSTRESC": ["PR", "SD"], "RSDTC": ["2021-02-26", "2021-03-29"]})
    bor = best_overall_response(rs_frame, population, CFG.response, data_cutoff="2021-03-31").set_index("usubjid")
    assert bor.loc["P05", "bor"] == "NYE" and "closes on 2021-05-03" in bor.loc["P05", "reason"]
    assert bor.loc["P01", "bor"] == "PR"
    table, fields = orr_table(bor.reset_index())
    assert table.iloc[0][["n", "N"]].tolist() == [1, 1]
    assert fields["not_yet_evaluable"].startswith("1 infused participant(s) not yet evaluable")
    final = rs_frame.assign(RSSTRESC=["PR", "PD"])
    assert best_overall_response(final, population, CFG.response, data_cutoff="2021-03-31").loc[1, "bor"] == "PD"
