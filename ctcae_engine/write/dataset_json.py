"""CDISC Dataset-JSON v1.1, the CDISC exchange format meant to replace SAS XPT.

Written to the published schema (github.com/cdisc-org/DataExchange-DatasetJson, schema/dataset.schema.json; a copy
in tests/data validates every file the tests write): a top-level object with ``datasetJSONCreationDateTime``,
``datasetJSONVersion`` "1.1.0", ``itemGroupOID`` "IG.<NAME>", ``records``, ``name``, ``label``, ``columns`` (itemOID
"IT.<NAME>.<VAR>", name, label, dataType, length for strings) and ``rows`` (one array per record, in column order).
Types: text -> "string" (length: the longest value in bytes, at least 1), float -> "double", integer -> "integer",
date -> "date" (ISO 8601 "YYYY-MM-DD"), bool -> "boolean"; a missing value is null. No library is used: the one
that exists on PyPI (dsjconvert) converts SAS files, not pandas frames.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

VERSION = "1.1.0"


def _data_type(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values.dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return "date"
    if pd.api.types.is_integer_dtype(values.dtype):
        return "integer"
    if pd.api.types.is_numeric_dtype(values.dtype):
        return "double"
    return "string"


def _cells(values: pd.Series, kind: str) -> list[Any]:
    missing = values.isna().to_numpy()
    if kind == "date":
        cells = values.dt.strftime("%Y-%m-%d").tolist()
    elif kind == "integer":
        cells = [int(v) if not m else None for v, m in zip(values.tolist(), missing, strict=True)]
    elif kind == "double":
        cells = [float(v) if not m else None for v, m in zip(values.tolist(), missing, strict=True)]
    elif kind == "boolean":
        cells = [bool(v) if not m else None for v, m in zip(values.tolist(), missing, strict=True)]
    else:
        cells = values.astype(object).tolist()
        cells = [str(v) if not m else None for v, m in zip(cells, missing, strict=True)]
    return [None if m else c for c, m in zip(cells, missing, strict=True)]


def dataset_json(frame: pd.DataFrame, name: str, label: str, labels: dict[str, str] | None = None,
                 created: datetime | None = None, study: str | None = None) -> dict[str, Any]:
    """The Dataset-JSON v1.1 object of ``frame`` (dataset ``name``); ``created``: the creation time written (now
    when None)."""
    from ctcae_engine import __version__

    name = name.upper()
    stamp = (created or datetime.now(timezone.utc)).replace(microsecond=0)
    columns: list[dict[str, Any]] = []
    data: list[list[Any]] = []
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        values = frame[column]
        kind = _data_type(values)
        entry: dict[str, Any] = {"itemOID": f"IT.{name}.{column}", "name": str(column),
                                 "label": (labels or {}).get(column, str(column)), "dataType": kind}
        cells = _cells(values, kind)
        if kind == "string":
            entry["length"] = max([len(c.encode("utf-8")) for c in cells if c is not None] + [1])
        columns.append(entry)
        data.append(cells)
    out: dict[str, Any] = {
        "datasetJSONCreationDateTime": stamp.strftime("%Y-%m-%dT%H:%M:%S"),
        "datasetJSONVersion": VERSION,
        "originator": "ctcae-engine",
        "sourceSystem": {"name": "ctcae-engine", "version": __version__},
        "itemGroupOID": f"IG.{name}",
        "records": len(frame),
        "name": name,
        "label": label,
        "columns": columns,
        "rows": [list(row) for row in zip(*data, strict=True)] if data else [],
    }
    if study:
        out["studyOID"] = study
    return out


def write_dataset_json(frame: pd.DataFrame, path: str | Path, name: str, label: str,
                       labels: dict[str, str] | None = None, created: datetime | None = None,
                       study: str | None = None) -> None:
    """Write :func:`dataset_json` to ``path`` (UTF-8, one line per record)."""
    body = dataset_json(frame, name, label, labels, created, study)
    rows = body.pop("rows")
    head = json.dumps(body, ensure_ascii=False)
    lines = ",\n".join(json.dumps(row, ensure_ascii=False, allow_nan=False) for row in rows)
    Path(path).write_text(head[:-1] + ', "rows": [\n' + lines + "\n]}\n", encoding="utf-8")


def read_dataset_json(path: str | Path) -> pd.DataFrame:
    """A frame from a Dataset-JSON v1.1 file: dates as datetime64, integers as Int64, strings as text (null: None)."""
    body = json.loads(Path(path).read_text(encoding="utf-8"))
    names = [c["name"] for c in body["columns"]]
    frame = pd.DataFrame(body.get("rows", []), columns=names, dtype=object)
    for column in body["columns"]:
        values = frame[column["name"]]
        kind = column["dataType"]
        if kind in ("date", "datetime"):
            frame[column["name"]] = pd.to_datetime(values)
        elif kind == "integer":
            frame[column["name"]] = pd.array(values.tolist(), dtype="Int64")
        elif kind in ("double", "float", "decimal"):
            frame[column["name"]] = pd.to_numeric(values).astype("float64")
        elif kind == "boolean":
            frame[column["name"]] = values.astype("boolean")
    return frame
