"""ADaM-style outputs (ADLB / ADVS / ADEG / ADAE) and their writers: SAS XPT v5, CDISC Dataset-JSON v1.1, Parquet.

Expected grades are typed from the CTCAE v4.03 text (quoted at each case); ATOXGR's sign follows admiral's
``derive_var_atoxgr`` documentation (quoted in the test). Variable labels are the ADaM IG / OCCDS labels.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import ctcae_engine as ce
from ctcae_engine.read.files import read_domain
from ctcae_engine.run.cli import app
from ctcae_engine.write.adam import LABELS, label_of, signed_grade, to_adae, to_adeg, to_adlb, to_advs
from ctcae_engine.write.dataset_json import read_dataset_json, write_dataset_json
from ctcae_engine.write.formats import write_dataset
from ctcae_engine.write.xpt import check_names, read_xpt, write_xpt

DEMO = Path(ce.__file__).parent / "demo" / "data"
SCHEMA = Path(__file__).parent / "data" / "dataset_json_1_1.schema.json"
CUTOFF = datetime(2025, 6, 30)


def _lab(testcd: str, test: str, value: str, unit: str, lo: str, hi: str, dtc: str, blfl: str = "") -> dict:
    return {"STUDYID": "S1", "DOMAIN": "LB", "USUBJID": "S1-001", "LBTESTCD": testcd, "LBTEST": test,
            "LBSTRESN": value, "LBSTRESU": unit, "LBSTNRLO": lo, "LBSTNRHI": hi, "LBDTC": dtc, "LBBLFL": blfl}


@pytest.fixture(scope="module")
def hand_adlb() -> pd.DataFrame:
    rows = [
        _lab("ALT", "Alanine Aminotransferase", "100", "U/L", "7", "40", "2024-03-01", "Y"),  # baseline 2.5 x ULN
        _lab("ALT", "Alanine Aminotransferase", "210", "U/L", "7", "40", "2024-03-10"),  # 5.25 x ULN
        _lab("NEUT", "Neutrophils", "0.4", "10^9/L", "1.8", "7.5", "2024-03-10"),
        _lab("GLUC", "Glucose", "abc", "mmol/L", "3.9", "5.6", "2024-03-10"),
    ]
    return to_adlb(ce.grade_labs(pd.DataFrame(rows)))


def test_adlb_carries_the_adam_toxicity_variables(hand_adlb: pd.DataFrame) -> None:
    alt_base, alt, neut, gluc = (hand_adlb.iloc[i] for i in range(4))
    # CTCAE v4.03 ALT increased: "Grade 1 >ULN - 3.0 x ULN" (100 = 2.5 x ULN 40); "Grade 3 >5.0 - 20.0 x ULN" (210)
    assert (alt_base["ATOXGRH"], alt_base["ABLFL"], alt["ATOXGRH"], alt["ATOXGR"]) == ("1", "Y", "3", "3")
    assert alt["ATOXDSCH"] == "Alanine aminotransferase increased" and alt["ATOXDSCL"] == ""
    assert (alt["BTOXGRH"], alt["BNRIND"], alt["BASE"], alt["ANRIND"]) == ("1", "HIGH", 100.0, "HIGH")
    # CTCAE v4.03 Neutrophil count decreased: "Grade 4 <500/mm3; <0.5 x 10e9 /L": low direction, signed -4
    assert (neut["ATOXDSCL"], neut["ATOXGRL"], neut["ATOXGR"]) == ("Neutrophil count decreased", "4", "-4")
    assert neut["ANRIND"] == "LOW" and neut["BTOXGRL"] == "" and neut["BNRIND"] == ""  # no baseline record
    assert (alt["AVAL"], alt["AVALU"], alt["PARAMCD"], alt["PARAM"]) == (210.0, "U/L", "ALT",
                                                                          "Alanine Aminotransferase (U/L)")
    # a value the engine cannot read keeps every grade blank and its reason; the row is not dropped
    assert (gluc["ATOXGRL"], gluc["ATOXGRH"], gluc["ATOXGR"], gluc["ANRIND"]) == ("", "", "", "")
    assert gluc["CTCRSN"] == "non-numeric result 'abc'" and len(hand_adlb) == 4
    assert alt["CTCRULE"].startswith("Alanine aminotransferase increased G3") and "200" in alt["CTCTHR"]


def test_signed_grade_follows_admirals_derive_var_atoxgr() -> None:
    # admiral derive_var_atoxgr: "Low grade not missing and > 0 - overall holds low grade"; "High grade not missing
    # and > 0 - overall holds high grade"; "(Only high direction OR low direction is NORMAL) and high grade normal -
    # overall NORMAL"; idem for low; "otherwise set to missing" (its test: "ATOXGRL is ungradable so cannot say
    # ATOXGR is normal")
    cases = [  # ATOXDSCL, ATOXGRL, ATOXDSCH, ATOXGRH, ATOXGR
        ("Hypoglycemia", "", "Hyperglycemia", "0", ""),
        ("Hypoglycemia", "0", "Hyperglycemia", "", ""),
        ("Hypoglycemia", "0", "Hyperglycemia", "1", "1"),
        ("Hypoglycemia", "0", "Hyperglycemia", "0", "0"),
        ("", "", "INR increased", "0", "0"),
        ("Hypophosphatemia", "1", "", "", "-1"),
        ("Hypophosphatemia", "0", "", "", "0"),
        ("", "", "", "", ""),
        ("Anemia", "3", "Hemoglobin increased", "0", "-3"),
    ]
    frame = pd.DataFrame(cases, columns=["dl", "gl", "dh", "gh", "expected"])
    got = signed_grade(frame["dl"], frame["gl"], frame["dh"], frame["gh"])
    assert got.tolist() == frame["expected"].tolist()


def test_adam_names_fit_xpt_v5_and_the_labels_are_the_ig_labels(hand_adlb: pd.DataFrame) -> None:
    assert "usubjid" not in hand_adlb.columns and hand_adlb.columns.is_unique
    check_names(list(hand_adlb.columns))
    assert all(len(label) <= 40 for label, _ in LABELS.values())
    assert label_of("ATOXGRL") == "Analysis Toxicity Grade Low"
    assert label_of("BTOXGRH") == "Baseline Toxicity Grade High"
    assert label_of("ATOXDSCH") == "Analysis Toxicity Description High" and label_of("AVAL") == "Analysis Value"
    assert label_of("TRTEMFL") == "Treatment Emergent Analysis Flag" and label_of("LBSEQ") == "Sequence Number"
    doc = (Path(__file__).parents[1] / "docs" / "adam_outputs.md").read_text(encoding="utf-8")
    for name in LABELS:  # every variable written is documented
        assert f"`{name}`" in doc, name


def test_the_graded_frame_itself_is_refused_by_xpt_with_the_clashing_names(tmp_path: Path) -> None:
    """The measured defect: writing the graded frame as XPT failed with 'ReadstatError: Two or more variables have
    the same name' (usubjid beside USUBJID). The writer names the clash; the ADaM dataset writes."""
    graded = ce.grade_labs(read_domain(DEMO / "lb.csv"))
    with pytest.raises(ValueError, match="USUBJID"):
        write_xpt(graded[["USUBJID", "usubjid"]], tmp_path / "x.xpt", "LB")
    write_xpt(to_adlb(graded), tmp_path / "adlb.xpt", "ADLB")


@pytest.fixture(scope="module")
def demo_datasets() -> dict[str, pd.DataFrame]:
    return {"ADLB": to_adlb(ce.grade_labs(read_domain(DEMO / "lb.csv"))),
            "ADVS": to_advs(ce.grade_vitals(read_domain(DEMO / "vs.csv"))),
            "ADEG": to_adeg(ce.grade_ecg(read_domain(DEMO / "eg.csv")))}


def _same(back: pd.DataFrame, parquet: pd.DataFrame) -> None:
    """Equal values, numbers compared as floats (XPT holds only 8-byte floats), dates to the day."""
    assert list(back.columns) == list(parquet.columns)
    for column in parquet.columns:
        want, got = parquet[column], back[column]
        if pd.api.types.is_numeric_dtype(want.dtype) and not pd.api.types.is_bool_dtype(want.dtype):
            pd.testing.assert_series_equal(got.astype("float64"), want.astype("float64"), check_names=False)
        elif pd.api.types.is_datetime64_any_dtype(want.dtype):
            assert pd.to_datetime(got).dt.normalize().equals(want.astype("datetime64[ns]")), column
        else:
            assert got.fillna("").astype(str).tolist() == want.astype(str).tolist(), column


def test_xpt_round_trip_equals_the_parquet(demo_datasets: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    for name, frame in demo_datasets.items():
        labels = {c: label_of(c) for c in frame.columns}
        write_dataset(frame, tmp_path / f"{name}.parquet", name)
        assert write_dataset(frame, tmp_path / f"{name}.xpt", name, name, labels, created=CUTOFF) == {}
        back, read_labels = read_xpt(tmp_path / f"{name}.xpt")
        _same(back, pd.read_parquet(tmp_path / f"{name}.parquet"))
        assert read_labels["ATOXGR"] == "Analysis Toxicity Grade" and read_labels["AVAL"] == "Analysis Value"


def test_xpt_is_the_same_bytes_for_the_same_data(tmp_path: Path, hand_adlb: pd.DataFrame) -> None:
    write_xpt(hand_adlb, tmp_path / "a.xpt", "ADLB", created=CUTOFF)
    write_xpt(hand_adlb, tmp_path / "b.xpt", "ADLB", created=CUTOFF)
    data = (tmp_path / "a.xpt").read_bytes()
    assert data == (tmp_path / "b.xpt").read_bytes() and b"30JUN25:00:00:00" in data


def test_xpt_cuts_text_to_200_bytes_and_says_so(tmp_path: Path) -> None:
    frame = pd.DataFrame({"USUBJID": ["P1"], "CTCRSN": ["x" * 250]})
    assert write_xpt(frame, tmp_path / "t.xpt", "T") == {"CTCRSN": 1}
    assert read_xpt(tmp_path / "t.xpt")[0]["CTCRSN"].iloc[0] == "x" * 200
    with pytest.raises(ValueError, match="LONGNAME9"):
        write_xpt(pd.DataFrame({"LONGNAME9": [1]}), tmp_path / "u.xpt", "U")


def test_dataset_json_validates_against_the_published_schema_and_reads_back(
        demo_datasets: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    for name, frame in demo_datasets.items():
        path = tmp_path / f"{name}.json"
        write_dataset_json(frame, path, name, name, {c: label_of(c) for c in frame.columns}, CUTOFF, "S1")
        body = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(body, schema)
        assert body["datasetJSONVersion"] == "1.1.0" and body["records"] == len(frame)
        assert body["datasetJSONCreationDateTime"] == "2025-06-30T00:00:00"
        kinds = {c["name"]: c["dataType"] for c in body["columns"]}
        assert (kinds["AVAL"], kinds["ADT"], kinds["ATOXGR"]) == ("double", "date", "string")
        _same(read_dataset_json(path), frame)


@pytest.fixture(scope="module")
def demo_results():
    from ctcae_engine.read.config import load_config
    from ctcae_engine.run.pipeline import run_study

    return run_study(DEMO, load_config())


@pytest.mark.slow  # a full demo analysis
def test_adae_flags_dates_and_causality(demo_results, tmp_path: Path) -> None:
    flagged = demo_results.ae
    adae = to_adae(flagged)
    assert len(adae) == len(flagged) and "usubjid" not in adae.columns
    check_names(list(adae.columns))
    assert set(adae["TRTEMFL"]) <= {"Y", ""} and adae["TRTEMFL"].eq("Y").sum() == int(flagged["trtemfl"].sum())
    assert set(adae["ASTDTF"]) <= {"", "D", "M", "Y"}
    assert (adae["AREL"].eq("RELATED") == flagged["related"].to_numpy()).all()
    assert (adae["ARELN"].eq(1) == adae["AREL"].eq("RELATED")).all()
    full_end = flagged["AEENDTC"].fillna("").str.fullmatch(r"\d{4}-\d{2}-\d{2}.*")
    assert adae["AENDT"].notna().tolist() == full_end.tolist()  # a partial end date is not imputed
    assert (adae["ATOXGRN"].astype("Float64") == pd.to_numeric(adae["ATOXGR"], errors="coerce")).fillna(True).all()
    write_dataset(adae, tmp_path / "adae.parquet", "ADAE")
    write_dataset(adae, tmp_path / "adae.xpt", "ADAE", "ADAE", {c: label_of(c) for c in adae.columns})
    _same(read_xpt(tmp_path / "adae.xpt")[0], pd.read_parquet(tmp_path / "adae.parquet"))
    write_dataset_json(adae, tmp_path / "adae.json", "ADAE", "Adverse Events Analysis Dataset")
    _same(read_dataset_json(tmp_path / "adae.json"), adae)


@pytest.mark.parametrize("suffix", [".xpt", ".json"])
def test_grade_command_writes_xpt_and_dataset_json(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"adlb{suffix}"
    result = CliRunner().invoke(app, ["grade", str(DEMO / "lb.csv"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    back = read_xpt(out)[0] if suffix == ".xpt" else read_dataset_json(out)
    assert len(back) == len(pd.read_csv(DEMO / "lb.csv")) and "ATOXGR" in back.columns
    assert "usubjid" not in back.columns


def test_grade_command_refuses_xpt_for_xc_and_dask(tmp_path: Path) -> None:
    runner = CliRunner()
    xc = runner.invoke(app, ["grade", str(DEMO / "xc.csv"), "-o", str(tmp_path / "xc.xpt")])
    assert xc.exit_code == 2 and "XC" in xc.output
    dask = runner.invoke(app, ["grade", str(DEMO / "lb.csv"), "-o", str(tmp_path / "lb.json"), "--engine", "dask"])
    assert dask.exit_code == 2 and "Dask engine writes Parquet" in dask.output
