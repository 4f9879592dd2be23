"""SDTM / ADaM findings -> one canonical observation frame. The column mapping lives here and only here.

Canonical observation columns (one row per input row, same index):

| column | meaning |
|---|---|
| usubjid | participant, as given (object) |
| testcd, dtc | test code (upper case), date/time text as given (Categoricals) |
| adt | date part of dtc (datetime64[ns]; NaT when missing or partial; a numeric ADaM ADT is SAS days) |
| result | the result as given (text or number), for messages |
| value | the result as float (NaN when missing or non-numeric) |
| unit | the result unit as given (Categorical) |
| lln, uln | reference range in the result unit (float) |
| base | baseline in the result unit when the input carries it (ADaM BASE), else NaN |
| baseline_flag | the input flags the row as baseline (LBBLFL / ABLFL / VSBLFL / EGBLFL = Y) |
| fasting | fasting sample (LBFAST = Y) |
| urine | urinalysis / urine specimen (--CAT or --SPEC mentions URIN) |
| at_rest | recorded at rest (--TPT, --POS or --CAT mentions REST) |
| adtm | date and time of dtc (datetime64[ns]; date-only -> midnight; NaT when missing or partial) |
| term_low_given, term_high_given | ADaM ATOXDSCL / ATOXDSCH when present (Categoricals) |
| given_terms | the input carries ATOXDSCL / ATOXDSCH columns |
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ctcae_engine.read.columns import clean, factorize, first
from ctcae_engine.read.dates import to_date, to_datetime

# source column per canonical field, in order of preference, per input kind
_LB_STANDARD = {"result": ["LBSTRESN", "LBSTRESC"], "unit": ["LBSTRESU"], "lln": ["LBSTNRLO"], "uln": ["LBSTNRHI"]}
_LB_ORIGINAL = {"result": ["LBORRES"], "unit": ["LBORRESU"], "lln": ["LBORNRLO"], "uln": ["LBORNRHI"]}
_ADLB = {"result": ["AVAL", "AVALC"], "unit": ["AVALU"], "lln": ["ANRLO"], "uln": ["ANRHI"], "base": ["BASE"]}
_VS_STANDARD = {"result": ["VSSTRESN", "VSSTRESC"], "unit": ["VSSTRESU"], "lln": ["VSSTNRLO"], "uln": ["VSSTNRHI"]}
_VS_ORIGINAL = {"result": ["VSORRES"], "unit": ["VSORRESU"], "lln": ["VSORNRLO"], "uln": ["VSORNRHI"]}
_EG_STANDARD = {"result": ["EGSTRESN", "EGSTRESC"], "unit": ["EGSTRESU"], "lln": ["EGSTNRLO"], "uln": ["EGSTNRHI"]}
_EG_ORIGINAL = {"result": ["EGORRES"], "unit": ["EGORRESU"], "lln": ["EGORNRLO"], "uln": ["EGORNRHI"]}


def detect_kind(df: pd.DataFrame) -> str:
    """'ADAM' (PARAMCD + AVAL), or the SDTM findings prefix 'LB' / 'VS' / 'EG' (from --TESTCD, or for a graded
    frame, which has ``testcd``, from its --STRESN / --STRESC / --ORRES columns)."""
    cols = set(df.columns)
    if {"PARAMCD", "AVAL"} <= cols:
        return "ADAM"
    for prefix in ("LB", "VS", "EG"):
        if f"{prefix}TESTCD" in cols:
            return prefix
    if "testcd" in cols:  # a graded-observations frame: its input columns tell the domain
        for prefix in ("LB", "VS", "EG"):
            if {f"{prefix}STRESN", f"{prefix}STRESC", f"{prefix}ORRES"} & cols:
                return prefix
    raise ValueError(
        "cannot tell the input kind: expected ADaM (PARAMCD, AVAL) or SDTM LB/VS/EG (--TESTCD) columns; "
        f"got {sorted(cols)[:12]}"
    )


def categorical(series: pd.Series | None, n: int, upper: bool = False) -> pd.Categorical:
    """Stripped text as a Categorical (blank -> missing), cleaning each distinct value once."""
    if series is None:
        return pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), categories=pd.Index([], dtype=object),
                                         validate=False)
    if isinstance(series.dtype, pd.CategoricalDtype):  # already coded: reuse the codes
        codes, uniques = series.cat.codes.to_numpy(), series.cat.categories
    else:
        codes, uniques = factorize(series)
    cleaned = [clean(u) for u in uniques]
    if upper:
        cleaned = [c.upper() if c is not None else None for c in cleaned]
    cat_codes, cats = pd.factorize(pd.Series(cleaned, dtype=object), use_na_sentinel=True)
    return pd.Categorical.from_codes(np.append(cat_codes, -1)[codes], categories=pd.Index(cats, dtype=object),
                                     validate=False)  # codes are in range by construction


def _object(series: pd.Series | None, n: int) -> np.ndarray:
    """Values as an object array (no per-value work); all None when the column is absent."""
    return np.full(n, None, dtype=object) if series is None else series.to_numpy(dtype=object)


def _flag(series: pd.Series | None, n: int, test) -> np.ndarray:
    """Boolean per row: ``test`` applied to each distinct stripped upper-case value."""
    if series is None:
        return np.zeros(n, dtype=bool)
    codes, uniques = factorize(series)
    hits = np.array([bool(test(c.upper())) if c is not None else False for c in map(clean, uniques)] + [False])
    return hits[codes]


def to_float(series: pd.Series | None, n: int) -> np.ndarray:
    """Float array; NaN for missing or non-numeric text (parsing each distinct text once)."""
    if series is None:
        return np.full(n, np.nan)
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    codes, uniques = factorize(series)
    texts = pd.Series(np.asarray(uniques, dtype=object)).map(clean)
    values = pd.to_numeric(texts, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    for i in np.flatnonzero(np.isnan(values) & texts.notna().to_numpy()):  # "1e400": a number beyond float range
        values[i] = _overflowing(texts.iloc[i])
    return np.append(values, np.nan)[codes]


def _overflowing(text: str) -> float:
    """A numeric text pandas refuses because it overflows ("1e400" -> inf, "-1e400" -> -inf), so that it is an
    implausible result like "inf", not a non-numeric one; NaN for anything that is not a number."""
    try:
        return float(text) if any(c.isdigit() for c in text) else np.nan
    except ValueError:
        return np.nan


def _unit_from_param(param: pd.Series | None, n: int) -> pd.Categorical:
    """ADaM PARAM such as 'Albumin (g/L)' -> 'g/L', row by row (parsed once per distinct PARAM): a PARAMCD whose
    PARAM names different units on different rows keeps each row's own unit."""
    if param is None:
        return categorical(None, n)
    codes, uniques = factorize(param)
    found = [re.search(r"\(([^()]*)\)\s*$", str(u)) for u in uniques]
    names = pd.Series([m.group(1).strip() if m else None for m in found] + [None], dtype=object)
    unit_codes, unit_names = pd.factorize(names, use_na_sentinel=True)
    return pd.Categorical.from_codes(unit_codes[codes], categories=pd.Index(unit_names, dtype=object))


def observations(df: pd.DataFrame, result: str = "standard") -> pd.DataFrame:
    """Canonical observation frame (see module docstring) from SDTM LB/VS/EG or ADaM BDS (ADLB, ADVS, ADEG).

    ``result`` chooses the SDTM result: "standard" (--STRESN/--STRESU/--STNRLO/HI) or "original"
    (--ORRES/--ORRESU/--ORNRLO/HI). ADaM always uses AVAL, AVALU (else the unit in PARAM's parentheses),
    ANRLO/ANRHI, BASE, ABLFL. Text columns come back as Categoricals (cheap to group and map).
    """
    if result not in ("standard", "original"):
        raise ValueError(f"result must be 'standard' or 'original', not {result!r}")
    kind = detect_kind(df)
    n = len(df)
    if kind == "ADAM":
        cols, testcd = _ADLB, df["PARAMCD"]
        dtc = first(df, "ADTM", "ADT", "LBDTC", "VSDTC", "EGDTC")
        blfl, fasting = first(df, "ABLFL"), first(df, "LBFAST")
        category, specimen = first(df, "LBCAT", "PARCAT1"), first(df, "LBSPEC")
        rest_cols = [first(df, "ATPT"), first(df, "VSPOS", "EGPOS")]
    else:
        p = kind
        table = {"LB": (_LB_STANDARD, _LB_ORIGINAL), "VS": (_VS_STANDARD, _VS_ORIGINAL),
                 "EG": (_EG_STANDARD, _EG_ORIGINAL)}[kind]
        cols = table[0] if result == "standard" else table[1]
        testcd, dtc = first(df, f"{p}TESTCD", "testcd"), first(df, f"{p}DTC")
        blfl, fasting = first(df, f"{p}BLFL"), first(df, f"{p}FAST")
        category, specimen = first(df, f"{p}CAT"), first(df, f"{p}SPEC")
        rest_cols = [first(df, f"{p}TPT"), first(df, f"{p}POS")]
    raw = first(df, *cols["result"][:1])
    value = to_float(raw, n)
    shown = raw.to_numpy() if raw is not None else np.full(n, None, dtype=object)
    if len(cols["result"]) > 1:  # fall back to the character result (e.g. "<0.5") where the numeric one is empty
        alt_col = first(df, *cols["result"][1:])
        if alt_col is not None:
            use_alt = np.isnan(value) & ~categorical(alt_col, n).isna()
            if use_alt.any():
                value = np.where(use_alt, to_float(alt_col, n), value)
                shown = np.where(use_alt, alt_col.to_numpy(dtype=object), shown.astype(object))
    unit = categorical(first(df, *cols["unit"]), n)
    test_cat = categorical(testcd, n, upper=True)
    if kind == "ADAM" and unit.isna().any():
        from_param = _unit_from_param(first(df, "PARAM"), n)
        if unit.isna().all():
            unit = from_param
        else:
            unit = categorical(pd.Series(np.where(unit.isna(), np.asarray(from_param), np.asarray(unit)),
                                         dtype=object), n)
    urine = _flag(category, n, lambda c: c and "URIN" in c) | _flag(specimen, n, lambda c: c and "URIN" in c)
    at_rest = _flag(category, n, lambda c: c and "REST" in c)
    for column in rest_cols:
        at_rest |= _flag(column, n, lambda c: c and "REST" in c)
    if dtc is not None and pd.api.types.is_datetime64_any_dtype(dtc.dtype):
        dtc_text = categorical(dtc.dt.strftime("%Y-%m-%dT%H:%M:%S"), n)
    else:
        dtc_text = categorical(dtc, n)
    no_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    return pd.DataFrame(
        {
            "usubjid": _object(first(df, "USUBJID"), n),
            "testcd": test_cat,
            "dtc": dtc_text,
            "adt": to_date(dtc, sas_days=str(dtc.name).upper().endswith("DT")).to_numpy() if dtc is not None
            else no_date,  # a numeric ADaM *DT (XPT without a date format) counts days from 1960-01-01
            "result": shown,
            "value": value,
            "unit": unit,
            "lln": to_float(first(df, *cols["lln"]), n),
            "uln": to_float(first(df, *cols["uln"]), n),
            "base": to_float(first(df, *cols.get("base", [])), n),
            "baseline_flag": _flag(blfl, n, lambda c: c == "Y"),
            "fasting": _flag(fasting, n, lambda c: c == "Y"),
            "urine": urine,
            "at_rest": at_rest,
            "adtm": to_datetime(dtc).to_numpy() if dtc is not None else no_date,
            "term_low_given": categorical(first(df, "ATOXDSCL"), n),
            "term_high_given": categorical(first(df, "ATOXDSCH"), n),
            "given_terms": np.full(n, bool({"ATOXDSCL", "ATOXDSCH"} & set(df.columns))),
        },
        index=df.index,
        copy=False,  # each column stays its own array: no consolidation copies
    )
