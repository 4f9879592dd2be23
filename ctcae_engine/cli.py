"""Command line: the door a scheduler uses. Thin: every command calls the package's public functions.

Exit codes: 0 done; 1 the report was written but a stage failed on the data (see the report and stderr);
2 bad usage or unreadable input (a clear message, nothing written).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ctcae_terms import allowed_grades, load_catalog, lookup_term, suggest_terms

app = typer.Typer(add_completion=False, no_args_is_help=True, help="CTCAE v4.03 grading and DSMB safety reports.")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


def _report(folder: Path, config: Path | None, out: Path, previous: Path | None, run_time: str | None,
            pdf: bool) -> None:
    from ctcae_engine.config import ConfigError
    from ctcae_engine.pipeline import run_study
    from ctcae_engine.report import write_report

    try:
        results = run_study(folder, config, run_time=run_time)
        paths = write_report(results, out, previous=previous, pdf=pdf)
    except (FileNotFoundError, ValueError, ConfigError) as exc:
        _fail(str(exc))
    for row in (results.primary.to_dict("records") if results.primary is not None else []):
        typer.echo(f"{row.get('label', 'Primary endpoint')}: {row['n']}/{row['N']} "
                   f"({row['pct']:.1f}%, 95% CI {row['ci_low']:.1f}-{row['ci_high']:.1f})")
    typer.echo(f"records after the data cut-off {results.meta['data_cutoff']} (excluded, listed): "
               f"{results.meta.get('n_after_cutoff', 0)}")
    for kind, path in paths.items():
        typer.echo(f"{kind}: {path}")
    for stage, message in results.stage_errors:
        typer.secho(f"stage failed: {stage}: {message}", err=True, fg=typer.colors.YELLOW)
    if results.stage_errors:
        raise typer.Exit(1)


@app.command()
def demo(
    out: Path = typer.Option("out/demo", help="Output folder"),
    pdf: bool = typer.Option(True, help="Also write the PDF"),
) -> None:
    """The main job: the DSMB report (HTML + PDF) of the embedded demo trial."""
    from ctcae_engine.demo import DATA_DIR

    _report(DATA_DIR, None, out, None, None, pdf)


@app.command()
def report(
    study: Path = typer.Argument(..., help="Folder with the study's SDTM/ADaM files (csv, parquet, xpt)"),
    config: Path = typer.Option(..., help="Study configuration (TOML)"),
    out: Path = typer.Option("out/report", help="Output folder"),
    previous: Path | None = typer.Option(None, help="A previous report folder (or its summary.json): what is new"),
    run_time: str | None = typer.Option(None, help="Run time printed on the cover (default: the data cut-off)"),
    pdf: bool = typer.Option(True, help="Also write the PDF"),
) -> None:
    """The weekly run: grade a study folder and write the DSMB report (HTML, PDF, summary.json)."""
    _report(study, config, out, previous, run_time, pdf)


@app.command("grade-labs")
def grade_labs_command(
    path: Path = typer.Argument(..., help="SDTM LB or ADaM ADLB file (csv, parquet, xpt)"),
    out: Path = typer.Option(..., help="Where to write the graded rows (csv or parquet)"),
) -> None:
    """Grade one lab file by CTCAE v4.03; every row is written, graded or with its reason."""
    from ctcae_engine.grading import grade_labs
    from ctcae_engine.io import read_domain

    try:
        graded = grade_labs(read_domain(path))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        _fail(str(exc))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        graded.to_parquet(out, index=False)
    else:
        graded.to_csv(out, index=False, lineterminator="\n")
    ungraded = int(graded["grade"].isna().sum())
    typer.echo(f"{len(graded)} rows: {len(graded) - ungraded} graded, {ungraded} with a reason -> {out}")


@app.command()
def term(name: str = typer.Argument(..., help="CTCAE term or MedDRA code"),
         version: str = typer.Option("4.03", help="CTCAE version: 4.03 (v4) or 5.0")) -> None:
    """Look a CTCAE term up: its grades, or the closest terms when it is not in the catalog."""
    try:
        row = lookup_term(name, version)
    except ValueError as exc:  # unknown CTCAE version
        _fail(str(exc))
    if row is None:
        hints = ", ".join(suggest_terms(name, version)) or "none"
        _fail(f"not a CTCAE v{version} term: {name!r}; closest: {hints}")
    typer.echo(f"{row['term']} ({row['meddra_code']}, {row['soc']})")
    for grade in allowed_grades(name, version):
        typer.echo(f"  grade {grade}: {row[f'grade_{grade}']}")


@app.command()
def catalog(version: str = typer.Option("4.03", help="CTCAE version: 4.03 (v4) or 5.0")) -> None:
    """Print the number of terms per SOC in a packaged CTCAE catalog."""
    try:
        frame = load_catalog(version)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(frame.groupby("soc").size().to_string())
    typer.echo(f"{len(frame)} terms in {frame['soc'].nunique()} SOCs (CTCAE v{version})")


if __name__ == "__main__":
    app()
