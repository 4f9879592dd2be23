"""Treatment-emergent / treatment-related flags, the primary endpoint and the safety tables, checked by hand.

Crafted trial (infusion 2021-03-10 = day 0, lymphodepletion days -5..-2; N = 5 infused, P06 not infused):
  P01  CRS G2 related d1, neutrophil count decreased G4 possibly related d2, nausea G1 not related d10
  P02  only unrelated AEs: fatigue G3 not related, headache G1 unlikely related
  P03  sepsis G5 related, serious, fatal d20; nausea G2 related on day -3 (before infusion: not treatment-emergent)
  P04  anemia G3 probably related, onset "2021-03" (partial, same month as infusion -> imputed to day 0)
  P05  fever G1 with no relationship given (counts as related); anemia G3 related on day 406 (outside 365 days)
  P06  fever G2 related, never infused (not in the safety population)
"""

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from conftest import PEER_ADLB, PHARMAVERSE

from ctcae_engine.analyse.endpoints import (
    ae_overview,
    exact_ci,
    flag_ae,
    participant_ae_flags,
    primary_endpoint,
    safety_population,
)
from ctcae_engine.analyse.safety_tables import (
    ae_soc_pt_table,
    crs_icans_incidence,
    crs_icans_timing,
    graded_from_adlb,
    lab_grade3_table,
    lab_shift_table,
)
from ctcae_engine.read.config import config_from_dict, load_config
from ctcae_engine.read.files import read_study

CFG = load_config()


def flag_ae_under(ae: pd.DataFrame, dm: pd.DataFrame, ex: pd.DataFrame | None, cfg=CFG) -> pd.DataFrame:
    """flag_ae on the safety population of DM/EX, under a study configuration's window and relationship mapping."""
    population = safety_population(dm, ex, cfg.treatment)
    return flag_ae(ae, population, cfg.treatment_emergent, cfg.relationship)


INF = "ANTI-ALPP CAR-T CELLS"
GEN = "General disorders and administration site conditions"


def crafted():
    dm = pd.DataFrame({"USUBJID": ["P01", "P02", "P03", "P04", "P05", "P06"],
                       "RFXSTDTC": ["2021-03-10"] * 5 + [None],
                       "DTHDTC": [None, None, "2021-04-02", None, None, None]})
    ex_rows = []
    for s in dm["USUBJID"]:
        ex_rows.append((s, "CYCLOPHOSPHAMIDE", "2021-03-05"))
        ex_rows += [(s, "FLUDARABINE", f"2021-03-0{d}") for d in (6, 7, 8)]
        if s != "P06":
            ex_rows.append((s, INF, "2021-03-10T09:30"))
    ex = pd.DataFrame(ex_rows, columns=["USUBJID", "EXTRT", "EXSTDTC"])
    ae = pd.DataFrame(
        [
            ("P01", "Cytokine release syndrome", "Immune system disorders", "2", "N", "RELATED", "2021-03-11", None),
            ("P01", "Neutrophil count decreased", "Investigations", "4", "N", "POSSIBLY RELATED", "2021-03-12", None),
            ("P01", "Nausea", "Gastrointestinal disorders", "1", "N", "NOT RELATED", "2021-03-20", None),
            ("P02", "Fatigue", GEN, "3", "N", "NOT RELATED", "2021-03-15", None),
            ("P02", "Headache", "Nervous system disorders", "1", "N", "UNLIKELY RELATED", "2021-03-16", None),
            ("P03", "Sepsis", "Infections and infestations", "5", "Y", "RELATED", "2021-03-30", "Y"),
            ("P03", "Nausea", "Gastrointestinal disorders", "2", "N", "RELATED", "2021-03-07", None),
            ("P04", "Anemia", "Blood and lymphatic system disorders", "3", "N", "PROBABLY RELATED", "2021-03", None),
            ("P05", "Fever", GEN, "1", "N", None, "2021-03-11", None),
            ("P05", "Anemia", "Blood and lymphatic system disorders", "3", "N", "RELATED", "2022-04-20", None),
            ("P06", "Fever", GEN, "2", "N", "RELATED", "2021-03-12", None),
        ],
        columns=["USUBJID", "AEDECOD", "AEBODSYS", "AETOXGR", "AESER", "AEREL", "AESTDTC", "AESDTH"],
    )
    return dm, ex, ae


@pytest.fixture()
def trial():
    dm, ex, ae = crafted()
    pop = safety_population(dm, ex, CFG.treatment)
    return dm, ex, ae, pop, flag_ae_under(ae, dm, ex, CFG)


def test_safety_population_is_the_infused(trial):
    pop = trial[3]
    assert pop.loc[pop["saffl"], "usubjid"].tolist() == ["P01", "P02", "P03", "P04", "P05"]
    assert pop.set_index("usubjid").loc["P06", "reason"] == "no CAR-T infusion record in EX"
    assert (pop.loc[pop["saffl"], "infdt"] == pd.Timestamp("2021-03-10")).all()
    assert pop.set_index("usubjid").loc["P01", "ldstdt"] == pd.Timestamp("2021-03-05")


def test_flag_ae_keeps_rows_and_does_not_mutate(trial):
    _, _, ae, _, flagged = trial
    assert len(flagged) == len(ae) and list(flagged.index) == list(ae.index)
    assert "trtemfl" not in ae.columns
    new = {"astdt", "astdt_imputed", "ady", "trtemfl", "related_cart", "related_ld", "related", "flag_issue"}
    assert new <= set(flagged.columns)


@pytest.mark.parametrize(
    "row, ady, trtemfl, related",
    [
        (0, 1, True, True),  # CRS day 1, RELATED
        (2, 10, True, False),  # NOT RELATED
        (4, 6, True, False),  # UNLIKELY RELATED maps to not related
        (6, -3, False, True),  # onset during lymphodepletion, before infusion: not treatment-emergent
        (7, 0, True, True),  # partial "2021-03" imputed to the infusion date
        (8, 1, True, True),  # relationship missing: counted as related
        (9, 406, False, True),  # beyond the 365-day window
        (10, None, False, True),  # never infused
    ],
    ids=["related-d1", "not-related", "unlikely-related", "before-infusion", "partial-date", "no-relationship",
         "after-365-days", "not-infused"],
)
def test_flags_per_edge_case(trial, row, ady, trtemfl, related):
    flagged = trial[4]
    rec = flagged.loc[row]
    assert (pd.isna(rec["ady"]) if ady is None else rec["ady"] == ady)
    assert rec["trtemfl"] == trtemfl and rec["related"] == related


def test_partial_date_is_flagged_and_unknown_values_are_explained(trial):
    flagged = trial[4]
    assert flagged.loc[7, "astdt_imputed"] == "D"
    assert flagged.loc[7, "flag_issue"].startswith("onset day missing: imputed to 2021-03-")  # said, not silent
    assert "relationship to the study treatment (AEREL) missing: counted as related" in flagged.loc[8, "flag_issue"]
    assert "not in the safety population" in flagged.loc[10, "flag_issue"]
    odd = flagged.copy()
    odd.loc[0, "AEREL"] = "PROBABLE"
    again = flag_ae_under(odd, *trial[:2], CFG)
    assert again.loc[0, "related"] and "not in the mapping" in again.loc[0, "flag_issue"]


def test_window_from_lymphodepletion_makes_day_minus_3_emergent(trial):
    dm, ex, ae = trial[:3]
    cfg = dataclasses.replace(CFG, treatment_emergent=dataclasses.replace(CFG.treatment_emergent,
                                                                          start="lymphodepletion"))
    assert flag_ae_under(ae, dm, ex, cfg).loc[6, "trtemfl"]


def test_primary_endpoint_by_hand(trial):
    pop, flagged = trial[3], trial[4]
    table = primary_endpoint(flagged, pop).set_index("label")
    # TRAE: P01, P03, P04, P05 -> 4/5; grade >= 3: P01 (G4), P03 (G5), P04 (G3) -> 3/5; serious, fatal: P03 -> 1/5
    # by attribution: CAR-T (AEREL) the same 4; lymphodepletion 0 (AERELLD not collected in this trial)
    assert table["n"].tolist() == [4, 3, 1, 1, 4, 0] and (table["N"] == 5).all()
    assert table.loc["Any treatment-related AE", "pct"] == 80.0
    # Clopper-Pearson 4/5: beta(0.025; 4, 2) = 0.28358, beta(0.975; 5, 1) = 0.99495
    assert table.loc["Any treatment-related AE", "ci_low"] == pytest.approx(28.358, abs=1e-3)
    assert table.loc["Any treatment-related AE", "ci_high"] == pytest.approx(99.495, abs=1e-3)


def test_exact_ci_edges():
    assert exact_ci(0, 5)[0] == 0.0 and exact_ci(0, 5)[1] == pytest.approx(1 - 0.025 ** (1 / 5))
    assert exact_ci(5, 5)[1] == 1.0 and exact_ci(5, 5)[0] == pytest.approx(0.025 ** (1 / 5))


def test_overview_aet01_by_hand(trial):
    table = ae_overview(trial[4], trial[3]).set_index("flag")
    assert table["n"].to_dict() == {"teae": 5, "trae": 4, "teae_g3": 4, "trae_g3": 3, "teae_serious": 1,
                                    "trae_serious": 1, "teae_fatal": 1, "trae_fatal": 1}


def test_participant_flags_only_unrelated(trial):
    facts = participant_ae_flags(trial[4], trial[3]).set_index("usubjid")
    assert facts.loc["P02", "teae"] and not facts.loc["P02", "trae"]
    assert facts.loc["P02", "teae_worst"] == 3 and pd.isna(facts.loc["P02", "trae_worst"])
    assert facts.loc["P03", "trae_worst"] == 5


def test_soc_pt_table_worst_grade_once_per_participant(trial):
    pop, flagged = trial[3], trial[4]
    teae = ae_soc_pt_table(flagged, pop)
    top = teae.iloc[0]
    assert (top["level"], top["any"], top["grade_3plus"]) == ("overall", 5, 4)
    # overall worst grades: P01 G4, P02 G3, P03 G5, P04 G3, P05 G1
    assert top[["grade_1", "grade_2", "grade_3", "grade_4", "grade_5"]].tolist() == [1, 0, 2, 1, 1]
    # general disorders has 2 participants (fatigue P02, fever P05): the most frequent SOC comes first
    assert teae.iloc[1]["soc"] == GEN and teae.iloc[1]["any"] == 2
    nausea = teae.query("term == 'Nausea'").iloc[0]
    assert nausea["any"] == 1 and nausea["grade_1"] == 1  # P03's pre-infusion grade 2 nausea is not counted
    trae = ae_soc_pt_table(flagged, pop, related=True)
    assert trae.iloc[0]["any"] == 4 and "Fatigue" not in set(trae["term"])
    assert ae_soc_pt_table(flagged, pop, related=True, attribution="lymphodepletion")["any"].tolist() == [0]


def test_soc_pt_table_two_grades_same_term_counts_once():
    flagged = pd.DataFrame({"USUBJID": ["A", "A", "B"], "AEBODSYS": ["Inv"] * 3, "AEDECOD": ["Platelets"] * 3,
                            "AETOXGR": ["1", "3", None], "trtemfl": True, "related": True, "related_cart": True,
                            "related_ld": False})
    pop = pd.DataFrame({"usubjid": ["A", "B"], "saffl": [True, True]})
    row = ae_soc_pt_table(flagged, pop).query("level == 'term'").iloc[0]
    assert (row["any"], row["grade_1"], row["grade_3"], row["grade_missing"]) == (2, 0, 1, 1)


def graded_labs():
    """Graded observations (grading contract): PLT low direction; ALT high direction."""
    rows = [
        ("P01", "PLAT", "2021-03-01", True, "Platelet count decreased", 0, None, None),
        ("P01", "PLAT", "2021-03-17", False, "Platelet count decreased", 3, None, None),
        ("P01", "PLAT", "2021-03-24", False, "Platelet count decreased", 4, None, None),
        ("P02", "PLAT", "2021-03-01", True, "Platelet count decreased", 1, None, None),
        ("P02", "PLAT", "2021-03-17", False, "Platelet count decreased", 1, None, None),
        ("P03", "PLAT", "2021-03-17", False, "Platelet count decreased", 3, None, None),  # no baseline
        ("P03", "PLAT", "2021-03-20", False, "Platelet count decreased", None, None, None),  # ungraded: ignored
        ("P01", "ALT", "2021-03-01", True, None, None, "Alanine aminotransferase increased", 3),
        ("P01", "ALT", "2021-03-17", False, None, None, "Alanine aminotransferase increased", 3),
        ("P06", "PLAT", "2021-03-17", False, "Platelet count decreased", 4, None, None),  # not infused
    ]
    frame = pd.DataFrame(rows, columns=["usubjid", "testcd", "dtc", "baseline", "term_low", "grade_low",
                                        "term_high", "grade_high"])
    frame["adt"] = pd.to_datetime(frame["dtc"])
    for col in ("grade_low", "grade_high"):
        frame[col] = frame[col].astype("Int64")
    return frame


def test_lab_shift_lbt14_baseline_vs_worst(trial):
    shift = lab_shift_table(graded_labs(), trial[3])
    plt = shift.query("term == 'Platelet count decreased'").set_index(["baseline_grade", "worst_grade"])["n"]
    assert plt.to_dict() == {("0", "4"): 1, ("1", "1"): 1, ("missing", "3"): 1}  # P06 excluded (not infused)
    alt = shift.query("direction == 'high'")
    assert alt[["baseline_grade", "worst_grade", "n", "N"]].values.tolist() == [["3", "3", 1, 1]]


def test_lab_grade3_lbt07(trial):
    table = lab_grade3_table(graded_labs(), trial[3]).set_index("term")
    plt = table.loc["Platelet count decreased"]
    assert (plt["N"], plt["n_grade3plus"], plt["n_grade3"], plt["n_grade4"], plt["n_worsened"]) == (3, 2, 1, 1, 2)
    alt = table.loc["Alanine aminotransferase increased"]
    assert (alt["n_grade3plus"], alt["n_worsened"]) == (1, 0)  # grade 3 already at baseline


def window_labs():
    """P01 platelets (infusion 2021-03-10): baseline G0 day -9; G3 day -3 (lymphodepletion, before the infusion);
    G2 day 30; G4 day 400 (after the 365-day window); P02: baseline G0, G3 on day 365 exactly, G1 undated."""
    days = [("P01", -9, True, 0), ("P01", -3, False, 3), ("P01", 30, False, 2), ("P01", 400, False, 4),
            ("P02", -9, True, 0), ("P02", 365, False, 3), ("P02", None, False, 1)]
    frame = pd.DataFrame(days, columns=["usubjid", "day", "baseline", "grade_low"])
    frame["adt"] = pd.Timestamp("2021-03-10") + pd.to_timedelta(frame["day"], unit="D")
    frame["testcd"], frame["term_low"], frame["term_high"] = "PLAT", "Platelet count decreased", None
    frame["grade_low"] = frame["grade_low"].astype("Int64")
    frame["grade_high"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    return frame


@pytest.mark.parametrize(
    "start, window_days, expected, outside",
    [
        # P01: day -3 G3 and day 400 G4 left out -> worst G2; P02: day 365 is inside the window -> G3
        ("infusion", 365, {("0", "2"): 1, ("0", "3"): 1}, 2),
        # P01's day -3 G3 falls on/after the first lymphodepletion dose (day -5): worst G3
        ("lymphodepletion", 365, {("0", "3"): 2}, 1),
        # P02's day 365 G3 is outside a 30-day window; its undated G1 is kept (conservative)
        ("infusion", 30, {("0", "2"): 1, ("0", "1"): 1}, 3),
    ],
    ids=["1-year-window-grade4-on-day-400-not-counted", "window-from-lymphodepletion", "30-day-window"],
)
def test_lab_shift_counts_only_the_treatment_emergent_window(trial, start, window_days, expected, outside):
    te = dataclasses.replace(CFG.treatment_emergent, start=start, window_days=window_days)
    cfg = dataclasses.replace(CFG, treatment_emergent=te)
    shift = lab_shift_table(window_labs(), trial[3], window=cfg.treatment_emergent)
    assert shift.attrs["n_outside_window"] == outside
    assert shift.set_index(["baseline_grade", "worst_grade"])["n"].to_dict() == expected


def test_lab_grade3_day_400_grade4_is_not_counted(trial):
    labs = window_labs().loc[lambda f: f["usubjid"].eq("P01")]
    table = lab_grade3_table(labs, trial[3])  # no config: the default 1-year window
    assert table.iloc[0][["N", "n_grade3plus", "n_grade4"]].tolist() == [1, 0, 0]
    assert table.attrs["n_outside_window"] == 2
    without_population = lab_grade3_table(labs)  # no infusion dates: no window (every post-baseline record)
    assert without_population.iloc[0][["n_grade3plus", "n_grade4"]].tolist() == [1, 1]


def adlb(signed_only: bool = False) -> pd.DataFrame:
    """ADaM ADLB graded by the sponsor (admiral layout): platelets of P01 (infusion 2021-03-10) and P02.
    P01: baseline G1 (day -9), G3 day 14, G4 day 400 (outside the 1-year window), derived MINIMUM record G4;
    P02: baseline G0, G2 day 28 with an undated ALT G1 in the high direction."""
    rows = [
        ("P01", "PLAT", "2021-03-01", "Y", "", "Platelet count decreased", "1", "", ""),
        ("P01", "PLAT", "2021-03-24", "", "", "Platelet count decreased", "3", "", ""),
        ("P01", "PLAT", "2022-04-14", "", "", "Platelet count decreased", "4", "", ""),
        ("P01", "PLAT", "", "", "MINIMUM", "Platelet count decreased", "4", "", ""),
        ("P02", "PLAT", "2021-03-01", "Y", "", "Platelet count decreased", "0", "", ""),
        ("P02", "PLAT", "2021-04-07", "", "", "Platelet count decreased", "2", "", ""),
        ("P02", "ALT", "2021-03-01", "Y", "", "", "", "Alanine aminotransferase increased", "0"),
        ("P02", "ALT", "", "", "", "", "", "Alanine aminotransferase increased", "1"),
    ]
    cols = ["USUBJID", "PARAMCD", "ADT", "ABLFL", "DTYPE", "ATOXDSCL", "ATOXGRL", "ATOXDSCH", "ATOXGRH"]
    frame = pd.DataFrame(rows, columns=cols)
    if signed_only:  # ADaM combined grade: low direction negative
        low = pd.to_numeric(frame["ATOXGRL"], errors="coerce")
        high = pd.to_numeric(frame["ATOXGRH"], errors="coerce")
        frame["ATOXGR"] = (-low).where(low.gt(0), high.fillna(low)).astype("Int64").astype("string").fillna("")
        frame = frame.drop(columns=["ATOXGRL", "ATOXGRH"])
    return frame


@pytest.mark.parametrize("signed_only", [False, True], ids=["ADLB-ATOXGRL-ATOXGRH", "ADLB-signed-ATOXGR"])
def test_lab_shift_from_adam_adlb(trial, signed_only):
    shift = lab_shift_table(adlb(signed_only), trial[3])
    counts = shift.set_index(["term", "baseline_grade", "worst_grade"])["n"].to_dict()
    # P01: baseline 1 -> worst 3 (day 400 G4 outside the window, derived MINIMUM record dropped); P02: 0 -> 2;
    # ALT: the undated G1 is kept (conservative)
    assert counts == {("Platelet count decreased", "1", "3"): 1, ("Platelet count decreased", "0", "2"): 1,
                      ("Alanine aminotransferase increased", "0", "1"): 1}
    assert shift.attrs["n_outside_window"] == 1
    g3 = lab_grade3_table(adlb(signed_only), trial[3]).set_index("term").loc["Platelet count decreased"]
    assert (g3["n_grade3plus"], g3["n_grade4"], g3["n_worsened"]) == (1, 0, 1)


def test_adlb_without_grades_is_a_clear_error():
    with pytest.raises(ValueError, match="ATOXGR"):
        lab_shift_table(adlb().drop(columns=["ATOXGRL", "ATOXGRH"]))


@pytest.mark.slow
@pytest.mark.needs_shared(PEER_ADLB)
def test_signed_atoxgr_split_equals_admiral_direction_grades():
    """admiral's pharmaverseadam ADLB: splitting the signed ATOXGR gives admiral's own ATOXGRL / ATOXGRH on every
    observed record where a direction has a term and ATOXGR is given."""
    peer = pd.read_csv(PEER_ADLB, dtype=str, keep_default_na=False)
    both = graded_from_adlb(peer)
    signed = graded_from_adlb(peer.drop(columns=["ATOXGRL", "ATOXGRH"]))
    assert len(both) == (peer["DTYPE"] == "").sum() == 32650  # derived LOV / MAXIMUM / MINIMUM rows dropped
    given = peer.loc[peer["DTYPE"].eq(""), "ATOXGR"].ne("").to_numpy()
    for direction in ("low", "high"):
        termed = given & both[f"term_{direction}"].fillna("").ne("").to_numpy()
        assert termed.sum() > 10_000
        assert both.loc[termed, f"grade_{direction}"].tolist() == signed.loc[termed, f"grade_{direction}"].tolist()


def episodes():
    return pd.DataFrame({"usubjid": ["P01", "P03", "P03", "P04", "P04", "P06"],
                         "syndrome": ["CRS", "CRS", "ICANS", "CRS", "CRS", "CRS"],
                         "onset_day": [1, 2, 5, 3, 9, 1], "max_grade": [2, 3, 1, 1, 2, 4],
                         "duration_days": [5, 4, 2, 3, 2, 3]})


def test_crs_icans_incidence_by_max_grade(trial):
    table = crs_icans_incidence(episodes(), trial[3])
    crs = table.query("syndrome == 'CRS'").set_index("label")["n"]
    # CRS: P01 G2, P03 G3, P04 worst of G1 and G2 = G2; P06 not infused
    # no fatal CRS AE given: no "Grade 5" row (ASTCT grade 5 is never derived from observations)
    assert crs.to_dict() == {"Any grade": 3, "Grade 1": 0, "Grade 2": 2, "Grade 3": 1, "Grade 4": 0, "Grade >= 3": 1}
    assert (table["N"] == 5).all()


def test_crs_icans_timing(trial):
    t = crs_icans_timing(episodes(), trial[3]).set_index(["syndrome", "measure"])
    onset = t.loc[("CRS", "time to onset (days)")]
    assert (onset["n"], onset["median"], onset["min"], onset["max"]) == (3, 2.0, 1.0, 3.0)
    duration = t.loc[("CRS", "duration (days)")]  # P04: 3 + 2 days over two episodes
    assert (duration["median"], duration["max"]) == (5.0, 5.0)


@pytest.mark.needs_shared(PHARMAVERSE)
def test_pilot_study_treatment_emergent_matches_sponsor_flag():
    """Real SDTM (CDISC pilot): our treatment-emergent flag agrees with the sponsor's SUPPAE AETRTEM on every AE."""
    study = read_study(PHARMAVERSE)
    cfg = config_from_dict({"study": {"study_id": "CDISCPILOT01"},
                            "treatment": {"infusion_extrt": ["PLACEBO", "XANOMELINE"]},
                            "relationship": {"related": ["PROBABLE", "POSSIBLE"], "not_related": ["REMOTE", "NONE"]}})
    flagged = flag_ae_under(study["ae"], study["dm"], study["ex"], cfg)
    assert len(flagged) == 1191
    assert (flagged["trtemfl"] == flagged["AETRTEM"].eq("Y")).all()
    assert flagged["astdt_imputed"].isin(["D", "M"]).sum() == 26  # the 26 partial onset dates, all flagged
    pop = safety_population(study["dm"], study["ex"], cfg.treatment)
    assert pop["saffl"].sum() == 254
    table = ae_soc_pt_table(flagged, pop)
    assert table.iloc[0]["any"] == table.iloc[0]["grade_missing"]  # no AETOXGR: every count is "grade missing"


DEMO = Path(__file__).resolve().parents[1] / "ctcae_engine" / "demo" / "data"


@pytest.mark.skipif(not (DEMO / "ae.csv").is_file(), reason="demo data not generated")
def test_demo_trial_flags_and_primary_endpoint():
    study = read_study(DEMO)
    pop = safety_population(study["dm"], study["ex"], CFG.treatment)
    assert pop["saffl"].sum() == 20 and len(pop) == 23  # 20 infused + 3 screen failures
    flagged = flag_ae_under(study["ae"], study["dm"], study["ex"], CFG)
    assert len(flagged) == len(study["ae"]) and flagged["trtemfl"].notna().all()
    # AEs of the lymphodepletion days (onset before the infusion date) are never treatment-emergent
    onset = pd.to_datetime(study["ae"]["AESTDTC"], errors="coerce")
    infusion = pd.to_datetime(study["ae"]["USUBJID"].map(study["dm"].set_index("USUBJID")["RFXSTDTC"])).dt.normalize()
    assert not flagged.loc[onset < infusion, "trtemfl"].any()
    assert flagged.loc[onset >= infusion, "trtemfl"].all()  # and all follow-up is within 365 days
    # the generator's planted faults: a blank AEREL counts as related; the partial date "2025-03" is flagged
    blank = flagged["AEREL"].isna()
    assert blank.sum() == 1 and flagged.loc[blank, "related_cart"].all()
    partial = flagged["AESTDTC"].eq("2025-03")
    assert flagged.loc[partial, "astdt_imputed"].tolist() == ["D"] and flagged.loc[partial, "trtemfl"].all()
    primary = primary_endpoint(flagged, pop).set_index("label")
    assert (primary["N"] == 20).all()
    # one grade 5 AE in the demo (sepsis, possibly related, 01006): fatal TRAE 1/20
    assert primary.loc["Fatal treatment-related AE", "n"] == 1
    aet04 = ae_soc_pt_table(flagged, pop, related=True)
    assert aet04.iloc[0]["any"] == primary.loc["Any treatment-related AE", "n"]
    assert aet04.iloc[0]["grade_3plus"] == primary.loc["Treatment-related AE grade >= 3", "n"]


def test_adam_adsl_and_adae_are_accepted():
    """ADaM: ADSL SAFFL/TRTSDT define the population and day 0; ADAE ASTDT/ASTDTF and ATOXGR are used as given."""
    adsl = pd.DataFrame({"USUBJID": ["A1", "A2", "A3"], "SAFFL": ["Y", "Y", "N"],
                         "TRTSDT": ["2021-03-10", "2021-03-12", None]})
    adae = pd.DataFrame({"USUBJID": ["A1", "A1", "A2", "A3"], "AEBODSYS": ["Inv"] * 4,
                         "AEDECOD": ["Platelet count decreased"] * 4, "ATOXGR": ["3", "1", "2", "2"],
                         "ASTDT": ["2021-03-15", "2021-03-01", "2021-03-12", "2021-03-20"],
                         "ASTDTF": [None, None, "D", None], "AEREL": ["RELATED", "RELATED", "NOT RELATED", None]})
    pop = safety_population(adsl, None, CFG.treatment)
    assert pop.set_index("usubjid")["saffl"].to_dict() == {"A1": True, "A2": True, "A3": False}
    flagged = flag_ae_under(adae, adsl, None, CFG)
    assert flagged["ady"].tolist()[:3] == [5, -9, 0] and flagged["astdt_imputed"].tolist()[2] == "D"
    assert flagged["trtemfl"].tolist() == [True, False, True, False]
    table = primary_endpoint(flagged, pop).set_index("label")
    assert table.loc["Treatment-related AE grade >= 3", ["n", "N"]].tolist() == [1, 2]


@pytest.mark.parametrize("given", ["Grade 3", "GRADE 3", "grade3", "3", " 3 ", "3.0"], ids=lambda g: repr(g))
def test_ae_grade_reads_the_same_texts_as_validate_ae(given):
    """CTCAE v4.03 grades are 1-5; 'Grade 3' written out is the same grade 3 for the endpoints and validate_ae."""
    from ctcae_engine.analyse.endpoints import ae_grade
    from ctcae_engine.grade.ae import parse_grade

    ae = pd.DataFrame({"AETOXGR": [given, "6", "severe"]})
    assert parse_grade(ae["AETOXGR"]).tolist()[0] == 3
    assert ae_grade(ae).tolist()[0] == 3
    assert ae_grade(ae).isna().tolist()[1:] == [True, True]  # 6 is outside CTCAE 1-5; text is not a grade


@pytest.mark.parametrize(
    ("grade", "aesdth", "aeout", "fatal"),
    [("5", "N", "RECOVERED/RESOLVED", True), ("Grade 5", None, None, True), ("3", "Y", None, True),
     ("3", None, "fatal", True), ("4", "N", "NOT RECOVERED/NOT RESOLVED", False), (None, None, None, False)],
    ids=["CTCAE G5 death related to AE", "G5 written out", "AESDTH=Y", "AEOUT=FATAL", "G4 alive", "blank"],
)
def test_is_fatal(grade, aesdth, aeout, fatal):
    from ctcae_engine.analyse.endpoints import is_fatal

    ae = pd.DataFrame({"AETOXGR": [grade], "AESDTH": [aesdth], "AEOUT": [aeout]}, index=[7])
    out = is_fatal(ae)
    assert out.index.tolist() == [7] and out.dtype == bool
    assert bool(out.iloc[0]) is fatal


def test_safety_population_strips_usubjid_once_and_survives_ex_without_exstdtc():
    """'P01' and 'P01 ' are one participant (no duplicate-label crash); EX without EXSTDTC takes DM.RFXSTDTC."""
    dm = pd.DataFrame({"USUBJID": ["P01", "P01 ", "P02"], "RFXSTDTC": ["2021-03-10", "2021-03-10", "2021-03-12"],
                       "DTHDTC": [None, None, "2021-04"]})
    ex = pd.DataFrame({"USUBJID": ["P01", " P02"], "EXTRT": [INF, INF]})
    pop = safety_population(dm, ex, CFG.treatment)
    assert pop["usubjid"].tolist() == ["P01", "P02"] and pop["saffl"].all()
    assert pop["infdt"].tolist() == [pd.Timestamp("2021-03-10"), pd.Timestamp("2021-03-12")]
    assert pop["dthdt"].tolist()[1] == pd.Timestamp("2021-04-01")


def test_an_invalid_grade_5_is_not_a_death():
    """CTCAE v4.03 Alopecia has grades 1-2 only: a reported grade 5 with AESDTH = N is an invalid grade (DQ03), not a
    death; Sepsis grade 5 ('Death') and a grade 5 of a term outside the catalog stay fatal."""
    from ctcae_engine.analyse.endpoints import is_fatal
    from ctcae_engine.grade.ae import validate_ae

    ae = pd.DataFrame({"USUBJID": ["A", "B", "C"], "AEDECOD": ["Alopecia", "Sepsis", "Unknown condition X"],
                       "AETERM": ["HAIR LOSS", "SEPSIS", "X"], "AETOXGR": ["5", "5", "5"], "AESDTH": ["N", "", ""]})
    assert is_fatal(validate_ae(ae)).tolist() == [False, True, True]


@pytest.mark.parametrize("text", ["3", "3.0", "Grade 3", "GRADE3", "G3", "Gr. 3", " 3"])
def test_grade_spellings_read_as_3(text):
    from ctcae_engine.grade.ae import parse_grade

    assert parse_grade(pd.Series([text])).tolist() == [3]
