"""Grading of findings in pandas: ``grade_labs``, ``grade_vitals``, ``grade_ecg`` (pure pandas; the public doors in
:mod:`ctcae_engine.api` also take Dask frames and add the ``df.ctcae`` accessor).

Contract: docs/ARCHITECTURE.md (graded observations).

Flow: canonical observations -> criteria keys (test map, or the input's ATOXDSCL/ATOXDSCH) -> units converted to
each rule's table unit (``value_si``) and, per direction, the unit the record is compared in (unit_systems) ->
baseline (given, flagged, or derived from first dose) -> rules.LabRules grades both directions (censored results
at both ends of their range, censored) -> one output row per input row, with the rule that fired or the reason it
could not.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np
import pandas as pd

from ctcae_engine.grade import censored, plausibility, unit_systems, units
from ctcae_engine.grade.rules import MAX_GAP_H, LabRules, as_int64, combine
from ctcae_engine.read import canonical
from ctcae_engine.read.columns import shorten
from ctcae_engine.read.dates import to_date
from ctcae_terms.criteria import load_clinical_criteria, load_clinical_test_map, load_lab_test_map

OUTPUT_COLUMNS = [
    "usubjid", "testcd", "dtc", "adt", "value_si", "unit_si", "lln_si", "uln_si", "base_si", "baseline",
    "term_low", "grade_low", "term_high", "grade_high", "term", "grade", "rule", "thresholds", "reason",
]


def base_usable(base_si: np.ndarray) -> bool:
    """The frame-wide BASE rule: an ADaM input grades every row from its BASE as soon as one row has a BASE that
    converts to its rule's unit (``base_si`` not NaN); otherwise baselines come from the flags or the first dose."""
    return not np.isnan(base_si).all()


@cache
def _default_rules(kind: str = "lab") -> LabRules:
    return LabRules() if kind == "lab" else LabRules(load_clinical_criteria())


def _test_map(rules: LabRules, mapping: pd.DataFrame | Mapping | None, kind: str = "lab") -> pd.DataFrame:
    """Default test map with the caller's rows taking precedence. A dict maps TESTCD -> (key_low, key_high)."""
    table = load_lab_test_map() if kind == "lab" else load_clinical_test_map()
    if mapping is not None:
        if isinstance(mapping, Mapping):  # analyte (for unit factors) kept from the default row of that code
            known = dict(zip(table["testcd"], table["analyte"], strict=True))
            extra = pd.DataFrame(
                [{"testcd": t, "specimen": "", "fasting": "", "analyte": known.get(str(t).strip().upper(), t),
                  "key_low": lo or "", "key_high": hi or ""} for t, (lo, hi) in mapping.items()]
            )
        else:
            extra = pd.DataFrame(mapping).fillna("").astype(str)
            for column in ("specimen", "fasting", "key_low", "key_high"):
                if column not in extra.columns:
                    extra[column] = ""
            if "analyte" not in extra.columns:
                extra["analyte"] = extra["testcd"]
        table = pd.concat([extra, table], ignore_index=True)
    table["testcd"] = table["testcd"].str.strip().str.upper()
    table = table.drop_duplicates(["testcd", "specimen", "fasting"], keep="first").reset_index(drop=True)
    for direction in ("key_low", "key_high"):
        names = table[direction].replace("", None)
        unknown = names.notna() & (rules.code(names) < 0)
        if unknown.any():
            raise ValueError(f"test map names criteria that do not exist: {sorted(names[unknown].unique())}")
        table[f"{direction}_code"] = rules.code(names)
    return table


def _lookup_map(obs: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """Row of the test map for each observation (-1 = not mapped); specific rows (urine, fasting) first."""
    triples = table[["testcd", "specimen", "fasting"]].itertuples(index=False, name=None)
    exact = {triple: i for i, triple in enumerate(triples)}
    testcd = obs["testcd"].array
    context = obs["at_rest"].to_numpy().astype(np.int64) * 2  # 0 blood, 1 urine, 2 at rest
    context[obs["urine"].to_numpy()] = 1
    combined = ((testcd.codes.astype(np.int64) + 1) * 3 + context) * 2 + obs["fasting"].to_numpy()
    names = [None, *testcd.categories]  # slot 0: blank test code
    def row(name: str | None, spec: str, fast: str) -> int:
        found = exact.get((name, spec, fast), exact.get((name, spec, ""), -1))
        if found < 0 and spec == "REST":  # "at rest" narrows a test only where the map says so (SpO2)
            found = exact.get((name, "", fast), exact.get((name, "", ""), -1))
        return found

    # one look-up per (test code, context, fasting), in the order of ``combined``
    rows = [row(name, spec, fast) for name in names for spec in ("", "URINE", "REST") for fast in ("", "Y")]
    return np.array(rows, dtype=np.int64)[combined]


class _Reasons:
    """Per-row reason as an integer code into a list of texts (0 = no reason), filled first-come."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int32)
        self.texts: list[str] = [""]

    @property
    def none(self) -> np.ndarray:
        return self.code == 0

    def add(self, rows: np.ndarray, labels: np.ndarray | list, make) -> None:
        """Give rows without a reason yet the text ``make(label)`` of their label."""
        rows = rows & self.none
        if not rows.any():
            return
        picked = np.asarray(labels)[rows]  # only the rows concerned become Python objects
        codes, uniques = pd.factorize(pd.Series(picked, dtype=object), use_na_sentinel=False)
        first = len(self.texts)
        self.texts.extend(make(u) for u in uniques)
        self.code[rows] = first + codes

    def array(self) -> np.ndarray:
        return np.array(self.texts, dtype=object)[self.code]


def _first_dose_dates(first_dose: object) -> dict[str, np.datetime64]:
    """usubjid -> first dose date, from a mapping, a Series indexed by USUBJID, or DM/ADSL with a start column."""
    if first_dose is None:
        return {}
    if isinstance(first_dose, pd.DataFrame):
        cols = {c.upper(): c for c in first_dose.columns}
        start = next((cols[c] for c in ("RFXSTDTC", "RFSTDTC", "TRTSDTM", "TRTSDT") if c in cols), None)
        if "USUBJID" not in cols or start is None:
            raise ValueError("first_dose frame needs USUBJID and one of RFXSTDTC, RFSTDTC, TRTSDTM, TRTSDT")
        series = pd.Series(first_dose[start].to_numpy(), index=first_dose[cols["USUBJID"]].astype(str))
    elif isinstance(first_dose, pd.Series):
        series = first_dose.copy()
    elif isinstance(first_dose, Mapping):
        series = pd.Series(dict(first_dose), dtype=object)
    else:
        raise TypeError("first_dose must be a mapping, a Series indexed by USUBJID, or a DM/ADSL DataFrame")
    dates = to_date(pd.Series(series.to_numpy(), dtype=object)
                    if not pd.api.types.is_datetime64_any_dtype(series.dtype) else series).to_numpy()
    return {str(k).strip(): d for k, d in zip(series.index, dates, strict=True) if not np.isnat(d)}


def derive_baseline(obs: pd.DataFrame, value: np.ndarray, first_dose: object = None) -> tuple[np.ndarray, np.ndarray]:
    """Baseline value per row and the baseline-record flag, per participant x test.

    The flagged record (--BLFL / ABLFL = Y) is the baseline; where a participant's test has no flagged record and
    ``first_dose`` is given, the baseline is the last non-missing value dated on or before the first-dose date
    (same-day samples count as pre-dose; partial dates never qualify).
    """
    n = len(obs)
    subj_cat = canonical.categorical(pd.Series(obs["usubjid"].to_numpy(dtype=object)), n)
    subj, subjects = subj_cat.codes, subj_cat.categories
    test = obs["testcd"].array.codes.astype(np.int64)
    group, _ = pd.factorize((subj.astype(np.int64) + 1) * (len(obs["testcd"].array.categories) + 1) + test + 1)
    n_groups = int(group.max()) + 1 if n else 0
    position = np.arange(n)
    has_value = ~np.isnan(value)
    flagged = obs["baseline_flag"].to_numpy() & has_value
    chosen = np.zeros(n, dtype=bool)
    if flagged.any():
        last = pd.Series(position[flagged]).groupby(group[flagged]).max()
        chosen[last.to_numpy()] = True
    dates = _first_dose_dates(first_dose)
    if dates and n:
        done = np.zeros(n_groups, dtype=bool)
        done[group[chosen]] = True
        dose = np.array([dates.get(str(s), np.datetime64("NaT")) for s in subjects] + [np.datetime64("NaT")],
                        dtype="datetime64[ns]")[subj]
        adt = obs["adt"].to_numpy(dtype="datetime64[ns]")
        cand = has_value & ~done[group] & ~np.isnat(adt) & ~np.isnat(dose) & (adt <= dose)
        if cand.any():
            frame = pd.DataFrame({"g": group[cand], "adt": adt[cand], "pos": position[cand]})
            last = frame.sort_values(["g", "adt", "pos"]).drop_duplicates("g", keep="last")["pos"].to_numpy()
            chosen[last] = True
    base_of_group = np.full(n_groups, np.nan)
    base_of_group[group[chosen]] = value[chosen]
    return (base_of_group[group] if n else np.empty(0)), chosen


def grade_labs(
    df: pd.DataFrame,
    *,
    first_dose: object = None,
    mapping: pd.DataFrame | Mapping | None = None,
    result: str = "standard",
    use_given_terms: bool = True,
    criteria: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Grade lab results by CTCAE v4.03; one output row per input row (same index and order).

    ``df``: SDTM LB or ADaM ADLB (see canonical.observations). ``first_dose``: per-participant first dose /
    infusion date (dict, Series indexed by USUBJID, or DM with RFXSTDTC) used to derive a baseline where none is
    flagged or given. ``mapping``: extra or replacement test-map rows (DataFrame like ctcae_terms' lab_test_map.csv,
    or {TESTCD: (key_low, key_high)}). ``result``: SDTM "standard" or "original" result columns.
    ``use_given_terms``: honour ADaM ATOXDSCL/ATOXDSCH when present. ``criteria``: a replacement criteria table.
    """
    return grade_observations(df, "lab", first_dose=first_dose, mapping=mapping, result=result,
                              use_given_terms=use_given_terms, criteria=criteria)


def grade_vitals(
    df: pd.DataFrame,
    *,
    first_dose: object = None,
    mapping: pd.DataFrame | Mapping | None = None,
    result: str = "standard",
    assume_at_rest: bool = False,
    criteria: pd.DataFrame | None = None,
    fever_max_gap_h: float = MAX_GAP_H,
) -> pd.DataFrame:
    """Grade SDTM VS / ADaM ADVS rows: Fever (TEMP), Hypertension (SYSBP, DIABP), Weight loss / gain (WEIGHT, from
    baseline), Hypoxia (OXYSAT at rest). Same output contract and arguments as :func:`grade_labs`;
    ``assume_at_rest`` declares every SpO2 reading as taken at rest (else VSTPT/VSPOS/VSCAT must say REST).
    ``fever_max_gap_h``: Fever G4 ">40.0 degrees C for >24 hrs" counts a run of consecutive readings > 40.0 C only
    while no two consecutive readings are more than this many hours apart."""
    return grade_observations(df, "clinical", first_dose=first_dose, mapping=mapping, result=result,
                              criteria=criteria, assume_at_rest=assume_at_rest, fever_max_gap_h=fever_max_gap_h)


QTC_PAIRING = ("USUBJID", "EGDTC", "VISITNUM", "EGTPTNUM", "EGTPT", "EGREFID", "EGGRPID")
"""The columns (those present) that identify one ECG: a QT row pairs with the RR rows sharing all of them."""
QTCF_RULE = "QTcF derived (Fridericia): QT / (RR / 1000 ms)^(1/3)"
"""Start of the ``rule`` text of every row graded from a derived QTcF."""


def grade_ecg(
    df: pd.DataFrame,
    *,
    first_dose: object = None,
    mapping: pd.DataFrame | Mapping | None = None,
    result: str = "standard",
    criteria: pd.DataFrame | None = None,
    derive_qtcf: bool | str = False,
) -> pd.DataFrame:
    """Grade SDTM EG / ADaM ADEG rows: Electrocardiogram QT corrected interval prolonged (QTCF, QTCB, QTC...).
    Grade 3 needs >= 501 ms on at least two separate ECGs (distinct date/times) of the participant.

    ``derive_qtcf``: SDTM EG without a QTc: each QT row (ms) paired with the RR rows (ms) of the same ECG (the same
    values in every column of :data:`QTC_PAIRING` the frame has; mean RR when replicated) is graded as
    QTcF = QT / (RR / 1000 ms)^(1/3) (Fridericia); its ``testcd`` becomes QTCF and its ``rule`` starts with
    :data:`QTCF_RULE` and the QT and RR used, while the input columns stay as given. True derives for every
    participant (refused without the SDTM standard-result columns); "auto" only for participants with no QTc row
    of their own (a test the test map grades as QTc), and not at all when the SDTM columns are absent."""
    if derive_qtcf not in (True, False, "auto"):
        raise ValueError(f"derive_qtcf must be True, False or 'auto', not {derive_qtcf!r}")
    needed = ("USUBJID", "EGDTC", "EGTESTCD", "EGSTRESN", "EGSTRESU")
    missing = [column for column in needed if column not in df.columns]
    if derive_qtcf is True and (result != "standard" or missing):
        raise ValueError("derive_qtcf works on SDTM EG standard results (USUBJID, EGDTC, EGTESTCD, EGSTRESN, "
                         f"EGSTRESU){'; missing: ' + ', '.join(missing) if missing else ''}")
    if not derive_qtcf or result != "standard" or missing:
        return grade_observations(df, "clinical", first_dose=first_dose, mapping=mapping, result=result,
                                  criteria=criteria)
    given, df = df, df.reset_index(drop=True)  # rows matched by position: index labels may repeat (Dask, concat)
    code = df["EGTESTCD"].astype("string").str.strip().str.upper()
    value = pd.to_numeric(df["EGSTRESN"], errors="coerce")
    unit = df["EGSTRESU"].astype("string").str.strip().str.lower()
    in_ms = unit.isin(["ms", "msec"])
    key = df["USUBJID"].astype("string").fillna("")
    for column in QTC_PAIRING[1:]:
        if column in df.columns:
            key = key + "|" + df[column].astype("string").fillna("")
    is_rr = code.eq("RR") & in_ms & value.notna()
    rr = value[is_rr].groupby(key[is_rr]).mean()
    is_qt = code.eq("QT")
    if derive_qtcf == "auto":  # participants with a QTc of their own keep it
        qtc_codes = _qtc_test_codes(mapping)
        subject = df["USUBJID"].astype("string").fillna("")
        is_qt &= ~subject.isin(set(subject[code.isin(qtc_codes)]))
    candidates = is_qt.copy()
    is_qt &= in_ms & value.notna()
    rr_of_qt = key[is_qt].map(rr)
    use = rr_of_qt.notna() & rr_of_qt.gt(0)
    rows = rr_of_qt[use].index
    derived = df.copy()
    derived["EGTESTCD"] = derived["EGTESTCD"].astype(object)
    derived.loc[rows, "EGTESTCD"] = "QTCF"
    derived["EGSTRESN"] = pd.to_numeric(derived["EGSTRESN"], errors="coerce").astype("float64")
    derived.loc[rows, "EGSTRESN"] = value[rows] / np.cbrt(rr_of_qt[use] / 1000.0)
    out = grade_observations(derived, "clinical", first_dose=first_dose, mapping=mapping, result=result,
                             criteria=criteria)
    for column in df.columns:
        out[column] = df[column]
    at = out.columns.get_loc("rule")
    rule = out.iloc[:, at].to_numpy(dtype=object).copy()
    texts = [f"{QTCF_RULE} with QT {qt:.6g} ms, RR {rr_ms:.6g} ms"
             for qt, rr_ms in zip(value[rows].to_numpy(), rr_of_qt[use].to_numpy(), strict=True)]
    rule[rows.to_numpy()] = [t if not r else f"{t}; {r}" for t, r in zip(texts, rule[rows.to_numpy()], strict=True)]
    out.isetitem(at, pd.Series(rule, index=out.index, dtype=object))
    unpaired = (candidates & ~candidates.index.isin(rows)).to_numpy()
    if unpaired.any():
        at = out.columns.get_loc("reason")
        reason = out.iloc[:, at].to_numpy(dtype=object).copy()
        reason[unpaired] = ("no QT and RR in ms of the same ECG (" + ", ".join(
            c for c in QTC_PAIRING if c in df.columns) + "): QTcF not derived")
        out.isetitem(at, pd.Series(reason, index=out.index, dtype=object))
    out.index = given.index
    return out


def _qtc_test_codes(mapping: pd.DataFrame | Mapping | None) -> set[str]:
    """Test codes the clinical test map (with the caller's rows) grades as QTc prolonged."""
    table = _test_map(_default_rules("clinical"), mapping, "clinical")
    qtc = table["key_high"].eq("Electrocardiogram QT corrected interval prolonged")
    return set(table.loc[qtc, "testcd"])


def grade_observations(
    df: pd.DataFrame,
    kind: str,
    *,
    first_dose: object,
    mapping: pd.DataFrame | Mapping | None,
    result: str,
    criteria: pd.DataFrame | None,
    use_given_terms: bool = True,
    assume_at_rest: bool = False,
    use_base: bool | None = None,
    fever_max_gap_h: float = MAX_GAP_H,
) -> pd.DataFrame:
    """The pandas engine of every findings kind ("lab" or "clinical"; the Dask engine runs it per partition).
    ``use_base``: grade from the input's BASE (rows whose BASE does not convert get no
    baseline; the flag is kept as given) or derive the baseline from the flags / first dose; None decides from this
    frame by :func:`base_usable` (the Dask engine decides once for the whole dataset and passes its choice)."""
    rules = _default_rules(kind) if criteria is None else LabRules(criteria)
    obs = canonical.observations(df, result=result)
    if assume_at_rest:
        obs["at_rest"] = ~obs["urine"].to_numpy()
    n = len(obs)
    table = _test_map(rules, mapping, kind)
    map_row = _lookup_map(obs, table)
    key_low = np.append(table["key_low_code"].to_numpy(), -1)[map_row]
    key_high = np.append(table["key_high_code"].to_numpy(), -1)[map_row]
    reasons = _Reasons(n)
    testcd = np.asarray(obs["testcd"].array.categories, dtype=object)
    testcd_of_row = np.append(testcd, "(blank)")[obs["testcd"].array.codes]

    given = obs["given_terms"].to_numpy() & use_given_terms
    if given.any():
        for name, keys in (("term_low_given", key_low), ("term_high_given", key_high)):
            names = obs[name].array
            codes = np.append(rules.code(pd.Series(names.categories, dtype=object)), -1)[names.codes]
            keys[given] = codes[given]
            bad = given & ~names.isna() & (codes < 0)
            reasons.add(bad, names.codes, lambda u, names=names: f"no lab criteria for term '{names.categories[u]}'")
    mapped = (key_low >= 0) | (key_high >= 0)
    reasons.add(~mapped & given, testcd_of_row, lambda u: f"test {u}: no CTCAE term in ATOXDSCL/ATOXDSCH")
    by_context = table.groupby("specimen")["testcd"].agg(set)
    rest_only = by_context.get("REST", set()) - by_context.get("", set())
    if rest_only:
        not_at_rest = ~mapped & pd.Series(testcd_of_row, dtype=object).isin(rest_only).to_numpy()
        reasons.add(not_at_rest, testcd_of_row, lambda u: f"test {u} is graded only when recorded at rest "
                    "(--TPT/--POS/--CAT saying REST, or assume_at_rest=True)")
    reasons.add(~mapped, testcd_of_row, lambda u: f"test {u} not mapped to a CTCAE term")

    # units: one conversion per distinct (criteria keys, test map row, unit); applied as array multiplications
    unit_cat = obs["unit"].array
    conv = unit_systems.Conversions(rules, table, key_low, key_high, map_row, unit_cat)
    factor, offset = conv.rows(conv.factor), conv.rows(conv.offset)
    unit_si = conv.rows(conv.unit)
    value_raw = obs["value"].to_numpy()
    with np.errstate(over="ignore", invalid="ignore"):  # a huge value becomes inf: implausible below
        value_si = value_raw * factor + offset
        lln_si = obs["lln"].to_numpy() * factor + offset
        uln_si = obs["uln"].to_numpy() * factor + offset

    no_value = np.isnan(value_raw)
    result = obs["result"].to_numpy()
    blank = no_value & pd.isna(result)
    blank[no_value & ~blank] = [not str(r).strip() for r in result[no_value & ~blank]]  # "" or "  " = missing
    reasons.add(blank, np.zeros(n, dtype=np.int8), lambda u: "missing result")
    cens = censored.parse(result, no_value & ~blank)  # "<0.1", ">1000": graded below when the range has one grade
    reasons.add(cens.impossible, result, lambda u: f"implausible censored result '{u}' (allows no value >= 0)")
    reasons.add(no_value & ~cens.rows, result, lambda u: f"non-numeric result '{shorten(u)}'")
    # no CTCAE-graded quantity (counts, concentrations, activities, temperatures, intervals) is negative or infinite
    implausible = ~no_value & (~np.isfinite(value_raw) | (value_raw < 0))
    reasons.add(implausible, value_raw, lambda u: f"implausible result {u:g} (negative or not finite)")
    value_si = np.where(implausible, np.nan, value_si)
    reasons.add(np.isnan(factor), conv.codes, lambda j: conv.label[j])
    # plausibility windows (data, in the table unit) and finiteness after conversion: listed, never graded
    low_c, high_c = plausibility.windows(conv.analyte, conv.unit)  # no window: +-max float, so inf is outside
    odd = plausibility.outside(value_si, low_c[conv.codes], high_c[conv.codes])
    if odd.any() and (odd := odd & reasons.none).any():
        labels = np.full(n, None, dtype=object)
        given_units = np.append(np.asarray(unit_cat.categories, dtype=object), None)[unit_cat.codes]
        for i in np.flatnonzero(odd):
            j = conv.codes[i]
            labels[i] = _implausible_text(testcd_of_row[i], value_raw[i], given_units[i], value_si[i], conv.unit[j],
                                          low_c[j], high_c[j])
        reasons.add(odd, labels, str)
        value_si = np.where(odd, np.nan, value_si)

    # baseline: given (ADaM BASE), flagged, or derived from the first dose
    with np.errstate(over="ignore", invalid="ignore"):
        base_given = obs["base"].to_numpy() * factor + offset
    if use_base is None:
        use_base = base_usable(base_given)
    if use_base:
        base_si, baseline = base_given, obs["baseline_flag"].to_numpy()
    else:
        base_si, baseline = derive_baseline(obs, value_si, first_dose)

    gradable = reasons.none
    v = np.where(gradable, value_si, np.nan)
    group, hours = None, None
    if rules.needs_time:
        subj = canonical.categorical(pd.Series(obs["usubjid"].to_numpy(dtype=object)), n).codes.astype(np.int64)
        group = (subj + 1) * (len(obs["testcd"].array.categories) + 1) + obs["testcd"].array.codes + 1
        stamp = obs["adtm"].to_numpy(dtype="datetime64[ns]")
        hours = np.where(np.isnat(stamp), np.nan, stamp.astype(np.int64) / 3.6e12)
    # each direction compared in the unit nearest the record's own that has thresholds in the CTCAE text
    lln_raw, uln_raw = obs["lln"].to_numpy(), obs["uln"].to_numpy()

    def grade_both(raw: np.ndarray, v: np.ndarray) -> tuple[dict, dict]:
        graded = []
        for d, keys in enumerate((key_low, key_high)):
            codes, other = conv.compared(d, keys, gradable, (raw, lln_raw, uln_raw), base_si)
            graded.append(rules.grade_direction(codes, v, lln_si, uln_si, base_si, group, hours, other,
                                                fever_max_gap_h))
        return graded[0], graded[1]

    low, high = grade_both(value_raw, v)
    flagged = np.zeros(0, dtype=np.int64)
    if (cens.rows & gradable).any():
        ends = cens.ends(value_raw)
        graded_ends = [grade_both(raw, np.where(gradable, raw * factor + offset, np.nan)) for raw in ends]
        flagged, span = censored.grade_rows(low, high, graded_ends, cens.rows & gradable, key_low, key_high)
        text = np.where(span != "", "'" + result.astype(str) + "': " + span, "")
        reasons.add(span != "", text, lambda u: f"censored result {u}")
    has_low, has_high = key_low >= 0, key_high >= 0
    grade = combine(low["grade"], high["grade"], has_low, has_high)
    use_low = has_low & (((low["grade"] > 0) & (low["grade"] >= high["grade"])) | ~has_high)
    missing, missing_texts = rules.missing_reasons(key_low, low["missing"], key_high, high["missing"])
    has_text = np.append(missing_texts != "", False).astype(bool)  # code -1 (no reason) -> False
    reasons.add(gradable & has_text[missing], missing, lambda j: missing_texts[j])

    crit = np.where(use_low, low["crit"], high["crit"])
    terms = np.append(rules.term, "")
    new = {
        "usubjid": obs["usubjid"].to_numpy(dtype=object),
        "testcd": np.asarray(obs["testcd"].array, dtype=object),
        "dtc": np.asarray(obs["dtc"].array, dtype=object),
        "adt": obs["adt"].to_numpy(),
        "value_si": value_si,
        "unit_si": unit_si,
        "lln_si": lln_si,
        "uln_si": uln_si,
        "base_si": base_si,
        "baseline": baseline,
        "term_low": terms[key_low],
        "grade_low": as_int64(low["grade"]),  # -1 (NA) where the direction has no term
        "term_high": terms[key_high],
        "grade_high": as_int64(high["grade"]),
        "term": terms[np.where(use_low, key_low, key_high)],
        "grade": as_int64(np.where(mapped, grade, -1)),
        "rule": rules.rule_text[crit],
        "thresholds": censored.flag(rules.thresholds(crit, *unit_systems.references(rules, conv, crit, use_low, (
            lln_raw, uln_raw), gradable, value_raw, lln_si, uln_si, base_si)), flagged, result),
        "reason": reasons.array(),
    }
    return _assemble(df, new)


def _implausible_text(testcd: str, raw: float, given: str | None, value: float, unit: str, low: float,
                      high: float) -> str:
    """'implausible TEMP 38.5 F = 3.61 C (plausible 25 - 45 C)'."""
    shown = f"{raw:g} {given}" if given is not None else f"{raw:g} (no unit)"
    if given is None or units.normalise_unit(given) != unit or value != raw:
        shown += f" = {value:g} {unit}"
    if np.isinf(value):
        return f"implausible {testcd} {shown}: not finite after conversion"
    return f"implausible {testcd} {shown} (plausible {low:g} - {high:g} {unit})"


def _assemble(df: pd.DataFrame, new: dict[str, np.ndarray | pd.api.extensions.ExtensionArray]) -> pd.DataFrame:
    """A new frame: copies of the input's columns followed by the output columns (an input column of the same
    name is replaced in place). Built in one constructor call, without per-column inserts and their copies. The
    input columns are copied so that changing the result never changes the caller's frame (pandas without
    copy-on-write would otherwise share their memory)."""
    series = {}
    for column in OUTPUT_COLUMNS:
        values = new[column]
        as_object = isinstance(values, np.ndarray) and values.dtype.kind == "O"
        series[column] = pd.Series(values, index=df.index, copy=False, dtype=object if as_object else None)
    if not df.columns.is_unique or isinstance(df.columns, pd.MultiIndex):
        out = df.copy()  # rare shapes: insert column by column
        for column, values in series.items():
            out[column] = values
        return out
    columns = {column: df[column].copy() for column in df.columns}
    columns.update(series)
    out = pd.DataFrame(columns, index=df.index, copy=False)
    out.attrs = dict(df.attrs)
    return out


GRADERS = {"lab": grade_labs, "vitals": grade_vitals, "ecg": grade_ecg}
"""The grading function of each kind of observation."""
KIND_OF_DOMAIN = {"lb": "lab", "vs": "vitals", "eg": "ecg"}
"""The kind of observation an SDTM findings domain holds (its --TESTCD prefix)."""
