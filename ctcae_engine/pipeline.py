"""Run the whole chain for one study folder: read -> grade -> flag -> endpoints and tables.

``run_study(folder, config)`` returns a :class:`StudyResults`, a dataclass of DataFrames that the report (and a
pandas user) reads. Each stage calls the public function of the module that owns it. A stage whose module is not
installed is recorded in ``unavailable`` (the report says "not available in this run"); a stage that fails on the
data is recorded in ``stage_errors`` with its message, unless ``strict=True``, when the error is raised.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ctcae_engine import CTCAE_VERSION, __version__
from ctcae_engine.io import file_hashes, read_study


@dataclass
class StudyResults:
    """Everything the engine derived from one study folder (frames are new objects, the inputs are untouched).

    ``tables`` holds the named summary tables (stable IDs such as ``AET02_TEAE``); ``figures`` the SVG text of
    each figure; ``unavailable`` maps a stage or table ID to why it is missing; ``stage_errors`` lists stages
    that raised (stage, message).
    """

    config: Any
    domains: dict[str, pd.DataFrame]
    files: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    labs: pd.DataFrame | None = None
    vitals: pd.DataFrame | None = None
    ecg: pd.DataFrame | None = None
    ae: pd.DataFrame | None = None
    crs: pd.DataFrame | None = None
    icans: pd.DataFrame | None = None
    participants: pd.DataFrame | None = None
    primary: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    stage_errors: list[tuple[str, str]] = field(default_factory=list)


def _load_config(config: Any) -> Any:
    """A StudyConfig as given, or loaded from a TOML path (None: the demo trial's)."""
    if config is None or isinstance(config, (str, Path)):
        from ctcae_engine.config import load_config

        return load_config(config)
    return config


def _function(module: str, name: str) -> Callable[..., Any] | None:
    """A public function of a sibling module, or None when the module or function is not there (yet)."""
    try:
        mod = importlib.import_module(f"ctcae_engine.{module}")
    except ImportError:
        return None
    return getattr(mod, name, None)


class _Runner:
    def __init__(self, results: StudyResults, strict: bool) -> None:
        self.results = results
        self.strict = strict

    def call(self, stage: str, module: str, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``module.name(*args)``; None (and a recorded reason) when missing or failing."""
        func = _function(module, name)
        if func is None:
            self.results.unavailable[stage] = f"ctcae_engine.{module}.{name} is not available in this installation"
            return None
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if self.strict:
                raise
            self.results.stage_errors.append((stage, f"{type(exc).__name__}: {exc}"))
            self.results.unavailable[stage] = f"{stage} failed: {type(exc).__name__}: {exc}"
            return None


def _file_table(folder: Path, domains: dict[str, pd.DataFrame]) -> pd.DataFrame:
    hashes = file_hashes(folder)
    rows = [Path(name).stem.lower() for name in hashes]
    return pd.DataFrame(
        {
            "name": list(hashes),
            "rows": [len(domains[stem]) if stem in domains else pd.NA for stem in rows],
            "sha256": list(hashes.values()),
        }
    )


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def run_study(
    folder: str | Path,
    config: Any = None,
    run_time: str | datetime | None = None,
    strict: bool = False,
) -> StudyResults:
    """Read a study folder and derive every result of the report.

    ``config`` is a :class:`ctcae_engine.config.StudyConfig` or the path of a study TOML (None: the demo's).
    ``run_time`` is recorded as given; by default it is the data cut-off, so the same inputs give the same report.
    """
    folder = Path(folder)
    cfg = _load_config(config)
    domains = read_study(folder)
    results = StudyResults(config=cfg, domains=domains, files=_file_table(folder, domains))
    cutoff = _as_date(getattr(cfg.study, "data_cutoff", None))
    if run_time is None:
        run_time = cutoff.isoformat() if cutoff else "not given"
    elif isinstance(run_time, datetime):
        run_time = run_time.isoformat(timespec="seconds")
    dm = domains.get("dm")
    results.meta = {
        "study_id": cfg.study.study_id,
        "protocol_id": cfg.study.protocol_id,
        "title": cfg.study.title,
        "data_cutoff": cutoff.isoformat() if cutoff else "not given",
        "run_time": str(run_time),
        "engine_version": __version__,
        "ctcae_version": getattr(cfg.study, "ctcae_version", CTCAE_VERSION) or CTCAE_VERSION,
        "n_participants": int(dm["USUBJID"].nunique()) if dm is not None and "USUBJID" in dm else 0,
    }
    runner = _Runner(results, strict)
    _grade(runner, domains)
    _adverse_events(runner, domains, cfg)
    return results


def _grade(runner: _Runner, domains: dict[str, pd.DataFrame]) -> None:
    results = runner.results
    for attr, domain, name in (("labs", "lb", "grade_labs"), ("vitals", "vs", "grade_vitals"),
                               ("ecg", "eg", "grade_ecg")):
        if domain not in domains:
            results.unavailable[attr] = f"no {domain.upper()} domain in the study folder"
            continue
        setattr(results, attr, runner.call(attr, "grading", name, domains[domain]))


def _adverse_events(runner: _Runner, domains: dict[str, pd.DataFrame], cfg: Any) -> None:
    results = runner.results
    if "ae" not in domains:
        results.unavailable["ae"] = "no AE domain in the study folder"
        return
    validated = runner.call("ae", "ae", "validate_ae", domains["ae"])
    if validated is None:
        return
    empty = pd.DataFrame(columns=["USUBJID"])
    flagged = runner.call("ae", "endpoints", "flag_ae", validated, domains.get("dm", empty), domains.get("ex", empty),
                          cfg)
    results.ae = validated if flagged is None else flagged
