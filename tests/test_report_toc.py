"""Navigation (issue 17): a linked table of contents after the cover listing every section and every table and figure
the registry puts in the report, page numbers in the PDF, a side navigation in the HTML."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from ctcae_engine import tables as registry
from ctcae_engine.demo import DATA_DIR
from ctcae_engine.run.pipeline import build_report


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", "1751536800")
        return build_report(DATA_DIR, None, tmp_path_factory.mktemp("toc"))


def _toc(html: str) -> str:
    return html[html.index('<nav class="toc"'):html.index("</nav>")]


@pytest.mark.slow  # the demo's HTML and PDF
def test_every_registry_output_of_the_report_is_in_the_toc_and_every_link_lands_on_an_anchor(demo):
    html = demo["html"].read_text(encoding="utf-8")
    toc = _toc(html)
    shown = [o for o in registry.REGISTRY if o.section]
    for output in shown:
        anchor = ("tbl-" if output.kind == "table" else "fig-") + output.id
        assert f'id="{anchor}"' in html, output.id
        assert f'href="#{anchor}"' in toc, output.id
    links = re.findall(r'href="#([^"]+)"', html)
    assert len(links) >= len(shown) + 10  # the tables and figures, the sections, the side navigation
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert not [link for link in links if link not in ids]
    assert html.index('<nav class="toc"') < html.index('id="sec-summary"')  # right after the cover
    assert '<nav class="side-nav"' in html


@pytest.mark.slow  # the demo's HTML and PDF
def test_pdf_toc_page_numbers_point_at_the_tables(demo):
    pages = [page.extract_text() for page in PdfReader(demo["pdf"]).pages]
    contents = next(i for i, text in enumerate(pages) if "Contents" in text.splitlines()[:6])
    for code, caption in (("DTHL01", "DTHL01 \u2013 Listing of deaths"), ("PERS02", "PERS02 \u2013 CAR-T levels"),
                          ("DQ08", "DQ08 \u2013 CAR-T toxicity")):
        toc_lines = [t for page in pages[contents:contents + 3] for t in page.splitlines()]  # it may run over pages
        line = next(t for t in toc_lines if t.startswith(code))
        number = int(re.search(r"(\d+)\s*$", line).group(1))
        assert caption in pages[number - 1].replace("\n", " "), (code, number)
