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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ctcae_terms.criteria import load_lab_criteria

REL_TOL = 1e-12
_MISSING_BITS = {"uln": 1, "lln": 2, "base": 4, "uln_or_base": 1}
_TIME_BIT = 8
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


def _long_runs(cond: np.ndarray, group: np.ndarray, hours: np.ndarray, longer_than: float) -> np.ndarray:
    """Rows meeting ``cond`` that belong to a run of consecutive (in time, per group) readings all meeting it whose
    first-to-last span exceeds ``longer_than`` hours. Rows without a time are left out."""
    timed = ~np.isnan(hours)
    order = np.flatnonzero(timed)[np.lexsort((hours[timed], group[timed]))]
    c, g = cond[order], group[order]
    start = c & ~(np.r_[False, c[:-1]] & np.r_[False, g[1:] == g[:-1]])
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
    """A compiled criteria table. ``keys`` are the criteria keys; rows refer to them by integer code."""

    def __init__(self, criteria: pd.DataFrame | None = None) -> None:
        table = (load_lab_criteria() if criteria is None else criteria).reset_index(drop=True)
        for column in ("duration_h", "min_count"):
            if column not in table.columns:
                table[column] = np.nan
        self.table = table
        self.keys: list[str] = list(dict.fromkeys(table["key"]))
        self.key_index = {k.casefold(): i for i, k in enumerate(self.keys)}
        first = table.drop_duplicates("key").set_index("key")
        self.term = np.array([first.at[k, "term"] for k in self.keys], dtype=object)
        self.unit = np.array([first.at[k, "unit"] for k in self.keys], dtype=object)
        self.direction = np.array([first.at[k, "direction"] for k in self.keys], dtype=object)
        self.relative_only = np.array([(table.loc[table["key"] == k, "ref"] != "abs").all() for k in self.keys])
        self.crits: list[list[_Criterion]] = []
        for k in self.keys:
            rows = table[table["key"] == k].sort_values("grade", ascending=False, kind="stable")
            self.crits.append([
                _Criterion(int(i), int(r.grade), r.op, r.ref, float(r.bound), float(r.offset), float(r.duration_h),
                           float(r.min_count))
                for i, r in zip(rows.index, rows.itertuples(), strict=True)
            ])
        self.needs_time = bool(table["duration_h"].notna().any() or table["min_count"].notna().any())
        self.rule_text = np.array(
            [" ".join(f"{r.term} G{r.grade}: {r.ctcae_text}".split()) for r in table.itertuples()] + [""], dtype=object
        )

    def code(self, names: pd.Series) -> np.ndarray:
        """Criteria key codes for names (criteria keys or admiral's ATOXDSCL/H names), -1 when unknown/blank."""
        codes, uniques = pd.factorize(names.astype(object))
        lookup = np.array([self.key_index.get(str(u).strip().casefold(), -1) for u in uniques] + [-1])
        return lookup[codes]

    def _bound(self, c: _Criterion, uln: np.ndarray, lln: np.ndarray, base: np.ndarray):
        """Bound array, evaluable mask (None = always), and whether baseline was the reference (uln_or_base)."""
        if c.ref == "abs":
            return np.full(len(uln), c.bound), None, None
        if c.ref == "uln":
            return c.bound * uln + c.offset, ~np.isnan(uln), None
        if c.ref == "lln":
            return c.bound * lln + c.offset, ~np.isnan(lln), None
        if c.ref == "base":
            return c.bound * base + c.offset, ~np.isnan(base), None
        use_base = base > uln + REL_TOL * np.abs(uln)  # baseline above ULN: measure from baseline
        ref = np.where(use_base, base, uln)
        return c.bound * ref + c.offset, ~np.isnan(uln), use_base

    def grade_direction(
        self, keys: np.ndarray, value: np.ndarray, lln: np.ndarray, uln: np.ndarray, base: np.ndarray,
        group: np.ndarray | None = None, hours: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Grade one direction. Returns int arrays: grade (-1 = NA), crit (fired row, -1), missing (bitmask),
        ref_value (the reference the fired row used, NaN for abs) and ref_base (baseline was the reference).
        ``group`` (participant x test codes) and ``hours`` (reading time in hours, NaN unknown) serve the rows
        with ``duration_h`` or ``min_count``."""
        n = len(keys)
        if group is None:
            group = np.zeros(n, dtype=np.int64)
        if hours is None:
            hours = np.full(n, np.nan)
        grade = np.full(n, -1, dtype=np.int8)
        crit = np.full(n, -1, dtype=np.int32)
        missing = np.zeros(n, dtype=np.int8)
        ref_value = np.full(n, np.nan)
        ref_base = np.zeros(n, dtype=bool)
        small = (keys + 1).astype(np.int16)  # small ints: numpy's stable sort is a radix sort, O(n)
        order = np.argsort(small, kind="stable")
        starts = np.searchsorted(small[order], np.arange(0, len(self.keys) + 2))
        for k in range(len(self.keys)):
            idx = order[starts[k + 1]:starts[k + 2]]
            if idx.size == 0:
                continue
            v, lo, hi, b = value[idx], lln[idx], uln[idx], base[idx]
            g = np.zeros(idx.size, dtype=np.int8)
            c_out = np.full(idx.size, -1, dtype=np.int32)
            r_out = np.full(idx.size, np.nan)
            rb_out = np.zeros(idx.size, dtype=bool)
            done = np.zeros(idx.size, dtype=bool)
            miss = np.zeros(idx.size, dtype=np.int8)
            for c in self.crits[k]:  # highest grade first; first row to fire wins
                bound, ok, used_base = self._bound(c, hi, lo, b)
                fired = _compare(v, bound, c.op) & ~done
                if not (np.isnan(c.duration_h) and np.isnan(c.min_count)) and fired.any():
                    meets, gr, hr = _compare(v, bound, c.op), group[idx], hours[idx]
                    untimed = fired & np.isnan(hr)
                    if not np.isnan(c.duration_h):
                        fired &= _long_runs(meets, gr, hr, c.duration_h)
                    else:
                        fired &= _separate_count(meets, gr, hr) >= c.min_count
                    miss |= np.where(untimed, _TIME_BIT, 0).astype(np.int8)
                if ok is not None:
                    miss |= np.where(ok, 0, _MISSING_BITS[c.ref]).astype(np.int8)
                if fired.any():
                    g[fired] = c.grade
                    c_out[fired] = c.row
                    if c.ref != "abs":
                        src = {"uln": hi, "lln": lo, "base": b}.get(c.ref)
                        if src is None:
                            src = np.where(used_base, b, hi)
                            rb_out[fired] = used_base[fired]
                        r_out[fired] = src[fired]
                    done |= fired
            unknown = np.isnan(v) | (~done & (miss != 0))
            g[unknown] = -1
            miss[done | np.isnan(v)] = 0
            grade[idx], crit[idx], missing[idx], ref_value[idx], ref_base[idx] = g, c_out, miss, r_out, rb_out
        return {"grade": grade, "crit": crit, "missing": missing, "ref_value": ref_value, "ref_base": ref_base}

    def thresholds(self, crit: np.ndarray, ref_value: np.ndarray, ref_base: np.ndarray) -> np.ndarray:
        """Text of the numbers a fired row used, e.g. '> 200 U/L (5 x ULN 40)'; '' where nothing fired.
        Formatted once per distinct (criterion, reference value)."""
        out = np.full(len(crit), "", dtype=object)
        fired = np.flatnonzero(crit >= 0)
        if fired.size == 0:
            return out
        ref_codes, _ = pd.factorize(ref_value[fired], use_na_sentinel=False)
        nref = int(ref_codes.max()) + 1
        combined = (crit[fired].astype(np.int64) * 2 + ref_base[fired]) * nref + ref_codes
        codes, uniques = pd.factorize(combined)
        first = np.zeros(len(uniques), dtype=np.int64)
        first[codes[::-1]] = fired[::-1]
        texts = np.array(
            [self._threshold_text(int(crit[p]), float(ref_value[p]), bool(ref_base[p])) for p in first], dtype=object
        )
        out[fired] = texts[codes]
        return out

    def _threshold_text(self, row: int, ref: float, used_base: bool) -> str:
        if row < 0:
            return ""
        r = self.table.loc[row]
        unit = r["unit"]
        if r["ref"] == "abs":
            return f"{r['op']} {_fmt(r['bound'])} {unit}"
        name = {"uln": "ULN", "lln": "LLN", "base": "baseline"}.get(r["ref"]) or ("baseline" if used_base else "ULN")
        bound = r["bound"] * ref + r["offset"]
        how = f"{name} {_fmt(ref)}" if r["bound"] == 1 else f"{_fmt(r['bound'])} x {name} {_fmt(ref)}"
        if r["offset"]:
            how += f" + {_fmt(r['offset'])}"
        return f"{r['op']} {_fmt(bound)} {unit} ({how})"

    def missing_text(self, key_low: np.ndarray, miss_low: np.ndarray, key_high: np.ndarray,
                     miss_high: np.ndarray) -> np.ndarray:
        """Reason text for rows whose grade needs a missing limit or baseline, e.g. 'no ULN to grade
        Hyperkalemia'; '' elsewhere. Built once per distinct (keys, missing) combination."""
        nk = len(self.keys) + 1
        out = np.full(len(key_low), "", dtype=object)
        rows = np.flatnonzero((miss_low != 0) | (miss_high != 0))
        if rows.size == 0:
            return out
        combined = (((key_low[rows].astype(np.int64) + 1) * 8 + miss_low[rows]) * nk + key_high[rows] + 1) * 8 + \
            miss_high[rows]
        codes, uniques = pd.factorize(combined)
        texts = np.empty(len(uniques), dtype=object)
        for j, value in enumerate(uniques):
            rest, bits_high = divmod(int(value), 8)
            rest, k_high = divmod(rest, nk)
            k_low, bits_low = divmod(rest, 8)
            parts = [
                f"no {' or '.join(t for b, t in _MISSING_TEXT.items() if bits & b)} to grade {self.keys[k - 1]}"
                for k, bits in ((k_low, bits_low), (k_high, bits_high)) if bits and k > 0
            ]
            texts[j] = "; ".join(parts)
        out[rows] = texts[codes]
        return out


def combine(grade_low: np.ndarray, grade_high: np.ndarray, has_low: np.ndarray, has_high: np.ndarray) -> np.ndarray:
    """Combined grade (-1 = NA): the worse direction; a positive grade is known even if the other direction is NA;
    0 only when every direction with a term is 0. Ties between two positive grades go to the low direction."""
    worst = np.maximum(grade_low, grade_high)
    unknown = (has_low & (grade_low < 0)) | (has_high & (grade_high < 0))
    return np.where((worst <= 0) & unknown, -1, worst).astype(np.int8)


def as_int64(grades: np.ndarray) -> pd.arrays.IntegerArray:
    """-1-coded int array -> pandas nullable Int64 (NA where -1)."""
    return pd.arrays.IntegerArray(grades.astype(np.int64), grades < 0)
