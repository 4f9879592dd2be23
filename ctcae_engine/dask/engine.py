"""Grading and worst-grade aggregation on Dask: the pandas engine, partition by partition, out of core.

Design (docs/dask.md): the rows are shuffled by participant (a hash of the stripped USUBJID) through Dask, so
every participant's rows land in one partition; within a partition they are put back in input order (a row id
set before the shuffle); each partition is then graded by the unchanged pandas engine
(:mod:`ctcae_engine.grade.findings`).
Every whole-participant step of that engine (flagged or derived baseline, fever runs > 24 h, QTc on two separate
ECGs, weight change from baseline, QTcF derivation) therefore sees all of a participant's rows, in the order the
pandas engine would, and the result does not depend on how the input was partitioned. There is one grading code.

The one frame-wide choice of the pandas engine (:func:`ctcae_engine.grade.findings.base_usable`:
an ADaM input with a BASE
column uses BASE for every row as soon as one row has a usable BASE, else it derives the baseline from the flags) is
computed over the whole dataset first and imposed on every partition
(``grading.grade_observations(use_base=...)``).

A Parquet dataset is read by :func:`read_dataset` as
:func:`ctcae_engine.read.files.read_domain` reads it (same files, same
order, same column names, blank text missing), in pieces cut from the footers' row counts.

Output rows are grouped by participant, not in input order (the index labels are kept): sort by a row id when the
order matters. ``worst_grade`` reduces each partition to its distinct rows, then shuffles those by participant.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dask
import dask.dataframe as dd
import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ctcae_engine.grade import findings as grading
from ctcae_engine.grade.ae import stack_directions
from ctcae_engine.read import canonical
from ctcae_engine.read import files as io
from ctcae_engine.read.columns import clean, factorize, pick

if TYPE_CHECKING:
    from distributed import Client

KINDS: dict[str, Callable[..., pd.DataFrame]] = grading.GRADERS
WORST_KEYS = ["usubjid", "direction", "term"]
_ROW = "_ctcae_row"  # input order: partition number x 2**40 + position in the partition
_KEY = "_ctcae_subject"  # hash of the stripped USUBJID: the shuffle key
_PROBE = 1000  # BASE-carrying rows graded in the first probe batch (doubling after each batch that finds none)
_RESERVE = 0.6e9  # bytes of a local run's budget kept for the client and scheduler process
WORKER_MIN = 1.2e9  # bytes a local worker needs: a 250k-row input piece in a shuffle, a graded partition
PARTITION_ROWS = 250_000  # rows per input piece and per graded partition in grade_dataset: bounds a task's memory
WORST_ROWS_PER_PARTITION = 16  # graded partitions per partition of the lazy worst_grade (its rows are ~25x fewer)


# ---------------------------------------------------------------------------------------------------- reading

def dataset_files(source: str | Path) -> list[str]:
    """The files of a Parquet dataset, in the order both engines read them: a local folder through
    :func:`ctcae_engine.read.files.parquet_files` (name order; hidden and ``_`` files skipped),
    an fsspec URL of a folder
    the same way, a single file as itself. Raises FileNotFoundError when there is none."""
    source = str(source)
    fs, root = fsspec.core.url_to_fs(source)
    if "://" not in source:
        return [str(f) for f in io.parquet_files(source)] if os.path.isdir(source) else [source]
    if not fs.isdir(root):
        if not fs.exists(root):
            raise FileNotFoundError(f"input not found: {source}")
        return [source]
    base = root.rstrip("/")
    relative = [p[len(base) + 1:] for p in fs.find(base) if p.endswith(".parquet")]
    kept = sorted(tuple(r.split("/")) for r in relative if not any(x.startswith((".", "_")) for x in r.split("/")))
    if not kept:
        raise FileNotFoundError(f"no .parquet files in {source}")
    return [fs.unstrip_protocol(base + "/" + "/".join(parts)) for parts in kept]


def _target_type(types: list[pa.DataType]) -> pa.DataType:
    """One Arrow type for a column across files: its type when they agree, float64 when all are numbers, one
    timestamp resolution for timestamps, else text (a column written as text in one file and as numbers in
    another is read as text everywhere)."""
    kinds = {t.value_type if pa.types.is_dictionary(t) else t for t in types if not pa.types.is_null(t)}
    if len(kinds) <= 1:
        return kinds.pop() if kinds else pa.string()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in kinds):
        return pa.float64()
    if all(pa.types.is_timestamp(t) for t in kinds) and len({t.tz for t in kinds}) == 1:
        return pa.timestamp("us", kinds.pop().tz)  # the same instants written at different resolutions
    return pa.string()


def _to_pandas(table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    """A piece as pandas, as io.read_domain reads it: the dataset's columns (upper-case, stripped) with one type
    each (missing columns all null), blank text missing; integers and booleans nullable, so a piece with nulls has
    the dtype of one without."""
    columns = []
    for field in schema:
        column = table.column(field.name) if field.name in table.column_names else pa.nulls(len(table), field.type)
        if column.type != field.type:
            column = column.cast(field.type)
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, field.type), column)
        columns.append(column)
    unified = pa.table(columns, schema=schema)
    nullable = {t: pd.Int64Dtype() for t in (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(),
                                             pa.uint16(), pa.uint32())} | {pa.bool_(): pd.BooleanDtype()}
    return unified.to_pandas(types_mapper=nullable.get)


def _read_piece(piece: tuple[str, int, int, int], schema: pa.Schema, fs: fsspec.AbstractFileSystem) -> pd.DataFrame:
    """Rows start .. stop of one row group of one file, streamed in batches (at most one piece in memory)."""
    path, group, start, stop = piece
    with fs.open(path, "rb") as handle:
        parquet = pq.ParquetFile(handle, pre_buffer=False)
        names = [str(c).strip().upper() for c in parquet.schema_arrow.names]
        batches, seen = [], 0
        if stop > start:
            for batch in parquet.iter_batches(batch_size=stop - start, row_groups=[group], use_threads=False):
                first, seen = seen, seen + batch.num_rows
                if seen > start:
                    batches.append(batch.slice(max(0, start - first), stop - max(start, first)))
                if seen >= stop:
                    break
        table = pa.Table.from_batches(batches, schema=parquet.schema_arrow).rename_columns(names)
    return _to_pandas(table, schema)


def read_dataset(source: str | Path, partition_rows: int = PARTITION_ROWS) -> tuple[dd.DataFrame, int]:
    """A Parquet dataset (a file, a folder or an fsspec URL of one) as a Dask DataFrame read like
    :func:`ctcae_engine.read.files.read_domain`:
    the files of :func:`dataset_files` in that order, column names upper-case
    and stripped, blank text missing, one dtype per column across files (see :func:`_target_type`). Partitions are
    cut from the file footers' row counts: each row group in pieces of at most ``partition_rows`` rows, so a big
    file among small ones is cut too. Returns the frame and its row count (from the footers)."""
    files = dataset_files(source)
    fs, _ = fsspec.core.url_to_fs(str(source))
    pieces: list[tuple[str, int, int, int]] = []
    fields: dict[str, list[pa.DataType]] = {}
    for path in files:
        try:
            with fs.open(path, "rb") as handle:
                footer = pq.read_metadata(handle)
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
        names = [str(n).strip().upper() for n in footer.schema.to_arrow_schema().names]
        if len(set(names)) < len(names):
            raise ValueError(f"{path}: column names repeat once upper-cased: {names}")
        for name, field in zip(names, footer.schema.to_arrow_schema(), strict=True):
            if not name.startswith("__INDEX_LEVEL_"):  # a pandas index written by to_parquet: not data
                fields.setdefault(name, []).append(field.type)
        for group in range(footer.num_row_groups):
            n = footer.row_group(group).num_rows
            size = -(-n // max(1, -(-n // partition_rows)))  # equal pieces of at most partition_rows rows
            pieces += [(path, group, s, min(n, s + size)) for s in range(0, n, size)]
    schema = pa.schema([(name, _target_type(types)) for name, types in fields.items()])
    meta = _to_pandas(schema.empty_table(), schema)
    rows = sum(stop - start for _, _, start, stop in pieces)
    ddf = dd.from_map(_read_piece, pieces or [(files[0], 0, 0, 0)], schema=schema, fs=fs, meta=meta,
                      enforce_metadata=False)
    return ddf, rows


def shuffle_partitions(rows: int) -> int:
    """Graded partitions for ``rows`` rows in grade_dataset: PARTITION_ROWS each on average."""
    return max(1, -(-rows // PARTITION_ROWS))


# ---------------------------------------------------------------------------------------------------- grading

def grade(ddf: dd.DataFrame, kind: str = "lab", *, npartitions: int | None = None,
          **options: object) -> dd.DataFrame:
    """Grade a Dask DataFrame with the pandas engine of ``kind`` ("lab", "vitals", "ecg"); ``options`` are the
    keyword arguments of that engine (first_dose, mapping, result, criteria, ...). Returns a Dask DataFrame with the
    columns and dtypes of the pandas result; rows grouped by participant (index labels kept, order not);
    ``npartitions`` partitions after the shuffle (default: as many as the input: repartition a frame of big
    partitions first, a partition is graded in one piece)."""
    shuffled, use_base, out_meta = _plan(ddf, kind, options, npartitions)
    return shuffled.map_partitions(_grade_partition, kind, options, use_base, meta=out_meta)


def _plan(ddf: dd.DataFrame, kind: str, options: dict, npartitions: int | None
          ) -> tuple[dd.DataFrame, bool | dd.Scalar, pd.DataFrame]:
    """The input shuffled by participant, whether the whole input grades from BASE (a lazy Scalar for ADaM input
    with BASE) and the output's empty frame (meta)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    meta = ddf._meta
    subject = pick(meta, "USUBJID")
    if subject is None:
        raise ValueError("the Dask engine needs a USUBJID column: whole-participant steps group rows by it")
    clash = {_ROW, _KEY} & set(meta.columns)
    if clash:
        raise ValueError(f"input columns {sorted(clash)} are reserved by the Dask engine")
    out_meta = KINDS[kind](meta, **options)  # also validates the options and the input kind before any work
    tagged = ddf.map_partitions(_tag, subject, meta=_tag(meta, subject))
    shuffled = tagged.shuffle(on=_KEY, npartitions=npartitions)
    if _base_column(meta) is None:
        return shuffled, False, out_meta
    usable = ddf.map_partitions(_base_usable_frame, kind, options, meta=pd.DataFrame({"usable": [True]}).iloc[:0])
    return shuffled, usable["usable"].any(), out_meta


def _tag(part: pd.DataFrame, subject: str, partition_info: dict | None = None) -> pd.DataFrame:
    """The partition with its row ids and the shuffle key (hash of the stripped USUBJID; missing = one key)."""
    number = partition_info["number"] if partition_info else 0
    codes, uniques = factorize(part[subject])
    cleaned = pd.Series([clean(u) for u in uniques] + [None], dtype=object)
    hashes = pd.util.hash_array(cleaned.fillna("").to_numpy(dtype=object)).view(np.int64)
    return part.assign(**{_ROW: np.int64(number) * 2**40 + np.arange(len(part), dtype=np.int64),
                          _KEY: hashes[codes]})


def _engine(rows: pd.DataFrame, kind: str, options: dict, use_base: bool | None) -> pd.DataFrame:
    """The pandas engine of ``kind`` on ``rows``, the BASE choice imposed (:func:`grading.grade_observations`)."""
    if kind == "ecg" and options.get("derive_qtcf"):
        return grading.grade_ecg(rows, **options)  # SDTM EG only (refused otherwise): no BASE to choose
    settings = {"first_dose": None, "mapping": None, "result": "standard", "criteria": None,
                **{k: v for k, v in options.items() if k != "derive_qtcf"}}
    return grading.grade_observations(rows, "lab" if kind == "lab" else "clinical", use_base=use_base, **settings)


def _base_column(meta: pd.DataFrame) -> str | None:
    """The ADaM BASE column the pandas engine would read (None for SDTM input or without BASE)."""
    try:
        adam = canonical.detect_kind(meta) == "ADAM"
    except ValueError:
        return None
    return pick(meta, "BASE") if adam else None


def _base_usable(part: pd.DataFrame, kind: str, options: dict) -> bool:
    """Whether some row of ``part`` has a BASE the pandas engine can use (:func:`grading.base_usable` on the
    engine's own base_si). Only rows carrying a BASE are graded, 1,000 first, then twice as many each time none
    converts: usually one small batch, at worst each such row once."""
    column = _base_column(part)
    if column is None:
        return False
    with_base = part.loc[~np.isnan(canonical.to_float(part[column], len(part))), :]
    start, size = 0, _PROBE
    while start < len(with_base):
        rows = with_base.iloc[start:start + size]
        if grading.base_usable(_engine(rows, kind, options, use_base=True)["base_si"].to_numpy(dtype=float)):
            return True
        start, size = start + size, size * 2
    return False


def _base_usable_frame(part: pd.DataFrame, kind: str, options: dict) -> pd.DataFrame:
    return pd.DataFrame({"usable": [_base_usable(part, kind, options)]})


def _grade_partition(part: pd.DataFrame, kind: str, options: dict, use_base: bool) -> pd.DataFrame:
    """Grade one partition holding whole participants, rows back in input order, the dataset's BASE choice
    imposed (a partition whose own BASE values are unusable must not derive a baseline when others have one)."""
    rows = part.sort_values(_ROW, kind="stable").drop(columns=[_ROW, _KEY])
    return _engine(rows, kind, options, bool(use_base))


# ------------------------------------------------------------------------------------------------ worst grade

def _worst_partial(graded: pd.DataFrame) -> pd.DataFrame:
    """Worst grade, rows and graded rows per participant x direction x term of some graded rows.

    The rows are first reduced to their distinct (usubjid, term and grade per direction) with a count, then stacked
    by :func:`ctcae_engine.grade.ae.stack_directions` (its ``obs_pos`` leads back to each count): the same stacking as
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

    Columns: usubjid (stripped), direction ("low" / "high", as :func:`ctcae_engine.grade.ae.stack_directions` labels the
    term_low / term_high columns), term, worst_grade (Int64; NA when no row of that term could be graded), n_rows
    (rows with that term) and n_graded (rows with a grade). Every row counts (baseline included; no window: the
    tables of :mod:`ctcae_engine.analyse.safety_tables` apply those). Sorted by usubjid, direction, term.
    A Dask input gives a Dask DataFrame: each partition reduced to its distinct rows, those shuffled by participant
    into one partition per WORST_ROWS_PER_PARTITION input partitions, each sorted; sorted by the keys once
    computed, it equals the pandas result."""
    if not isinstance(graded, dd.DataFrame):
        return _worst_finish(_worst_partial(graded))
    partials = graded.map_partitions(_worst_partial, meta=_worst_partial(graded._meta))
    npartitions = max(1, graded.npartitions // WORST_ROWS_PER_PARTITION)
    return partials.shuffle(on="usubjid", npartitions=npartitions).map_partitions(
        _worst_finish, meta=_worst_finish(partials._meta))


# ------------------------------------------------------------------------------------------------ cluster, I/O

@contextlib.contextmanager
def open_client(scheduler: str | None = None, *, memory_budget: float = 3.6e9,
                n_workers: int | None = None) -> Iterator[Client]:
    """A Dask client. ``scheduler`` an address ("tcp://host:8786"): that cluster, as configured there.

    ``scheduler`` None: a LocalCluster on this machine whose processes together stay within ``memory_budget`` bytes
    (a fixed 3.6 GB by default, whatever the machine's memory): _RESERVE for this process (client and scheduler),
    the rest split between single-threaded worker processes, one per core but no more than leave each WORKER_MIN
    bytes (at most 2 workers of 1.5 GB with the default budget). Workers spill to a temporary folder removed on
    exit; P2P shuffle buffers are capped so that a shuffle fits these limits (the default 1 GiB per worker would
    not)."""
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


def _grade_and_write(part: pd.DataFrame, kind: str, options: dict, use_base: bool, folders: tuple[str, str],
                     partition_info: dict | None = None) -> pd.DataFrame:
    """Grade one shuffled partition; write its graded rows as one file of the dataset ``folders[0]`` and its worst
    grades as one file of ``folders[1]`` (final: a participant's rows are all in this partition); return its
    counts. The graded rows never wait in a worker's memory for other tasks, and nothing big travels back."""
    graded = _grade_partition(part, kind, options, use_base)
    name = f"part-{(partition_info['number'] if partition_info else 0):05d}.parquet"
    for frame, folder in ((graded, folders[0]), (worst_grade(graded), folders[1])):
        fs, root = fsspec.core.url_to_fs(folder)
        table = pa.Table.from_pandas(frame, schema=_schema(frame.iloc[:0]), preserve_index=False)
        pq.write_table(table, f"{root.rstrip('/')}/{name}", filesystem=fs)
    return _counts(graded)


def worst_path(out: str | Path) -> str:
    """Where :func:`grade_dataset` writes the worst grades: a Parquet dataset folder beside ``out``, ``<out>_worst``
    (one file per graded partition, each holding whole participants, sorted by usubjid, direction, term)."""
    return str(out).rstrip("/") + "_worst"


def _refuse_existing(folder: str) -> None:
    """FileExistsError unless ``folder`` (a path or an fsspec URL) is absent or an empty folder."""
    fs, root = fsspec.core.url_to_fs(folder)
    if fs.exists(root) and (not fs.isdir(root) or fs.ls(root, detail=False)):
        raise FileExistsError(f"{folder} exists and is not an empty folder: choose a new output folder")


def grade_dataset(source: str | Path, out: str | Path, kind: str = "lab", scheduler: str | None = None,
                  first_dose: object = None, **options: object) -> dict[str, int]:
    """Grade a Parquet dataset (a folder of .parquet files, or one file; local or any fsspec URL) on Dask, read by
    :func:`read_dataset` (like the pandas CLI reads it). ``options``: further keyword arguments of the grading
    function of ``kind`` (mapping, result, assume_at_rest, derive_qtcf...).

    Writes the graded rows as a Parquet dataset folder ``out`` (absent or empty) and the worst grade per
    participant x direction x term as the Parquet dataset folder :func:`worst_path` (``<out>_worst``), both in one
    pass over the data. A local ``out`` is written into hidden folders beside it, renamed when complete: a failed
    run leaves nothing (an URL's folders are removed on failure). Returns {"rows_in", "rows_out", "graded",
    "ungraded"}; rows_in (the footers of the files read) equals rows_out (every row graded or with its reason),
    else RuntimeError. Bad input raises ValueError; a failure of the Dask run RuntimeError."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    source, out = str(source), str(out)
    remote = "://" in out
    if not remote:
        out = os.path.abspath(out)  # the workers resolve paths in their own working folders
    if "://" not in source:
        source = os.path.abspath(source)
    finals = (out, worst_path(out))
    for folder in finals:
        _refuse_existing(folder)
    token = uuid.uuid4().hex[:8]
    staging = finals if remote else tuple(
        os.path.join(os.path.dirname(f), f".{os.path.basename(f)}.tmp-{token}") for f in finals)
    ddf, rows_in = read_dataset(source)
    options = {"first_dose": first_dose, **options}
    try:
        with open_client(scheduler):
            shuffled, use_base, meta = _plan(ddf, kind, options, shuffle_partitions(rows_in))
            for folder in staging:
                fs, root = fsspec.core.url_to_fs(folder)
                fs.makedirs(root, exist_ok=True)
            try:
                counts = shuffled.map_partitions(_grade_and_write, kind, options, use_base, staging,
                                                 meta=_counts(meta)).sum().compute()
            except (ValueError, KeyError, FileNotFoundError):
                raise  # the data's or the options' fault, with their own message
            except Exception as exc:  # a worker's error, a lost worker, a failed shuffle: one line, not a trace
                raise RuntimeError(f"the Dask run failed: {type(exc).__name__}: {exc}") from exc
        result = {"rows_in": int(rows_in), **{k: int(v) for k, v in counts.items()}}
        if result["rows_in"] != result["rows_out"]:
            raise RuntimeError(f"rows lost on the way: {result}")
        if not remote:
            for temporary, final in zip(staging, finals, strict=True):
                os.replace(temporary, final)  # replaces an empty folder
    except BaseException:
        for folder in staging:
            fs, root = fsspec.core.url_to_fs(folder)
            with contextlib.suppress(OSError):
                if fs.exists(root):
                    fs.rm(root, recursive=True)
        raise
    return result
