"""The cover's generation time (issue 17: "Report run time" showed the data cut-off): the real time the report was
made, or SOURCE_DATE_EPOCH for reproducible builds (https://reproducible-builds.org/specs/source-date-epoch/):
the same inputs and the same SOURCE_DATE_EPOCH give byte-identical HTML."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ctcae_engine.demo import DATA_DIR
from ctcae_engine.run.clock import report_time
from ctcae_engine.run.pipeline import build_report, run_study

EPOCH = "1751536800"  # 2025-07-03 10:00:00 UTC


def test_source_date_epoch_is_the_generation_time_else_the_clock():
    assert report_time({"SOURCE_DATE_EPOCH": EPOCH}) == datetime(2025, 7, 3, 10, 0, 0, tzinfo=timezone.utc)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert before <= report_time({}) <= datetime.now(timezone.utc)


@pytest.mark.parametrize("bad", ["yesterday", "-5", "1.5"])
def test_a_malformed_source_date_epoch_fails_instead_of_reading_the_clock(bad):
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
        report_time({"SOURCE_DATE_EPOCH": bad})


def test_the_default_run_time_is_now_not_the_data_cutoff(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    meta = run_study(DATA_DIR, None).meta
    assert meta["run_time"] != meta["data_cutoff"] == "2025-06-30"
    assert before <= datetime.fromisoformat(meta["run_time"]) <= datetime.now(timezone.utc)
    assert meta["run_time_source"] == "clock"


@pytest.mark.slow  # three demo runs (HTML only)
def test_same_inputs_and_source_date_epoch_give_byte_identical_html(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    first = build_report(DATA_DIR, None, tmp_path / "a", pdf=False)["html"].read_bytes()
    second = build_report(DATA_DIR, None, tmp_path / "b", pdf=False)["html"].read_bytes()
    assert first == second
    html = first.decode("utf-8")
    assert '<td id="generated">2025-07-03 10:00:00 UTC (fixed by SOURCE_DATE_EPOCH' in html
    assert 'id="data-cutoff" class="run-cutoff">2025-06-30<' in html  # the cut-off stays separate
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(EPOCH) + 3600))
    later = build_report(DATA_DIR, None, tmp_path / "c", pdf=False)["html"].read_bytes()
    assert later != first and b"2025-07-03 11:00:00 UTC" in later
