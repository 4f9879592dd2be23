"""Which unit each record is compared in, and the conversions that take it there.

CTCAE v4.03 states most lab thresholds in two unit systems whose numbers are rounded, not exact, conversions of each
other; a record is compared in its own unit when the text gives thresholds in it, else in the nearest unit that
has them (docs/grading.md, "Units"). Resolved once per distinct (criteria keys, test map row, unit) combination;
the rows compared in another unit than the criteria table's are gathered only where the interpreter needs them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ctcae_engine.grade import units
from ctcae_engine.grade.rules import LabRules


class Conversions:
    """Unit conversions, resolved once per distinct (criteria keys, test map row, unit) combination ``codes``.

    ``factor`` / ``offset`` / ``unit`` take a value to its criteria key's table unit (``value_si``, what tables and
    figures show); per direction, ``code`` is the compiled criteria (the key in the unit it is compared in: the
    record's own unit when the CTCAE text states thresholds in it, else the nearest one that has them, see
    :func:`units.nearest_unit`), ``cf`` / ``co`` take the record's value there and ``bf`` / ``bo`` the baseline
    (held in the table unit, it may come from a record in another unit)."""

    def __init__(self, rules: LabRules, table: pd.DataFrame, key_low: np.ndarray, key_high: np.ndarray,
                 map_row: np.ndarray, unit_cat: pd.Categorical) -> None:
        n_keys, n_map, n_units = len(rules.keys) + 1, len(table) + 1, len(unit_cat.categories) + 1
        combo = (((key_low + 1) * n_keys + key_high + 1) * n_map + map_row + 1) * n_units + unit_cat.codes + 1
        self.codes, combos = pd.factorize(combo)
        analytes = np.append(table["analyte"].to_numpy(dtype=object), None)
        unit_names = np.append(np.asarray(unit_cat.categories, dtype=object), None)
        size = len(combos)
        self.factor, self.offset = np.full(size, np.nan), np.zeros(size)
        self.unit, self.label = np.empty(size, dtype=object), np.empty(size, dtype=object)
        self.analyte = np.empty(size, dtype=object)  # the test map's analyte (plausibility windows)
        self.code = np.full((2, size), -1, dtype=np.int64)
        self.cf, self.co = np.full((2, size), np.nan), np.zeros((2, size))
        self.bf, self.bo = np.ones((2, size)), np.zeros((2, size))
        for j, value in enumerate(combos):
            rest, u = divmod(int(value), n_units)
            rest, m = divmod(rest, n_map)
            keys = divmod(rest, n_keys)  # each + 1, 0 = none
            k = keys[0] or keys[1]
            given_unit, analyte = unit_names[u - 1], analytes[m - 1] or "test"
            self.analyte[j] = analytes[m - 1]
            target = rules.unit[k - 1] if k else None
            found = units.conversion(analyte, given_unit, target) if target is not None else None
            if found is None and target is not None and rules.relative_only[k - 1]:
                found, target = (1.0, 0.0), units.normalise_unit(given_unit)  # only ULN/LLN/baseline multiples
            self.factor[j], self.offset[j] = (np.nan, 0.0) if found is None else found
            self.unit[j] = target if target is not None else units.normalise_unit(given_unit)
            self.label[j] = (f"no unit given; {analyte} rule needs {target}" if given_unit is None
                             else f"unit '{given_unit}' not convertible to {target} for {analyte}")
            for d, kd in enumerate(keys):
                self.code[d, j], self.cf[d, j], self.co[d, j] = kd - 1, self.factor[j], self.offset[j]
                if kd and found is not None:
                    other = other_unit(rules, kd - 1, analyte, given_unit, self.unit[j])
                    if other is not None:
                        self.code[d, j], self.cf[d, j], self.co[d, j], self.bf[d, j], self.bo[d, j] = other
        self.other = [bool((self.code[d] >= len(rules.keys)).any()) for d in (0, 1)]

    def rows(self, per_combo: np.ndarray) -> np.ndarray:
        return per_combo[self.codes]

    def compared(self, d: int, keys: np.ndarray, gradable: np.ndarray, raw: tuple[np.ndarray, ...],
                 base_si: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], tuple[np.ndarray, ...]] | None]:
        """Direction ``d``'s compiled criteria codes and the ``other`` provider of :meth:`LabRules.grade_direction`:
        (value, LLN, ULN, baseline) of given rows in the unit they are compared in, from the record's own ``raw``
        (value, LLN, ULN) and the table-unit baseline; ``keys`` and None when no row of ``d`` uses another unit."""
        if not self.other[d]:
            return keys, None
        codes = self.code[d].astype(np.int16)[self.codes]

        def other(rows: np.ndarray) -> tuple[np.ndarray, ...]:
            c = self.codes[rows]
            cf, co = self.cf[d][c], self.co[d][c]
            value, lln, uln = (x[rows] * cf + co for x in raw)
            return (np.where(gradable[rows], value, np.nan), lln, uln, base_si[rows] * self.bf[d][c] + self.bo[d][c])

        return codes, other


def other_unit(rules: LabRules, key: int, analyte: str, given_unit: object,
                si_unit: str) -> tuple[int, float, float, float, float] | None:
    """Compiled code and conversions (value, baseline from the table unit) of the unit other than the table's that a
    record of ``key`` in ``given_unit`` is compared in; None when it is compared in the table unit."""
    options = rules.units_of(key)
    if len(options) == 1:
        return None
    chosen = units.nearest_unit(analyte, given_unit, [unit for _, unit in options])
    if not chosen:  # None (no unit reached: the table unit's reason applies) or 0 (the table unit)
        return None
    code, unit = options[chosen]
    value, base = units.conversion(analyte, given_unit, unit), units.conversion(analyte, si_unit, unit)
    if value is None or base is None:
        return None
    return code, value[0], value[1], base[0], base[1]


def references(rules: LabRules, conv: Conversions, crit: np.ndarray, use_low: np.ndarray, limits: tuple,
                gradable: np.ndarray, value_raw: np.ndarray, lln_si: np.ndarray, uln_si: np.ndarray,
                base_si: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`LabRules.references` of the fired rows, in the unit each was compared in."""
    ref_value, ref_base = rules.references(crit, lln_si, uln_si, base_si)
    elsewhere = crit >= rules.n_table_rows
    if elsewhere.any():
        for d, side in ((0, use_low), (1, ~use_low)):
            rows = np.flatnonzero(elsewhere & side)
            if rows.size:
                _, other = conv.compared(d, np.empty(0, dtype=np.int64), gradable, (value_raw, *limits), base_si)
                _, lln, uln, base = other(rows)
                ref_value[rows], ref_base[rows] = rules.references(crit[rows], lln, uln, base)
    return ref_value, ref_base
