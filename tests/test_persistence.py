"""One rule for CAR-T levels below the LLOQ (issue 17: PERS02 counted them as 0, the figure drew them at LLOQ/2):
not detectable, no value, and a statistic that touches one is "<LLOQ"; the unit is in the table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ctcae_engine.analyse.persistence import BELOW_LLOQ, blq_quantile, blq_summary
from ctcae_engine.report.context import present

NA = float("nan")  # a sample below the LLOQ


@pytest.mark.parametrize(("levels", "q", "expected"), [
    ([100.0, 300.0, 200.0], 0.5, 200.0),          # all quantified: the usual median
    ([100.0, 300.0, 200.0, 400.0], 0.5, 250.0),   # linear interpolation between 200 and 300
    ([NA, 100.0, 300.0], 0.5, 100.0),             # the middle sample is quantified
    ([NA, NA, 500.0, 1200.0], 0.5, BELOW_LLOQ),   # between a sample below the LLOQ and 500: not 250
    ([NA, 500.0], 0.0, BELOW_LLOQ),               # min
    ([NA, 500.0], 1.0, 500.0),                    # max
    ([NA, NA], 1.0, BELOW_LLOQ),
])
def test_quantiles_rank_samples_below_the_lloq_lowest_and_never_give_them_a_value(levels, q, expected):
    assert blq_quantile(pd.Series(levels), q) == expected


def test_no_samples_give_no_statistic():
    assert math.isnan(blq_quantile(pd.Series([], dtype=float), 0.5))


def test_summary_never_counts_a_sample_below_the_lloq_as_zero():
    summary = blq_summary(pd.Series([NA, NA, NA, 150.0, 110.0]))
    assert summary == {"median": BELOW_LLOQ, "q1": BELOW_LLOQ, "q3": 110.0, "min": BELOW_LLOQ, "max": 150.0}
    assert 0.0 not in summary.values()


def test_the_table_states_the_unit_in_its_level_headers():
    frame = pd.DataFrame({"timepoint_day": [182], "n": [5], "n_detectable": [2], "median": [BELOW_LLOQ],
                          "q1": [BELOW_LLOQ], "q3": [110.0], "min": [BELOW_LLOQ], "max": [150.0],
                          "unit": ["copies/ug gDNA"]})
    shown = present("PERS02", frame)
    assert "Median (copies/ug gDNA)" in shown.columns and "Max (copies/ug gDNA)" in shown.columns
    assert "unit" not in shown.columns and shown["Median (copies/ug gDNA)"].iloc[0] == "<LLOQ"
