"""The registry of the run's outputs: one declaration per table and figure (ID, title, section, builder, texts).

The pipeline builds what the registry declares, the report lays it out in registry order by section, the run
folder writes every table as ``tables/<ID>.csv`` and the stage an output needs gives its reason when it is missing.
IDs are the ones the report shows (tern / FDA Standard Safety Tables style where one exists: AET01, AET04_TEAE,
LBT14, ...); the full list with titles is in docs/ARCHITECTURE.md (tables).

A builder takes the frames named in ``inputs`` (lower case: derived frames of :class:`StudyResults`, e.g. ``ae``,
``population``; upper case: SDTM domains as read, e.g. ``EX``; ``config`` / ``config.<section>``: the study
configuration or one of its sections; an ID: a table built before it; a trailing ``?``: optional, None when
absent) and returns a DataFrame, or a DataFrame and the fields that fill the declared ``note`` / ``empty`` texts,
or None (nothing to show, e.g. AE terms not validated). Without a builder the single input is the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ctcae_engine.analyse import (
    common_aes,
    deaths,
    demographics,
    disposition,
    dlt,
    efficacy,
    eligibility,
    endpoints,
    listings,
    sae,
    safety_tables,
    vitals_ecg,
)
from ctcae_engine.analyse import crs_management as crs_mgmt
from ctcae_engine.analyse import data_quality as dq
from ctcae_engine.analyse import icaht as icaht_tables
from ctcae_engine.figures import study as study_figures

SECTIONS = ("cover", "key_findings", "summary", "enrollment", "ae_tables", "listings", "deaths", "cart", "labs",
            "efficacy", "data_quality", "methods")
"""Report sections, in reading order (the templates have one partial per section)."""


@dataclass(frozen=True)
class Table:
    """One table of a run: its identity and texts from the declaration, and the rows built from the data."""

    id: str
    title: str
    section: str
    frame: pd.DataFrame
    note: str = ""
    empty: str = "No rows."
    listing: bool = False


@dataclass(frozen=True)
class Output:
    """The declaration of a table (``kind`` "table") or figure ("figure"): see the module docstring."""

    kind: str
    id: str
    title: str
    section: str
    inputs: tuple[str, ...]
    build: Callable[..., Any] | None = None
    options: tuple[tuple[str, Any], ...] = ()
    needs: tuple[str, ...] = ()  # stages whose absence (no domain, a failure) makes this output unavailable
    listing: bool = False  # grows with participants: the report shows its first rows, the CSV all
    note: str = ""
    empty: str = "No rows."

    def table(self, frame: pd.DataFrame, fields: dict[str, Any] | None = None) -> Table:
        """This declaration's table for ``frame``; ``fields`` fill the ``{name}`` slots of the note and empty text."""
        note, empty = (self.note.format(**fields), self.empty.format(**fields)) if fields else (self.note, self.empty)
        return Table(self.id, self.title, self.section, frame, note, empty, self.listing)


def _table(id: str, title: str, section: str, inputs: tuple[str, ...], build: Callable[..., Any] | None = None,
           **kw: Any) -> Output:
    kw["options"] = tuple(kw.get("options", {}).items())
    return Output("table", id, title, section, inputs, build, **kw)


def _figure(id: str, title: str, section: str, inputs: tuple[str, ...], build: Callable[..., str],
            needs: tuple[str, ...]) -> Output:
    return Output("figure", id, title, section, inputs, build, needs=needs)


POP, AE = ("population",), ("population", "ae")
AE_RULES = ("{window} Terms: the CTCAE term where the reported term matches one, else the MedDRA preferred term "
            "(AEDECOD) as reported. A reported grade that CTCAE does not define for its term (e.g. Alopecia grade 3) "
            "counts as reported, here and in every table (a grade is never lowered), and is listed in DQ03.")
IMPUTED = "Onset: imputed dates are flagged (D = day, M = month and day, Y = whole date imputed). "

REGISTRY: tuple[Output, ...] = (
    # enrollment
    _table("DISP01", "Participant disposition", "enrollment", ("population",), disposition.disposition_table,
           needs=POP, note="The safety population (denominator N of the AE tables) is every participant infused."),
    _table("DMT01", "Demographics and baseline characteristics", "enrollment", ("population", "DM", "MH?"),
           demographics.demographics_table, needs=POP,
           note="N = {N}: the safety population (every participant infused); percentages of the column's N. A "
                "characteristic the data do not hold (e.g. ECOG, prior lines) says 'not collected'."),
    _table("ELIG_SCREEN", "Screening eligibility, one row per participant and criterion", "", ("eligibility",)),
    _table("ELIG01", "Screening eligibility criteria not met", "enrollment", ("eligibility",),
           eligibility.eligibility_failures, listing=True,
           empty="Every participant met every laboratory eligibility criterion at screening.",
           note="{eligible} of {screened} participants met every laboratory criterion of the study configuration at "
                "screening."),
    _table("EXP01", "Exposure: lymphodepletion and CAR-T infusion", "enrollment", ("EX",), disposition.exposure_table,
           note="Doses as recorded in EX (EXDOSE, EXDOSU); one row per administration counted."),
    _figure("swimmer", "Swimmer plot: time on study, grade >= 3 AEs, CRS, response, progression, death", "enrollment",
            ("population", "ae?", "bor?", "responses?", "data_cutoff", "DS?", "DM?"), study_figures.swimmer, POP),
    # adverse events
    _table("PRIMARY", "Primary endpoint: participants with treatment-related AEs within the window, overall and by "
                      "attribution (exact Clopper-Pearson 95% CI)", "ae_tables", ("ae", "population"),
           endpoints.by_arm, options={"build": endpoints.primary_endpoint}, needs=AE, note="{window}"),
    _table("AET01", "Overview of adverse events", "ae_tables", ("ae", "population"), endpoints.by_arm,
           options={"build": endpoints.ae_overview}, needs=AE, note=AE_RULES),
    _table("AET04_TRAE", "Treatment-related AEs by SOC, PT and worst CTCAE grade", "ae_tables", ("ae", "population"),
           safety_tables.ae_soc_pt_table, options={"related": True}, needs=AE, note=AE_RULES),
    _table("AET04_TEAE", "Treatment-emergent AEs by SOC, PT and worst CTCAE grade", "ae_tables", ("ae", "population"),
           safety_tables.ae_soc_pt_table, options={"related": False}, needs=AE, note=AE_RULES),
    _table("AET01_PERIOD", "Adverse events by study period of onset", "ae_tables", ("ae", "population"),
           safety_tables.ae_period_table, needs=AE,
           note="{window} Every AE record is counted in the period of its onset: before treatment (before the first "
                "lymphodepleting or study-treatment dose), lymphodepletion (first lymphodepleting dose to the "
                "infusion), post-infusion (infusion to the window end), after the window. AEs outside the window "
                "are in no other AE table; they are listed here, and the lymphodepletion period in AET04_LD."),
    _table("AET04_LD", "AEs with onset during lymphodepletion (before the infusion) by SOC, PT and worst CTCAE grade",
           "ae_tables", ("ae", "population"), safety_tables.ae_soc_pt_table, options={"period": "lymphodepletion"},
           needs=AE, empty="No AE with onset in the lymphodepletion period.",
           note="N = safety population. Onset from the first lymphodepleting dose to before the CAR-T infusion."),
    _table("DLT01", "Dose-limiting toxicities by dose level and the stopping rule", "ae_tables",
           ("ae", "population", "config.dlt", "data_cutoff"), dlt.dlt_table, needs=AE,
           empty="No DLT table: {rule}.",
           note="DLT: the protocol's definition in the study configuration ([dlt]); stopping rule: {rule}. "
                "DLT-evaluable: the DLT window closed by the data cut-off, or a DLT or death within it."),
    _table("DLT02", "Listing of dose-limiting toxicities", "ae_tables", ("ae", "population", "config.dlt"),
           dlt.dlt_listing, needs=AE, listing=True, empty="No AE meets the DLT definition (or none is set)."),
    _table("SAET01", "Serious adverse events (AESER = Y): any, related, fatal, by SOC and PT", "ae_tables",
           ("ae", "population"), sae.sae_table, needs=AE,
           note="N = {N} (safety population, every participant infused); treatment-emergent SAEs; a participant "
                "counts once per row. Related: per the configured attribution; fatal: AESDTH = Y, outcome FATAL or "
                "grade 5."),
    _table("AET10", "Most common treatment-emergent AEs (>= 10% of participants), by preferred term", "ae_tables",
           ("AET04_TEAE", "population"), common_aes.most_common_aes, needs=AE,
           empty="No treatment-emergent AE term reported by {min_pct}% of the participants or more.",
           note="Participants counted once per term at the worst grade; N = {N} (safety population). Terms reported "
                "by at least {min_pct}% of the participants, most frequent first; every term is in AET04_TEAE."),
    _figure("ae_heatmap", "AE heat map: worst CTCAE grade per participant and term", "ae_tables", ("ae",),
            study_figures.ae_heatmap, ("ae",)),
    # listings and deaths
    _table("AEL_G3", "Listing of treatment-emergent AEs of CTCAE grade 3 or higher", "listings", ("ae",),
           listings.grade3_listing, needs=("ae",), listing=True,
           empty="No treatment-emergent AE of grade 3 or higher.",
           note=IMPUTED + "Day: days from CAR-T infusion (day 0). LD: lymphodepletion."),
    _table("AEL_SAE", "Listing of serious adverse events", "listings", ("ae",), listings.sae_listing, needs=("ae",),
           listing=True, empty="No serious AE in the data.",
           note="All serious AEs in the data, treatment-emergent or not."),
    _table("DTHT01", "Summary of deaths: within 30 and 90 days of infusion, primary cause, relation", "deaths",
           ("population", "ae?"), deaths.deaths_summary, needs=POP,
           note="N = {N} (safety population: every death after infusion is among them). Day 0 = CAR-T infusion. "
                "Primary cause: the CTCAE term of the fatal AE (grade 5, AESDTH = Y or outcome FATAL); a death "
                "without one is 'not recorded as a fatal AE'.{outside}"),
    _table("DTHL01", "Listing of deaths", "deaths", ("population", "ae?"), listings.deaths_listing, needs=POP,
           listing=True, empty="No death in the data.",
           note="Deaths from DM (DTHDTC, DTHFL) and AEs with grade 5, AESDTH = Y or outcome FATAL. Day: days from "
                "CAR-T infusion. Date imputed: D = day, M = month and day imputed from a partial DTHDTC (earliest "
                "possible day, not before the last known alive date); Y = DTHFL = Y without a usable date."),
    # CAR-T toxicity
    _table("CRS_EPISODES", "CRS episodes (ASTCT 2019)", "", ("crs_episodes",)),
    _table("CRST01", "CRS and ICANS incidence by maximum ASTCT 2019 grade", "cart", ("episodes", "population", "ae?"),
           safety_tables.crs_icans_incidence, needs=("population", "xc", "crs", "icans")),
    _table("CRST02", "CRS and ICANS: time to onset and duration (days)", "cart", ("episodes", "population"),
           safety_tables.crs_icans_timing, needs=("population", "xc", "crs", "icans")),
    _table("CRS01", "Cytokine release syndrome per participant: ASTCT 2019 and CTCAE v4.03 side by side", "cart",
           ("crs_vs_ae", "population?"), safety_tables.crs_icans_per_participant, needs=("xc", "crs"), listing=True),
    _table("ICANS_EPISODES", "ICANS episodes (ASTCT 2019); CTCAE v4.03 has no ICANS term: see the nervous-system AEs "
                             "in section 3", "cart", ("icans_episodes",), needs=("xc", "icans"), listing=True),
    _table("CRSMGMT01", "CRS and ICANS management per participant: tocilizumab, corticosteroids, anakinra, "
                        "siltuximab, vasopressors (CM)", "cart", ("CM?", "population", "config"),
           crs_mgmt.crs_management, needs=("population",), listing=True, empty="{why}",
           note="CM records started in the treatment-emergent window; days from infusion (day 0); one record = one "
                "dose. CM does not say what a drug was given for beyond CMINDC (shown): the investigator decides."),
    _table("CRSMGMT02", "CRS and ICANS management: participants treated with each (CM)", "cart",
           ("CM?", "population", "config"), crs_mgmt.crs_management_summary, needs=("population",),
           empty="{why}", note="Safety population; CM records started in the treatment-emergent window."),
    _table("ICAHT01", "Immune effector cell-associated hematotoxicity (ICAHT, EHA/EBMT 2023) per participant", "cart",
           ("labs", "population"), icaht_tables.grade_icaht, needs=("population", "labs"), listing=True,
           note="Rejeski et al., Blood 2023. Early ICAHT (day 0-30): cumulative days with ANC <= 500/uL and <= "
                "100/uL; a day without a result counts as below when the results before it are below and one comes "
                "after it (below until the first result above); a recovery of fewer than 3 days counts as below. "
                "Late ICAHT (after day 30): the lowest ANC threshold met by at least two results on different days. "
                "Grade NA: the results cannot decide the grade (reason). Nadirs in 10^9/L, day from infusion."),
    _table("ICAHT02", "ICAHT (EHA/EBMT 2023) incidence by grade, early and late", "cart", ("ICAHT01", "population"),
           icaht_tables.icaht_incidence, needs=("population", "labs"),
           note="Safety population. Not gradable: too few ANC results to decide the grade (ICAHT01 gives the "
                "reason); never counted as grade 0."),
    # labs, vital signs, ECG
    _table("LBT14", "Shift from baseline to worst post-baseline CTCAE grade", "labs",
           ("labs", "population?", "config.treatment_emergent"), safety_tables.lab_shift_table, needs=("labs",)),
    _table("LBT07", "Participants with a worst post-baseline lab grade >= 3", "labs",
           ("labs", "population?", "config.treatment_emergent"), safety_tables.lab_grade3_table, needs=("labs",)),
    _figure("lab_trajectories", "Laboratory trajectories (ANC, platelets, hemoglobin, ALT) with CTCAE grade bands",
            "labs", ("labs", "population"), study_figures.lab_trajectories, ("labs",)),
    _table("VSEG01", "Vital signs and ECG: participants by worst post-baseline CTCAE grade", "labs",
           ("vitals?", "ecg?", "population?", "config.treatment_emergent"), vitals_ecg.worst_grade_counts,
           needs=("vseg",),
           empty="No graded vital-sign or ECG record after baseline.",
           note="Participants counted once per term at their worst post-baseline grade in the treatment-emergent "
                "window (baseline as for the labs). Fever, Hypertension, Weight loss/gain and Hypoxia from VS; QTc "
                "prolonged from EG."),
    _table("VSEG02", "Vital signs and ECG: worst record per participant and term, CTCAE grade >= 2", "labs",
           ("vitals?", "ecg?", "population?", "config.treatment_emergent"), vitals_ecg.worst_records,
           needs=("vseg",), listing=True,
           empty="No vital-sign or ECG grade >= 2 after baseline in the treatment-emergent window.",
           note="One row per participant and term: the worst post-baseline record (earliest if tied)."),
    # efficacy
    _table("ORR01", "Objective response rate", "efficacy", ("bor",), efficacy.orr_table, needs=("population", "rs"),
           note="N = infused participants whose response window closed by the data cut-off. {not_yet_evaluable}"),
    _table("PFS01", "Progression-free survival", "efficacy", ("pfs", "config.pfs"), efficacy.pfs_table,
           needs=("population", "rs"), note="{note}"),
    _figure("km_pfs", "Kaplan-Meier estimate of progression-free survival, with numbers at risk", "efficacy",
            ("pfs",), study_figures.km_pfs, ("population", "rs")),
    _table("PERS01", "CAR-T persistence: detectable transgene at month 6", "efficacy",
           ("cart_levels", "population", "config.persistence"), efficacy.persistence_at_target,
           needs=("population", "pc")),
    _table("PERS02", "CAR-T levels by nominal day", "efficacy", ("cart_levels", "config.persistence"),
           efficacy.persistence_over_time, needs=("population", "pc", "PERS01"),
           note="Levels in the unit shown (the study's [persistence] unit). A sample below the LLOQ is not detectable "
                "(n detectable counts the others): it has no value, is never counted as 0, and a statistic that "
                "falls on or next to one is shown as <LLOQ. The figure draws such samples in the grey band below "
                "the LLOQ line, by the same rule."),
    _figure("persistence", "CAR-T levels over time", "efficacy", ("cart_levels", "config.persistence"),
            study_figures.persistence, ("population", "pc", "PERS01")),
    # data quality
    _table("DQ02_ROWS", "Every ungraded lab, vital-sign and ECG row with its reason", "",
           ("labs?", "vitals?", "ecg?"), dq.ungraded_rows),
    _table("DQ01", "Rows that could not be graded, by domain and reason", "data_quality", ("DQ02_ROWS",),
           dq.ungraded_counts, needs=("grading",), empty="Every lab, vital-sign and ECG row was graded."),
    _table("DQ02", "Ungraded rows with their reason, by domain, test and reason", "data_quality", ("DQ02_ROWS",),
           dq.ungraded_groups, needs=("grading",), listing=True, empty="Every lab, vital-sign and ECG row was graded.",
           note="Rows sharing domain, test and reason are grouped (rows, participants, first and last date, up to 3 "
                "participants and 3 distinct results); every row, with its reason, is in ungraded_rows.csv next to "
                "the report."),
    _table("DQ03", "Invalid AE terms and grades", "data_quality", ("ae",), dq.invalid_ae_terms, needs=("ae",),
           listing=True, empty="Every AE term and grade is valid CTCAE v4.03."),
    _table("DQ04", "Reported versus derived discrepancies", "data_quality", ("reconciliation",), dq.discrepancies,
           needs=("ae",), listing=True,
           empty="No discrepancy between the reported AE grades and the grades derived from the observations.",
           note="{legend}Reported AEs against grades derived from labs (LB), vital signs (VS) and ECG (EG) in the AE "
                "window +/- 3 days; MISSING_AE needs a value that alone reaches grade >= 3. XC: the CRS AE grade "
                "against ASTCT 2019 (the AE form's CTCAE v4.03 CRS grade is a different scale: a query, not an "
                "error). CTCAE grades that need clinical information (e.g. Hypokalemia grade 2, symptomatic) are "
                "derived as the worse grade; a reported grade the value alone also fits is GRADE_NEEDS_CONTEXT: it "
                "asks whether the clinical criterion was met."),
    _table("DQ05", "AE records that needed an assumption (imputed onset date, unmapped relationship)", "data_quality",
           ("ae",), dq.ae_assumptions, needs=("ae",), listing=True,
           empty="No AE needed an assumption (all dates complete, relationships mapped)."),
    _table("DQ06", "Records dated after the data cut-off, excluded from the analysis", "data_quality",
           ("excluded", "data_cutoff"), dq.late_records,
           empty="No record is dated after the data cut-off {data_cutoff}.",
           note="These records were left out of every table, listing and figure. Partial dates that may fall on or "
                "before the cut-off (e.g. 2025-06 for 2025-06-30) are kept; every excluded record is in "
                "excluded_after_cutoff.csv next to the report."),
    _table("DQ09", "Participants with more than one infusion record", "data_quality",
           ("population", "config.treatment_emergent"), dq.repeated_infusions, needs=POP, listing=True,
           empty="Every infused participant has one infusion record (or the window counts to the last dose).",
           note="Day 0 is the first infusion record. A study with repeated doses sets [treatment_emergent] "
                "after_last_dose_days; in a single-infusion study, a second record needs a check of EX."),
    _table("DQ10", "ADaM ADAE: sponsor TRTEMFL (as given) versus the engine's window", "data_quality", ("ae",),
           dq.sponsor_emergent_flags, needs=("ae",), listing=True,
           empty="No ADaM TRTEMFL given, or every given flag agrees with the study's window.",
           note="The tables use the sponsor's TRTEMFL ([treatment_emergent] use_given_flags = true); this lists "
                "where the engine's window would decide otherwise."),
    _table("DQ11", "ADaM ADLB: sponsor toxicity grades (ATOXGRL / ATOXGRH) versus the engine's re-grade",
           "data_quality", ("labs",), dq.sponsor_lab_grades, needs=("labs",), listing=True,
           empty="No sponsor toxicity grade given, or every given grade agrees with the engine's.",
           note="The tables use the engine's grades (CTCAE v4.03 as docs/grading.md states it); the sponsor's "
                "differing grades are listed for review."),
    _table("DQ07", "Supplemental qualifier rows (SUPP--) that match no parent record", "data_quality",
           ("supp_unmatched?",), dq.supp_unmatched, listing=True,
           empty="Every supplemental qualifier row (SUPP--) matched a record of its parent domain.",
           note="These qualifiers (e.g. AERELLD) reached no record: the record they belong to reads them as missing. "
                "Keys are compared as text, a numeric sequence number 1.0 as 1."),
    _table("DQ08", "CAR-T toxicity (XC) rows that could not be used for ASTCT 2019 grading", "data_quality",
           ("XC", "config"), dq.xc_unusable, needs=("xc",), listing=True,
           empty="Every XC (CRS / ICANS) row could be used for ASTCT 2019 grading.",
           note="These rows were left out of the CRS and ICANS grading, each with the reason."),
    _table("DQ12", "Days inside a CRS / ICANS episode without a gradable assessment", "data_quality",
           ("crs?", "icans?", "config"), dq.episode_gaps, needs=("xc",), listing=True,
           empty="Every day inside a CRS or ICANS episode has a gradable assessment.",
           note="Up to [cart] episode_max_missing_days days in a row without a gradable assessment do not end an "
                "episode and count in its duration (ASTCT 2019 gives no rule for missing days: the engine's "
                "documented choice, docs/cart.md); each such day is listed here to be chased or confirmed."),
    _table("DQ13", "CM vasopressor records not counted for CRS hypotension, or counted with a caveat", "data_quality",
           ("CM?", "config"), dq.cm_vasopressor_records, listing=True,
           empty="No CM domain, or every CM vasopressor record was placed on its days and counted for CRS "
                 "hypotension.",
           note="A vasopressor that cannot be placed on a day leaves that participant's hypotensive assessments "
                "ungraded (never a lower grade); a record without a full CMENDTC counts on its start day only."),
    # methods
    _table("METH01", "CTCAE rules applied in this run", "methods", ("labs?", "vitals?", "ecg?"), dq.rules_applied,
           needs=("grading",)),
)

DECLARED: dict[str, Output] = {output.id: output for output in REGISTRY}


def declared(output_id: str) -> Output:
    """The declaration of ``output_id`` (KeyError naming the known IDs when there is none)."""
    try:
        return DECLARED[output_id]
    except KeyError:
        raise KeyError(f"no output {output_id!r} in the registry; known: {', '.join(DECLARED)}") from None


def in_section(section: str) -> list[Output]:
    """The outputs the report shows in ``section``, in registry order."""
    return [output for output in REGISTRY if output.section == section]
