"""Reading the report (issue 17): collected codes in words, the comparison signs, participant ids and dates that do
not wrap, and no page holding a single row of a table."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from pypdf import PdfReader

from ctcae_engine.report.context import build_context
from ctcae_engine.report.render import render_html, render_pdf
from ctcae_engine.report.wording import for_reading
from ctcae_engine.run.pipeline import StudyResults
from ctcae_engine.tables import declared


@pytest.mark.parametrize(("code", "words"), [
    # ASTCT 2019 (Lee et al. 2019, table 2): "hypoxia requiring high-flow nasal cannula ... facemask"; "hypotension
    # requiring a vasopressor with or without vasopressin"
    ("fever 39.8 C, hypoxia HIGH_FLOW", "fever 39.8 C, hypoxia needing high-flow oxygen"),
    ("fever 39.7 C, hypotension ONE_VASOPRESSOR", "fever 39.7 C, hypotension needing one vasopressor"),
    ("ICE 2, consciousness AWAKENS_TACTILE, seizure RESOLVED",
     "ICE 2, consciousness awakens only to tactile stimulus, seizure resolving rapidly"),
    ("Grade >= 3 n (%)", "Grade \u2265 3 n (%)"),
    ("RECOVERED/RESOLVED", "RECOVERED/RESOLVED"),  # an AE outcome is not a seizure code
    ("GRADE_NEEDS_CONTEXT", "GRADE_NEEDS_CONTEXT"),  # a DQ04 discrepancy code, explained in its legend
])
def test_codes_in_words_and_signs(code, words):
    assert for_reading(code) == words


def _results(n_rows: int = 3) -> StudyResults:
    meta = {"study_id": "TOY-1", "protocol_id": "P", "title": "Toy", "data_cutoff": "2024-06-30",
            "run_time": "2024-07-01T08:00:00+00:00", "engine_version": "0", "ctcae_version": "4.03",
            "n_participants": 2}
    files = pd.DataFrame({"name": ["dm.csv"], "rows": [2], "sha256": ["a" * 64]})
    results = StudyResults(config=None, domains={}, files=files, meta=meta)
    results.tables["CRS01"] = declared("CRS01").table(pd.DataFrame({
        "usubjid": ["TOY-1-0001"], "astct_grade": [3], "astct_drivers": ["fever 39.8 C, hypoxia HIGH_FLOW"],
        "ae_start": ["2024-03-23"]}))
    results.tables["AEL_G3"] = declared("AEL_G3").table(pd.DataFrame({
        "Participant": [f"TOY-1-{i:04d}" for i in range(n_rows)], "Term": "Anemia", "Grade": 3,
        "Start": "2024-01-02"}))
    return results


def test_html_shows_words_signs_and_unwrapped_ids_and_dates_while_the_table_keeps_the_code():
    results = _results()
    html = render_html(build_context(results))
    crs = html[html.index('id="tbl-CRS01"'):]
    crs = crs[:crs.index("</table>")]
    assert "hypoxia needing high-flow oxygen" in crs and "HIGH_FLOW" not in crs
    assert results.tables["CRS01"].frame["astct_drivers"].iloc[0].endswith("HIGH_FLOW")  # tables/CRS01.csv
    assert 'class="nw">TOY-1-0001<' in crs and 'class="nw">2024-03-23<' in crs
    assert "&gt;=" not in html and ">=" not in re.sub(r"<[^>]*>", "", html)


@pytest.mark.slow  # renders a PDF of many short tables
def test_no_page_holds_a_single_row_of_a_table(tmp_path):
    """Tables of 40 to 70 rows, each from the top of a page: with equal row heights one of these lengths leaves a
    single row for the next page unless the last rows are kept together."""
    blocks = []
    for n in range(40, 71, 3):
        html = render_html(build_context(_results(n)))
        body = html[html.index('<table id="tbl-AEL_G3"'):]
        blocks.append('<section style="break-before: page">' + body[:body.index("</table>") + 8] + "</section>")
    head = html[:html.index("<body>") + 6]
    render_pdf(head + "".join(blocks) + "</body></html>", tmp_path / "t.pdf")
    pages = PdfReader(tmp_path / "t.pdf").pages
    rows_per_page = [len(re.findall(r"TOY-1-\d{4}", page.extract_text())) for page in pages]
    assert sum(rows_per_page) == sum(range(40, 71, 3))
    assert 1 not in rows_per_page, rows_per_page
