"""The data-quality appendix (DQ01-DQ08) and the rules applied (METH01): what the engine could not use, and why.

Every builder takes the frames it reads and returns a new DataFrame (None: nothing to report on, e.g. no graded
domain); titles and texts are declared with the tables in :mod:`ctcae_engine.tables`.
"""

from __future__ import annotations

import pandas as pd

from ctcae_engine.grade import ae as ae_checks
from ctcae_engine.grade import cart, cart_vasopressors
from ctcae_engine.read import columns
from ctcae_engine.read.config import StudyConfig, TreatmentEmergent
from ctcae_engine.read.cutoff import cutoff_summary
from ctcae_engine.read.fields import AE, LABS, SUPP

GRADED = ("LB", "VS", "EG")


def _first_of(values: pd.Series, k: int) -> str:
    """Up to ``k`` distinct values, sorted, joined; '...' when there are more."""
    distinct = sorted(set(values.dropna()))
    return ", ".join(distinct[:k]) + (f" ... ({len(distinct)} distinct)" if len(distinct) > k else "")


def ungraded_rows(labs: pd.DataFrame | None, vitals: pd.DataFrame | None,
                  ecg: pd.DataFrame | None) -> pd.DataFrame | None:
    """DQ02_ROWS: every lab, vital-sign and ECG row without a grade, with its result and reason (None: no graded
    domain)."""
    parts = []
    for domain, frame in zip(GRADED, (labs, vitals, ecg), strict=True):
        if frame is None or "grade" not in frame.columns:
            continue
        bad = frame[frame["grade"].isna()]
        value = columns.raw(bad, f"{domain}ORRES", f"{domain}STRESC").fillna("")
        unit = columns.raw(bad, f"{domain}ORRESU", f"{domain}STRESU").fillna("")
        parts.append(pd.DataFrame({"Domain": domain, "Participant": bad["usubjid"].astype("string"),
                                   "Test": bad["testcd"].astype("string"), "Date": bad["dtc"].astype("string"),
                                   "Result": (value + " " + unit).str.strip(),
                                   "Reason": bad["reason"].astype("string")}))
    if not parts:
        return None
    rows = pd.concat(parts, ignore_index=True)
    rows["Reason"] = rows["Reason"].replace("", pd.NA).fillna("no reason given by the grader")
    return rows


def ungraded_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """DQ01: ungraded rows (DQ02_ROWS) counted by domain and reason."""
    return rows.groupby(["Domain", "Reason"], sort=True).size().rename("Rows").reset_index()


def ungraded_groups(rows: pd.DataFrame) -> pd.DataFrame:
    """DQ02: ungraded rows (DQ02_ROWS) grouped by domain, test and reason: rows, participants, first and last date,
    up to 3 participant IDs and 3 distinct results."""
    keys = ["Domain", "Test", "Reason"]
    return rows.fillna({"Date": "", "Participant": ""}).groupby(keys, sort=True, dropna=False).agg(
        Rows=("Result", "size"), Participants=("Participant", "nunique"),
        **{"Participant IDs": ("Participant", lambda p: _first_of(p, 3))},
        First=("Date", "min"), Last=("Date", "max"), Results=("Result", lambda r: _first_of(r, 3)),
    ).reset_index()


def invalid_ae_terms(ae: pd.DataFrame) -> pd.DataFrame | None:
    """DQ03: AE records whose term or grade is not valid CTCAE (None: terms were not validated)."""
    if "valid" not in ae.columns:
        return None
    bad = ae[~ae["valid"].fillna(False).astype(bool)]
    return pd.DataFrame({"Participant": AE.raw(bad, "subject"), "Reported term": AE.raw(bad, "decoded"),
                         "Verbatim": AE.raw(bad, "verbatim"), "Reported grade": AE.raw(bad, "reported_grade"),
                         "Issue": columns.raw(bad, "issue")}).reset_index(drop=True)


def ae_assumptions(ae: pd.DataFrame) -> pd.DataFrame | None:
    """DQ05: AE records whose flags needed an assumption (imputed onset, unmapped relationship; None: not
    flagged)."""
    if "flag_issue" not in ae.columns:
        return None
    issue = ae["flag_issue"].astype("string").fillna("")
    rows = ae[issue.ne("")]
    return pd.DataFrame({"Participant": AE.raw(rows, "subject"), "Term": AE.raw(rows, "decoded"),
                         "Onset as given": AE.raw(rows, "start"),
                         "Assumption": issue[issue.ne("")]}).reset_index(drop=True)


def discrepancies(found: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """DQ04: reported AE grades against derived grades (the rows of
    :func:`ctcae_engine.analyse.reconciliation.combine_discrepancies`) for reading, and the legend of the
    discrepancy types present (the ``legend`` text of the note)."""
    found = found.reindex(columns=[*ae_checks.RECONCILE_COLUMNS, "domain"])

    def day(column: str) -> pd.Series:
        return pd.to_datetime(found[column], errors="coerce").dt.strftime("%Y-%m-%d").astype("string")

    first, last = day("obs_first"), day("obs_last")
    span = first.where(first.eq(last).fillna(False) | last.isna(), first + " to " + last)
    out = pd.DataFrame({
        "Participant": found["usubjid"].astype("string"), "Source": found["domain"],
        "Discrepancy": found["type"], "CTCAE term": found["term"].astype("string"),
        "Reported grade": pd.array(found["reported_grade"], dtype="Int64"),
        "Derived grade": pd.array(found["derived_grade"], dtype="Int64"),
        "AE onset": day("ae_start"), "AE end": day("ae_end"), "Observations": span,
        "n obs": pd.array(found["n_obs"], dtype="Int64"),
        "Worst evidence": found["evidence"].astype("string").fillna(""),
    }).reset_index(drop=True)
    legend = "; ".join(f"{code}: {text}" for code, text in ae_checks.DISCREPANCY_TYPES.items()
                       if code in set(found["type"]))
    return out, {"legend": legend + ". " if legend else ""}


def late_records(excluded: pd.DataFrame, data_cutoff: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """DQ06: records dated after the data cut-off, by domain (``data_cutoff`` fills the declared texts)."""
    return cutoff_summary(excluded), {"data_cutoff": data_cutoff}


def repeated_infusions(population: pd.DataFrame, window: TreatmentEmergent) -> pd.DataFrame:
    """DQ09: participants with more than one EX record of the infusion treatment while the window counts from one
    infusion (no ``after_last_dose_days``): day 0 is the first record; a second infusion (or a split record) may
    need ``after_last_dose_days`` or a check of EX."""
    if window.after_last_dose_days is not None or "n_infusions" not in population.columns:
        return pd.DataFrame(columns=["Participant", "Infusion records", "First (day 0)", "Last"])
    many = population[population["n_infusions"].gt(1)]
    return pd.DataFrame({"Participant": many["usubjid"], "Infusion records": many["n_infusions"],
                         "First (day 0)": many["infdt"].dt.strftime("%Y-%m-%d"),
                         "Last": many["lastdt"].dt.strftime("%Y-%m-%d")}).reset_index(drop=True)


def sponsor_emergent_flags(ae: pd.DataFrame) -> pd.DataFrame:
    """DQ10: ADaM ADAE records whose sponsor TRTEMFL (taken as given) differs from the flag the engine derives
    from the study's window (``endpoints.flag_ae``: trtemfl_derived)."""
    columns = ["Participant", "Term", "Onset", "Sponsor TRTEMFL", "Engine (window)", "Period"]
    if "trtemfl_source" not in ae.columns or not ae["trtemfl_source"].eq("TRTEMFL as given").any():
        return pd.DataFrame(columns=columns)
    differ = ae[ae["trtemfl"].astype(bool) != ae["trtemfl_derived"].astype(bool)]
    yes_no = {True: "Y", False: "N"}
    return pd.DataFrame({"Participant": AE.raw(differ, "subject"), "Term": AE.raw(differ, "decoded"),
                         "Onset": differ["astdt"].dt.strftime("%Y-%m-%d"),
                         "Sponsor TRTEMFL": differ["trtemfl"].astype(bool).map(yes_no),
                         "Engine (window)": differ["trtemfl_derived"].astype(bool).map(yes_no),
                         "Period": differ["period"]}, columns=columns).reset_index(drop=True)


def sponsor_lab_grades(labs: pd.DataFrame) -> pd.DataFrame:
    """DQ11: ADaM ADLB records whose sponsor grade (ATOXGRL / ATOXGRH) differs from the engine's re-grade of the
    same record (grade_low / grade_high); an ungraded side (NA) counts as different only when the other is given."""
    columns = ["Participant", "Test", "Date", "Value", "Direction", "Sponsor grade", "Engine grade", "Engine reason"]
    parts = []
    for direction in ("low", "high"):
        given = LABS.column(labs, f"grade_{direction}")
        if given is None or f"grade_{direction}" not in labs.columns:
            continue
        sponsor = pd.to_numeric(LABS.text(labs, f"grade_{direction}"), errors="coerce")
        engine = pd.to_numeric(labs[f"grade_{direction}"], errors="coerce").where(lambda g: g >= 0)
        differ = ~((sponsor == engine) | (sponsor.isna() & engine.isna())) & sponsor.notna()
        rows = labs[differ.to_numpy(dtype=bool)]
        parts.append(pd.DataFrame({
            "Participant": rows["usubjid"], "Test": rows["testcd"], "Date": rows["dtc"].astype("string"),
            "Value": LABS.raw(rows, "value"), "Direction": direction,
            "Sponsor grade": sponsor[differ].astype("Int64"), "Engine grade": engine[differ].astype("Int64"),
            "Engine reason": rows["reason"].astype("string")}))
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns))[columns]


def supp_unmatched(lost: pd.DataFrame | None) -> pd.DataFrame:
    """DQ07: supplemental qualifier rows (SUPP--) that match no parent record, so their value reached no row."""
    lost = lost if lost is not None else pd.DataFrame()
    return pd.DataFrame({"Domain": columns.raw(lost, "domain"), "Participant": SUPP.raw(lost, "subject"),
                         "IDVAR": columns.raw(lost, "IDVAR"), "IDVARVAL": columns.raw(lost, "IDVARVAL"),
                         "QNAM": columns.raw(lost, "QNAM"), "QVAL": columns.raw(lost, "QVAL"),
                         "Reason": columns.raw(lost, "reason")}).reset_index(drop=True)


def xc_unusable(xc: pd.DataFrame, config: StudyConfig | None = None) -> pd.DataFrame:
    """DQ08: the XC rows :func:`ctcae_engine.grade.cart.check_xc` finds unusable (not a full date and time, no
    participant, unknown test, a value not understood), with the reason; ``config``: its ``[cart] vasopressors``."""
    checked = cart.check_xc(xc, config.cart.vasopressors if config is not None else None)
    bad = checked[~checked["valid"].fillna(False).astype(bool)]
    return pd.DataFrame({"Participant": bad["usubjid"], "Date": bad["dtc"], "Test": bad["testcd"],
                         "Value": columns.join_texts(bad["value"], bad["unit"].astype("string"), sep=" "),
                         "Reason": bad["reason"].astype("string")}).reset_index(drop=True)


def cm_vasopressor_records(cm: pd.DataFrame | None, config: StudyConfig | None = None) -> pd.DataFrame:
    """DQ13: CM vasopressor records (by the [cart] vasopressors map) that were not counted for CRS hypotension, or
    counted with a caveat, each with the reason from :func:`ctcae_engine.grade.cart_vasopressors.check_cm` (which
    quotes a start that is not a full date as given). No CM domain: no rows."""
    out_columns = ["Participant", "Drug", "Start", "End", "Counted", "Reason"]
    if cm is None or cm.empty:
        return pd.DataFrame(columns=out_columns)
    checked = cart_vasopressors.check_cm(cm, config.cart.vasopressors if config is not None else None)
    flagged = checked[checked["vaso_class"].notna() & checked["reason"].ne("")]
    return pd.DataFrame({"Participant": flagged["usubjid"], "Drug": flagged["drug"],
                         "Start": flagged["start"].dt.strftime("%Y-%m-%d"),
                         "End": flagged["end"].dt.strftime("%Y-%m-%d"),
                         "Counted": flagged["counted"].map({True: "yes", False: "no"}),
                         "Reason": flagged["reason"]}).reset_index(drop=True)[out_columns]


def episode_gaps(crs: pd.DataFrame | None, icans: pd.DataFrame | None,
                 config: StudyConfig | None = None) -> pd.DataFrame:
    """DQ12: calendar days inside a CRS or ICANS episode without a gradable assessment (none made, or every one NA).

    The episode rule ([cart] episode_max_missing_days, :func:`ctcae_engine.grade.cart.episodes`) bridges these days,
    so they count in the episode's duration; the data manager should get the assessment or confirm it was not made.
    """
    gap = config.cart.episode_max_missing_days if config is not None else cart.EPISODE_MAX_MISSING_DAYS
    parts = []
    for name, graded in (("CRS", crs), ("ICANS", icans)):
        if graded is None or graded.empty:
            continue
        eps = cart.episodes(graded, gap)
        if eps.empty:
            continue
        days = eps.assign(adate=[pd.date_range(a, b, freq="D") for a, b in zip(eps["onset_date"], eps["end_date"],
                                                                             strict=True)]).explode("adate")
        days["adate"] = pd.to_datetime(days["adate"])
        gradable = graded.loc[graded["grade"].notna() & graded["adate"].notna(), ["usubjid", "adate"]]
        seen = pd.MultiIndex.from_frame(gradable.drop_duplicates())
        missing = days[~pd.MultiIndex.from_frame(days[["usubjid", "adate"]]).isin(seen)]
        day0 = eps.set_index(["usubjid", "episode"])
        offset = (missing["adate"] - missing["onset_date"]).dt.days
        parts.append(pd.DataFrame({
            "Participant": missing["usubjid"], "Syndrome": name, "Episode": missing["episode"],
            "Date": missing["adate"].dt.strftime("%Y-%m-%d"),
            "Day": (missing["onset_day"] + offset).astype("Int64"),
            "Episode days": missing.set_index(["usubjid", "episode"]).index.map(day0["duration_days"]),
            "Reason": "no gradable assessment on this day; bridged by the episode rule (counted in the duration)"}))
    out_columns = ["Participant", "Syndrome", "Episode", "Date", "Day", "Episode days", "Reason"]
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=out_columns))[out_columns]


def rules_applied(labs: pd.DataFrame | None, vitals: pd.DataFrame | None,
                  ecg: pd.DataFrame | None) -> pd.DataFrame | None:
    """METH01: the CTCAE rules that fired in this run, by domain, with the rows each graded."""
    parts = [f[["rule"]].assign(Domain=d) for d, f in zip(GRADED, (labs, vitals, ecg), strict=True)
             if f is not None and "rule" in f]
    if not parts:
        return None
    rules = pd.concat(parts, ignore_index=True)
    rules = rules[rules["rule"].astype("string").fillna("").ne("")]
    out = rules.groupby(["Domain", "rule"], sort=True).size().rename("Rows").reset_index()
    return out.rename(columns={"rule": "CTCAE rule (text of the criterion)"})
