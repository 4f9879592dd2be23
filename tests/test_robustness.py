"""Issue 16, one bad cell never stops the weekly run: each measured defect as a fast test of the function that
owned it (the end-to-end runs on mutated demo folders are in test_robustness_runs.py)."""

import os
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import ctcae_engine as ce
from ctcae_engine.demo import DATA_DIR
from ctcae_engine.figures import draw
from ctcae_engine.grade.findings import grade_ecg
from ctcae_engine.read.checks import check_folder
from ctcae_engine.read.columns import DuplicateColumnsError, shorten, unique_columns
from ctcae_engine.read.config import load_config
from ctcae_engine.read.dates import LAST_DAY, dtc_bounds, impute_start_date, parse_dtc, to_date, to_datetime
from ctcae_engine.read.files import read_domain, read_study
from ctcae_engine.run import scheduled
from ctcae_engine.run.cli import app
from ctcae_engine.write.spreadsheet import spreadsheet_safe, write_csv

runner = CliRunner()


def _copy(tmp_path):
    shutil.copytree(DATA_DIR, tmp_path / "data")
    return tmp_path / "data"


# ---------------------------------------------------------------------------------------------- 0-byte files
@pytest.mark.parametrize("domain", ["vs", "eg", "xc", "rs", "pc"])
def test_a_0_byte_optional_file_is_a_warning_and_its_domain_is_absent(tmp_path, domain):
    data = _copy(tmp_path)
    (data / f"{domain}.csv").write_bytes(b"")
    checked = check_folder(data, load_config())
    assert [str(p) for p in checked.problems] == [
        f"warning: {domain.upper()}: the domain has no rows (a 0-byte file: read as absent, its outputs say the "
        "domain is missing)"]
    assert {f.name: f.rows for f in checked.files}[f"{domain}.csv"] == 0
    assert domain not in read_study(data, checked.frames)  # the stages see no domain, as for a missing file
    assert domain not in read_study(data)  # reading the folder directly: the same rule, no EmptyDataError


def test_a_0_byte_or_header_only_ex_is_an_input_error(tmp_path):
    """docs/cli.md: exit 3 for "empty DM/EX": an EX without rows holds no record of the configured infusion."""
    data = _copy(tmp_path)
    header = (data / "ex.csv").read_text().splitlines()[0]
    for content in (b"", (header + "\n").encode()):
        (data / "ex.csv").write_bytes(content)
        errors = [str(p) for p in check_folder(data, load_config()).errors]
        assert errors == ["error: EX: the domain has no rows: no EX record of the configured infusion"]


# ------------------------------------------------------------------------------------ repeated column names
def _with_extra_column(path, name, change=lambda values: values):
    text = path.read_text().splitlines()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    source = frame.columns[4]
    extra = change(frame[source])
    lines = [text[0] + f",{name}"] + [f"{line},{value}" for line, value in zip(text[1:], extra, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return source


@pytest.mark.parametrize("name", ["aeterm", "AETERM ", "AETERM"])
def test_a_repeated_column_with_the_same_values_keeps_the_first_with_a_warning(tmp_path, name):
    data = _copy(tmp_path)
    _with_extra_column(data / "ae.csv", name)  # column 4 of the demo AE is AETERM
    notes: list[str] = []
    frame = read_domain(data / "ae.csv", notes)
    assert list(frame.columns).count("AETERM") == 1 and "AETERM.1" not in frame.columns  # not mangled by pandas
    assert len(notes) == 1 and "the first is kept" in notes[0] and notes[0].startswith("ae.csv: ")
    problems = [str(p) for p in check_folder(data, load_config()).problems]
    assert problems == [f"warning: ae.csv: {notes[0].removeprefix('ae.csv: ')}"]


def test_a_repeated_column_with_different_values_is_an_input_error_naming_both(tmp_path):
    data = _copy(tmp_path)
    _with_extra_column(data / "ae.csv", "aeterm", lambda values: values + " (edited)")
    with pytest.raises(DuplicateColumnsError, match=r"columns 'AETERM' and 'aeterm' are one name \(AETERM\)"):
        read_domain(data / "ae.csv")
    errors = [str(p) for p in check_folder(data, load_config()).errors]
    assert len(errors) == 1 and errors[0].startswith("error: ae.csv: columns 'AETERM' and 'aeterm' are one name")
    assert "different values in 233 rows (first: data row 1)" in errors[0]


def test_the_rule_compares_names_stripped_and_upper_cased_and_missing_equals_missing():
    frame = pd.DataFrame([["a", None, None], ["b", "x", "x"]], columns=["K", "lbstresn", "LBSTRESN "])
    kept, notes = unique_columns(frame, "f")
    assert list(kept.columns) == ["K", "lbstresn"] and kept is not frame and len(notes) == 1
    assert unique_columns(kept)[0] is kept  # nothing repeats: the frame itself, no note


def test_the_public_graders_apply_the_same_rule():
    study = ce.load_demo()
    lb = study["lb"]
    twice = pd.concat([lb, lb[["USUBJID"]]], axis=1)  # was `ValueError: 2`
    before = twice.copy()
    with pytest.warns(UserWarning, match="column 'USUBJID' is given 2 times, with the same values"):
        graded = ce.grade_labs(twice)
    assert len(graded) == len(lb) and graded.index.equals(lb.index)
    pd.testing.assert_frame_equal(twice, before)  # the caller's frame is not changed
    other = twice.set_axis([*lb.columns, "usubjid"], axis=1).assign(usubjid="someone else")
    with pytest.raises(ValueError, match="grade_labs: columns 'USUBJID' and 'usubjid' are one name"):
        ce.grade_labs(other)
    for grader, domain in ((ce.grade_crs, "xc"), (ce.grade_icans, "xc"), (ce.validate_ae, "ae"),
                           (ce.grade_vitals, "vs"), (ce.grade_ecg, "eg")):
        frame = study[domain]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = grader(pd.concat([frame, frame[["USUBJID"]]], axis=1))
        assert any("is given 2 times" in str(w.message) for w in caught), grader.__name__
        assert len(out) >= 1


def test_grade_on_a_file_with_conflicting_columns_is_one_line_exit_3(tmp_path):
    data = _copy(tmp_path)
    lines = (data / "lb.csv").read_text().splitlines()
    changed = [lines[0] + ",LBSTRESN "] + [f"{line},{i}" for i, line in enumerate(lines[1:])]
    (data / "lb.csv").write_text("\n".join(changed) + "\n")
    result = runner.invoke(app, ["grade", str(data / "lb.csv"), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "columns 'LBSTRESN' and 'LBSTRESN ' are one name (LBSTRESN)" in result.output


# --------------------------------------------------------------------------------------- out-of-range dates
@pytest.mark.parametrize("text", ["1724-03-10", "1724-03", "1724", "2300-01-01T10:00", "1899-12-31"])
def test_a_date_outside_the_usable_range_is_no_date_with_a_reason(text):
    values = pd.Series([text, "2024-03-10"])
    parts = parse_dtc(values)
    assert parts["precision"].tolist() == ["invalid", "day"]
    assert parts["reason"][0] == f"date '{text}' outside the usable range 1900-01-01..2189-12-31"
    assert to_date(values).isna().tolist() == [True, False]
    assert to_datetime(values).isna().tolist() == [True, False]
    assert dtc_bounds(values)["earliest"].isna().tolist() == [True, False]


def test_usable_dates_are_never_far_enough_apart_to_overflow():
    first, last = to_date(pd.Series(["1900-01-01", LAST_DAY.isoformat()]))
    assert (last - first).days > 290 * 365  # nanoseconds of the difference fit in int64
    parquet = pd.Series(np.array(["1500-01-01", "2024-01-02T05:00"], dtype="datetime64[s]"))
    assert to_date(parquet).isna().tolist() == [True, False]  # a datetime column (Parquet, SAS) too
    assert to_date(pd.Series([1.0, 1e7, -1e5]), sas_days=True).isna().tolist() == [False, True, True]


def test_an_ae_onset_out_of_range_is_imputed_and_flagged_not_a_crash():
    """The AE row is kept: its onset is read as missing (imputed to the infusion date, flag "Y") with the reason."""
    out = impute_start_date(pd.Series(["1724-03-10"]), pd.Series(pd.to_datetime(["2024-03-06"])))
    assert out["imputed"].tolist() == ["Y"] and out["date"].tolist() == [pd.Timestamp("2024-03-06")]
    assert out["reason"][0].startswith("date '1724-03-10' outside the usable range")


def test_an_ae_onset_in_1724_flags_every_ae():
    from ctcae_engine.analyse.endpoints import flag_ae, safety_population

    study = ce.load_demo()
    ae = study["ae"].copy()
    ae.loc[ae.index[0], "AESTDTC"] = "1724-03-10"  # was OverflowError: Overflow in int64 addition
    cfg = load_config()
    population = safety_population(study["dm"], study["ex"], cfg.treatment)
    flagged = flag_ae(ce.validate_ae(ae), population, cfg.treatment_emergent, cfg.relationship)
    assert len(flagged) == len(ae) and flagged["astdt_imputed"].iloc[0] == "Y"


def test_an_out_of_range_date_is_a_warning_of_the_input_checks(tmp_path):
    data = _copy(tmp_path)
    lb = pd.read_csv(data / "lb.csv", dtype=str, keep_default_na=False)
    lb.loc[2, "LBDTC"] = "1724-03-10"
    lb.to_csv(data / "lb.csv", index=False)
    assert [str(p) for p in check_folder(data, load_config()).problems] == [
        "warning: LB.LBDTC: 1 values are dates outside the usable range 1900-01-01..2189-12-31, read as no date "
        "(the row is kept) (e.g. '1724-03-10')"]


# ------------------------------------------------------------------------------------------------- figures
def test_an_infinite_car_t_level_is_not_drawn_and_the_figure_is_made():
    pc = pd.DataFrame({"usubjid": ["A", "A", "A"], "ady": [7, 14, 28], "value": [500.0, np.inf, 80.0]})
    svg = draw.cart_persistence(pc)  # was: ValueError: Axis limits cannot be NaN or Inf
    assert svg.startswith("<svg") and "No CAR-T" not in svg


def test_dollar_signs_in_a_participant_id_are_text_not_mathtext():
    ae = pd.DataFrame({"usubjid": ["ALPP-$\\frac$-01", "ALPP-$x^2$-02"], "ctcae_term": ["Nausea", "Fever"],
                       "grade": pd.array([2, 3], dtype="Int64"), "trtemfl": [True, True]})
    svg = draw.ae_heatmap(ae)  # was: ValueError with an empty message (mathtext parse error)
    assert "ALPP-$\\frac$-01" in svg and "ALPP-$x^2$-02" in svg


# ------------------------------------------------------------------------------------------ CSV injection
def test_formula_like_text_is_neutralised_in_csv_and_numbers_are_not():
    frame = pd.DataFrame({
        "text": ["=HYPERLINK(\"http://x\",\"y\")", "+cmd", "-2+3", "@SUM(1)", "\tx", "\rx", "plain", None],
        "numbers_as_text": ["-1.5", "+3", "-28", "1e-3", "-.5", "12", "-4", None],
        "numbers": [-1.5, 2.0, 3.0, -4.0, 5.0, 6.0, 7.0, np.nan],
    })
    safe = spreadsheet_safe(frame)
    assert safe["text"].tolist()[:7] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+cmd", "'-2+3", "'@SUM(1)", "'\tx",
                                         "'\rx", "plain"]
    assert pd.isna(safe["text"].iloc[7])
    assert safe["numbers_as_text"] is frame["numbers_as_text"] or safe["numbers_as_text"].equals(
        frame["numbers_as_text"])
    assert safe["numbers"].equals(frame["numbers"])
    assert frame["text"].iloc[0].startswith("=")  # the caller's frame is not changed
    clean = frame[["numbers_as_text", "numbers"]]
    assert spreadsheet_safe(clean) is clean  # nothing to neutralise: the very frame, byte-identical CSV
    named = pd.DataFrame({"=cmd": ["a"]})
    assert list(spreadsheet_safe(named).columns) == ["'=cmd"]


def test_graded_csv_is_neutralised_while_parquet_keeps_the_text_exact(tmp_path):
    frame = pd.DataFrame({"AETERM": ["=1+1", "@x", "nausea"], "AESEQ": ["-1", "2", "3"],
                          "grade": pd.array([1, pd.NA, 3], dtype="Int64")})
    scheduled._save_frame(frame, tmp_path / "ae")
    assert (tmp_path / "ae.csv").read_text() == "AETERM,AESEQ,grade\n'=1+1,-1,1\n'@x,2,\nnausea,3,3\n"
    assert pd.read_parquet(tmp_path / "ae.parquet")["AETERM"].tolist() == ["=1+1", "@x", "nausea"]
    write_csv(pd.DataFrame({"reason": ["-"]}), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == "reason\n'-\n"


# ----------------------------------------------------------------------------------------------- the lock
def test_a_lock_that_is_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    (root / ".lock").symlink_to("../precious.txt")
    with pytest.raises(scheduled.UnsafeLock, match="is a symbolic link"), scheduled._lock(root):
        pass
    assert precious.read_text() == "keep me\n"
    cfg = load_config()
    problems = scheduled.preflight(cfg, DATA_DIR, root)[2]
    assert [p.level for p in problems if ".lock" in p.where] == ["error"]


def test_an_existing_lock_file_is_not_truncated(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    (root / ".lock").write_text("left by an operator\n")
    with scheduled._lock(root):
        pass
    assert (root / ".lock").read_text() == "left by an operator\n"


# ---------------------------------------------------------------------------------------- minor defects
@pytest.mark.parametrize("missing", ["EGSTRESU", "EGDTC", "USUBJID", "EGSTRESN"])
def test_derive_qtcf_names_a_missing_column(missing):
    eg = pd.DataFrame({"USUBJID": ["A", "A"], "EGDTC": ["2024-01-01"] * 2, "EGTESTCD": ["QT", "RR"],
                       "EGSTRESN": ["400", "1000"], "EGSTRESU": ["ms", "ms"]}).drop(columns=missing)
    with pytest.raises(ValueError, match=f"derive_qtcf works on SDTM EG standard results .*missing: {missing}"):
        grade_ecg(eg, derive_qtcf=True)  # was a bare KeyError


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_grade_to_an_unwritable_path_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = runner.invoke(app, ["grade", str(DATA_DIR / "lb.csv"), "-o", str(locked / "sub" / "out.csv")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot be written: Permission denied" in result.output


def test_grade_to_a_path_under_a_file_is_one_line(tmp_path):
    (tmp_path / "a_file").write_text("")
    result = runner.invoke(app, ["grade", str(DATA_DIR / "lb.csv"), "-o", str(tmp_path / "a_file" / "out.csv")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "cannot be written" in result.output


def test_quoted_values_in_reading_messages_are_shortened(tmp_path):
    huge = "9" * 100_000
    assert len(shorten(huge)) < 100 and shorten(huge).endswith("(100000 characters)")
    assert len(parse_dtc(pd.Series([huge]))["reason"][0]) < 120
    data = _copy(tmp_path)
    lb = pd.read_csv(data / "lb.csv", dtype=str, keep_default_na=False)
    lb.loc[2, "LBDTC"] = "x" * 100_000
    lb.to_csv(data / "lb.csv", index=False)
    assert max(len(str(p)) for p in check_folder(data, load_config()).problems) < 200


def test_duplicate_dm_rows_are_a_warning(tmp_path):
    data = _copy(tmp_path)
    dm = pd.read_csv(data / "dm.csv", dtype=str, keep_default_na=False)
    pd.concat([dm, dm.iloc[[0]]]).to_csv(data / "dm.csv", index=False)
    problems = [str(p) for p in check_folder(data, load_config()).problems]
    assert problems == ["warning: DM: 2 rows share their USUBJID with another DM row (e.g. ALPP-CART-DEMO-01001): DM "
                        "holds one record per participant; check the delivery"]


def test_an_xc_time_with_a_utc_offset_is_read_as_the_clock_time():
    """Issue 16: XC rejected a valid ISO 8601 ``2021-03-15T10:00+02:00`` (and accepted ``2021-03-15 10:00``)."""
    xc = ce.load_demo()["xc"]
    first = xc["USUBJID"].iloc[0]
    rows = xc[xc["USUBJID"].eq(first)].copy()
    zoned = rows.assign(XCDTC=rows["XCDTC"].astype(str).str[:10] + "T10:00+02:00")
    plain = rows.assign(XCDTC=rows["XCDTC"].astype(str).str[:10] + "T10:00")
    crs_zoned, crs_plain = ce.grade_crs(zoned), ce.grade_crs(plain)
    assert len(crs_zoned) == len(crs_plain) > 0
    assert crs_zoned["grade"].tolist() == crs_plain["grade"].tolist()


def test_an_ae_onset_with_a_blank_separated_time_is_read_as_its_day():
    """Issue 16: AESTDTC ``2024-01-10 08:00`` was "malformed" (imputed, counted treatment-emergent) while the data
    cut-off read it as 2024-01-10; now every reader reads that day."""
    values = pd.Series(["2024-01-10 08:00"])
    assert parse_dtc(values)["precision"].tolist() == ["day"]
    out = impute_start_date(values, pd.Series(pd.to_datetime(["2024-03-06"])))
    assert out["imputed"].tolist() == [""] and out["date"].tolist() == [pd.Timestamp("2024-01-10")]
    assert dtc_bounds(values)["earliest"].tolist() == [pd.Timestamp("2024-01-10")]
