"""Investigator AE validation against the packaged CTCAE v4.03 catalog (ae.validate_ae)."""


import pandas as pd
import pytest
from conftest import PHARMAVERSE

from ctcae_engine.grade.ae import synonyms, validate_ae
from ctcae_engine.read.files import read_study
from ctcae_terms import lookup_term

needs_shared = pytest.mark.needs_shared(PHARMAVERSE)


def one(**columns) -> pd.Series:
    row = {"USUBJID": "S1", "AEDECOD": None, "AETERM": None, "AETOXGR": None, "AESEV": None, **columns}
    return validate_ae(pd.DataFrame([row])).iloc[0]


@pytest.mark.parametrize(
    ("term", "grade", "valid", "issue"),
    [
        pytest.param("Alopecia", "3", False, "grade 3 not defined for Alopecia (allowed: 1, 2)",
                     id="Alopecia G3 invalid: v4.03 Alopecia has G1 'Hair loss of <50%' and G2 '>=50%' only"),
        pytest.param("Nausea", "4", False, "grade 4 not defined for Nausea (allowed: 1, 2, 3)",
                     id="Nausea G4 invalid: v4.03 Nausea G3 'Inadequate oral caloric or fluid intake' is the top"),
        pytest.param("Death NOS", "2", False, "grade 2 not defined for Death NOS (allowed: 5)",
                     id="Death NOS G2 invalid: v4.03 Death NOS has G5 'Death' only"),
        pytest.param("Death NOS", "5", True, "", id="Death NOS G5 valid"),
        pytest.param("Neutrophil count decreased", "4", True, "",
                     id="Neutrophil count decreased G4 valid: '<500/mm3; <0.5 x 10e9 /L'"),
        pytest.param("Neutrophil count decreased", "5", False,
                     "grade 5 not defined for Neutrophil count decreased (allowed: 1, 2, 3, 4)",
                     id="Neutrophil count decreased G5 invalid: v4.03 prints '-' for G5"),
        pytest.param("Cytokine release syndrome", "3", True, "", id="Cytokine release syndrome G3 valid"),
        pytest.param("Nausea", "0", False, "AETOXGR 0 is outside 1-5", id="grade 0 is not an AE grade"),
        pytest.param("Nausea", "6", False, "AETOXGR 6 is outside 1-5", id="grade 6 does not exist"),
        pytest.param("Nausea", "G2", True, "", id="G2 shorthand read as grade 2"),
        pytest.param("Nausea", "2/3", False, "AETOXGR '2/3' is not a grade", id="malformed grade listed, not guessed"),
        pytest.param("Nausea", "Grade 2", True, "", id="'Grade 2' read as 2"),
        pytest.param("Nausea", "2.0", True, "", id="'2.0' from a numeric XPT column read as 2"),
    ],
)
def test_grade_allowed_for_term(term, grade, valid, issue):
    row = one(AEDECOD=term, AETOXGR=grade)
    assert row["valid"] == valid
    assert row["issue"] == issue


def test_term_matching_order_and_sources():
    ae = pd.DataFrame({
        "USUBJID": ["S1"] * 6,
        "AEDECOD": ["NEUTROPHIL COUNT DECREASED", None, None, "Neutropenia", "ALT increased", None],
        "AETERM": ["low ANC", "  nausea ", None, "neutropenia", "ALT up", None],
        "AELLTCD": [None, None, "10028813", None, None, "99999999"],
        "AETOXGR": ["3", "1", "2", "4", "2", "1"],
    })
    out = validate_ae(ae)
    assert out["ctcae_term"].tolist()[:5] == ["Neutrophil count decreased", "Nausea", "Nausea",
                                              "Neutrophil count decreased", "Alanine aminotransferase increased"]
    assert out["term_source"].tolist() == ["AEDECOD", "AETERM", "AELLTCD", "AEDECOD via synonym",
                                           "AEDECOD via synonym", ""]
    assert out["meddra_code"].iat[0] == lookup_term("Neutrophil count decreased")["meddra_code"]
    assert out["issue"].iat[5] == "'99999999' is not a CTCAE v4.03 term"
    assert out["valid"].tolist() == [True, True, True, True, True, False]


def test_near_miss_gets_suggestions():
    row = one(AEDECOD="Neutrophil decreased", AETOXGR="2")
    assert not row["valid"]
    assert row["suggestions"].split(", ")[0] == "Neutrophil count decreased"
    assert row["issue"].startswith("'Neutrophil decreased' is not a CTCAE v4.03 term (nearest: Neutrophil count")


@pytest.mark.parametrize(
    ("sev", "grade", "issue"),
    [
        ("MILD", 1, "grade 1 derived from AESEV MILD (no AETOXGR)"),
        ("moderate", 2, "grade 2 derived from AESEV MODERATE (no AETOXGR)"),
        ("SEVERE", 3, "grade 3 derived from AESEV SEVERE (no AETOXGR)"),
    ],
)
def test_aesev_fallback_is_flagged(sev, grade, issue):
    row = one(AEDECOD="Headache", AESEV=sev)
    assert (row["grade"], row["grade_source"], row["valid"], row["issue"]) == (grade, "AESEV", True, issue)


def test_missing_grade_and_unknown_severity_are_invalid_not_dropped():
    ae = pd.DataFrame({"USUBJID": ["S1", "S2"], "AEDECOD": ["Headache", "Headache"], "AETOXGR": [None, " "],
                       "AESEV": [None, "LIFE THREATENING"]})
    out = validate_ae(ae)
    assert len(out) == 2 and out.index.equals(ae.index)
    assert out["grade"].isna().all() and not out["valid"].any()
    assert out["issue"].tolist() == ["grade missing (no AETOXGR, no AESEV)",
                                     "no AETOXGR and AESEV 'LIFE THREATENING' is not MILD/MODERATE/SEVERE"]


def test_death_flag_inconsistency_is_noted():
    row = one(AEDECOD="Sepsis", AETOXGR="4", AESDTH="Y")
    assert row["valid"] and row["issue"] == "AESDTH = Y but grade 4"


def test_input_frame_not_mutated_and_needs_a_term_column():
    ae = pd.DataFrame({"USUBJID": ["S1"], "AEDECOD": ["Nausea"], "AETOXGR": ["1"]})
    before = ae.copy()
    validate_ae(ae)
    pd.testing.assert_frame_equal(ae, before)
    with pytest.raises(ValueError, match="AEDECOD"):
        validate_ae(pd.DataFrame({"USUBJID": ["S1"], "AETOXGR": ["1"]}))


def test_every_synonym_points_to_a_v403_term_and_is_not_itself_a_term():
    table = synonyms()
    assert table["synonym"].str.casefold().is_unique
    assert all(lookup_term(term) is not None for term in table["ctcae_term"])
    assert all(lookup_term(name) is None for name in table["synonym"])


@needs_shared
def test_cdisc_pilot_ae_maps_partly_and_lists_the_rest():
    """Real CDISC pilot AE (MedDRA PTs, no AETOXGR): measured mapping, every record kept with its reason."""
    ae = read_study(PHARMAVERSE)["ae"]
    out = validate_ae(ae)
    assert len(out) == len(ae) == 1191
    assert (out["grade_source"] == "AESEV").all()  # no AETOXGR in the pilot: every grade is the flagged fallback
    mapped = out["ctcae_term"].notna()
    assert mapped.sum() == 511  # 440 PTs equal a CTCAE term, 71 via the synonym table (Diarrhoea, Contusion, ...)
    assert (out["term_source"] == "AEDECOD via synonym").sum() == 71
    assert out.loc[out["AEDECOD"] == "DIARRHOEA", "ctcae_term"].eq("Diarrhea").all()
    # unmapped PTs have no CTCAE v4.03 term (application-site reactions of the patch, ECG findings, ...)
    unmapped = out.loc[~mapped, "AEDECOD"].value_counts()
    assert unmapped.index[0] == "APPLICATION SITE PRURITUS" and unmapped.iloc[0] == 78
    assert out.loc[~mapped, "issue"].str.contains("is not a CTCAE v4.03 term").all()
    # the AESEV fallback can produce a grade CTCAE does not define, e.g. Syncope exists only at grade 3
    syncope = out[(out["AEDECOD"] == "SYNCOPE") & (out["AESEV"] == "MODERATE")]
    assert not syncope["valid"].any() and syncope["issue"].str.contains(r"allowed: 3\)").all()
    assert (mapped & ~out["valid"]).sum() == 40
    assert ((out["valid"]) | (out["issue"] != "")).all()  # nothing invalid without a reason
