"""The command line a scheduler calls, driven end to end on the demo trial and on broken inputs: exit codes,
messages, run folders that are complete or absent, and a previous run that nothing touches."""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ctcae_engine.demo import DATA_DIR
from ctcae_engine.read.config import DEMO_CONFIG
from ctcae_engine.run.cli import app

runner = CliRunner()


def _study(tmp: Path, extra: str = "") -> Path:
    """A copy of the demo trial (data + config without PDF, to stay fast) in ``tmp``; returns the config path."""
    shutil.copytree(DATA_DIR, tmp / "data")
    text = DEMO_CONFIG.read_text().replace("pdf = true", "pdf = false")
    (tmp / "study.toml").write_text(text + extra)
    return tmp / "study.toml"


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path -> sha256), the symlink `latest` as its target."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[path.relative_to(root).as_posix()] = "-> " + os.readlink(path)
        elif path.is_file() and path.name != ".lock":
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


EPOCH = {"SOURCE_DATE_EPOCH": "1751536800"}  # reruns compared byte for byte are reproducible builds (docs/report.md)


def _run(config: Path, *args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["run", "--config", str(config), *args], env=env)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One good run of the demo copy: (config, runs root, run folder)."""
    tmp = tmp_path_factory.mktemp("study")
    config = _study(tmp)
    result = _run(config, env=EPOCH)
    assert result.exit_code == 0, result.output
    root = tmp / "runs"
    return config, root, (root / "latest").resolve()


@pytest.mark.slow  # full demo run(s) through the CLI
def test_run_writes_a_complete_run_folder_and_moves_latest(first_run):
    config, root, folder = first_run
    assert folder.name.startswith("cutoff-2025-06-30_run-")  # named for the data cut-off and the run time
    for name in ("report.html", "summary.json", "manifest.json", "ungraded_rows.csv", "graded/lb.parquet",
                 "graded/lb.csv", "graded/ae.parquet", "tables/AET01.csv"):
        assert (folder / name).is_file(), name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "success" and manifest["exit_code"] == 0
    assert manifest["ctcae_version"] == "4.03" and manifest["compared_with"] is None
    lb_in = len(pd.read_csv(config.parent / "data" / "lb.csv"))
    inputs = {i["file"]: i for i in manifest["inputs"]}
    assert inputs["lb.csv"]["rows"] == lb_in
    assert inputs["lb.csv"]["sha256"] == hashlib.sha256((config.parent / "data" / "lb.csv").read_bytes()).hexdigest()
    rows = manifest["rows"]["lb"]
    # every LB row read ends in the graded dataset, graded or with its reason
    assert rows["rows_in"] == rows["rows_after_cutoff"] + rows["excluded_after_cutoff"]
    assert rows["rows_out"] == rows["graded"] + rows["ungraded_with_reason"] == rows["rows_after_cutoff"]
    graded = pd.read_parquet(folder / "graded" / "lb.parquet")
    assert len(graded) == rows["rows_out"] and graded.loc[graded["grade"].isna(), "reason"].ne("").all()
    assert {"read_and_check_inputs", "analysis", "report", "total"} <= set(manifest["run"]["durations_s"])
    outputs = {o["file"] for o in manifest["outputs"]}
    assert "report.html" in outputs and "manifest.json" not in outputs


@pytest.mark.slow  # full demo run(s) through the CLI
def test_rerun_on_the_same_inputs_gives_identical_outputs(first_run):
    config, root, folder = first_run
    result = _run(config, env=EPOCH)
    assert result.exit_code == 0, result.output
    again = (root / "latest").resolve()
    assert again != folder
    before, after = _tree(folder), _tree(again)
    assert before.keys() == after.keys()
    assert {k for k in before if before[k] != after[k]} == {"manifest.json"}
    m1, m2 = (json.loads((f / "manifest.json").read_text()) for f in (folder, again))
    assert {k: v for k, v in m1.items() if k != "run"} == {k: v for k, v in m2.items() if k != "run"}


def _break_missing_column(tmp: Path) -> None:
    lb = pd.read_csv(tmp / "data" / "lb.csv", dtype=str)
    lb.drop(columns="LBTESTCD").to_csv(tmp / "data" / "lb.csv", index=False)


def _break_unreadable(tmp: Path) -> None:
    (tmp / "data" / "vs.csv").unlink()
    (tmp / "data" / "vs.parquet").write_bytes(b"this is not parquet")


def _break_empty_dm(tmp: Path) -> None:
    header = (tmp / "data" / "dm.csv").read_text().splitlines()[0]
    (tmp / "data" / "dm.csv").write_text(header + "\n")


def _break_toml(tmp: Path) -> None:
    (tmp / "study.toml").write_text((tmp / "study.toml").read_text().replace('study_id = "', 'study_id = '))


def _break_unknown_key(tmp: Path) -> None:
    text = (tmp / "study.toml").read_text()
    (tmp / "study.toml").write_text(text.replace("window_days = 365", "window_dayz = 365"))


@pytest.mark.parametrize(("breaker", "code", "message"), [
    (_break_missing_column, 3, "LB: required column LBTESTCD or PARAMCD is missing"),
    (_break_unreadable, 3, "vs.parquet: cannot be read"),
    (_break_empty_dm, 3, "DM: the domain has no rows"),
    (_break_toml, 2, "study.toml: not valid TOML"),
    (_break_unknown_key, 2, "[treatment_emergent]: unknown key 'window_dayz'; did you mean 'window_days'?"),
], ids=["missing column", "unreadable file", "empty DM", "bad TOML", "unknown config key"])
@pytest.mark.slow  # full demo run(s) through the CLI
def test_broken_input_fails_cleanly_and_leaves_the_last_good_run_untouched(tmp_path, breaker, code, message):
    config = _study(tmp_path)
    assert _run(config).exit_code == 0
    root = tmp_path / "runs"
    before = _tree(root)
    breaker(tmp_path)
    result = _run(config)
    assert result.exit_code == code
    assert message in result.output  # CliRunner mixes stderr into output
    assert "Traceback" not in result.output
    assert _tree(root) == before  # no new folder, nothing rewritten, latest unchanged


def test_validate_checks_inputs_and_writes_nothing(tmp_path):
    config = _study(tmp_path)
    result = runner.invoke(app, ["validate", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "lb.csv: LB, 4752 rows" in result.output and "0 errors" in result.output
    _break_missing_column(tmp_path)
    result = runner.invoke(app, ["validate", "--config", str(config)])
    assert result.exit_code == 3 and "required column LBTESTCD or PARAMCD is missing" in result.output
    assert not (tmp_path / "runs").exists()


def test_config_naming_a_missing_data_folder_exits_2(tmp_path):
    config = _study(tmp_path)
    config.write_text(config.read_text().replace('folder = "data"', 'folder = "no_such_folder"'))
    result = runner.invoke(app, ["validate", "--config", str(config)])
    assert result.exit_code == 2
    assert "data.folder: folder not found" in result.output and "study.toml" in result.output


@pytest.mark.slow  # full demo run(s) through the CLI
def test_data_errors_above_the_threshold_exit_4_and_keep_latest(tmp_path):
    # the demo holds a few ungradable rows of graded tests (e.g. ANC "<0.5", creatinine without a baseline)
    config = _study(tmp_path)
    assert _run(config).exit_code == 0
    latest = os.readlink(tmp_path / "runs" / "latest")
    config.write_text(config.read_text().replace("max_ungradable_pct = 5.0", "max_ungradable_pct = 0.0"))
    result = _run(config)
    assert result.exit_code == 4, result.output
    assert os.readlink(tmp_path / "runs" / "latest") == latest
    written = [p for p in (tmp_path / "runs").iterdir() if p.name.startswith("cutoff-") and p.name != latest]
    assert len(written) == 1
    manifest = json.loads((written[0] / "manifest.json").read_text())
    assert manifest["status"] == "data_errors" and manifest["ungradable"]["rows"] > 0


@pytest.mark.slow  # full demo run(s) through the CLI
def test_a_run_killed_while_writing_leaves_no_run_folder(tmp_path, monkeypatch):
    config = _study(tmp_path)
    assert _run(config).exit_code == 0
    root = tmp_path / "runs"
    before = _tree(root)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies in the middle of writing the report

    monkeypatch.setattr("ctcae_engine.report.write_report", killed)
    _run(config)
    visible = {k: v for k, v in _tree(root).items() if not k.startswith(".incomplete-")}
    assert visible == before
    monkeypatch.undo()
    assert _run(config).exit_code == 0  # the next run clears the leftover
    assert not list(root.glob(".incomplete-*"))


def test_a_second_run_on_the_same_output_folder_exits_6(tmp_path):
    config = _study(tmp_path)
    (tmp_path / "runs").mkdir()
    with open(tmp_path / "runs" / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = _run(config)
    assert result.exit_code == 6 and "another run is writing" in result.output


@pytest.mark.slow  # full demo run(s) through the CLI
def test_new_since_last_run_compares_with_the_previous_successful_run(tmp_path):
    config = _study(tmp_path)
    assert _run(config).exit_code == 0
    first = os.readlink(tmp_path / "runs" / "latest")
    ae = pd.read_csv(tmp_path / "data" / "ae.csv", dtype=str, keep_default_na=False)
    new = ae.iloc[[0]].assign(AESEQ="999", AETERM="DIARRHOEA", AEDECOD="Diarrhea", AETOXGR="3",
                              AESTDTC="2024-03-10", AEENDTC="", AEREL="RELATED")  # day 4 after infusion
    pd.concat([ae, new]).to_csv(tmp_path / "data" / "ae.csv", index=False)
    assert _run(config).exit_code == 0
    second = (tmp_path / "runs" / "latest").resolve()
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["compared_with"] == first
    found = json.loads((second / "new_since_last_run.json").read_text())
    assert "Diarrhea" in json.dumps(found["new_aes"])
    assert "Diarrhea" in (second / "report.html").read_text()


@pytest.mark.slow  # full demo run(s) through the CLI
def test_console_script_logs_plain_lines_when_not_on_a_terminal(tmp_path):
    config = _study(tmp_path)
    script = Path(sys.executable).with_name("ctcae-engine")
    done = subprocess.run([str(script), "run", "--config", str(config)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    # one timestamped line per message, level spelled out, no colour codes
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 (INFO|WARNING|ERROR) "
    assert lines and all(re.match(stamp, line) for line in lines)
    assert any("INFO step: adverse events" in line for line in lines)
    assert "\x1b[" not in done.stderr
    assert done.stdout.splitlines()[-1].startswith("run folder: ")


def test_grade_writes_every_row_with_grade_or_reason(tmp_path):
    lb = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S1"],
        "LBTESTCD": ["ALT", "ALT", "XYZ"],
        "LBSTRESC": ["250", "<LLOQ", "1"],
        "LBSTRESN": ["250", "", "1"],
        "LBSTRESU": ["U/L", "U/L", "U/L"],
        "LBSTNRLO": ["0", "0", "0"],
        "LBSTNRHI": ["40", "40", "40"],
        "LBDTC": ["2025-01-10", "2025-01-11", "2025-01-12"],
    })
    src = tmp_path / "lb.csv"
    lb.to_csv(src, index=False)
    out = tmp_path / "graded.csv"
    result = runner.invoke(app, ["grade", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    graded = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(graded) == 3
    assert graded.loc[0, "grade"] == "3"  # ALT 250 U/L, ULN 40: ">5.0 - 20.0 x ULN" -> grade 3
    assert graded.loc[1, "grade"] == "" and "<LLOQ" in graded.loc[1, "reason"]
    assert graded.loc[2, "grade"] == "" and "XYZ" in graded.loc[2, "reason"]
    assert "3 rows (lab): 1 graded, 2 with a reason" in result.output


def test_grade_detects_vital_signs(tmp_path):
    vs = pd.DataFrame({"USUBJID": ["S1"], "VSTESTCD": ["TEMP"], "VSSTRESN": ["40.3"], "VSSTRESU": ["C"],
                       "VSDTC": ["2025-01-10T08:00"]})
    vs.to_csv(tmp_path / "vitals_export.csv", index=False)
    result = runner.invoke(app, ["grade", str(tmp_path / "vitals_export.csv"), "-o", str(tmp_path / "g.parquet")])
    assert result.exit_code == 0, result.output
    graded = pd.read_parquet(tmp_path / "g.parquet")
    # CTCAE v4.03 Fever: grade 3 ">40.0 degrees C (>104.0 degrees F) for <=24 hrs"
    assert (graded.loc[0, "term"], graded.loc[0, "grade"]) == ("Fever", 3)


def test_grade_on_an_unreadable_file_exits_3(tmp_path):
    (tmp_path / "lb.xpt").write_bytes(b"\x00garbage")
    result = runner.invoke(app, ["grade", str(tmp_path / "lb.xpt"), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 3 and "lb.xpt: cannot be read" in result.output
    assert not (tmp_path / "out.csv").exists()


def test_terms_searches_by_part_synonym_and_code():
    result = runner.invoke(app, ["terms", "neutro"])
    assert result.exit_code == 0
    assert "Febrile neutropenia" in result.output and "Neutrophil count decreased" in result.output
    # a MedDRA PT that is not a CTCAE term is found through the synonym table
    assert "Neutrophil count decreased" in runner.invoke(app, ["terms", "neutropenia"]).output
    # CTCAE v4.03 Alopecia has grades 1 and 2 only ("Hair loss of >=50% of normal for that individual ...")
    exact = runner.invoke(app, ["terms", "Alopecia"])
    assert "grade 2: Hair loss of >=50%" in exact.output and "grade 3" not in exact.output
    assert "Anemia" in runner.invoke(app, ["terms", "10002272"]).output  # MedDRA code of Anemia


def test_terms_with_unknown_version_or_no_match_exits_2():
    result = runner.invoke(app, ["terms", "Nausea", "--version", "6"])
    assert result.exit_code == 2 and "unknown CTCAE version '6'" in result.output
    result = runner.invoke(app, ["terms", "qqqzzzxxx"])
    assert result.exit_code == 2 and "no CTCAE v4.03 term matches" in result.output


@pytest.mark.slow  # full demo run(s) through the CLI
def test_a_failing_stage_exits_5_writes_the_folder_and_keeps_latest(tmp_path, monkeypatch):
    config = _study(tmp_path)
    assert _run(config).exit_code == 0
    latest = os.readlink(tmp_path / "runs" / "latest")

    def broken(*args, **kwargs):
        raise ValueError("RSSTRESC holds an unexpected response code 'XX'")

    monkeypatch.setattr("ctcae_engine.analyse.efficacy.pfs_data", broken)
    result = _run(config)
    assert result.exit_code == 5
    assert "stage failed: PFS01: ValueError: RSSTRESC holds an unexpected response code 'XX'" in result.output
    assert os.readlink(tmp_path / "runs" / "latest") == latest
    failed = json.loads((tmp_path / "runs" / result.output.strip().splitlines()[-1].split("/")[-1]
                         / "manifest.json").read_text())
    assert failed["status"] == "stage_failed"
    assert "PFS01" in (tmp_path / "runs" / failed["run"]["folder"] / "report.html").read_text()


@pytest.mark.slow  # full demo run(s) through the CLI
def test_a_damaged_previous_summary_is_a_warning_not_a_stop(tmp_path):
    config = _study(tmp_path)
    assert _run(config).exit_code == 0
    (tmp_path / "runs" / "latest" / "summary.json").write_text("{ truncated")
    pd.read_csv(tmp_path / "data" / "ae.csv", dtype=str).iloc[:-1].to_csv(tmp_path / "data" / "ae.csv", index=False)
    result = _run(config)
    assert result.exit_code == 0, result.output
    assert "summary.json: cannot be read (JSONDecodeError); this run is compared with nothing" in result.output
    manifest = json.loads(((tmp_path / "runs" / "latest").resolve() / "manifest.json").read_text())
    assert manifest["compared_with"] is None and any("cannot be read" in w for w in manifest["warnings"])


@pytest.mark.slow  # full demo run(s) through the CLI
def test_listing_rows_in_the_report_follow_the_configuration(tmp_path):
    config = _study(tmp_path)
    config.write_text(config.read_text().replace("listing_max_rows = 200", "listing_max_rows = 2"))
    assert _run(config).exit_code == 0
    folder = (tmp_path / "runs" / "latest").resolve()
    listing = pd.read_csv(folder / "AEL_G3.csv")  # the full listing beside the report
    assert len(listing) > 2
    assert f"first 2 of {len(listing)}" in (folder / "report.html").read_text()


@pytest.mark.slow  # full demo run(s) through the CLI
def test_an_unexpected_error_is_one_line_exit_1_and_latest_stays(tmp_path, monkeypatch):
    config = _study(tmp_path)
    assert _run(config).exit_code == 0
    latest = os.readlink(tmp_path / "runs" / "latest")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ctcae_engine.run.scheduled._save_frame", disk_full)
    result = _run(config)
    assert result.exit_code == 1
    assert "error: unexpected OSError: [Errno 28] No space left on device" in result.output
    assert "Traceback" not in result.output
    assert os.readlink(tmp_path / "runs" / "latest") == latest


def test_a_latest_that_is_not_a_link_is_refused_before_anything_is_written(tmp_path):
    config = _study(tmp_path)
    (tmp_path / "runs" / "latest").mkdir(parents=True)
    result = _run(config)
    assert result.exit_code == 2 and "is not the symbolic link runs maintain" in result.output
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["latest"]


@pytest.mark.slow  # full demo run(s) through the CLI
def test_run_with_only_a_data_folder_uses_its_study_toml(tmp_path):
    config = _study(tmp_path)
    shutil.move(config, tmp_path / "data" / "study.toml")
    text = (tmp_path / "data" / "study.toml").read_text().replace('folder = "data"', 'folder = "."')
    (tmp_path / "data" / "study.toml").write_text(text)
    result = runner.invoke(app, ["run", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "latest" / "report.html").is_file()
    result = runner.invoke(app, ["run", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "give --config" in result.output


@pytest.mark.slow  # full demo run(s) through the CLI
def test_rerun_with_pdf_gives_the_same_pdf_bytes(tmp_path):
    config = _study(tmp_path)
    config.write_text(config.read_text().replace("pdf = false", "pdf = true"))
    assert _run(config, env=EPOCH).exit_code == 0
    first = (tmp_path / "runs" / "latest").resolve()
    assert _run(config, env=EPOCH).exit_code == 0
    second = (tmp_path / "runs" / "latest").resolve()
    assert first != second
    assert (first / "report.pdf").read_bytes() == (second / "report.pdf").read_bytes()


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "graded.xlsx"], "write .csv or .parquet"),
    (["-o", "graded", "--engine", "dask"], "the Dask engine reads Parquet"),
    (["-o", "g.csv", "--kind", "urine"], "--kind must be lab, vitals, ecg or auto"),
], ids=["unsupported output", "dask on csv", "unknown kind"])
def test_grade_refuses_what_it_cannot_do_with_exit_2(tmp_path, args, message):
    shutil.copy(DATA_DIR / "lb.csv", tmp_path / "lb.csv")
    result = runner.invoke(app, ["grade", str(tmp_path / "lb.csv"),
                                 *[str(tmp_path / a) if a.startswith(("graded", "g.")) else a for a in args]])
    assert result.exit_code == 2 and message in result.output


def test_grade_applies_the_study_test_map(tmp_path):
    lb = pd.read_csv(DATA_DIR / "lb.csv", dtype=str, keep_default_na=False)
    lb["LBTESTCD"] = lb["LBTESTCD"].replace("ALT", "ALTX")
    lb.to_csv(tmp_path / "lb.csv", index=False)
    config = _study(tmp_path / "s", '\n[grading.test_map]\nALTX = { high = "Alanine aminotransferase increased" }\n')
    result = runner.invoke(app, ["grade", str(tmp_path / "lb.csv"), "-o", str(tmp_path / "g.parquet"),
                                 "--config", str(config)])
    assert result.exit_code == 0, result.output
    graded = pd.read_parquet(tmp_path / "g.parquet")
    assert graded.loc[graded["testcd"].eq("ALTX"), "term_high"].eq("Alanine aminotransferase increased").all()


@pytest.mark.slow  # full demo run(s) through the CLI
def test_records_gone_since_the_last_run_are_a_warning(tmp_path):
    config = _study(tmp_path)
    assert _run(config).exit_code == 0
    ae = pd.read_csv(tmp_path / "data" / "ae.csv", dtype=str, keep_default_na=False)
    ae[ae["AETOXGR"].ne("4")].to_csv(tmp_path / "data" / "ae.csv", index=False)  # every grade 4 AE deleted
    result = _run(config)
    assert result.exit_code == 0
    manifest = json.loads(((tmp_path / "runs" / "latest").resolve() / "manifest.json").read_text())
    assert any("are no longer in the data" in w for w in manifest["warnings"])
    assert "are no longer in the data" in result.output


@pytest.mark.slow  # full demo run(s) through the CLI
def test_grade_parquet_folder_with_pandas_and_dask_gives_the_same_rows(tmp_path):
    lb = pd.read_csv(DATA_DIR / "lb.csv", dtype=str, keep_default_na=False)
    (tmp_path / "lb").mkdir()
    for i, part in enumerate((lb.iloc[:2000], lb.iloc[2000:])):  # a participant's rows split across two files
        part.to_parquet(tmp_path / "lb" / f"part-{i}.parquet", index=False)
    assert runner.invoke(app, ["grade", str(tmp_path / "lb"), "-o", str(tmp_path / "p.parquet"),
                               "--kind", "lab"]).exit_code == 0
    (tmp_path / "lb").rename(tmp_path / "lab_export")  # kind told by the columns, not the folder's name
    result = runner.invoke(app, ["grade", str(tmp_path / "lab_export"), "-o", str(tmp_path / "d"), "--engine", "dask"])
    assert result.exit_code == 0, result.output
    assert f"{len(lb)} rows (lab)" in result.output and "worst grade per participant and term" in result.output
    by_pandas = pd.read_parquet(tmp_path / "p.parquet")
    by_dask = pd.read_parquet(tmp_path / "d")
    key = ["USUBJID", "LBSEQ"]
    left = by_pandas.sort_values(key).reset_index(drop=True)[["USUBJID", "LBSEQ", "term", "grade", "reason"]]
    right = by_dask.sort_values(key).reset_index(drop=True)[["USUBJID", "LBSEQ", "term", "grade", "reason"]]
    pd.testing.assert_frame_equal(left, right, check_dtype=False)
    again = runner.invoke(app, ["grade", str(tmp_path / "lab_export"), "-o", str(tmp_path / "d"), "--kind", "lab",
                                "--engine", "dask"])
    assert again.exit_code == 3 and "Traceback" not in again.output  # the output folder is not empty


def test_grade_dask_on_a_folder_of_unknown_kind_says_so(tmp_path):
    (tmp_path / "export").mkdir()
    pd.DataFrame({"USUBJID": ["A"], "VALUE": ["1"]}).to_parquet(tmp_path / "export" / "part-0.parquet")
    result = runner.invoke(app, ["grade", str(tmp_path / "export"), "-o", str(tmp_path / "out"), "--engine", "dask"])
    assert result.exit_code == 2 and "cannot tell lab, vitals or ECG" in result.output


@pytest.mark.slow  # full demo run(s) through the CLI
def test_on_a_terminal_the_run_shows_rich_progress(tmp_path):
    """stderr on a pseudo-terminal: rich draws (ANSI control sequences), not plain log lines; stdout stays plain."""
    import pty
    import threading

    config = _study(tmp_path)
    try:
        master, slave = pty.openpty()
    except OSError as exc:  # a sandbox without pseudo-terminals
        pytest.skip(f"no pseudo-terminal: {exc}")
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    script = Path(sys.executable).with_name("ctcae-engine")
    done = subprocess.run([str(script), "run", "--config", str(config)], stdout=subprocess.PIPE, stderr=slave,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    assert done.returncode == 0
    text = seen.decode(errors="replace")
    assert "\x1b[" in text  # drawn by rich
    assert not re.search(r"^\d{4}-\d\d-\d\dT\S+ INFO step:", text, flags=re.M)  # not the scheduler's plain lines
    assert done.stdout.splitlines()[-1].startswith("run folder: ")


def test_validate_refuses_what_run_refuses(tmp_path):
    config = _study(tmp_path)
    config.write_text(config.read_text().replace("data_cutoff = 2025-06-30\n", ""))
    result = runner.invoke(app, ["validate", "--config", str(config)])
    assert result.exit_code == 2 and "study.toml: study.data_cutoff: a scheduled run needs the data cut-off" in \
        result.output
    assert _run(config).exit_code == 2


def test_an_output_path_that_is_a_file_exits_2(tmp_path):
    config = _study(tmp_path)
    (tmp_path / "runs").write_text("not a folder")
    result = _run(config)
    assert result.exit_code == 2 and "the output folder is a file" in result.output


@pytest.mark.slow  # full demo run(s) through the CLI
def test_a_latest_pointing_at_a_deleted_run_is_a_warning(tmp_path):
    config = _study(tmp_path)
    assert _run(config).exit_code == 0
    shutil.rmtree((tmp_path / "runs" / "latest").resolve())
    result = _run(config)
    assert result.exit_code == 0 and "which is gone: this run is compared with nothing" in result.output
    manifest = json.loads(((tmp_path / "runs" / "latest").resolve() / "manifest.json").read_text())
    assert any("which is gone" in w for w in manifest["warnings"])


def test_terms_needs_a_search_text():
    result = runner.invoke(app, ["terms", " "])
    assert result.exit_code == 2 and "give a search text" in result.output


def test_rederive_replaces_a_sponsor_trtemfl_by_the_study_window(tmp_path):
    """An AE file carrying TRTEMFL is taken as given (here every flag N: no TEAE at all); `run --rederive` derives
    the flags from the window again and the primary endpoint returns to the demo's 20/20."""
    config = _study(tmp_path)
    ae = pd.read_csv(tmp_path / "data" / "ae.csv", dtype=str, keep_default_na=False)
    ae.assign(TRTEMFL="N").to_csv(tmp_path / "data" / "ae.csv", index=False)
    given = _run(config, "--out", str(tmp_path / "given"))
    rederived = _run(config, "--out", str(tmp_path / "rederived"), "--rederive")
    assert given.exit_code == rederived.exit_code == 0, given.output + rederived.output
    primary = {name: json.loads((tmp_path / name / "latest" / "summary.json").read_text())["primary"]
               for name in ("given", "rederived")}
    assert (primary["given"]["n"], primary["rederived"]["n"], primary["rederived"]["N"]) == (0, 20, 20)


def test_version_flag_prints_the_engine_version():
    from ctcae_engine import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"ctcae-engine {__version__}"


def test_help_keeps_config_section_names_in_square_brackets():
    """Issue 19: rich markup ate "[data]" and "[run]" ("default:  folder of the config")."""
    result = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "[data] folder of the config" in result.output and "[run] output_dir" in result.output


def test_terms_suggests_the_term_for_a_typo_and_says_when_it_cut_the_list():
    """Issue 19: `terms neutrofil` found nothing; a long list was cut at --limit without a word."""
    typo = runner.invoke(app, ["terms", "neutrofil"])
    assert typo.exit_code == 0 and "closest spellings" in typo.output
    assert "Neutrophil count decreased" in typo.output
    cut = runner.invoke(app, ["terms", "decreased", "--limit", "3"])
    assert cut.exit_code == 0 and "more terms match; --limit" in cut.output
    assert len([line for line in cut.output.splitlines() if line.endswith("[contains]")]) == 3
