"""CAR-T toxicity: cytokine release syndrome (CRS) and ICANS graded by the ASTCT 2019 consensus.

Source: Lee DW, Santomasso BD, Locke FL, et al. ASTCT Consensus Grading for Cytokine Release Syndrome and
Neurologic Toxicity Associated with Immune Effector Cells. Biol Blood Marrow Transplant 2019;25:625-638.
Table 6 (CRS) and Table 8 (ICANS, adults) live as data in ``ctcae_terms/criteria/astct_crs.csv`` and
``astct_icans.csv`` (category -> grade, with the consensus text beside it); this module interprets them.

Input is the XC findings domain of docs/ARCHITECTURE.md (USUBJID, XCDTC, XCTESTCD, XCORRES, XCORRESU).
Pipeline: :func:`check_xc` (one row per input row: parsed value or the reason it is unusable) ->
:func:`grade_crs` / :func:`grade_icans` (one row per assessment) -> :func:`episodes` (per participant) ->
:func:`crs_vs_ctcae` (ASTCT beside the investigator's CTCAE v4.03 "Cytokine release syndrome" grade).
Interpretation choices are written up in docs/cart.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ctcae_engine.grade import cart_vasopressors, cart_vocab, plausibility
from ctcae_engine.read.columns import as_text, join_texts
from ctcae_engine.read.dates import to_date, to_datetime
from ctcae_terms import lookup_term
from ctcae_terms.criteria import load_astct

FEVER_C = 38.0
"""Lee 2019 Table 6: "Fever is defined as temperature >= 38 degrees C"."""
LOW_FLOW_MAX_L_MIN = 6.0
"""Lee 2019 Table 6 footnote: low-flow nasal cannula is oxygen delivered at <= 6 L/min; high-flow > 6 L/min."""
PLAUSIBLE_TEMP_C = plausibility.window("TEMP", "C")
"""A TEMPMAX outside this range (ctcae_terms/criteria/plausibility.csv, as for VS TEMP) is listed as implausible
(e.g. 385 for 38.5), never graded."""

CRS_TESTS = ("TEMPMAX", "FEVMASK", "HYPOTEN", "OXYGEN", "O2FLOW", "VASOPRES")
ICANS_TESTS = ("ICE", "LOC", "SEIZURE", "MOTOR", "ICPEDEMA")
_CATEGORICAL = ("HYPOTEN", "OXYGEN", *ICANS_TESTS[1:])
CRS_TERM = "Cytokine release syndrome"
ICANS_TERM = "Immune effector cell-associated neurotoxicity syndrome"  # MedDRA PT; CTCAE v4.03 has no ICANS term
_REQUIRED = ("USUBJID", "XCDTC", "XCTESTCD")
_FAHRENHEIT = {"F", "°F", "DEGF", "DEG F", "FAHRENHEIT"}
_CELSIUS = {"C", "°C", "DEGC", "DEG C", "CELSIUS", ""}
_FLOW_UNITS = {"L/MIN", "LPM", "L/MINUTE", ""}


astct_table = load_astct  # the ASTCT 2019 tables as data live with the other criteria (ctcae_terms.criteria)


@cache
def _astct_tables() -> pd.DataFrame:
    return pd.concat([load_astct("crs"), load_astct("icans")], ignore_index=True)


def _category_grades() -> dict[str, int]:
    """'DOMAIN|VALUE' -> ASTCT grade for the categorical XC tests."""
    tables = _astct_tables()
    categorical = tables[tables["domain"].isin(["HYPOTEN", "OXYGEN", "LOC", "SEIZURE", "MOTOR", "ICPEDEMA"])]
    return dict(zip(categorical["domain"] + "|" + categorical["value"], categorical["grade"], strict=True))


def _category_names(domain: str) -> dict[int, str]:
    table = _astct_tables()
    rows = table[table["domain"] == domain]
    return dict(zip(rows["grade"], rows["value"], strict=True))


def _result(xc: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(result, unit) of each XC row: XCSTRESC (with XCSTRESU) where given, else XCORRES (with XCORRESU)."""
    def column(name: str) -> pd.Series:
        if name in xc.columns:
            return as_text(xc[name], blank_is_missing=True)
        return pd.Series(pd.NA, index=xc.index, dtype="string")

    standard = column("XCSTRESC")
    use_standard = standard.notna()
    value = standard.where(use_standard, column("XCORRES"))
    standard_unit = column("XCSTRESU") if "XCSTRESU" in xc.columns else column("XCORRESU")
    unit = standard_unit.where(use_standard, column("XCORRESU"))
    return value.fillna(""), unit


def check_xc(xc: pd.DataFrame, vasopressors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Parse the XC domain: one row per input row (same index and order) with ``usubjid``, ``dtc``, ``adt``,
    ``testcd``, ``value`` (upper-case text: XCSTRESC when given, else XCORRES), ``unit``, ``code`` (the XC code a
    categorical value means, through the vocabulary of :mod:`ctcae_engine.grade.cart_vocab`), ``num`` (number used
    for grading: temperature in C, O2 flow, ICE score, FEVMASK 1/0, the ASTCT grade of a categorical finding or of
    the drugs of a VASOPRES row), ``ignore_flow`` (an oxygen device whose flow does not make it high-flow),
    ``drugs`` (VASOPRES), ``valid``, ``missing`` (the result is blank) and ``reason`` (why the row cannot be used;
    empty when valid). ``vasopressors``: a study's drug -> class additions (``[cart] vasopressors``)."""
    missing = [column for column in _REQUIRED if column not in xc.columns]
    if "XCORRES" not in xc.columns and "XCSTRESC" not in xc.columns:
        missing.append("XCORRES or XCSTRESC")
    if missing:
        raise ValueError(f"XC frame lacks required column(s) {', '.join(missing)} (see docs/ARCHITECTURE.md, XC)")
    out = pd.DataFrame(index=xc.index)
    out["usubjid"] = as_text(xc["USUBJID"], blank_is_missing=False)
    out["dtc"] = as_text(xc["XCDTC"], blank_is_missing=False)
    out["adt"] = to_datetime(xc["XCDTC"], exact=True)
    out["testcd"] = as_text(xc["XCTESTCD"], upper=True, blank_is_missing=False)
    value, unit = _result(xc)
    out["value"] = value.str.upper()
    out["unit"] = unit
    unit_key = unit.fillna("").str.upper().str.replace(r"\s+", " ", regex=True)

    testcd = out["testcd"].fillna("")
    categorical = testcd.isin(_CATEGORICAL)
    code, ignore_flow = cart_vocab.xc_codes(testcd.where(categorical, ""), out["value"])
    out["code"] = code.where(categorical)
    out["ignore_flow"] = ignore_flow & categorical
    number = pd.to_numeric(out["value"], errors="coerce").astype("float64")
    grades = (testcd + "|" + out["code"].fillna("")).map(_category_grades())
    fevmask = out["value"].map({"Y": 1.0, "N": 0.0}).astype("float64")
    listed = testcd == "VASOPRES"
    drugs = cart_vasopressors.listed_drugs(out.loc[listed, "value"], vasopressors).reindex(xc.index)
    out["drugs"] = drugs["drugs"]
    temp_c = number.where(~unit_key.isin(_FAHRENHEIT), (number - 32.0) * 5.0 / 9.0)
    num = pd.Series(np.nan, index=xc.index, dtype="float64")
    num = num.mask(testcd == "TEMPMAX", temp_c)
    num = num.mask(testcd.isin(["O2FLOW", "ICE"]), number)
    num = num.mask(testcd == "FEVMASK", fevmask)
    num = num.mask(categorical, grades.astype("float64"))
    num = num.mask(listed, drugs["grade"])
    out["num"] = num.round(6)

    known = testcd.isin(CRS_TESTS + ICANS_TESTS)
    shown = "'" + out["value"].fillna("") + "'"
    blank = out["value"].isna() | (out["value"] == "")
    checks = [
        (out["usubjid"].isna() | (out["usubjid"] == ""), "USUBJID missing"),
        (out["adt"].isna(), "XCDTC '" + out["dtc"].fillna("") + "' is not a full ISO 8601 date"),
        (~known, "XCTESTCD '" + testcd + "' is not a CRS/ICANS test code"),
        (blank, testcd + " result missing"),
        ((testcd == "TEMPMAX") & ~unit_key.isin(_CELSIUS | _FAHRENHEIT),
         "TEMPMAX unit '" + unit.fillna("") + "' is neither C nor F"),
        ((testcd == "O2FLOW") & ~unit_key.isin(_FLOW_UNITS), "O2FLOW unit '" + unit.fillna("") + "' is not L/min"),
        (testcd.isin(["TEMPMAX", "O2FLOW", "ICE"]) & number.isna(), testcd + " " + shown + " is not a number"),
        ((testcd == "TEMPMAX") & ((temp_c < PLAUSIBLE_TEMP_C[0]) | (temp_c > PLAUSIBLE_TEMP_C[1])),
         "TEMPMAX " + shown + f" is implausible (outside {PLAUSIBLE_TEMP_C[0]:g}-{PLAUSIBLE_TEMP_C[1]:g} C)"),
        ((testcd == "O2FLOW") & (number < 0), "O2FLOW " + shown + " is negative"),
        ((testcd == "ICE") & ((number < 0) | (number > 10) | (number != number.round())),
         "ICE " + shown + " is not an integer 0-10"),
        ((testcd == "FEVMASK") & fevmask.isna(), "FEVMASK " + shown + " is not Y or N"),
        (categorical & out["code"].isna(),
         testcd + " " + shown + " is not understood (neither an XC code nor in the ASTCT vocabulary)"),
        (listed & drugs["reason"].fillna("").ne(""), drugs["reason"]),
    ]
    reason = pd.Series("", index=xc.index, dtype="string")
    for failed, message in reversed(checks):  # first failing check wins
        reason = reason.mask(failed.fillna(False).astype(bool), message)
    out["reason"] = reason.fillna("").astype(str)
    out["valid"] = out["reason"] == ""
    out["missing"] = blank.fillna(True).astype(bool)
    return out


def _wide(checked: pd.DataFrame, tests: tuple[str, ...], core: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per participant x assessment time with one column per test (worst value when repeated),
    ``input_issue`` listing unusable input rows of that assessment, ``unknown`` those with a result that is
    given but not understood, and ``unknown_core`` the same for the ``core`` tests only."""
    rows = checked[checked["testcd"].isin(tests) & checked["usubjid"].notna() & checked["adt"].notna()]
    good = rows[rows["valid"]]
    keys = ["usubjid", "adt"]
    worst = good.groupby([*keys, "testcd"], sort=True)["num"].agg(["max", "min"])
    chosen = worst["max"].where(worst.index.get_level_values("testcd") != "ICE", worst["min"])
    wide = chosen.unstack("testcd").reindex(columns=list(tests))
    dtc = rows.groupby(keys, sort=True)["dtc"].first()
    bad = rows[~rows["valid"]].groupby(keys, sort=True)["reason"].agg("; ".join)
    not_understood = rows[~rows["valid"] & ~rows["missing"]]
    unknown = not_understood.groupby(keys, sort=True)["reason"].agg("; ".join)
    unknown_core = not_understood[not_understood["testcd"].isin(core)].groupby(keys, sort=True)["reason"].agg("; ".join)
    all_keys = dtc.index
    wide = wide.reindex(all_keys)
    wide.columns = [column.lower() for column in wide.columns]
    wide.columns.name = None
    wide.insert(0, "dtc", dtc)
    wide["input_issue"] = bad.reindex(all_keys).fillna("")
    wide["unknown"] = unknown.reindex(all_keys).fillna("")
    wide["unknown_core"] = unknown_core.reindex(all_keys).fillna("")
    return wide.reset_index()


def _add_days(frame: pd.DataFrame, dm: pd.DataFrame | None) -> pd.DataFrame:
    frame = frame.copy()
    frame["adate"] = frame["adt"].dt.normalize()
    if dm is None or "RFXSTDTC" not in dm.columns:
        frame["ady"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        return frame
    infusion = to_date(dm["RFXSTDTC"])
    subjects = as_text(dm["USUBJID"], blank_is_missing=False)
    day0 = pd.Series(infusion.to_numpy(), index=subjects).groupby(level=0).min()
    start = frame["usubjid"].map(day0)
    frame["ady"] = ((frame["adate"] - start).dt.days).astype("Int64")
    return frame


def _label(flag: pd.Series, text: pd.Series | str) -> pd.Series:
    return pd.Series(np.where(flag.fillna(False).astype(bool), text, ""), index=flag.index)


def _per_assessment(checked: pd.DataFrame, rows: pd.Series, column: str, how: str, wide: pd.DataFrame) -> pd.Series:
    """``column`` of the valid ``rows`` of ``checked`` aggregated (``how``) per assessment of ``wide`` (same index);
    NA for an assessment without such a row."""
    chosen = checked[rows & checked["valid"]]
    values = chosen.groupby(["usubjid", "adt"], sort=True)[column].agg(how)
    found = pd.MultiIndex.from_frame(wide[["usubjid", "adt"]]).map(values.to_dict())
    return pd.Series(found, index=wide.index)


def _vasopressors(wide: pd.DataFrame, checked: pd.DataFrame, cm: pd.DataFrame | None,
                  vasopressors: Mapping[str, str] | None) -> pd.DataFrame:
    """Per assessment of ``wide`` (same index): ``grade`` of the vasopressors given (XC VASOPRES and CM; NA when
    neither says), ``drugs``, ``indications``, ``note`` and ``unplaced`` (the participant's CM vasopressor records that
    could not be placed on a day)."""
    out = pd.DataFrame(index=wide.index)
    listed = _per_assessment(checked, checked["testcd"] == "VASOPRES", "drugs", lambda d: ", ".join(x for x in d if x),
                             wide)
    out["grade"] = wide["vasopres"]
    out["drugs"] = listed.fillna("").astype(str)
    out["indications"] = ""
    out["note"] = ""
    out["unplaced"] = ""
    if cm is None:
        return out
    days = cart_vasopressors.vasopressor_days(cm, vasopressors)
    adate = wide["adt"].dt.normalize()
    keyed = days.set_index(["usubjid", "adate"])
    where = pd.MultiIndex.from_arrays([wide["usubjid"], adate])
    for name in ("grade", "drugs", "indications", "note"):
        found = pd.Series(where.map(keyed[name].to_dict()), index=wide.index)
        if name == "grade":
            out["grade"] = np.fmax(out["grade"], found.astype("float64").fillna(0.0))
        elif name == "drugs":
            out["drugs"] = join_texts(out["drugs"], found, sep=", ")
        else:
            out[name] = found.fillna("").astype(str)
    out["unplaced"] = wide["usubjid"].map(cart_vasopressors.unplaced_vasopressors(cm, vasopressors)).fillna("")
    return out


def grade_crs(xc: pd.DataFrame, dm: pd.DataFrame | None = None, cm: pd.DataFrame | None = None,
              vasopressors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """ASTCT 2019 CRS grade (Lee 2019, Table 6) per participant x assessment of the XC domain.

    Grade = the most severe of fever (>= 38.0 C: grade 1), hypotension and hypoxia; hypotension or hypoxia
    without fever is not CRS, unless fever is masked: once a participant has had fever in the current
    CRS run and an assessment records FEVMASK = Y (antipyretic / tocilizumab / steroids), fever is no longer
    required until the run ends at an assessment recording no fever, no hypotension and no hypoxia; an
    assessment where any of the three is not recorded does not end the run (docs/cart.md).
    Inputs as collected: oxygen devices and ICANS findings through the vocabulary (:mod:`cart_vocab`), HYPOTEN Y/N,
    vasopressors from XC VASOPRES rows and from ``cm`` (SDTM CM; :mod:`cart_vasopressors`, counting rule of
    Table 6), ``vasopressors`` a study's drug -> class additions. A result that is given but not understood leaves
    the assessment's grade NA with the reason; it is never graded lower.
    ``dm`` (USUBJID, RFXSTDTC = infusion) gives ``ady``, days from infusion (day 0 = infusion day).
    Returns one row per assessment: usubjid, dtc, adt, adate, ady, tempmax, fever, fevmask, fever_waived,
    hypotension, hypoxia, o2flow, grade_hypotension, grade_hypoxia, grade (Int64), drivers, reason
    (why grade is NA), note (caveats on a given grade, unusable input rows).
    """
    checked = check_xc(xc, vasopressors)
    wide = _wide(checked, CRS_TESTS, core=("TEMPMAX", "FEVMASK")).sort_values(["usubjid", "adt"], kind="stable")
    temp, flow = wide["tempmax"], wide["o2flow"]
    fever = (temp >= FEVER_C).astype("boolean").mask(temp.isna())
    mask = wide["fevmask"].eq(1.0)

    hypoten = checked["testcd"] == "HYPOTEN"
    present = _per_assessment(checked, hypoten, "code", lambda c: bool((c == "PRESENT").any()), wide)
    present = present.eq(True)
    vaso = _vasopressors(wide, checked, cm, vasopressors)
    listed = _per_assessment(checked.assign(valid=True), checked["testcd"] == "VASOPRES", "testcd", "size", wide)
    vaso_known = vaso["grade"].notna() | listed.notna() | (cm is not None)  # a VASOPRES row, even not understood
    hypo = np.fmax(wide["hypoten"], pd.Series(np.where(present & vaso_known, 2.0, np.nan), index=wide.index))
    hypo = np.fmax(hypo, vaso["grade"].where(vaso["grade"].gt(0)))
    no_flow = _per_assessment(checked, checked["testcd"] == "OXYGEN", "ignore_flow", "all", wide)
    no_flow = no_flow.eq(True)
    flow_grade = pd.Series(np.where(flow > LOW_FLOW_MAX_L_MIN, 3.0, np.where(flow > 0, 2.0, 0.0)), index=wide.index)
    flow_grade = flow_grade.where(flow.notna() & ~no_flow)
    oxy = np.fmax(wide["oxygen"], flow_grade)
    organ = np.fmax(hypo, oxy)

    # not understood: fever / masking (decides whether CRS is graded at all) and hypotension / hypoxia (matters only
    # when fever is present or waived, and only below grade 4)
    core_unknown = wide["unknown_core"]
    unknown = join_texts(
        wide["unknown"],
        _label(present & ~vaso_known, "HYPOTEN Y: vasopressor use not recorded (no CM, no VASOPRES), "
                                      "so hypotension may be grade 2, 3 or 4"),
        _label(vaso["unplaced"].ne("") & (present | hypo.gt(0)) & ~hypo.ge(4),
               "vasopressor record(s) not placed on a day: " + vaso["unplaced"]),
        sep="; ",
    )
    is_fever = fever.fillna(False).astype(bool)
    # a run ends only at an assessment that positively records no fever, no hypotension and no hypoxia;
    # an assessment with any of the three unrecorded (e.g. FEVMASK alone) does not end it
    quiet = (fever.eq(False).fillna(False).astype(bool) & hypo.eq(0).fillna(False) & oxy.eq(0).fillna(False)
             & unknown.eq(""))
    run = quiet.astype(int).groupby(wide["usubjid"]).cumsum()
    keys = [wide["usubjid"], run]
    fever_seen = is_fever.groupby(keys).cummax()
    waived = (fever_seen & mask).groupby(keys).cummax() & ~is_fever

    grade = pd.Series(np.nan, index=wide.index)
    grade = grade.mask(is_fever, np.fmax(organ.fillna(0), 1.0))
    grade = grade.mask(~is_fever & waived, organ)
    grade = grade.mask(fever.eq(False).fillna(False).astype(bool) & ~waived, 0.0)
    not_understood = core_unknown.ne("") | (unknown.ne("") & (is_fever | waived) & ~organ.ge(4))
    grade = grade.mask(not_understood)

    hypo_names, oxy_names = _category_names("HYPOTEN"), _category_names("OXYGEN")
    out = pd.DataFrame({"usubjid": wide["usubjid"], "dtc": wide["dtc"], "adt": wide["adt"]})
    out["tempmax"] = temp
    out["fever"] = fever
    out["fevmask"] = wide["fevmask"].map({1.0: True, 0.0: False}).astype("boolean")
    out["fever_waived"] = waived
    out["hypotension"] = hypo.map(hypo_names).astype("string")
    out["hypoxia"] = oxy.map(oxy_names).astype("string")
    out["o2flow"] = flow
    out["grade_hypotension"] = hypo.astype("Int64")
    out["grade_hypoxia"] = oxy.astype("Int64")
    out["grade"] = grade.astype("Int64")
    with_drugs = hypo.gt(0) & vaso["drugs"].ne("") & vaso["grade"].gt(0)
    out["drivers"] = join_texts(
        _label(is_fever, "fever " + temp.round(1).astype(str) + " C"),
        _label(waived & organ.gt(0), "fever not required (masked by FEVMASK after CRS fever)"),
        _label(hypo.gt(0), "hypotension " + out["hypotension"].fillna("")),
        _label(with_drugs, "vasopressors " + vaso["drugs"]),
        _label(with_drugs & vaso["indications"].ne(""), "CMINDC " + vaso["indications"]),
        _label(oxy.gt(0), "hypoxia " + out["hypoxia"].fillna("")),
        sep=", ",
    )
    out.loc[out["grade"].eq(0), "drivers"] = ""
    graded_na = ~not_understood & grade.isna()
    out["reason"] = join_texts(
        _label(not_understood, "not understood: " + unknown),
        _label(graded_na & temp.isna(), "TEMPMAX missing: fever (required for CRS) unknown"),
        _label(graded_na & temp.notna(), "hypotension and hypoxia not recorded after masked fever"),
        sep=", ",
    )
    out["note"] = join_texts(
        _label(fever.eq(False).fillna(False).astype(bool) & ~waived & organ.gt(0),
               "hypotension/hypoxia without fever and no masking: not CRS by ASTCT"),
        _label(wide["oxygen"].eq(0) & flow.gt(0), "O2FLOW > 0 with OXYGEN NONE: graded from the flow"),
        _label(wide["oxygen"].eq(2) & flow.gt(LOW_FLOW_MAX_L_MIN) & ~no_flow,
               "O2FLOW > 6 L/min: LOW_FLOW read as HIGH_FLOW"),
        _label(no_flow & flow.gt(LOW_FLOW_MAX_L_MIN), "blow-by: low flow whatever O2FLOW (Lee 2019 Table 6 footnote)"),
        _label(wide["hypoten"].eq(0) & vaso["grade"].gt(0), "vasopressor given while HYPOTEN NONE: graded from it"),
        _label(grade.notna() & hypo.isna(), "HYPOTEN not recorded"),
        _label(grade.notna() & oxy.isna(), "OXYGEN not recorded"),
        _label(~not_understood & unknown.ne(""), "not understood, the grade does not depend on it: " + unknown),
        vaso["note"],
        wide["input_issue"],
        sep=", ",
    )
    return _add_days(out, dm).reset_index(drop=True)


def grade_icans(xc: pd.DataFrame, dm: pd.DataFrame | None = None) -> pd.DataFrame:
    """ASTCT 2019 ICANS grade for adults (Lee 2019, Table 8) per participant x assessment of the XC domain.

    Domains: ICE score (10 -> 0, 7-9 -> 1, 3-6 -> 2, 0-2 -> 3), depressed level of consciousness, seizure,
    motor findings, raised ICP / cerebral edema; grade = the most severe domain recorded. ICE 0 is grade 3
    (awake, e.g. global aphasia) unless LOC = UNAROUSABLE, which is grade 4 by itself. Free-text findings are read
    through the vocabulary (:mod:`cart_vocab`, e.g. MOTOR "hemiparesis"); a result that is given but not
    understood leaves the grade NA with the reason (never graded lower).
    Returns one row per assessment: usubjid, dtc, adt, adate, ady, ice, loc, seizure, motor, icpedema,
    grade_ice, grade_loc, grade_seizure, grade_motor, grade_icpedema, grade (Int64), drivers, reason, note.
    """
    wide = _wide(check_xc(xc), ICANS_TESTS).sort_values(["usubjid", "adt"], kind="stable")
    icans = load_astct("icans")
    ice_table = icans[icans["domain"] == "ICE"]
    ice_grade = wide["ice"].map(pd.Series(ice_table["grade"].to_numpy(float), index=ice_table["value"].astype(float)))
    out = pd.DataFrame({"usubjid": wide["usubjid"], "dtc": wide["dtc"], "adt": wide["adt"]})
    out["ice"] = wide["ice"].astype("Int64")
    domains = {"ice": ice_grade}
    for name in ("loc", "seizure", "motor", "icpedema"):
        out[name] = wide[name].map(_category_names(name.upper())).astype("string")
        domains[name] = wide[name]
    for name, values in domains.items():
        out[f"grade_{name}"] = values.astype("Int64")
    known = pd.concat(domains, axis=1).max(axis=1, skipna=True)
    not_understood = wide["unknown"].ne("") & ~known.ge(4)  # grade 4 (the highest) is certain whatever the rest says
    grade = known.mask(not_understood)
    out["grade"] = grade.astype("Int64")
    out["drivers"] = join_texts(
        _label(ice_grade.gt(0), "ICE " + out["ice"].astype(str)),
        _label(wide["loc"].gt(0), "consciousness " + out["loc"].fillna("")),
        _label(wide["seizure"].gt(0), "seizure " + out["seizure"].fillna("")),
        _label(wide["motor"].gt(0), "motor " + out["motor"].fillna("")),
        _label(wide["icpedema"].gt(0), "ICP/edema " + out["icpedema"].fillna("")),
        sep=", ",
    )
    out["reason"] = join_texts(
        _label(not_understood, "not understood: " + wide["unknown"]),
        _label(~not_understood & grade.isna(), join_texts(pd.Series("no ICANS domain recorded", index=wide.index),
                                                          wide["input_issue"], sep=": ")),
        sep=", ",
    )
    out["note"] = join_texts(
        _label(wide["ice"].eq(0) & wide["loc"].isna(), "ICE 0 without LOC: graded 3; grade 4 needs LOC UNAROUSABLE"),
        _label(wide["ice"].gt(0) & wide["loc"].eq(4), "ICE > 0 recorded while LOC UNAROUSABLE: check the record"),
        _label(~not_understood & wide["unknown"].ne(""),
               "not understood, the grade does not depend on it: " + wide["unknown"]),
        wide["input_issue"],
        sep=", ",
    )
    return _add_days(out, dm).reset_index(drop=True)


ASSESSMENT_COLUMNS = ("syndrome", "usubjid", "dtc", "ady", "grade", "drivers", "reason", "note")
"""The leading columns of :func:`grade_xc`."""


def grade_xc(xc: pd.DataFrame, dm: pd.DataFrame | None = None, cm: pd.DataFrame | None = None,
             vasopressors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every assessment of an XC file graded for CRS (:func:`grade_crs`) and for ICANS (:func:`grade_icans`), in one
    frame: ``syndrome`` (CRS, ICANS), usubjid, dtc, ady, grade, drivers, reason, note, then the other columns of
    either grader (empty for the other syndrome). An assessment that records only CRS tests has no ICANS row."""
    frames = [grade_crs(xc, dm, cm, vasopressors).assign(syndrome="CRS"), grade_icans(xc, dm).assign(syndrome="ICANS")]
    dtypes: dict[str, Any] = {}
    for frame in frames:
        for column in frame.columns:
            dtypes.setdefault(column, "boolean" if frame[column].dtype == bool else frame[column].dtype)
    columns = [*ASSESSMENT_COLUMNS, *(c for c in dtypes if c not in ASSESSMENT_COLUMNS)]
    filled = [frame.reindex(columns=columns).astype({c: dtypes[c] for c in columns}) for frame in frames]
    return pd.concat(filled, ignore_index=True)


EPISODE_MAX_MISSING_DAYS = 1
"""Default episode continuity: up to this many days in a row without a graded assessment do not end an episode."""


def _episode_numbers(graded: pd.DataFrame, max_missing_days: int) -> pd.DataFrame:
    """The days with grade >= 1 (usubjid, adate) numbered by episode: a new episode starts after a day graded 0, or
    after more than ``max_missing_days`` days in a row without a graded assessment."""
    known = graded[graded["grade"].notna() & graded["adate"].notna()]
    day_grade = known.groupby(["usubjid", "adate"], sort=True)["grade"].max().reset_index()
    days = day_grade[day_grade["grade"] >= 1][["usubjid", "adate"]].reset_index(drop=True)
    zero = day_grade[day_grade["grade"] == 0][["usubjid", "adate"]].rename(columns={"adate": "zero_date"})
    days = pd.merge_asof(days.sort_values("adate"), zero.sort_values("zero_date"), left_on="adate",
                         right_on="zero_date", by="usubjid", allow_exact_matches=False, direction="backward")
    days = days.sort_values(["usubjid", "adate"], kind="stable").reset_index(drop=True)
    previous = days.groupby("usubjid")["adate"].shift()
    unassessed = (days["adate"] - previous).dt.days - 1
    new = previous.isna() | (unassessed > max_missing_days) | (days["zero_date"] > previous)
    days["episode"] = new.astype(int).groupby(days["usubjid"]).cumsum()
    return days[["usubjid", "adate", "episode"]]


def episodes(graded: pd.DataFrame, max_missing_days: int = EPISODE_MAX_MISSING_DAYS) -> pd.DataFrame:
    """Episodes of a graded CRS or ICANS frame (output of :func:`grade_crs` / :func:`grade_icans`).

    An episode is a run of calendar days with grade >= 1 (a day's grade: the worst of its graded assessments).
    A day graded 0 ends it. Days without a graded assessment (none made, or every one NA) do not end it when at
    most ``max_missing_days`` of them come in a row (default 1; study.toml ``[cart] episode_max_missing_days``;
    0 = an episode needs an assessment every day); such days inside an episode count in its duration.
    Returns one row per participant x episode: usubjid, episode (1, 2, ...), onset_date, onset_day, end_date,
    end_day, duration_days (end - onset + 1), max_grade, drivers (of the worst assessment), n_assessments,
    resolved (a grade-0 assessment follows).
    """
    columns = ["usubjid", "episode", "onset_date", "onset_day", "end_date", "end_day", "duration_days",
               "max_grade", "drivers", "n_assessments", "resolved"]
    positive = graded[graded["grade"].fillna(0) >= 1].sort_values(["usubjid", "adt"], kind="stable")
    if positive.empty:
        return pd.DataFrame(columns=columns)
    positive = positive.merge(_episode_numbers(graded, max_missing_days), on=["usubjid", "adate"], how="left")
    keys = ["usubjid", "episode"]
    summary = positive.groupby(keys, sort=True).agg(
        onset_date=("adate", "min"), onset_day=("ady", "min"), end_date=("adate", "max"), end_day=("ady", "max"),
        max_grade=("grade", "max"), n_assessments=("grade", "size"),
    )
    worst = positive.sort_values([*keys, "grade", "adt"], ascending=[True, True, False, True], kind="stable")
    summary["drivers"] = worst.drop_duplicates(keys).set_index(keys)["drivers"]
    summary["duration_days"] = (summary["end_date"] - summary["onset_date"]).dt.days + 1
    summary = summary.reset_index()
    last_zero = graded[graded["grade"].eq(0)].groupby("usubjid")["adate"].max()
    summary["resolved"] = summary["usubjid"].map(last_zero).gt(summary["end_date"])
    summary["max_grade"] = summary["max_grade"].astype("Int64")
    return summary[columns]


def _ctcae_grade_text(grade: pd.Series) -> pd.Series:
    row = lookup_term(CRS_TERM)
    texts = {g: row[f"grade_{g}"] for g in range(1, 6)}
    return grade.map(lambda g: texts.get(int(g), "") if pd.notna(g) else "").astype(str)


def crs_vs_ctcae(crs: pd.DataFrame, ae: pd.DataFrame, dm: pd.DataFrame | None = None,
                 max_missing_days: int = EPISODE_MAX_MISSING_DAYS) -> pd.DataFrame:
    """Per participant: ASTCT 2019 CRS (from :func:`grade_crs`) beside the investigator's CTCAE v4.03
    "Cytokine release syndrome" AE grade (from ``ae``, validated by :func:`ctcae_engine.grade.ae.validate_ae` here
    if it lacks ``ctcae_term``). Participants: those in XC, in the CRS AEs, and in ``dm`` if given.
    ``max_missing_days``: episode continuity (:func:`episodes`).

    Columns: usubjid, astct_grade (0 = assessed, no CRS; NA = no XC assessment or none gradable), astct_episodes,
    astct_onset_day, astct_crs_days, astct_drivers, ctcae_grade, ctcae_text (v4.03 text of that grade),
    n_crs_ae, ae_start, comparison.
    """
    from ctcae_engine.grade.ae import validate_ae

    validated = ae if "ctcae_term" in ae.columns else validate_ae(ae)
    crs_ae = validated[validated["ctcae_term"] == CRS_TERM].copy()
    crs_ae["usubjid"] = as_text(crs_ae["USUBJID"], blank_is_missing=False)
    start = (as_text(crs_ae["AESTDTC"], blank_is_missing=False) if "AESTDTC" in crs_ae.columns
             else pd.Series(pd.NA, index=crs_ae.index))
    crs_ae["ae_start"] = start
    ctcae = crs_ae.sort_values("ae_start", kind="stable").groupby("usubjid").agg(
        ctcae_grade=("grade", "max"), n_crs_ae=("grade", "size"), ae_start=("ae_start", "first"))

    eps = episodes(crs, max_missing_days)
    assessed = crs.groupby("usubjid")["grade"].max()  # NA: in XC, but no assessment could be graded
    in_xc = pd.Series(True, index=assessed.index)
    first = eps.drop_duplicates("usubjid").set_index("usubjid")
    worst = eps.sort_values(["usubjid", "max_grade"], ascending=[True, False]).drop_duplicates("usubjid")
    subjects = set(assessed.index) | set(ctcae.index)
    if dm is not None:
        subjects |= set(as_text(dm["USUBJID"], blank_is_missing=False).dropna())
    out = pd.DataFrame(index=pd.Index(sorted(subjects), name="usubjid"))
    out["astct_grade"] = assessed.reindex(out.index).astype("Int64")
    out["astct_episodes"] = eps.groupby("usubjid").size().reindex(out.index).fillna(0).astype("Int64")
    out.loc[out["astct_grade"].isna(), "astct_episodes"] = pd.NA
    out["astct_onset_day"] = first["onset_day"].reindex(out.index).astype("Int64")
    crs_days = eps.groupby("usubjid")["duration_days"].sum().reindex(out.index).astype("Float64")
    out["astct_crs_days"] = crs_days.fillna(0).where(out["astct_grade"].notna()).astype("Int64")
    out["astct_drivers"] = worst.set_index("usubjid")["drivers"].reindex(out.index).fillna("")
    out["ctcae_grade"] = ctcae["ctcae_grade"].reindex(out.index).astype("Int64")
    out["ctcae_text"] = _ctcae_grade_text(out["ctcae_grade"])
    out["n_crs_ae"] = ctcae["n_crs_ae"].reindex(out.index).fillna(0).astype("Int64")
    out["ae_start"] = ctcae["ae_start"].reindex(out.index).astype("string")

    a, c = out["astct_grade"], out["ctcae_grade"]
    a_pos, c_pos = a.fillna(0).gt(0), out["n_crs_ae"].gt(0)
    xc = in_xc.reindex(out.index, fill_value=False)
    conditions = [
        xc & a.isna(),
        a.isna() & ~c_pos,
        a.isna() & c_pos,
        ~a_pos & ~c_pos,
        a_pos & ~c_pos,
        ~a_pos & c_pos,
        c.isna(),
        a.eq(c),
        a.gt(c),
    ]
    labels = [
        "XC present but no assessment gradable (see reasons)",
        "no XC assessment, no CRS AE",
        "CRS AE reported, no XC assessment",
        "no CRS",
        "CRS by ASTCT, no CRS AE reported",
        "CRS AE reported, no CRS by ASTCT",
        "CRS AE without a usable grade",
        "same grade",
        "ASTCT higher",
    ]
    out["comparison"] = np.select([cond.fillna(False).to_numpy(bool) for cond in conditions], labels,
                                  default="CTCAE higher")
    return out.reset_index()
