"""Time the endpoint and table functions on the generated 1,000-participant demo trial and print the figures.

Usage: .venv/bin/python benchmarks/bench_endpoints.py [--data DIR] [--participants 1000] [--repeat 5]
Without --data the trial is generated into a temporary folder first
(``python -m ctcae_engine.demo.generate --participants N --out DIR``). Labs are graded once (not timed here: see
bench_lab_grading.py); each function is then timed ``--repeat`` times and the median and best wall times printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctcae_engine.analyse.efficacy import best_overall_response, orr_table, pfs_data, pfs_summary
from ctcae_engine.analyse.eligibility import eligibility_screen
from ctcae_engine.analyse.endpoints import ae_overview, flag_ae, primary_endpoint, safety_population
from ctcae_engine.analyse.safety_tables import ae_soc_pt_table, lab_grade3_table, lab_shift_table
from ctcae_engine.grade.findings import grade_labs
from ctcae_engine.read.config import load_config
from ctcae_engine.read.files import read_study


def timed(repeat: int, func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[float]]:
    times = []
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return out, times


def run(folder: Path, repeat: int) -> None:
    cfg = load_config()
    start = time.perf_counter()
    study = read_study(folder)
    read_s = time.perf_counter() - start
    dm, ex, ae, lb, rs = (study[k] for k in ("dm", "ex", "ae", "lb", "rs"))
    pop = safety_population(dm, ex, cfg.treatment)
    start = time.perf_counter()
    labs = grade_labs(lb, first_dose=dm)
    grade_s = time.perf_counter() - start
    print(f"trial              : {folder} ({int(pop['saffl'].sum()):,} infused of {len(pop):,} in DM)")
    print(f"rows               : AE {len(ae):,}, LB {len(lb):,}, RS {len(rs):,}")
    print(f"setup (not timed)  : read_study {read_s:.2f} s, grade_labs {grade_s:.2f} s")
    print(f"timings (median / best of {repeat}):")
    flagged, t = timed(repeat, flag_ae, ae, pop, cfg.treatment_emergent, cfg.relationship)
    rows = [("flag_ae", t, f"{int(flagged['trtemfl'].sum()):,} TEAEs")]
    primary, t = timed(repeat, primary_endpoint, flagged, pop)
    rows.append(("primary_endpoint", t, f"TRAE {primary.iloc[0]['n']}/{primary.iloc[0]['N']}"))
    _, t = timed(repeat, ae_overview, flagged, pop)
    rows.append(("AET01 ae_overview", t, ""))
    aet04, t = timed(repeat, ae_soc_pt_table, flagged, pop)
    rows.append(("AET04 ae_soc_pt_table", t, f"{len(aet04):,} rows"))
    _, t = timed(repeat, ae_soc_pt_table, flagged, pop, related=True)
    rows.append(("AET04_TRAE", t, ""))
    shift, t = timed(repeat, lab_shift_table, labs, pop, window=cfg.treatment_emergent)
    rows.append(("LBT14 lab_shift_table", t, f"{len(shift):,} rows, {shift.attrs['n_outside_window']:,} outside"))
    _, t = timed(repeat, lab_grade3_table, labs, pop, window=cfg.treatment_emergent)
    rows.append(("LBT07 lab_grade3_table", t, ""))
    _, t = timed(repeat, eligibility_screen, lb, cfg.eligibility, dm["USUBJID"])
    rows.append(("ELIG eligibility_screen", t, ""))
    bor, t = timed(repeat, best_overall_response, rs, pop, cfg.response)
    rows.append(("best_overall_response", t, ""))
    (orr, _), t = timed(repeat, orr_table, bor)
    rows.append(("ORR01 orr_table", t, f"ORR {orr.iloc[0]['n']}/{orr.iloc[0]['N']}"))
    pfs, t = timed(repeat, pfs_data, rs, pop, cfg.pfs, data_cutoff=cfg.study.data_cutoff)
    rows.append(("pfs_data", t, f"{int(pfs['event'].sum()):,} events"))
    summary, t = timed(repeat, pfs_summary, pfs, cfg.pfs)
    rows.append(("PFS01 pfs_summary", t, f"median {summary.iloc[0]['median_days']:.0f} days"))
    for name, times, note in rows:
        print(f"  {name:<24} {statistics.median(times) * 1000:9.1f} ms {min(times) * 1000:9.1f} ms   {note}")
    total = sum(statistics.median(times) for _, times, _ in rows)
    print(f"  {'total (medians)':<24} {total * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=None, help="folder of a generated trial (default: generate)")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.data is not None:
        run(args.data, args.repeat)
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "ctcae_engine.demo.generate", "--participants", str(args.participants),
                        "--out", tmp], check=True, stdout=subprocess.DEVNULL)
        run(Path(tmp), args.repeat)


if __name__ == "__main__":
    main()
