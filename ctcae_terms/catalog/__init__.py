"""Load the CTCAE catalogs (v4.03 = "v4", v5.0) and look terms up.

The CSV files beside this module are built by ``scripts/build_catalog.py`` from NCI's published catalogs.
An empty grade cell means the term has no such grade (NCI prints "-").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import pandas as pd
from rapidfuzz import fuzz, process

from ctcae_terms._files import read_table

DEFAULT_VERSION = "4.03"
_FILES = {"4.03": "ctcae_v4.03.csv", "5.0": "ctcae_v5.0.csv"}
_ALIASES = {"4": "4.03", "4.0": "4.03", "v4": "4.03", "v4.0": "4.03", "v4.03": "4.03", "5": "5.0", "v5": "5.0",
            "v5.0": "5.0"}
GRADE_COLUMNS = ["grade_1", "grade_2", "grade_3", "grade_4", "grade_5"]


def _version(version: str) -> str:
    key = str(version).strip().lower()
    resolved = _ALIASES.get(key, key)
    if resolved not in _FILES:
        raise ValueError(f"unknown CTCAE version {version!r}; known: {', '.join(sorted(_FILES))}")
    return resolved


def normalise_term(name: str) -> str:
    """Case- and whitespace-insensitive key for a term name."""
    return re.sub(r"\s+", " ", str(name)).strip().casefold()


@cache
def _catalog(version: str) -> pd.DataFrame:
    frame = read_table(__package__, _FILES[version])
    frame["meddra_code"] = frame["meddra_code"].astype("int64")
    for column in frame.columns.drop("meddra_code"):
        frame[column] = frame[column].replace("", pd.NA)
    frame["term_key"] = frame["term"].map(normalise_term)
    return frame


def load_catalog(version: str = DEFAULT_VERSION) -> pd.DataFrame:
    """The whole catalog as a new DataFrame, one row per term (missing grade text = no such grade)."""
    return _catalog(_version(version)).drop(columns="term_key").copy()


def lookup_term(name_or_code: str | int, version: str = DEFAULT_VERSION) -> pd.Series | None:
    """One term's catalog row, by name (case/whitespace-insensitive) or MedDRA code; None if unknown."""
    catalog = _catalog(_version(version))
    text = str(name_or_code).strip()
    if text.isdigit():
        hits = catalog[catalog["meddra_code"] == int(text)]
    else:
        hits = catalog[catalog["term_key"] == normalise_term(text)]
    if hits.empty:
        return None
    return hits.iloc[0].drop(labels="term_key")


def allowed_grades(name_or_code: str | int, version: str = DEFAULT_VERSION) -> list[int]:
    """Grades (1-5) the catalog defines for a term, e.g. Alopecia -> [1, 2]. Raises KeyError if unknown."""
    row = lookup_term(name_or_code, version)
    if row is None:
        raise KeyError(f"not a CTCAE v{_version(version)} term: {name_or_code!r}")
    return [grade for grade, column in enumerate(GRADE_COLUMNS, start=1) if pd.notna(row[column])]


@cache
def _synonyms() -> pd.DataFrame:
    frame = read_table(__package__, "synonyms.csv")
    frame["key"] = frame["synonym"].map(normalise_term)
    return frame


def synonyms() -> pd.DataFrame:
    """The packaged synonym table (MedDRA PT / abbreviation / British spelling -> CTCAE v4.03 term)."""
    return _synonyms().drop(columns="key").copy()


def _closest(key: str, catalog: pd.DataFrame, scorer: Callable[..., float], limit: int, min_score: float) -> list[str]:
    """Catalog terms whose normalised name scores at least ``min_score`` against ``key`` by ``scorer``, best first."""
    matches = process.extract(key, catalog["term_key"].tolist(), scorer=scorer, limit=limit, score_cutoff=min_score)
    return [catalog["term"].iat[index] for _, _, index in matches]


def suggest_terms(name: str, version: str = DEFAULT_VERSION, limit: int = 3, min_score: float = 60.0) -> list[str]:
    """Closest catalog terms for a misspelled, partial or synonym name (e.g. a MedDRA PT), best first."""
    catalog = _catalog(_version(version))
    key = normalise_term(name)
    known = set(catalog["term"])
    synonym_hits = [t for t in _synonyms().loc[_synonyms()["key"] == key, "ctcae_term"] if t in known]
    fuzzy = _closest(key, catalog, fuzz.token_set_ratio, limit, min_score)
    return list(dict.fromkeys(synonym_hits + fuzzy))[:limit]


def search_terms(query: str, version: str = DEFAULT_VERSION, limit: int | None = 20) -> pd.DataFrame:
    """Catalog rows for a search text, best first: the term itself or its MedDRA code, terms containing the text,
    terms a synonym names (e.g. "neutropenia"); only when none of these, the closest spellings. Column ``match``
    says why each row is there (exact, contains, synonym, similar); ``limit`` None: every match."""
    catalog = _catalog(_version(version))
    key = normalise_term(query)
    exact = lookup_term(query, version)
    found: dict[str, str] = {}
    if exact is not None:
        found[exact["term"]] = "exact"
    for term in catalog.loc[catalog["term_key"].str.contains(key, regex=False), "term"]:
        found.setdefault(term, "contains")
    known = set(catalog["term"])
    for term in _synonyms().loc[_synonyms()["key"].str.contains(key, regex=False), "ctcae_term"]:
        if term in known:
            found.setdefault(term, "synonym")
    if not found:  # nothing by name: the closest spellings, then a typo inside one word ("neutrofil")
        for term in (suggest_terms(query, version, limit=5)
                     or _closest(key, catalog, fuzz.partial_ratio, limit=5, min_score=75.0)):
            found[term] = "similar"
    rows = catalog.set_index("term").loc[list(found)[:limit]].reset_index()
    return rows.drop(columns="term_key").assign(match=[found[t] for t in rows["term"]])
