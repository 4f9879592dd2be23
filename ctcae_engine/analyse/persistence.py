"""CAR-T levels below the lower limit of quantification (LLOQ): one rule for the tables and the figure.

A sample below the LLOQ is **not detectable**: it has no value (never 0, never LLOQ/2 in a statistic). Order
statistics rank such samples below every quantified one; a statistic that falls on, or is interpolated with, a
sample below the LLOQ is reported as ``"<LLOQ"`` (its value is unknown, only known to be low); one computed from
quantified samples only is their usual linear-interpolation quantile.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

BELOW_LLOQ = "<LLOQ"


def blq_quantile(levels: pd.Series, q: float) -> float | str:
    """The ``q`` quantile (0..1, linear interpolation between order statistics) of ``levels``, where a missing value
    is a sample below the LLOQ (ranked lowest); ``"<LLOQ"`` when the quantile touches such a sample, NaN when there
    are no samples."""
    values = pd.to_numeric(levels, errors="coerce").to_numpy(dtype=float)
    if values.size == 0:
        return math.nan
    quantified = np.sort(values[~np.isnan(values)])
    n_below = values.size - quantified.size
    position = (values.size - 1) * q
    low = math.floor(position)
    if low < n_below or (position > low and low + 1 < n_below):  # an order statistic used is below the LLOQ
        return BELOW_LLOQ
    low_value = quantified[low - n_below]
    if position == low:
        return float(low_value)
    high_value = quantified[low + 1 - n_below]
    return float(low_value + (high_value - low_value) * (position - low))


def blq_summary(levels: pd.Series) -> dict[str, float | str]:
    """median, q1, q3, min and max of ``levels`` by :func:`blq_quantile`."""
    return {"median": blq_quantile(levels, 0.5), "q1": blq_quantile(levels, 0.25), "q3": blq_quantile(levels, 0.75),
            "min": blq_quantile(levels, 0.0), "max": blq_quantile(levels, 1.0)}
