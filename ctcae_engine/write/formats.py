"""One door for every dataset format: the file suffix chooses Parquet, SAS XPT v5, Dataset-JSON v1.1 or CSV."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

FORMATS = (".parquet", ".xpt", ".json", ".csv")


def write_dataset(frame: pd.DataFrame, path: str | Path, name: str, label: str = "",
                  labels: dict[str, str] | None = None, created: datetime | None = None,
                  study: str | None = None) -> dict[str, int]:
    """Write ``frame`` as dataset ``name`` in the format of ``path``'s suffix (:data:`FORMATS`); returns the text
    values cut to fit (XPT only: {column: count}). CSV is spreadsheet-safe (see report.spreadsheet)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame.reset_index(drop=True).to_parquet(path, index=False)
    elif suffix == ".xpt":
        from ctcae_engine.write.xpt import write_xpt

        return write_xpt(frame, path, name, label, labels, created)
    elif suffix == ".json":
        from ctcae_engine.write.dataset_json import write_dataset_json

        write_dataset_json(frame, path, name, label, labels, created, study)
    elif suffix == ".csv":
        from ctcae_engine.write.spreadsheet import write_csv

        write_csv(frame, path)
    else:
        raise ValueError(f"{path}: write one of {', '.join(FORMATS)}")
    return {}
