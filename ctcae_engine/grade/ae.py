"""Investigator-reported AEs: validation against the CTCAE catalog and reconciliation with graded observations.

:func:`validate_ae` follows the "AE records" contract of docs/ARCHITECTURE.md; :func:`reconcile` compares the
validated AEs with a frame of the "graded observations" contract (labs, vitals, ECG). Choices: docs/ae_validation.md.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ctcae_engine.read.columns import as_text, join_texts
from ctcae_engine.read.dates import dtc_bounds
from ctcae_engine.read.fields import AE
from ctcae_terms import DEFAULT_VERSION, load_catalog, suggest_terms
from ctcae_terms.catalog import GRADE_COLUMNS, normalise_term, synonyms
from ctcae_terms.criteria import value_fits_from

SEVERITY_GRADE = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}
"""AESEV fallback when AETOXGR is missing (always flagged in ``grade_source`` and ``issue``)."""
NAME_FIELDS = ("decoded", "verbatim")  # AEDECOD, AETERM: tried in this order, then the MedDRA codes
CODE_FIELDS = ("llt_code", "pt_code")  # AELLTCD, AEPTCD


def _code_text(frame: pd.DataFrame, field: str) -> pd.Series:
    """MedDRA code as digits ('10028813', also from a float read from XPT: '10028813.0')."""
    return AE.text(frame, field).str.replace(r"\.0+$", "", regex=True)


def _match_terms(ae: pd.DataFrame, version: str) -> tuple[pd.Series, pd.Series]:
    catalog = load_catalog(version)
    by_name = dict(zip(catalog["term"].map(normalise_term), catalog["term"], strict=True))
    by_code = dict(zip(catalog["meddra_code"].astype(str), catalog["term"], strict=True))
    syn = synonyms()
    syn["key"] = syn["synonym"].map(normalise_term)
    syn = syn[syn["ctcae_term"].map(normalise_term).isin(by_name)]
    by_synonym = dict(zip(syn["key"], syn["ctcae_term"], strict=True))
    term = pd.Series(pd.NA, index=ae.index, dtype="string")
    source = pd.Series("", index=ae.index, dtype="string")
    label = {field: AE.sources(field)[0] for field in (*NAME_FIELDS, *CODE_FIELDS)}
    candidates = [(label[field], AE.text(ae, field).map(normalise_term, na_action="ignore"), by_name)
                  for field in NAME_FIELDS]
    candidates += [(label[field], _code_text(ae, field), by_code) for field in CODE_FIELDS]
    candidates += [(f"{label[field]} via synonym", AE.text(ae, field).map(normalise_term, na_action="ignore"),
                    by_synonym) for field in NAME_FIELDS]
    for label, keys, lookup in candidates:
        found = keys.map(lookup).astype("string")
        take = term.isna() & found.notna()
        term = term.mask(take, found)
        source = source.mask(take, label)
    return term, source


def parse_grade(values: pd.Series) -> pd.Series:
    """The grade number written in a grade column (Int64, same index): "3", "3.0", "Grade 3", "GRADE3", "G3",
    "Gr. 3", 3.0;
    NA when the value is missing or not a whole number (range checks are the caller's: 1-5 for CTCAE).
    The one reader of AETOXGR / ATOXGR / ``grade`` texts (ae.validate_ae and endpoints.ae_grade use it)."""
    raw = as_text(values)
    parsed = raw.str.extract(r"^(?:GRADE|GR\.?|G)?\s*(\d+)(?:\.0+)?$", flags=re.IGNORECASE)[0]
    return pd.to_numeric(parsed, errors="coerce").astype("Int64")


def _parse_grade(ae: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Grade (Int64), its source, and a blocking problem text per row."""
    column = AE.column(ae, "reported_grade") or AE.sources("reported_grade")[0]  # the column named in messages
    raw = AE.text(ae, "reported_grade")
    toxgr = parse_grade(raw)
    sev = AE.text(ae, "severity").str.upper()
    sev_grade = sev.map(SEVERITY_GRADE).astype("Int64")
    use_sev = raw.isna()
    grade = toxgr.where(~use_sev, sev_grade)
    severity = AE.sources("severity")[0]
    source = pd.Series(np.where(raw.notna(), column, np.where(sev_grade.notna(), severity, "")), index=ae.index)
    problem = pd.Series("", index=ae.index, dtype="string")
    problem = problem.mask(raw.notna() & toxgr.isna(), f"{column} '" + raw.fillna("") + "' is not a grade")
    problem = problem.mask(toxgr.notna() & ~toxgr.between(1, 5), f"{column} " + raw.fillna("") + " is outside 1-5")
    problem = problem.mask(use_sev & sev.notna() & sev_grade.isna(),
                           "no AETOXGR and AESEV '" + sev.fillna("") + "' is not MILD/MODERATE/SEVERE")
    problem = problem.mask(use_sev & sev.isna(), "grade missing (no AETOXGR, no AESEV)")
    grade = grade.where(problem == "")
    return grade.astype("Int64"), source, problem


def _allowed(version: str) -> pd.DataFrame:
    """One row per (term, grade) the catalog defines."""
    catalog = load_catalog(version)
    defined = catalog.set_index("term")[GRADE_COLUMNS].notna()
    defined.columns = range(1, 6)
    long = defined.stack()
    long = long[long].reset_index()
    long.columns = ["term", "grade", "defined"]
    return long[["term", "grade"]]


def validate_ae(ae: pd.DataFrame, version: str = DEFAULT_VERSION) -> pd.DataFrame:
    """Validate investigator AEs against the CTCAE catalog (v4.03 by default).

    Returns a copy of ``ae`` (same index and order, no row dropped) plus ``ctcae_term`` (matched by AEDECOD,
    then AETERM, then MedDRA code AELLTCD / AEPTCD, then the synonym table on AEDECOD / AETERM),
    ``term_source``, ``meddra_code`` (Int64), ``grade`` (Int64 from AETOXGR, else AESEV MILD/MODERATE/SEVERE
    -> 1/2/3; ADaM ATOXGR when there is no AETOXGR column), ``grade_source`` ("AETOXGR", "ATOXGR", "AESEV",
    ""), ``suggestions`` (nearest catalog terms for an unknown term), ``valid`` (term known, grade present,
    in 1-5 and defined for the term) and ``issue``
    (every finding, "; "-separated: the reasons a record is invalid and the notes on valid ones).
    """
    if not any(AE.column(ae, field) for field in (*NAME_FIELDS, *CODE_FIELDS)):
        raise ValueError("AE frame has none of AEDECOD, AETERM, AELLTCD, AEPTCD: nothing to match a CTCAE term on")
    out = ae.copy()
    term, source = _match_terms(ae, version)
    catalog = load_catalog(version)
    out["ctcae_term"] = term
    out["term_source"] = source.astype(str)
    out["meddra_code"] = term.map(dict(zip(catalog["term"], catalog["meddra_code"], strict=True))).astype("Int64")
    grade, grade_source, grade_problem = _parse_grade(ae)
    out["grade"] = grade
    out["grade_source"] = grade_source

    name = AE.text(ae, "decoded").fillna(AE.text(ae, "verbatim"))
    unknown = term.isna()
    wanted = name[unknown].dropna().unique()
    nearest = {value: ", ".join(suggest_terms(value, version)) for value in wanted}
    out["suggestions"] = name.where(unknown).map(nearest).fillna("").astype(str)
    shown_name = name.fillna(_code_text(ae, "llt_code")).fillna(_code_text(ae, "pt_code")).fillna("")
    unknown_text = ("'" + shown_name + "' is not a CTCAE v" + str(version) + " term"
                    + np.where(out["suggestions"] != "", " (nearest: " + out["suggestions"] + ")", ""))
    unknown_text = unknown_text.where(shown_name != "", "no AE term or MedDRA code given")

    pairs = _allowed(version)
    listing = pairs.groupby("term")["grade"].agg(lambda g: ", ".join(map(str, g)))
    allowed_text = term.map(listing)
    defined = pd.MultiIndex.from_arrays([term.astype(object), grade.astype("float64")]).isin(
        pd.MultiIndex.from_arrays([pairs["term"].astype(object), pairs["grade"].astype("float64")]))
    not_allowed = term.notna() & grade.notna() & ~pd.Series(defined, index=ae.index)
    not_allowed_text = ("grade " + grade.astype("string").fillna("") + " not defined for " + term.fillna("")
                        + " (allowed: " + allowed_text.fillna("") + ")")

    sev = AE.text(ae, "severity").str.upper().fillna("")
    death = AE.text(ae, "death").str.upper()
    parts = [
        pd.Series(np.where(unknown, unknown_text, ""), index=ae.index),
        grade_problem.fillna(""),
        pd.Series(np.where(not_allowed, not_allowed_text, ""), index=ae.index),
        pd.Series(np.where(grade_source.eq(AE.sources("severity")[0]), "grade " + grade.astype("string").fillna("")
                           + " derived from AESEV " + sev + " (no AETOXGR)", ""), index=ae.index),
        pd.Series(np.where(grade.eq(5).fillna(False) & death.eq("N").fillna(False), "grade 5 but AESDTH = N", ""),
                  index=ae.index),
        pd.Series(np.where(death.eq("Y").fillna(False) & grade.lt(5).fillna(False),
                           "AESDTH = Y but grade " + grade.astype("string").fillna(""), ""), index=ae.index),
    ]
    out["issue"] = join_texts(*parts)
    out["valid"] = (~unknown & grade.notna() & ~not_allowed).astype(bool)
    return out


RECONCILE_COLUMNS = ["type", "usubjid", "term", "reported_grade", "derived_grade", "ae_start", "ae_end", "obs_first",
                     "obs_last", "n_obs", "evidence", "ae_row", "obs_row", "detail"]
DISCREPANCY_TYPES = {
    "GRADE_UNDER_REPORTED": "observations in the AE window show a higher grade than reported",
    "GRADE_OVER_REPORTED": "reported grade is higher than any observation in the AE window",
    "GRADE_NEEDS_CONTEXT": "observations grade higher only by a worst-case reading; the value alone also fits the "
                           "reported grade (the difference is clinical context, e.g. symptoms): for review",
    "NO_OBS_IN_WINDOW": "term is graded from observations but none fall in the AE window",
    "MISSING_AE": "observations reach the grade threshold with no AE of that term reported",
    "AE_DATE_UNUSABLE": "AE start date missing or not a date: cannot be compared with observations",
}


def ae_dates(ae: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """AE start and end for the window: full dates as given; a partial start widens to the first day of its month
    (year), a partial end to the last day; a missing end means ongoing (open window). ``astdt`` wins if present."""
    start = dtc_bounds(AE.text(ae, "start"))["earliest"]
    if "astdt" in ae.columns:
        start = pd.to_datetime(ae["astdt"], errors="coerce").astype("datetime64[ns]").fillna(start)
    return start, dtc_bounds(AE.text(ae, "end"))["latest"]


def stack_directions(graded: pd.DataFrame) -> pd.DataFrame:
    """Graded observations stacked by direction (a new frame): usubjid, testcd, adt, baseline, direction ("low",
    "high"; "" when the frame has only ``term``/``grade``), term, grade (Float64, NA = not graded) and obs_pos (the
    row's position in ``graded``: labels may repeat). Rows without a term in a direction are left out. The one
    stacking of the graded-observations contract (reconcile here, the lab tables in
    :mod:`ctcae_engine.analyse.safety_tables`)."""
    pairs = [("low", "term_low", "grade_low"), ("high", "term_high", "grade_high")]
    if not all(column in graded.columns for pair in pairs for column in pair[1:]):
        pairs = [("", "term", "grade")]
    n = len(graded)
    common = {
        "usubjid": graded["usubjid"].astype("string").str.strip().to_numpy(),
        "testcd": (graded["testcd"].astype("string").to_numpy() if "testcd" in graded.columns
                   else pd.array([pd.NA] * n, dtype="string")),
        "adt": pd.to_datetime(graded["adt"], errors="coerce").to_numpy(dtype="datetime64[ns]"),
        "baseline": (graded["baseline"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                     if "baseline" in graded.columns else np.zeros(n, dtype=bool)),
    }
    parts = []
    for direction, term_column, grade_column in pairs:
        term = graded[term_column].astype("string").str.strip()
        part = pd.DataFrame({**common, "direction": direction, "term": term.to_numpy(),
                             "grade": pd.to_numeric(graded[grade_column], errors="coerce").astype("Float64").to_numpy(),
                             "obs_pos": np.arange(n)})
        parts.append(part.loc[term.notna().to_numpy() & term.ne("").fillna(False).to_numpy()])
    return pd.concat(parts, ignore_index=True)


def _long_obs(graded: pd.DataFrame) -> pd.DataFrame:
    """Dated, graded observations x direction for reconcile: usubjid, adt (day), term, grade (int), obs_pos."""
    long = stack_directions(graded)
    long = long.loc[long["grade"].notna() & long["adt"].notna(), ["usubjid", "adt", "term", "grade", "obs_pos"]]
    long = long.assign(adt=long["adt"].dt.normalize(), grade=long["grade"].round().astype("int64"))
    return long.drop_duplicates(["obs_pos", "term"], keep="first")


def _evidence(graded: pd.DataFrame, obs_pos: pd.Series) -> pd.Series:
    """'TESTCD DTC: value unit -> rule' of the observations at positions ``obs_pos`` in ``graded`` ("" where there
    is none). Built for the discrepancy rows only, not for every observation."""
    named = obs_pos.notna().to_numpy()
    rows = graded.iloc[obs_pos[named].astype("int64").to_numpy()]
    testcd, dtc, value, unit, rule = (
        rows[c].astype("string").fillna("") if c in rows.columns else pd.Series("", index=rows.index, dtype="string")
        for c in ("testcd", "dtc", "value_si", "unit_si", "rule"))
    text = (testcd + " " + dtc + ": " + value + " " + unit).str.strip()
    text = text + np.where(rule != "", " -> " + rule, "")
    out = np.full(len(obs_pos), "", dtype=object)
    out[named] = text.to_numpy(dtype=object)
    return pd.Series(out, index=obs_pos.index)


def _lowest_fitting(term: pd.Series, grade: pd.Series) -> pd.Series:
    """The lowest grade an observation's value alone fits: its grade, or less where the grade comes from a
    worst-case criterion (``value_fits_from`` in the criteria tables, e.g. Hypokalemia G2 also fits G1)."""
    table = value_fits_from()
    keys = pd.Series(list(zip(term.astype("string"), pd.to_numeric(grade, errors="coerce"), strict=True)),
                     index=term.index, dtype=object)
    return pd.to_numeric(keys.map(table), errors="coerce").fillna(pd.to_numeric(grade, errors="coerce"))


def reconcile(ae_validated: pd.DataFrame, graded_obs: pd.DataFrame, window_days: int = 3,
              min_grade: int = 3) -> pd.DataFrame:
    """Discrepancies between investigator AEs (output of :func:`validate_ae`, optionally flagged by
    ``endpoints.flag_ae``) and observation-derived grades (the "graded observations" contract: usubjid, adt,
    term/grade or term_low/grade_low + term_high/grade_high; testcd, dtc, value_si, unit_si, rule as evidence).

    Only terms that the observations grade are compared. An AE's window runs from its start minus
    ``window_days`` to its end plus ``window_days`` (no end = ongoing). One row per discrepancy:
    GRADE_UNDER_REPORTED, GRADE_NEEDS_CONTEXT (higher only by a worst-case reading: the value alone also fits the
    reported grade), GRADE_OVER_REPORTED (reported grade 5 is never flagged: death is not an observation),
    NO_OBS_IN_WINDOW, AE_DATE_UNUSABLE, and MISSING_AE (observations whose value alone reaches ``min_grade``,
    outside every window of an AE of that term; consecutive ones closer than ``window_days`` form one row).
    ``evidence`` names the worst observation (earliest if tied); ``ae_row`` / ``obs_row`` are the index labels in
    the inputs.
    """
    if "ctcae_term" not in ae_validated.columns or "grade" not in ae_validated.columns:
        raise ValueError("reconcile needs validated AEs (ctcae_term, grade): call validate_ae first")
    obs = _long_obs(graded_obs)
    gradable = set(obs["term"].unique())
    start, end = ae_dates(ae_validated)
    ae = pd.DataFrame({
        "usubjid": AE.text(ae_validated, "subject"), "term": ae_validated["ctcae_term"].astype("string"),
        "reported_grade": pd.to_numeric(ae_validated["grade"], errors="coerce"),
        "ae_start": start, "ae_end": end, "ae_row": np.arange(len(ae_validated)),  # positions: labels may repeat
    })
    ae = ae[ae["term"].isin(gradable)]
    lo = ae["ae_start"] - pd.Timedelta(days=window_days)
    hi = (ae["ae_end"] + pd.Timedelta(days=window_days)).fillna(pd.Timestamp.max)
    ae = ae.assign(lo=lo, hi=hi)
    found = []

    undated = ae[ae["ae_start"].isna()]
    found.append(undated.assign(type="AE_DATE_UNUSABLE"))
    dated = ae[ae["ae_start"].notna()]
    pairs = dated.merge(obs, on=["usubjid", "term"], how="inner", suffixes=("", "_obs"))
    pairs = pairs[(pairs["adt"] >= pairs["lo"]) & (pairs["adt"] <= pairs["hi"])]
    worst = pairs.sort_values(["ae_row", "grade", "adt"], ascending=[True, False, True], kind="stable")
    worst = worst.drop_duplicates("ae_row")
    span = pairs.groupby("ae_row").agg(obs_first=("adt", "min"), obs_last=("adt", "max"), n_obs=("adt", "size"))
    compared = dated.merge(worst[["ae_row", "grade", "obs_pos"]], on="ae_row", how="left")
    compared = compared.merge(span, left_on="ae_row", right_index=True, how="left")
    compared = compared.rename(columns={"grade": "derived_grade"})
    reported = pd.to_numeric(compared["reported_grade"], errors="coerce").astype("float64")
    derived = pd.to_numeric(compared["derived_grade"], errors="coerce").astype("float64")
    fits = _lowest_fitting(compared["term"], derived)
    compared["type"] = np.select(
        [derived.isna().to_numpy(), ((derived > reported) & (reported >= fits)).to_numpy(),
         (derived > reported).to_numpy(), ((derived < reported) & (reported < 5)).to_numpy()],
        ["NO_OBS_IN_WINDOW", "GRADE_NEEDS_CONTEXT", "GRADE_UNDER_REPORTED", "GRADE_OVER_REPORTED"], default="")
    compared.loc[reported.isna() & derived.notna(), "type"] = ""  # ungraded AEs are listed by validate_ae
    found.append(compared[compared["type"] != ""])

    high = obs[_lowest_fitting(obs["term"], obs["grade"]) >= min_grade]  # the value alone reaches min_grade
    cover = high.merge(dated[["usubjid", "term", "lo", "hi"]], on=["usubjid", "term"], how="left")
    cover["inside"] = (cover["adt"] >= cover["lo"]) & (cover["adt"] <= cover["hi"])
    covered = cover.groupby("obs_pos")["inside"].any()
    missing = high[~high["obs_pos"].map(covered).fillna(False).astype(bool)]
    missing = missing.sort_values(["usubjid", "term", "adt"], kind="stable")
    gap = missing.groupby(["usubjid", "term"])["adt"].diff().dt.days
    missing = missing.assign(run=(gap.isna() | (gap > window_days)).astype(int).cumsum())
    worst_missing = missing.sort_values(["run", "grade", "adt"], ascending=[True, False, True], kind="stable")
    runs = worst_missing.drop_duplicates("run").set_index("run")
    runs = runs.assign(
        obs_first=missing.groupby("run")["adt"].min(), obs_last=missing.groupby("run")["adt"].max(),
        n_obs=missing.groupby("run").size(), type="MISSING_AE",
    ).rename(columns={"grade": "derived_grade"})
    found.append(runs.reset_index(drop=True))

    out = pd.concat([frame for frame in found if not frame.empty], ignore_index=True) if any(
        not frame.empty for frame in found) else pd.DataFrame(columns=RECONCILE_COLUMNS)
    out = out.reindex(columns=[*RECONCILE_COLUMNS, "obs_pos"])
    out["obs_row"] = out["obs_pos"]
    for column in ("reported_grade", "derived_grade", "n_obs"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("Int64")
    for column in ("ae_start", "ae_end", "obs_first", "obs_last"):
        out[column] = pd.to_datetime(out[column], errors="coerce")
    out["evidence"] = _evidence(graded_obs, out["obs_pos"])
    for column, source in (("ae_row", ae_validated), ("obs_row", graded_obs)):  # positions -> the inputs' labels
        pos = pd.to_numeric(out[column], errors="coerce")
        known = pos.notna().to_numpy()
        labels = np.full(len(out), None, dtype=object)
        labels[known] = source.index.to_numpy(dtype=object)[pos[known].astype("int64").to_numpy()]
        out[column] = labels
        if pd.api.types.is_integer_dtype(source.index):
            out[column] = pd.to_numeric(out[column]).astype("Int64")
    out = out.drop(columns="obs_pos")
    out["detail"] = out["type"].map(DISCREPANCY_TYPES)
    order = {name: rank for rank, name in enumerate(DISCREPANCY_TYPES)}
    out = out.assign(_rank=out["type"].map(order), _date=out["ae_start"].fillna(out["obs_first"]))
    out = out.sort_values(["usubjid", "_rank", "_date", "term"], kind="stable").drop(columns=["_rank", "_date"])
    return out.reset_index(drop=True)
