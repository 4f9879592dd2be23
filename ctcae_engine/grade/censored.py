"""Censored results ("<0.1", ">1000", "<=5"): the range of values a result allows, as its two ends.

A censored result is graded when both ends of its range fall in the same grade (grades are monotone in the value
along one direction, so every value between them does too); see docs/grading.md. A result without a number
("<LLOQ", "BLQ", "NEG") is not censored here: it stays a non-numeric result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ctcae_engine.grade.rules import combine

_PATTERN = re.compile(r"^\s*(<=|>=|=<|=>|<|>|\u2264|\u2265)\s*((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_OPS = {"<=": "<=", "=<": "<=", "\u2264": "<=", ">=": ">=", "=>": ">=", "\u2265": ">=", "<": "<", ">": ">"}
JUST = 1e-9
"""An open end ("<0.5") is taken a relative 1e-9 inside the range: far beyond the 1e-12 of the float-safe
comparison, so a threshold equal to the printed number is never crossed by it."""


@dataclass(frozen=True)
class Censored:
    """``rows``: per row, whether the result is a censored number; ``index``: those rows' positions, ``low`` /
    ``high``: the ends of the values each allows (in the result's unit); ``impossible``: per row, a censored result
    whose range holds no count or concentration ("<0", "<-1")."""

    rows: np.ndarray
    index: np.ndarray
    low: np.ndarray
    high: np.ndarray
    impossible: np.ndarray

    def ends(self, value: np.ndarray) -> list[np.ndarray]:
        """``value`` with the censored rows set to the low end, and to the high end."""
        out = []
        for end in (self.low, self.high):
            copy = value.copy()
            copy[self.index] = end
            out.append(copy)
        return out


def parse(result: np.ndarray, candidates: np.ndarray) -> Censored:
    """The censored results among the rows ``candidates`` (a mask of rows whose result has no number)."""
    rows, impossible = np.zeros(len(result), dtype=bool), np.zeros(len(result), dtype=bool)
    where = np.flatnonzero(candidates)
    if where.size == 0:
        return Censored(rows, where, np.empty(0), np.empty(0), impossible)
    codes, texts = pd.factorize(pd.Series(result[where], dtype=object).astype(str))
    ends = np.array([_ends(text) for text in texts], dtype=float).reshape(-1, 3)[codes]
    found = ends[:, 2] > 0
    rows[where[found]] = True
    impossible[where[ends[:, 2] < 0]] = True
    return Censored(rows, where[found], ends[found, 0], ends[found, 1], impossible)


def _ends(text: str) -> tuple[float, float, float]:
    """(low end, high end, 1 censored / -1 impossible / 0 not censored) of one result text."""
    found = _PATTERN.match(text)
    if found is None:
        return (np.nan, np.nan, 0.0)
    op, number = _OPS[found.group(1)], float(found.group(2))
    if op == "<":
        return (0.0, number - JUST * number, 1.0) if number > 0 else (np.nan, np.nan, -1.0)
    if op == "<=":
        return (0.0, number, 1.0)
    if op == ">":
        return (max(number + JUST * number, np.nextafter(number, np.inf)), np.inf, 1.0)
    return (number, np.inf, 1.0)


def grade_rows(low: dict, high: dict, ends: list[tuple[dict, dict]], rows: np.ndarray, key_low: np.ndarray,
                    key_high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give the censored ``rows`` whose two ends have the same grade in each direction (NA at neither) that grade,
    in place in ``low`` / ``high``. Returns the rows so graded and, per row, the text saying why another censored row
    is not graded ('' elsewhere): e.g. "the values it allows span grades 0 to 4"."""
    same = rows.copy()
    for d, keys in enumerate((key_low, key_high)):
        a, b = ends[0][d]["grade"], ends[1][d]["grade"]
        same &= (keys < 0) | ((a == b) & (a >= 0))
    for d, graded in enumerate((low, high)):
        graded["grade"][same] = ends[0][d]["grade"][same]
        graded["crit"][same] = ends[0][d]["crit"][same]
        graded["missing"][same] = 0
    has_low, has_high = key_low >= 0, key_high >= 0
    at_ends = [combine(lo["grade"], hi["grade"], has_low, has_high) for lo, hi in ends]
    span = np.full(len(rows), "", dtype=object)
    for i in np.flatnonzero(rows & ~same):
        grades = sorted({int(g[i]) for g in at_ends})
        span[i] = (f"the values it allows span grades {grades[0]} to {grades[-1]}" if grades[0] >= 0 else
                   "some of the values it allows cannot be graded (a limit or baseline is missing)")
    return np.flatnonzero(same), span


def flag(thresholds: np.ndarray, rows: np.ndarray, result: np.ndarray) -> np.ndarray:
    """Thresholds texts with the graded censored rows flagged: "censored '<0.5', every value it allows: < 0.5 10^9/L"
    ("... allows: grade 0" when no criterion fires)."""
    if rows.size == 0:
        return thresholds
    out = thresholds.copy()
    pairs = zip(result[rows], thresholds[rows], strict=True)
    out[rows] = [f"censored '{r}', every value it allows: {t or 'grade 0'}" for r, t in pairs]
    return out
