"""Input checks before a run: every problem named with its file or domain, errors kept apart from warnings."""

import shutil

import pandas as pd
import pytest

from ctcae_engine.demo import DATA_DIR
from ctcae_engine.read.checks import check_folder
from ctcae_engine.read.config import load_config


def _copy(tmp_path):
    shutil.copytree(DATA_DIR, tmp_path / "data")
    return tmp_path / "data"


def test_the_demo_trial_passes_without_problems(tmp_path):
    checked = check_folder(_copy(tmp_path), load_config())
    assert checked.problems == []
    assert {f.name: f.rows for f in checked.files}["ae.csv"] == len(pd.read_csv(DATA_DIR / "ae.csv"))
    assert set(checked.frames) == {p.stem for p in DATA_DIR.glob("*.csv")}


def test_unreadable_sas7bdat_and_a_second_file_for_one_domain_are_errors(tmp_path):
    data = _copy(tmp_path)
    (data / "xc.sas7bdat").write_bytes(b"not a SAS dataset")
    pd.read_csv(data / "lb.csv", dtype=str).to_parquet(data / "lb.parquet")
    text = [str(p) for p in check_folder(data).errors]
    assert any(t.startswith("error: xc.sas7bdat: cannot be read") for t in text)
    assert "error: lb.parquet: a second file for domain LB; keep one" in text


def test_adsl_without_ex_is_a_warning_when_it_holds_the_treatment_start(tmp_path):
    data = tmp_path / "adam"
    data.mkdir()
    pd.DataFrame({"USUBJID": ["A"], "TRTSDT": ["2024-01-01"], "SAFFL": ["Y"]}).to_csv(data / "adsl.csv", index=False)
    problems = check_folder(data).problems
    assert [str(p) for p in problems] == ["warning: EX: no EX domain: the infusion date is taken from DM/ADSL TRTSDT"]
    pd.DataFrame({"USUBJID": ["A"]}).to_csv(data / "adsl.csv", index=False)
    errors = check_folder(data).errors
    assert errors and "no infusion date" in str(errors[0])


def test_config_naming_a_treatment_absent_from_ex_is_an_error(tmp_path):
    data = _copy(tmp_path)
    ex = pd.read_csv(data / "ex.csv", dtype=str)
    ex["EXTRT"] = ex["EXTRT"].replace("ANTI-ALPP CAR-T CELLS", "CAR-T")
    ex.to_csv(data / "ex.csv", index=False)
    errors = check_folder(data, load_config()).errors
    assert "treatment.infusion_extrt: no EX record has EXTRT ANTI-ALPP CAR-T CELLS" in str(errors[0])


def test_an_empty_optional_domain_is_a_warning(tmp_path):
    data = _copy(tmp_path)
    header = (data / "xc.csv").read_text().splitlines()[0]
    (data / "xc.csv").write_text(header + "\n")
    problems = check_folder(data, load_config()).problems
    assert [str(p) for p in problems] == ["warning: XC: the domain has no rows"]


def _edit(path, change):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def _blank_first(column, n):
    return lambda f: f.assign(**{column: f[column].mask(f.index < n, "")})


@pytest.mark.parametrize(("file", "change", "expected"), [
    ("ae.csv", lambda f: f.drop(columns="AETOXGR").assign(AESEV="MILD"),
     "warning: AE: no AETOXGR/ATOXGR: grades are taken from AESEV (flagged)"),
    ("ae.csv", lambda f: f.drop(columns="AETOXGR"), "error: AE: required column AETOXGR or ATOXGR or AESEV is missing"),
    ("ae.csv", lambda f: f.drop(columns="AESER"), "error: AE: required column AESER is missing"),
    ("ae.csv", lambda f: f.drop(columns="AEREL"), "warning: AE: no relationship column (AEREL)"),
    ("ae.csv", _blank_first("USUBJID", 2), "warning: AE: 2 rows with a blank USUBJID"),
    ("ae.csv", lambda f: f.assign(USUBJID=""), "error: AE: every USUBJID is blank"),
    ("suppae.csv", lambda f: f.drop(columns="IDVAR"), "error: SUPPAE: required column IDVAR is missing"),
    ("suppae.csv", lambda f: f.assign(QNAM="AESER"), "error: SUPPAE: QNAM AESER is also a column of AE"),
    ("dm.csv", lambda f: f.assign(DTHDTC=f["DTHDTC"].mask(f["DTHDTC"].ne(""), "31/12/2024")),
     "error: DM.DTHDTC: 3 values are not ISO 8601 dates (e.g. '31/12/2024')"),
    ("lb.csv", lambda f: f.assign(LBDTC=f["LBDTC"].mask(f.index == 0, "2024-13-45")),
     "warning: LB.LBDTC: 1 values are not ISO 8601 dates (e.g. '2024-13-45')"),
    ("ae.csv", lambda f: f.assign(AESER=f["AESER"].mask(f["AESER"].eq("Y"), "Yes")),
     "error: AE.AESER: 19 values are not in the CDISC NY codelist (Y, N, U, NA), e.g. 'Yes'"),
    ("ae.csv", lambda f: f.assign(AESER=f["AESER"].mask(f.index < 3, "")), "warning: AE.AESER: 3 rows blank, U or NA: "
                                                                           "counted as not Y"),
    ("ae.csv", lambda f: pd.concat([f, f.iloc[:2]]), "warning: AE: 4 rows share USUBJID and AESEQ"),
    ("dm.csv", lambda f: f.assign(DTHFL="", DTHDTC=""), "warning: DM: no death recorded (DTHFL, DTHDTC) for "),
    ("suppae.csv", lambda f: f.assign(IDVARVAL="999"), "error: SUPPAE: 233 of 233 rows match no AE record"),
    ("suppae.csv", lambda f: f.assign(QNAM=f["QNAM"].str.lower()), None),
    ("ae.csv", lambda f: f.assign(USUBJID=f["USUBJID"].mask(f.index < 3, f["USUBJID"].str.lower())),
     "error: AE: 3 rows of participants not in DM (e.g. alpp-cart-demo-01001)"),
    ("ae.csv", lambda f: f.assign(AETOXGR=f["AETOXGR"].mask(f.index < 4, "")), "warning: AE: 4 of 233 rows without "
                                                                             "AETOXGR: grade missing"),
    ("suppae.csv", lambda f: f[f["QNAM"].ne("AERELLD")], "warning: AE: no AERELLD (relationship to lymphodepletion)"),
], ids=["AESEV only", "no grade at all", "no AESER", "no AEREL", "some blank USUBJID", "all blank USUBJID",
        "SUPPAE without IDVAR", "QNAM clash", "DTHDTC not ISO 8601", "LBDTC impossible date", "AESER Yes",
        "AESER blank", "duplicate AE records", "fatal AE without DM death", "SUPPAE matching nothing",
        "lower-case QNAM is fine",
        "AE USUBJID case differs from DM", "some AETOXGR blank", "no relationship to lymphodepletion"])
def test_unusable_safety_data_is_named(tmp_path, file, change, expected):
    data = _copy(tmp_path)
    _edit(data / file, change)
    problems = [str(p) for p in check_folder(data, load_config()).problems]
    if expected is None:
        assert problems == []
    else:
        assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize("domain", ["ae", "lb"])
def test_an_expected_domain_missing_or_empty_is_an_error(tmp_path, domain):
    data = _copy(tmp_path)
    header = (data / f"{domain}.csv").read_text().splitlines()[0]
    (data / f"{domain}.csv").write_text(header + "\n")
    assert f"error: {domain.upper()}: the domain has no rows" in map(str, check_folder(data, load_config()).errors)
    (data / f"{domain}.csv").unlink()
    errors = [str(p) for p in check_folder(data, load_config()).errors]
    assert errors == [f"error: {domain.upper()}: required domain not found in the study folder "
                      "([data] expected_domains)"]


def test_sub_folders_broken_links_and_unused_adam_files_are_warnings(tmp_path):
    data = _copy(tmp_path)
    (data / "zz.csv").mkdir()
    (data / "old.csv").symlink_to(data / "missing.csv")
    pd.read_csv(data / "lb.csv", dtype=str).to_csv(data / "adlb.csv", index=False)
    checked = check_folder(data, load_config())
    problems = [str(p) for p in checked.problems]
    assert problems == ["warning: old.csv: not read (a broken link)", "warning: zz.csv: not read (a sub-folder)",
                        "warning: ADLB: not used: LB is in the folder too"]
    assert [f.used for f in checked.files if f.name == "adlb.csv"] == [False]


def test_a_renamed_supplemental_file_is_reported_not_silently_dropped(tmp_path):
    data = _copy(tmp_path)
    (data / "suppae.csv").rename(data / "suppae_2025.csv")
    checked = check_folder(data, load_config())
    problems = [str(p) for p in checked.problems]
    assert any(p.startswith("warning: suppae_2025.csv: not a domain the engine reads") for p in problems)
    assert any("no AERELLD" in p for p in problems)  # and what it costs: relationship to lymphodepletion unknown
    assert "suppae_2025" not in checked.frames


def test_a_cut_off_before_every_infusion_is_an_error(tmp_path):
    import dataclasses
    import datetime as dt

    cfg = load_config()
    early = dataclasses.replace(cfg, study=dataclasses.replace(cfg.study, data_cutoff=dt.date(2020, 1, 1)))
    errors = [str(p) for p in check_folder(_copy(tmp_path), early).errors]
    assert errors and errors[0].startswith("error: study.data_cutoff: no infusion on or before the data cut-off "
                                           "2020-01-01")


def test_an_empty_file_is_an_empty_domain_read_as_absent(tmp_path):
    data = _copy(tmp_path)
    (data / "xc.csv").write_bytes(b"")
    assert [str(p) for p in check_folder(data, load_config()).problems] == [
        "warning: XC: the domain has no rows (a 0-byte file: read as absent, its outputs say the domain is missing)"]
