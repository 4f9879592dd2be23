"""Grade 1,000,000 lab rows (the admiral conformance ADLB replicated) and print time, rows/s and peak memory.

Usage: .venv/bin/python benchmarks/bench_lab_grading.py [--rows 1000000] [--peer PATH] [--repeat 3]
Peak memory: tracemalloc peak of the grading call alone (numpy and pandas allocations), and the process's
maximum resident set size (ru_maxrss) for the whole run including the input frame.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from ctcae_engine.grading import grade_labs

PEER = Path("/work/shared/peer/admiral_adlb_ctcv4.csv")


def load(path: Path, rows: int) -> pd.DataFrame:
    peer = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", pd.NA)
    for column in ("AVAL", "ANRLO", "ANRHI", "BASE", "PCHG"):
        peer[column] = pd.to_numeric(peer[column])
    copies = -(-rows // len(peer))
    return pd.concat([peer] * copies, ignore_index=True).iloc[:rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--peer", type=Path, default=PEER)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    frame = load(args.peer, args.rows)
    grade_labs(frame.head(1000))  # warm-up: load the criteria and unit tables once
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        out = grade_labs(frame)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    grade_labs(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best = min(times)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows graded        : {len(out):,} ({out['grade'].notna().sum():,} with a grade)")
    median = sorted(times)[len(times) // 2]
    print(f"wall time          : first (cold) {times[0]:.3f} s, median {median:.3f} s, best {best:.3f} s")
    print(f"throughput         : {len(out) / median:,.0f} rows/s (median), {len(out) / best:,.0f} rows/s (best)")
    print(f"peak traced memory : {peak / 2**20:,.0f} MiB during one grade_labs call")
    print(f"max RSS (process)  : {rss_mb:,.0f} MiB")


if __name__ == "__main__":
    main()
