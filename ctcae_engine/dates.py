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

Every module reads dates through this one: :func:`to_date` / :func:`to_datetime` (a complete date at the start of
the text, each distinct text parsed once: the findings hot path), :func:`parse_dtc` (the parts and precision of
a possibly partial date), :func:`dtc_bounds` (earliest and latest day a partial date can mean: data cut-off,
AE windows) and :func:`as_day` (one configured date such as the data cut-off).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd

from ctcae_engine.columns import clean, factorize

_ISO = r"^(?P<year>\d{4})(?:-(?P<month>\d{2}|-)(?:-(?P<day>\d{2}|-))?)?(?:T[0-9:.+\-Z]*)?$"


def parse_dtc(values: pd.Series) -> pd.DataFrame:
    """Split ISO 8601 date strings into parts.

    Returns a new frame (same index) with ``date`` (datetime64, NaT unless the day is known), ``year``,
    ``month``, ``day`` (Int64, NA when not given), ``precision`` ("day", "month", "year", "missing", "invalid")
    and ``reason`` (empty unless invalid). Each distinct string is parsed once (dates repeat a lot in findings).
    """
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    if len(uniques) < len(values):
        parsed = _parse_unique(pd.Series(uniques, dtype="string"))
        missing_row = _parse_unique(pd.Series([pd.NA], dtype="string"))
        table = pd.concat([parsed, missing_row], ignore_index=True)
        return table.take(codes).set_axis(values.index)  # code -1 (missing) takes the last row
    return _parse_unique(values).set_axis(values.index)


def _parse_unique(values: pd.Series) -> pd.DataFrame:
    text = values.astype("string").str.strip()
    text = text.mask(text.eq(""))
    parts = text.str.extract(_ISO)
    year = pd.to_numeric(parts["year"], errors="coerce").astype("Int64")
    month = pd.to_numeric(parts["month"], errors="coerce").astype("Int64")
    day = pd.to_numeric(parts["day"], errors="coerce").astype("Int64")
    month_ok = month.isna() | month.between(1, 12)
    day = day.where(month.notna())  # "2021---15": a day without a month is not usable
    full = pd.to_datetime(
        pd.DataFrame({"year": year, "month": month, "day": day}).where(day.notna()).astype("float"),
        errors="coerce",
    )
    missing = text.isna()
    invalid = ~missing & (year.isna() | ~month_ok.fillna(False) | (day.notna() & full.isna()))
    precision = pd.Series("year", index=values.index, dtype="object")
    precision[month.notna()] = "month"
    precision[day.notna()] = "day"
    precision[missing] = "missing"
    precision[invalid] = "invalid"
    reason = pd.Series("", index=values.index, dtype="object")
    reason[invalid] = "malformed date '" + text[invalid].astype(str) + "'"
    keep = ~invalid
    return pd.DataFrame(
        {
            "date": full.where(keep & day.notna()),
            "year": year.where(keep),
            "month": month.where(keep),
            "day": day.where(keep),
            "precision": precision,
            "reason": reason,
        },
        index=values.index,
    )


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# ISO 8601 as SDTM allows it: the time may stop at the hour ("T10"); a space instead of "T" is read too
_DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?)?")


def _per_distinct(values: pd.Series, text_of: Callable[[str | None], str | None], fmt: str) -> pd.Series:
    """Parse each distinct cell once: ``text_of`` turns a cleaned cell (str or None) into the text to parse with
    ``fmt`` (None -> NaT); the parsed values are mapped back to every row."""
    codes, uniques = factorize(values)
    texts = [text_of(clean(u)) for u in uniques]
    parsed = pd.to_datetime(pd.Series(texts, dtype=object), format=fmt, errors="coerce")
    out = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))[codes]  # code -1 -> NaT
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
        days = _naive(values).normalize().to_numpy(dtype="datetime64[ns]")
        return pd.Series(days, index=values.index, name=values.name, copy=False)
    if sas_days and pd.api.types.is_numeric_dtype(values.dtype):
        return pd.to_datetime(values, unit="D", origin="1960-01-01").dt.normalize()
    return _per_distinct(values, lambda t: t[:10] if t is not None and _DATE.match(t) else None, "%Y-%m-%d")


def to_datetime(values: pd.Series, *, exact: bool = False) -> pd.Series:
    """Date and time (datetime64[ns], same index) from ISO 8601 text ``YYYY-MM-DD[THH[:MM[:SS[.f]]]]``; a date
    alone is midnight; partial, missing or malformed values become NaT. By default anything after the part read
    is ignored (a zone, text); ``exact``: the whole text must be such a date or date-time, else NaT.
    datetime64 input is kept (a time zone dropped).
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.Series(_naive(values).to_numpy(dtype="datetime64[ns]"), index=values.index, name=values.name,
                         copy=False)

    def text_of(cell: str | None) -> str | None:
        match = _DATE_TIME.match(cell or "")
        if match is None or (exact and match.end() != len(cell)):
            return None
        day, hour, minute, second, fraction = match.groups()
        return f"{day}T{hour or '00'}:{minute or '00'}:{second or '00'}{fraction or ''}"

    return _per_distinct(values, text_of, "ISO8601")


def dtc_bounds(values: pd.Series) -> pd.DataFrame:
    """The earliest and latest day an ISO 8601 date can mean (new frame, same index, datetime64[ns]): a complete
    date (see :func:`to_date`) is both; a partial one spans its month ("2021-03": 1st to 31st) or its year
    ("2021", "2021---15": 1 January to 31 December); missing or malformed: NaT."""
    full = to_date(values)
    parts = parse_dtc(values)
    month = parts["month"].where(parts["precision"].eq("month"))
    year = parts["year"].where(parts["precision"].isin(["month", "year"]))
    month_start = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}).astype("float"),
                                 errors="coerce")
    year_start = pd.to_datetime(pd.DataFrame({"year": year, "month": 1, "day": 1}).astype("float"), errors="coerce")
    earliest = full.fillna(month_start).fillna(year_start)
    latest = full.fillna(month_start + pd.offsets.MonthEnd(0)).fillna(year_start + pd.offsets.YearEnd(0))
    return pd.DataFrame({"earliest": earliest.astype("datetime64[ns]"), "latest": latest.astype("datetime64[ns]")},
                        index=values.index)


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
