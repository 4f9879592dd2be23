"""Time the DSMB report from raw files: the 20-participant demo trial and a generated 1,000-participant trial.

Run: ``.venv/bin/python benchmarks/bench_report.py [--participants 1000] [--skip-scaled]``. Prints seconds per
stage (pipeline, context + HTML, PDF), the page count, the process CPU time (steadier than wall time on a shared
machine) and the figures measured before the speed work of issue 7; targets: demo < 3 s, 1,000 participants < 30 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "ctcae_engine" / "demo" / "data"
# wall seconds before rasterized figure layers and fewer GC pauses in the PDF (same machine, shared 2 cores)
BEFORE = {"demo trial": "pipeline 1.6 s, PDF 3.9 s, total 5.6 s",
          "1000 participants": "pipeline 7.6 s, PDF 15.8 s, total 23.5 s"}


def bench(folder: Path, out: Path, label: str, target: float) -> float:
    from pypdf import PdfReader

    from ctcae_engine.pipeline import run_study
    from ctcae_engine.report import write_report
    from ctcae_engine.report.context import build_context
    from ctcae_engine.report.render import render_html

    c0 = time.process_time()
    t0 = time.perf_counter()
    results = run_study(folder)
    t1 = time.perf_counter()
    html = render_html(build_context(results))
    t2 = time.perf_counter()
    paths = write_report(results, out)  # HTML again + summary + PDF
    t3 = time.perf_counter()
    cpu = time.process_time() - c0
    pdf_s = (t3 - t2) - (t2 - t1)
    total = t3 - t0 - (t2 - t1)  # count the HTML rendering once
    pages = len(PdfReader(paths["pdf"]).pages)
    print(f"{label}: participants in DM {results.meta['n_participants']}, pipeline {t1 - t0:.2f} s, "
          f"HTML {t2 - t1:.2f} s ({len(html) / 1e3:.0f} kB), PDF ~{pdf_s:.2f} s ({pages} pages), "
          f"total {total:.2f} s (target < {target:.0f} s: {'met' if total < target else 'NOT met'}); "
          f"CPU {cpu:.2f} s incl. the HTML twice")
    if label in BEFORE:
        print(f"  before: {BEFORE[label]}")
    if results.stage_errors:
        print(f"  stage errors: {results.stage_errors}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--skip-scaled", action="store_true")
    args = parser.parse_args()
    t = time.perf_counter()
    import weasyprint  # noqa: F401

    import ctcae_engine.pipeline
    import ctcae_engine.report  # noqa: F401

    print(f"imports: {time.perf_counter() - t:.2f} s (not counted below)")
    with tempfile.TemporaryDirectory() as tmp:
        bench(DEMO, Path(tmp) / "demo", "demo trial", 3.0)
        if args.skip_scaled:
            return
        data = Path(tmp) / "scaled"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ctcae_engine.demo.generate", "--participants", str(args.participants),
                        "--out", str(data)], check=True, capture_output=True)
        print(f"generated {args.participants} participants in {time.perf_counter() - t:.1f} s")
        bench(data, Path(tmp) / "scaled_out", f"{args.participants} participants", 30.0)


if __name__ == "__main__":
    main()
