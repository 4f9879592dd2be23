"""The Dask engine gives the pandas engine's output whatever the partitioning, including partitions that split a
participant's rows (baseline, fever runs, QTc on two ECGs need the whole participant); worst grades per participant x
term agree; grade_dataset grades a Parquet folder end to end on a real local cluster.

Most tests run Dask's synchronous scheduler (no processes, fast); pandas on the same rows is the reference."""

from __future__ import annotations

import subprocess
import sys

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from ctcae_engine import dask_engine
from ctcae_engine.grading import OUTPUT_COLUMNS, grade_ecg, grade_labs, grade_vitals


@pytest.fixture
def sync():
    with dask.config.set(scheduler="sync"):
        yield


@pytest.fixture
def peer(peer_adlb) -> pd.DataFrame:
    """admiral's graded ADLB (conftest; skips when ../shared is absent)."""
    return peer_adlb


def pieces(*frames: pd.DataFrame) -> dd.DataFrame:
    """One Dask partition per given frame (partition boundaries chosen by the test)."""
    return dd.concat([dd.from_pandas(f, npartitions=1, sort=False) for f in frames])


def shuffled_split(frame: pd.DataFrame, npartitions: int, seed: int = 0) -> dd.DataFrame:
    """Rows in random order, then cut into partitions: most participants end up spread over several."""
    return dd.from_pandas(frame.sample(frac=1, random_state=seed), npartitions=npartitions, sort=False)


def spread(ddf: dd.DataFrame, subject: str = "USUBJID") -> int:
    """Participants whose rows lie in more than one partition."""
    seen = pd.concat([pd.Series(ddf.get_partition(i)[subject].compute().dropna().unique())
                      for i in range(ddf.npartitions)])
    return int((seen.value_counts() > 1).sum())


def assert_same_as_pandas(ddf: dd.DataFrame, grade, key: str, **options) -> pd.DataFrame:
    """Dask result == pandas result on the same rows (same columns, dtypes, index labels, values), by row id."""
    lazy = grade(ddf, **options)
    assert isinstance(lazy, dd.DataFrame)
    got = lazy.compute()
    expected = grade(ddf.compute(), **options)
    assert list(got.columns) == list(expected.columns)
    assert list(lazy.dtypes) == list(expected.dtypes)  # the lazy frame declares the true dtypes
    assert len(got) == len(expected)
    pd.testing.assert_frame_equal(got.sort_values(key, kind="stable"), expected.sort_values(key, kind="stable"))
    return got


# --------------------------------------------------------------------------------------- conformance (admiral)

@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_conformance_data_same_as_pandas_by_partition_count(sync, peer, npartitions):
    got = assert_same_as_pandas(dd.from_pandas(peer, npartitions=npartitions, sort=False), grade_labs, "ROWID")
    assert len(got) == 45077 and got["grade"].notna().sum() > 40000


@pytest.mark.parametrize("seed", [0, 1])
def test_conformance_data_same_as_pandas_when_participants_are_split(sync, peer, seed):
    ddf = shuffled_split(peer, 5, seed)
    assert spread(ddf) > 200  # nearly every one of the 254 participants is cut across partitions
    got = assert_same_as_pandas(ddf, grade_labs, "ROWID")
    # and equal to the pandas engine on the file in its original order (grades do not depend on row order here)
    original = grade_labs(peer).set_index("ROWID")
    mine = got.set_index("ROWID").loc[original.index]
    for column in ("grade_low", "grade_high", "grade", "base_si", "reason", "rule"):
        pd.testing.assert_series_equal(mine[column], original[column], check_dtype=False, check_index_type=False)


def test_base_on_one_participant_only_applies_to_the_whole_dataset(sync, peer):
    """pandas reads ADaM BASE for every row as soon as one row has one; partitions without any BASE must not derive
    a baseline of their own from ABLFL (they keep base_si NaN and the flag as given)."""
    keep = peer["USUBJID"].eq(peer["USUBJID"].iloc[0])
    frame = peer.assign(BASE=peer["BASE"].where(keep))
    ddf = dd.from_pandas(frame, npartitions=6, sort=False)
    got = assert_same_as_pandas(ddf, grade_labs, "ROWID")
    others = got.loc[~got["USUBJID"].eq(peer["USUBJID"].iloc[0])]
    assert others["base_si"].isna().all() and others["baseline"].sum() == (others["ABLFL"] == "Y").sum() > 0


# ------------------------------------------------------------------------------ derived baseline (first dose)

def lb_without_flags(n_subjects: int = 40, seed: int = 7) -> tuple[pd.DataFrame, dict[str, str]]:
    """SDTM LB (CREAT umol/L, ALT U/L) without LBBLFL; a few malformed rows; first dose per participant."""
    rng = np.random.default_rng(seed)
    rows, first_dose = [], {}
    for s in range(n_subjects):
        subject = f"NCT04627740-{s:03d}"
        dose = pd.Timestamp("2024-03-01") + pd.Timedelta(days=int(s))
        first_dose[subject] = dose.strftime("%Y-%m-%d")
        for day in (-14, -7, 0, 7, 14, 28, 56):
            date = (dose + pd.Timedelta(days=day)).strftime("%Y-%m-%dT08:00")
            rows.append((subject, "CREAT", f"{rng.uniform(55, 130):.0f}", "umol/L", "45", "110", date))
            rows.append((subject, "ALT", f"{rng.uniform(10, 260):.0f}", "U/L", "7", "40", date))
    rows += [("NCT04627740-000", "CREAT", "<20", "umol/L", "45", "110", "2024-02-20"),  # non-numeric
             ("NCT04627740-001", "CREAT", "90", "umol/L", "45", "110", "2024-03"),  # partial date: never baseline
             ("NCT04627740-002", "ALT", "n/a", "U/L", "7", "40", "2024-03-05"),  # non-numeric
             ("NCT04627740-002", "XYZ", "30", "mg/L", "", "", "2024-03-05")]  # not a CTCAE test
    frame = pd.DataFrame(rows, columns=["USUBJID", "LBTESTCD", "LBSTRESC", "LBSTRESU", "LBSTNRLO", "LBSTNRHI",
                                        "LBDTC"])
    frame.insert(0, "LBSEQ", np.arange(1, len(frame) + 1))
    return frame, first_dose


@pytest.mark.parametrize("layout", ["npartitions=3", "npartitions=7", "shuffled then split"])
def test_derived_baseline_is_last_value_on_or_before_first_dose(sync, layout):
    """Creatinine increased G1 '>1 - 1.5 x baseline': the baseline (no LBBLFL) is the last value dated on or
    before the first dose, a same-day sample included, whatever partition holds it."""
    frame, first_dose = lb_without_flags()
    ddf = shuffled_split(frame, 4) if layout.startswith("shuffled") else dd.from_pandas(
        frame, npartitions=int(layout[-1]), sort=False)
    if layout.startswith("shuffled"):
        assert spread(ddf) == 40
    got = assert_same_as_pandas(ddf, grade_labs, "LBSEQ", first_dose=first_dose)
    creat = got.loc[got["LBTESTCD"].eq("CREAT") & got["reason"].eq("")]
    day0 = creat.loc[creat["LBDTC"].str[:10].eq(creat["USUBJID"].map(first_dose)), ["USUBJID", "value_si"]]
    assert creat["base_si"].to_numpy() == pytest.approx(creat["USUBJID"].map(day0.set_index("USUBJID")["value_si"]))
    assert creat["baseline"].sum() == 40
    assert creat["rule"].str.contains("baseline").any()
    assert sorted(got.loc[got["reason"].ne(""), "reason"]) == [
        "non-numeric result '<20'", "non-numeric result 'n/a'", "test XYZ not mapped to a CTCAE term"]


# --------------------------------------------------------------------------------------- vitals and ECG

def vs(rows: list[tuple], **extra: list) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["USUBJID", "VSTESTCD", "VSSTRESN", "VSSTRESU", "VSDTC"])
    frame.insert(0, "VSSEQ", np.arange(1, len(frame) + 1))
    return frame.assign(**extra)


def test_fever_run_over_24_hours_split_across_partitions(sync):
    """Fever G4 '>40.0 degrees C (>104.0 degrees F) for >24 hrs': the three readings of one run (08:00, 20:00,
    next day 08:30) lie in three partitions; each is still G4. A run of exactly 24 h stays G3."""
    run = [("P1", "TEMP", 40.5, "C", "2024-01-01T08:00"), ("P1", "TEMP", 40.6, "C", "2024-01-01T20:00"),
           ("P1", "TEMP", 40.2, "C", "2024-01-02T08:30")]
    short = [("P2", "TEMP", 40.5, "C", "2024-01-01T08:00"), ("P2", "TEMP", 40.4, "C", "2024-01-02T08:00")]
    other = [("P3", "TEMP", 37.0 + i / 2, "C", f"2024-01-0{i + 1}T09:00") for i in range(6)]
    frame = vs([run[0], short[0], *other[:2], run[1], short[1], *other[2:4], run[2], *other[4:]])
    ddf = pieces(frame.iloc[:4], frame.iloc[4:8], frame.iloc[8:])
    got = assert_same_as_pandas(ddf, grade_vitals, "VSSEQ").set_index("VSSEQ")
    assert got.loc[[1, 5, 9], "grade"].tolist() == [4, 4, 4]
    assert got.loc[[2, 6], "grade"].tolist() == [3, 3]
    # 37.0 .. 39.5 C: G1 '38.0 - 39.0 degrees C' includes 39.0; G2 '>39.0 - 40.0'
    assert got.loc[got["USUBJID"].eq("P3"), "grade"].tolist() == [0, 0, 1, 1, 1, 2]


def test_weight_change_from_a_baseline_in_another_partition(sync):
    """Weight loss G2 '10 - <20% from baseline' and Weight gain G1 '5 - <10% from baseline', the VSBLFL record
    and the later weights in different partitions; a participant without baseline keeps a reason."""
    frame = vs([("P1", "WEIGHT", 80.0, "kg", "2024-01-01"), ("P2", "WEIGHT", 60.0, "kg", "2024-01-01"),
                ("P1", "WEIGHT", 72.0, "kg", "2024-03-01"), ("P2", "WEIGHT", 63.0, "kg", "2024-03-01"),
                ("P3", "WEIGHT", 70.0, "kg", "2024-03-01")], VSBLFL=["Y", "Y", None, None, None])
    got = assert_same_as_pandas(pieces(frame.iloc[:2], frame.iloc[2:]), grade_vitals, "VSSEQ").set_index("VSSEQ")
    assert got.loc[3, ["term", "grade"]].tolist() == ["Weight loss", 2]
    assert got.loc[4, ["term", "grade"]].tolist() == ["Weight gain", 1]
    assert got.loc[5, "reason"] == "no baseline to grade Weight loss; no baseline to grade Weight gain"


def test_qtc_grade_3_from_two_ecgs_in_different_partitions(sync):
    """QTc G3 '>=501 ms on at least two separate ECGs': P1's two ECGs >= 501 ms sit in different partitions
    (both G3); P2 has one such ECG (G2 'QTc 481 - 500 ms' is the highest a single ECG reaches: stays G2)."""
    frame = pd.DataFrame(
        [("P1", "QTCF", 505, "ms", "2024-01-01T09:00"), ("P2", "QTCF", 510, "ms", "2024-01-01T09:00"),
         ("P1", "QTCF", 470, "ms", "2024-01-02T09:00"), ("P2", "QTCF", 440, "ms", "2024-01-02T09:00"),
         ("P1", "QTCF", 501, "ms", "2024-01-03T09:00")],
        columns=["USUBJID", "EGTESTCD", "EGSTRESN", "EGSTRESU", "EGDTC"])
    frame.insert(0, "EGSEQ", np.arange(1, 6))
    got = assert_same_as_pandas(pieces(frame.iloc[:1], frame.iloc[1:4], frame.iloc[4:]), grade_ecg, "EGSEQ")
    assert got.set_index("EGSEQ")["grade"].sort_index().tolist() == [3, 2, 1, 0, 3]


def test_qtcf_derived_from_qt_and_rr_in_different_partitions(sync):
    """QTcF = QT / RR^(1/3) needs the QT and RR rows of one ECG together: they are in different partitions."""
    frame = pd.DataFrame(
        [("P1", "QT", 460, "ms", "2024-01-02T09:00"), ("P2", "QT", 400, "ms", "2024-01-02T09:00"),
         ("P1", "RR", 800, "ms", "2024-01-02T09:00"), ("P2", "RR", 1000, "ms", "2024-01-02T09:00")],
        columns=["USUBJID", "EGTESTCD", "EGSTRESN", "EGSTRESU", "EGDTC"])
    frame.insert(0, "EGSEQ", np.arange(1, 5))
    got = assert_same_as_pandas(pieces(frame.iloc[:2], frame.iloc[2:]), grade_ecg, "EGSEQ", derive_qtcf=True)
    qt = got.set_index("EGSEQ").sort_index().loc[[1, 2]]
    assert qt["value_si"].iloc[0] == pytest.approx(460 / 0.8 ** (1 / 3)) and qt["grade"].tolist() == [2, 0]


# --------------------------------------------------------------------------------------------- worst grade

def test_worst_grade_pandas_and_dask_agree_and_take_the_maximum(sync):
    frame, first_dose = lb_without_flags(n_subjects=12)
    graded = grade_labs(frame, first_dose=first_dose)
    worst = dask_engine.worst_grade(graded)
    lazy = dask_engine.worst_grade(grade_labs(shuffled_split(frame, 3), first_dose=first_dose))
    assert isinstance(lazy, dd.DataFrame)
    pd.testing.assert_frame_equal(lazy.compute(), worst)
    assert list(worst.columns) == ["usubjid", "direction", "term", "worst_grade", "n_rows", "n_graded"]
    alt = graded.loc[graded["USUBJID"].eq("NCT04627740-002") & graded["LBTESTCD"].eq("ALT")]
    row = worst.loc[worst["usubjid"].eq("NCT04627740-002") & worst["term"].eq("Alanine aminotransferase increased")]
    assert row[["worst_grade", "n_rows", "n_graded"]].iloc[0].tolist() == [
        alt["grade_high"].max(), len(alt), alt["grade_high"].notna().sum()]
    assert row["n_rows"].iloc[0] == row["n_graded"].iloc[0] + 1  # the non-numeric result 'n/a'


def test_worst_grade_on_conformance_data(sync, peer):
    graded = grade_labs(peer)
    worst = dask_engine.worst_grade(graded)
    lazy = dask_engine.worst_grade(grade_labs(shuffled_split(peer, 4)))
    pd.testing.assert_frame_equal(lazy.compute(), worst, check_dtype=False)
    assert worst["n_rows"].sum() == graded["term_low"].ne("").sum() + graded["term_high"].ne("").sum()
    assert set(worst["direction"]) == {"low", "high"}


# ------------------------------------------------------------------------------------------ bad input, import

def test_bad_input_gets_a_clear_message(sync):
    frame = vs([("P1", "TEMP", 38.5, "C", "2024-01-01")])
    with pytest.raises(ValueError, match="needs a USUBJID column"):
        grade_vitals(dd.from_pandas(frame.drop(columns="USUBJID"), npartitions=1))
    with pytest.raises(ValueError, match="kind must be one of"):
        dask_engine.grade(dd.from_pandas(frame, npartitions=1), "urine")
    with pytest.raises(ValueError, match="cannot tell the input kind"):
        grade_labs(dd.from_pandas(frame.rename(columns={"VSTESTCD": "TEST"}), npartitions=1))


def test_malformed_values_are_kept_with_their_reason(sync):
    frame = vs([("P1", "TEMP", "hot", "C", "2024-01-01"), ("P1", "TEMP", None, "C", "2024-01-02"),
                ("P2", "TEMP", 38.2, "K", "2024-01-01"), (None, "TEMP", 40.1, "C", "2024-01-01")])
    got = assert_same_as_pandas(dd.from_pandas(frame, npartitions=2, sort=False), grade_vitals, "VSSEQ")
    reasons = got.set_index("VSSEQ")["reason"].sort_index().tolist()
    assert reasons[:3] == ["non-numeric result 'hot'", "missing result", "unit 'K' not convertible to C for TEMP"]
    assert got.set_index("VSSEQ").loc[4, "grade"] == 3


def test_importing_the_package_does_not_import_dask():
    code = "import sys, ctcae_engine, ctcae_engine.grading, ctcae_engine.pipeline; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- end to end on a local cluster

def test_grade_dataset_end_to_end_on_a_local_cluster(tmp_path, peer):
    source = tmp_path / "adlb"
    source.mkdir()
    rows = peer.sample(frac=1, random_state=3)
    for i, start in enumerate(range(0, len(rows), 15026)):
        rows.iloc[start:start + 15026].to_parquet(source / f"part-{i}.parquet", index=False)
    out = tmp_path / "graded"
    counts = dask_engine.grade_dataset(source, out, kind="lab")
    assert counts == {"rows_in": 45077, "rows_out": 45077, "graded": counts["graded"],
                      "ungraded": 45077 - counts["graded"]} and counts["graded"] > 40000
    written = pd.read_parquet(out).set_index("ROWID").sort_index()
    expected = grade_labs(pd.read_parquet(source)).set_index("ROWID").sort_index()
    assert list(written.columns) == list(expected.columns)
    for column in OUTPUT_COLUMNS:  # Parquet has one null: None and NaN both come back as None
        mine, theirs = (f[column].astype(object).where(f[column].notna(), None) for f in (written, expected))
        pd.testing.assert_series_equal(mine, theirs, check_index_type=False)
    worst = pd.read_parquet(dask_engine.worst_path(out)).sort_values(dask_engine.WORST_KEYS, ignore_index=True)
    assert len(worst) > 254 * 10
    pd.testing.assert_frame_equal(worst, dask_engine.worst_grade(expected.reset_index()), check_dtype=False)
    with pytest.raises(FileExistsError, match="not an empty folder"):
        dask_engine.grade_dataset(source, out)
