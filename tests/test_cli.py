"""The command line a scheduler calls: clear messages and exit codes, every input row accounted for."""

import pandas as pd
from typer.testing import CliRunner

from ctcae_engine.cli import app

runner = CliRunner()


def test_term_lookup_prints_allowed_grades():
    result = runner.invoke(app, ["term", "Alopecia"])
    assert result.exit_code == 0
    assert "grade 2: Hair loss of >=50%" in result.output and "grade 3" not in result.output


def test_unknown_term_exits_2_with_suggestions():
    result = runner.invoke(app, ["term", "neutropenia"])
    assert result.exit_code == 2
    assert "Neutrophil count decreased" in result.output


def test_grade_labs_writes_every_row_with_grade_or_reason(tmp_path):
    lb = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S1"],
        "LBTESTCD": ["ALT", "ALT", "XYZ"],
        "LBSTRESC": ["250", "<0.5", "1"],
        "LBSTRESN": ["250", "", "1"],
        "LBSTRESU": ["U/L", "U/L", "U/L"],
        "LBSTNRLO": ["0", "0", "0"],
        "LBSTNRHI": ["40", "40", "40"],
        "LBDTC": ["2025-01-10", "2025-01-11", "2025-01-12"],
    })
    src = tmp_path / "lb.csv"
    lb.to_csv(src, index=False)
    out = tmp_path / "graded.csv"
    result = runner.invoke(app, ["grade-labs", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    graded = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(graded) == 3
    assert graded.loc[0, "grade"] == "3"  # ALT 250 U/L, ULN 40: ">5.0 - 20.0 x ULN" -> grade 3
    assert graded.loc[1, "grade"] == "" and "<0.5" in graded.loc[1, "reason"]
    assert graded.loc[2, "grade"] == "" and "XYZ" in graded.loc[2, "reason"]
    assert "1 graded, 2 with a reason" in result.output


def test_report_with_missing_config_exits_2(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path), "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "error:" in result.output


def test_unknown_ctcae_version_exits_2_with_the_known_ones():
    result = runner.invoke(app, ["term", "Nausea", "--version", "6"])
    assert result.exit_code == 2
    assert "unknown CTCAE version '6'" in result.output and "4.03" in result.output
