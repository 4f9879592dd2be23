"""The DSMB report: rendering, escaping, the asset-only fetcher, determinism, and the demo trial's full report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from ctcae_engine.report import compare_summaries, summary_dict, write_report
from ctcae_engine.report.context import SECTION_ORDER, build_context
from ctcae_engine.report.render import AssetOnlyFetcher, fmt_n_pct, fmt_value, render_html, render_pdf
from ctcae_engine.run.pipeline import StudyResults
from ctcae_engine.tables import declared

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
    results.tables["AET04_TRAE"] = declared("AET04_TRAE").table(pd.DataFrame(
        {"SOC / PT": ["Blood and lymphatic system disorders", term], "row_type": ["soc", "pt"],
         "Any grade": [3, 3], "Grade 3": [1, 1]}))
    results.tables["AEL_G3"] = declared("AEL_G3").table(pd.DataFrame(
        {"Participant": ["TOY-1-001", "TOY-1-001"], "Term": [term, "Febrile neutropenia"], "Grade": [3, 3],
         "Start": ["2024-01-02", "2024-01-05"]}))
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


@pytest.mark.slow  # renders a PDF
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


def test_whats_new_compares_headline_counts_and_says_which_lists_it_could_not_compare(tmp_path):
    previous = summary_dict(small_results())
    previous["data_cutoff"] = "2024-03-31"
    previous["headline"]["trae_g3"]["n"] = 0
    diff = compare_summaries(previous, summary_dict(small_results()))
    assert {"key": "trae_g3", "label": "trae_g3: participants", "previous": 0, "now": 1, "change": 1} in diff["counts"]
    assert diff["new_aes"] is None and "not available in the previous run" in diff["unavailable"]["new_aes"]
    (tmp_path / "prev").mkdir()
    (tmp_path / "prev" / "summary.json").write_text(json.dumps(previous))
    html = write_report(small_results(), tmp_path / "now", previous=tmp_path / "prev", pdf=False)["html"].read_text()
    assert "Compared with the run of data cut-off 2024-03-31" in html
    assert "New treatment-emergent AEs: not compared (not available in the previous run" in html


def headline_numbers(html: str) -> dict[str, str]:
    """data-key -> cell text of the executive summary."""
    return {m[0]: re.sub(r"<[^>]+>", "", m[1]).strip() for m in re.findall(r'data-key="([^"]+)">(.*?)</', html)}


def test_headline_numbers_read_back_from_html():
    numbers = headline_numbers(render_html(build_context(small_results())))
    assert numbers["primary_n"] == "3" and numbers["primary_N"] == "4" and numbers["primary_pct"] == "75.0%"
    assert numbers["deaths"] == "0 (0.0%)"


@pytest.mark.slow  # renders a PDF
def test_report_files_written(tmp_path):
    paths = write_report(small_results(), tmp_path)
    assert set(paths) == {"html", "pdf", "summary", "whats_new"}
    assert [p.name for p in (paths["html"], paths["pdf"])] == ["report.html", "report.pdf"]  # issue 8
    assert Path(paths["pdf"]).read_bytes().startswith(b"%PDF")
    assert json.loads(paths["summary"].read_text())["primary"] == {"n": 3, "N": 4}


# ---- the demo trial, end to end (raw files -> HTML + PDF), numbers recomputed here from the raw CSVs ----
DEMO = Path(__file__).resolve().parents[1] / "ctcae_engine" / "demo" / "data"
DEMO_EPOCH = "1751536800"  # 2025-07-03 10:00:00 UTC: the same inputs and SOURCE_DATE_EPOCH give the same bytes
RELATED = {"RELATED", "POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED"}


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    if not (DEMO / "ae.csv").exists():
        pytest.skip("demo data not generated")
    from ctcae_engine.run.pipeline import build_report

    out = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as env:  # a reproducible build (tests/test_report_time.py)
        env.setenv("SOURCE_DATE_EPOCH", DEMO_EPOCH)
        return build_report(DEMO, None, out)


def independent_counts() -> dict[str, tuple[int, int]]:
    """Headline numbers from the raw CSVs, with the study's rules written out again here (not the engine's code):
    safety population = participants with an EX record of the CAR-T product; treatment-emergent = onset on or after
    the infusion day and at most 365 days after; related = AEREL or SUPPAE AERELLD related (blank counts)."""
    ex = pd.read_csv(DEMO / "ex.csv", dtype=str)
    infusion = ex[ex["EXTRT"].str.upper() == "ANTI-ALPP CAR-T CELLS"].groupby("USUBJID")["EXSTDTC"].min()
    infusion = pd.to_datetime(infusion.str[:10])
    ae = pd.read_csv(DEMO / "ae.csv", dtype=str, keep_default_na=False)
    supp = pd.read_csv(DEMO / "suppae.csv", dtype=str, keep_default_na=False)
    ld = supp[supp["QNAM"] == "AERELLD"].set_index(["USUBJID", "IDVARVAL"])["QVAL"]
    ae["AERELLD"] = [ld.get((u, s), "") for u, s in zip(ae["USUBJID"], ae["AESEQ"], strict=True)]
    inf = ae["USUBJID"].map(infusion)
    text = ae["AESTDTC"].str[:10]
    onset = pd.to_datetime(text.where(text.str.len() == 10), errors="coerce")
    month_start = pd.to_datetime(text.where(text.str.len() == 7) + "-01", errors="coerce")
    # a YYYY-MM onset in the infusion month is placed on the infusion day (conservative imputation)
    month_start = month_start.where(~(month_start.dt.to_period("M") == inf.dt.to_period("M")), inf)
    onset = onset.fillna(month_start).fillna(inf)
    day = (onset - inf).dt.days
    te = inf.notna() & day.between(0, 365)
    rel = ae["AEREL"].isin(RELATED | {""}) | ae["AERELLD"].isin(RELATED | {""})
    grade = pd.to_numeric(ae["AETOXGR"], errors="coerce")
    n_saf = len(infusion)
    dm = pd.read_csv(DEMO / "dm.csv", dtype=str, keep_default_na=False)
    return {
        "primary": (ae.loc[te & rel, "USUBJID"].nunique(), n_saf),
        "teae": (ae.loc[te, "USUBJID"].nunique(), n_saf),
        "trae_g3": (ae.loc[te & rel & (grade >= 3), "USUBJID"].nunique(), n_saf),
        "sae": (ae.loc[te & (ae["AESER"] == "Y"), "USUBJID"].nunique(), n_saf),
        # deaths after infusion over the safety population (issue 17: one denominator, not the 23 enrolled)
        "deaths": (dm.loc[dm["USUBJID"].isin(infusion.index), "DTHDTC"].ne("").sum(), n_saf),
    }


@pytest.mark.slow  # full demo run and its PDF
def test_demo_headline_numbers_equal_independent_counts(demo_report):
    html = demo_report["html"].read_text(encoding="utf-8")
    numbers = headline_numbers(html)
    expected = independent_counts()
    n, total = expected["primary"]
    assert (numbers["primary_n"], numbers["primary_N"]) == (str(n), str(total))
    for key in ("teae", "trae_g3", "sae", "deaths"):
        n, total = expected[key]
        assert numbers[key] == fmt_n_pct(n, total), key


@pytest.mark.slow  # full demo run and its PDF
def test_demo_report_has_every_section_and_a_readable_pdf(demo_report):
    html = demo_report["html"].read_text(encoding="utf-8")
    for section_id in SECTION_IDS:
        assert f'id="{section_id}"' in html, section_id
    dq04 = html[html.index('id="tbl-DQ04"'):]
    dq04 = dq04[:dq04.index("</table>")]
    for planted in ("Neutrophil count decreased", "MISSING_AE", "CRS_ASTCT_VS_AE"):  # docs/demo_trial.md
        assert planted in dq04
    reader = PdfReader(demo_report["pdf"])
    assert 10 <= len(reader.pages) <= 60
    text = " ".join(page.extract_text() for page in reader.pages[:6]).replace("\n", " ")  # cover, contents, summary
    n, total = independent_counts()["primary"]
    assert re.search(rf"Primary endpoint .* infusion: {n}/{total} \(", text)
    assert "CONFIDENTIAL" in reader.pages[1].extract_text()


@pytest.mark.slow  # full demo run and its PDF
def test_demo_html_is_byte_identical_on_rerun(demo_report, tmp_path, monkeypatch):
    from ctcae_engine.run.pipeline import build_report

    monkeypatch.setenv("SOURCE_DATE_EPOCH", DEMO_EPOCH)
    again = build_report(DEMO, None, tmp_path, pdf=False)
    assert again["html"].read_bytes() == demo_report["html"].read_bytes()


def test_long_listing_is_cut_with_a_note_and_written_whole_to_csv(tmp_path):
    results = small_results()
    n = 250
    results.tables["AEL_G3"] = declared("AEL_G3").table(pd.DataFrame(
        {"Participant": [f"TOY-1-{i:03d}" for i in range(n)], "Term": "Anemia", "Grade": 3, "Start": "2024-01-02"}))
    paths = write_report(results, tmp_path, pdf=False)
    html = paths["html"].read_text()
    table = html[html.index('id="tbl-AEL_G3"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 1 + 200  # header + the first 200 rows
    assert "TOY-1-199" in table and "TOY-1-200" not in table
    assert "first 200 of 250 rows; full listing in AEL_G3.csv" in html
    full = pd.read_csv(paths["AEL_G3"], dtype=str)
    assert len(full) == n and full["Participant"].iloc[-1] == "TOY-1-249"
    # summary tables are never cut, however long
    longer = pd.concat([results.tables["AET04_TRAE"].frame] * 150, ignore_index=True)
    results.tables["AET04_TRAE"] = declared("AET04_TRAE").table(longer)
    context = build_context(results)
    block = next(b for b in context["sections"]["ae_tables"]["blocks"] if b.get("code") == "AET04_TRAE")
    assert len(block["rows"]) == 300 and block["truncated"] is None


@pytest.mark.parametrize(("value", "text"), [
    ({"n": 3, "pct": 42.857}, "3 (42.9%)"), ({"n": None, "pct": None}, "\u2014"),
    ({"low": 19.41, "high": 99.37}, "19.4 - 99.4"), ({"low": None, "high": 5.0}, "\u2014"),
])
def test_merged_count_cells(value, text):
    assert fmt_value(value) == text
