"""One unattended run: check inputs, grade and aggregate, write a run folder, move the ``latest`` pointer.

A run folder is named for the data cut-off and the run time (``cutoff-2025-06-30_run-20261125T021450Z``) and holds
report.html / report.pdf, summary.json and new_since_last_run.json, ``graded/`` (graded observations and AEs as
Parquet and CSV), ``adam/`` (the same as ADaM-style ADLB, ADVS, ADEG, ADAE in Parquet, SAS XPT v5 and Dataset-JSON
v1.1), ``tables/`` (every analysis table as CSV and RTF) and ``manifest.json``. It is written under a hidden
``.incomplete-*`` name and renamed when complete, so a killed run never leaves a half-written folder under a run name;
``latest`` (a symbolic link) moves only after a successful run. One run at a time per output folder (a lock file).

Every file except ``manifest.json`` depends only on the inputs and the configuration: the report shows the data
cut-off, not the wall clock, and a re-run on unchanged inputs compares with the same earlier run as the run it repeats.
The manifest's ``run`` block (run time, folder, durations) is the only part that changes between such runs.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ctcae_engine import __version__
from ctcae_engine.read.checks import InputFile, Problem, check_folder
from ctcae_engine.read.config import StudyConfig
from ctcae_engine.read.files import sha256_file
from ctcae_engine.run.clock import report_time

log = logging.getLogger("ctcae_engine")

# exit codes of `ctcae-engine run` / `validate` (documented in the README and docs/cli.md)
EXIT_OK = 0
EXIT_CONFIG = 2  # bad command line or study configuration: nothing read, nothing written
EXIT_INPUT = 3  # an input cannot be used (unreadable file, missing column or domain, empty DM/EX): nothing written
EXIT_DATA = 4  # the run folder is written but too many observations could not be graded: `latest` not moved
EXIT_STAGE = 5  # the run folder is written but a stage of the analysis failed: `latest` not moved
EXIT_BUSY = 6  # another run is writing to the same output folder

MANIFEST = "manifest.json"
LATEST = "latest"
INCOMPLETE = ".incomplete-"
WRITE_STEPS = 2  # progress steps after the analysis: the report, then datasets and tables
# StudyResults attribute -> file stem in graded/ (derived: Febrile neutropenia from LB and VS, docs/grading.md)
GRADED = {"labs": "lb", "vitals": "vs", "ecg": "eg", "derived": "derived", "ae": "ae", "crs": "crs", "icans": "icans"}


class RunBusy(RuntimeError):
    """Another run holds the output folder's lock."""


@dataclass
class RunOutcome:
    exit_code: int
    status: str  # success, input_errors, data_errors, stage_failed
    folder: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def output_root(config: StudyConfig, out: str | Path | None = None) -> Path:
    """Where run folders go: ``out``, else [run] output_dir, else ``runs`` beside the TOML file (or the cwd)."""
    if out is not None:
        return Path(out)
    if config.run.output_dir is not None:
        return Path(config.run.output_dir)
    return (config.source.parent if config.source is not None else Path.cwd()) / "runs"


class UnsafeLock(RuntimeError):
    """The output folder's ``.lock`` cannot be used safely (a symbolic link, a folder, unreadable)."""


LOCK = ".lock"
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@contextmanager
def _lock(root: Path) -> Iterator[None]:
    """Hold ``root/.lock`` (flock) for the run. The lock file is opened without following a symbolic link and
    without truncating it: a planted ``.lock -> ../precious.txt`` is refused, never emptied."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK
    try:
        handle = os.open(path, _LOCK_FLAGS, 0o644)
    except OSError as exc:  # ELOOP: a symbolic link; EISDIR: a folder; EACCES ...
        what = "is a symbolic link" if path.is_symlink() else f"cannot be opened ({exc.strerror or exc})"
        raise UnsafeLock(f"{path} {what}: the lock file must be a plain file; remove it") from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunBusy(f"another run is writing to {root} (lock {path})") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def _plain(value: Any) -> Any:
    """JSON-ready form of config values (paths and dates as text, tuples as lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _config_block(config: StudyConfig) -> dict[str, Any]:
    values = _plain(dataclasses.asdict(config))
    text = config.source.read_bytes() if config.source is not None else json.dumps(values, sort_keys=True).encode()
    return {"file": str(config.source) if config.source else None, "sha256": hashlib.sha256(text).hexdigest(),
            "values": values}


def _inputs_key(inputs: list[dict[str, Any]], config: dict[str, Any]) -> str:
    """One hash for 'same inputs and configuration' (file names and contents, and the config file)."""
    text = json.dumps([[i["file"], i["sha256"]] for i in inputs] + [config["sha256"], __version__])
    return hashlib.sha256(text.encode()).hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def latest_run(root: Path) -> Path | None:
    """The last successful run folder of ``root`` (where ``latest`` points), or None."""
    pointer = root / LATEST
    if not pointer.is_symlink() and not pointer.is_dir():
        return None
    target = pointer.resolve()
    return target if target.is_dir() else None


def previous_run(root: Path, inputs_key: str) -> Path | None:
    """The run to compare with: the latest successful one, or, when that run had the same inputs (a re-run), the
    run it compared with, so a re-run writes the same report as the run it repeats."""
    latest = latest_run(root)
    if latest is None:
        return None
    manifest = read_manifest(latest) or {}
    if manifest.get("inputs_key") != inputs_key:
        return latest
    before = manifest.get("compared_with")
    return root / before if before and (root / before).is_dir() else None


def _point_latest(root: Path, folder: Path) -> None:
    tmp = root / f".{LATEST}-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(folder.name, target_is_directory=True)
    os.replace(tmp, root / LATEST)  # atomic: the pointer is either the old or the new run, never missing
    _sync_dir(root)


def _sync_dir(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _sync(folder: Path) -> None:
    """Flush every file of ``folder`` to disk before it is renamed into place (a power cut must not leave a run
    folder with empty files under a run name)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            _sync_dir(path)
    _sync_dir(folder)


def _clear_incomplete(root: Path) -> None:
    """Folders and pointer links left by killed runs (we hold the lock, so no live run owns one)."""
    for stale in root.glob(f"{INCOMPLETE}*"):
        log.warning("removing %s, left by a run that did not finish", stale.name)
        shutil.rmtree(stale, ignore_errors=True)
    for stale in root.glob(f".{LATEST}-*"):
        stale.unlink(missing_ok=True)


def _save_frame(frame: pd.DataFrame, stem: Path) -> None:
    """A DataFrame as Parquet (texts exact) and CSV (spreadsheet-safe: formula-like texts neutralised, see
    :mod:`ctcae_engine.write.spreadsheet`); object columns holding mixed values are written as text in Parquet."""
    from ctcae_engine.write.spreadsheet import write_csv

    frame = frame.reset_index(drop=True)
    try:
        frame.to_parquet(stem.with_suffix(".parquet"), index=False)
    except (TypeError, ValueError, ArithmeticError):  # pyarrow refuses a mixed object column: keep it as text
        mixed = frame.select_dtypes(include="object").columns
        frame.astype({c: "string" for c in mixed}).to_parquet(stem.with_suffix(".parquet"), index=False)
    write_csv(frame, stem.with_suffix(".csv"))  # formula-like text neutralised; Parquet keeps it exact


def _write_submission_outputs(results: Any, work: Path, problems: list[Problem]) -> None:
    """``adam/`` (ADLB, ADVS, ADEG, ADAE as Parquet, SAS XPT v5 and Dataset-JSON v1.1) and ``tables/<ID>.rtf``
    (docs/adam_outputs.md). The XPT and JSON files carry the data cut-off as their creation time, so a re-run on
    the same inputs writes the same bytes (the manifest has the run time)."""
    from ctcae_engine.write.adam import DATASETS, label_of
    from ctcae_engine.write.formats import write_dataset
    from ctcae_engine.write.rtf import write_table_rtf

    try:
        cutoff: datetime | None = datetime.fromisoformat(str(results.meta.get("data_cutoff")))
    except ValueError:  # no cut-off (a run needs one; kept safe): the files carry the time they are written
        cutoff = None
    study = results.meta.get("study_id") or ""
    (work / "adam").mkdir()
    for attr, (name, build, label) in DATASETS.items():
        frame = getattr(results, attr)
        if frame is None or not len(frame.columns):
            continue
        dataset = build(frame)
        labels = {c: label_of(c) for c in dataset.columns}
        for suffix in (".parquet", ".xpt", ".json"):
            cut = write_dataset(dataset, work / "adam" / f"{name.lower()}{suffix}", name, label, labels,
                                created=cutoff, study=study)
            for column, count in cut.items():
                problems.append(Problem("warning", f"adam/{name.lower()}{suffix}", f"{count} values of {column} "
                                        "cut to the 200 bytes of SAS XPT v5 (whole in the Parquet and JSON)"))
                log.warning("%s", problems[-1])
    for table_id, table in sorted(results.tables.items()):
        write_table_rtf(work / "tables" / f"{table_id}.rtf", table.title, table.frame, table_id=table_id,
                        note=table.note, study=study, empty=table.empty,
                        source=f"Source: tables/{table_id}.csv; data cut-off {results.meta.get('data_cutoff')}")


def ungradable_share(results: Any) -> tuple[int, int]:
    """(rows of tests with a CTCAE criterion that could not be graded, all rows of such tests) over LB, VS, EG."""
    bad = total = 0
    for frame in (results.labs, results.vitals, results.ecg):
        if frame is None or "grade" not in frame.columns:
            continue
        mapped = frame["term_low"].fillna("").ne("") | frame["term_high"].fillna("").ne("")
        total += int(mapped.sum())
        bad += int((mapped & frame["grade"].isna()).sum())
    return bad, total


def _row_counts(files: list[InputFile], results: Any) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for f in files:
        if f.used:
            counts.setdefault(f.domain, {"rows_in": 0})["rows_in"] += f.rows or 0
    excluded = results.excluded
    for domain, entry in counts.items():
        kept = results.domains.get(domain)
        entry["rows_after_cutoff"] = len(kept) if kept is not None else 0
        entry["excluded_after_cutoff"] = (int(excluded["domain"].str.lower().eq(domain).sum())
                                          if excluded is not None and len(excluded) else 0)
    for attr, domain in GRADED.items():
        frame = getattr(results, attr)
        if frame is None or domain not in counts:
            continue
        entry = counts[domain]
        entry["rows_out"] = len(frame)
        if "grade" in frame.columns and domain != "ae":
            entry["graded"] = int(frame["grade"].notna().sum())
            entry["ungraded_with_reason"] = len(frame) - entry["graded"]
        if domain == "ae" and "valid" in frame.columns:
            entry["valid_term_and_grade"] = int(frame["valid"].fillna(False).astype(bool).sum())
    return counts


def preflight(config: StudyConfig, data: str | Path | None = None,
              out: str | Path | None = None) -> tuple[Path | None, Path, list[Problem]]:
    """What a run needs before it reads anything: the data folder, the output folder and the problems with them
    (errors: no data folder or none there, no data cut-off, an output path that is a file, a `latest` that is not a
    link, a `.lock` that is a symbolic link or a folder; warnings: a `latest` pointing at a folder that is gone, a
    cut-off in the future). ``validate`` shows the same."""
    where = f"{config.source.name}: " if config.source is not None else ""
    folder = Path(data) if data is not None else config.data_folder
    problems = []
    if folder is None:
        problems.append(Problem("error", f"{where}data.folder", "no study data folder: give --data or set [data] "
                                                                "folder"))
    elif not Path(folder).is_dir():
        problems.append(Problem("error", str(folder), "study data folder not found"))
    cutoff = config.study.data_cutoff
    if cutoff is None:
        problems.append(Problem("error", f"{where}study.data_cutoff", "a scheduled run needs the data cut-off date"))
    elif cutoff > datetime.now(timezone.utc).date():
        problems.append(Problem("warning", f"{where}study.data_cutoff", f"{cutoff} is in the future"))
    root = output_root(config, out)
    pointer = root / LATEST
    if root.exists() and not root.is_dir():
        problems.append(Problem("error", str(root), "the output folder is a file"))
    elif pointer.exists() and not pointer.is_symlink():
        problems.append(Problem("error", str(pointer), "is not the symbolic link runs maintain (copied by rsync?); "
                                                       "move it away"))
    elif (root / LOCK).is_symlink() or (root / LOCK).is_dir():
        problems.append(Problem("error", str(root / LOCK), "must be a plain file (it is a symbolic link or a folder); "
                                                           "remove it"))
    elif pointer.is_symlink() and not pointer.resolve().is_dir():
        problems.append(Problem("warning", str(pointer), f"points at {os.readlink(pointer)}, which is gone: this run "
                                                         "is compared with nothing"))
    return folder, root, problems


def execute(
    config: StudyConfig,
    data: str | Path | None = None,
    out: str | Path | None = None,
    run_time: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Run the study of ``config`` (data folder ``data`` or the config's [data] folder) into a new run folder.

    Returns the outcome with the exit code; raises :class:`RunBusy` when another run holds the output folder and
    :class:`UnsafeLock` when its ``.lock`` became a link or a folder after the preflight (which reports it first).
    """
    started = time.perf_counter()
    run_time = (run_time or report_time()).astimezone(timezone.utc).replace(microsecond=0)
    folder, root, setup = preflight(config, data, out)
    if any(p.level == "error" for p in setup):
        for problem in setup:
            log.error("%s", problem)
        return RunOutcome(EXIT_CONFIG, "config_error", problems=setup)
    with _lock(root):
        _clear_incomplete(root)
        stamp = time.perf_counter()
        checked = check_folder(folder, config)
        files, problems = checked.files, setup + checked.problems
        durations = {"read_and_check_inputs": time.perf_counter() - stamp}
        for problem in problems:
            (log.error if problem.level == "error" else log.warning)("%s", problem)
        if checked.errors:
            return RunOutcome(EXIT_INPUT, "input_errors", problems=problems)
        inputs = [{"file": f.name, "domain": f.domain.upper(), "size": f.size, "rows": f.rows, "used": f.used,
                   "sha256": f.sha256} for f in files]
        from ctcae_engine.report import SUMMARY_NAME as SUMMARY
        from ctcae_engine.report import WHATS_NEW_NAME as WHATS_NEW
        from ctcae_engine.report import read_summary, write_report
        from ctcae_engine.run.pipeline import run_study  # heavy imports only once the inputs are usable
        from ctcae_engine.write.spreadsheet import write_csv

        config_block = _config_block(config)
        key = _inputs_key(inputs, config_block)
        previous = previous_run(root, key)
        before = None
        if previous is not None:
            try:
                before = read_summary(previous)
            except (OSError, ValueError) as exc:  # a damaged earlier run must not stop this week's report
                reason = type(exc.__cause__ or exc).__name__
                problems.append(Problem("warning", f"{previous.name}/{SUMMARY}",
                                        f"cannot be read ({reason}); this run is compared with nothing"))
                before = None
                log.warning("%s", problems[-1])
                previous = None
        log.info("comparing with %s", previous.name if previous else "nothing (no earlier successful run to compare "
                 "with, or a repeat of a run that had none)")


        stamp = time.perf_counter()
        results = run_study(folder, config, run_time=run_time, progress=progress, frames=checked.frames,
                            hashes=checked.hashes)
        durations["analysis"] = time.perf_counter() - stamp
        cutoff = results.meta["data_cutoff"]
        name = f"cutoff-{cutoff}_run-{run_time:%Y%m%dT%H%M%SZ}"
        n = 1
        while (root / name).exists():  # two runs in one second
            n += 1
            name = f"cutoff-{cutoff}_run-{run_time:%Y%m%dT%H%M%SZ}-{n}"
        work = root / f"{INCOMPLETE}{name}"
        work.mkdir()
        if progress is not None:
            progress("writing the report")
        stamp = time.perf_counter()
        write_report(results, work, previous=before, pdf=config.report.pdf)
        durations["report"] = time.perf_counter() - stamp
        if progress is not None:
            progress("writing graded datasets and tables")
        stamp = time.perf_counter()
        (work / "graded").mkdir()
        for attr, stem in GRADED.items():
            frame = getattr(results, attr)
            if frame is not None:
                _save_frame(frame, work / "graded" / stem)
        (work / "tables").mkdir()
        for table_id, table in sorted(results.tables.items()):
            write_csv(table.frame, work / "tables" / f"{table_id}.csv")
        _write_submission_outputs(results, work, problems)
        durations["datasets_and_tables"] = time.perf_counter() - stamp

        warnings = [str(p) for p in problems]
        whats_new = json.loads((work / WHATS_NEW).read_text(encoding="utf-8"))
        if whats_new.get("removed_count"):
            source = previous.name if previous else "the previous run"
            warnings.append(f"{whats_new['removed_count']} records of {source} are no longer in the data "
                            f"({WHATS_NEW}: removed_*): corrections, or a broken delivery?")
            log.warning("%s", warnings[-1])
        warnings += [f"stage failed: {stage}: {message}" for stage, message in results.stage_errors]
        bad, total = ungradable_share(results)
        share = 100.0 * bad / total if total else 0.0
        limit = config.run.max_ungradable_pct
        if bad:
            warnings.append(f"{bad} of {total} observations of graded tests ({share:.2f} %) could not be graded "
                            f"(limit {limit} %); each is in ungraded_rows.csv with its reason")
        for stage, message in results.stage_errors:
            log.error("stage failed: %s: %s", stage, message)
        if bad:
            log.warning("%s", warnings[-1])
        if results.stage_errors:
            status, code = "stage_failed", EXIT_STAGE
        elif share > limit:
            status, code = "data_errors", EXIT_DATA
        else:
            status, code = "success", EXIT_OK
        durations["total"] = time.perf_counter() - started
        outputs = [{"file": p.relative_to(work).as_posix(), "size": p.stat().st_size, "sha256": sha256_file(p)}
                   for p in sorted(work.rglob("*")) if p.is_file()]
        manifest = {
            "schema": 1,
            "status": status,
            "exit_code": code,
            "engine_version": __version__,
            "ctcae_version": results.meta.get("ctcae_version"),
            "study_id": results.meta.get("study_id"),
            "data_cutoff": cutoff,
            "data_folder": str(Path(folder).resolve()),
            "inputs": inputs,
            "inputs_key": key,
            "config": config_block,
            "rows": _row_counts(files, results),
            "ungradable": {"rows": bad, "of": total, "pct": round(share, 3), "limit_pct": limit},
            "compared_with": previous.name if previous else None,
            "warnings": warnings,
            "outputs": outputs,
            "run": {"run_time": run_time.isoformat(), "folder": name,
                    "durations_s": {k: round(v, 3) for k, v in durations.items()}},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _sync(work)
        final = root / name
        os.rename(work, final)  # atomic on one file system: the folder appears complete or not at all
        _sync_dir(root)
        if status == "success":
            _point_latest(root, final)
            log.info("run folder %s; latest -> %s", final, name)
        else:
            log.error("run folder %s written with status %s; latest not moved", final, status)
    return RunOutcome(code, status, final, problems, manifest)
