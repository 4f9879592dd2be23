"""Interpret the declarative criteria table: the only place grades are computed.

A criteria row reads "grade G when value OP bound" with bound = constant (ref ``abs``) or
factor x reference + offset (ref ``uln``, ``lln``, ``base``, ``uln_or_base``). Per direction the grade is the
highest grade any evaluable row fires; 0 when no row fires and every row could be evaluated; NA when no row
fires and some row needed a limit or baseline that is missing (the reason names it).

Comparisons are float-safe: two numbers closer than ``REL_TOL`` (relative) are equal, so 128.4 against
3 x 42.8 (= 128.39999999999998) is "equal", never "greater" (admiral rounds both sides to 15 significant
digits for the same purpose).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ctcae_terms.criteria import load_lab_criteria, load_lab_criteria_units

REL_TOL = 1e-12
_MISSING_BITS = {"uln": 1, "lln": 2, "base": 4, "uln_or_base": 1}
_TIME_BIT = 8
_REFS = ("abs", "uln", "lln", "base", "uln_or_base")  # codes of ref_of_row
_MISSING_TEXT = {1: "ULN", 2: "LLN", 4: "baseline", 8: "date/time"}


def _compare(value: np.ndarray, bound: np.ndarray, op: str) -> np.ndarray:
    """value OP bound with a relative tolerance; NaN on either side gives False."""
    tol = REL_TOL * np.abs(bound)
    diff = value - bound
    if op == ">":
        return diff > tol
    if op == ">=":
        return diff >= -tol
    if op == "<":
        return diff < -tol
    if op == "<=":
        return diff <= tol
    raise ValueError(f"unknown operator {op!r}")


MAX_GAP_H = 12.0
"""Default longest gap (hours) between two consecutive readings of one run (``duration_h`` rows: Fever G4)."""


def long_runs(cond: np.ndarray, group: np.ndarray, hours: np.ndarray, longer_than: float,
               max_gap_h: float = MAX_GAP_H) -> np.ndarray:
    """Rows meeting ``cond`` that belong to a run of consecutive (in time, per group) readings all meeting it, with
    no gap between two readings of the run longer than ``max_gap_h`` hours, whose first-to-last span exceeds
    ``longer_than`` hours. Rows without a time are left out."""
    timed = ~np.isnan(hours)
    order = np.flatnonzero(timed)[np.lexsort((hours[timed], group[timed]))]
    c, g, t = cond[order], group[order], hours[order]
    close = np.r_[False, np.diff(t) <= max_gap_h * (1 + REL_TOL)]
    start = c & ~(np.r_[False, c[:-1]] & np.r_[False, g[1:] == g[:-1]] & close)
    run = np.cumsum(start)
    frame = pd.DataFrame({"run": run[c], "t": hours[order][c]})
    span = frame.groupby("run")["t"].agg(lambda t: t.max() - t.min()) if len(frame) else pd.Series(dtype=float)
    out = np.zeros(len(cond), dtype=bool)
    long_run = np.zeros(int(run.max()) + 1 if len(run) else 1, dtype=bool)
    long_run[span.index.to_numpy()] = span.to_numpy() > longer_than
    out[order[c]] = long_run[run[c]]
    return out


def _separate_count(cond: np.ndarray, group: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Per row: how many distinct reading times of its group meet ``cond`` (rows without a time not counted)."""
    use = cond & ~np.isnan(hours)
    counts = pd.DataFrame({"g": group[use], "t": hours[use]}).drop_duplicates().groupby("g").size()
    lookup = np.zeros(int(group.max()) + 1 if len(group) else 1, dtype=np.int64)
    lookup[counts.index.to_numpy()] = counts.to_numpy()
    return lookup[group]


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _compile_units(table: pd.DataFrame, keys: list[str],
                   other_units: pd.DataFrame | None) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The criteria rows of every (key, unit): the table's own rows, then per key and other unit a copy of the key's
    rows where each row with a constant (``abs`` bound or an offset) takes that unit's threshold. A key is compiled in
    another unit only when that unit gives every one of its constants."""
    unit_of = table.drop_duplicates("key").set_index("key")["unit"]
    variants = [(k, str(unit_of[k])) for k in keys]
    parts = [table]
    if other_units is not None and len(other_units):
        for (key, unit), rows in other_units.groupby(["key", "unit"], sort=False):
            if key not in unit_of.index:
                raise ValueError(f"other-unit thresholds for unknown criteria key {key!r}")
            own = table[table["key"] == key].copy()
            lookup = {(int(r.grade), r.ref): r for r in rows.itertuples()}
            if len(lookup) != len(rows):
                raise ValueError(f"{key} in {unit}: two thresholds for one grade and reference")
            constant = (own["ref"] == "abs") | (own["offset"] != 0)
            needed = {(int(g), r) for g, r in zip(own.loc[constant, "grade"], own.loc[constant, "ref"], strict=True)}
            if set(lookup) != needed:
                raise ValueError(f"{key} in {unit}: thresholds for {sorted(set(lookup) ^ needed)} do not match the "
                                 "criteria rows with a constant")
            for i in own.index[constant]:
                found = lookup[(int(own.at[i, "grade"]), own.at[i, "ref"])]
                own.at[i, "bound"], own.at[i, "offset"] = float(found.bound), float(found.offset)
            own["unit"] = unit
            parts.append(own)
            variants.append((key, unit))
    return pd.concat(parts, ignore_index=True), variants


@dataclass(frozen=True)
class _Criterion:
    row: int
    grade: int
    op: str
    ref: str
    bound: float
    offset: float
    duration_h: float
    min_count: float


class LabRules:
    """A compiled criteria table. ``keys`` are the criteria keys (codes 0..len(keys)-1 in the test map and in
    :meth:`code`). Each key is compiled once per unit system its CTCAE text states thresholds in: code ``k`` is the
    key in the criteria table's unit, codes from ``len(keys)`` on are the same key with the thresholds of another
    unit (``other_units``, e.g. Hypercalcemia in mg/dL); :meth:`units_of` lists them, ``key_of`` maps back."""

    def __init__(self, criteria: pd.DataFrame | None = None, other_units: pd.DataFrame | None = None) -> None:
        if criteria is None:
            criteria = load_lab_criteria()
            other_units = load_lab_criteria_units() if other_units is None else other_units
        table = criteria.reset_index(drop=True)
        for column in ("duration_h", "min_count"):
            if column not in table.columns:
                table[column] = np.nan
        self.table = table
        self.keys: list[str] = list(dict.fromkeys(table["key"]))
        self.key_index = {k.casefold(): i for i, k in enumerate(self.keys)}
        compiled, variants = _compile_units(table, self.keys, other_units)
        self._records = compiled[["unit", "ref", "op", "bound", "offset"]].to_dict("records")  # threshold texts
        self.n_table_rows = len(table)  # compiled rows from here on are keys in another unit
        self.key_of = np.array([self.key_index[k.casefold()] for k, _ in variants], dtype=np.int64)
        self.key_name = np.array([k for k, _ in variants], dtype=object)
        self._units: list[list[tuple[int, str]]] = [[] for _ in self.keys]
        for code, (key, unit) in enumerate(variants):
            self._units[self.key_index[key.casefold()]].append((code, unit))
        first = table.drop_duplicates("key").set_index("key")
        self.term = np.array([first.at[k, "term"] for k, _ in variants], dtype=object)
        self.unit = np.array([u for _, u in variants], dtype=object)
        self.direction = np.array([first.at[k, "direction"] for k, _ in variants], dtype=object)
        self.crits: list[list[_Criterion]] = []
        self.relative_only = np.zeros(len(variants), dtype=bool)
        for code, (k, unit) in enumerate(variants):
            rows = compiled[(compiled["key"] == k) & (compiled["unit"] == unit)]
            # pure multiples of ULN / LLN / baseline: graded in any unit the value and its range share
            self.relative_only[code] = bool(((rows["ref"] != "abs") & (rows["offset"] == 0)).all())
            rows = rows.sort_values("grade", ascending=False, kind="stable")
            self.crits.append([
                _Criterion(int(i), int(r.grade), r.op, r.ref, float(r.bound), float(r.offset), float(r.duration_h),
                           float(r.min_count))
                for i, r in zip(rows.index, rows.itertuples(), strict=True)
            ])
        self.refs_of_key = [{c.ref for c in crits} for crits in self.crits]
        self.grade_of_row = np.append(compiled["grade"].to_numpy(dtype=np.int8), np.int8(0))  # crit -1 -> grade 0
        self.ref_of_row = np.append(compiled["ref"].map({r: i for i, r in enumerate(_REFS)}).to_numpy(np.int8), 0)
        self.needs_time = bool(table["duration_h"].notna().any() or table["min_count"].notna().any())
        self.rule_text = np.array(
            [" ".join(f"{r.term} G{r.grade}: {r.ctcae_text}".split()) for r in compiled.itertuples()] + [""],
            dtype=object,
        )

    def units_of(self, key: int) -> list[tuple[int, str]]:
        """(compiled code, unit) of criteria key ``key`` in every unit it has thresholds in, its table unit first."""
        return self._units[key]

    def code(self, names: pd.Series) -> np.ndarray:
        """Criteria key codes for names (criteria keys or admiral's ATOXDSCL/H names), -1 when unknown/blank."""
        codes, uniques = pd.factorize(names.astype(object))
        lookup = np.array([self.key_index.get(str(u).strip().casefold(), -1) for u in uniques] + [-1])
        return lookup[codes]

    @staticmethod
    def _bound(c: _Criterion, uln: np.ndarray, lln: np.ndarray, base: np.ndarray):
        """Bound (a scalar for ``abs``, else an array) and the evaluable mask (None = always)."""
        if c.ref == "abs":
            return c.bound, None
        if c.ref == "uln":
            return c.bound * uln + c.offset, ~np.isnan(uln)
        if c.ref == "lln":
            return c.bound * lln + c.offset, ~np.isnan(lln)
        if c.ref == "base":
            return c.bound * base + c.offset, ~np.isnan(base)
        use_base = base > uln + REL_TOL * np.abs(uln)  # baseline above ULN: measure from baseline
        return c.bound * np.where(use_base, base, uln) + c.offset, ~np.isnan(uln)

    def grade_direction(
        self, keys: np.ndarray, value: np.ndarray, lln: np.ndarray, uln: np.ndarray, base: np.ndarray,
        group: np.ndarray | None = None, hours: np.ndarray | None = None,
        other: Callable[[np.ndarray], tuple[np.ndarray, ...]] | None = None, max_gap_h: float = MAX_GAP_H,
    ) -> dict[str, np.ndarray]:
        """Grade one direction; ``keys`` are compiled codes (-1 none; a criteria key's code is the key in its table
        unit, :meth:`units_of` gives the others). Returns int arrays: grade (-1 = NA), crit (fired row, -1) and
        missing (bitmask of the references a row needed and lacked); :meth:`references` gives the numbers a fired
        row used. ``value``, ``lln``, ``uln``, ``base`` are in the table units; ``other(rows)`` gives (value, LLN,
        ULN, baseline) of the rows whose code is a key in another unit, in that unit (None: every row is in the
        table unit). ``group`` (participant x test codes) and ``hours`` (reading time in hours, NaN unknown) serve
        the rows with ``duration_h`` or ``min_count``; ``max_gap_h`` is the longest gap between two readings of one
        ``duration_h`` run.

        Rows are sorted once by key (numpy's stable sort of small ints is a radix sort, O(n)); each key's rows
        are gathered, per array its criteria need, and only the fired criterion row is recorded per row: the
        grade is read from it afterwards."""
        n = len(keys)
        crit = np.full(n, -1, dtype=np.int32)
        missing = np.zeros(n, dtype=np.int8)
        n_codes = len(self.crits)
        small = (keys + 1).astype(np.int8 if n_codes < 127 else np.int16)
        order = np.argsort(small, kind="stable")
        starts = np.searchsorted(small[order], np.arange(0, n_codes + 2))
        for k in range(n_codes):
            idx = order[starts[k + 1]:starts[k + 2]]
            if not idx.size:
                continue
            refs = self.refs_of_key[k]
            if k >= len(self.keys) and other is not None:
                v, lo, hi, b = other(idx)
            else:
                v = value[idx]
                hi = uln[idx] if refs & {"uln", "uln_or_base"} else None
                lo = lln[idx] if "lln" in refs else None
                b = base[idx] if refs & {"base", "uln_or_base"} else None
            gr = None if group is None else group[idx]
            hr = None if hours is None else hours[idx]
            crit[idx], missing[idx] = self._grade_key(k, v, lo, hi, b, gr, hr, max_gap_h)
        grade = self.grade_of_row[crit]
        unknown = np.isnan(value) | ((crit < 0) & (missing != 0)) | (keys < 0)
        grade[unknown] = -1
        missing[(crit >= 0) | np.isnan(value)] = 0
        return {"grade": grade, "crit": crit, "missing": missing}

    def _grade_key(self, k: int, v: np.ndarray, lo: np.ndarray | None, hi: np.ndarray | None, b: np.ndarray | None,
                   group: np.ndarray | None, hours: np.ndarray | None,
                   max_gap_h: float = MAX_GAP_H) -> tuple[np.ndarray, ...]:
        """Fired criterion row (-1 none) and missing-reference bits of the rows of compiled key ``k``: their values
        and the references its criteria need (None where none needs it), ``group`` / ``hours`` of those rows."""
        size = v.size
        crit = np.full(size, -1, dtype=np.int32)
        miss = np.zeros(size, dtype=np.int8)
        for c in self.crits[k]:  # highest grade first; first row to fire wins
            bound, ok = self._bound(c, hi, lo, b)
            fired = _compare(v, bound, c.op) & (crit < 0)
            if not (np.isnan(c.duration_h) and np.isnan(c.min_count)) and fired.any():
                meets = _compare(v, bound, c.op)
                gr = np.zeros(size, dtype=np.int64) if group is None else group
                hr = np.full(size, np.nan) if hours is None else hours
                untimed = fired & np.isnan(hr)
                if not np.isnan(c.duration_h):
                    fired &= long_runs(meets, gr, hr, c.duration_h, max_gap_h)
                else:
                    fired &= _separate_count(meets, gr, hr) >= c.min_count
                miss[untimed] |= _TIME_BIT
            if ok is not None:
                miss[~ok] |= _MISSING_BITS[c.ref]
            crit[fired] = c.row
        return crit, miss

    def references(self, crit: np.ndarray, lln: np.ndarray, uln: np.ndarray,
                   base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The reference value each fired row used (NaN for absolute bounds and where nothing fired) and whether the
        baseline was that reference (``uln_or_base`` rows with a baseline above the ULN)."""
        kind = self.ref_of_row[crit]
        ref_value = np.where(kind == 2, lln, uln)  # codes of _REFS: 1 uln, 2 lln, 3 base, 4 uln_or_base (below)
        ref_value = np.where(kind == 3, base, ref_value)
        ref_value[kind == 0] = np.nan
        either = kind == 4
        ref_base = np.zeros(len(crit), dtype=bool)
        if either.any():
            hi, b = uln[either], base[either]
            use_base = b > hi + REL_TOL * np.abs(hi)
            ref_value[either] = np.where(use_base, b, hi)
            ref_base[either] = use_base
        return ref_value, ref_base

    def thresholds(self, crit: np.ndarray, ref_value: np.ndarray, ref_base: np.ndarray) -> np.ndarray:
        """Text of the numbers a fired row used, e.g. '> 200 U/L (5 x ULN 40)'; '' where nothing fired.
        Formatted once per distinct (criterion, reference value), from that combination's first row."""
        n = len(crit)
        if n == 0:
            return np.empty(0, dtype=object)
        ref_codes, _ = pd.factorize(ref_value, use_na_sentinel=False)
        nref = int(ref_codes.max()) + 1
        combined = ((crit.astype(np.int64) + 1) * 2 + ref_base) * nref + ref_codes
        codes, uniques = pd.factorize(combined)
        first = np.zeros(len(uniques), dtype=np.int64)
        first[codes[::-1]] = np.arange(n - 1, -1, -1)
        texts = np.array(
            [self._threshold_text(int(crit[p]), float(ref_value[p]), bool(ref_base[p])) for p in first], dtype=object
        )
        return texts[codes]

    def _threshold_text(self, row: int, ref: float, used_base: bool) -> str:
        if row < 0:
            return ""
        r = self._records[row]
        unit = r["unit"]
        if r["ref"] == "abs":
            return f"{r['op']} {_fmt(r['bound'])} {unit}"
        name = {"uln": "ULN", "lln": "LLN", "base": "baseline"}.get(r["ref"]) or ("baseline" if used_base else "ULN")
        bound = r["bound"] * ref + r["offset"]
        how = f"{name} {_fmt(ref)}" if r["bound"] == 1 else f"{_fmt(r['bound'])} x {name} {_fmt(ref)}"
        if r["offset"]:
            how += f" + {_fmt(r['offset'])}"
        return f"{r['op']} {_fmt(bound)} {unit} ({how})"

    def missing_reasons(self, key_low: np.ndarray, miss_low: np.ndarray, key_high: np.ndarray,
                        miss_high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reasons for rows whose grade needs a missing limit or baseline, e.g. 'no ULN to grade Hyperkalemia':
        a code per row (-1 = none) into an array of texts, built once per distinct (keys, missing) combination."""
        nk = len(self.crits) + 1
        out = np.full(len(key_low), -1, dtype=np.int64)
        rows = np.flatnonzero((miss_low != 0) | (miss_high != 0))
        if rows.size == 0:
            return out, np.empty(0, dtype=object)
        combined = (((key_low[rows].astype(np.int64) + 1) * 8 + miss_low[rows]) * nk + key_high[rows] + 1) * 8 + \
            miss_high[rows]
        codes, uniques = pd.factorize(combined)
        texts = np.empty(len(uniques), dtype=object)
        for j, value in enumerate(uniques):
            rest, bits_high = divmod(int(value), 8)
            rest, k_high = divmod(rest, nk)
            k_low, bits_low = divmod(rest, 8)
            parts = [
                f"no {' or '.join(t for b, t in _MISSING_TEXT.items() if bits & b)} to grade {self.key_name[k - 1]}"
                for k, bits in ((k_low, bits_low), (k_high, bits_high)) if bits and k > 0
            ]
            texts[j] = "; ".join(parts)
        out[rows] = codes
        return out, texts


def combine(grade_low: np.ndarray, grade_high: np.ndarray, has_low: np.ndarray, has_high: np.ndarray) -> np.ndarray:
    """Combined grade (-1 = NA): the worse direction; a positive grade is known even if the other direction is NA;
    0 only when every direction with a term is 0. Ties between two positive grades go to the low direction."""
    worst = np.maximum(grade_low, grade_high)
    unknown = (has_low & (grade_low < 0)) | (has_high & (grade_high < 0))
    return np.where((worst <= 0) & unknown, -1, worst).astype(np.int8)


def as_int64(grades: np.ndarray) -> pd.arrays.IntegerArray:
    """-1-coded int array -> pandas nullable Int64 (NA where -1)."""
    return pd.arrays.IntegerArray(grades.astype(np.int64), grades < 0)
