"""ICAHT (immune effector cell-associated hematotoxicity) by the EHA/EBMT consensus: Rejeski K, Subklewe M, Aljurf M,
et al. Blood 2023;142(10):865-877. The expected grades below are typed from the consensus grading table, quoted in
each test (early ICAHT, day 0-30: "ANC <= 500/uL: less than 7 days" grade 1, "7-13 days" grade 2, "14 or more days"
grade 3, "never above 500/uL" grade 4; "ANC <= 100/uL: at least 7 days" grade 3, "at least 14 days" grade 4; late
ICAHT, after day +30: ANC <= 1500/uL grade 1, <= 1000/uL grade 2, <= 500/uL grade 3, <= 100/uL grade 4, with two
or more laboratory tests), never from ctcae_terms/criteria/icaht.csv, which the engine reads.

ANC series are in 10^9/L as the graded labs carry them (0.5 x 10^9/L = 500/uL); day 0 = infusion.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ctcae_engine.analyse.icaht import grade_icaht, icaht_incidence

DAY0 = pd.Timestamp("2025-01-10")
HIGH = 2.0  # 2000/uL: above every threshold


def labs_for(series: dict[str, dict[int, float | None]]) -> pd.DataFrame:
    """Graded-lab rows (usubjid, testcd NEUT, adt, value_si, unit_si, reason): participant -> {day: ANC 10^9/L};
    None = a result that could not be read (value_si NA, with a reason)."""
    rows = []
    for person, days in series.items():
        for day, value in days.items():
            rows.append({"usubjid": person, "testcd": "NEUT", "adt": DAY0 + pd.Timedelta(days=day),
                         "value_si": value, "unit_si": "10^9/L" if value is not None else "",
                         "reason": "" if value is not None else "non-numeric result"})
    return pd.DataFrame(rows)


def population_for(people: list[str], **extra: object) -> pd.DataFrame:
    frame = pd.DataFrame({"usubjid": people, "saffl": True, "infdt": DAY0})
    for column, value in extra.items():
        frame[column] = value
    return frame


def daily(low_days: range | list[int], low: float = 0.3, last: int = 40, baseline: bool = True) -> dict[int, float]:
    """A result every day from day -1 (HIGH) to ``last``: ``low`` on ``low_days``, HIGH otherwise."""
    first = -1 if baseline else 0
    return {day: (low if day in low_days else HIGH) for day in range(first, last + 1)}


def one(series: dict[int, float | None], **population: object) -> pd.Series:
    out = grade_icaht(labs_for({"P": series}), population_for(["P"], **population))
    assert len(out) == 1
    return out.iloc[0]


@pytest.mark.parametrize(("days", "grade"), [
    (range(5, 6), 1),    # 1 day: "ANC <= 500/uL: less than 7 days" -> grade 1
    (range(5, 11), 1),   # 6 days: still "less than 7 days" -> grade 1
    (range(5, 12), 2),   # 7 days: "7-13 days" -> grade 2
    (range(5, 18), 2),   # 13 days: "7-13 days" -> grade 2
    (range(5, 19), 3),   # 14 days: "14 or more days" -> grade 3
    (range(1, 31), 3),   # 30 days (day 0 above 500): "14 or more days", not "never above" -> grade 3
    (range(0, 31), 4),   # day 0..30 every day: "never above 500/uL" -> grade 4
])
def test_early_icaht_by_days_at_or_below_500(days, grade):
    row = one(daily(days))
    assert row["early_grade"] == grade
    assert row["days_le500"] == len(days)
    assert row["reason"] == ""


@pytest.mark.parametrize(("profound", "grade"), [
    (range(5, 11), 2),   # 6 days <= 100 in 8 days <= 500: ANC <= 100 has no grade 1-2 criterion; "7-13 days" -> 2
    (range(5, 12), 3),   # 7 days: "ANC <= 100/uL: at least 7 days" -> grade 3
    (range(5, 18), 3),   # 13 days <= 100 (the 500 row also gives 2 for 13 days): grade 3
    (range(5, 19), 4),   # 14 days: "ANC <= 100/uL: at least 14 days" -> grade 4
])
def test_early_icaht_by_days_at_or_below_100(profound, grade):
    severe = range(profound.start, max(profound.stop, 13))  # ANC <= 500 from the same day, at least 8 days
    series = daily(severe)
    series.update({day: 0.05 for day in profound})
    row = one(series)
    assert row["days_le100"] == len(profound)
    assert row["early_grade"] == grade


@pytest.mark.parametrize(("value", "counted"), [(0.5, True), (0.501, False), (0.1, True)])
def test_thresholds_are_inclusive(value, counted):
    """"ANC <= 500/uL" and "ANC <= 100/uL": exactly 500 and exactly 100 count; 501 does not."""
    row = one(daily(range(5, 12), low=value))  # 7 days at the value
    threshold = "days_le100" if value <= 0.1 else "days_le500"
    assert row[threshold] == (7 if counted else 0)
    assert row["early_grade"] == (3 if value <= 0.1 else 2 if counted else 0)


def test_days_without_a_result_count_as_below_until_the_first_result_above():
    """Results on days 5 (0.3), 9 (0.2) and 12 (0.8): days 5..11 are at or below 500/uL (7 days, "7-13 days",
    grade 2); counting only the result days (2) would give grade 1."""
    row = one({-1: HIGH, 2: HIGH, 5: 0.3, 9: 0.2, 12: 0.8, 20: HIGH, 40: HIGH, 50: HIGH})
    assert row["days_le500"] == 7 and row["early_grade"] == 2


def test_a_recovery_shorter_than_three_days_is_not_a_recovery():
    """Below on days 1-4 and 7-9 with 2 days above between: the 2 days count ("days of nonstable count recovery (<3
    days) are counted to the cumulative total"): 9 days. A 3-day recovery (days 5-7) is a recovery: 4 + 3 = 7."""
    unstable = one(daily([1, 2, 3, 4, 7, 8, 9]))
    assert unstable["days_le500"] == 9 and unstable["early_grade"] == 2
    stable = one(daily([1, 2, 3, 4, 8, 9, 10]))
    assert stable["days_le500"] == 7 and stable["early_grade"] == 2


def test_too_few_results_give_no_grade_never_grade_0():
    no_result = grade_icaht(labs_for({"P": {}}).reindex(columns=["usubjid", "testcd", "adt", "value_si",
                                                                  "unit_si", "reason"]),
                            population_for(["P"])).iloc[0]
    assert pd.isna(no_result["early_grade"]) and pd.isna(no_result["late_grade"])
    assert "no ANC result" in no_result["reason"]
    single = one({3: HIGH})
    assert pd.isna(single["early_grade"]) and "ANC not known on day 0-2, 4-30" in single["reason"]
    stops_low = one({-1: HIGH, 2: HIGH, 5: 0.3, 12: 0.3})  # below from day 5, nothing after day 12
    assert pd.isna(stops_low["early_grade"])  # days 13-30 unknown: 8 to 26 days <= 500, 0 to 18 days <= 100
    assert "ANC <= 500/uL on 8 to 26 days, ANC <= 100/uL on 0 to 18 days: grade 2 to 4" in stops_low["reason"]


def test_an_unreadable_result_is_not_read_as_normal():
    row = one({-1: HIGH, 5: None, 40: HIGH, 50: HIGH})  # the only early result cannot be read
    assert pd.isna(row["early_grade"]) and "unreadable result on day 5" in row["reason"]


def test_death_censors_the_early_window():
    """Censoring at death: below 500 from day 0 to death on day 20 is 21 days, "14 or more days" (grade 3), and
    the days after death are not unknown days."""
    row = one({d: 0.3 for d in range(-1, 21)}, dthdt=DAY0 + pd.Timedelta(days=20))
    assert row["early_grade"] == 3 and row["days_le500"] == 21
    assert "late ICAHT: no ANC result after day 30" in row["reason"]


@pytest.mark.parametrize(("late", "grade"), [
    ({40: 1.5, 50: 1.5}, 1),             # "ANC <= 1500/uL" twice -> grade 1
    ({40: 1.501, 50: 1.501}, 0),         # above 1500: no late ICAHT
    ({40: 0.9, 50: 0.8, 60: HIGH}, 2),   # "ANC <= 1000/uL" twice -> grade 2
    ({40: 0.4, 50: 0.5}, 3),             # "ANC <= 500/uL" twice -> grade 3
    ({40: 0.1, 50: 0.05}, 4),            # "ANC <= 100/uL" twice -> grade 4
    ({40: 0.05, 50: 0.9}, 2),            # <= 100 once only ("two or more laboratory tests"): <= 1000 twice -> 2
])
def test_late_icaht_by_nadir_confirmed_twice(late, grade):
    row = one({**daily([], last=30), **late})
    assert row["late_grade"] == grade
    assert row["early_grade"] == 0


def test_late_single_low_result_is_noted_and_a_single_result_is_not_graded():
    confirmed = one({**daily([], last=30), 40: 0.05, 50: 0.9})
    assert "one ANC <= 100/uL after day 30 (day 40), not confirmed" in confirmed["note"]
    single = one({**daily([], last=30), 40: 0.9})
    assert pd.isna(single["late_grade"]) and "the consensus needs at least 2" in single["reason"]


def test_screen_failures_are_not_listed_and_incidence_counts_not_gradable_apart():
    labs = labs_for({"A": daily(range(5, 12)), "B": {3: HIGH}, "SF": {-20: 0.2}})
    population = pd.DataFrame({"usubjid": ["A", "B", "SF"], "saffl": [True, True, False],
                               "infdt": [DAY0, DAY0, pd.NaT]})
    per = grade_icaht(labs, population)
    assert per["usubjid"].tolist() == ["A", "B"]
    table = icaht_incidence(per, population).set_index(["phase", "label"])
    early = table.loc["Early ICAHT (day 0-30)"]
    assert early.loc["Grade 2", "n"] == 1 and early.loc["Not gradable", "n"] == 1
    assert early.loc["Grade 0", "n"] == 0 and early.loc["Any grade", "N"] == 2
