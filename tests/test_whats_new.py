"""What is new since the last run (issue 8): summary.json keys, compare_summaries, new_since_last_run.json and the
executive summary, on the demo trial.

The "previous run" is the demo data as it might have stood a week earlier: one treatment-emergent AE not yet
entered, one AE entered at a lower grade, one grade >= 3 lab result not yet in LB, one death not yet recorded
(DM DTHDTC / DTHFL blank, no DS DEATH record). Its rows are also shuffled and its --SEQ renumbered, so the
comparison must find exactly those four changes and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ctcae_engine.demo import DATA_DIR
from ctcae_engine.report import SCHEMA, WHATS_NEW_NAME, compare_summaries, summary_dict, write_report
from ctcae_engine.report.context import WHATS_NEW_ROWS, build_context
from ctcae_engine.report.render import render_html
from ctcae_engine.run.pipeline import run_study
from ctcae_terms import allowed_grades

DEAD_BEFORE_NOT_RECORDED = "ALPP-CART-DEMO-01003"  # died 2024-10-05, no fatal AE (docs/demo_trial.md)


def _read(folder: Path, domain: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{domain}.csv", dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, folder: Path, domain: str) -> None:
    frame.to_csv(folder / f"{domain}.csv", index=False, lineterminator="\n")


def _renumber(frame: pd.DataFrame, seq: str, seed: int) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """Rows shuffled and --SEQ renumbered per participant in the new order; old (USUBJID, SEQ) -> new SEQ."""
    out = frame.sample(frac=1, random_state=seed).reset_index(drop=True)
    new = (out.groupby("USUBJID").cumcount() + 101).astype(str)
    mapping = dict(zip(zip(out["USUBJID"], out[seq], strict=True), new, strict=True))
    return out.assign(**{seq: new}), mapping


def _plant(current, folder: Path) -> dict[str, object]:
    """Write the "previous" study folder; return what the comparison must find."""
    ae = current.ae
    te = ae[ae["trtemfl"].astype(bool)].sort_values(["USUBJID", "AESEQ"], key=lambda s: s.str.zfill(8))
    full_date = te["AESTDTC"].str.len().eq(10).fillna(False)
    dropped = te[full_date & te["grade"].eq(2).fillna(False)].iloc[0]
    lowerable = [(i, r) for i, r in te[full_date & te["grade"].ge(2).fillna(False)].iterrows()
                 if int(r["grade"]) - 1 in allowed_grades(r["ctcae_term"]) and r["USUBJID"] != dropped["USUBJID"]]
    lowered = lowerable[0][1]

    labs = current.labs
    g3 = labs[labs["grade"].ge(3).fillna(False) & ~labs["baseline"].astype(bool) & labs["adt"].notna()]
    day = g3["adt"].dt.strftime("%Y-%m-%d")
    lab_keys = g3["usubjid"] + " | " + g3["term"] + " | " + day
    all_keys = {r["key"] for r in summary_dict(current)["lab_g3"]}
    counts = (labs.loc[labs["grade"].ge(3).fillna(False), "usubjid"] + " | "
              + labs.loc[labs["grade"].ge(3).fillna(False), "term"] + " | "
              + labs.loc[labs["grade"].ge(3).fillna(False), "adt"].dt.strftime("%Y-%m-%d")).value_counts()
    single = lab_keys[lab_keys.map(counts).eq(1) & lab_keys.isin(all_keys)]
    lab_row = g3.loc[single.index[len(single) // 2]]

    shutil.copytree(DATA_DIR, folder)
    raw_ae, supp = _read(folder, "ae"), _read(folder, "suppae")
    is_dropped = raw_ae["USUBJID"].eq(dropped["USUBJID"]) & raw_ae["AESEQ"].eq(dropped["AESEQ"])
    is_lowered = raw_ae["USUBJID"].eq(lowered["USUBJID"]) & raw_ae["AESEQ"].eq(lowered["AESEQ"])
    assert is_dropped.sum() == 1 and is_lowered.sum() == 1
    raw_ae.loc[is_lowered, "AETOXGR"] = str(int(lowered["grade"]) - 1)
    raw_ae, mapping = _renumber(raw_ae[~is_dropped], "AESEQ", seed=7)
    supp = supp[[(u, s) in mapping for u, s in zip(supp["USUBJID"], supp["IDVARVAL"], strict=True)]]
    supp = supp.assign(IDVARVAL=[mapping[(u, s)] for u, s in zip(supp["USUBJID"], supp["IDVARVAL"], strict=True)])
    _write(raw_ae, folder, "ae")
    _write(supp.iloc[::-1], folder, "suppae")
    lb = _read(folder, "lb")
    keep = ~(lb["USUBJID"].eq(lab_row["usubjid"]) & lb["LBSEQ"].eq(lab_row["LBSEQ"]))
    assert (~keep).sum() == 1
    _write(_renumber(lb[keep], "LBSEQ", seed=11)[0], folder, "lb")
    dm = _read(folder, "dm")
    dm.loc[dm["USUBJID"].eq(DEAD_BEFORE_NOT_RECORDED), ["DTHDTC", "DTHFL"]] = ""
    _write(dm, folder, "dm")
    ds = _read(folder, "ds")
    _write(ds[~(ds["USUBJID"].eq(DEAD_BEFORE_NOT_RECORDED) & ds["DSDECOD"].eq("DEATH"))], folder, "ds")
    return {
        "new_ae": f"{dropped['USUBJID']} | {dropped['ctcae_term']} | {dropped['AESTDTC']}",
        "rose": (f"{lowered['USUBJID']} | {lowered['ctcae_term']} | {lowered['AESTDTC']}", int(lowered["grade"]) - 1,
                 int(lowered["grade"])),
        "new_lab": single.loc[lab_row.name],
        "lab_term": lab_row["term"],
        "dropped_term": dropped["ctcae_term"],
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if not (DATA_DIR / "ae.csv").exists():
        pytest.skip("demo data not generated")
    current = run_study(DATA_DIR, None)
    previous_dir = tmp_path_factory.mktemp("previous") / "data"
    planted = _plant(current, previous_dir)
    previous = run_study(previous_dir, None)
    no_lb_dir = tmp_path_factory.mktemp("no_lb") / "data"
    shutil.copytree(DATA_DIR, no_lb_dir)
    (no_lb_dir / "lb.csv").unlink()
    return {"current": current, "previous": previous, "planted": planted,
            "summaries": (summary_dict(previous), summary_dict(current)),
            "no_lb": summary_dict(run_study(no_lb_dir, None))}


def _table(html: str, table_id: str) -> str:
    table = html[html.index(f'id="{table_id}"'):]
    return table[:table.index("</table>")]


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_summary_json_keys_every_teae_g3_observation_and_death(runs):
    summary = runs["summaries"][1]
    current = runs["current"]
    assert summary["schema"] == SCHEMA == 2
    assert len(summary["aes"]) == int(current.ae["trtemfl"].sum())  # demo: no two TEAEs share participant/term/day
    assert [r["key"] for r in summary["aes"]] == sorted({r["key"] for r in summary["aes"]})
    assert {r["usubjid"] for r in summary["deaths"]} == {"ALPP-CART-DEMO-01003", "ALPP-CART-DEMO-01006",
                                                        "ALPP-CART-DEMO-01010"}
    assert all(r["grade"] >= 3 for r in summary["lab_g3"]) and summary["lab_g3_domains"] == ["LB", "VS", "EG"]
    json.dumps(summary)  # JSON-ready


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_comparison_finds_exactly_the_planted_changes(runs):
    diff = compare_summaries(*runs["summaries"])
    planted = runs["planted"]
    assert [r["key"] for r in diff["new_aes"]] == [planted["new_ae"]]
    key, before, now = planted["rose"]
    assert [(r["key"], r["previous_grade"], r["grade"]) for r in diff["grade_rose"]] == [(key, before, now)]
    assert [r["key"] for r in diff["new_lab_g3"]] == [planted["new_lab"]]
    assert [(r["usubjid"], r["date"]) for r in diff["new_deaths"]] == [(DEAD_BEFORE_NOT_RECORDED, "2024-10-05")]
    assert diff["not_in_current"] == {"aes": 0, "lab_g3": 0, "deaths": 0}
    assert [diff[name] for name in ("removed_aes", "removed_lab_g3", "removed_deaths")] == [[], [], []]
    assert diff["removed_count"] == 0
    assert diff["unavailable"] == {}
    assert {c["key"]: c["change"] for c in diff["counts"]}["deaths"] == 1


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_nothing_is_new_against_itself(runs):
    current = runs["summaries"][1]
    diff = compare_summaries(json.loads(json.dumps(current)), current)
    assert [diff[name] for name in ("new_aes", "grade_rose", "new_lab_g3", "new_deaths")] == [[], [], [], []]


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_json_file_and_executive_summary_show_the_changes(runs, tmp_path):
    previous_run = write_report(runs["previous"], tmp_path / "previous", pdf=False)
    paths = write_report(runs["current"], tmp_path / "now", previous=tmp_path / "previous", pdf=False)
    text = paths["whats_new"].read_text(encoding="utf-8")
    assert paths["whats_new"].name == WHATS_NEW_NAME
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data == compare_summaries(json.loads(previous_run["summary"].read_text()), runs["summaries"][1])
    html = paths["html"].read_text(encoding="utf-8")
    planted = runs["planted"]
    for table_id, needle in (("whats-new-aes", planted["dropped_term"]), ("whats-grade-rose", planted["rose"][0]
                                                                            .split(" | ")[1]),
                             ("whats-new-lab-g3", planted["lab_term"]),
                             ("whats-new-deaths", DEAD_BEFORE_NOT_RECORDED)):
        table = html[html.index(f'id="{table_id}"'):]
        table = table[:table.index("</table>")]
        assert table.count("<tr>") == 2 and needle in table, table_id  # header + the one change
    rerun = write_report(runs["current"], tmp_path / "again", previous=tmp_path / "previous", pdf=False)
    assert rerun["whats_new"].read_bytes() == paths["whats_new"].read_bytes()


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_long_lists_are_cut_in_the_report_and_whole_in_the_json(runs, tmp_path):
    previous = json.loads(json.dumps(runs["summaries"][1]))
    previous["lab_g3"] = []  # every grade >= 3 observation of this run is new
    paths = write_report(runs["current"], tmp_path, previous=previous, pdf=False)
    n = len(runs["summaries"][1]["lab_g3"])
    assert len(json.loads(paths["whats_new"].read_text())["new_lab_g3"]) == n > WHATS_NEW_ROWS
    html = paths["html"].read_text(encoding="utf-8")
    assert _table(html, "whats-new-lab-g3").count("<tr>") == 1 + WHATS_NEW_ROWS
    assert f"... and {n - WHATS_NEW_ROWS} more, see {WHATS_NEW_NAME}." in html


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_long_removed_list_is_cut_in_the_report_and_whole_in_the_json(runs):
    previous = runs["summaries"][1]
    now = dict(previous, lab_g3=[])  # a delivery whose grade >= 3 observations all vanished (same domains graded)
    diff = compare_summaries(previous, now)
    n = len(previous["lab_g3"])
    assert len(diff["removed_lab_g3"]) == n == diff["removed_count"] > WHATS_NEW_ROWS
    html = render_html(build_context(runs["current"], whats_new=diff))
    assert _table(html, "whats-removed-lab-g3").count("<tr>") == 1 + WHATS_NEW_ROWS
    assert f"... and {n - WHATS_NEW_ROWS} more, see {WHATS_NEW_NAME}." in html
    assert f"<strong>{n}</strong> records of the previous run are no longer in the data" in html


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_first_run_has_nothing_to_compare(runs, tmp_path):
    paths = write_report(runs["current"], tmp_path, pdf=False)
    data = json.loads(paths["whats_new"].read_text())
    assert data["previous"] is None and data["new_aes"] is None and data["new_deaths"] is None
    assert data["unavailable"]["new_aes"] == "first run: nothing to compare"
    assert data["removed_aes"] is None and data["removed_deaths"] is None and data["removed_count"] == 0
    assert data["unavailable"]["removed_lab_g3"] == "first run: nothing to compare"
    assert "First run: nothing to compare." in paths["html"].read_text(encoding="utf-8")


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_previous_summary_of_schema_1_compares_counts_only(runs, tmp_path):
    old = {"study_id": "ALPP-CART-DEMO", "data_cutoff": "2025-03-31", "primary": {"n": 19, "N": 20},
           "headline": {"deaths": {"n": 2, "N": 23, "events": 2}},
           "events": {"DTHL01": ["ALPP-CART-DEMO-01006 | 2024-08-06 |  | 155"]}}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "summary.json").write_text(json.dumps(old))
    paths = write_report(runs["current"], tmp_path / "now", previous=tmp_path / "old", pdf=False)
    data = json.loads(paths["whats_new"].read_text())
    assert data["previous"] == {"study_id": "ALPP-CART-DEMO", "data_cutoff": "2025-03-31", "schema": 1}
    assert all(data[name] is None for name in ("new_aes", "grade_rose", "new_lab_g3", "new_deaths", "removed_aes",
                                               "removed_lab_g3", "removed_deaths"))
    assert "schema 1" in data["unavailable"]["new_deaths"]
    counts = {c["key"]: (c["previous"], c["now"]) for c in data["counts"]}
    assert counts["primary"] == (19, 20) and counts["deaths"] == (2, 3)
    html = paths["html"].read_text(encoding="utf-8")
    assert "New deaths: not compared (detailed comparison unavailable for the previous run" in html
    assert "Deaths no longer in the data: not compared (detailed comparison unavailable" in html
    assert 'id="whats-removed-count"' not in html  # nothing compared: no "nothing has gone" claim
    assert 'id="whats-new-aes"' in html and "whats-new-aes\" class" not in html  # no table listing every AE


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_another_study_is_not_compared(runs):
    previous = dict(runs["summaries"][1], study_id="OTHER-STUDY")
    diff = compare_summaries(previous, runs["summaries"][1])
    assert diff["new_aes"] is None and "OTHER-STUDY" in diff["unavailable"]["new_aes"]


def test_grade_from_unknown_is_not_a_rise():
    record = {"key": "P1 | Anemia | 2024-01-02", "usubjid": "P1", "term": "Anemia", "onset": "2024-01-02"}
    base = {"schema": 2, "study_id": "S", "lab_g3": [], "lab_g3_domains": ["LB"], "deaths": []}
    before = dict(base, aes=[dict(record, grade=None)])
    now = dict(base, aes=[dict(record, grade=3)])
    diff = compare_summaries(before, now)
    assert diff["new_aes"] == [] and diff["grade_rose"] == []
    assert compare_summaries(now, dict(base, aes=[dict(record, grade=2)]))["grade_rose"] == []  # fell: not listed


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"], ids=["malformed JSON", "not an object"])
@pytest.mark.slow  # the runs fixture: three full demo runs
def test_unreadable_previous_summary_is_a_clear_error(runs, tmp_path, content):
    (tmp_path / "summary.json").write_text(content)
    with pytest.raises(ValueError, match="not a report summary JSON"):
        write_report(runs["current"], tmp_path / "out", previous=tmp_path, pdf=False)


def test_part_missing_now_is_not_compared_and_removed_keys_are_counted():
    record = {"key": "P1 | Anemia | 2024-01-02", "usubjid": "P1", "term": "Anemia", "onset": "2024-01-02", "grade": 3}
    before = {"schema": 2, "study_id": "S", "aes": [record], "lab_g3": [], "lab_g3_domains": ["LB"],
              "deaths": [{"key": "P2", "usubjid": "P2", "date": "date unknown"}]}
    now = dict(before, aes=[], lab_g3=None, deaths=[], unavailable={"lab_g3": "no LB, VS or EG domain"})
    diff = compare_summaries(before, now)
    assert diff["new_lab_g3"] is None
    assert diff["unavailable"]["new_lab_g3"] == "not available in this run: no LB, VS or EG domain"
    assert diff["not_in_current"] == {"aes": 1, "deaths": 1}  # corrected or deleted since the previous run
    assert diff["new_aes"] == [] and diff["new_deaths"] == []


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_records_gone_since_the_previous_run_are_listed(runs, tmp_path):
    """The planted changes seen backwards: the newer delivery lost an AE, a grade >= 3 lab row and a death."""
    later, earlier = runs["summaries"]  # "later" lacks what "earlier" (the full demo) has
    planted = runs["planted"]
    diff = compare_summaries(earlier, later)
    assert [r["key"] for r in diff["removed_aes"]] == [planted["new_ae"]]
    assert [r["key"] for r in diff["removed_lab_g3"]] == [planted["new_lab"]]
    assert [(r["usubjid"], r["date"]) for r in diff["removed_deaths"]] == [(DEAD_BEFORE_NOT_RECORDED, "2024-10-05")]
    assert diff["not_in_current"] == {"aes": 1, "lab_g3": 1, "deaths": 1} and diff["removed_count"] == 3
    assert diff["removed_aes"] == [r for r in earlier["aes"] if r["key"] == planted["new_ae"]]  # as it was then
    assert diff["grade_rose"] == [] and diff["new_aes"] == []  # a grade that fell is not a rise
    write_report(runs["current"], tmp_path / "earlier", pdf=False)
    paths = write_report(runs["previous"], tmp_path / "later", previous=tmp_path / "earlier", pdf=False)
    data = json.loads(paths["whats_new"].read_text())
    assert data["removed_count"] == 3 and data["removed_aes"] == diff["removed_aes"]
    html = paths["html"].read_text(encoding="utf-8")
    assert "<h3 id=\"whats-removed\">No longer in the data</h3>" in html
    assert "<strong>3</strong> records of the previous run are no longer in the data" in html
    for table_id, needle in (("whats-removed-aes", planted["dropped_term"]),
                             ("whats-removed-lab-g3", planted["lab_term"]),
                             ("whats-removed-deaths", DEAD_BEFORE_NOT_RECORDED)):
        table = _table(html, table_id)
        assert table.count("<tr>") == 2 and needle in table, table_id  # header + the one record


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_domain_not_graded_in_the_previous_run_is_said_not_hidden(runs, tmp_path):
    """Previous run without lb.csv: LB grade >= 3 rows are neither new nor silently dropped; VS/EG still compared."""
    before, now = runs["no_lb"], runs["summaries"][1]
    assert before["lab_g3_domains"] == ["VS", "EG"]
    assert {r["domain"] for r in now["lab_g3"]} == {"LB"}  # the demo has no VS/EG grade >= 3: add one to this run
    vs_record = {"key": "ALPP-CART-DEMO-01004 | Hypertension | 2024-06-02", "usubjid": "ALPP-CART-DEMO-01004",
                 "term": "Hypertension", "date": "2024-06-02", "grade": 3, "domain": "VS", "test": "SYSBP",
                 "baseline": False}
    now = dict(now, lab_g3=[*now["lab_g3"], vs_record])
    diff = compare_summaries(before, now)
    assert diff["new_lab_g3"] == [vs_record]  # the domain graded in both runs is compared
    assert diff["unavailable"] == {
        "new_lab_g3": "LB was not graded in the previous run: its grade >= 3 observations are not compared"}
    assert diff["removed_lab_g3"] == []
    back = compare_summaries(now, runs["no_lb"])  # LB gone from the newer delivery: not "every LB row removed"
    assert back["removed_lab_g3"] == [vs_record] and back["removed_count"] == 1
    assert back["unavailable"] == {"removed_lab_g3": "LB was not graded in this run: its grade >= 3 observations of "
                                                     "the previous run are not compared"}
    html = render_html(build_context(runs["current"], whats_new=diff))
    assert ("New grade \u2265 3 lab, vital-sign and ECG observations: partly compared (LB was not graded in the "
            "previous run: its grade \u2265 3 observations are not compared).") in html  # the signs (issue 17)
    assert _table(html, "whats-new-lab-g3").count("<tr>") == 2


def _dthl01_records(listing: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    return sorted(zip(listing["Participant"], listing["Date of death"].fillna("date unknown"),
                      listing["Date imputed"], listing["Fatal AE (CTCAE term)"], strict=True))


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_deaths_are_those_of_the_deaths_listing(runs):
    deaths = runs["summaries"][1]["deaths"]
    assert [(r["usubjid"], r["date"], r["date_imputed"], r["cause"]) for r in deaths] == _dthl01_records(
        runs["current"].tables["DTHL01"].frame)


@pytest.mark.parametrize("listing", ["renamed", "absent"], ids=["DTHL01 display labels renamed", "no DTHL01 table"])
@pytest.mark.slow  # the runs fixture: three full demo runs
def test_death_keys_do_not_depend_on_the_listing_labels(runs, listing):
    current = runs["current"]
    tables = dict(current.tables)
    if listing == "renamed":
        renamed = tables["DTHL01"].frame.rename(columns={"Participant": "Subject", "Date of death": "Died on"})
        tables["DTHL01"] = dataclasses.replace(tables["DTHL01"], frame=renamed)
    else:
        del tables["DTHL01"]
    deaths = summary_dict(dataclasses.replace(current, tables=tables))["deaths"]
    assert [r["key"] for r in deaths] == ["ALPP-CART-DEMO-01003", "ALPP-CART-DEMO-01006", "ALPP-CART-DEMO-01010"]
    assert deaths == runs["summaries"][1]["deaths"]


@pytest.mark.slow  # the runs fixture: three full demo runs
def test_undated_deaths_and_a_fatal_ae_only_keep_one_key_each(runs):
    """DTHFL = Y without a date for two participants, and a death known only from a fatal AE: three keys, no merge."""
    current = runs["current"]
    pop = current.population.copy()
    undated = pop["usubjid"].isin(["ALPP-CART-DEMO-01001", "ALPP-CART-DEMO-01002"])
    pop.loc[undated, ["dthfl", "dthdt_imputed"]] = [True, "Y"]
    ae_only = pop["usubjid"].eq("ALPP-CART-DEMO-01006")  # fatal AE (Sepsis) in the AE domain
    pop.loc[ae_only, ["dthfl", "dthdt"]] = [False, pd.NaT]
    deaths = summary_dict(dataclasses.replace(current, population=pop))["deaths"]
    by_key = {r["key"]: (r["date"], r["date_imputed"], r["cause"]) for r in deaths}
    assert len(deaths) == len(by_key) == 5
    assert by_key["ALPP-CART-DEMO-01001"] == by_key["ALPP-CART-DEMO-01002"] == ("date unknown", "Y",
                                                                                 "no fatal AE recorded")
    assert by_key["ALPP-CART-DEMO-01006"] == ("date unknown", "", "Sepsis")
    assert current.population["dthfl"].sum() == 3  # the caller's frame untouched
