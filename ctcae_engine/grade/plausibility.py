"""Plausibility windows of findings (``ctcae_terms/criteria/plausibility.csv``): a value outside its analyte's
window, in the criteria table unit after conversion, is a data-entry error (TEMP 385 C for 38.5, 38.5 labelled F,
QTcF 5200 ms, potassium 500 mmol/L), listed with its reason and never graded. A value that is not finite after
conversion (1e308 g/dL of hemoglobin is inf g/L) is implausible for every analyte."""

from __future__ import annotations

from functools import cache

import numpy as np

from ctcae_terms.criteria import load_plausibility


@cache
def _windows() -> dict[tuple[str, str], tuple[float, float]]:
    table = load_plausibility()
    return {(a, u): (lo, hi) for a, u, lo, hi in zip(table["analyte"], table["unit"], table["low"], table["high"],
                                                      strict=True)}


def window(analyte: str | None, unit: str | None) -> tuple[float, float]:
    """(low, high) of ``analyte`` in ``unit``; (NaN, NaN) when the table has none."""
    return _windows().get((str(analyte), str(unit)), (np.nan, np.nan))


_BIG = float(np.finfo(np.float64).max)


def windows(analytes: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (analyte, unit) pair, e.g. per unit conversion of :class:`unit_systems.Conversions`: low and high; a pair
    without a window gets (-max float, +max float), so that only an infinite value falls outside it."""
    pairs = [window(a, u) for a, u in zip(analytes, units, strict=True)]
    low = np.array([-_BIG if np.isnan(p[0]) else p[0] for p in pairs], dtype=np.float64)
    high = np.array([_BIG if np.isnan(p[1]) else p[1] for p in pairs], dtype=np.float64)
    return low, high


def outside(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Rows whose value lies outside [low, high] (NaN values never)."""
    return (value < low) | (value > high)
