"""Reading columns of SDTM / ADaM frames: which column of several names is present, a column as text, and the
factorization that lets the rest of the engine work once per distinct value instead of once per row.

Every module reads its input columns through these helpers, so "blank", "missing" and "absent" mean the same
everywhere:

- :func:`pick` the first of several names that is a column (exact name, then its upper-case form);
- :func:`text` a column as stripped text, blank -> missing (optionally upper case), all missing when absent;
- :func:`raw` a column as text exactly as given (for listings that show the data as the sponsor wrote it);
- :func:`as_text` the same for a Series already in hand;
- :func:`join_texts` row-wise join of reason / note columns, skipping empty ones;
- :func:`clean` one cell as stripped text or None; :func:`factorize` codes per distinct value (fast on object
  columns whose equal texts share one Python object, as CSV readers and pyarrow produce);
- :func:`unique_columns` the one rule for column names that repeat (at reading and in the public graders);
- :func:`shorten` a value quoted in a message or a reason, cut to a readable length.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd


def pick(frame: pd.DataFrame, *names: str) -> str | None:
    """The first of ``names`` that is a column of ``frame`` (exact, then upper-case), or None."""
    for name in names:
        for candidate in (name, name.upper()):
            if candidate in frame.columns:
                return candidate
    return None


def first(frame: pd.DataFrame, *names: str) -> pd.Series | None:
    """The first present column of ``names`` (see :func:`pick`) as it is, or None when none is present."""
    column = pick(frame, *names)
    return None if column is None else frame[column]


def as_text(values: pd.Series, *, upper: bool = False, blank_is_missing: bool = True) -> pd.Series:
    """``values`` as stripped text (string dtype, same index); blank -> missing unless ``blank_is_missing`` is
    False (then a blank cell stays ""); upper case when ``upper``."""
    out = values.astype("string").str.strip()
    if upper:
        out = out.str.upper()
    return out.mask(out == "") if blank_is_missing else out


def text(frame: pd.DataFrame, *names: str, upper: bool = False) -> pd.Series:
    """The first present column of ``names`` as stripped text, blank -> missing (upper case when ``upper``);
    all missing when no name is a column."""
    column = pick(frame, *names)
    if column is None:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return as_text(frame[column], upper=upper)


def raw(frame: pd.DataFrame, *names: str) -> pd.Series:
    """The first present column of ``names`` as text as given (not stripped); all missing when absent."""
    column = pick(frame, *names)
    if column is None:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame[column].astype("string")


def join_texts(*parts: pd.Series, sep: str = "; ") -> pd.Series:
    """Join aligned text Series row-wise with ``sep``, skipping empty or missing ones (texts kept as they are)."""
    joined = parts[0].fillna("").astype(str)
    for more in parts[1:]:
        more = more.fillna("").astype(str)
        joined = joined.where(more.eq(""), joined.where(joined.eq(""), joined + sep) + more)
    return joined


def clean(value: object) -> str | None:
    """One cell as stripped text; None for a missing or blank cell."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    stripped = str(value).strip()
    return stripped or None


def factorize(series: pd.Series) -> tuple[np.ndarray, np.ndarray | pd.Index | pd.api.extensions.ExtensionArray]:
    """``pd.factorize(series, use_na_sentinel=True)`` (codes in order of first appearance, -1 = missing), faster
    on plain object columns: rows holding the very same Python object (what CSV readers, pyarrow and replicated
    frames produce for repeated text) are grouped by the object's address, an integer hash, and only one row per
    distinct object is hashed by value. Equal texts held by distinct objects still get one code."""
    if series.dtype != object or len(series) < 4096:  # numbers, small inputs, extension arrays (their own codes)
        return pd.factorize(series, use_na_sentinel=True)
    values = np.ascontiguousarray(series.to_numpy())
    # the object pointers, read (not dereferenced) while ``values`` holds the objects
    address = np.ctypeslib.as_array((ctypes.c_ssize_t * len(values)).from_address(values.ctypes.data))
    sample = address[:: len(values) // 2048]
    if len(pd.unique(sample)) > len(sample) // 4:  # mostly distinct objects (texts built row by row): hash values
        return pd.factorize(values, use_na_sentinel=True)
    by_object, objects = pd.factorize(address)
    runs = np.flatnonzero(np.r_[True, by_object[1:] != by_object[:-1]])  # each object starts at least one run
    one_row = np.empty(len(objects), dtype=np.intp)
    one_row[by_object[runs]] = runs  # any row holding the object will do
    by_value, uniques = pd.factorize(values[one_row], use_na_sentinel=True)
    return by_value[by_object], uniques


class DuplicateColumnsError(ValueError):
    """Two columns whose names are one name once blanks and case are ignored, holding different values."""


def unique_columns(frame: pd.DataFrame, where: str = "") -> tuple[pd.DataFrame, list[str]]:
    """The one rule for repeated column names: names are compared stripped and upper-cased (``AETERM``,
    ``aeterm`` and ``AETERM `` are one name). When the columns of one name hold the same values in every row (a
    missing value equals a missing value) the first is kept and a note says so; when they differ,
    :class:`DuplicateColumnsError` names them (the engine cannot know which one the sponsor meant).

    Returns ``(frame, notes)``: ``frame`` itself when no name repeats, else a new frame without the repeats.
    ``where`` (a file or function name) starts each message.
    """
    keys = [str(c).strip().upper() for c in frame.columns]
    if len(set(keys)) == len(keys):
        return frame, []
    prefix = f"{where}: " if where else ""
    positions: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        positions.setdefault(key, []).append(i)
    notes, drop = [], []
    for key, where_found in positions.items():
        if len(where_found) == 1:
            continue
        given = [str(frame.columns[i]) for i in where_found]
        names = (f"column {given[0]!r} is given {len(given)} times" if len(set(given)) == 1 else
                 f"columns {' and '.join(map(repr, given))} are one name ({key}) once blanks and case are ignored")
        first_values = frame.iloc[:, where_found[0]].astype("string")
        for i in where_found[1:]:
            other = frame.iloc[:, i].astype("string")
            differ = (first_values.ne(other).fillna(True) & ~(first_values.isna() & other.isna())).to_numpy()
            if differ.any():
                row = int(np.flatnonzero(differ)[0]) + 1
                raise DuplicateColumnsError(
                    f"{prefix}{names}, with different values in {int(differ.sum())} rows (first: data row {row}): "
                    "the engine cannot tell which one is meant; keep one of them")
        notes.append(f"{prefix}{names}, with the same values in every row: the first is kept")
        drop += where_found[1:]
    dropped = set(drop)
    kept = [i for i in range(len(keys)) if i not in dropped]
    return frame.iloc[:, kept].copy(), notes


def shorten(value: object, limit: int = 60) -> str:
    """``value`` as text for a message or a reason: at most ``limit`` characters, a cut one ending in "..." with
    the full length said (a 100,000-character cell must not be copied into every row's reason)."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"
