"""Grade 1,000,000 lab rows (the admiral conformance ADLB replicated) and print time, rows/s and peak memory.

Usage: .venv/bin/python benchmarks/bench_lab_grading.py [--rows 1000000] [--peer PATH] [--repeat 9] [--text shared]

Timing: a warm-up on 1,000 rows loads the criteria and unit tables; the first full-size call is reported apart
("cold": the process allocates its working memory for the first time); then ``--repeat`` calls give the median,
best and worst. Peak memory: tracemalloc peak of one grading call (numpy and pandas allocations), and the
process's maximum resident set size (ru_maxrss) for the whole run including the input frame.

``--text``: how the input's text cells are held. ``shared`` (default): as read from CSV, equal texts share one
Python object (what pandas' CSV reader and pyarrow produce); ``distinct``: every cell its own str object (the
slow path of columns.factorize); ``category``: text columns as pandas Categoricals.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from ctcae_engine.grade.findings import grade_labs

PEER = Path("/work/shared/peer/admiral_adlb_ctcv4.csv")
TEXT = ["USUBJID", "PARAMCD", "PARAM", "ABLFL", "ATOXDSCL", "ATOXDSCH"]


def load(path: Path, rows: int, text: str = "shared") -> pd.DataFrame:
    peer = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", pd.NA)
    for column in ("AVAL", "ANRLO", "ANRHI", "BASE", "PCHG"):
        peer[column] = pd.to_numeric(peer[column])
    copies = -(-rows // len(peer))
    frame = pd.concat([peer] * copies, ignore_index=True).iloc[:rows]
    if text == "distinct":  # a fresh str object per cell (set-up cost, not timed)
        frame = frame.copy()
        for column in TEXT:
            frame[column] = pd.Series([t if t is pd.NA else "".join(list(t)) for t in frame[column]],
                                      index=frame.index, dtype=object)
    elif text == "category":
        frame = frame.astype({column: "category" for column in TEXT})
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--peer", type=Path, default=PEER)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--text", choices=("shared", "distinct", "category"), default="shared")
    args = parser.parse_args()
    frame = load(args.peer, args.rows, args.text)
    grade_labs(frame.head(1000))  # warm-up: load the criteria and unit tables once
    start = time.perf_counter()
    out = grade_labs(frame)
    cold = time.perf_counter() - start
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        out = grade_labs(frame)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    grade_labs(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    median, best, worst = statistics.median(times), min(times), max(times)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"input              : {len(frame):,} rows x {frame.shape[1]} columns, text cells '{args.text}'")
    print(f"rows graded        : {len(out):,} ({out['grade'].notna().sum():,} with a grade)")
    print(f"first call (cold)  : {cold:.3f} s")
    print(f"{f'next {args.repeat} calls':<19}: median {median:.3f} s, best {best:.3f} s, worst {worst:.3f} s")
    print(f"throughput         : {len(out) / median:,.0f} rows/s (median), {len(out) / best:,.0f} rows/s (best)")
    print(f"peak traced memory : {peak / 2**20:,.0f} MiB during one grade_labs call")
    print(f"max RSS (process)  : {rss_mb:,.0f} MiB")


if __name__ == "__main__":
    main()
