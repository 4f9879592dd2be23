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
"""

from __future__ import annotations

import pandas as pd

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


def to_date(values: pd.Series) -> pd.Series:
    """Complete ISO 8601 dates as datetime64 (day resolution); partial, missing or malformed values become NaT."""
    return parse_dtc(values)["date"]


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
