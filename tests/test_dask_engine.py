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

from ctcae_engine.api import grade_ecg, grade_labs, grade_vitals
from ctcae_engine.dask import engine as dask_engine
from ctcae_engine.grade.findings import OUTPUT_COLUMNS

pytestmark = pytest.mark.slow  # Dask: local clusters, subprocesses, the 45,077-row conformance data


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


def test_one_usable_base_after_thousands_of_unusable_ones_is_found(sync, peer):
    """The BASE pre-pass grades BASE-carrying rows in growing batches (1,000, 2,000, ...): 3,000 rows whose BASE
    cannot be used (a test not mapped to CTCAE) come first, the one usable BASE after them; like pandas, the whole
    dataset then grades from BASE (that row's base_si given, no baseline derived from ABLFL elsewhere)."""
    frame = peer.assign(BASE=peer["BASE"].where(peer.index < 3000))
    frame.loc[:2999, ["PARAMCD", "ATOXDSCL", "ATOXDSCH"]] = ["XYZ", pd.NA, pd.NA]
    frame.loc[3500, "BASE"] = peer.loc[3500, "BASE"]
    got = assert_same_as_pandas(dd.from_pandas(frame, npartitions=2, sort=False), grade_labs, "ROWID")
    assert got["base_si"].notna().sum() == 1 and got.set_index("ROWID").loc[peer.loc[3500, "ROWID"], "base_si"] > 0


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
    rows += [("NCT04627740-000", "CREAT", "<LLOQ", "umol/L", "45", "110", "2024-02-20"),  # non-numeric
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
        "non-numeric result '<LLOQ'", "non-numeric result 'n/a'", "test XYZ not mapped to a CTCAE term"]


# --------------------------------------------------------------------------------------- vitals and ECG

def vs(rows: list[tuple], **extra: list) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["USUBJID", "VSTESTCD", "VSSTRESN", "VSSTRESU", "VSDTC"])
    frame.insert(0, "VSSEQ", np.arange(1, len(frame) + 1))
    return frame.assign(**extra)


def test_fever_run_over_24_hours_split_across_partitions(sync):
    """Fever G4 '>40.0 degrees C (>104.0 degrees F) for >24 hrs': the three readings of one run (08:00, 20:00,
    next day 08:30) lie in three partitions; each is still G4 with a maximum gap of 13 h (the 12 h default breaks
    the 12.5 h gap: issue 18). A run of exactly 24 h stays G3."""
    run = [("P1", "TEMP", 40.5, "C", "2024-01-01T08:00"), ("P1", "TEMP", 40.6, "C", "2024-01-01T20:00"),
           ("P1", "TEMP", 40.2, "C", "2024-01-02T08:30")]
    short = [("P2", "TEMP", 40.5, "C", "2024-01-01T08:00"), ("P2", "TEMP", 40.4, "C", "2024-01-02T08:00")]
    other = [("P3", "TEMP", 37.0 + i / 2, "C", f"2024-01-0{i + 1}T09:00") for i in range(6)]
    frame = vs([run[0], short[0], *other[:2], run[1], short[1], *other[2:4], run[2], *other[4:]])
    ddf = pieces(frame.iloc[:4], frame.iloc[4:8], frame.iloc[8:])
    got = assert_same_as_pandas(ddf, grade_vitals, "VSSEQ", fever_max_gap_h=13).set_index("VSSEQ")
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
    code = ("import sys, ctcae_engine, ctcae_engine.grade.findings, ctcae_engine.run.pipeline; "
            "print('dask' in sys.modules)")
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


# ------------------------------------------------------- reading a Parquet folder like the pandas CLI (io.read_domain)

@pytest.fixture(scope="module")
def cluster():
    """One in-process cluster (2 workers, threads) for the grade_dataset tests: fast to start, and a test may
    patch the engine its workers run."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as local:
        yield local.scheduler_address


def write_parts(folder, frames: dict[str, pd.DataFrame], **kwargs) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_parquet(folder / name, index=False, **kwargs)


def by_pandas_cli(source, grade_fn, **options) -> pd.DataFrame:
    """What ``ctcae-engine grade`` with the pandas engine grades: io.read_domain, then the engine."""
    from ctcae_engine.read.files import read_domain

    return grade_fn(read_domain(source), **options)


def assert_same_rows(written: pd.DataFrame, expected: pd.DataFrame, key: str) -> None:
    """The graded rows of grade_dataset == the pandas CLI's (column names, grading columns; Parquet keeps one
    null, so None and NaN compare equal)."""
    assert list(written.columns) == list(expected.columns)
    mine, theirs = (f.set_index(key).sort_index() for f in (written, expected))
    for column in OUTPUT_COLUMNS:
        left, right = (f[column].astype(object).where(f[column].notna(), None) for f in (mine, theirs))
        pd.testing.assert_series_equal(left, right, check_index_type=False)


def test_files_with_text_and_integer_results_are_read_with_one_schema(tmp_path, cluster):
    """Review finding 4: LBSTRESC written as text in one file and as int64 in another (two exports of one
    study): both engines grade the folder alike; the column is read as text everywhere."""
    frame, first_dose = lb_without_flags(n_subjects=6)
    numeric = frame.iloc[40:].loc[lambda f: f["LBSTRESC"].str.fullmatch(r"\d+")]
    write_parts(tmp_path / "lb", {"part-0.parquet": frame.iloc[:40],
                                  "part-1.parquet": numeric.astype({"LBSTRESC": "int64"})})
    ddf, rows = dask_engine.read_dataset(tmp_path / "lb")
    assert rows == 40 + len(numeric) and ddf["LBSTRESC"].dtype != "int64"
    counts = dask_engine.grade_dataset(tmp_path / "lb", tmp_path / "out", scheduler=cluster, first_dose=first_dose)
    assert counts["rows_in"] == counts["rows_out"] == rows and counts["graded"] == rows - 1  # '<20'
    expected = by_pandas_cli(tmp_path / "lb", grade_labs, first_dose=first_dose)
    assert_same_rows(pd.read_parquet(tmp_path / "out"), expected, "LBSEQ")


def test_files_are_read_in_the_same_order_as_the_pandas_engine(tmp_path, cluster):
    """Review finding 5: files part-2 .. part-10 (name order puts part-10 first); two records flagged LBBLFL = Y
    for one test: the later row in reading order is the baseline in both engines. ALT 'Increased' G2 '>3.0 - 5.0
    x ULN' is graded against the ULN, so the chosen baseline shows in base_si only."""
    rows = [("P1", "ALT", "50", "U/L", "7", "40", "2024-01-01", "Y"),
            ("P1", "ALT", "100", "U/L", "7", "40", "2024-01-01", "Y"),
            ("P1", "ALT", "150", "U/L", "7", "40", "2024-02-01", None)]
    frame = pd.DataFrame(rows, columns=["USUBJID", "LBTESTCD", "LBSTRESC", "LBSTRESU", "LBSTNRLO", "LBSTNRHI",
                                        "LBDTC", "LBBLFL"]).assign(LBSEQ=[1, 2, 3])
    write_parts(tmp_path / "lb", {"part-2.parquet": frame.iloc[[0]], "part-10.parquet": frame.iloc[[1]],
                                  **{f"part-{i}.parquet": frame.iloc[[2]].assign(LBSEQ=i + 10) for i in (3, 4)}})
    files = [f.rsplit("/", 1)[-1] for f in dask_engine.dataset_files(tmp_path / "lb")]
    assert files == ["part-10.parquet", "part-2.parquet", "part-3.parquet", "part-4.parquet"]
    dask_engine.grade_dataset(tmp_path / "lb", tmp_path / "out", scheduler=cluster)
    written = pd.read_parquet(tmp_path / "out")
    assert_same_rows(written, by_pandas_cli(tmp_path / "lb", grade_labs), "LBSEQ")
    assert written["base_si"].tolist() == [50.0] * 4  # part-2's record, read after part-10's
    assert written.set_index("LBSEQ")["baseline"].to_dict() == {1: True, 2: False, 13: False, 14: False}


def test_columns_missing_from_some_files_and_timestamp_resolutions(tmp_path):
    """A column only some files have is null in the others (as pandas' concat makes it); the same timestamps
    written at ms and us resolution are one timestamp column, not text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "lb").mkdir()
    stamps = pa.array([pd.Timestamp("2024-01-01 08:30")] * 2)
    pq.write_table(pa.table({"USUBJID": ["P1", "P2"], "ADTM": stamps.cast(pa.timestamp("ms"))}),
                   tmp_path / "lb" / "part-0.parquet")
    pq.write_table(pa.table({"USUBJID": ["P3"], "ADTM": stamps[:1].cast(pa.timestamp("us")), "LBNAM": ["lab A"]}),
                   tmp_path / "lb" / "part-1.parquet")
    ddf, rows = dask_engine.read_dataset(tmp_path / "lb")
    got = ddf.compute(scheduler="sync")
    assert rows == 3 and str(ddf["ADTM"].dtype).startswith("datetime64")
    assert got["ADTM"].eq(pd.Timestamp("2024-01-01 08:30")).all()
    assert got["LBNAM"].isna().tolist() == [True, True, False]


def test_lower_case_columns_and_blank_text_are_read_like_the_pandas_engine(tmp_path, cluster):
    """Review finding 7: lower-case (and padded) column names are upper-cased, blank text is missing: a blank
    result gets 'missing result' (not 'non-numeric result'), as with the pandas CLI."""
    frame, first_dose = lb_without_flags(n_subjects=3)
    frame.loc[5, "LBSTRESC"] = ""
    write_parts(tmp_path / "lb", {"part-0.parquet": frame.rename(columns=lambda c: f" {c.lower()}")})
    ddf, _ = dask_engine.read_dataset(tmp_path / "lb")
    assert list(ddf.columns) == list(frame.columns)
    dask_engine.grade_dataset(tmp_path / "lb", tmp_path / "out", scheduler=cluster, first_dose=first_dose)
    written = pd.read_parquet(tmp_path / "out")
    assert_same_rows(written, by_pandas_cli(tmp_path / "lb", grade_labs, first_dose=first_dose), "LBSEQ")
    assert written.set_index("LBSEQ").loc[6, "reason"] == "missing result"


def test_pieces_are_cut_by_row_count_so_one_big_file_is_cut_too(tmp_path):
    """Review finding 6: one file of 1,000 rows (one row group) among files of 10 rows: with pieces of at most
    300 rows, the big file is read as 4 pieces of 250 rows and each small file as one; a file of 3 row groups
    is cut per row group. The rows come back in file order, as io.read_domain reads them."""
    from ctcae_engine.read.files import read_domain

    frame, _ = lb_without_flags(n_subjects=120)  # 1,684 rows
    write_parts(tmp_path / "lb", {"part-0.parquet": frame.iloc[:10], "part-1.parquet": frame.iloc[10:1010],
                                  "part-2.parquet": frame.iloc[1010:1020]})
    frame.iloc[1020:1620].to_parquet(tmp_path / "lb" / "part-3.parquet", index=False, row_group_size=200)
    ddf, rows = dask_engine.read_dataset(tmp_path / "lb", partition_rows=300)
    with dask.config.set(scheduler="sync"):
        sizes = ddf.map_partitions(len).compute().tolist()
        got = ddf.compute()
    assert rows == 1620 and sizes == [10, 250, 250, 250, 250, 10, 200, 200, 200]
    expected = read_domain(tmp_path / "lb")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)


def test_lazy_worst_grade_over_many_partitions(sync, peer):
    """Review finding 6: the lazy worst grade is spread over several partitions (no single-partition reduce);
    each participant's rows are in one of them; once sorted it equals the pandas result."""
    graded = grade_labs(dd.from_pandas(peer, npartitions=40, sort=False))
    lazy = dask_engine.worst_grade(graded)
    assert lazy.npartitions == 40 // dask_engine.WORST_ROWS_PER_PARTITION
    parts = [lazy.get_partition(i).compute() for i in range(lazy.npartitions)]
    assert all(len(p) for p in parts) and not set(parts[0]["usubjid"]) & set(parts[1]["usubjid"])
    got = pd.concat(parts).sort_values(dask_engine.WORST_KEYS, ignore_index=True)
    pd.testing.assert_frame_equal(got, dask_engine.worst_grade(grade_labs(peer)), check_dtype=False)


def test_a_failed_run_leaves_no_output_and_a_rerun_works(tmp_path, cluster, monkeypatch):
    """Review finding 8: a worker failing mid-run (here: a disk error while grading) gives one RuntimeError,
    and neither output folder nor a hidden staging folder is left, so the same command can run again."""
    frame, first_dose = lb_without_flags(n_subjects=8)
    write_parts(tmp_path / "lb", {f"part-{i}.parquet": frame.iloc[i::2] for i in range(2)})
    real = dask_engine._engine

    def failing(rows, *args, **kwargs):
        if rows["USUBJID"].eq("NCT04627740-003").any():
            raise OSError("No space left on device")
        return real(rows, *args, **kwargs)

    monkeypatch.setattr(dask_engine, "_engine", failing)
    with pytest.raises(RuntimeError, match="the Dask run failed: OSError: No space left on device"):
        dask_engine.grade_dataset(tmp_path / "lb", tmp_path / "out", scheduler=cluster, first_dose=first_dose)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lb"]
    monkeypatch.setattr(dask_engine, "_engine", real)
    counts = dask_engine.grade_dataset(tmp_path / "lb", tmp_path / "out", scheduler=cluster, first_dose=first_dose)
    assert counts["rows_out"] == len(frame) and sorted(p.name for p in tmp_path.iterdir()) == [
        "lb", "out", "out_worst"]


def test_bad_datasets_get_a_clear_message(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .parquet files"):
        dask_engine.grade_dataset(tmp_path / "empty", tmp_path / "out")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "part-0.parquet").write_text("USUBJID,LBTESTCD\n")
    with pytest.raises(ValueError, match="part-0.parquet: not a readable Parquet file"):
        dask_engine.grade_dataset(tmp_path / "broken", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "empty"]


def test_urls_and_relative_paths(tmp_path, cluster, monkeypatch):
    """Review finding 9: an fsspec URL folder is read in name order and an existing non-empty output URL is
    refused; a relative local output folder is made absolute by the client, not each worker."""
    import fsspec

    frame, first_dose = lb_without_flags(n_subjects=4)
    memory = fsspec.filesystem("memory")
    for i in range(2):
        with memory.open(f"/ctcae-test/lb/part-{i}.parquet", "wb") as handle:
            frame.iloc[i::2].to_parquet(handle, index=False)
    with memory.open("/ctcae-test/old/part-0.parquet", "wb") as handle:
        frame.to_parquet(handle, index=False)
    try:
        assert dask_engine.dataset_files("memory://ctcae-test/lb") == [
            "memory:///ctcae-test/lb/part-0.parquet", "memory:///ctcae-test/lb/part-1.parquet"]
        with pytest.raises(FileExistsError, match="not an empty folder"):
            dask_engine.grade_dataset("memory://ctcae-test/lb", "memory://ctcae-test/old")
        monkeypatch.chdir(tmp_path)
        counts = dask_engine.grade_dataset("memory://ctcae-test/lb", "graded", scheduler=cluster,
                                           first_dose=first_dose)
    finally:
        memory.rm("/ctcae-test", recursive=True)
    assert counts["rows_out"] == len(frame) == len(pd.read_parquet(tmp_path / "graded"))
    assert (tmp_path / "graded_worst").is_dir()


def test_vitals_and_ecg_through_grade_dataset(tmp_path, cluster):
    """Review finding 12: Fever G4 '>40.0 degrees C (>104.0 degrees F) for >24 hrs' (a run across two files) and
    QTc G3 '>=501 ms on at least two separate ECGs' (QTcF derived from QT and RR in different files) come out of
    grade_dataset as from the pandas CLI."""
    fever = vs([("P1", "TEMP", 40.5, "C", "2024-01-01T08:00"), ("P2", "TEMP", 38.4, "C", "2024-01-01T08:00"),
                ("P1", "TEMP", 40.6, "C", "2024-01-01T20:00"), ("P1", "TEMP", 40.2, "C", "2024-01-02T08:30")])
    write_parts(tmp_path / "vs", {"part-0.parquet": fever.iloc[:2], "part-1.parquet": fever.iloc[2:]})
    dask_engine.grade_dataset(tmp_path / "vs", tmp_path / "vs_out", kind="vitals", scheduler=cluster,
                              fever_max_gap_h=13)  # the 12.5 h gap is inside the run (default 12 h: G3)
    written = pd.read_parquet(tmp_path / "vs_out")
    assert_same_rows(written, by_pandas_cli(tmp_path / "vs", grade_vitals, fever_max_gap_h=13), "VSSEQ")
    assert written.set_index("VSSEQ")["grade"].sort_index().tolist() == [4, 1, 4, 4]

    ecg = pd.DataFrame(
        [("P1", "QT", 470, "ms", "2024-01-02T09:00"), ("P1", "QT", 480, "ms", "2024-01-03T09:00"),
         ("P1", "RR", 800, "ms", "2024-01-02T09:00"), ("P1", "RR", 810, "ms", "2024-01-03T09:00"),
         ("P2", "QT", 400, "ms", "2024-01-02T09:00"), ("P2", "RR", 1000, "ms", "2024-01-02T09:00")],
        columns=["USUBJID", "EGTESTCD", "EGSTRESN", "EGSTRESU", "EGDTC"]).assign(EGSEQ=range(1, 7))
    write_parts(tmp_path / "eg", {"part-0.parquet": ecg.iloc[[0, 1, 4]], "part-1.parquet": ecg.iloc[[2, 3, 5]]})
    dask_engine.grade_dataset(tmp_path / "eg", tmp_path / "eg_out", kind="ecg", scheduler=cluster,
                              derive_qtcf=True)
    written = pd.read_parquet(tmp_path / "eg_out")
    assert_same_rows(written, by_pandas_cli(tmp_path / "eg", grade_ecg, derive_qtcf=True), "EGSEQ")
    qt = written.set_index("EGSEQ").sort_index().loc[[1, 2, 5]]
    assert qt["value_si"].round(1).tolist() == [round(470 / 0.8 ** (1 / 3), 1), round(480 / 0.81 ** (1 / 3), 1),
                                                400.0]
    assert qt["grade"].tolist() == [3, 3, 0]
