"""RTF tables (one per registry table, beside the CSV) and the run folder's ADaM datasets (adam/)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from ctcae_engine.write.dataset_json import read_dataset_json
from ctcae_engine.write.rtf import escape, table_rtf
from ctcae_engine.write.xpt import read_xpt


def _balanced(text: str) -> bool:
    depth, i = 0, 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2  # an escaped character (\{, \}, \\) or the first letter of a control word
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
        i += 1
    return depth == 0


def _plain(rtf: str) -> str:
    return rtf.replace("\n", "")


def test_rtf_document_has_title_headers_cells_note_and_page_numbers() -> None:
    frame = pd.DataFrame([["Fever {G2}", 3, None], ["Névé \\ x", 1, 12.5]],
                         columns=pd.MultiIndex.from_tuples([("", "Term"), ("Arm A", "n"), ("Arm A", "%")]))
    rtf = table_rtf("AEs by grade {all}", frame, table_id="AET04", note="Percentages of N.", study="S1")
    assert rtf.startswith("{\\rtf1\\ansi") and rtf.rstrip().endswith("}") and _balanced(rtf)
    rtf.encode("ascii")  # every other character escaped
    assert escape("AEs by grade {all}") in rtf and "\\trhdr" in rtf  # header rows repeat on every page
    assert "{\\header" in rtf and "fldinst PAGE" in rtf and "fldinst NUMPAGES" in rtf and "S1 - AET04" in rtf
    for cell in ("Term", "Arm A", "n", "%", escape("Fever {G2}"), "3", escape("Névé \\ x"), "12.5",
                 "Percentages of N."):
        assert f" {cell}" in _plain(rtf), cell
    assert rtf.count("\\row") == 4  # two header levels, two rows
    empty = table_rtf("Nothing", pd.DataFrame(columns=["a"]), empty="No serious AEs.")
    assert "No serious AEs." in empty and _balanced(empty)


def test_escape_handles_rtf_specials_and_unicode() -> None:
    assert escape("a{b}\\c") == "a\\{b\\}\\\\c"
    assert escape("≥ 3") == "\\u8805? 3" and escape("é") == "\\u233?"
    assert escape("😀") == "\\u-10179?\\u-8704?"  # a surrogate pair as two signed 16-bit units


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ctcae_engine.read.config import load_config
    from ctcae_engine.run.scheduled import execute

    root = tmp_path_factory.mktemp("runs")
    outcome = execute(load_config(None), out=root, run_time=datetime(2026, 1, 5, 2, 0, tzinfo=timezone.utc))
    assert outcome.exit_code == 0 and outcome.folder is not None
    return outcome.folder


def _csv_cells(path: Path) -> tuple[list[str], list[list[str]]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    def undo(text: str) -> str:  # the CSV's spreadsheet guard: a leading quote before =, +, -, @
        return text[1:] if text.startswith("'") and text[1:2] in ("=", "+", "-", "@", "\t", "\r") else text
    return [undo(c) for c in frame.columns], [[undo(v) for v in row] for row in frame.itertuples(index=False)]


@pytest.mark.slow  # a full demo run
def test_every_table_has_an_rtf_with_its_title_and_every_cell_of_the_csv(run_folder: Path) -> None:
    from ctcae_engine.tables import REGISTRY

    titles = {o.id: o.title for o in REGISTRY}
    csvs = sorted((run_folder / "tables").glob("*.csv"))
    assert csvs and {p.stem for p in (run_folder / "tables").glob("*.rtf")} == {p.stem for p in csvs}
    for csv in csvs:
        rtf = (csv.with_suffix(".rtf")).read_text(encoding="ascii")
        assert rtf.startswith("{\\rtf1") and _balanced(rtf), csv.name
        flat = _plain(rtf)
        if csv.stem in titles:
            assert escape(titles[csv.stem]).split("\n")[0][:60] in flat, csv.name
        header, rows = _csv_cells(csv)
        for cell in header[:50] + [c for row in rows[:200] for c in row]:
            if cell and not cell.startswith("Unnamed:"):
                assert f" {escape(cell)}\\" in flat, (csv.name, cell)


@pytest.mark.slow  # a full demo run
def test_run_folder_adam_datasets_agree_across_formats(run_folder: Path) -> None:
    manifest = json.loads((run_folder / "manifest.json").read_text())
    listed = {o["file"] for o in manifest["outputs"]}
    for name in ("adlb", "advs", "adeg", "adae"):
        parquet = pd.read_parquet(run_folder / "adam" / f"{name}.parquet")
        graded = pd.read_parquet(run_folder / "graded" / f"{name[2:]}.parquet")
        assert len(parquet) == len(graded) and "usubjid" not in parquet.columns
        back, labels = read_xpt(run_folder / "adam" / f"{name}.xpt")
        assert list(back.columns) == list(parquet.columns) and len(back) == len(parquet)
        assert labels["USUBJID"] == "Unique Subject Identifier"
        text = parquet.select_dtypes(include="object").columns
        assert back[text].fillna("").astype(str).equals(parquet[text].astype(str))
        assert read_dataset_json(run_folder / "adam" / f"{name}.json").shape == parquet.shape
        assert {f"adam/{name}.parquet", f"adam/{name}.xpt", f"adam/{name}.json"} <= listed
    adlb = pd.read_parquet(run_folder / "adam" / "adlb.parquet")
    graded = pd.read_parquet(run_folder / "graded" / "lb.parquet")
    # a non-blank ADaM grade is the engine's grade, signed for the low direction; every grade > 0 is there
    given = adlb["ATOXGR"].ne("")
    assert (adlb.loc[given, "ATOXGR"].astype(int).abs() == graded.loc[given, "grade"]).all()
    assert given[graded["grade"].fillna(0).gt(0)].all()


def test_run_folder_has_per_assessment_crs_and_icans_grades(run_folder: Path) -> None:
    """Issue 14: the per-assessment ASTCT grades with their drivers are written to graded/. Checked against the XC
    file read with plain pandas: one row per assessment day, and ASTCT 2019 CRS grade 1 "Temperature >=38 C; no
    hypotension; no hypoxia" on the days with fever, no antipyretic mask, HYPOTEN NONE and OXYGEN NONE."""
    from ctcae_engine.demo import DATA_DIR

    xc = pd.read_csv(DATA_DIR / "xc.csv", dtype=str)
    wide = xc.pivot_table(index=["USUBJID", "XCDTC"], columns="XCTESTCD", values="XCORRES", aggfunc="first")
    crs = pd.read_parquet(run_folder / "graded" / "crs.parquet")
    icans = pd.read_parquet(run_folder / "graded" / "icans.parquet")
    assert len(crs) == len(icans) == len(wide)
    assert {"grade", "drivers", "reason"} <= set(crs.columns) and {"grade", "drivers", "reason"} <= set(icans.columns)
    fever_only = wide[wide["TEMPMAX"].astype(float).ge(38) & wide["FEVMASK"].eq("N") & wide["HYPOTEN"].eq("NONE")
                      & wide["OXYGEN"].eq("NONE")]
    assert len(fever_only) > 0
    by_day = crs.set_index([crs["usubjid"], crs["dtc"].astype(str)])["grade"]
    assert (by_day.loc[fever_only.index].astype(int) == 1).all()
    assert (run_folder / "graded" / "crs.csv").exists() and (run_folder / "graded" / "icans.csv").exists()
