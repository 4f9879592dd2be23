"""Grade 10M and 50M lab rows from a Parquet dataset with the Dask engine (local cluster) and print rows/s, wall time
and peak resident memory of the whole process tree; the pandas single-process figure for 10M beside it.

Usage: .venv/bin/python benchmarks/bench_dask.py [--rows 10000000 50000000] [--pandas-rows 10000000]
       [--dir /tmp/ctcae_bench] [--scheduler tcp://host:8786] [--regenerate]

Data: SDTM LB rows generated out of core (one Parquet file of ``--file-rows`` rows at a time) under ``--dir``:
participants of a programme (NCT04627740-SSS-NNNNNN), 18 tests (17 CTCAE-mapped, one not), 28 visits from
screening (day -7, LBBLFL = Y for 80 % of participants) to day 365, dated LBDTC text, standard units with creatinine
in mg/dL and hemoglobin in g/dL for 10 % of participants (converted by the engine), reference ranges, 0.5 % missing
results. Files are cut by row count, so a participant's rows may straddle two files. The first N rows (whole files)
form the N-row dataset.

Each measurement runs in a fresh child process (``--run``); this process samples the RSS of the child and all its
descendants (workers, nannies) every 0.1 s with psutil: "peak RSS" is the largest sum seen, in GB (10^9 bytes;
shared pages counted once per process, so it overstates; a spike shorter than 0.1 s may be missed). The script
exits with status 1 when a Dask run peaks above PEAK_LIMIT (4 GB) or its output does not hold every input row.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

# test code, category, unit, normal range (LLN, ULN), log-scale spread of values around the mid-range
TESTS = [
    ("ALT", "CHEMISTRY", "U/L", 7, 40, 0.6), ("AST", "CHEMISTRY", "U/L", 8, 35, 0.6),
    ("ALP", "CHEMISTRY", "U/L", 40, 130, 0.5), ("BILI", "CHEMISTRY", "umol/L", 3, 21, 0.6),
    ("CREAT", "CHEMISTRY", "umol/L", 45, 90, 0.4), ("ALB", "CHEMISTRY", "g/L", 35, 50, 0.15),
    ("SODIUM", "CHEMISTRY", "mmol/L", 135, 145, 0.03), ("K", "CHEMISTRY", "mmol/L", 3.5, 5.1, 0.12),
    ("CA", "CHEMISTRY", "mmol/L", 2.15, 2.55, 0.07), ("GLUC", "CHEMISTRY", "mmol/L", 3.9, 7.8, 0.3),
    ("MG", "CHEMISTRY", "mmol/L", 0.7, 1.0, 0.15), ("PROT", "CHEMISTRY", "g/L", 60, 80, 0.1),
    ("HGB", "HEMATOLOGY", "g/L", 120, 155, 0.15), ("WBC", "HEMATOLOGY", "10^9/L", 4.0, 10.0, 0.5),
    ("NEUT", "HEMATOLOGY", "10^9/L", 1.8, 7.5, 0.6), ("LYM", "HEMATOLOGY", "10^9/L", 1.0, 4.0, 0.6),
    ("PLAT", "HEMATOLOGY", "10^9/L", 150, 400, 0.45), ("INR", "COAGULATION", "ratio", 0.8, 1.2, 0.2),
]
VISIT_DAYS = np.array([-7, 0, 1, 2, 3, 5, 7, 10, 14, 17, 21, 28, 35, 42, 56, 70, 84, 112, 140, 168, 196, 224,
                       252, 280, 308, 336, 350, 365])
PER_SUBJECT = len(TESTS) * len(VISIT_DAYS)
PEAK_LIMIT = 4e9  # bytes: a Dask run whose process tree peaks above this fails the benchmark (exit status 1)


def _strings(codes: np.ndarray, names: list[str] | np.ndarray) -> pa.Array:
    """A plain string column from codes into a small list of texts (built through a dictionary, cheaply)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(list(names), pa.string())) \
        .cast(pa.string())


def _subjects(first: int, count: int, rng: np.random.Generator) -> pa.Table:
    """All rows of participants first .. first + count - 1, in participant x visit x test order."""
    subj = np.arange(first, first + count)
    names = [f"NCT04627740-{s % 997:03d}-{s:06d}" for s in subj]
    enrol = np.datetime64("2019-01-01T08:30") + rng.integers(0, 6 * 365, count).astype("timedelta64[D]")
    flagged = rng.random(count) < 0.8
    old_units = rng.random(count) < 0.1  # CREAT mg/dL, HGB g/dL
    n_vis, n_test = len(VISIT_DAYS), len(TESTS)
    s_idx = np.repeat(np.arange(count), n_vis * n_test)
    v_idx = np.tile(np.repeat(np.arange(n_vis), n_test), count)
    t_idx = np.tile(np.arange(n_test), count * n_vis)
    n = len(s_idx)
    lln = np.array([t[3] for t in TESTS], dtype=float)[t_idx]
    uln = np.array([t[4] for t in TESTS], dtype=float)[t_idx]
    spread = np.array([t[5] for t in TESTS])[t_idx]
    value = np.sqrt(lln * uln) * np.exp(rng.normal(0.0, spread))
    value[rng.random(n) < 0.005] = np.nan
    unit_names = [t[2] for t in TESTS] + ["mg/dL", "g/dL"]
    unit = t_idx.copy()
    codes = [t[0] for t in TESTS]
    for test, alt, factor in (("CREAT", len(TESTS), 88.4), ("HGB", len(TESTS) + 1, 10.0)):
        rows = (t_idx == codes.index(test)) & old_units[s_idx]
        unit[rows] = alt
        value[rows] /= factor
        lln[rows] /= factor
        uln[rows] /= factor
    dates = enrol[:, None] + VISIT_DAYS[None, :].astype("timedelta64[D]")
    date_text = np.datetime_as_string(dates.ravel(), unit="m")
    date_codes = s_idx * n_vis + v_idx
    blfl = np.where(flagged[s_idx] & (v_idx == 0), 0, -1)
    return pa.table({
        "STUDYID": _strings(np.zeros(n, dtype=np.int32), ["NCT04627740"]),
        "USUBJID": _strings(s_idx, names),
        "LBSEQ": pa.array(v_idx * n_test + t_idx + 1, pa.int64()),
        "LBTESTCD": _strings(t_idx, codes),
        "LBCAT": _strings(t_idx, [t[1] for t in TESTS]),
        "LBSTRESN": pa.array(np.round(value, 2), pa.float64(), from_pandas=True),
        "LBSTRESU": _strings(unit, unit_names),
        "LBSTNRLO": pa.array(np.round(lln, 3), pa.float64()),
        "LBSTNRHI": pa.array(np.round(uln, 3), pa.float64()),
        "LBBLFL": pa.DictionaryArray.from_arrays(pa.array(blfl, pa.int32(), mask=blfl < 0),
                                                 pa.array(["Y"])).cast(pa.string()),
        "VISITDY": pa.array(VISIT_DAYS[v_idx], pa.int32()),
        "LBDTC": _strings(date_codes, date_text),
    })


def generate(folder: Path, rows: int, file_rows: int, seed: int = 20240301) -> float:
    """Write ``rows`` LB rows as Parquet files of ``file_rows`` rows each, never holding more than about two files'
    rows in memory. Returns the seconds it took."""
    start = time.perf_counter()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    block = max(1, file_rows // PER_SUBJECT)
    pending: list[pa.Table] = []
    held = written = subject = part = 0
    while written < rows:
        table = _subjects(subject, block, rng)
        subject += block
        pending.append(table)
        held += len(table)
        while held >= file_rows or (held and written + held >= rows):
            joined = pa.concat_tables(pending)
            take = min(file_rows, rows - written, len(joined))
            pq.write_table(joined.slice(0, take), folder / f"part-{part:04d}.parquet", row_group_size=take)
            part += 1
            written += take
            rest = joined.slice(take)
            pending, held = ([rest], len(rest)) if written < rows else ([], 0)
    return time.perf_counter() - start


def subset(folder: Path, rows: int, file_rows: int) -> Path:
    """A folder of links to the first ``rows`` rows (whole files) of the generated dataset."""
    target = folder.parent / f"{folder.name}_{rows // 1_000_000}M"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    for source in sorted(folder.glob("*.parquet"))[: -(-rows // file_rows)]:
        (target / source.name).symlink_to(source)
    return target


def measure(cmd: list[str]) -> tuple[dict, float]:
    """Run ``cmd`` (a child printing one JSON line last) and sample its process tree's RSS; returns (json, peak)."""
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        total = 0
        with contextlib.suppress(psutil.Error):  # a process may end between listing and reading it
            for p in [proc, *proc.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
        peak = max(peak, total)
        time.sleep(0.1)
    out = proc.stdout.read()
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}): {' '.join(cmd)}\n{out}")
    return json.loads(out.strip().splitlines()[-1]), peak


def run_dask(source: Path, out: Path, scheduler: str | None) -> dict:
    from ctcae_engine.dask.engine import grade_dataset, read_dataset, shuffle_partitions, worst_path

    for folder in (out, Path(worst_path(out))):
        if folder.exists():
            shutil.rmtree(folder)
    start = time.perf_counter()
    counts = grade_dataset(source, out, kind="lab", scheduler=scheduler)
    wall = time.perf_counter() - start
    written = sum(pq.read_metadata(f).num_rows for f in out.glob("*.parquet"))  # the output, checked at scale
    worst = sum(pq.read_metadata(f).num_rows for f in Path(worst_path(out)).glob("*.parquet"))
    if written != counts["rows_in"] or not worst:
        raise SystemExit(f"output incomplete: {written:,} rows written of {counts['rows_in']:,}, {worst} worst")
    pieces = read_dataset(source)[0].npartitions  # footers only: the partitions the run read
    return {**counts, "wall": wall, "worst_rows": worst,
            "partitions": f"{pieces}->{shuffle_partitions(counts['rows_in'])}"}


def run_pandas(source: Path) -> dict:
    import pandas as pd

    from ctcae_engine.grade.findings import grade_labs

    start = time.perf_counter()
    frame = pd.read_parquet(source)
    read = time.perf_counter() - start
    grade_labs(frame.head(1000))  # load the criteria tables once, like bench_lab_grading
    start = time.perf_counter()
    out = grade_labs(frame)
    grade = time.perf_counter() - start
    return {"rows": len(out), "graded": int(out["grade"].notna().sum()), "read": read, "grade": grade}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000, 50_000_000])
    parser.add_argument("--pandas-rows", type=int, default=10_000_000, help="0 to skip the pandas figure")
    parser.add_argument("--file-rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/ctcae_bench"))
    parser.add_argument("--scheduler", default=None, help="a Dask scheduler address; default a local cluster")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--run", choices=("dask", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run == "dask":
        print(json.dumps(run_dask(args.source, args.dir / f"graded_{args.source.name}", args.scheduler)))
        return
    if args.run == "pandas":
        print(json.dumps(run_pandas(args.source)))
        return

    data = args.dir / "lb"
    total = max([*args.rows, args.pandas_rows])
    have = sum(pq.ParquetFile(f).metadata.num_rows for f in data.glob("*.parquet")) if data.exists() else 0
    if args.regenerate or have < total:
        seconds = generate(data, total, args.file_rows)
        size = sum(f.stat().st_size for f in data.glob("*.parquet")) / 2**30
        print(f"generated {total:,} LB rows in {seconds:.1f} s -> {data} ({size:.2f} GiB)")
    me = [sys.executable, __file__, "--dir", str(args.dir)]
    print(f"{'engine':<8} {'rows':>12} {'partitions':>10} {'wall s':>8} {'rows/s':>12} {'peak RSS':>10}  notes")
    if args.pandas_rows:
        got, peak = measure([*me, "--run", "pandas", "--source", str(subset(data, args.pandas_rows,
                                                                            args.file_rows))])
        print(f"{'pandas':<8} {got['rows']:>12,} {1:>10} {got['read'] + got['grade']:>8.1f} "
              f"{got['rows'] / got['grade']:>12,.0f} {peak / 1e9:>8.2f} GB read {got['read']:.1f} s + grade "
              f"{got['grade']:.1f} s (rows/s of grading alone), one process; {got['graded']:,} graded")
    over = []
    for rows in args.rows:
        cmd = [*me, "--run", "dask", "--source", str(subset(data, rows, args.file_rows))]
        if args.scheduler:
            cmd += ["--scheduler", args.scheduler]
        got, peak = measure(cmd)
        print(f"{'dask':<8} {got['rows_in']:>12,} {got['partitions']:>10} {got['wall']:>8.1f} "
              f"{got['rows_in'] / got['wall']:>12,.0f} {peak / 1e9:>8.2f} GB read + shuffle + grade + write, "
              f"cluster start included; rows out {got['rows_out']:,}, graded {got['graded']:,}, "
              f"ungraded {got['ungraded']:,}; {got['worst_rows']:,} worst-grade rows")
        if peak > PEAK_LIMIT:
            over.append(f"{rows:,} rows: peak {peak / 1e9:.2f} GB")
    if over:
        raise SystemExit(f"peak resident memory over {PEAK_LIMIT / 1e9:.0f} GB: {'; '.join(over)}")

if __name__ == "__main__":
    main()
