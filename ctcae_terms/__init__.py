"""CTCAE term catalogs and grading criteria, shipped as data, with a small loader."""

from ctcae_terms.catalog import (
    DEFAULT_VERSION,
    allowed_grades,
    load_catalog,
    lookup_term,
    search_terms,
    suggest_terms,
    synonyms,
)

__all__ = ["DEFAULT_VERSION", "allowed_grades", "load_catalog", "lookup_term", "search_terms", "suggest_terms",
           "synonyms"]
