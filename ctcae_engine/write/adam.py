"""ADaM-style datasets from the engine's graded frames: ADLB / ADVS / ADEG (BDS) and ADAE (OCCDS).

The input variables are kept as they came (text; a missing text is ""), the engine's lower-case working columns
(``usubjid``, ``testcd``, ``value_si`` ...) are replaced by the ADaM variables they stand for, and the engine's
explanations are kept under sponsor-defined names starting with ``CTC`` (8 characters at most, so the dataset can be
written as SAS XPT v5). Names, labels and types follow the ADaM IG (BDS) and the ADaM OCCDS document; the table of
every variable written is docs/adam_outputs.md and :data:`LABELS` (name -> (label, type)).

Conventions: character variables hold "" for missing (SAS blank), flags are "Y" or "" (ADaM population and record
flags), toxicity grades are text "0".."4" (ATOXGR of BDS signed as admiral's ``derive_var_atoxgr``: "-1".."-4" for
the low direction), dates are day-resolution datetime64 (SAS dates in XPT, ISO dates in Dataset-JSON), numbers are
float or nullable integers. A row the engine could not grade keeps every grade blank and its reason in CTCRSN; no
row is dropped.
"""

from __future__ import annotations

import pandas as pd

from ctcae_engine.read.dates import to_date
from ctcae_engine.read.fields import AE

TEXT, FLOAT, INTEGER, DATE = "text", "float", "integer", "date"

LABELS: dict[str, tuple[str, str]] = {
    # BDS (ADaM IG): identifiers and analysis values
    "STUDYID": ("Study Identifier", TEXT),
    "USUBJID": ("Unique Subject Identifier", TEXT),
    "PARAMCD": ("Parameter Code", TEXT),
    "PARAM": ("Parameter", TEXT),
    "ADT": ("Analysis Date", DATE),
    "AVAL": ("Analysis Value", FLOAT),
    "AVALU": ("Analysis Value Unit", TEXT),
    "ANRLO": ("Analysis Normal Range Lower Limit", FLOAT),
    "ANRHI": ("Analysis Normal Range Upper Limit", FLOAT),
    "ANRIND": ("Analysis Reference Range Indicator", TEXT),
    "ABLFL": ("Baseline Record Flag", TEXT),
    "BASE": ("Baseline Value", FLOAT),
    "BNRIND": ("Baseline Reference Range Indicator", TEXT),
    "ATOXDSCL": ("Analysis Toxicity Description Low", TEXT),
    "ATOXDSCH": ("Analysis Toxicity Description High", TEXT),
    "ATOXGRL": ("Analysis Toxicity Grade Low", TEXT),
    "ATOXGRH": ("Analysis Toxicity Grade High", TEXT),
    "ATOXGR": ("Analysis Toxicity Grade", TEXT),
    "ATOXGRN": ("Analysis Toxicity Grade (N)", INTEGER),
    "BTOXGRL": ("Baseline Toxicity Grade Low", TEXT),
    "BTOXGRH": ("Baseline Toxicity Grade High", TEXT),
    "BTOXGR": ("Baseline Toxicity Grade", TEXT),
    # OCCDS (ADAE)
    "TRTEMFL": ("Treatment Emergent Analysis Flag", TEXT),
    "ASTDT": ("Analysis Start Date", DATE),
    "ASTDTF": ("Analysis Start Date Imputation Flag", TEXT),
    "AENDT": ("Analysis End Date", DATE),
    "ADY": ("Analysis Relative Day", INTEGER),
    "AREL": ("Analysis Causality", TEXT),
    "ARELN": ("Analysis Causality (N)", INTEGER),
    "AESER": ("Serious Event", TEXT),
    # sponsor-defined: per-attribution causality and the engine's explanations
    "ARELCT": ("Related to CAR-T Product", TEXT),
    "ARELLD": ("Related to Lymphodepletion", TEXT),
    "CTCRULE": ("CTCAE Criterion Applied", TEXT),
    "CTCTHR": ("CTCAE Thresholds Used", TEXT),
    "CTCRSN": ("Reason Not Graded", TEXT),
    "CTCTERM": ("CTCAE Term", TEXT),
    "CTCCODE": ("CTCAE MedDRA Code", INTEGER),
    "CTCGRSRC": ("Source of the CTCAE Grade", TEXT),
    "CTCVALFL": ("Valid CTCAE Term and Grade Flag", TEXT),
    "CTCISSUE": ("CTCAE Term or Grade Issue", TEXT),
    "CTCSUGG": ("Suggested CTCAE Terms", TEXT),
    "TRTEMDFL": ("Treatment Emergent Derived Flag", TEXT),
    "TRTEMSRC": ("Source of TRTEMFL", TEXT),
    "CTCPER": ("Study Period of Onset", TEXT),
    "CTCFLAG": ("Assumption Made for a Flag", TEXT),
}
"""Every variable the engine adds: name -> (label, type); labels at most 40 characters (SAS XPT v5)."""

SDTM_LABELS: dict[str, str] = {
    "STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation", "USUBJID": "Unique Subject Identifier",
    "SEQ": "Sequence Number", "TESTCD": "Short Name of Test", "TEST": "Name of Test", "CAT": "Category",
    "ORRES": "Result or Finding in Original Units", "ORRESU": "Original Units",
    "ORNRLO": "Reference Range Lower Limit in Orig Unit", "ORNRHI": "Reference Range Upper Limit in Orig Unit",
    "STRESC": "Character Result/Finding in Std Format", "STRESN": "Numeric Result/Finding in Standard Units",
    "STRESU": "Standard Units", "STNRLO": "Reference Range Lower Limit-Std Units",
    "STNRHI": "Reference Range Upper Limit-Std Units", "NRIND": "Reference Range Indicator",
    "BLFL": "Baseline Flag", "TPT": "Planned Time Point Name", "VISIT": "Visit Name", "VISITNUM": "Visit Number",
    "DTC": "Date/Time of Collection", "DY": "Study Day of Collection", "TERM": "Reported Term for the Adverse Event",
    "DECOD": "Dictionary-Derived Term", "BODSYS": "Body System or Organ Class",
    "TOXGR": "Standard Toxicity Grade", "SER": "Serious Event", "REL": "Causality", "OUT": "Outcome of Adverse Event",
    "SDTH": "Results in Death", "STDTC": "Start Date/Time of Adverse Event", "ENDTC": "End Date/Time of Adverse Event",
    "SEV": "Severity/Intensity", "RELLD": "Causality to Lymphodepletion",
}
"""Labels of the SDTM input variables kept (by name, else by the suffix after the two-letter domain prefix)."""

BDS_ORDER = ["PARAMCD", "PARAM", "ADT", "AVAL", "AVALU", "ANRLO", "ANRHI", "ANRIND", "ABLFL", "BASE", "BNRIND",
             "ATOXDSCL", "ATOXDSCH", "ATOXGRL", "ATOXGRH", "ATOXGR", "BTOXGRL", "BTOXGRH", "BTOXGR",
             "CTCRULE", "CTCTHR", "CTCRSN"]
ADAE_ORDER = ["TRTEMFL", "ASTDT", "ASTDTF", "AENDT", "ADY", "AREL", "ARELN", "ARELCT", "ARELLD", "ATOXGR", "ATOXGRN",
              "CTCTERM", "CTCCODE", "CTCGRSRC", "CTCVALFL", "CTCISSUE", "CTCSUGG", "TRTEMDFL", "TRTEMSRC", "CTCPER",
              "CTCFLAG"]
_GIVEN_FIRST = {"PARAMCD", "PARAM", "AESER"}  # an input variable of this name is kept; the others are derived


def label_of(name: str) -> str:
    """The label of a variable the ADaM outputs carry: :data:`LABELS`, the SDTM label, else the name itself."""
    if name in LABELS:
        return LABELS[name][0]
    if name in SDTM_LABELS:
        return SDTM_LABELS[name]
    return SDTM_LABELS.get(name[2:], name) if len(name) > 2 else name


def _text(values: pd.Series) -> pd.Series:
    """Text with "" for missing (the SAS convention for a blank character value)."""
    return values.astype("object").where(values.notna(), "").astype(str)


def _grade_text(values: pd.Series) -> pd.Series:
    grades = pd.to_numeric(values, errors="coerce").astype("Int64")
    return grades.astype("string").fillna("").astype(str)


def _flag(values: pd.Series) -> pd.Series:
    return values.fillna(False).astype(bool).map({True: "Y", False: ""})


def signed_grade(low_term: pd.Series, low: pd.Series, high_term: pd.Series, high: pd.Series) -> pd.Series:
    """ATOXGR from both directions, admiral's ``derive_var_atoxgr`` convention: a low grade > 0 as "-1".."-4", else
    a high grade > 0; "0" when the graded direction(s) are normal and the other direction has no criterion or is
    normal too; "" (not gradable) otherwise, e.g. one direction normal and the other not gradable."""
    out = pd.Series("", index=low.index, dtype=object)
    low_normal = low.eq("0") & (high_term.eq("") | high.eq("0"))
    high_normal = high.eq("0") & (low_term.eq("") | low.eq("0"))
    out[low_normal | high_normal] = "0"
    high_pos = ~high.isin(["", "0"])
    out[high_pos] = high[high_pos]
    low_pos = ~low.isin(["", "0"])
    out[low_pos] = "-" + low[low_pos]
    return out


def _kept_inputs(graded: pd.DataFrame, derived: list[str]) -> pd.DataFrame:
    """The input variables (upper-case names), text with "" for missing; a variable the ADaM output derives
    anew is left out (an ADLB input's own AVAL, ATOXGR ...), except PARAMCD, PARAM and AESER, kept as given."""
    drop = set(derived) - _GIVEN_FIRST
    kept = [c for c in graded.columns if c == c.upper() and c not in drop]
    out = graded[kept].copy()
    for column in kept:
        if not (pd.api.types.is_numeric_dtype(out[column].dtype) or pd.api.types.is_datetime64_any_dtype(
                out[column].dtype)):
            out[column] = _text(out[column])
    return out


def _reference_indicator(value: pd.Series, low: pd.Series, high: pd.Series) -> pd.Series:
    """ANRIND: LOW below the lower limit, HIGH above the upper one, NORMAL within both; "" when the value or a
    limit needed to say so is missing."""
    out = pd.Series("", index=value.index, dtype=object)
    out[(value >= low) & (value <= high)] = "NORMAL"
    out[value > high] = "HIGH"
    out[value < low] = "LOW"
    return out


def to_bds(graded: pd.DataFrame, domain: str) -> pd.DataFrame:
    """A BDS dataset (ADLB, ADVS, ADEG) from graded findings (``grade_labs`` / ``grade_vitals`` / ``grade_ecg``):
    one row per input row, same order, the input variables kept, then :data:`BDS_ORDER`."""
    domain = domain.upper()
    out = _kept_inputs(graded, BDS_ORDER).reset_index(drop=True)
    g = graded.reset_index(drop=True)
    if "USUBJID" not in out.columns:
        out.insert(0, "USUBJID", _text(g["usubjid"]))
    unit = _text(g["unit_si"])
    new: dict[str, pd.Series] = {}
    new["PARAMCD"] = out["PARAMCD"] if "PARAMCD" in out.columns else _text(g["testcd"])
    if "PARAM" in out.columns:
        new["PARAM"] = out["PARAM"]
    else:
        name = _text(g[f"{domain}TEST"]) if f"{domain}TEST" in g.columns else new["PARAMCD"]
        new["PARAM"] = name.where(unit.eq(""), name + " (" + unit + ")")
    new["ADT"] = to_date(g["adt"])
    new["AVAL"] = g["value_si"].astype("float64")
    new["AVALU"] = unit
    new["ANRLO"] = g["lln_si"].astype("float64")
    new["ANRHI"] = g["uln_si"].astype("float64")
    new["ANRIND"] = _reference_indicator(new["AVAL"], new["ANRLO"], new["ANRHI"])
    new["ABLFL"] = _flag(g["baseline"])
    new["BASE"] = g["base_si"].astype("float64")
    new["ATOXDSCL"] = _text(g["term_low"])
    new["ATOXDSCH"] = _text(g["term_high"])
    new["ATOXGRL"] = _grade_text(g["grade_low"])
    new["ATOXGRH"] = _grade_text(g["grade_high"])
    new["ATOXGR"] = signed_grade(new["ATOXDSCL"], new["ATOXGRL"], new["ATOXDSCH"], new["ATOXGRH"])
    frame = pd.DataFrame(new)
    key = [out["USUBJID"], frame["PARAMCD"]]
    base_rows = frame.assign(USUBJID=out["USUBJID"])[frame["ABLFL"].eq("Y")].drop_duplicates(["USUBJID", "PARAMCD"])
    base_rows = base_rows.set_index(["USUBJID", "PARAMCD"])
    index = pd.MultiIndex.from_arrays(key)
    for target, source in (("BNRIND", "ANRIND"), ("BTOXGRL", "ATOXGRL"), ("BTOXGRH", "ATOXGRH"),
                           ("BTOXGR", "ATOXGR")):
        frame[target] = base_rows[source].reindex(index).fillna("").to_numpy()
    frame["CTCRULE"] = _text(g["rule"])
    frame["CTCTHR"] = _text(g["thresholds"])
    frame["CTCRSN"] = _text(g["reason"])
    out = out.drop(columns=[c for c in ("PARAMCD", "PARAM") if c in out.columns])
    return pd.concat([out, frame[BDS_ORDER]], axis=1)


def to_adlb(graded: pd.DataFrame) -> pd.DataFrame:
    """ADLB from ``grade_labs``: see :func:`to_bds` and docs/adam_outputs.md."""
    return to_bds(graded, "LB")


def to_advs(graded: pd.DataFrame) -> pd.DataFrame:
    """ADVS from ``grade_vitals``: see :func:`to_bds`."""
    return to_bds(graded, "VS")


def to_adeg(graded: pd.DataFrame) -> pd.DataFrame:
    """ADEG from ``grade_ecg``: see :func:`to_bds`."""
    return to_bds(graded, "EG")


def _end_date(ae: pd.DataFrame) -> pd.Series:
    column = AE.column(ae, "end")
    if column is None:
        return pd.Series(pd.NaT, index=ae.index, dtype="datetime64[ns]")
    return to_date(ae[column], sas_days=True)


def to_adae(flagged: pd.DataFrame) -> pd.DataFrame:
    """ADAE from the flagged AE frame (``validate_ae`` then ``flag_ae``, as the run's ``results.ae``): one row per
    AE record, the input variables kept, then :data:`ADAE_ORDER`. AENDT is the complete end date (a partial one is
    not imputed: blank); ADY is days from the CAR-T infusion (day 0 = infusion, the study's convention);
    AREL/ARELN follow the study's [relationship] setting (related to what the config counts), ARELCT/ARELLD per
    product."""
    g = flagged.reset_index(drop=True)
    out = _kept_inputs(g, ADAE_ORDER)
    new: dict[str, pd.Series] = {}
    new["TRTEMFL"] = _flag(g["trtemfl"])
    new["ASTDT"] = to_date(g["astdt"])
    new["ASTDTF"] = _text(g["astdt_imputed"])
    new["AENDT"] = _end_date(g)
    new["ADY"] = g["ady"].astype("Int64")
    related = g["related"].fillna(False).astype(bool)
    new["AREL"] = related.map({True: "RELATED", False: "NOT RELATED"})
    new["ARELN"] = related.astype("Int64")
    new["ARELCT"] = g["related_cart"].fillna(False).astype(bool).map({True: "Y", False: "N"})
    new["ARELLD"] = g["related_ld"].fillna(False).astype(bool).map({True: "Y", False: "N"})
    new["ATOXGR"] = _grade_text(g["grade"])
    new["ATOXGRN"] = pd.to_numeric(g["grade"], errors="coerce").astype("Int64")
    new["CTCTERM"] = _text(g["ctcae_term"])
    new["CTCCODE"] = pd.to_numeric(g["meddra_code"], errors="coerce").astype("Int64")
    new["CTCGRSRC"] = _text(g["grade_source"])
    new["CTCVALFL"] = g["valid"].fillna(False).astype(bool).map({True: "Y", False: "N"})
    new["CTCISSUE"] = _text(g["issue"])
    new["CTCSUGG"] = _text(g["suggestions"]) if "suggestions" in g.columns else ""
    new["TRTEMDFL"] = _flag(g["trtemfl_derived"]) if "trtemfl_derived" in g.columns else new["TRTEMFL"]
    new["TRTEMSRC"] = _text(g["trtemfl_source"]) if "trtemfl_source" in g.columns else "derived"
    new["CTCPER"] = _text(g["period"]) if "period" in g.columns else ""
    new["CTCFLAG"] = _text(g["flag_issue"])
    frame = pd.DataFrame(new, index=g.index)
    if "AESER" not in out.columns:
        out["AESER"] = ""
    return pd.concat([out, frame[ADAE_ORDER]], axis=1)


DATASETS = {"labs": ("ADLB", to_adlb, "Laboratory Analysis Dataset"),
            "vitals": ("ADVS", to_advs, "Vital Signs Analysis Dataset"),
            "ecg": ("ADEG", to_adeg, "ECG Analysis Dataset"),
            "ae": ("ADAE", to_adae, "Adverse Events Analysis Dataset")}
"""StudyResults attribute -> (dataset name, builder, dataset label)."""
