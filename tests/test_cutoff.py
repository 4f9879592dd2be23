"""Data cut-off: crafted records on, before and after the cut-off, partial and malformed dates, deaths after it."""

from __future__ import annotations

import dataclasses
from datetime import date

import pandas as pd
import pytest

from ctcae_engine.read.cutoff import after_cutoff, apply_cutoff, cutoff_summary

CUTOFF = "2025-06-30"


@pytest.mark.parametrize(("value", "after"), [
    ("2025-06-29", False),
    ("2025-06-30", False),
    ("2025-06-30T23:59", False),  # the cut-off day is included, whatever the time
    ("2025-07-01", True),
    ("2025-07-01T00:01:00", True),
    ("2025-06", False),  # may fall on or before the cut-off: kept
    ("2025", False),
    ("2025---15", False),  # day without month: year 2025 may be before
    ("2025-07", True),  # every day of July is after
    ("2026", True),
    ("", False),  # missing: kept, the owning module lists it
    (None, False),
    ("unknown", False),  # malformed: kept, the owning module lists it with the reason
    ("2025-13-01", False),
    ("30/07/2025", False),
], ids=lambda v: repr(v))
def test_after_cutoff_counts_partial_dates_at_their_earliest_day(value, after):
    assert after_cutoff(pd.Series([value], dtype="object"), CUTOFF).tolist() == [after]


def crafted() -> dict[str, pd.DataFrame]:
    return {
        "dm": pd.DataFrame({"USUBJID": ["S1", "S2", "S3"], "DTHDTC": ["", "2025-07-04", "2025-06-01"],
                            "DTHFL": ["", "Y", "Y"], "RFXSTDTC": ["2025-01-10", "2025-02-01", "2025-03-01"]}),
        "ae": pd.DataFrame({"USUBJID": ["S1", "S1", "S2", "S2"], "AETERM": ["a", "b", "c", "d"],
                            "AESTDTC": ["2025-06-30", "2025-07-02", "2025-07", "2025-06"],
                            "AEENDTC": ["2025-07-05", "", "", ""]}, index=[10, 11, 12, 13]),
        "lb": pd.DataFrame({"USUBJID": ["S1"] * 3, "LBTESTCD": ["ALT"] * 3,
                            "LBDTC": ["2025-06-30T08:00", "2025-07-01T08:00", ""]}),
        "ds": pd.DataFrame({"USUBJID": ["S2", "S3"], "DSDECOD": ["DEATH", "DEATH"],
                            "DSSTDTC": ["2025-07-04", "2025-06-01"]}),
        "mh": pd.DataFrame({"USUBJID": ["S1"], "MHSTDTC": ["2030-01-01"]}),  # not a domain the cut-off reads
    }


def test_every_removed_row_is_listed_and_the_rest_kept():
    domains = crafted()
    before = {k: v.copy() for k, v in domains.items()}
    kept, excluded = apply_cutoff(domains, date(2025, 6, 30))
    # AE: an onset on the cut-off day stays (its end after the cut-off does not matter); 2025-06 may be before
    assert kept["ae"]["AETERM"].tolist() == ["a", "d"]
    assert kept["lb"]["LBDTC"].tolist() == ["2025-06-30T08:00", ""]
    assert kept["ds"]["USUBJID"].tolist() == ["S3"]
    pd.testing.assert_frame_equal(kept["mh"], domains["mh"])
    # DM: the participant stays, the death after the cut-off is not counted; a death before it is untouched
    assert kept["dm"]["USUBJID"].tolist() == ["S1", "S2", "S3"]
    assert kept["dm"]["DTHDTC"].tolist() == ["", "", "2025-06-01"]
    assert kept["dm"]["DTHFL"].tolist() == ["", "", "Y"]
    rows = excluded[["domain", "USUBJID", "date", "row"]].values.tolist()
    assert rows == [["AE", "S1", "2025-07-02", 11], ["AE", "S2", "2025-07", 12], ["DM", "S2", "2025-07-04", 1],
                    ["DS", "S2", "2025-07-04", 0], ["LB", "S1", "2025-07-01T08:00", 1]]
    assert set(excluded.loc[excluded["domain"] != "DM", "reason"]) == {"after data cut-off 2025-06-30"}
    assert excluded.loc[2, "reason"].startswith("death after data cut-off 2025-06-30")
    # row accounting: kept + excluded = input, per domain that loses rows
    for name in ("ae", "lb", "ds"):
        assert len(kept[name]) + (excluded["domain"] == name.upper()).sum() == len(domains[name])
    for name, frame in domains.items():  # inputs untouched
        pd.testing.assert_frame_equal(frame, before[name])


def test_no_cutoff_or_nothing_after_it_removes_nothing():
    domains = crafted()
    kept, excluded = apply_cutoff(domains, None)
    assert excluded.empty and all(kept[k] is domains[k] for k in domains)
    kept, excluded = apply_cutoff(domains, "2030-12-31")
    assert excluded.empty and list(excluded.columns)[:4] == ["domain", "USUBJID", "date", "column"]


def test_bad_cutoff_is_a_clear_error():
    with pytest.raises(ValueError, match="ISO 8601"):
        apply_cutoff(crafted(), "30 June 2025")


def test_summary_counts_per_domain():
    _, excluded = apply_cutoff(crafted(), CUTOFF)
    summary = cutoff_summary(excluded).set_index("Domain")
    assert summary["Records"].to_dict() == {"AE": 2, "DM": 1, "DS": 1, "LB": 1}
    assert summary.loc["AE", ["First date", "Last date", "Participants"]].tolist() == ["2025-07", "2025-07-02", 2]


def test_pipeline_excludes_records_after_cutoff_and_reports_them(tmp_path):
    """The hand-counted toy study of test_pipeline with the cut-off moved to 2024-03-31: TOY-002's fatal sepsis
    (onset 2024-04-01) and death (2024-04-02) happen after it, so the report shows no death and lists both."""
    from test_pipeline import AE, DM, EX

    from ctcae_engine.read.config import load_config
    from ctcae_engine.report import write_report
    from ctcae_engine.run.pipeline import run_study

    for name, text in (("dm", DM), ("ex", EX), ("ae", AE)):
        (tmp_path / f"{name}.csv").write_text(text)
    cfg = load_config()
    cfg = dataclasses.replace(cfg, study=dataclasses.replace(cfg.study, data_cutoff=date(2024, 3, 31)))
    results = run_study(tmp_path, cfg, strict=True)
    assert len(results.ae) == 5 and "Sepsis" not in set(results.ae["AEDECOD"])
    summary = results.summary.set_index("key")
    assert summary.loc["deaths", "n"] == 0
    assert summary.loc["sae", ["n", "events"]].tolist() == [2, 2]  # neutropenia G4 (001), anemia G3 (002)
    assert results.tables["DTHL01"].frame.empty
    dq = results.tables["DQ06"].frame.set_index("Domain")
    assert dq["Records"].to_dict() == {"AE": 1, "DM": 1}
    assert results.meta["n_after_cutoff"] == 2
    assert results.files.set_index("name").loc["ae.csv", "rows"] == 6  # the file as read
    paths = write_report(results, tmp_path / "out", pdf=False)
    listed = pd.read_csv(paths["excluded"], dtype=str)
    assert listed[["domain", "USUBJID", "date"]].values.tolist() == [["AE", "TOY-002", "2024-04-01"],
                                                                     ["DM", "TOY-002", "2024-04-02"]]
    html = paths["html"].read_text()
    assert "DQ06" in html and "2 records dated after the data cut-off" in html
