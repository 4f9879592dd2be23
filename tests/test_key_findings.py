"""Key findings, DTHT01 and AET10 (issue 17) on the demo trial, against numbers recomputed here from the raw CSVs."""

from __future__ import annotations

import pandas as pd
import pytest

from ctcae_engine.demo import DATA_DIR
from ctcae_engine.report.context import build_context
from ctcae_engine.report.render import render_html
from ctcae_engine.run.pipeline import run_study


@pytest.fixture(scope="module")
def results():
    return run_study(DATA_DIR, None, strict=True)


def _raw_deaths() -> pd.DataFrame:
    """Deaths of infused participants and their day from infusion (DM DTHDTC - RFXSTDTC), from dm.csv."""
    dm = pd.read_csv(DATA_DIR / "dm.csv", dtype=str, keep_default_na=False)
    dead = dm[(dm["DTHDTC"] != "") & (dm["RFXSTDTC"] != "")]
    day = (pd.to_datetime(dead["DTHDTC"].str[:10]) - pd.to_datetime(dead["RFXSTDTC"].str[:10])).dt.days
    return pd.DataFrame({"usubjid": dead["USUBJID"], "day": day})


def test_dtht01_counts_deaths_within_30_and_90_days_over_the_safety_population(results):
    raw = _raw_deaths()
    n_safety = pd.read_csv(DATA_DIR / "dm.csv", dtype=str, keep_default_na=False)["RFXSTDTC"].ne("").sum()
    table = results.tables["DTHT01"].frame.set_index("label")
    assert table.loc["All deaths after CAR-T infusion", ["n", "N"]].tolist() == [len(raw), n_safety]
    assert table.loc["Within 30 days of infusion", "n"] == (raw["day"] <= 30).sum()
    assert table.loc["Within 90 days of infusion", "n"] == (raw["day"] <= 90).sum()  # 01006, day 45
    assert table.loc["More than 90 days after infusion", "n"] == (raw["day"] > 90).sum()
    # the one fatal AE of the demo (ae.csv: AETOXGR 5) is 01006's Sepsis, related
    ae = pd.read_csv(DATA_DIR / "ae.csv", dtype=str, keep_default_na=False)
    fatal = ae[ae["AETOXGR"] == "5"]
    assert fatal["USUBJID"].tolist() == ["ALPP-CART-DEMO-01006"] and fatal["AEDECOD"].tolist() == ["Sepsis"]
    assert table.loc["Primary cause: Sepsis", "n"] == 1
    assert table.loc["Primary cause: not recorded as a fatal AE", "n"] == len(raw) - 1


def test_aet10_lists_every_term_of_at_least_10_percent_most_frequent_first(results):
    soc_pt = results.tables["AET04_TEAE"].frame
    terms = soc_pt[soc_pt["level"].eq("term")]
    n_safety = pd.read_csv(DATA_DIR / "dm.csv", dtype=str, keep_default_na=False)["RFXSTDTC"].ne("").sum()
    expected = set(terms.loc[terms["any"] * 100 >= 10 * n_safety, "term"])  # 20 infused: 2 participants = 10 %
    table = results.tables["AET10"].frame
    assert set(table["term"]) == expected
    assert table["any"].is_monotonic_decreasing and (table["any_pct"] >= 10).all()


def test_key_findings_state_the_primary_endpoint_and_each_death_with_links(results):
    html = render_html(build_context(results))
    page = html[html.index('id="sec-key-findings"'):html.index('id="sec-summary"')]
    primary = results.primary.iloc[0]
    assert f'href="#tbl-PRIMARY"><strong>Primary endpoint: {primary["label"]}' in page
    assert f'{primary["n"]}/{primary["N"]}' in page and "95% CI" in page
    for row in _raw_deaths().itertuples():
        assert f"{row.usubjid}, day {row.day} after infusion" in page
    assert "ALPP-CART-DEMO-01006, day 45 after infusion: Sepsis (related to treatment)" in page
    assert 'href="#tbl-DTHT01"' in page and 'href="#tbl-CRST01"' in page and 'href="#tbl-AET10"' in page
    for target in ("tbl-PRIMARY", "tbl-DTHT01", "tbl-CRST01", "tbl-AET10", "tbl-AET01"):
        assert f'id="{target}"' in html


def test_key_findings_state_hematotoxicity_and_the_dlt_stopping_rule(results):
    """The page states grade >= 3 ICAHT per phase and each dose level's DLT count and rule status, each linked to
    its table, with the same numbers as ICAHT02 and DLT01."""
    from ctcae_engine.report.context import key_findings

    items = {item["href"]: item for item in key_findings(results)["items"]}
    icaht = results.tables["ICAHT02"].frame.set_index(["phase", "label"])
    early = icaht.loc[("Early ICAHT (day 0-30)", "Grade >= 3")]
    stated = items["#tbl-ICAHT02"]["details"][0]
    assert f"Early ICAHT (day 0-30): {int(early['n'])} of {int(early['N'])} participants" in stated
    dlt = results.tables["DLT01"].frame.iloc[0]
    assert items["#tbl-DLT01"]["details"] == [
        f"{dlt['Dose level']}: {dlt['With a DLT']} of {dlt['DLT-evaluable']} evaluable with a DLT; "
        f"{dlt['Stopping rule']}"]
