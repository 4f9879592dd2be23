"""ISO 8601 dates as SDTM gives them (``--DTC``), and the conservative imputation of partial AE onset dates.

SDTM dates may be complete ("2021-03-15", "2021-03-15T10:20"), partial ("2021-03", "2021", "2021---15") or
missing. Analysis works on whole days, so a time part is dropped. A partial onset date is completed by the rule
below (the ADaM "highest imputation" convention, conservative for safety: an AE that *could* have started on or
after the infusion is treated as if it did), and every imputation is flagged:

=============  ==================================================================  ======
given          imputed onset                                                        flag
=============  ==================================================================  ======
YYYY-MM-DD     as given                                                             ""
YYYY-MM        the 1st of the month; the reference (infusion) date if it falls      "D"
               in that same month and year
YYYY           1 January; the reference date if it falls in that same year          "M"
missing        the reference date (the AE is counted as treatment-emergent)          "Y"
=============  ==================================================================  ======

An imputed date is never later than a complete end date of the same record (an AE that ended before the
infusion stays before it). A malformed value ("2021-13-45", "unknown") is treated as missing and the reason is kept.

Usable dates lie between :data:`FIRST_DAY` (1900-01-01) and :data:`LAST_DAY` (2189-12-31): any two of them are less
than 292 years apart, the most a difference of two datetime64[ns] values can hold, so a typing error such as
``1724-03-10`` can never stop a stage with an overflow. A date outside (complete, partial or already a datetime, as
from Parquet or SAS) is read like a malformed one: no date, with the reason "outside the usable range", and the
row is kept.

Every module reads dates through this one: :func:`to_date` / :func:`to_datetime` (a complete date at the start of
the text, each distinct text parsed once: the findings hot path), :func:`parse_dtc` (the parts and precision of
a possibly partial date), :func:`dtc_bounds` (earliest and latest day a partial date can mean: data cut-off,
AE windows) and :func:`as_day` (one configured date such as the data cut-off).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd

from ctcae_engine.read.columns import clean, factorize, shorten

# a time after the date: "T" as ISO 8601 has it, or a blank (read the same way by to_date and to_datetime)
_ISO = re.compile(r"^(?P<year>\d{4})(?:-(?P<month>\d{2}|-)(?:-(?P<day>\d{2}|-))?)?(?:[T ][0-9:.+\-Z]*)?$")
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2189, 12, 31)
"""The usable dates (see the module docstring): differences of any two fit in datetime64[ns]."""
_FIRST, _END = pd.Timestamp(FIRST_DAY), pd.Timestamp(LAST_DAY) + pd.Timedelta(days=1)
OUTSIDE = f"outside the usable range {FIRST_DAY}..{LAST_DAY}"
"""The words of the reason :func:`parse_dtc` gives a date outside the usable range."""


def _day(year: int, month: int, day: int) -> date | None:
    """The date, or None when there is no such day (or it is outside the usable range)."""
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return found if FIRST_DAY <= found <= LAST_DAY else None


def _usable(values: pd.DatetimeIndex) -> np.ndarray:
    """datetime64[ns] of ``values`` (any unit, no zone), NaT where outside the usable range."""
    inside = (values >= _FIRST) & (values < _END)
    return values.where(inside).to_numpy(dtype="datetime64[ns]")


def _dtc_parts(text: str | None) -> tuple[int | None, int | None, int | None, str, str]:
    """``(year, month, day, precision, reason)`` of one stripped ISO 8601 text (None = missing)."""
    if text is None:
        return None, None, None, "missing", ""
    match = _ISO.match(text)
    if match is not None:
        year, month, day = (int(v) if v and v != "-" else None for v in match.group("year", "month", "day"))
        if month is None:
            day = None  # "2021---15": a day without a month is not usable
        if not FIRST_DAY.year <= year <= LAST_DAY.year or (day is not None and month is not None
                                                            and 1 <= month <= 12 and _real(year, month, day)
                                                            and _day(year, month, day) is None):
            return None, None, None, "invalid", f"date '{shorten(text)}' {OUTSIDE}"
        if month is None or 1 <= month <= 12:
            if day is None:
                return year, month, None, "year" if month is None else "month", ""
            if _day(year, month, day) is not None:
                return year, month, day, "day", ""
    return None, None, None, "invalid", f"malformed date '{shorten(text)}'"


def _real(year: int, month: int, day: int) -> bool:
    """Whether the calendar has that day (whatever the usable range)."""
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def parse_dtc(values: pd.Series) -> pd.DataFrame:
    """Split ISO 8601 date strings into parts.

    Returns a new frame (same index) with ``date`` (datetime64, NaT unless the day is known), ``year``,
    ``month``, ``day`` (Int64, NA when not given), ``precision`` ("day", "month", "year", "missing", "invalid")
    and ``reason`` (empty unless invalid). Each distinct string is parsed once (dates repeat a lot in findings).
    """
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    parts = [_dtc_parts(clean(u)) for u in uniques] + [_dtc_parts(None)]  # code -1 (missing) takes the last
    year, month, day, precision, reason = (list(column) for column in zip(*parts, strict=True))
    days = [np.datetime64(_day(y, m, d), "ns") if d is not None else np.datetime64("NaT", "ns")
            for y, m, d in zip(year, month, day, strict=True)]
    return pd.DataFrame(
        {
            "date": np.array(days, dtype="datetime64[ns]")[codes],
            "year": pd.array(year, dtype="Int64")[codes],
            "month": pd.array(month, dtype="Int64")[codes],
            "day": pd.array(day, dtype="Int64")[codes],
            "precision": np.array(precision, dtype=object)[codes],
            "reason": np.array(reason, dtype=object)[codes],
        },
        index=values.index,
    )


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# ISO 8601 as SDTM allows it: the time may stop at the hour ("T10"); a space instead of "T" is read too
_DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?)?")
_ZONE = re.compile(r"(Z|[+-]\d{2}(:?\d{2})?)")  # a UTC offset after the time: dropped (the clock time as written)


def _per_distinct(values: pd.Series, text_of: Callable[[str | None], str | None], fmt: str) -> pd.Series:
    """Parse each distinct cell once: ``text_of`` turns a cleaned cell (str or None) into the text to parse with
    ``fmt`` (None -> NaT); the parsed values are mapped back to every row."""
    codes, uniques = factorize(values)
    texts = [text_of(clean(u)) for u in uniques]
    parsed = pd.to_datetime(pd.Series(texts, dtype=object), format=fmt, errors="coerce")
    out = np.append(_usable(pd.DatetimeIndex(parsed)), np.datetime64("NaT"))[codes]  # code -1 -> NaT
    return pd.Series(out, index=values.index, name=values.name, copy=False)


def _naive(values: pd.Series) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(values).tz_localize(None)


def to_date(values: pd.Series, *, sas_days: bool = False) -> pd.Series:
    """Dates (datetime64[ns], day resolution, same index) from ISO 8601 text: the complete date at the start of
    the text, whatever follows it (a time, a zone); partial, missing or malformed values become NaT.

    datetime64 input is normalised to the day (a time zone dropped). Numbers are SAS dates (days since
    1960-01-01, as ADaM *DT variables from XPT) when ``sas_days``, else NaT.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        days = _usable(_naive(values).normalize())
        return pd.Series(days, index=values.index, name=values.name, copy=False)
    if sas_days and pd.api.types.is_numeric_dtype(values.dtype):
        days = pd.to_numeric(values, errors="coerce").astype("float64")
        days = days.where(days.abs() < 1e6)  # beyond any usable date (and beyond what datetime64 holds)
        parsed = pd.to_datetime(days, unit="D", origin="1960-01-01", errors="coerce").dt.normalize()
        return pd.Series(_usable(pd.DatetimeIndex(parsed)), index=values.index, name=values.name, copy=False)
    return _per_distinct(values, lambda t: t[:10] if t is not None and _DATE.match(t) else None, "%Y-%m-%d")


def to_datetime(values: pd.Series, *, exact: bool = False) -> pd.Series:
    """Date and time (datetime64[ns], same index) from ISO 8601 text ``YYYY-MM-DD[THH[:MM[:SS[.f]]]]``; a date
    alone is midnight; partial, missing or malformed values become NaT. By default anything after the part read
    is ignored (a zone, text); ``exact``: the whole text must be such a date or date-time (a UTC offset after the
    time, ``Z`` or ``+02:00``, allowed and dropped: the clock time as written), else NaT.
    datetime64 input is kept (a time zone dropped).
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.Series(_usable(_naive(values)), index=values.index, name=values.name, copy=False)

    def text_of(cell: str | None) -> str | None:
        match = _DATE_TIME.match(cell or "")
        if match is None or (exact and match.end() != len(cell) and not (
                match.group(2) is not None and _ZONE.fullmatch(cell[match.end():]))):
            return None
        day, hour, minute, second, fraction = match.groups()
        return f"{day}T{hour or '00'}:{minute or '00'}:{second or '00'}{fraction or ''}"

    return _per_distinct(values, text_of, "ISO8601")


def _span(text: str | None) -> tuple[np.datetime64, np.datetime64]:
    """First and last day of a partial date ("2021-03": the month, "2021": the year); NaT for anything else."""
    year, month, _, precision, _ = _dtc_parts(text)
    first = last = None
    if precision == "month":
        first, last = _day(year, month, 1), _day(year, month, calendar.monthrange(year, month)[1])
    elif precision == "year":
        first, last = _day(year, 1, 1), _day(year, 12, 31)
    if first is None or last is None:  # also a span reaching outside the datetime64[ns] days
        return np.datetime64("NaT", "ns"), np.datetime64("NaT", "ns")
    return np.datetime64(first, "ns"), np.datetime64(last, "ns")


def dtc_bounds(values: pd.Series) -> pd.DataFrame:
    """The earliest and latest day an ISO 8601 date can mean (new frame, same index, datetime64[ns]): a complete
    date (see :func:`to_date`) is both; a partial one spans its month ("2021-03": 1st to 31st) or its year
    ("2021", "2021---15": 1 January to 31 December); missing or malformed: NaT."""
    full = to_date(values).to_numpy()
    earliest, latest = full.copy(), full.copy()
    partial = np.isnat(full) & values.notna().to_numpy()
    if partial.any() and not pd.api.types.is_datetime64_any_dtype(values.dtype):
        codes, uniques = factorize(values[partial])
        spans = np.array([_span(clean(u)) for u in uniques] + [_span(None)], dtype="datetime64[ns]").reshape(-1, 2)
        earliest[partial], latest[partial] = spans[codes, 0], spans[codes, 1]
    return pd.DataFrame({"earliest": earliest, "latest": latest}, index=values.index)


def as_day(value: date | datetime | str | None, what: str = "date") -> date | None:
    """One date given in a configuration or on the command line (a date, a datetime, or text starting with
    YYYY-MM-DD; None stays None). ``what`` names it in the error raised for anything else."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError as exc:
        raise ValueError(f"{what} must be an ISO 8601 date YYYY-MM-DD, got {value!r}") from exc


def impute_start_date(
    dtc: pd.Series, reference: pd.Series, end: pd.Series | None = None
) -> pd.DataFrame:
    """Impute partial start dates conservatively (see the module docstring) against a per-row reference date.

    ``reference`` is a datetime Series aligned on ``dtc`` (e.g. each participant's infusion date; NaT when
    unknown). ``end`` (optional) holds the record's end dates as ISO strings. Returns a new frame with
    ``date``, ``imputed`` ("", "D", "M", "Y") and ``reason``.
    """
    parts = parse_dtc(dtc)
    ref = pd.to_datetime(reference).dt.normalize().reindex(dtc.index)
    first_of_month = pd.to_datetime(
        pd.DataFrame({"year": parts["year"], "month": parts["month"], "day": 1}).astype("float"), errors="coerce"
    )
    first_of_year = pd.to_datetime(
        pd.DataFrame({"year": parts["year"], "month": 1, "day": 1}).astype("float"), errors="coerce"
    )
    same_month = (ref.dt.year == parts["year"]) & (ref.dt.month == parts["month"])
    same_year = ref.dt.year == parts["year"]
    prec = parts["precision"]
    date = parts["date"].copy()
    is_month = prec.eq("month")
    date[is_month] = first_of_month.where(~same_month.fillna(False), ref)[is_month]
    is_year = prec.eq("year")
    date[is_year] = first_of_year.where(~same_year.fillna(False), ref)[is_year]
    absent = prec.isin(["missing", "invalid"])
    date[absent] = ref[absent]
    if end is not None:
        end_date = to_date(end.reindex(dtc.index))
        capped = ~prec.eq("day") & end_date.notna() & (date > end_date)
        date[capped] = end_date[capped]
    flag = prec.map({"day": "", "month": "D", "year": "M", "missing": "Y", "invalid": "Y"})
    reason = parts["reason"].copy()
    no_ref = absent & ref.isna()
    reason[no_ref & prec.eq("missing")] = "start date missing and no reference date to impute from"
    reason[no_ref & prec.eq("invalid")] = reason[no_ref & prec.eq("invalid")] + "; no reference date to impute from"
    flag[absent & ref.isna()] = ""
    return pd.DataFrame({"date": pd.to_datetime(date), "imputed": flag.astype(str), "reason": reason}, index=dtc.index)
