"""The packaged CTCAE catalogs hold NCI's published text (CTCAE v4.03, 2010-06-14; v5.0, 2017-11-27)."""

import pandas as pd
import pytest

from ctcae_terms import allowed_grades, load_catalog, lookup_term, suggest_terms


def test_v403_has_790_terms_in_26_socs():
    catalog = load_catalog("4.03")
    assert len(catalog) == 790
    assert catalog["soc"].nunique() == 26
    assert catalog["meddra_code"].is_unique and catalog["term"].is_unique


def test_v50_has_837_terms_in_26_socs():
    catalog = load_catalog("5.0")
    assert len(catalog) == 837
    assert catalog["soc"].nunique() == 26


def test_normalised_text_has_no_nbsp_no_dash_placeholder_no_outer_whitespace():
    for version in ("4.03", "5.0"):
        catalog = load_catalog(version)
        text = catalog.drop(columns="meddra_code").stack()
        assert not text.str.contains("\xa0").any()
        assert not (text == "-").any()
        assert (text == text.str.strip()).all()


def test_v4_aliases_resolve_to_v403():
    assert len(load_catalog("4")) == len(load_catalog("v4.0")) == 790


@pytest.mark.parametrize(
    ("term", "grades"),
    [
        ("Alopecia", [1, 2]),  # v4.03 Alopecia: G1 "Hair loss of <50%...", G2 ">=50%...", no G3-5
        ("Death NOS", [5]),  # v4.03 Death NOS: G5 "Death" only
        ("Nausea", [1, 2, 3]),  # v4.03 Nausea: G1-G3 only
        ("Febrile neutropenia", [3, 4, 5]),  # v4.03: G1-G2 "-", G3 "ANC <1000/mm3 with a single temperature..."
        ("Neutrophil count decreased", [1, 2, 3, 4]),  # v4.03: G5 "-"
        ("Anemia", [1, 2, 3, 4, 5]),  # v4.03 Anemia: G5 "Death"
        ("Hypokalemia", [1, 2, 3, 4, 5]),
        ("Hypertension", [1, 2, 3, 4, 5]),
        ("Cytokine release syndrome", [1, 2, 3, 4, 5]),
        ("Alanine aminotransferase increased", [1, 2, 3, 4]),  # v4.03 ALT: G5 "-"
    ],
)
def test_allowed_grades(term, grades):
    assert allowed_grades(term) == grades


@pytest.mark.parametrize(
    ("term", "column", "text"),
    [
        ("Neutrophil count decreased", "grade_4", "<500/mm3; <0.5 x 10e9 /L"),
        ("Alanine aminotransferase increased", "grade_3", ">5.0 - 20.0 x ULN"),
        ("Platelet count decreased", "grade_1", "<LLN - 75,000/mm3; <LLN - 75.0 x 10e9 /L"),
        ("Creatinine increased", "grade_3", ">3.0 baseline; >3.0 - 6.0 x ULN"),  # NCI's typo (missing "x") kept
        ("Hypokalemia", "grade_2", "<LLN - 3.0 mmol/L; symptomatic; intervention indicated"),
        ("Fever", "grade_1", "38.0 - 39.0 degrees C  (100.4 - 102.2 degrees F)"),  # NCI double space kept
        ("Death NOS", "grade_5", "Death"),
    ],
)
def test_grade_text_spot_checks(term, column, text):
    assert lookup_term(term)[column] == text


def test_lookup_is_case_and_whitespace_insensitive_and_accepts_meddra_code():
    assert lookup_term("  alanine   AMINOTRANSFERASE increased ")["meddra_code"] == 10001551
    assert lookup_term(10001551)["term"] == "Alanine aminotransferase increased"
    assert lookup_term("10029366")["term"] == "Neutrophil count decreased"
    assert lookup_term("Not a CTCAE term") is None


def test_missing_grade_is_na_not_text():
    row = lookup_term("Alopecia")
    assert pd.isna(row["grade_3"]) and pd.isna(row["grade_5"])


def test_unknown_term_raises_for_allowed_grades():
    with pytest.raises(KeyError, match="not a CTCAE"):
        allowed_grades("Neutropenia")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("neutrophil decreased", "Neutrophil count decreased"),
        ("naussea", "Nausea"),
        ("platelets decreased", "Platelet count decreased"),
        ("ALT increased", "Alanine aminotransferase increased"),
        ("Neutropenia", "Neutrophil count decreased"),  # MedDRA PT -> CTCAE term, from the synonym table
    ],
)
def test_suggestions_for_misspelled_terms(typed, expected):
    assert expected in suggest_terms(typed)


def test_v5_differs_from_v4_where_nci_changed_it():
    # v5.0 rewrote Creatinine increased G1 to ">ULN - 1.5 x ULN" (v4.03: ">1 - 1.5 x baseline; >ULN - 1.5 x ULN")
    assert lookup_term("Creatinine increased", "5.0")["grade_1"] == ">ULN - 1.5 x ULN"
    assert lookup_term("Creatinine increased", "4.03")["grade_1"] == ">1 - 1.5 x baseline; >ULN - 1.5 x ULN"


def test_synonym_target_comes_first():
    assert suggest_terms("Thrombocytopenia")[0] == "Platelet count decreased"
