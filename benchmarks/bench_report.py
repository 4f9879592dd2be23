"""Time the DSMB report from raw files: the 20-participant demo trial and a generated 1,000-participant trial.

Run: ``.venv/bin/python benchmarks/bench_report.py [--participants 1000] [--skip-scaled] [--warm 3] [--cli]``.
Prints, after the imports: the first call (what a scheduled run pays) split into pipeline, context + HTML and
PDF, then the whole ``build_report`` again ``--warm`` times; ``--cli`` also times the cold command
``ctcae-engine demo`` (a new interpreter: imports included). CPU time is printed beside wall time (steadier on a shared
machine). Targets: demo < 3 s, 1,000 participants < 30 s. The figures measured before each speed step are kept
in ``BEFORE`` and printed for comparison.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "ctcae_engine" / "demo" / "data"
# wall seconds measured earlier on the same machine (shared 2 cores)
BEFORE = {"demo trial": "first call: pipeline 1.6 s, PDF 3.9 s, total 5.6 s (vector figures); then pipeline 1.6-1.7 s, "
                        "PDF 2.3 s, total 4.1-4.3 s (rasterized layers, fewer GC pauses in PDF); cold CLI 5.9-6.1 s",
          "1000 participants": "pipeline 7.6 s, PDF 15.8 s, total 23.5 s; then 16.7-17.0 s"}


def bench(folder: Path, out: Path, label: str, target: float) -> float:
    from pypdf import PdfReader

    from ctcae_engine.report import write_report
    from ctcae_engine.report.context import build_context
    from ctcae_engine.report.render import render_html
    from ctcae_engine.run.pipeline import run_study

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


def warm_calls(folder: Path, out: Path, n: int) -> None:
    """``build_report`` again ``n`` times in this process (garbage of the previous call is collected in the next)."""
    from ctcae_engine.run.pipeline import build_report

    for i in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        build_report(folder, None, out / str(i))
        print(f"  build_report again: {time.perf_counter() - t0:.2f} s (CPU {time.process_time() - c0:.2f} s)")


def cold_cli(out: Path) -> None:
    """``ctcae-engine demo`` in a new interpreter: imports, pipeline, HTML and PDF, as a scheduler runs it."""
    ctcae = Path(sys.executable).with_name("ctcae-engine")
    command = [str(ctcae)] if ctcae.exists() else [sys.executable, "-m", "ctcae_engine.run.cli"]
    t0 = time.perf_counter()
    subprocess.run([*command, "demo", "--out", str(out)], check=True, capture_output=True)
    print(f"cold CLI 'ctcae-engine demo' (new interpreter, imports included): {time.perf_counter() - t0:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--skip-scaled", action="store_true")
    parser.add_argument("--warm", type=int, default=2, help="further build_report calls on the demo")
    parser.add_argument("--cli", action="store_true", help="also time the cold 'ctcae-engine demo' command")
    args = parser.parse_args()
    t = time.perf_counter()
    import weasyprint  # noqa: F401


    print(f"imports: {time.perf_counter() - t:.2f} s (not counted below)")
    with tempfile.TemporaryDirectory() as tmp:
        bench(DEMO, Path(tmp) / "demo", "demo trial", 3.0)
        warm_calls(DEMO, Path(tmp) / "warm", args.warm)
        if args.cli:
            cold_cli(Path(tmp) / "cli")
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
