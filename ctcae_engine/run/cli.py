"""Command line ``ctcae-engine``: the door a scheduler (cron, Airflow, a CI job) and a person use.

Thin: every command calls the package's public functions. Logs go to stderr: plain timestamped lines when stderr is
not a terminal (scheduler logs), rich progress and colours on a terminal. Stdout carries the results (paths, counts).
Exit codes (see :mod:`ctcae_engine.run.scheduled`):
0 success; 1 unexpected error (one line on stderr, the traceback with
``--verbose``); 2 bad usage or configuration; 3 unusable input; 4 data errors above the configured threshold (run
folder written, ``latest`` not moved); 5 a stage of the analysis failed (idem); 6 another run holds the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import typer

from ctcae_terms import allowed_grades, load_catalog, search_terms

if TYPE_CHECKING:
    from ctcae_engine.read.config import StudyConfig

# rich_markup_mode=None: help texts are plain text, so "[grading]" and "[data]" (config sections) are printed as
# written instead of being read as rich markup tags and dropped.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="CTCAE v4.03 grading, safety tables and DSMB reports for oncology / CAR-T trials.")
log = logging.getLogger("ctcae_engine")


def _print_version(value: bool) -> None:
    if value:
        from ctcae_engine import __version__

        typer.echo(f"ctcae-engine {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the engine version and exit.")) -> None:
    pass  # the app's help text is the Typer(help=...) above


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def _setup_logging(verbose: bool) -> bool:
    """Plain lines on stderr for schedulers, rich on a terminal; returns whether stderr is a terminal."""
    terminal = sys.stderr.isatty()
    for handler in list(log.handlers):
        log.removeHandler(handler)
    if terminal:
        from rich.console import Console
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    logging.captureWarnings(True)  # library warnings become log lines too, not raw text on stderr
    warnings_log = logging.getLogger("py.warnings")
    warnings_log.handlers = [handler]
    warnings_log.propagate = False
    return terminal


@contextmanager
def _progress(terminal: bool) -> Iterator[Callable[[str], None]]:
    """A callback the run calls with each step's label: a progress bar on a terminal, a log line otherwise."""
    if not terminal:
        yield lambda label: log.info("step: %s", label)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ctcae_engine.run.pipeline import STEP_LABELS
    from ctcae_engine.run.scheduled import WRITE_STEPS

    with Progress(SpinnerColumn(), TextColumn("{task.description:<40}"), BarColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading and checking inputs", total=len(STEP_LABELS) + WRITE_STEPS)
        yield lambda label: bar.update(task, description=label, advance=1)


def _load(config: Path | None) -> StudyConfig:
    """The validated study configuration (None: the demo trial's); a mistake exits 2 with the file and key."""
    from ctcae_engine.read.config import ConfigError, load_config  # lazy: `terms` starts fast

    try:
        return load_config(config)
    except ConfigError as exc:
        _fail(str(exc))


def _execute(config: Path | None, data: Path | None, out: Path | None, verbose: bool,
             rederive: bool = False) -> None:
    from ctcae_engine.run.scheduled import RunBusy, UnsafeLock, execute

    terminal = _setup_logging(verbose)
    cfg = _load(config)
    if rederive:  # the sponsor's ADaM flags are re-derived from the study's window (DQ10 then lists nothing)
        cfg = dataclasses.replace(cfg, treatment_emergent=dataclasses.replace(cfg.treatment_emergent,
                                                                              use_given_flags=False))
    try:
        with _progress(terminal) as progress:
            outcome = execute(cfg, data=data, out=out, progress=progress)
    except RunBusy as exc:
        _fail(str(exc), 6)
    except UnsafeLock as exc:  # a .lock planted after the preflight looked: refused like the preflight refuses it
        _fail(str(exc), 2)
    except Exception as exc:  # a bug or the environment (disk full, permissions): one line, never a half run
        log.debug("traceback", exc_info=True)
        hint = "the traceback is above" if verbose else "run with --verbose for the traceback"
        _fail(f"unexpected {type(exc).__name__}: {exc} (nothing moved `latest`; {hint})", 1)
    if outcome.folder is None:
        raise typer.Exit(outcome.exit_code)
    manifest = outcome.manifest
    typer.echo(f"status: {manifest['status']} (exit {outcome.exit_code})")
    primary = json.loads((outcome.folder / "summary.json").read_text(encoding="utf-8")).get("primary")
    if primary:
        typer.echo(f"primary endpoint: {primary['n']}/{primary['N']} participants with a treatment-related AE")
    typer.echo(f"data cut-off: {manifest['data_cutoff']}; compared with: {manifest['compared_with'] or 'none'}")
    for name in ("report.html", "report.pdf", "new_since_last_run.json", "manifest.json"):
        if (outcome.folder / name).exists():
            typer.echo(f"{name}: {outcome.folder / name}")
    typer.echo(f"run folder: {outcome.folder}")
    raise typer.Exit(outcome.exit_code)


def _config_path(config: Path | None, data: Path | None) -> Path:
    """--config, else the study.toml inside --data."""
    if config is not None:
        return config
    if data is not None and (data / "study.toml").is_file():
        return data / "study.toml"
    _fail("give --config study.toml (or --data DIR with a study.toml in it)")
    return Path()


@app.command()
def run(
    config: Path | None = typer.Option(None, "--config", "-c", help="Study configuration (TOML; default: "
                                                                    "study.toml in --data)"),
    data: Path | None = typer.Option(None, help="Study data folder (default: [data] folder of the config)"),
    out: Path | None = typer.Option(None, help="Where run folders go (default: [run] output_dir, else runs/ "
                                                  "beside the config)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging"),
    rederive: bool = typer.Option(False, "--rederive", help="ADaM ADAE input: re-derive TRTEMFL from the study's "
                                                            "window instead of taking the sponsor's (sets "
                                                            "[treatment_emergent] use_given_flags = false)"),
) -> None:
    """The weekly run: check, grade, aggregate and write a new run folder (report, datasets, tables, manifest)."""
    _execute(_config_path(config, data), data, out, verbose, rederive)


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo"), help="Where run folders go"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging"),
) -> None:
    """The main job: a run of the embedded demo trial (DSMB report in HTML and PDF) into OUT/latest."""
    _execute(None, None, out, verbose)


@app.command()
def validate(
    config: Path | None = typer.Option(None, "--config", "-c", help="Study configuration (TOML; default: "
                                                                    "study.toml in --data)"),
    data: Path | None = typer.Option(None, help="Study data folder (default: [data] folder of the config)"),
) -> None:
    """Check the configuration and the inputs only; print every problem, write nothing. Exit 0, 2 or 3."""
    from ctcae_engine.read.checks import check_folder
    from ctcae_engine.run.scheduled import preflight

    _setup_logging(False)
    cfg = _load(_config_path(config, data))
    folder, _, problems = preflight(cfg, data)
    setup_errors = sum(p.level == "error" for p in problems)
    if folder is not None and folder.is_dir():
        checked = check_folder(folder, cfg)
        for f in checked.files:
            rows = "unreadable" if f.rows is None else f"{f.rows} rows" + ("" if f.used else ", not used")
            typer.echo(f"{f.name}: {f.domain.upper()}, {rows}")
        problems += checked.problems
    for problem in problems:
        typer.echo(str(problem))
    n_errors = sum(p.level == "error" for p in problems)
    typer.echo(f"{n_errors} errors, {len(problems) - n_errors} warnings")
    raise typer.Exit(2 if setup_errors else 3 if n_errors else 0)


@app.command("config-schema")
def config_schema(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the schema to this file (default: stdout)"),
) -> None:
    """The JSON Schema of study.toml: every section and key, its type, default and meaning."""
    from ctcae_engine.read.config import config_schema as schema

    text = json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{out}: cannot be written: {exc.strerror or exc}")
    typer.echo(str(out))


@app.command()
def grade(
    source: str = typer.Argument(..., help="LB/VS/EG (SDTM), ADLB/ADVS/ADEG or XC (CAR-T toxicity) file: csv, "
                                           "parquet, xpt, sas7bdat, or a folder of Parquet files; with --engine dask "
                                           "also an fsspec URL (s3://)"),
    out: str = typer.Option(..., "--out", "-o", help="Where to write the graded rows: .csv or .parquet (the "
                                                      "engine's columns), .xpt (SAS XPT v5) or .json (CDISC "
                                                      "Dataset-JSON v1.1) as the ADaM dataset; a folder or URL with "
                                                      "--engine dask"),
    adam: bool = typer.Option(False, "--adam", help="Write .csv / .parquet as the ADaM dataset too (ADLB, ADVS, "
                                                    "ADEG variables; always so for .xpt and .json)"),
    kind: str = typer.Option("auto", help="lab, vitals, ecg, cart (XC: ASTCT 2019 CRS and ICANS per assessment) or "
                                          "auto (from the columns / file name)"),
    engine: str = typer.Option("pandas", help="pandas (one process) or dask (out of core, a cluster)"),
    scheduler: str | None = typer.Option(None, help="Dask scheduler address (default: a local cluster)"),
    config: Path | None = typer.Option(None, "--config", "-c", help="Study configuration: its [grading] test map "
                                                                    "and assume_at_rest apply ([cart] for XC)"),
    cm: Path | None = typer.Option(None, "--cm", help="XC only: SDTM CM file, the vasopressors given"),
    dm: Path | None = typer.Option(None, "--dm", help="XC only: SDTM DM file (RFXSTDTC gives days from infusion)"),
) -> None:
    """Ad-hoc grading of one observation file by CTCAE v4.03: every row written, graded or with its reason; an XC
    file: every assessment graded for CRS and ICANS by ASTCT 2019, with its drivers or the reason."""
    _setup_logging(False)
    if kind not in ("auto", "lab", "vitals", "ecg", "cart"):
        _fail(f"--kind must be lab, vitals, ecg or auto (cart for XC), got {kind!r}")
    if engine not in ("pandas", "dask"):
        _fail(f"--engine must be pandas or dask, got {engine!r}")
    remote = "://" in source
    if remote and engine != "dask":
        _fail(f"{source}: a URL is read by the Dask engine only (--engine dask)")
    if not remote and not Path(source).exists():
        _fail(f"input not found: {source}", 3)
    from ctcae_engine.read.config import Grading

    study = _load(config).grading if config is not None else Grading()  # no config: the packaged test maps
    if engine == "dask":
        if out.lower().endswith((".xpt", ".json")):
            _fail(f"-o {out}: the Dask engine writes Parquet; SAS XPT and Dataset-JSON come from --engine pandas")
        if not (remote or Path(source).is_dir() or source.lower().endswith(".parquet")):
            _fail(f"{source}: the Dask engine reads Parquet (a file or a folder of files); convert it or use "
                  "--engine pandas")
        from ctcae_engine.dask.engine import grade_dataset, read_dataset, worst_path

        failures = (ValueError, KeyError, FileExistsError, FileNotFoundError, RuntimeError)
        if kind == "auto":  # from the dataset's columns (read from the file footers only), else its name
            try:
                columns = pd.DataFrame(columns=list(read_dataset(source)[0].columns))
            except failures as exc:
                _fail(f"{source}: {exc}", 3)
            kind = _kind_of(columns, Path(source.rstrip("/")))
        if kind == "cart":
            _fail(f"{source}: XC (CAR-T toxicity) is graded by the pandas engine (--engine pandas)")
        try:
            counts = grade_dataset(source, out, kind=kind, scheduler=scheduler, **study.options(kind))
        except failures as exc:
            _fail(f"{source}: {exc}", 3)
        typer.echo(f"{counts['rows_in']} rows ({kind}): {counts['graded']} graded, {counts['ungraded']} with a "
                   f"reason -> {out}; worst grade per participant and term -> {worst_path(out)}")
        return
    target, source_path = Path(out), Path(source)
    if target.suffix.lower() not in (".csv", ".parquet", ".xpt", ".json"):
        _fail(f"-o {out}: write .csv or .parquet, or .xpt / .json (the ADaM dataset)")
    from ctcae_engine.grade import findings as grading
    from ctcae_engine.read.columns import DuplicateColumnsError, shorten
    from ctcae_engine.read.files import read_domain

    notes: list[str] = []
    try:
        frame = read_domain(source_path, notes)
    except DuplicateColumnsError as exc:  # the message names the file and the columns
        _fail(str(exc), 3)
    except Exception as exc:  # unreadable file: one clear line, no traceback
        _fail(f"{source}: cannot be read: {shorten(f'{type(exc).__name__}: {exc}', 300)}", 3)
    for note in notes:
        log.warning("%s", note)
    kind = _kind_of(frame, source_path) if kind == "auto" else kind
    if kind == "cart":
        if target.suffix.lower() in (".xpt", ".json"):
            _fail(f"-o {out}: an XC file is written as .csv or .parquet (ADaM XPT / Dataset-JSON: lab, vitals, ecg)")
        _grade_xc(frame, source, target, config, cm, dm)
        return
    try:
        graded = grading.GRADERS[kind](frame, **study.options(kind))
    except (ValueError, KeyError) as exc:
        _fail(f"{source}: {exc}", 3)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if adam or target.suffix.lower() in (".xpt", ".json"):
            _write_adam(graded, kind, target)
        elif target.suffix.lower() == ".parquet":
            graded.to_parquet(target, index=False)
        else:
            from ctcae_engine.write.spreadsheet import write_csv

            write_csv(graded, target)  # spreadsheet-safe: formula-like texts neutralised (docs/cli.md)
    except OSError as exc:  # unwritable folder, a file in the way, disk full: one line, no traceback
        _fail(f"-o {out}: cannot be written: {exc.strerror or exc}")
    except ValueError as exc:  # an input variable SAS XPT v5 cannot name (longer than 8 characters, a clash)
        _fail(f"-o {out}: {exc}", 3)
    ungraded = int(graded["grade"].isna().sum())
    typer.echo(f"{len(graded)} rows ({kind}): {len(graded) - ungraded} graded, {ungraded} with a reason -> {out}")


def _write_adam(graded: pd.DataFrame, kind: str, target: Path) -> None:
    """``grade -o`` as the ADaM dataset of ``kind`` (docs/adam_outputs.md) in the format of the suffix."""
    from ctcae_engine.write.adam import DATASETS, label_of
    from ctcae_engine.write.formats import write_dataset

    name, build, label = DATASETS["labs" if kind == "lab" else kind]
    dataset = build(graded)
    cut = write_dataset(dataset, target, name, label, {c: label_of(c) for c in dataset.columns})
    for column, count in cut.items():
        log.warning("%s: %d values of %s cut to the 200 bytes of SAS XPT v5", target, count, column)


def _grade_xc(frame: pd.DataFrame, source: str, target: Path, config: Path | None, cm: Path | None,
              dm: Path | None) -> None:
    """``grade`` of an XC file: one row per assessment and syndrome (:func:`ctcae_engine.grade.cart.grade_xc`)."""
    from ctcae_engine.grade import cart
    from ctcae_engine.read.files import read_domain

    vasopressors = _load(config).cart.vasopressors if config is not None else None
    extra = {}
    for name, path in (("cm", cm), ("dm", dm)):
        if path is None:
            continue
        try:
            extra[name] = read_domain(path)
        except Exception as exc:  # unreadable file: one clear line, no traceback
            _fail(f"{path}: cannot be read: {type(exc).__name__}: {exc}", 3)
    try:
        graded = cart.grade_xc(frame, extra.get("dm"), extra.get("cm"), vasopressors)
    except (ValueError, KeyError) as exc:
        _fail(f"{source}: {exc}", 3)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() == ".parquet":
        graded.to_parquet(target, index=False)
    else:
        graded.to_csv(target, index=False, lineterminator="\n")
    ungraded = int(graded["grade"].isna().sum())
    typer.echo(f"{len(graded)} assessments (CRS and ICANS, ASTCT 2019): {len(graded) - ungraded} graded, {ungraded} "
               f"with a reason -> {target}")


def _kind_of(frame: pd.DataFrame | None, source: Path) -> str:
    """lab / vitals / ecg from SDTM --TESTCD columns or, for ADaM, the dataset name (adlb, advs, adeg); cart for XC."""
    from ctcae_engine.grade.findings import KIND_OF_DOMAIN
    from ctcae_engine.read.files import ADAM_TO_SDTM

    if (frame is not None and "XCTESTCD" in frame.columns) or source.stem.lower() == "xc":
        return "cart"
    if frame is not None:
        for domain, kind in KIND_OF_DOMAIN.items():
            if f"{domain.upper()}TESTCD" in frame.columns:
                return kind
    stem = source.stem.lower()
    kind = KIND_OF_DOMAIN.get(ADAM_TO_SDTM.get(stem, stem))
    if kind is None:
        _fail(f"{source}: cannot tell lab, vitals or ECG (no LBTESTCD/VSTESTCD/EGTESTCD column, file not named "
              "lb/vs/eg/adlb/advs/adeg); give --kind")
    return kind or ""


@app.command()
def terms(
    query: str = typer.Argument(..., help="Part of a CTCAE term, a synonym (e.g. neutropenia) or a MedDRA code"),
    version: str = typer.Option("4.03", help="CTCAE version: 4.03 (v4) or 5.0"),
    limit: int = typer.Option(20, min=1, help="At most this many terms"),
) -> None:
    """Search the CTCAE catalog; an exact term or code shows its grade definitions."""
    if not query.strip():
        _fail("give a search text: part of a term, a synonym or a MedDRA code")
    try:
        every = search_terms(query, version, limit=None)
    except ValueError as exc:  # unknown CTCAE version
        _fail(str(exc))
    if every.empty:
        _fail(f"no CTCAE v{version} term matches {query!r}")
    found = every.head(limit)
    if found["match"].eq("similar").all():
        typer.echo(f"no CTCAE v{version} term contains {query!r}; closest spellings:")
    for row in found.to_dict("records"):
        typer.echo(f"{row['term']} ({row['meddra_code']}, {row['soc']}) [{row['match']}]")
        if row["match"] == "exact" or len(found) == 1:
            for grade in allowed_grades(row["term"], version):
                typer.echo(f"  grade {grade}: {row[f'grade_{grade}']}")
    if len(every) > len(found):
        typer.echo(f"... {len(every) - len(found)} more terms match; --limit {len(every)} lists them all")


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
