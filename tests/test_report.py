"""The DSMB report: rendering, escaping, the asset-only fetcher, determinism, and the demo trial's full report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from ctcae_engine.pipeline import StudyResults
from ctcae_engine.report import compare_summaries, summary_dict, write_report
from ctcae_engine.report.context import SECTION_ORDER, build_context
from ctcae_engine.report.render import AssetOnlyFetcher, fmt_n_pct, fmt_value, render_html, render_pdf

HOSTILE = "<img src=http://127.0.0.1:9/y.png>"
SECTION_IDS = ["sec-" + name.replace("_", "-") for name in SECTION_ORDER]


def small_results(term: str = "Anemia") -> StudyResults:
    """A hand-made run: 4 participants, a primary endpoint, one TRAE table, one listing, one missing table."""
    files = pd.DataFrame({"name": ["ae.csv", "dm.csv"], "rows": [3, 4], "sha256": ["a" * 64, "b" * 64]})
    meta = {"study_id": "TOY-1", "protocol_id": "NCT00000000", "title": "Toy trial", "data_cutoff": "2024-06-30",
            "run_time": "2024-06-30", "engine_version": "0.1.0", "ctcae_version": "4.03", "n_participants": 4}
    results = StudyResults(config=None, domains={}, files=files, meta=meta)
    results.primary = pd.DataFrame([{"label": "participants with a TRAE within 1 year of infusion", "n": 3, "N": 4,
                                     "pct": 75.0, "ci_low": 19.4, "ci_high": 99.4,
                                     "ci_method": "Clopper-Pearson exact"}])
    results.summary = pd.DataFrame([{"key": "trae_g3", "n": 1, "N": 4, "events": 2, "note": ""},
                                    {"key": "deaths", "n": 0, "N": 4, "events": 0, "note": ""}])
    results.tables["AET04_TRAE"] = pd.DataFrame(
        {"SOC / PT": ["Blood and lymphatic system disorders", term], "row_type": ["soc", "pt"],
         "Any grade": [3, 3], "Grade 3": [1, 1]})
    results.tables["AEL_G3"] = pd.DataFrame(
        {"Participant": ["TOY-1-001", "TOY-1-001"], "Term": [term, "Febrile neutropenia"], "Grade": [3, 3],
         "Start": ["2024-01-02", "2024-01-05"]})
    results.unavailable["AET04_TEAE"] = "endpoints module not installed"
    return results


@pytest.mark.parametrize(("value", "text"), [
    (None, "\u2014"), (float("nan"), "\u2014"), (pd.NA, "\u2014"), (3, "3"), (3.0, "3.0"), (2.456, "2.5"), (0.0, "0.0"),
    (True, "Y"), ({"n": 3, "N": 4}, "3 (75.0%)"), ({"n": 0, "N": 0}, "0"), ("x", "x"),
])
def test_cell_formatting(value, text):
    assert fmt_value(value) == text


def test_n_pct_rounds_like_safety_tables():
    assert fmt_n_pct(1, 3) == "1 (33.3%)"
    assert fmt_n_pct(2, 3) == "2 (66.7%)"


def test_every_section_present_and_missing_parts_say_so():
    html = render_html(build_context(small_results()))
    for section_id in SECTION_IDS:
        assert f'id="{section_id}"' in html, section_id
    assert "Not available in this run" in html
    assert "endpoints module not installed" in html
    assert 'data-key="trae_g3">1 (25.0%)<' in html


def test_data_is_escaped_in_html():
    html = render_html(build_context(small_results(term=HOSTILE)))
    assert "&lt;img src=http://127.0.0.1:9/y.png&gt;" in html
    assert HOSTILE not in html


def test_pdf_of_hostile_data_fetches_nothing(tmp_path):
    fetcher = AssetOnlyFetcher()
    html = render_html(build_context(small_results(term=HOSTILE)))
    render_pdf(html, tmp_path / "r.pdf", fetcher=fetcher)
    assert fetcher.refused == []
    text = "".join(page.extract_text() for page in PdfReader(tmp_path / "r.pdf").pages)
    assert "<img src=http://127.0.0.1:9/y.png>" in text.replace("\n", "")


def test_fetcher_refuses_urls_outside_the_report_assets(tmp_path):
    outside = tmp_path / "secret.css"
    outside.write_text("body { color: red }")
    html = ('<html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
            f'<link rel="stylesheet" href="{outside.as_uri()}"></head>'
            '<body><img src="https://127.0.0.1:9/y.png"><img src="data:image/svg+xml;base64,'
            'PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSI0IiBoZWlnaHQ9IjQiLz4="><p>x</p></body></html>')
    fetcher = AssetOnlyFetcher()
    render_pdf(html, tmp_path / "r.pdf", fetcher=fetcher)
    assert sorted(fetcher.refused) == sorted(["http://127.0.0.1:9/x.css", outside.as_uri(),
                                              "https://127.0.0.1:9/y.png"])


def test_html_is_deterministic(tmp_path):
    first = write_report(small_results(), tmp_path / "a", pdf=False)
    second = write_report(small_results(), tmp_path / "b", pdf=False)
    assert first["html"].read_bytes() == second["html"].read_bytes()


def test_whats_new_lists_only_events_not_in_the_previous_report(tmp_path):
    previous = summary_dict(small_results())
    previous["data_cutoff"] = "2024-03-31"
    previous["events"]["AEL_G3"] = previous["events"]["AEL_G3"][:1]
    previous["headline"]["trae_g3"]["n"] = 0
    diff = compare_summaries(previous, summary_dict(small_results()))
    g3 = next(e for e in diff["events"] if e["label"].startswith("Grade"))
    assert g3["new"] == ["TOY-1-001 | Febrile neutropenia | 3 | 2024-01-05"]
    assert {"label": "trae_g3: participants", "previous": 0, "now": 1, "change": 1} in diff["counts"]
    (tmp_path / "prev").mkdir()
    (tmp_path / "prev" / "summary.json").write_text(json.dumps(previous))
    html = write_report(small_results(), tmp_path / "now", previous=tmp_path / "prev", pdf=False)["html"].read_text()
    assert "Compared with the report of data cut-off 2024-03-31" in html
    assert "TOY-1-001 | Febrile neutropenia | 3 | 2024-01-05" in html


def headline_numbers(html: str) -> dict[str, str]:
    """data-key -> cell text of the executive summary."""
    return {m[0]: re.sub(r"<[^>]+>", "", m[1]).strip() for m in re.findall(r'data-key="([^"]+)">(.*?)</', html)}


def test_headline_numbers_read_back_from_html():
    numbers = headline_numbers(render_html(build_context(small_results())))
    assert numbers["primary_n"] == "3" and numbers["primary_N"] == "4" and numbers["primary_pct"] == "75.0%"
    assert numbers["deaths"] == "0 (0.0%)"


def test_report_files_written(tmp_path):
    paths = write_report(small_results(), tmp_path)
    assert set(paths) == {"html", "pdf", "summary"}
    assert Path(paths["pdf"]).read_bytes().startswith(b"%PDF")
    assert json.loads(paths["summary"].read_text())["primary"] == {"n": 3, "N": 4}
