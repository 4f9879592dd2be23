"""Vital signs and ECG graded by the same rules-as-data engine: Fever, Hypertension, Weight loss/gain, QTc, Hypoxia.
Each threshold is tested at, below and above, with the CTCAE v4.03 text in the test id."""

import pandas as pd
import pytest
from conftest import PHARMAVERSE

import ctcae_engine.grade.findings  # noqa: F401  (registers the df.ctcae accessor)
from ctcae_engine.grade.findings import grade_ecg, grade_vitals
from ctcae_engine.read.files import read_domain
from ctcae_terms import lookup_term
from ctcae_terms.criteria import load_clinical_criteria

DATA = PHARMAVERSE


def vs(rows: list[tuple], **extra: list) -> pd.DataFrame:
    """SDTM VS rows: (USUBJID, VSTESTCD, VSSTRESN, VSSTRESU, VSDTC)."""
    frame = pd.DataFrame(rows, columns=["USUBJID", "VSTESTCD", "VSSTRESN", "VSSTRESU", "VSDTC"])
    for key, values in extra.items():
        frame[key] = values
    return frame


def eg(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["USUBJID", "EGTESTCD", "EGSTRESN", "EGSTRESU", "EGDTC"])


def test_clinical_table_quotes_the_catalog_text():
    for row in load_clinical_criteria().itertuples():
        assert row.ctcae_text == lookup_term(row.term)[f"grade_{row.grade}"], row


FEVER = [
    (37.9, "C", 0, "below G1 '38.0 - 39.0 degrees C'"),
    (38.0, "C", 1, "G1 '38.0 - 39.0 degrees C': 38.0 included"),
    (39.0, "C", 1, "G1 '38.0 - 39.0 degrees C': 39.0 included"),
    (39.01, "C", 2, "G2 '>39.0 - 40.0 degrees C'"),
    (40.0, "C", 2, "G2 '>39.0 - 40.0 degrees C': 40.0 included"),
    (40.01, "C", 3, "G3 '>40.0 degrees C for <=24 hrs' (single reading)"),
    (100.4, "F", 1, "G1 '(100.4 - 102.2 degrees F)'"),
    (104.0, "F", 2, "G2 '(102.3 - 104.0 degrees F)': 104.0 F = 40.0 C"),
    (104.1, "F", 3, "G3 '(>104.0 degrees F) for <=24 hrs'"),
]


@pytest.mark.parametrize(("value", "unit", "grade"), [f[:3] for f in FEVER], ids=[f[3] for f in FEVER])
def test_fever_thresholds(value, unit, grade):
    out = grade_vitals(vs([("P1", "TEMP", value, unit, "2024-01-01T08:00")]))
    assert out["term"].iloc[0] == "Fever" and out["grade"].iloc[0] == grade


def test_fever_over_40_for_more_than_24_hours_is_grade_4():
    """G4 '>40.0 degrees C for >24 hrs': a run of consecutive readings >40.0 C spanning >24 h (first to last)."""
    long_run = vs([("P1", "TEMP", 40.5, "C", "2024-01-01T08:00"), ("P1", "TEMP", 40.6, "C", "2024-01-01T20:00"),
                   ("P1", "TEMP", 40.2, "C", "2024-01-02T08:30")])
    assert grade_vitals(long_run)["grade"].tolist() == [3, 3, 3]  # 12.5 h between the last two: no run (max 12 h)
    assert grade_vitals(long_run, fever_max_gap_h=13)["grade"].tolist() == [4, 4, 4]
    long_run = long_run.assign(VSDTC=["2024-01-01T08:00", "2024-01-01T20:00", "2024-01-02T08:01"])  # 24 h 1 min
    assert grade_vitals(long_run, fever_max_gap_h=12.1)["grade"].tolist() == [4, 4, 4]
    long_run = vs([("P1", "TEMP", 40.5, "C", "2024-01-01T08:00"), ("P1", "TEMP", 40.6, "C", "2024-01-01T20:00"),
                   ("P1", "TEMP", 40.2, "C", "2024-01-02T06:00"), ("P1", "TEMP", 40.2, "C", "2024-01-02T08:30")])
    assert grade_vitals(long_run)["grade"].tolist() == [4, 4, 4, 4]
    long_run = long_run.iloc[[0, 1, 3]]
    exactly_24 = long_run.assign(VSDTC=["2024-01-01T08:00", "2024-01-01T20:00", "2024-01-02T08:00"])
    assert grade_vitals(exactly_24)["grade"].tolist() == [3, 3, 3]
    broken = long_run.assign(VSSTRESN=[40.5, 39.5, 40.2])  # a reading <=40.0 ends the run
    assert grade_vitals(broken)["grade"].tolist() == [3, 2, 3]
    other_person = long_run.assign(USUBJID=["P1", "P1", "P2"])
    assert grade_vitals(other_person)["grade"].tolist() == [3, 3, 3]
    untimed = long_run.assign(VSDTC=[None, None, None])  # no times: the duration cannot be measured -> G3
    assert grade_vitals(untimed)["grade"].tolist() == [3, 3, 3]


def test_fever_dates_without_times_count_from_midnight():
    days = vs([("P1", "TEMP", 40.5, "C", d) for d in ("2024-01-01", "2024-01-02", "2024-01-03")])
    assert grade_vitals(days)["grade"].tolist() == [3, 3, 3]  # one reading a day: 24 h gaps > 12 h, no run
    assert grade_vitals(days, fever_max_gap_h=24)["grade"].tolist() == [4, 4, 4]  # 48 h
    assert grade_vitals(days.iloc[:2], fever_max_gap_h=24)["grade"].tolist() == [3, 3]  # 24 h is not >24 h


BP = [
    ("SYSBP", 119, 0, "below G1 'systolic BP 120 - 139 mm Hg'"),
    ("SYSBP", 120, 1, "G1 'Prehypertension (systolic BP 120 - 139 mm Hg'"),
    ("SYSBP", 139, 1, "G1 'systolic BP 120 - 139 mm Hg': 139 included"),
    ("SYSBP", 140, 2, "G2 'Stage 1 hypertension (systolic BP 140 - 159 mm Hg'"),
    ("SYSBP", 159, 2, "G2 'systolic BP 140 - 159 mm Hg': 159 included"),
    ("SYSBP", 160, 3, "G3 'Stage 2 hypertension (systolic BP >=160 mm Hg'"),
    ("SYSBP", 250, 3, "G4 'Life-threatening consequences' is clinical: never from a value"),
    ("DIABP", 79, 0, "below G1 'diastolic BP 80 - 89 mm Hg'"),
    ("DIABP", 80, 1, "G1 'diastolic BP 80 - 89 mm Hg'"),
    ("DIABP", 89, 1, "G1 'diastolic BP 80 - 89 mm Hg': 89 included"),
    ("DIABP", 90, 2, "G2 'diastolic BP 90 - 99 mm Hg'"),
    ("DIABP", 99, 2, "G2 'diastolic BP 90 - 99 mm Hg': 99 included"),
    ("DIABP", 100, 3, "G3 'diastolic BP >=100 mm Hg'"),
]


@pytest.mark.parametrize(("testcd", "value", "grade"), [b[:3] for b in BP], ids=[b[3] for b in BP])
def test_hypertension_thresholds(testcd, value, grade):
    out = grade_vitals(vs([("P1", testcd, value, "mmHg", "2024-01-01")]))
    assert out["term"].iloc[0] == "Hypertension" and out["grade"].iloc[0] == grade


WEIGHT = [
    (80.0, 0, 0, "baseline itself"),
    (76.1, 0, 0, "-4.9%: below Weight loss G1 '5 to <10% from baseline'"),
    (76.0, 1, 0, "Weight loss G1 '5 to <10% from baseline': -5% included"),
    (72.1, 1, 0, "Weight loss G1: -9.9%"),
    (72.0, 2, 0, "Weight loss G2 '10 - <20% from baseline': -10% included"),
    (64.0, 3, 0, "Weight loss G3 '>=20% from baseline'"),
    (83.9, 0, 0, "+4.9%: below Weight gain G1 '5 - <10% from baseline'"),
    (84.0, 0, 1, "Weight gain G1 '5 - <10% from baseline': +5% included"),
    (88.0, 0, 2, "Weight gain G2 '10 - <20% from baseline'"),
    (96.0, 0, 3, "Weight gain G3 '>=20% from baseline'"),
]


@pytest.mark.parametrize(("value", "low", "high"), [w[:3] for w in WEIGHT], ids=[w[3] for w in WEIGHT])
def test_weight_change_from_baseline(value, low, high):
    frame = vs([("P1", "WEIGHT", 80.0, "kg", "2024-01-01"), ("P1", "WEIGHT", value, "kg", "2024-03-01")],
               VSBLFL=["Y", None])
    out = grade_vitals(frame)
    assert out["base_si"].tolist() == [80.0, 80.0]
    assert (out["grade_low"].iloc[1], out["grade_high"].iloc[1]) == (low, high)


def test_weight_in_pounds_and_baseline_from_first_dose():
    frame = vs([("P1", "WEIGHT", 200.0, "LB", "2024-01-01"), ("P1", "WEIGHT", 178.0, "LB", "2024-03-01"),
                ("P2", "WEIGHT", 70.0, "kg", "2024-03-01")])
    out = grade_vitals(frame, first_dose={"P1": "2024-01-02", "P2": "2024-01-02"})
    assert out["unit_si"].tolist() == ["kg"] * 3
    assert out["grade_low"].iloc[1] == 2  # -11%: Weight loss G2 '10 - <20% from baseline'
    assert pd.isna(out["grade"].iloc[2])
    assert out["reason"].iloc[2] == "no baseline to grade Weight loss; no baseline to grade Weight gain"


QTC = [
    (449, 0, "below G1 'QTc 450 - 480 ms'"),
    (450, 1, "G1 'QTc 450 - 480 ms': 450 included"),
    (480, 1, "G1 'QTc 450 - 480 ms': 480 included"),
    (480.5, 2, "G2 'QTc 481 - 500 ms' read as >480"),
    (500, 2, "G2 'QTc 481 - 500 ms': 500 included"),
    (501, 2, "G3 'QTc >= 501 ms on at least two separate ECGs': one ECG stays G2"),
]


@pytest.mark.parametrize(("value", "grade"), [q[:2] for q in QTC], ids=[q[2] for q in QTC])
def test_qtc_thresholds_single_ecg(value, grade):
    out = grade_ecg(eg([("P1", "QTCF", value, "ms", "2024-01-01T09:00")]))
    assert out["term"].iloc[0] == "Electrocardiogram QT corrected interval prolonged"
    assert out["grade"].iloc[0] == grade


def test_qtc_grade_3_needs_two_separate_ecgs():
    """G3 'QTc >= 501 ms on at least two separate ECGs': distinct date/times; replicates at one time are one ECG."""
    two = eg([("P1", "QTCF", 505, "ms", "2024-01-01T09:00"), ("P1", "QTCF", 470, "ms", "2024-01-02T09:00"),
              ("P1", "QTCF", 501, "ms", "2024-01-03T09:00")])
    assert grade_ecg(two)["grade"].tolist() == [3, 1, 3]
    triplicate = eg([("P1", "QTCB", v, "ms", "2024-01-01T09:00") for v in (502, 510, 505)])
    assert grade_ecg(triplicate)["grade"].tolist() == [2, 2, 2]
    two_people = two.assign(USUBJID=["P1", "P1", "P2"])
    assert grade_ecg(two_people)["grade"].tolist() == [2, 1, 2]
    out = grade_ecg(eg([("P1", "QTCF", 0.51, "s", "2024-01-01")]))  # seconds -> 510 ms, one ECG: G2
    assert out["value_si"].iloc[0] == pytest.approx(510) and out["grade"].iloc[0] == 2


def test_qtcf_derived_from_qt_and_rr_when_asked():
    frame = eg([("P1", "QT", 400, "ms", "2024-01-01T09:00"), ("P1", "RR", 1000, "ms", "2024-01-01T09:00"),
                ("P1", "QT", 460, "ms", "2024-01-02T09:00"), ("P1", "RR", 800, "ms", "2024-01-02T09:00"),
                ("P1", "QT", 470, "ms", "2024-01-03T09:00")])  # no RR at that time: not derived
    plain = grade_ecg(frame)
    assert plain["grade"].isna().all()  # QT alone is not a CTCAE criterion
    out = grade_ecg(frame, derive_qtcf=True)
    assert out["EGTESTCD"].tolist() == frame["EGTESTCD"].tolist()  # input columns as given
    assert out["testcd"].tolist() == ["QTCF", "RR", "QTCF", "RR", "QT"]
    assert out["value_si"].iloc[2] == pytest.approx(460 / 0.8 ** (1 / 3))  # 495.6 ms
    # G2 'QTc 481 - 500 ms' for 495.6 ms; 400 ms is 0
    assert out["grade"].iloc[0] == 0 and out["grade"].iloc[2] == 2 and pd.isna(out["grade"].iloc[4])


def test_hypoxia_only_from_spo2_at_rest():
    frame = vs([("P1", "OXYSAT", 87, "%", "2024-01-01"), ("P1", "OXYSAT", 88, "%", "2024-01-01"),
                ("P1", "OXYSAT", 85, "%", "2024-01-02")], VSTPT=["AT REST", "AT REST", "AFTER 6 MIN WALK"])
    out = grade_vitals(frame)
    # G3 'Decreased oxygen saturation at rest (e.g., pulse oximeter <88% ...)'; G2 needs 'with exercise'
    assert out["grade"].tolist()[:2] == [3, 0] and out["term"].iloc[0] == "Hypoxia"
    assert pd.isna(out["grade"].iloc[2]) and "graded only when recorded at rest" in out["reason"].iloc[2]
    assert grade_vitals(frame.drop(columns="VSTPT"), assume_at_rest=True)["grade"].tolist() == [3, 0, 3]


def test_unmapped_vitals_keep_their_rows_with_a_reason_and_accessor_works():
    frame = vs([("P1", "PULSE", 80, "BEATS/MIN", "2024-01-01"), ("P1", "TEMP", "38.5", "C", "2024-01-01")])
    out = frame.ctcae.grade_vitals()
    assert out["reason"].tolist() == ["test PULSE not mapped to a CTCAE term", ""]
    assert out["grade"].iloc[1] == 1 and list(out.columns[:5]) == list(frame.columns)


@pytest.mark.needs_shared(DATA / "vs.csv", DATA / "dm.csv")
def test_real_vs_graded_the_same_from_original_and_standard_units():
    data = read_domain(DATA / "vs.csv")  # TEMP originally F, WEIGHT originally LB
    dm = read_domain(DATA / "dm.csv")
    std, orig = grade_vitals(data, first_dose=dm), grade_vitals(data, first_dose=dm, result="original")
    assert (std["grade"].notna() | (std["reason"] != "")).all()
    both = std["grade"].notna() & orig["grade"].notna()
    assert both.sum() > 20000
    assert (std.loc[both, "grade"] == orig.loc[both, "grade"]).mean() > 0.999
    assert set(std.loc[std["grade"].notna(), "term"]) == {"Fever", "Hypothermia", "Hypertension", "Weight loss",
                                                          "Weight gain"}
    # Hypothermia G2 "35 - >32 degrees C; 95 - >89.6 degrees F": 8 pilot readings of 93.7 - 95.0 F (34.28 - 35 C)
    cold = std[std["term"] == "Hypothermia"]
    assert len(cold) == 8 and (cold["grade"] == 2).all() and cold["value_si"].between(34.2, 35.0).all()


def test_readings_taken_at_rest_are_graded_like_any_other():
    """Hypertension G3 'Stage 2 hypertension (systolic BP >=160 mm Hg or diastolic BP >=100 mm Hg)' whatever the
    position; QTc G3 '>=501 ms on at least two separate ECGs' also when the ECGs are taken after rest."""
    bp = grade_vitals(vs([("P1", "SYSBP", 165, "mmHg", "2024-01-01T08:00")], VSTPT=["AFTER 5 MIN REST"]))
    assert (bp["term"].iloc[0], bp["grade"].iloc[0]) == ("Hypertension", 3)
    ecgs = eg([("P1", "QTCF", 520, "ms", "2024-01-01T08:00"), ("P1", "QTCF", 515, "ms", "2024-01-02T08:00")])
    qtc = grade_ecg(ecgs.assign(EGTPT="AFTER 10 MINUTES REST"))
    assert qtc["grade"].tolist() == [3, 3]


def test_qtcf_derivation_matches_rows_by_position_when_index_labels_repeat():
    """Two deliveries concatenated keep their own row labels (0, 1 and 0, 1): each QT must still pair with the RR of
    its own ECG. QTcF = QT / (RR/1000)^(1/3); CTCAE v4.03 QTc prolonged: G1 450-480 ms, G2 481-500 ms."""
    first = pd.DataFrame({"USUBJID": ["P1", "P1"], "EGTESTCD": ["QT", "RR"], "EGSTRESN": ["430", "800"],
                          "EGSTRESU": ["ms", "ms"], "EGDTC": ["2024-01-01T08:00", "2024-01-01T08:00"]})
    second = first.assign(EGSTRESN=["470", "750"], EGDTC="2024-01-02T08:00")
    repeated = pd.concat([first, second])  # index 0, 1, 0, 1
    unique = pd.concat([first, second], ignore_index=True)
    graded = grade_ecg(repeated, derive_qtcf=True)
    expected = grade_ecg(unique, derive_qtcf=True)
    assert list(graded.index) == [0, 1, 0, 1]
    pd.testing.assert_frame_equal(graded.reset_index(drop=True), expected)
    assert graded["testcd"].tolist() == ["QTCF", "RR", "QTCF", "RR"]
    # 430 / 0.928 = 463 ms -> G1; 470 / 0.909 = 517 ms, >= 501 ms on one ECG only -> G2 (G3 needs two separate ECGs)
    assert graded["grade"].tolist()[::2] == [1, 2]
