"""Read SDTM / ADaM domains from CSV, Parquet or SAS XPT into DataFrames, values untouched.

CSV is read as text so a result such as "<0.5" or a partial date "2021-03" reaches the engine as written;
empty cells become <NA>. SAS XPT is read with pyreadstat, so variables with a SAS date or datetime format
(ADaM ADT, TRTSDT, TRTSDTM...) arrive as dates, not as day or second counts. Numeric conversion happens
later, where each failure can be given a reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyreadstat

SUFFIXES = (".csv", ".parquet", ".xpt")


def read_domain(path: str | Path) -> pd.DataFrame:
    """Read one domain file (.csv, .parquet, .xpt) into a new DataFrame with upper-case column names."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frame = frame.replace("", pd.NA)
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".xpt":
        frame, _ = pyreadstat.read_xport(str(path))  # SAS DATE/DATETIME formats become dates, not day counts
        text = frame.select_dtypes(include="object").columns
        frame[text] = frame[text].replace("", pd.NA)
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(SUFFIXES)}")
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    return frame


def merge_supp(parent: pd.DataFrame, supp: pd.DataFrame) -> pd.DataFrame:
    """Merge a SUPP-- domain into its parent: each QNAM becomes a column, matched on USUBJID + IDVAR/IDVARVAL.

    Parent rows without a supplemental value get <NA>; the parent's rows and order are kept.
    """
    out = parent.copy()
    if supp.empty:
        return out
    for (idvar, qnam), rows in supp.groupby([supp["IDVAR"].fillna(""), "QNAM"], sort=True):
        if qnam in out.columns:
            raise ValueError(f"supplemental qualifier {qnam} clashes with a column of the parent domain")
        values = rows.drop_duplicates(["USUBJID", "IDVARVAL"], keep="last")
        if idvar:
            key = out[idvar].astype("string").str.strip()
            lookup = values.set_index(["USUBJID", values["IDVARVAL"].astype("string").str.strip()])["QVAL"]
            out[qnam] = pd.MultiIndex.from_arrays([out["USUBJID"], key]).map(lookup.to_dict()).astype("string")
        else:
            out[qnam] = out["USUBJID"].map(values.set_index("USUBJID")["QVAL"]).astype("string")
    return out


def read_study(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read every domain file in a folder, keyed by lower-case domain name (file stem), e.g. {"dm": ..., "lb": ...}.

    A ``suppXX`` file is merged into ``XX`` (see :func:`merge_supp`) and kept under its own key too.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"study folder not found: {folder}")
    domains: dict[str, pd.DataFrame] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in SUFFIXES:
            domains[path.stem.lower()] = read_domain(path)
    for name in [n for n in domains if n.startswith("supp") and n[4:] in domains]:
        domains[name[4:]] = merge_supp(domains[name[4:]], domains[name])
    return domains


def file_hashes(folder: str | Path) -> dict[str, str]:
    """SHA-256 of every domain file in a folder (for the report's provenance section)."""
    folder = Path(folder)
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in SUFFIXES
    }
