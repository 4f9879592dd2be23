"""Read SDTM / ADaM domains from CSV, Parquet, SAS XPT or sas7bdat into DataFrames, values untouched.

CSV is read as text so a result such as "<0.5" or a partial date "2021-03" reaches the engine as written;
empty cells become <NA>, and so does empty text in Parquet and SAS files. SAS XPT and sas7bdat are read with
pyreadstat, so variables with a SAS date or datetime format (ADaM ADT, TRTSDT, TRTSDTM...) arrive as dates, not as
day or second counts. Numeric conversion happens later, where each failure can be given a reason.

Column names are stripped and upper-cased; names that then repeat follow one rule
(:func:`ctcae_engine.read.columns.unique_columns`: same values, the first is kept with a note; different values, an
error naming them). A CSV header is read as written (pandas would rename a repeated ``AETERM`` to ``AETERM.1``).
A 0-byte file has no columns and no rows: it is read as an empty frame, and :func:`read_study` leaves its domain
out (as if the file were absent; the input checks warn, or stop the run for a domain that must be there).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyreadstat

from ctcae_engine.read.columns import shorten, text, unique_columns

SUFFIXES = (".csv", ".parquet", ".xpt", ".sas7bdat")
ADAM_TO_SDTM = {"adsl": "dm", "adae": "ae", "adlb": "lb", "advs": "vs", "adeg": "eg", "adrs": "rs", "adpc": "pc"}
"""An ADaM dataset stands in for its SDTM source when the folder has no SDTM file of that domain; every
stage reads both shapes (e.g. ADSL TRTSDT / SAFFL, ADAE ASTDT / ATOXGR, ADLB PARAMCD / AVAL, ADRS AVALC / ADT)."""


def _read_file(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig").replace("", pd.NA)
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
        if len(header) == len(frame.columns):  # the names as written: a repeated name stays repeated
            frame.columns = header
        return frame
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix == ".xpt":
        frame, _ = pyreadstat.read_xport(str(path))  # SAS DATE/DATETIME formats become dates, not day counts
    elif suffix == ".sas7bdat":
        frame, _ = pyreadstat.read_sas7bdat(str(path))
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(SUFFIXES)}")
    text = frame.select_dtypes(include=["object", "string"]).columns
    frame[text] = frame[text].replace("", pd.NA)  # blank text is missing, as in CSV
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file with blank text as missing, as in CSV: the blanks are nulled by Arrow before the conversion
    (one vectorised pass per text column instead of a pandas replace over Python objects)."""
    table = pq.read_table(path)
    nulled = set()
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = table.column(i)
            table = table.set_column(i, field, pc.if_else(pc.equal(column, ""), pa.scalar(None, field.type), column))
            nulled.add(field.name)
    frame = table.to_pandas()
    rest = [c for c in frame.select_dtypes(include=["object", "string"]).columns if c not in nulled]
    if rest:  # text Arrow did not hold as plain strings (e.g. mixed objects)
        frame[rest] = frame[rest].replace("", pd.NA)
    return frame


def read_domain(path: str | Path, notes: list[str] | None = None) -> pd.DataFrame:
    """Read one domain file (.csv, .parquet, .xpt, .sas7bdat) or a Parquet dataset folder (its files in name order,
    as the Dask engine reads them) into a new DataFrame with stripped upper-case column names; a 0-byte file gives
    an empty frame without columns.

    Repeated names (see the module docstring): ``notes``, when given, receives a line per repeat dropped; columns of
    one name with different values raise :class:`ctcae_engine.read.columns.DuplicateColumnsError`.
    """
    path = Path(path)
    if path.is_dir():
        frame = pd.concat([_read_file(f) for f in parquet_files(path)], ignore_index=True)
    elif path.stat().st_size == 0:
        return pd.DataFrame()
    else:
        frame = _read_file(path)
    frame, found = unique_columns(frame, path.name)
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    if notes is not None:
        notes.extend(found)
    return frame


def _key(values: pd.Series) -> pd.Series:
    """A join key as text: stripped, a numeric ``--SEQ`` read as 1.0 (XPT, Parquet) written as "1"."""
    return values.astype("string").str.strip().str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)


def merge_supp(parent: pd.DataFrame, supp: pd.DataFrame) -> pd.DataFrame:
    """Merge a SUPP-- domain into its parent: each QNAM becomes a column, matched on USUBJID + IDVAR/IDVARVAL.

    Keys are compared as stripped text with a trailing ".0" dropped (a numeric AESEQ 1.0 matches IDVARVAL "1").
    Parent rows without a supplemental value get <NA>; the parent's rows and order are kept. Supplemental rows
    that match no parent row are listed by :func:`supp_unmatched`.
    """
    out = parent.copy()
    if supp.empty:
        return out
    subject = _key(out["USUBJID"])
    qnams = text(supp, "QNAM", upper=True)  # QNAM "aerelld" is the qualifier AERELLD
    idvars = text(supp, "IDVAR", upper=True).fillna("")
    for qnam in sorted(qnams.dropna().unique()):
        if qnam in parent.columns:
            raise ValueError(f"supplemental qualifier {qnam} clashes with a column of the parent domain")
        merged = pd.Series(pd.NA, index=out.index, dtype="string")
        for idvar in sorted(idvars[qnams.eq(qnam).fillna(False)].unique()):  # one QNAM may be keyed by several IDVARs
            if idvar and idvar not in out.columns:
                continue  # listed by supp_unmatched
            rows = supp[qnams.eq(qnam).fillna(False) & idvars.eq(idvar)]
            values = rows.assign(USUBJID=_key(rows["USUBJID"]), IDVARVAL=_key(rows["IDVARVAL"]))
            values = values.drop_duplicates(["USUBJID", "IDVARVAL"], keep="last")
            if idvar:
                lookup = values.set_index(["USUBJID", "IDVARVAL"])["QVAL"].to_dict()
                found = pd.MultiIndex.from_arrays([subject, _key(out[idvar])]).map(lookup)
            else:
                found = subject.map(values.set_index("USUBJID")["QVAL"])
            merged = merged.fillna(pd.Series(found, index=out.index, dtype="string"))
        out[qnam] = merged
    return out


def supp_unmatched(parent: pd.DataFrame, supp: pd.DataFrame) -> pd.DataFrame:
    """The rows of a SUPP-- domain that match no parent row (keys compared as in :func:`merge_supp`), with a
    ``reason``; an empty frame when every row found its parent record."""
    if supp.empty:
        return supp.assign(reason=pd.Series(dtype="string"))
    subject, idvar = _key(supp["USUBJID"]), text(supp, "IDVAR", upper=True).fillna("")
    value = _key(supp["IDVARVAL"]).fillna("") if "IDVARVAL" in supp.columns else pd.Series("", index=supp.index)
    reason = pd.Series(pd.NA, index=supp.index, dtype="string")
    people = set(_key(parent["USUBJID"]).dropna())
    reason = reason.mask(~subject.isin(people).fillna(False), "USUBJID not in the parent domain")
    for name in idvar[idvar.ne("")].unique():
        rows = idvar.eq(name) & reason.isna()
        if name not in parent.columns:
            reason = reason.mask(rows, f"IDVAR {name} is not a column of the parent domain")
            continue
        keys = pd.MultiIndex.from_arrays([_key(parent["USUBJID"]), _key(parent[name])])
        found = pd.MultiIndex.from_arrays([subject, value]).isin(keys)
        reason = reason.mask(rows & ~found, f"no parent record with {name} = " + value.map(shorten))
    return supp[reason.notna()].assign(reason=reason[reason.notna()])


def parquet_files(folder: str | Path) -> list[Path]:
    """The files of a Parquet dataset folder, in name order (the row order both engines read them in); hidden
    files and Spark/Hive markers (``_SUCCESS``, ``_metadata``) are not data. Raises when there is none."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*.parquet") if p.is_file()
                   and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts))
    if not files:
        raise FileNotFoundError(f"no .parquet files in {folder}")
    return files


def domain_files(folder: str | Path) -> list[Path]:
    """The files of a study folder the engine reads: regular files (or links to one) with a supported suffix, not
    hidden, sorted by name. Sub-folders and broken links are not domain files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"study folder not found: {folder}")
    return [p for p in sorted(folder.iterdir())
            if p.suffix.lower() in SUFFIXES and not p.name.startswith(".") and p.is_file()]


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_study(folder: str | Path, frames: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """Read every domain file in a folder, keyed by lower-case domain name (file stem), e.g. {"dm": ..., "lb": ...}.

    ``frames``: the files already read (stem -> DataFrame, e.g. by the input checks), used instead of reading again.
    A 0-byte file (no columns) stands for no domain: it is left out.
    A ``suppXX`` file is merged into ``XX`` (or, without it, ``adXX``; see :func:`merge_supp`) and kept under its
    own key too. Supplemental rows that match no parent record are listed under ``"supp_unmatched"`` (columns of
    SUPP--, ``domain`` and ``reason``), present only when there is at least one.
    """
    if frames is not None:
        domains = dict(frames)  # the frames are not changed: merging SUPP-- makes a new parent frame
    else:
        domains = {path.stem.lower(): read_domain(path) for path in domain_files(folder)}
    domains = {name: frame for name, frame in domains.items() if len(frame.columns)}  # a 0-byte file: no domain
    unmatched = []
    for name in [n for n in domains if n.startswith("supp")]:
        supp = domains[name]
        parent = next((p for p in (name[4:], f"ad{name[4:]}") if p in domains), None)  # SDTM, else its ADaM
        if parent is None:
            unmatched.append(supp.assign(domain=name.upper(), reason=f"no {name[4:].upper()} domain in the folder"))
            continue
        domains[parent] = merge_supp(domains[parent], supp)
        lost = supp_unmatched(domains[parent], supp)
        if len(lost):
            unmatched.append(lost.assign(domain=name.upper()))
    if unmatched:
        domains["supp_unmatched"] = pd.concat(unmatched, ignore_index=True)
    return domains


def file_hashes(folder: str | Path) -> dict[str, str]:
    """SHA-256 of every domain file in a folder (for the report's provenance section)."""
    return {path.name: sha256_file(path) for path in domain_files(folder)}


def as_sdtm(domains: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A new dict where each ADaM dataset stands under its SDTM domain's name when that domain is absent."""
    out = dict(domains)
    for adam, sdtm in ADAM_TO_SDTM.items():
        if adam in out and sdtm not in out:
            out[sdtm] = out.pop(adam)
    return out


def file_table(folder: Path, domains: dict[str, pd.DataFrame], hashes: dict[str, str] | None = None) -> pd.DataFrame:
    """The input files of a study folder: name, rows read (0 for a 0-byte file, NA for a file that is not a domain)
    and sha256 (``hashes`` as already computed, else hashed here)."""
    hashes = file_hashes(folder) if hashes is None else hashes
    stems = [Path(name).stem.lower() for name in hashes]
    empty = {name for name in hashes if (folder / name).is_file() and (folder / name).stat().st_size == 0}
    return pd.DataFrame({"name": list(hashes),
                         "rows": [len(domains[stem]) if stem in domains else 0 if name in empty else pd.NA
                                  for name, stem in zip(hashes, stems, strict=True)],
                         "sha256": list(hashes.values())})
