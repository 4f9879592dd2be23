"""Run the whole chain for one study folder: read -> grade -> derive -> every output of the registry.

``run_study(folder, config)`` returns a :class:`StudyResults`. The stages below derive the frames (graded
observations, flagged AEs, populations, CRS/ICANS, responses); then every table and figure declared in
:mod:`ctcae_engine.tables` is built from the frames it names. A stage whose input domain is absent is recorded in
``unavailable`` with the reason, which passes to every output that needs the stage (the report shows it in their
place); a stage or output that fails on the data is recorded in ``stage_errors`` with its message (and in
``unavailable`` the same way), unless ``strict=True``, when the error is raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ctcae_engine import CTCAE_VERSION, __version__, tables
from ctcae_engine.analyse.endpoints import window_text
from ctcae_engine.analyse.headline import NEEDS, headline
from ctcae_engine.read.config import StudyConfig, load_config
from ctcae_engine.read.cutoff import apply_cutoff
from ctcae_engine.read.dates import as_day
from ctcae_engine.read.fields import DM
from ctcae_engine.read.files import as_sdtm, file_table, read_study
from ctcae_engine.run import stages
from ctcae_engine.run.clock import SOURCE_DATE_EPOCH, report_time, run_time_source


@dataclass
class StudyResults:
    """Everything the engine derived from one study folder (frames are new objects, the inputs are untouched).

    ``domains`` are the records on or before the data cut-off (``excluded`` lists every record removed, see
    :mod:`ctcae_engine.read.cutoff`); ``files`` the input files as read (rows before the cut-off is applied).
    ``tables`` maps each registry ID to its :class:`ctcae_engine.tables.Table`; ``figures`` the SVG text of each
    figure; ``unavailable`` maps a stage or output ID to why it is missing; ``stage_errors`` lists what raised.
    """

    config: StudyConfig
    domains: dict[str, pd.DataFrame]
    files: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    excluded: pd.DataFrame | None = None
    supp_unmatched: pd.DataFrame | None = None
    labs: pd.DataFrame | None = None
    vitals: pd.DataFrame | None = None
    ecg: pd.DataFrame | None = None
    derived: pd.DataFrame | None = None  # terms derived from more than one finding (Febrile neutropenia)
    population: pd.DataFrame | None = None
    ae: pd.DataFrame | None = None
    participants: pd.DataFrame | None = None
    primary: pd.DataFrame | None = None
    crs: pd.DataFrame | None = None
    icans: pd.DataFrame | None = None
    crs_episodes: pd.DataFrame | None = None
    icans_episodes: pd.DataFrame | None = None
    episodes: pd.DataFrame | None = None
    crs_vs_ae: pd.DataFrame | None = None
    reconciliation: pd.DataFrame | None = None
    eligibility: pd.DataFrame | None = None
    bor: pd.DataFrame | None = None
    responses: pd.DataFrame | None = None
    pfs: pd.DataFrame | None = None
    cart_levels: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    tables: dict[str, tables.Table] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    stage_errors: list[tuple[str, str]] = field(default_factory=list)

    def frame(self, name: str) -> Any:
        """An input a registry builder names (see :mod:`ctcae_engine.tables`); None when absent."""
        if name in tables.DECLARED:
            return self.tables[name].frame if name in self.tables else None
        if name == "config" or name.startswith("config."):
            return self.config if name == "config" else getattr(self.config, name.split(".", 1)[1])
        if name == "data_cutoff":
            return self.meta["data_cutoff"]
        return self.domains.get(name.lower()) if name.isupper() else getattr(self, name)


STEP_LABELS = ("grading labs, vital signs and ECGs", "adverse events", "CRS and ICANS", "eligibility", "efficacy",
               "reconciliation", "tables", "figures")
"""The steps of :func:`run_study`, in order (the labels ``progress`` receives)."""


def run_study(
    folder: str | Path | None,
    config: StudyConfig | str | Path | None = None,
    run_time: str | datetime | None = None,
    strict: bool = False,
    progress: Callable[[str], None] | None = None,
    frames: dict[str, pd.DataFrame] | None = None,
    hashes: dict[str, str] | None = None,
) -> StudyResults:
    """Read a study folder and derive every result of the report.

    ``config`` is a :class:`ctcae_engine.read.config.StudyConfig` or the path of a study TOML (None: the demo's);
    ``folder`` None reads the configuration's ``[data] folder``.
    ``run_time``: when the report is made, recorded as given; by default :func:`ctcae_engine.run.clock.report_time`
    (``SOURCE_DATE_EPOCH`` when set, so the same inputs give the same report, else now).
    ``progress`` is called with the label of each step before it runs (the CLI's progress display).
    ``frames`` (file stem -> DataFrame) and ``hashes`` (file name -> sha256): the files as already read and hashed
    by the input checks (:func:`ctcae_engine.read.checks.check_folder`), so a run reads and hashes each file once.
    """
    cfg = load_config(config) if config is None or isinstance(config, (str, Path)) else config
    folder = folder if folder is not None else cfg.data_folder
    if folder is None:
        raise ValueError("no study folder: give one or set [data] folder in the study configuration")
    read = read_study(Path(folder), frames)
    supp_lost = read.pop("supp_unmatched", None)
    cutoff = as_day(cfg.study.data_cutoff, "data cut-off")
    domains, excluded = apply_cutoff(as_sdtm(read), cutoff)
    results = StudyResults(config=cfg, domains=domains, files=file_table(Path(folder), read, hashes),
                           excluded=excluded, supp_unmatched=supp_lost)
    source = "given"
    if run_time is None:
        source, run_time = run_time_source(), report_time()
    elif run_time_source() == SOURCE_DATE_EPOCH and run_time == report_time():  # the weekly run's, from the variable
        source = SOURCE_DATE_EPOCH
    if isinstance(run_time, datetime):
        run_time = run_time.isoformat(timespec="seconds")
    dm = domains.get("dm")
    results.meta = {
        "study_id": cfg.study.study_id, "protocol_id": cfg.study.protocol_id, "title": cfg.study.title,
        "data_cutoff": cutoff.isoformat() if cutoff else "not given",
        "run_time": str(run_time), "run_time_source": source,
        "engine_version": __version__, "ctcae_version": cfg.study.ctcae_version or CTCAE_VERSION,
        "n_participants": int(DM.subjects(dm).nunique()) if dm is not None and DM.column(dm, "subject") else 0,
        "n_after_cutoff": len(excluded),
    }
    runner = stages.Runner(results, strict)
    steps = (stages.grade, stages.adverse_events, stages.cart_toxicity, stages.eligibility, stages.efficacy,
             stages.reconcile,
             lambda r: _build(r, "table"), lambda r: _build(r, "figure"))
    for label, step in zip(STEP_LABELS, steps, strict=True):
        if progress is not None:
            progress(label)
        step(runner)
    results.summary = headline(results.participants, results.ae, results.population, results.frame("DTHL01"),
                               results.crs_episodes, results.icans_episodes)
    _spread_unavailable(results)
    return results


def _build(runner: stages.Runner, kind: str) -> None:
    """Every registry output of ``kind`` whose required inputs exist, in registry order."""
    results = runner.results
    study_fields = {"window": window_text(results.config.treatment_emergent)}  # every note may name the window
    for output in tables.REGISTRY:
        if output.kind != kind:
            continue
        args = [results.frame(name.rstrip("?")) for name in output.inputs]
        if any(a is None and not n.endswith("?") for a, n in zip(args, output.inputs, strict=True)):
            continue
        built = args[0] if output.build is None else runner.call(output.id, output.build, *args,
                                                                  **dict(output.options))
        if kind == "figure":
            if isinstance(built, str) and built:
                results.figures[output.id] = built
        elif built is not None:
            frame, fields = built if isinstance(built, tuple) else (built, {})
            results.tables[output.id] = output.table(frame, {**study_fields, **fields})


def _spread_unavailable(results: StudyResults) -> None:
    """A stage in ``unavailable`` gives its reason to every output (and headline measure) that needs it."""
    produced = set(results.tables) | set(results.figures) | set(results.summary["key"])
    needs = {o.id: o.needs for o in tables.REGISTRY} | NEEDS
    for stage, reason in list(results.unavailable.items()):
        for output_id, needed in needs.items():
            if stage in needed and output_id not in produced:
                results.unavailable.setdefault(output_id, reason)


def build_report(
    folder: str | Path,
    config: Any = None,
    out_dir: str | Path = "out/report",
    previous: str | Path | dict[str, Any] | None = None,
    run_time: str | None = None,
    pdf: bool = True,
) -> dict[str, Path]:
    """Run the study and write ``report.html``, ``report.pdf``, ``summary.json`` and ``new_since_last_run.json``.

    ``config``: a StudyConfig or the path of a study TOML (None: the demo trial's). ``previous``: a previous
    run's ``summary.json`` (or the folder holding it) to list what is new. ``run_time`` defaults to
    ``SOURCE_DATE_EPOCH`` when set (the same inputs then give byte-identical HTML), else now. Returns the paths
    written, keyed html, pdf, summary, whats_new and ungraded (every ungraded lab/vital/ECG row with its reason,
    CSV) when there are graded observations.
    """
    from ctcae_engine.report import write_report

    results = run_study(folder, config, run_time=run_time)
    return write_report(results, out_dir, previous=previous, pdf=pdf)
