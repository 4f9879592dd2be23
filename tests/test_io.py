"""Reading real SDTM (the CDISC pilot study in ../shared/pharmaverse) as sponsors deliver it."""


import pandas as pd
import pytest
from conftest import PHARMAVERSE

from ctcae_engine.read.files import merge_supp, read_domain, read_study

needs_shared = pytest.mark.needs_shared(PHARMAVERSE)


@needs_shared
def test_read_pilot_study_keeps_text_and_merges_suppae():
    study = read_study(PHARMAVERSE)
    assert len(study["dm"]) == 306 and len(study["ae"]) == 1191
    # partial dates reach the engine as written
    assert study["ae"]["AESTDTC"].str.len().eq(7).sum() > 0
    # SUPPAE QNAM AETRTEM became a column of AE, matched on AESEQ
    assert "AETRTEM" in study["ae"].columns
    assert study["ae"]["AETRTEM"].notna().sum() == len(study["suppae"].query("QNAM == 'AETRTEM'"))


def test_merge_supp_matches_on_idvar_and_keeps_rows(tmp_path):
    ae = pd.DataFrame({"USUBJID": ["S1", "S1", "S2"], "AESEQ": ["1", "2", "1"], "AETERM": ["A", "B", "C"]})
    supp = pd.DataFrame(
        {"USUBJID": ["S1", "S2"], "IDVAR": ["AESEQ", "AESEQ"], "IDVARVAL": ["2", "1"], "QNAM": ["AERELLD"] * 2,
         "QVAL": ["RELATED", "NOT RELATED"]}
    )
    merged = merge_supp(ae, supp)
    assert merged["AERELLD"].tolist()[1:] == ["RELATED", "NOT RELATED"]
    assert pd.isna(merged["AERELLD"].iloc[0])
    assert "AERELLD" not in ae.columns  # caller's frame untouched


def test_unsupported_file_type_is_a_clear_error(tmp_path):
    path = tmp_path / "lb.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match="unsupported file type"):
        read_domain(path)


def test_xpt_dates_arrive_as_dates_and_blanks_as_missing(tmp_path):
    import datetime as dt

    import pyreadstat

    from ctcae_engine.read.dates import to_date, to_datetime

    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "TRTSDT": [dt.date(2024, 1, 2), None],
                         "TRTSDTM": [dt.datetime(2024, 1, 2, 10, 30), None], "SAFFL": ["Y", ""]})
    path = tmp_path / "adsl.xpt"
    pyreadstat.write_xport(adsl, str(path), table_name="ADSL", file_format_version=5)
    back = read_domain(path)
    assert to_date(back["TRTSDT"]).tolist()[0] == pd.Timestamp("2024-01-02")
    assert to_datetime(back["TRTSDTM"]).tolist()[0] == pd.Timestamp("2024-01-02 10:30")
    assert pd.isna(back["SAFFL"].iloc[1]) and pd.isna(to_date(back["TRTSDT"]).iloc[1])


@pytest.mark.parametrize("suffix", ["xpt", "parquet"])
def test_numeric_seq_matches_text_idvarval_and_unmatched_supp_rows_are_listed(tmp_path, suffix):
    # SAS XPT has only float numerics: AESEQ 1 is read back as 1.0, IDVARVAL stays the text "1"
    import pyreadstat

    ae = pd.DataFrame({"USUBJID": ["S1", "S1"], "AESEQ": [1.0, 2.0], "AETERM": ["Fever", "Rash"]})
    if suffix == "xpt":
        pyreadstat.write_xport(ae, str(tmp_path / "ae.xpt"), table_name="AE", file_format_version=5)
    else:
        ae.to_parquet(tmp_path / "ae.parquet")
    pd.DataFrame({"USUBJID": ["S1", "S1", "S9"], "IDVAR": ["AESEQ"] * 3, "IDVARVAL": [" 1", "7", "1"],
                  "QNAM": ["AERELLD"] * 3, "QVAL": ["NOT RELATED", "RELATED", "RELATED"]}).to_csv(
        tmp_path / "suppae.csv", index=False)
    study = read_study(tmp_path)
    assert study["ae"]["AERELLD"].tolist()[0] == "NOT RELATED"  # was <NA>: "1.0" never equalled "1"
    assert pd.isna(study["ae"]["AERELLD"].iloc[1])
    lost = study["supp_unmatched"]
    assert lost[["domain", "USUBJID", "IDVARVAL", "reason"]].values.tolist() == [
        ["SUPPAE", "S1", "7", "no parent record with AESEQ = 7"],
        ["SUPPAE", "S9", "1", "USUBJID not in the parent domain"]]


def test_no_unmatched_key_when_every_supp_row_matches(tmp_path):
    (tmp_path / "ae.csv").write_text("USUBJID,AESEQ\nS1,1\n")
    (tmp_path / "suppae.csv").write_text("USUBJID,IDVAR,IDVARVAL,QNAM,QVAL\nS1,AESEQ,1,AERELLD,RELATED\n")
    assert "supp_unmatched" not in read_study(tmp_path)


def test_parquet_empty_text_is_missing_like_csv(tmp_path):
    frame = pd.DataFrame({"USUBJID": ["S1", "S2"], "AEREL": ["RELATED", ""]})
    frame.to_parquet(tmp_path / "ae.parquet")
    frame.to_csv(tmp_path / "ae2.csv", index=False)
    parquet, csv = read_domain(tmp_path / "ae.parquet"), read_domain(tmp_path / "ae2.csv")
    assert pd.isna(parquet["AEREL"].iloc[1]) and pd.isna(csv["AEREL"].iloc[1])
    assert parquet["AEREL"].iloc[0] == "RELATED"


def test_suppae_merges_into_adae_and_an_orphan_supp_is_listed(tmp_path):
    pd.DataFrame({"USUBJID": ["S1"], "AESEQ": ["1"], "AETERM": ["A"]}).to_csv(tmp_path / "adae.csv", index=False)
    supp = pd.DataFrame({"USUBJID": ["S1"], "IDVAR": ["AESEQ"], "IDVARVAL": ["1"], "QNAM": ["AERELLD"],
                         "QVAL": ["RELATED"]})
    supp.to_csv(tmp_path / "suppae.csv", index=False)
    supp.to_csv(tmp_path / "suppcm.csv", index=False)
    study = read_study(tmp_path)
    assert study["adae"]["AERELLD"].tolist() == ["RELATED"]
    orphan = study["supp_unmatched"]
    assert orphan["domain"].tolist() == ["SUPPCM"] and orphan["reason"].iloc[0] == "no CM domain in the folder"
