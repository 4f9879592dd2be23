"""Investigator-reported AEs: validation against the CTCAE catalog and reconciliation with graded observations.

:func:`validate_ae` follows the "AE records" contract of docs/ARCHITECTURE.md; :func:`reconcile` compares the
validated AEs with a frame of the "graded observations" contract (labs, vitals, ECG). Choices: docs/ae_validation.md.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import numpy as np
import pandas as pd

from ctcae_terms import DEFAULT_VERSION, load_catalog, suggest_terms
from ctcae_terms.catalog import GRADE_COLUMNS, normalise_term

SEVERITY_GRADE = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}
"""AESEV fallback when AETOXGR is missing (always flagged in ``grade_source`` and ``issue``)."""
NAME_COLUMNS = ("AEDECOD", "AETERM")
CODE_COLUMNS = ("AELLTCD", "AEPTCD")


@cache
def _synonyms() -> pd.DataFrame:
    path = files("ctcae_terms").joinpath("catalog/synonyms.csv")
    with path.open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
    frame["key"] = frame["synonym"].map(normalise_term)
    return frame


def synonyms() -> pd.DataFrame:
    """The packaged synonym table (MedDRA PT / abbreviation / British spelling -> CTCAE v4.03 term)."""
    return _synonyms().drop(columns="key").copy()


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    text = frame[column].astype("string").str.strip()
    return text.mask(text == "")


def _code_text(frame: pd.DataFrame, column: str) -> pd.Series:
    """MedDRA code as digits ('10028813', also from a float read from XPT: '10028813.0')."""
    return _text(frame, column).str.replace(r"\.0+$", "", regex=True)


def _match_terms(ae: pd.DataFrame, version: str) -> tuple[pd.Series, pd.Series]:
    catalog = load_catalog(version)
    by_name = dict(zip(catalog["term"].map(normalise_term), catalog["term"], strict=True))
    by_code = dict(zip(catalog["meddra_code"].astype(str), catalog["term"], strict=True))
    syn = _synonyms()
    syn = syn[syn["ctcae_term"].map(normalise_term).isin(by_name)]
    by_synonym = dict(zip(syn["key"], syn["ctcae_term"], strict=True))
    term = pd.Series(pd.NA, index=ae.index, dtype="string")
    source = pd.Series("", index=ae.index, dtype="string")
    candidates = [(column, _text(ae, column).map(normalise_term, na_action="ignore"), by_name)
                  for column in NAME_COLUMNS]
    candidates += [(column, _code_text(ae, column), by_code) for column in CODE_COLUMNS]
    candidates += [(f"{column} via synonym", _text(ae, column).map(normalise_term, na_action="ignore"), by_synonym)
                   for column in NAME_COLUMNS]
    for label, keys, lookup in candidates:
        found = keys.map(lookup).astype("string")
        take = term.isna() & found.notna()
        term = term.mask(take, found)
        source = source.mask(take, label)
    return term, source


def _parse_grade(ae: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Grade (Int64), its source, and a blocking problem text per row."""
    raw = _text(ae, "AETOXGR")
    parsed = raw.str.extract(r"^(?:GRADE\s*)?(\d+)(?:\.0+)?$", flags=2)[0]  # 2 = re.IGNORECASE
    toxgr = pd.to_numeric(parsed, errors="coerce").astype("Int64")
    sev = _text(ae, "AESEV").str.upper()
    sev_grade = sev.map(SEVERITY_GRADE).astype("Int64")
    use_sev = raw.isna()
    grade = toxgr.where(~use_sev, sev_grade)
    source = pd.Series(np.where(raw.notna(), "AETOXGR", np.where(sev_grade.notna(), "AESEV", "")), index=ae.index)
    problem = pd.Series("", index=ae.index, dtype="string")
    problem = problem.mask(raw.notna() & toxgr.isna(), "AETOXGR '" + raw.fillna("") + "' is not a grade")
    problem = problem.mask(toxgr.notna() & ~toxgr.between(1, 5), "AETOXGR " + raw.fillna("") + " is outside 1-5")
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
    -> 1/2/3), ``grade_source`` ("AETOXGR", "AESEV", ""), ``suggestions`` (nearest catalog terms for an
    unknown term), ``valid`` (term known, grade present, in 1-5 and defined for the term) and ``issue``
    (every finding, "; "-separated: the reasons a record is invalid and the notes on valid ones).
    """
    if not any(column in ae.columns for column in NAME_COLUMNS + CODE_COLUMNS):
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

    name = _text(ae, "AEDECOD").fillna(_text(ae, "AETERM"))
    unknown = term.isna()
    wanted = name[unknown].dropna().unique()
    nearest = {value: ", ".join(suggest_terms(value, version)) for value in wanted}
    out["suggestions"] = name.where(unknown).map(nearest).fillna("").astype(str)
    shown_name = name.fillna(_code_text(ae, "AELLTCD")).fillna(_code_text(ae, "AEPTCD")).fillna("")
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

    sev = _text(ae, "AESEV").str.upper().fillna("")
    death = _text(ae, "AESDTH").str.upper()
    parts = [
        pd.Series(np.where(unknown, unknown_text, ""), index=ae.index),
        grade_problem.fillna(""),
        pd.Series(np.where(not_allowed, not_allowed_text, ""), index=ae.index),
        pd.Series(np.where(grade_source.eq("AESEV"), "grade " + grade.astype("string").fillna("")
                           + " derived from AESEV " + sev + " (no AETOXGR)", ""), index=ae.index),
        pd.Series(np.where(grade.eq(5).fillna(False) & death.eq("N").fillna(False), "grade 5 but AESDTH = N", ""),
                  index=ae.index),
        pd.Series(np.where(death.eq("Y").fillna(False) & grade.lt(5).fillna(False),
                           "AESDTH = Y but grade " + grade.astype("string").fillna(""), ""), index=ae.index),
    ]
    issue = parts[0].astype(str)
    for part in parts[1:]:
        issue = issue + "|" + part.astype(str)
    out["issue"] = issue.str.replace(r"\|+", "; ", regex=True).str.strip("; ")
    out["valid"] = (~unknown & grade.notna() & ~not_allowed).astype(bool)
    return out
