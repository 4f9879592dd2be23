"""ctcae-engine against the peer, R admiral 1.4.1, on the same replicated ADLB rows, in one run: grading in process
and the whole read-grade-write command (Parquet -> Parquet, CSV -> CSV), medians with min and max, and the ratio.

Usage: .venv/bin/python benchmarks/bench_vs_admiral.py [--rows 1000000] [--repeat 5] [--rlib DIR] [--skip-commands]

The rows: ../shared/peer/admiral_adlb_ctcv4.csv (45,077 pharmaverseadam ADLB records) replicated to ``--rows``
(USUBJID suffixed per copy, as ../shared/peer/scripts/time_admiral.R does). admiral runs when ``Rscript`` and
admiral are installed in ``--rlib`` (default $CTCAE_ADMIRAL_RLIB, else /work/rlib): install them with
``MIRROR=DIR RLIB=DIR bash ../shared/peer/scripts/install_admiral.sh`` (../shared/peer/README.md). Without them the
engine's figures are printed and the peer is reported as skipped. Wall times; this machine is noisy.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from ctcae_engine.api import grade_labs

HERE = Path(__file__).resolve().parent
PEER = HERE.parents[1] / "shared" / "peer"
PEER_CSV = PEER / "admiral_adlb_ctcv4.csv"
TIME_ADMIRAL = PEER / "scripts" / "time_admiral.R"
READ_GRADE_WRITE = HERE / "admiral_read_grade_write.R"
ENGINE = Path(sys.executable).with_name("ctcae-engine")


def replicated(rows: int) -> pd.DataFrame:
    """The peer ADLB without admiral's grades, replicated to ``rows`` rows (USUBJID "-R01", "-R02", ... per copy)."""
    peer = pd.read_csv(PEER_CSV, dtype=str, keep_default_na=False).replace("", pd.NA)
    peer = peer.drop(columns=["ATOXGRL", "ATOXGRH", "ATOXGR"])
    for column in ("AVAL", "ANRLO", "ANRHI", "BASE", "PCHG", "ADY"):
        peer[column] = pd.to_numeric(peer[column])
    copies = -(-rows // len(peer))
    parts = [peer.assign(USUBJID=peer["USUBJID"] + f"-R{r:02d}") for r in range(1, copies + 1)]
    return pd.concat(parts, ignore_index=True).iloc[:rows]


def stats(times: list[float]) -> str:
    return f"median {statistics.median(times):6.2f} s (min {min(times):.2f}, max {max(times):.2f}, n={len(times)})"


def timed(repeat: int, run) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def admiral_available(rlib: Path) -> bool:
    return shutil.which("Rscript") is not None and (rlib / "admiral").is_dir()


def run_r(script: Path, rlib: Path, *args: str) -> str:
    env = {**os.environ, "R_LIBS": str(rlib), "TZ": "UTC"}
    done = subprocess.run(["Rscript", str(script), *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout


def r_medians(output: str, label: str) -> list[float]:
    """The per-repetition wall times of a ``label`` line printed by time_admiral.R / admiral_read_grade_write.R."""
    line = next(line for line in output.splitlines() if line.startswith(label))
    return [float(x) for x in re.search(r"wall s: ([\d. ]+)\(", line).group(1).split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rlib", type=Path, default=Path(os.environ.get("CTCAE_ADMIRAL_RLIB", "/work/rlib")))
    parser.add_argument("--skip-commands", action="store_true", help="time grading in process only")
    args = parser.parse_args()
    frame = replicated(args.rows)
    print(f"rows: {len(frame):,} ({PEER_CSV.name} replicated), {frame.shape[1]} columns")
    grade_labs(frame.head(1000))  # load the criteria and unit tables once
    ours = timed(args.repeat, lambda: grade_labs(frame))
    print(f"ctcae-engine grade_labs in process      : {stats(ours)}")
    peer_ready = admiral_available(args.rlib)
    if peer_ready:
        peer = r_medians(run_r(TIME_ADMIRAL, args.rlib, str(PEER_CSV), str(args.rows), str(args.repeat)),
                         "full pipeline L+H+overall")
        print(f"admiral 1.4.1 grading in process        : {stats(peer)}")
        print(f"ratio in process (admiral / engine)     : {statistics.median(peer) / statistics.median(ours):.1f}x")
    else:
        print(f"admiral: skipped (Rscript or admiral in {args.rlib} not found; see ../shared/peer/README.md)")
    if args.skip_commands:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frame.to_parquet(folder / "adlb.parquet", index=False)
        frame.to_csv(folder / "adlb.csv", index=False)
        commands = {}
        for name, source, target in (("Parquet -> Parquet", "adlb.parquet", "out.parquet"),
                                     ("CSV -> CSV", "adlb.csv", "out.csv")):
            command = [str(ENGINE), "grade", str(folder / source), "-o", str(folder / target), "--kind", "lab"]
            commands[name] = timed(args.repeat, lambda c=command: subprocess.run(c, check=True, capture_output=True))
            size = (folder / target).stat().st_size / 2**20
            print(f"ctcae-engine grade {name:<20}: {stats(commands[name])}; output {size:,.0f} MiB")
        if peer_ready:
            out = run_r(READ_GRADE_WRITE, args.rlib, str(folder / "adlb.csv"), str(folder / "r.csv"), str(args.repeat))
            whole = r_medians(out, "read CSV + grade + write CSV")
            size = (folder / "r.csv").stat().st_size / 2**20
            print(f"admiral read CSV + grade + write CSV    : {stats(whole)}; output {size:,.0f} MiB")
            for name, times in commands.items():
                print(f"ratio whole command, {name:<20}: {statistics.median(whole) / statistics.median(times):.1f}x")


if __name__ == "__main__":
    main()
