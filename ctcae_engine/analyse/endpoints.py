"""Populations, treatment-emergent / treatment-related AE flags, the primary endpoint and the AE overview (AET01).

Inputs are SDTM (DM, EX, AE with SUPPAE merged) or ADaM (ADSL, ADAE); the column mapping is in docs/endpoints.md.
Results are tidy DataFrames (the table registry, :mod:`ctcae_engine.tables`, names them). SOC/PT tables, lab shift
tables and CRS/ICANS incidence are in :mod:`ctcae_engine.analyse.safety_tables`; the eligibility screen in
:mod:`ctcae_engine.analyse.eligibility`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from ctcae_engine.grade.ae import parse_grade
from ctcae_engine.read.columns import join_texts, pick
from ctcae_engine.read.config import Relationship, Treatment, TreatmentEmergent
from ctcae_engine.read.dates import dtc_bounds, impute_start_date, parse_dtc, to_date, to_datetime
from ctcae_engine.read.fields import AE, DM, EX
from ctcae_terms import lookup_term

POPULATION_COLUMNS = ["usubjid", "saffl", "infdt", "ldstdt", "dthdt", "reason", "infdtm", "lastdt", "n_infusions",
                      "arm"]
DEATH_COLUMNS = ["dthfl", "dthdt_imputed", "dth_reason"]


def exact_ci(n: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval of n / total, as proportions; (nan, nan) when total is 0."""
    if total <= 0:
        return (np.nan, np.nan)
    ci = binomtest(int(n), int(total)).proportion_ci(confidence_level=level, method="exact")
    return (float(ci.low), float(ci.high))


def proportion(label: str, n: int, total: int) -> dict[str, object]:
    """One row of a proportion table: label, n, N, pct (0-100) and exact 95% CI bounds (0-100)."""
    low, high = exact_ci(n, total)
    pct = 100.0 * n / total if total else np.nan
    return {"label": label, "n": int(n), "N": int(total), "pct": pct, "ci_low": 100 * low, "ci_high": 100 * high}


def safety_population(dm: pd.DataFrame, ex: pd.DataFrame | None, treatment: Treatment) -> pd.DataFrame:
    """One row per participant: ``saffl`` (received the CAR-T infusion), infusion date ``infdt`` (day 0), start of
    lymphodepletion ``ldstdt``, death date ``dthdt`` and ``reason`` (why not in the population / no date); the
    infusion date and time ``infdtm`` (NaT unless the record gives a time), the last dose of the study treatment
    ``lastdt`` (latest EXENDTC, else EXSTDTC, of an infusion record; ADaM TRTEDT) and ``n_infusions`` (EX records of
    the infusion treatment: more than one in a single-infusion study is worth a look, see DQ09); also
    ``dthfl`` (died: DTHFL = Y or a death date given), ``dthdt_imputed`` ("" as given, "D"/"M" partial date imputed,
    "Y" no usable death date: dthdt NaT) and ``dth_reason`` (what was imputed or why there is no date).

    SDTM: infusion = first EXSTDTC of an EXTRT named in ``treatment.infusion_extrt`` (DM.RFXSTDTC when EXSTDTC
    is not a complete date). ADaM ADSL without EX: SAFFL and TRTSDT (taken as the infusion date).
    """
    ids = DM.subjects(dm)  # stripped once: "P01" and "P01 " are one participant
    out = pd.DataFrame({"usubjid": ids}).drop_duplicates("usubjid")
    out = out.set_index("usubjid", drop=False)
    first = dm.loc[~ids.duplicated().to_numpy()].set_index(ids[~ids.duplicated()])
    rfx = DM.column(first, "first_dose")
    fallback = (to_date(first[rfx], sas_days=True) if rfx
                else pd.Series(pd.NaT, index=first.index, dtype="datetime64[ns]"))
    if ex is not None and EX.column(ex, "treatment") is not None:
        trt = EX.text(ex, "treatment", upper=True)
        start_col = EX.column(ex, "start")  # without one: the infusion date falls back to DM.RFXSTDTC
        start = (to_date(ex[start_col], sas_days=True) if start_col is not None
                 else pd.Series(pd.NaT, index=ex.index, dtype="datetime64[ns]"))
        subj = EX.subjects(ex)
        inf = trt.isin(treatment.infusion_extrt)
        ld = trt.isin(treatment.lymphodepletion_extrt)
        infused = pd.Index(subj[inf].unique())
        out["saffl"] = out["usubjid"].isin(infused)
        out["infdt"] = start[inf].groupby(subj[inf]).min().reindex(out.index)
        out["infdt"] = out["infdt"].fillna(fallback.reindex(out.index)).where(out["saffl"])
        out["ldstdt"] = start[ld].groupby(subj[ld]).min().reindex(out.index)
        out["reason"] = np.where(out["saffl"], "", "no CAR-T infusion record in EX")
        out["n_infusions"] = inf.groupby(subj).sum().reindex(out.index).fillna(0).astype(int)
        stamp = _with_time(EX.text(ex, "start")) if start_col is not None else start
        first_stamp = stamp[inf].groupby(subj[inf]).min().reindex(out.index)
        out["infdtm"] = first_stamp.where(first_stamp.dt.normalize().eq(out["infdt"]))
        end_col = EX.column(ex, "end")
        end = to_date(ex[end_col], sas_days=True).fillna(start) if end_col is not None else start
        out["lastdt"] = end[inf].groupby(subj[inf]).max().reindex(out.index).where(out["saffl"])
    else:
        saf = DM.column(first, "safety_flag")
        flag = DM.text(first, "safety_flag", upper=True).eq("Y").fillna(False) if saf else fallback.notna()
        out["saffl"] = flag.reindex(out.index).to_numpy(dtype=bool)
        out["infdt"] = fallback.reindex(out.index).where(out["saffl"])
        out["ldstdt"] = pd.NaT
        out["reason"] = np.where(out["saffl"], "", "not in the safety population (ADSL SAFFL/TRTSDT)")
        out["n_infusions"] = out["saffl"].astype(int)
        given_time = DM.column(first, "first_dose_time")
        out["infdtm"] = (pd.to_datetime(first[given_time], errors="coerce").reindex(out.index).where(out["saffl"])
                         if given_time is not None else pd.NaT)
        last = DM.column(first, "treatment_end")
        out["lastdt"] = (to_date(first[last], sas_days=True).reindex(out.index).where(out["saffl"]) if last
                         else out["infdt"])
    for column in ("infdt", "ldstdt", "infdtm", "lastdt"):
        out[column] = pd.to_datetime(out[column])
    out["arm"] = _arms(first, treatment.arm_variable).reindex(out.index).fillna("(no arm)").to_numpy(dtype=object)
    no_date = out["saffl"] & out["infdt"].isna()
    out.loc[no_date, "reason"] = "infused but infusion date unknown (EXSTDTC and RFXSTDTC incomplete)"
    alive = [out["infdt"]]  # last known alive: infusion, last dose (EX), DM RFXENDTC
    if DM.column(first, "last_dose") is not None:
        alive.append(to_date(first[DM.column(first, "last_dose")], sas_days=True).reindex(out.index))
    if ex is not None and EX.column(ex, "subject") is not None:
        subj = EX.subjects(ex)
        for column in EX.present(ex, "dose_dates"):
            alive.append(to_date(ex[pick(ex, column)], sas_days=True).groupby(subj).max().reindex(out.index))
    last_alive = pd.concat(alive, axis=1).max(axis=1)
    death = _death_dates(first.reindex(out.index), last_alive)
    out[["dthdt", *DEATH_COLUMNS]] = death[["dthdt", *DEATH_COLUMNS]]
    return out[POPULATION_COLUMNS + DEATH_COLUMNS].reset_index(drop=True)


def _arms(dm: pd.DataFrame, variable: str) -> pd.Series:
    """The arm or dose level of each participant (DM/ADSL ``variable``, default ACTARM, ARM, TRT01A); one arm
    "All" when the variable is NONE or absent."""
    if variable == "NONE":
        return pd.Series("All", index=dm.index)
    column = pick(dm, variable) if variable else DM.column(dm, "arm")
    if variable and column is None:
        raise ValueError(f"[treatment] arm_variable {variable!r} is not a DM/ADSL column")
    return DM.text(dm, "arm") if not variable else dm[column].astype("string").str.strip()


def by_arm(flagged: pd.DataFrame, population: pd.DataFrame,
           build: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """A participant-level proportion table (columns label, n, N, pct, ...) with one column group per arm of the
    safety population plus the Total: the arm's ``n``, ``N``, ``pct`` columns named "<arm>: n" etc., then the
    total's columns as ``build`` gives them. A single arm gives the table as it is."""
    total = build(flagged, population)
    safety = population[population["saffl"].astype(bool)]
    arms = sorted(safety["arm"].dropna().unique()) if "arm" in safety.columns else []
    if len(arms) <= 1:
        return total
    subjects = AE.subjects(flagged)
    keys = [c for c in total.columns if c not in ("n", "N", "pct", "ci_low", "ci_high")]
    out = total[keys].copy()
    for arm in arms:
        members = population[population["arm"].eq(arm) | ~population["saffl"].astype(bool)]
        part = build(flagged[subjects.isin(members["usubjid"]).to_numpy()], members)
        for column in ("n", "N", "pct"):
            out[f"{arm}: {column}"] = part[column].to_numpy()
    return pd.concat([out, total.drop(columns=keys).add_prefix("Total: ")], axis=1)


def _with_time(dtc: pd.Series) -> pd.Series:
    """Date-times of ISO 8601 texts that carry a time (``2025-01-10T09:30``); NaT for a date alone or a partial
    date, so that a time is compared only where it was recorded."""
    timed = dtc.str.contains(r"^\d{4}-\d{2}-\d{2}T\d{2}", regex=True, na=False)
    return to_datetime(dtc.where(timed))


PERIODS = ("before treatment", "lymphodepletion", "post-infusion", "after the window", "not in the safety population",
           "onset unknown")
"""Study periods of an AE by its onset (``flag_ae``'s ``period``), in time order."""


def _periods(astdt: pd.Series, start_time: pd.Series, saffl: pd.Series, ldstdt: pd.Series, infdt: pd.Series,
             infdtm: pd.Series | None, win_end: pd.Series) -> pd.Series:
    """The study period of each AE onset: before the first study treatment, lymphodepletion (first lymphodepleting
    dose to just before the infusion), post-infusion (infusion to the window end), after the window."""
    day = pd.to_datetime(astdt)
    before_infusion = (day < infdt).fillna(False)
    if infdtm is not None:  # day 0, recorded before the infusion time
        before_infusion |= (day.eq(infdt) & (start_time < pd.to_datetime(infdtm))).fillna(False)
    ld_start = pd.to_datetime(ldstdt).dt.normalize()
    period = pd.Series("post-infusion", index=astdt.index, dtype=object)
    period[(day > win_end).fillna(False)] = "after the window"
    period[before_infusion & (day >= ld_start).fillna(False)] = "lymphodepletion"
    period[before_infusion & ~(day >= ld_start).fillna(False)] = "before treatment"
    period[day.isna() | infdt.isna()] = "onset unknown"
    period[~saffl.to_numpy(dtype=bool)] = "not in the safety population"
    return period


def window_text(window: TreatmentEmergent) -> str:
    """The treatment-emergent window in words, for the note under every table that uses it."""
    start = ("the first lymphodepleting dose" if window.start == "lymphodepletion"
             else "the first dose of the study treatment (day 0)")
    end = f"day {window.window_days}"
    if window.after_last_dose_days is not None:
        end += f" or {window.after_last_dose_days} days after the last dose, whichever is earlier"
    return f"Treatment-emergent: onset on or after {start} and no later than {end}."


def window_bounds(population: pd.DataFrame, window: TreatmentEmergent | None) -> pd.DataFrame | None:
    """Per participant (index usubjid): the treatment-emergent window as dates, ``win_start`` .. ``win_end``
    (inclusive), and ``win_start_time`` (the infusion date-time when the window starts at a timed infusion, else
    NaT); None without infusion dates.

    Start: the infusion (day 0) or, with ``window.start = "lymphodepletion"``, the first lymphodepleting dose.
    End: the earliest of the infusion + ``window_days`` and, when ``after_last_dose_days`` is set, the last dose of
    the study treatment + that many days (first dose .. last dose + 30 days for a multi-dose study)."""
    if "infdt" not in population.columns:
        return None
    te = window if window is not None else TreatmentEmergent()
    pop = population.set_index("usubjid")
    infdt = pd.to_datetime(pop["infdt"]).dt.normalize()
    start = infdt
    start_time = pd.to_datetime(pop["infdtm"]) if "infdtm" in pop.columns else pd.Series(pd.NaT, index=pop.index)
    if te.start == "lymphodepletion" and "ldstdt" in pop.columns:
        ld = pd.to_datetime(pop["ldstdt"]).dt.normalize()
        start = ld.fillna(infdt)
        start_time = start_time.where(ld.isna())  # the window opens on the lymphodepletion day: no time rule
    end = infdt + pd.Timedelta(days=te.window_days)
    if te.after_last_dose_days is not None and "lastdt" in pop.columns:
        after_last = pd.to_datetime(pop["lastdt"]).dt.normalize().fillna(infdt) + pd.Timedelta(
            days=te.after_last_dose_days)
        end = end.where(~(after_last < end), after_last)
    return pd.DataFrame({"win_start": start, "win_end": end, "win_start_time": start_time})


def _death_dates(first: pd.DataFrame, last_alive: pd.Series) -> pd.DataFrame:
    """dthdt, dthfl, dthdt_imputed, dth_reason per row of ``first`` (DM/ADSL, one row per participant).

    A death counts when DTHFL = Y or a death date is given. A partial DTHDTC ("2025-03", "2025") is imputed to the
    earliest day it can mean that is not before ``last_alive`` (the last date the participant is known alive:
    infusion, last dose); flag "D" (day imputed) or "M" (month and day). A death with no usable date keeps
    dthdt NaT, flag "Y" and a reason (the analyses treat it as a death, see efficacy.pfs_data)."""
    index = first.index
    dth = DM.column(first, "death_date")
    values = first[dth] if dth else pd.Series(pd.NA, index=index, dtype="string")
    full = to_date(values, sas_days=True)
    given = DM.text(first, "death_date").notna() if dth else pd.Series(False, index=index)
    dthfl = (DM.text(first, "death_flag", upper=True).eq("Y").fillna(False) | given).astype(bool)
    out = pd.DataFrame({"dthdt": full, "dthfl": dthfl, "dthdt_imputed": "", "dth_reason": ""}, index=index)
    shown = values.astype("string").fillna("")
    if dth and not pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_datetime64_any_dtype(
            values.dtype):
        bounds = dtc_bounds(values.astype("string"))
        precision = parse_dtc(values.astype("string"))["precision"]
        partial = full.isna() & bounds["earliest"].notna()
        floor = pd.to_datetime(last_alive).reindex(index)
        imputed = bounds["earliest"].where(~(floor > bounds["earliest"]), floor)
        imputed = imputed.where(~(floor > bounds["latest"]), bounds["latest"])  # inconsistent: keep inside the span
        out.loc[partial, "dthdt"] = imputed[partial]
        out.loc[partial, "dthdt_imputed"] = np.where(precision[partial].eq("year"), "M", "D")
        day = imputed.dt.strftime("%Y-%m-%d")
        out.loc[partial, "dth_reason"] = ("death date '" + shown[partial] + "' partial: imputed to " + day[partial]
                                          + " (earliest possible day, not before the last known alive date)")
    unusable = dthfl & out["dthdt"].isna()
    out.loc[unusable, "dthdt_imputed"] = "Y"
    out.loc[unusable, "dth_reason"] = np.where(
        given[unusable], "death recorded but the death date '" + shown[unusable] + "' is not a usable date",
        "death recorded (DTHFL = Y) without a death date")
    out["dthdt"] = pd.to_datetime(out["dthdt"])
    return out


def _related(values: pd.Series, rel: Relationship, what: str) -> tuple[pd.Series, pd.Series]:
    """(related bool, issue text) for a relationship column under the configured mapping; ``what`` names it."""
    related = pd.Series(True, index=values.index)
    related[values.isin(rel.not_related).fillna(False)] = False
    related[values.isna()] = rel.missing_is_related
    unknown = values.notna() & ~values.isin(rel.related) & ~values.isin(rel.not_related)
    issue = pd.Series("", index=values.index, dtype="object")
    issue[unknown] = f"{what} '" + values[unknown].astype(str) + "' not in the mapping: counted as related"
    issue[values.isna()] = f"{what} missing: counted as {'related' if rel.missing_is_related else 'not related'}"
    return related.astype(bool), issue


def ae_grade(ae: pd.DataFrame) -> pd.Series:
    """CTCAE grade as Int64: the ``grade`` column of ae.validate_ae when present, else AETOXGR / ATOXGR."""
    col = pick(ae, "grade") or AE.column(ae, "reported_grade")
    if col is None:
        return pd.Series(pd.NA, index=ae.index, dtype="Int64")
    grade = parse_grade(ae[col])
    return grade.where(grade.between(1, 5)).astype("Int64")


def reported_term(ae: pd.DataFrame) -> pd.Series:
    """The term an AE is tabulated under: its CTCAE term (validate_ae), else the MedDRA preferred term (AEDECOD),
    else the verbatim term, stripped. A MedDRA term that is not a CTCAE term is still an adverse event."""
    ctcae = ae["ctcae_term"] if "ctcae_term" in ae.columns else pd.Series(pd.NA, index=ae.index)
    return ctcae.astype("string").str.strip().fillna(AE.text(ae, "decoded")).fillna(AE.text(ae, "verbatim"))


def is_fatal(ae: pd.DataFrame) -> pd.Series:
    """Bool per AE record (same index): fatal = AESDTH = "Y", AEOUT = "FATAL", or CTCAE grade 5 where the term has a
    grade 5 (a grade 5 reported for a term without one, e.g. Alopecia, is an invalid grade listed in DQ03, not a
    death; a term the catalog does not know keeps its grade 5)."""
    grade5 = ae_grade(ae).eq(5).fillna(False).astype(bool)
    if "ctcae_term" in ae.columns and grade5.any():
        terms = ae["ctcae_term"].astype("string")
        has5 = {t: (row := lookup_term(t)) is None or pd.notna(row["grade_5"]) for t in terms[grade5].dropna().unique()}
        grade5 &= ~terms.map(has5).eq(False).fillna(False).astype(bool)  # unknown term: the reported grade 5 stands
    return (grade5 | AE.text(ae, "death", upper=True).eq("Y").fillna(False)
            | AE.text(ae, "outcome", upper=True).eq("FATAL").fillna(False)).astype(bool)


def flag_ae(ae: pd.DataFrame, population: pd.DataFrame, window: TreatmentEmergent,
            relationship: Relationship) -> pd.DataFrame:
    """Add ``astdt``, ``astdt_imputed`` ("", "D", "M", "Y"), ``ady`` (days from infusion, day 0 = infusion),
    ``trtemfl`` (``trtemfl_derived`` by the window, ``trtemfl_source`` "derived" or "TRTEMFL as given"),
    ``period`` (:data:`PERIODS`), ``related_cart``, ``related_ld``, ``related`` and ``flag_issue`` to a copy of the
    AE frame.

    ``population``: :func:`safety_population`. Treatment-emergent: participant in the safety population and onset
    in the window of :func:`window_bounds` (an onset on the window's first day at a clock time before a timed
    infusion is not emergent; an onset without a time is); ADaM TRTEMFL is taken as given when
    ``window.use_given_flags``.
    Related: ``relationship`` maps AEREL / AERELLD values. Every row keeps a reason in ``flag_issue`` when something
    had to be assumed (imputed or unknown date, unknown relationship value).
    """
    out = ae.copy()
    pop = population.set_index("usubjid")
    subj = AE.subjects(out)
    infdt = subj.map(pop["infdt"]).astype("datetime64[ns]")
    saffl = subj.map(pop["saffl"]).fillna(False).astype(bool)
    start_col = AE.column(out, "start")
    end_col = AE.column(out, "end")
    if start_col is None and AE.column(out, "analysis_start") is not None:  # ADaM: analysis date already imputed
        out["astdt"] = to_date(out[AE.column(out, "analysis_start")], sas_days=True)
        flag_col = AE.column(out, "analysis_start_flag")
        out["astdt_imputed"] = (AE.text(out, "analysis_start_flag", upper=True).fillna("").astype(str) if flag_col
                                else "")
        date_issue = pd.Series("", index=out.index, dtype="object")
        date_issue[out["astdt"].isna()] = "analysis start date ASTDT missing"
    else:
        if start_col is None:
            raise ValueError("AE frame has no onset date column (AESTDTC, or ADaM ASTDT)")
        end = out[end_col] if end_col else None
        imputed = impute_start_date(out[start_col], infdt, end)
        out["astdt"] = imputed["date"]
        out["astdt_imputed"] = imputed["imputed"]
        flag = imputed["imputed"]
        told = pd.Series("", index=out.index, dtype="object")
        day = imputed["date"].dt.strftime("%Y-%m-%d")
        told[flag.eq("D")] = "onset day missing: imputed to " + day[flag.eq("D")]
        told[flag.eq("M")] = "onset month and day missing: imputed to " + day[flag.eq("M")]
        told[flag.eq("Y")] = "onset date unknown: imputed to the infusion date (treatment-emergent)"
        date_issue = join_texts(imputed["reason"], told)
    out["ady"] = (out["astdt"] - infdt).dt.days.astype("Int64")
    win = pd.DataFrame({"usubjid": subj}).join(window_bounds(population, window), on="usubjid")
    given_time = AE.column(out, "analysis_start_time")
    start_time = (pd.to_datetime(out[given_time], errors="coerce") if given_time is not None
                  else _with_time(AE.text(out, "start")))
    before_time = (start_time < win["win_start_time"]).fillna(False)  # same day, earlier clock time
    after_start = (out["astdt"] >= win["win_start"]).fillna(False) & ~before_time
    before_end = (out["astdt"] <= win["win_end"]).fillna(False)
    out["trtemfl_derived"] = (saffl & after_start & before_end).astype(bool)
    out["period"] = _periods(out["astdt"], start_time, saffl, subj.map(pop["ldstdt"]), infdt,
                             subj.map(pop["infdtm"]) if "infdtm" in pop.columns else None, win["win_end"])
    given_flag = AE.column(out, "emergent_flag")
    if window.use_given_flags and given_flag is not None:  # ADaM ADAE: the sponsor's flag, as given
        out["trtemfl"] = AE.text(out, "emergent_flag", upper=True).eq("Y").fillna(False).astype(bool)
        out["trtemfl_source"] = "TRTEMFL as given"
    else:
        out["trtemfl"] = out["trtemfl_derived"]
        out["trtemfl_source"] = "derived"
    out["related_cart"], cart_issue = _related(AE.text(out, "related", upper=True), relationship,
                                               "relationship to the study treatment (AEREL)")
    ld_col = AE.column(out, "related_ld")
    if ld_col is None:
        out["related_ld"] = False
        ld_issue = pd.Series("", index=out.index, dtype="object")
        if relationship.attribution == "lymphodepletion":
            ld_issue[:] = "AERELLD (relationship to lymphodepletion) not collected"
    else:
        out["related_ld"], ld_issue = _related(AE.text(out, "related_ld", upper=True), relationship,
                                               "relationship to lymphodepletion (AERELLD)")
    attribution = relationship.attribution
    out["related"] = {
        "cart": out["related_cart"],
        "lymphodepletion": out["related_ld"],
        "either": out["related_cart"] | out["related_ld"],
    }[attribution].astype(bool)
    pop_issue = pd.Series("", index=out.index, dtype="object")
    pop_issue[~saffl] = "participant not in the safety population (no CAR-T infusion)"
    pop_issue[saffl & infdt.isna()] = "infusion date unknown: cannot place the AE in the treatment window"
    out["flag_issue"] = join_texts(date_issue, cart_issue, ld_issue, pop_issue)
    return out


def participant_ae_flags(flagged: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """One row per safety-population participant: worst TEAE/TRAE grade and whether they had any TEAE, TRAE,
    grade >= 3, serious or fatal event (treatment-emergent; the ``trae_*`` columns also related per the configured
    attribution; ``trae_cart`` / ``trae_ld``: any TEAE related to the CAR-T product / to lymphodepletion)."""
    pop = population.loc[population["saffl"], ["usubjid"]].reset_index(drop=True)
    ae = flagged.loc[flagged["trtemfl"]]
    subj = AE.subjects(ae)
    grade = ae_grade(ae)
    serious = AE.text(ae, "serious", upper=True).eq("Y").fillna(False)
    fatal = is_fatal(ae)
    facts = pd.DataFrame(
        {
            "usubjid": subj,
            "teae": True,
            "teae_g3": grade.ge(3).fillna(False),
            "teae_serious": serious,
            "teae_fatal": fatal,
            "teae_worst": grade.astype("Float64"),
        }
    )
    rel = ae["related"].astype(bool)
    for name in ("", "_g3", "_serious", "_fatal"):
        facts[f"trae{name}"] = facts[f"teae{name}"].astype(bool) & rel
    facts["trae_cart"] = ae["related_cart"].astype(bool)  # by attribution, whatever the configured choice
    facts["trae_ld"] = ae["related_ld"].astype(bool)
    facts["trae_worst"] = facts["teae_worst"].where(rel)
    agg = {c: "max" for c in facts.columns if c != "usubjid"}
    per = facts.groupby("usubjid").agg(agg)
    out = pop.merge(per, left_on="usubjid", right_index=True, how="left")
    bools = [c for c in out.columns if c != "usubjid" and not c.endswith("worst")]
    out[bools] = out[bools].astype("boolean").fillna(False).astype(bool)
    for c in ("teae_worst", "trae_worst"):
        out[c] = out[c].astype("Float64").round().astype("Int64")
    return out


def primary_endpoint(flagged: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Primary endpoint (table id ``PRIMARY``): participants with >= 1 treatment-related AE within the window, n / N,
    %, exact Clopper-Pearson 95% CI; the same for grade >= 3, serious and fatal TRAEs, and by attribution (CAR-T
    product, lymphodepletion) whatever the configured attribution. N = safety population."""
    facts = participant_ae_flags(flagged, population)
    total = len(facts)
    rows = [
        proportion("Any treatment-related AE", facts["trae"].sum(), total),
        proportion("Treatment-related AE grade >= 3", facts["trae_g3"].sum(), total),
        proportion("Serious treatment-related AE", facts["trae_serious"].sum(), total),
        proportion("Fatal treatment-related AE", facts["trae_fatal"].sum(), total),
        proportion("AE related to the CAR-T product", facts["trae_cart"].sum(), total),
        proportion("AE related to lymphodepletion", facts["trae_ld"].sum(), total),
    ]
    table = pd.DataFrame(rows)
    return table


def ae_overview(flagged: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """AE overview (table id ``AET01``): participants with any TEAE, TRAE, grade >= 3, serious, leading to death;
    n / N, % and exact 95% CI. A participant counts once per row."""
    facts = participant_ae_flags(flagged, population)
    total = len(facts)
    labels = {
        "teae": "Any treatment-emergent AE",
        "trae": "Any treatment-related AE",
        "teae_g3": "Treatment-emergent AE grade >= 3",
        "trae_g3": "Treatment-related AE grade >= 3",
        "teae_serious": "Serious AE",
        "trae_serious": "Serious treatment-related AE",
        "teae_fatal": "AE leading to death",
        "trae_fatal": "Treatment-related AE leading to death",
    }
    table = pd.DataFrame([proportion(label, facts[col].sum(), total) for col, label in labels.items()])
    table.insert(0, "flag", list(labels))
    return table
