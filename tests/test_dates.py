"""ISO 8601 parsing and the conservative imputation of partial AE onset dates (docs/endpoints.md)."""

import pandas as pd
import pytest

from ctcae_engine.read.dates import impute_start_date, parse_dtc, to_date

INFUSION = pd.Timestamp("2021-03-10")


@pytest.mark.parametrize(
    "dtc, precision",
    [
        ("2021-03-15", "day"),
        ("2021-03-15T10:20", "day"),
        ("2021-03-15T10:20:00+01:00", "day"),
        ("2021-03", "month"),
        ("2021", "year"),
        ("2021---15", "year"),
        ("", "missing"),
        (None, "missing"),
        ("2021-13-01", "invalid"),
        ("2021-02-30", "invalid"),
        ("15/03/2021", "invalid"),
    ],
)
def test_parse_dtc_precision(dtc, precision):
    parsed = parse_dtc(pd.Series([dtc], dtype="object"))
    assert parsed["precision"].iloc[0] == precision
    assert (parsed["reason"].iloc[0] != "") == (precision == "invalid")
    assert pd.notna(parsed["date"].iloc[0]) == (precision == "day")


def test_to_date_drops_time_and_keeps_index():
    s = pd.Series(["2021-03-15T23:59", "2021-03"], index=[7, 3])
    out = to_date(s)
    assert list(out.index) == [7, 3]
    assert out.iloc[0] == pd.Timestamp("2021-03-15") and pd.isna(out.iloc[1])


@pytest.mark.parametrize(
    "dtc, end, expected, flag",
    [
        ("2021-03-15", None, "2021-03-15", ""),
        ("2021-03", None, "2021-03-10", "D"),  # same month as infusion -> infusion date
        ("2021-04", None, "2021-04-01", "D"),  # other month -> 1st
        ("2021-02", None, "2021-02-01", "D"),  # before infusion month stays before
        ("2021", None, "2021-03-10", "M"),  # same year as infusion -> infusion date
        ("2022", None, "2022-01-01", "M"),
        ("", None, "2021-03-10", "Y"),  # missing -> infusion date: counted as treatment-emergent
        ("2021-03", "2021-03-05", "2021-03-05", "D"),  # never after its own complete end date
        ("nonsense", None, "2021-03-10", "Y"),
    ],
    ids=["complete", "day-missing-same-month", "day-missing-later-month", "day-missing-earlier-month",
         "month-missing-same-year", "month-missing-later-year", "missing", "capped-at-end", "malformed"],
)
def test_impute_start_date_conservative_rule(dtc, end, expected, flag):
    out = impute_start_date(pd.Series([dtc]), pd.Series([INFUSION]), pd.Series([end], dtype="object"))
    assert out["date"].iloc[0] == pd.Timestamp(expected)
    assert out["imputed"].iloc[0] == flag


def test_impute_without_reference_gives_reason_not_silent_na():
    out = impute_start_date(pd.Series(["", "2021-05"]), pd.Series([pd.NaT, pd.NaT]))
    assert pd.isna(out["date"].iloc[0]) and "missing" in out["reason"].iloc[0]
    assert out["date"].iloc[1] == pd.Timestamp("2021-05-01") and out["imputed"].iloc[1] == "D"


def test_repeated_values_parse_like_single_values():
    """Distinct strings are parsed once and mapped back: same result, row by row, as parsing each value alone."""
    values = ["2021-03-15", None, "2021-03", "2021-03-15", "bad", "", "2021-03-15T08:00", None, "2021-03", "2021"]
    series = pd.Series(values, index=range(100, 110), dtype="object")
    together = parse_dtc(series)
    alone = pd.concat([parse_dtc(series.iloc[[i]]) for i in range(len(series))])
    pd.testing.assert_frame_equal(together, alone)
    assert together["precision"].tolist() == ["day", "missing", "month", "day", "invalid", "missing", "day",
                                              "missing", "month", "year"]
