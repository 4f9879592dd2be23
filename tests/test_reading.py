"""The shared readers every module uses: columns (ctcae_engine.read.columns) and dates (ctcae_engine.read.dates).

The choices are in docs/reading_inputs.md; each case below is one of them."""

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from ctcae_engine.read.columns import as_text, join_texts, pick, raw, text
from ctcae_engine.read.dates import as_day, dtc_bounds, parse_dtc, to_date, to_datetime

T = pd.Timestamp


def test_pick_prefers_exact_name_then_upper_case_then_next_name():
    frame = pd.DataFrame(columns=["USUBJID", "grade", "AETOXGR"])
    assert pick(frame, "usubjid") == "USUBJID"
    assert pick(frame, "grade", "AETOXGR") == "grade"
    assert pick(frame, "ATOXGR", "AETOXGR") == "AETOXGR"
    assert pick(frame, "AESER") is None


def test_text_strips_blank_is_missing_absent_is_all_missing_and_input_unchanged():
    frame = pd.DataFrame({"AESER": [" y ", "", None, "N"]}, index=[4, 3, 2, 1])
    before = frame.copy()
    assert text(frame, "AESER", upper=True).tolist() == ["Y", pd.NA, pd.NA, "N"]
    assert text(frame, "AESER").index.tolist() == [4, 3, 2, 1]
    assert text(frame, "AEOUT").isna().all() and len(text(frame, "AEOUT")) == 4
    assert raw(frame, "AESER").tolist() == [" y ", "", pd.NA, "N"]  # as given, for listings
    assert as_text(frame["AESER"], blank_is_missing=False).tolist() == ["y", "", pd.NA, "N"]
    pd.testing.assert_frame_equal(frame, before)


def test_join_texts_skips_empty_and_keeps_texts_as_given():
    a = pd.Series(["x", "", None, "term 'a|b;'"])
    b = pd.Series(["y", "z", "", "w"])
    assert join_texts(a, b).tolist() == ["x; y", "z", "", "term 'a|b;'; w"]
    assert join_texts(a, b, sep=", ").tolist()[0] == "x, y"


@pytest.mark.parametrize(
    ("given", "day", "moment", "exact"),
    [
        pytest.param("2021-03-15", T("2021-03-15"), T("2021-03-15"), T("2021-03-15"), id="date: midnight"),
        pytest.param("2021-03-15T10:20", T("2021-03-15"), T("2021-03-15 10:20"), T("2021-03-15 10:20"),
                     id="date-time to the minute"),
        pytest.param("2021-03-15T10:20:30.5", T("2021-03-15"), T("2021-03-15 10:20:30.5"),
                     T("2021-03-15 10:20:30.5"), id="fractional seconds kept"),
        pytest.param(" 2021-03-15T10:20:00+01:00 ", T("2021-03-15"), T("2021-03-15 10:20"), T("2021-03-15 10:20"),
                     id="zone dropped, also when exact: the clock time as written (issue 16)"),
        pytest.param("2021-03-15T10:20 later", T("2021-03-15"), T("2021-03-15 10:20"), pd.NaT,
                     id="exact wants nothing but a zone after the time"),
        pytest.param("2021-03-15 10:20", T("2021-03-15"), T("2021-03-15 10:20"), T("2021-03-15 10:20"),
                     id="blank instead of T: read as the time"),
        pytest.param("2021-03-15T10", T("2021-03-15"), T("2021-03-15 10:00"), T("2021-03-15 10:00"),
                     id="ISO 8601 time to the hour"),
        pytest.param("2021-03", pd.NaT, pd.NaT, pd.NaT, id="partial: no complete date"),
        pytest.param("2021-02-30", pd.NaT, pd.NaT, pd.NaT, id="no such day"),
        pytest.param("15/03/2021", pd.NaT, pd.NaT, pd.NaT, id="not ISO 8601"),
        pytest.param(None, pd.NaT, pd.NaT, pd.NaT, id="missing"),
    ],
)
def test_to_date_and_to_datetime(given, day, moment, exact):
    values = pd.Series([given, given], index=[9, 8], dtype=object)
    assert to_date(values).index.tolist() == [9, 8]
    for got, want in ((to_date(values), day), (to_datetime(values), moment),
                      (to_datetime(values, exact=True), exact)):
        assert got.dtype == "datetime64[ns]"
        assert (pd.isna(got.iloc[0]) and pd.isna(want)) or got.iloc[0] == want


def test_complete_dates_read_alike_by_to_date_and_parse_dtc():
    values = pd.Series(["2021-03-15", "2021-03-15T08:00", "2021-03-15 08:00", "2021-03", "2021", "bad", None,
                        "2021-13-01", "1724-03-10"])
    pd.testing.assert_series_equal(to_date(values), parse_dtc(values)["date"], check_names=False)


def test_datetime_and_sas_inputs():
    stamps = pd.Series(pd.to_datetime(["2021-03-15 10:20", None]).tz_localize("UTC"))
    assert to_date(stamps).iloc[0] == T("2021-03-15") and pd.isna(to_date(stamps).iloc[1])
    assert to_datetime(stamps).iloc[0] == T("2021-03-15 10:20")
    sas = pd.Series([0.0, 22354.0, np.nan])  # SAS dates: days since 1960-01-01 (22,354 days = 2021-03-15)
    assert to_date(sas, sas_days=True).tolist()[:2] == [T("1960-01-01"), T("2021-03-15")]
    assert to_date(sas).isna().all()  # numbers are not dates unless the caller says they are SAS days


def test_many_rows_are_parsed_like_few():
    """The factorize-once path (object columns of 4,096+ rows) gives the same dates as the small-input path."""
    few = pd.Series(["2021-03-15T10:20", "2021-03", None, "2021-03-16"], dtype=object)
    many = pd.Series(np.tile(few.to_numpy(), 2000), dtype=object)
    assert to_datetime(many).iloc[:4].tolist() == to_datetime(few).tolist()
    assert to_date(many).iloc[-4:].tolist() == to_date(few).tolist()


@pytest.mark.parametrize(
    ("given", "earliest", "latest"),
    [
        pytest.param("2021-03-15T10:20", "2021-03-15", "2021-03-15", id="complete: that day"),
        pytest.param("2021-02", "2021-02-01", "2021-02-28", id="month: 1st to last day"),
        pytest.param("2024-02", "2024-02-01", "2024-02-29", id="month of a leap year"),
        pytest.param("2021", "2021-01-01", "2021-12-31", id="year"),
        pytest.param("2021---15", "2021-01-01", "2021-12-31", id="day without month: the year"),
        pytest.param("2021-13", None, None, id="no such month"),
        pytest.param("", None, None, id="missing"),
        pytest.param("2262-04", None, None, id="month reaching past the datetime64 days: none, no crash"),
    ],
)
def test_dtc_bounds(given, earliest, latest):
    bounds = dtc_bounds(pd.Series([given], index=[5]))
    assert bounds.index.tolist() == [5]
    expected = [T(earliest), T(latest)] if earliest else [pd.NaT, pd.NaT]
    assert bounds.iloc[0].tolist() == expected or (earliest is None and bounds.isna().all(axis=None))


def test_as_day():
    assert as_day(None) is None
    assert as_day(" 2025-06-30 ") == date(2025, 6, 30)
    assert as_day(datetime(2025, 6, 30, 23, 59)) == date(2025, 6, 30)
    assert as_day("2025-06-30T12:00") == date(2025, 6, 30)
    with pytest.raises(ValueError, match="data cut-off must be an ISO 8601 date"):
        as_day("30/06/2025", "data cut-off")
