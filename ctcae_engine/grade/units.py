"""Unit normalisation: spellings and per-analyte conversion factors come from ``ctcae_terms/units`` (data).

The grading layer resolves a factor once per distinct (analyte, unit, target unit) with
:func:`conversion_factor` and applies it as one numpy multiplication.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd

from ctcae_terms.units import load_unit_aliases, load_unit_factors

UNITLESS = frozenset({"ratio", "pH"})


def _alias_key(unit: str) -> str:
    return re.sub(r"\s+", "", unit).casefold()


@cache
def _alias_map() -> dict[str, str]:
    table = load_unit_aliases()
    return {_alias_key(a): u for a, u in zip(table["alias"], table["unit"], strict=True)}


@cache
def _factor_table() -> dict[tuple[str, str, str], tuple[float, float, bool]]:
    table = load_unit_factors()
    columns = ["analyte", "from_unit", "to_unit", "factor", "offset", "exact"]
    rows = list(table[columns].itertuples(index=False, name=None))
    out: dict[tuple[str, str, str], tuple[float, float, bool]] = {}
    for analyte, src, dst, factor, offset, exact in rows:  # y = x * f + o  <=>  x = y / f - o / f
        out.setdefault((analyte, dst, src), (1.0 / factor, -offset / factor, exact))
    for analyte, src, dst, factor, offset, exact in rows:
        out[(analyte, src, dst)] = (factor, offset, exact)  # forward rows win over reversed ones
    return out


def _lookup(analyte: str, source: str, target: str) -> tuple[float, float, bool] | None:
    if source == target:
        return (1.0, 0.0, True)
    table = _factor_table()
    for key in ((analyte, source, target), ("*", source, target)):
        if key in table:
            return table[key]
    return None


def normalise_unit(unit: object) -> str | None:
    """Canonical spelling of a unit ("mg/dl" -> "mg/dL", "GI/L" -> "10^9/L"); None when missing or blank."""
    if unit is None or (isinstance(unit, float) and np.isnan(unit)) or unit is pd.NA:
        return None
    text = str(unit).strip()
    if not text:
        return None
    return _alias_map().get(_alias_key(text), text)


def conversion(analyte: str, unit: object, target: str) -> tuple[float, float] | None:
    """(factor, offset) taking ``analyte`` from ``unit`` to ``target``: value_target = value x factor + offset
    (offset is 0 except for temperatures); None if unknown. A missing unit converts only to a unitless target."""
    source = normalise_unit(unit)
    if source is None:
        return (1.0, 0.0) if target in UNITLESS else None
    found = _lookup(analyte, source, target)
    return None if found is None else found[:2]


def nearest_unit(analyte: str, unit: object, candidates: list[str]) -> int | None:
    """Which of ``candidates`` (the units a criterion has thresholds in, its table unit first) a value of ``analyte``
    in ``unit`` is compared in: the unit itself when it is one of them; else the first reached by an exact factor
    (SI prefix, ion charge, cells/uL = 10^6/L); else the first reached by a molar-mass factor; None when none is.
    A missing unit reaches only a unitless candidate."""
    source = normalise_unit(unit)
    if source is None:
        return next((i for i, c in enumerate(candidates) if c in UNITLESS), None)
    if source in candidates:
        return candidates.index(source)
    found = [(i, _lookup(analyte, source, c)) for i, c in enumerate(candidates)]
    reachable = [(i, f[2]) for i, f in found if f is not None]
    exact = [i for i, is_exact in reachable if is_exact]
    if exact:
        return exact[0]
    return reachable[0][0] if reachable else None


def conversion_factor(analyte: str, unit: object, target: str) -> float | None:
    """The multiplicative factor of :func:`conversion` (None if unknown or if the conversion has an offset)."""
    found = conversion(analyte, unit, target)
    return found[0] if found is not None and found[1] == 0 else None
