"""Grading and worst-grade aggregation on Dask: the pandas engine, partition by partition, out of core.

Design (docs/dask.md): the rows are shuffled by participant (a hash of the stripped USUBJID) through Dask, so
every participant's rows land in one partition; within a partition they are put back in input order (a row id
set before the shuffle); each partition is then graded by the unchanged pandas engine (:mod:`ctcae_engine.grading`).
Every whole-participant step of that engine (flagged or derived baseline, fever runs > 24 h, QTc on two separate
ECGs, weight change from baseline, QTcF derivation) therefore sees all of a participant's rows, in the order the
pandas engine would, and the result does not depend on how the input was partitioned. There is one grading code.

The one frame-wide choice of the pandas engine (an ADaM input with a BASE column uses BASE for every row as soon as
one row has a usable BASE, else it derives the baseline from the flags) is computed over the whole dataset first
and imposed on every partition.

Output rows are grouped by participant, not in input order (the index labels are kept): sort by a row id when the
order matters. ``worst_grade`` reduces partition by partition (max and counts are decomposable: no shuffle).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dask
import dask.dataframe as dd
import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from ctcae_engine import canonical, grading
from ctcae_engine.ae import stack_directions
from ctcae_engine.columns import clean, factorize, pick, text

if TYPE_CHECKING:
    from distributed import Client

KINDS: dict[str, Callable[..., pd.DataFrame]] = {
    "lab": grading.grade_labs, "vitals": grading.grade_vitals, "ecg": grading.grade_ecg,
}
WORST_KEYS = ["usubjid", "direction", "term"]
_ROW = "_ctcae_row"  # input order: partition number x 2**40 + position in the partition
_KEY = "_ctcae_subject"  # hash of the stripped USUBJID: the shuffle key
_PROBE = 1000  # rows graded at a time when probing whether BASE is usable
_RESERVE = 0.6e9  # bytes of a local run's budget kept for the client and scheduler process
WORKER_MIN = 1.2e9  # bytes a local worker needs: a 1M-row input partition in a shuffle, a graded partition
PARTITION_ROWS = 250_000  # rows per graded partition in grade_dataset: bounds a worker's memory per task


def is_dask(frame: object) -> bool:
    """Whether ``frame`` is a Dask collection (tested without importing dask)."""
    return type(frame).__module__.split(".")[0] in ("dask", "dask_expr")


# ---------------------------------------------------------------------------------------------------- grading

def grade(ddf: dd.DataFrame, kind: str = "lab", *, npartitions: int | None = None,
          **options: object) -> dd.DataFrame:
    """Grade a Dask DataFrame with the pandas engine of ``kind`` ("lab", "vitals", "ecg"); ``options`` are the
    keyword arguments of that engine (first_dose, mapping, result, criteria, ...). Returns a Dask DataFrame with the
    columns and dtypes of the pandas result; rows grouped by participant (index labels kept, order not);
    ``npartitions`` partitions after the shuffle (default: as many as the input)."""
    fn, shuffled, base_everywhere, out_meta = _plan(ddf, kind, options, npartitions)
    return shuffled.map_partitions(_grade_partition, fn, options, base_everywhere, meta=out_meta)


def _plan(ddf: dd.DataFrame, kind: str, options: dict, npartitions: int | None
          ) -> tuple[Callable[..., pd.DataFrame], dd.DataFrame, bool | dd.Scalar, pd.DataFrame]:
    """The pandas engine, the input shuffled by participant, whether the whole input grades from BASE (a lazy
    Scalar for ADaM input with BASE) and the output's empty frame (meta)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    meta = ddf._meta
    subject = pick(meta, "USUBJID")
    if subject is None:
        raise ValueError("the Dask engine needs a USUBJID column: whole-participant steps group rows by it")
    clash = {_ROW, _KEY} & set(meta.columns)
    if clash:
        raise ValueError(f"input columns {sorted(clash)} are reserved by the Dask engine")
    fn = KINDS[kind]
    out_meta = fn(meta, **options)  # also validates the options and the input kind before any work
    tagged = ddf.map_partitions(_tag, subject, meta=_tag(meta, subject))
    shuffled = tagged.shuffle(on=_KEY, npartitions=npartitions)
    if _base_column(meta) is None:
        return fn, shuffled, False, out_meta
    usable = ddf.map_partitions(_base_usable_frame, fn, options, meta=pd.DataFrame({"usable": [True]}).iloc[:0])
    return fn, shuffled, usable["usable"].any(), out_meta


def _tag(part: pd.DataFrame, subject: str, partition_info: dict | None = None) -> pd.DataFrame:
    """The partition with its row ids and the shuffle key (hash of the stripped USUBJID; missing = one key)."""
    number = partition_info["number"] if partition_info else 0
    codes, uniques = factorize(part[subject])
    cleaned = pd.Series([clean(u) for u in uniques] + [None], dtype=object)
    hashes = pd.util.hash_array(cleaned.fillna("").to_numpy(dtype=object)).view(np.int64)
    return part.assign(**{_ROW: np.int64(number) * 2**40 + np.arange(len(part), dtype=np.int64),
                          _KEY: hashes[codes]})


def _base_column(meta: pd.DataFrame) -> str | None:
    """The ADaM BASE column the pandas engine would read (None for SDTM input or without BASE)."""
    try:
        adam = canonical.detect_kind(meta) == "ADAM"
    except ValueError:
        return None
    return pick(meta, "BASE") if adam else None


def _base_usable(part: pd.DataFrame, fn: Callable[..., pd.DataFrame], options: dict) -> bool:
    """Whether the pandas engine, given this frame alone, would grade from its BASE column: some row has a BASE
    that converts to its rule's unit. Rows with a BASE are graded with BASE as their result, a few at a time,
    until one converts (usually the first batch)."""
    column = _base_column(part)
    if column is None:
        return False
    has_base = ~np.isnan(canonical.to_float(part[column], len(part)))
    if not has_base.any():
        return False
    with_base = part.loc[has_base, :]
    value = pick(part, "AVAL")
    probe = {k: v for k, v in options.items() if k != "first_dose"}
    for start in range(0, len(with_base), _PROBE):
        rows = with_base.iloc[start:start + _PROBE]
        converted = fn(rows.assign(**{value: canonical.to_float(rows[column], len(rows))}), **probe)["value_si"]
        if converted.notna().any():
            return True
    return False


def _base_usable_frame(part: pd.DataFrame, fn: Callable[..., pd.DataFrame], options: dict) -> pd.DataFrame:
    return pd.DataFrame({"usable": [_base_usable(part, fn, options)]})


def _grade_partition(part: pd.DataFrame, fn: Callable[..., pd.DataFrame], options: dict,
                     base_everywhere: bool) -> pd.DataFrame:
    """Grade one partition holding whole participants, rows back in input order. ``base_everywhere``: the whole
    dataset grades from BASE, so a partition whose own BASE values are unusable must not derive a baseline."""
    rows = part.sort_values(_ROW, kind="stable").drop(columns=[_ROW, _KEY])
    if not base_everywhere or _base_usable(rows, fn, options):
        return fn(rows, **options)
    # what the pandas engine does to these rows when other rows carry BASE: no baseline, the flag as given
    flag = pick(rows, "ABLFL")
    blanked = rows if flag is None else rows.assign(**{flag: None})
    out = fn(blanked, **{**options, "first_dose": None})
    if flag is not None:
        out[flag] = rows[flag]
        out["baseline"] = text(rows, flag, upper=True).eq("Y").fillna(False).to_numpy(dtype=bool)
    return out


# ------------------------------------------------------------------------------------------------ worst grade

def _worst_partial(graded: pd.DataFrame) -> pd.DataFrame:
    """Worst grade, rows and graded rows per participant x direction x term of some graded rows.

    The rows are first reduced to their distinct (usubjid, term and grade per direction) with a count, then stacked
    by :func:`ctcae_engine.ae.stack_directions` (its ``obs_pos`` leads back to each count): the same stacking as
    the tables, on a few rows per participant and term instead of every observation."""
    columns = ["usubjid", "term_low", "grade_low", "term_high", "grade_high"]
    distinct = graded.groupby(columns, dropna=False, sort=False, observed=True).size().rename("n").reset_index()
    long = stack_directions(distinct.assign(adt=pd.NaT))
    weight = distinct["n"].to_numpy()[long["obs_pos"].to_numpy()]
    long = long.assign(n=weight, n_graded=np.where(long["grade"].notna().to_numpy(), weight, 0))
    return long.groupby(WORST_KEYS, dropna=False, sort=False).agg(
        worst_grade=("grade", "max"), n_rows=("n", "sum"), n_graded=("n_graded", "sum"),
    ).reset_index()


def _worst_combine(partials: pd.DataFrame) -> pd.DataFrame:
    return partials.groupby(WORST_KEYS, dropna=False, sort=False).agg(
        worst_grade=("worst_grade", "max"), n_rows=("n_rows", "sum"), n_graded=("n_graded", "sum"),
    ).reset_index()


def _worst_finish(partials: pd.DataFrame) -> pd.DataFrame:
    out = _worst_combine(partials).sort_values(WORST_KEYS, kind="stable", ignore_index=True)
    return out.astype({"worst_grade": pd.Float64Dtype()}).astype(
        {"worst_grade": "Int64", "n_rows": "int64", "n_graded": "int64"})


def worst_grade(graded: pd.DataFrame | dd.DataFrame) -> pd.DataFrame | dd.DataFrame:
    """Worst CTCAE grade per participant x direction x term of graded observations (the grading contract).

    Columns: usubjid (stripped), direction ("low" / "high", as :func:`ctcae_engine.ae.stack_directions` labels the
    term_low / term_high columns), term, worst_grade (Int64; NA when no row of that term could be graded), n_rows
    (rows with that term) and n_graded (rows with a grade). Every row counts (baseline included; no window: the
    tables of :mod:`ctcae_engine.tables` apply those). Sorted by usubjid, direction, term.
    A Dask input gives a one-partition Dask DataFrame equal, once computed, to the pandas result."""
    if not is_dask(graded):
        return _worst_finish(_worst_partial(graded))
    meta = _worst_finish(_worst_partial(graded._meta))
    return graded.reduction(_worst_partial, aggregate=_worst_finish, combine=_worst_combine, meta=meta)


# ------------------------------------------------------------------------------------------------ cluster, I/O

@contextlib.contextmanager
def open_client(scheduler: str | None = None, *, memory_budget: float = 3.6e9,
                n_workers: int | None = None) -> Iterator[Client]:
    """A Dask client. ``scheduler`` an address ("tcp://host:8786"): that cluster, as configured there.

    ``scheduler`` None: a LocalCluster on this machine whose processes together stay within ``memory_budget`` bytes:
    _RESERVE for this process (client and scheduler), the rest split between single-threaded worker processes, one
    per core but no more than leave each WORKER_MIN bytes (2 workers of 1.5 GB on a 2-core machine). Workers spill
    to a temporary folder removed on exit; P2P shuffle buffers are capped so that a shuffle fits these limits (the
    default 1 GiB per worker would not)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    share = memory_budget - _RESERVE
    workers = n_workers or max(1, min(os.cpu_count() or 1, int(share // WORKER_MIN)))
    p2p = {"distributed.p2p.comm.buffer": "128MiB", "distributed.p2p.storage.buffer": "64MiB"}
    with dask.config.set(p2p), tempfile.TemporaryDirectory(prefix="ctcae-dask-") as spill, \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=int(share / workers),
                         local_directory=spill, dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def _counts(graded: pd.DataFrame) -> pd.DataFrame:
    has_grade = graded["grade"].notna().to_numpy()
    return pd.DataFrame({"rows_out": [len(graded)], "graded": [int(has_grade.sum())],
                         "ungraded": [int((~has_grade).sum())]})


def _schema(meta: pd.DataFrame) -> pa.Schema:
    """The Parquet schema of the graded rows, object columns as text (the same in every file)."""
    text_columns = [c for c in meta.columns if meta[c].dtype == object]
    return pa.Schema.from_pandas(meta.astype(dict.fromkeys(text_columns, "string")), preserve_index=False)


def _grade_and_write(part: pd.DataFrame, fn: Callable[..., pd.DataFrame], options: dict, base_everywhere: bool,
                     out: str, partition_info: dict | None = None) -> pd.DataFrame:
    """Grade one shuffled partition; write its graded rows as one file of the dataset ``out`` and its worst grades
    as one file of :func:`worst_path` (final: a participant's rows are all in this partition); return its counts.
    The graded rows never wait in a worker's memory for other tasks, and nothing big travels back."""
    graded = _grade_partition(part, fn, options, base_everywhere)
    name = f"part-{(partition_info['number'] if partition_info else 0):05d}.parquet"
    for frame, folder in ((graded, out), (worst_grade(graded), worst_path(out))):
        fs, root = fsspec.core.url_to_fs(folder)
        table = pa.Table.from_pandas(frame, schema=_schema(frame.iloc[:0]), preserve_index=False)
        pq.write_table(table, f"{root.rstrip('/')}/{name}", filesystem=fs)
    return _counts(graded)


def _parquet_rows(source: str) -> int:
    """Rows of a Parquet dataset (file or folder, local or fsspec URL), from the file footers only."""
    fs, path = fsspec.core.url_to_fs(source)
    return pads.dataset(path, filesystem=fs, format="parquet").count_rows()


def worst_path(out: str | Path) -> str:
    """Where :func:`grade_dataset` writes the worst grades: a Parquet dataset folder beside ``out``, ``<out>_worst``
    (one file per graded partition, each holding whole participants, sorted by usubjid, direction, term)."""
    return str(out).rstrip("/") + "_worst"


def grade_dataset(source: str | Path, out: str | Path, kind: str = "lab", scheduler: str | None = None,
                  first_dose: object = None, **options: object) -> dict[str, int]:
    """Grade a Parquet dataset (a folder of .parquet files, or one file; local or any fsspec URL) on Dask.
    ``options``: further keyword arguments of the grading function of ``kind`` (mapping, result, assume_at_rest...).

    Writes the graded rows as a Parquet dataset folder ``out`` (absent or empty) and the worst grade per
    participant x direction x term as the Parquet dataset folder :func:`worst_path` (``<out>_worst``), both in one
    pass over the data. Returns {"rows_in", "rows_out", "graded", "ungraded"}; rows_in (from
    the Parquet footers) equals rows_out (every row graded or with its reason), else RuntimeError."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    for folder in (out, worst_path(out)):
        local = Path(folder) if "://" not in str(folder) else None
        if local is not None and local.exists() and (not local.is_dir() or any(local.iterdir())):
            raise FileExistsError(f"{local} exists and is not an empty folder: choose a new output folder")
    source, out = str(source), str(out)
    rows_in = _parquet_rows(source)
    with open_client(scheduler):
        ddf = dd.read_parquet(source)
        npartitions = max(ddf.npartitions, -(-rows_in // PARTITION_ROWS))
        if npartitions > ddf.npartitions:  # cut big files / row groups before the shuffle: bounds a transfer task
            ddf = ddf.repartition(npartitions=npartitions)
        options = {"first_dose": first_dose, **options}
        fn, shuffled, base_everywhere, meta = _plan(ddf, kind, options, npartitions)
        for folder in (out, worst_path(out)):
            fs, root = fsspec.core.url_to_fs(folder)
            fs.makedirs(root, exist_ok=True)
        counts = shuffled.map_partitions(_grade_and_write, fn, options, base_everywhere, out,
                                         meta=_counts(meta)).sum().compute()
    result = {"rows_in": int(rows_in), **{k: int(v) for k, v in counts.items()}}
    if result["rows_in"] != result["rows_out"]:
        raise RuntimeError(f"rows lost on the way: {result}")
    return result
