"""Issue 16 end to end: ``ctcae-engine run`` on copies of the demo trial with one thing changed. Each of these
inputs stopped a stage (exit 5) or the run (exit 1) before; now the run goes on (exit 0) with the problem listed in
the manifest, and ``latest`` moves. Also: every exit code of docs/cli.md's table, triggered."""

import csv
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ctcae_engine.demo import DATA_DIR
from ctcae_engine.read.config import DEMO_CONFIG
from ctcae_engine.run.cli import app

runner = CliRunner()
DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _study(tmp: Path, extra: str = "") -> Path:
    """A copy of the demo trial (data and study.toml side by side, no PDF) in ``tmp``; returns the data folder."""
    data = tmp / "data"
    shutil.copytree(DATA_DIR, data)
    text = DEMO_CONFIG.read_text().replace("pdf = true", "pdf = false").replace('folder = "data"', 'folder = "."')
    (data / "study.toml").write_text(text + extra)
    return data


def _run(data: Path, *args: str):
    return runner.invoke(app, ["run", "--data", str(data), "--out", str(data.parent / "runs"), *args])


def _set(data: Path, domain: str, column: str, row: int, value: str) -> None:
    path = data / f"{domain}.csv"
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    rows[row + 1][rows[0].index(column)] = value
    with open(path, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def _add_column(data: Path, domain: str, name: str, like: str) -> None:
    path = data / f"{domain}.csv"
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    position = rows[0].index(like)
    for i, row in enumerate(rows):
        row.append(name if i == 0 else row[position])
    with open(path, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def _first_numeric_pc(data: Path) -> int:
    pc = pd.read_csv(data / "pc.csv", dtype=str)
    return int(pc["PCSTRESN"].notna().to_numpy().nonzero()[0][0])


MUTATIONS = {
    **{f"0-byte {d}": (lambda data, d=d: (data / f"{d}.csv").write_bytes(b""), f"{d.upper()}: the domain has no rows")
       for d in ("vs", "eg", "xc", "rs", "pc")},
    "AETERM and aeterm": (lambda data: _add_column(data, "ae", "aeterm", "AETERM"), "'AETERM' and 'aeterm'"),
    "LBSTRESN and 'LBSTRESN '": (lambda data: _add_column(data, "lb", "LBSTRESN ", "LBSTRESN"),
                                 "'LBSTRESN' and 'LBSTRESN '"),
    "AETERM twice": (lambda data: _add_column(data, "ae", "AETERM", "AETERM"), "column 'AETERM' is given 2 times"),
    **{f"1724 in {d}": (lambda data, d=d, c=c: _set(data, d, c, 2, "1724-03-10"), f"{d.upper()}.{c}: 1 values are "
                        "dates outside the usable range")
       for d, c in (("ae", "AESTDTC"), ("lb", "LBDTC"), ("rs", "RSDTC"), ("xc", "XCDTC"), ("pc", "PCDTC"))},
    "inf in PCSTRESN": (lambda data: _set(data, "pc", "PCSTRESN", _first_numeric_pc(data), "inf"), None),
    "$ in a participant id": (lambda data: [path.write_text(path.read_text().replace(
        "ALPP-CART-DEMO-01001", "ALPP-$\\frac$-01001")) for path in data.glob("*.csv")], None),
    "duplicate DM row": (lambda data: (data / "dm.csv").write_text(
        (data / "dm.csv").read_text() + (data / "dm.csv").read_text().splitlines()[1] + "\n"),
        "DM: 2 rows share their USUBJID"),
}


@pytest.mark.slow  # one full demo run per mutation
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_one_bad_file_or_cell_leaves_the_run_going(tmp_path, name):
    data = _study(tmp_path)
    change, listed = MUTATIONS[name]
    change(data)
    result = _run(data)
    assert result.exit_code == 0, result.output
    assert "stage failed" not in result.output and "Traceback" not in result.output
    folder = (tmp_path / "runs" / "latest").resolve()  # latest moved
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "success"
    if listed is not None:
        assert any(listed in w for w in manifest["warnings"]), manifest["warnings"]
    rows = manifest["rows"]["lb"]  # every LB row read is in the graded dataset
    assert rows["rows_out"] == rows["graded"] + rows["ungraded_with_reason"] == rows["rows_after_cutoff"]


@pytest.mark.slow  # one full demo run
def test_formula_like_cells_are_neutralised_in_every_csv_and_exact_in_parquet(tmp_path):
    data = _study(tmp_path)
    _set(data, "ae", "AETERM", 0, '=HYPERLINK("http://evil","click")')
    _set(data, "lb", "LBORRES", 0, "@SUM(1+1)")
    _set(data, "lb", "LBSTRESC", 0, "-2+3")
    _set(data, "lb", "LBSTRESN", 0, "")
    assert _run(data).exit_code == 0
    folder = (tmp_path / "runs" / "latest").resolve()
    for path in folder.rglob("*.csv"):
        with open(path, newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert not cell.startswith(("=", "@", "+", "\t", "\r")), (path.name, cell)
                    assert not cell.startswith("-") or re.fullmatch(r"-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", cell), \
                        (path.name, cell)
    graded = pd.read_csv(folder / "graded" / "lb.csv", dtype=str, keep_default_na=False)
    assert graded.loc[0, "LBORRES"] == "'@SUM(1+1)" and graded.loc[0, "LBSTRESC"] == "'-2+3"
    assert "-28" in set(graded["LBDY"])  # negative study days stay numbers
    assert pd.read_csv(folder / "graded" / "ae.csv", dtype=str)["AETERM"].iloc[0].startswith("'=HYPERLINK")
    assert pd.read_parquet(folder / "graded" / "lb.parquet").loc[0, "LBORRES"] == "@SUM(1+1)"
    assert pd.read_parquet(folder / "graded" / "ae.parquet")["AETERM"].iloc[0].startswith("=HYPERLINK")
    ungraded = pd.read_csv(folder / "ungraded_rows.csv", dtype=str)
    assert ungraded.map(lambda v: isinstance(v, str) and v.startswith("@")).sum().sum() == 0


# ---------------------------------------------------------------------------------- docs/cli.md exit codes
def _documented_codes() -> set[int]:
    text = DOCS.read_text()
    table = text[text.index("## Exit codes"):].split("\n\n")[1]
    codes: set[int] = set()
    for line in table.splitlines()[2:]:
        codes.update(int(c) for c in re.findall(r"\d+", line.split("|")[1]))
    return codes


def _code_0(tmp_path, monkeypatch):
    return _run(_study(tmp_path)).exit_code


def _code_1(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ctcae_engine.run.pipeline.run_study", broken)
    return _run(_study(tmp_path)).exit_code


def _code_2(tmp_path, monkeypatch):
    data = _study(tmp_path)
    return runner.invoke(app, ["run", "--config", str(data / "study.toml"), "--data", "/nonexistent"]).exit_code


def _code_3(tmp_path, monkeypatch):
    data = _study(tmp_path)
    (data / "ex.csv").write_text((data / "ex.csv").read_text().splitlines()[0] + "\n")  # empty EX
    return _run(data).exit_code


def _code_4(tmp_path, monkeypatch):
    data = _study(tmp_path)  # the demo holds a few ungradable rows of graded tests: above a 0 % limit
    config = data / "study.toml"
    config.write_text(config.read_text().replace("max_ungradable_pct = 5.0", "max_ungradable_pct = 0.0"))
    return _run(data).exit_code


def _code_5(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a stage that fails")

    monkeypatch.setattr("ctcae_engine.analyse.efficacy.pfs_data", broken)
    return _run(_study(tmp_path)).exit_code


def _code_6(tmp_path, monkeypatch):
    data = _study(tmp_path)
    (tmp_path / "runs").mkdir()
    with open(tmp_path / "runs" / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return _run(data).exit_code


def _killed(tmp_path, sig: signal.Signals) -> int:
    """The console script, stopped by ``sig`` while it runs: the shell's exit code (128 + signal)."""
    data = _study(tmp_path)
    script = Path(sys.executable).with_name("ctcae-engine")
    process = subprocess.Popen([str(script), "run", "--data", str(data), "--out", str(tmp_path / "runs")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # wait until the analysis runs
        if "step:" in line:
            break
    time.sleep(0.2)
    process.send_signal(sig)
    process.communicate(timeout=120)
    assert not (tmp_path / "runs" / "latest").exists()
    assert not [p for p in (tmp_path / "runs").iterdir() if p.name.startswith("cutoff-")]
    return 128 - process.returncode if process.returncode < 0 else process.returncode


def _code_130(tmp_path, monkeypatch):
    return _killed(tmp_path, signal.SIGINT)


def _code_143(tmp_path, monkeypatch):
    return _killed(tmp_path, signal.SIGTERM)


TRIGGERS = {0: _code_0, 1: _code_1, 2: _code_2, 3: _code_3, 4: _code_4, 5: _code_5, 6: _code_6, 130: _code_130,
            143: _code_143}
FAST = {1, 2, 3, 6}  # stop before the analysis


def test_every_documented_exit_code_has_a_trigger():
    assert _documented_codes() == set(TRIGGERS)


@pytest.mark.parametrize("code", [pytest.param(c, marks=() if c in FAST else pytest.mark.slow) for c in TRIGGERS])
def test_each_exit_code_of_the_docs_is_what_the_run_gives(tmp_path, monkeypatch, code):
    assert TRIGGERS[code](tmp_path, monkeypatch) == code
    if code in (2, 3, 6):  # nothing written (the lock file aside)
        runs = tmp_path / "runs"
        assert not runs.exists() or {p.name for p in runs.iterdir()} <= {".lock"}
    assert os.path.exists(DOCS)
