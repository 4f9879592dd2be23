"""Safety tables built from flagged AEs, graded observations and CRS/ICANS episodes (tidy DataFrames).

The registry (:mod:`ctcae_engine.tables`) declares their IDs, after the FDA Standard Safety Tables / tern conventions:
``AET04_TEAE`` TEAEs by SOC and preferred term by worst grade, ``AET04_TRAE`` the same for treatment-related AEs,
``LBT14`` baseline grade vs worst post-baseline grade, ``LBT07`` worst post-baseline grade >= 3 per lab term,
``CRST01`` CRS/ICANS incidence by maximum grade, ``CRST02`` CRS/ICANS time to onset and duration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ctcae_engine.analyse.endpoints import PERIODS, ae_grade, is_fatal, proportion, reported_term, window_bounds
from ctcae_engine.grade.ae import ae_dates, stack_directions
from ctcae_engine.grade.cart import CRS_TERM, ICANS_TERM
from ctcae_engine.read.config import TreatmentEmergent
from ctcae_engine.read.dates import to_date
from ctcae_engine.read.fields import AE, LABS

SAFETY_PERIODS = PERIODS[:4]  # periods of participants in the safety population
BEFORE_INFUSION = ("before treatment", "lymphodepletion")
GRADE_COLUMNS = ["grade_1", "grade_2", "grade_3", "grade_4", "grade_5", "grade_missing"]


def _grade_counts(base: pd.DataFrame) -> pd.DataFrame:
    """Participants per (soc, term) by worst grade: one participant, one worst grade per (soc, term)."""
    if base.empty:
        return pd.DataFrame(columns=["soc", "term", *GRADE_COLUMNS, "any", "grade_3plus"])
    worst = base.groupby(["usubjid", "soc", "term"])["grade"].max().round().astype("Int64").rename("worst")
    worst = worst.reset_index()
    worst["cat"] = ("grade_" + worst["worst"].astype("string")).fillna("grade_missing")
    counts = worst.groupby(["soc", "term", "cat"]).size().unstack("cat", fill_value=0)
    counts = counts.reindex(columns=GRADE_COLUMNS, fill_value=0).rename_axis(columns=None)
    counts["any"] = counts[GRADE_COLUMNS].sum(axis=1)
    counts["grade_3plus"] = counts[["grade_3", "grade_4", "grade_5"]].sum(axis=1)
    return counts.reset_index()


def ae_soc_pt_table(
    flagged: pd.DataFrame, population: pd.DataFrame, related: bool = False, attribution: str | None = None,
    period: str | None = None,
) -> pd.DataFrame:
    """Participants with treatment-emergent AEs by SOC and preferred term, by worst grade (``AET04_TEAE``; with
    ``related=True`` treatment-related only, ``AET04_TRAE``).

    A participant counts once per term, and once per SOC, at the worst grade recorded there; one "ANY AE" row
    leads. Columns: level ("overall", "soc", "term"), soc, term, grade_1..grade_5, grade_missing (only ungraded
    records), any, any_pct, grade_3plus, grade_3plus_pct; N = safety population. Sorted by descending ``any``
    (SOCs, then terms within SOC), ties alphabetically. ``attribution`` ("cart", "lymphodepletion", "either")
    overrides the study's choice of which relationship makes an AE treatment-related. ``period`` (one of
    :data:`~ctcae_engine.analyse.endpoints.PERIODS`) counts the AEs with onset in that study period instead of the
    treatment-emergent ones (``AET04_LD``: the lymphodepletion period).
    """
    total = int(population["saffl"].sum())
    keep = flagged["trtemfl"].astype(bool) if period is None else flagged["period"].eq(period)
    if related:
        column = {"cart": "related_cart", "lymphodepletion": "related_ld", None: "related"}.get(attribution)
        rel = flagged["related_cart"] | flagged["related_ld"] if attribution == "either" else flagged[column]
        keep &= rel.astype(bool)
    ae = flagged.loc[keep]
    soc = AE.text(ae, "body_system") if AE.column(ae, "body_system") else None
    base = pd.DataFrame(
        {
            "usubjid": AE.subjects(ae),
            "soc": (soc if soc is not None else pd.Series(pd.NA, index=ae.index)).fillna("(SOC not coded)"),
            "term": reported_term(ae).fillna("(term not coded)"),
            "grade": ae_grade(ae).astype("Float64"),
        }
    )
    overall = _grade_counts(base.assign(soc="ANY AE", term="")).assign(level="overall")
    if overall.empty:
        overall = pd.DataFrame([{"soc": "ANY AE", "term": "", "level": "overall"}]).reindex(
            columns=["soc", "term", "level", *GRADE_COLUMNS, "any", "grade_3plus"], fill_value=0)
    socs = _grade_counts(base.assign(term="")).assign(level="soc")
    terms = _grade_counts(base).assign(level="term")
    socs = socs.sort_values(["any", "soc"], ascending=[False, True])
    terms["_soc_order"] = terms["soc"].map({s: i for i, s in enumerate(socs["soc"])})
    terms = terms.sort_values(["_soc_order", "any", "term"], ascending=[True, False, True])
    parts = [overall] + [part for soc in socs["soc"] for part in (socs[socs["soc"] == soc], terms[terms["soc"] == soc])]
    table = pd.concat(parts, ignore_index=True)
    for col in ("any", "grade_3plus"):
        table[f"{col}_pct"] = 100.0 * table[col] / total if total else np.nan
    table = table[["level", "soc", "term", *GRADE_COLUMNS, "any", "any_pct", "grade_3plus", "grade_3plus_pct"]]
    counts = [*GRADE_COLUMNS, "any", "grade_3plus"]
    table[counts] = table[counts].fillna(0).astype(int)
    table = table.reset_index(drop=True)
    return table


def ae_period_table(flagged: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """``AET01_PERIOD``: AEs by study period of onset (before treatment, lymphodepletion, post-infusion, after the
    window, ...): records, participants (n, % of the safety population), grade >= 3 records and participants, records
    treatment-emergent, and records still ongoing at the infusion (no end date, or ending on/after day 0). Every AE
    record lands in exactly one row, so nothing outside the treatment-emergent window goes unseen."""
    total = int(population["saffl"].sum())
    infdt = population.set_index("usubjid")["infdt"]
    subj = AE.subjects(flagged)
    end = ae_dates(flagged)[1]  # a partial end widens to its last day; none = ongoing
    ongoing = (end.isna() | (end >= subj.map(infdt).astype("datetime64[ns]"))) & subj.map(infdt).notna()
    facts = pd.DataFrame({"period": flagged["period"], "usubjid": subj, "g3": ae_grade(flagged).ge(3).fillna(False),
                          "teae": flagged["trtemfl"].astype(bool), "ongoing": ongoing.astype(bool)})
    rows = []
    for name in PERIODS:
        part = facts[facts["period"].eq(name)]
        if part.empty:
            continue
        people = part["usubjid"].nunique()
        rows.append({"Period": name, "AE records": len(part), "Participants": people,
                     "% of safety population": 100.0 * people / total if total and name in SAFETY_PERIODS else np.nan,
                     "Grade >= 3 records": int(part["g3"].sum()),
                     "Participants with grade >= 3": part.loc[part["g3"], "usubjid"].nunique(),
                     "Treatment-emergent records": int(part["teae"].sum()),
                     "Ongoing at infusion": int(part["ongoing"].sum()) if name in BEFORE_INFUSION else np.nan})
    return pd.DataFrame(rows, columns=["Period", "AE records", "Participants", "% of safety population",
                                       "Grade >= 3 records", "Participants with grade >= 3",
                                       "Treatment-emergent records", "Ongoing at infusion"])


def _grade_text(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.astype("string").str.strip().replace("", pd.NA), errors="coerce").astype("Float64")


def graded_from_adlb(adlb: pd.DataFrame) -> pd.DataFrame:
    """An ADaM ADLB already graded by the sponsor, in the shape the lab tables read (a new frame, one row per
    observed record): usubjid, testcd (PARAMCD), adt (ADT, else ADTM/LBDTC; NaT when absent), baseline (ABLFL = Y),
    term_low / grade_low (ATOXDSCL / ATOXGRL), term_high / grade_high (ATOXDSCH / ATOXGRH).

    Without ATOXGRL/ATOXGRH the signed ATOXGR is split (ADaM convention: "-2" = grade 2 low, "3" = grade 3 high,
    "0" = normal both ways). Derived records (DTYPE not empty, e.g. LOV, MAXIMUM) are dropped: they repeat observed
    values. An empty or non-numeric grade stays NA (ignored by the tables, like an ungraded observation).
    """
    for needed in ("subject", "parameter"):
        if LABS.column(adlb, needed) is None:
            raise ValueError(f"ADLB: missing column {LABS.sources(needed)[-1]}")
    if not _has_sponsor_grades(adlb):
        raise ValueError("ADLB: no toxicity grade column (ATOXGRL / ATOXGRH or ATOXGR)")
    frame = adlb
    dtype = LABS.column(frame, "derivation")
    if dtype is not None:
        frame = frame.loc[frame[dtype].astype("string").str.strip().fillna("").eq("")]
    date_col = LABS.column(frame, "date")
    base_col = LABS.column(frame, "baseline_flag")
    out = pd.DataFrame(
        {
            "usubjid": LABS.subjects(frame),
            "testcd": LABS.text(frame, "parameter", upper=True),
            "adt": to_date(frame[date_col], sas_days=True) if date_col else pd.Series(pd.NaT, index=frame.index),
            "baseline": (frame[base_col].astype("string").str.strip().str.upper().eq("Y").fillna(False)
                         if base_col else pd.Series(False, index=frame.index)),
        },
        index=frame.index,
    )
    signed = _grade_text(frame[LABS.column(frame, "grade")]) if LABS.column(frame, "grade") else None
    for direction, sign in (("low", -1), ("high", 1)):
        term_col = LABS.column(frame, f"term_{direction}")
        grade_col = LABS.column(frame, f"grade_{direction}")
        out[f"term_{direction}"] = frame[term_col].astype("string").str.strip() if term_col else pd.NA
        if grade_col is not None:
            grade = _grade_text(frame[grade_col])
        elif signed is not None:
            grade = (signed * sign).clip(lower=0)  # the other direction's abnormal value means this one is 0
        else:
            grade = pd.Series(pd.NA, index=frame.index, dtype="Float64")
        out[f"grade_{direction}"] = grade.round().astype("Int64")
    return out.reset_index(drop=True)


def _has_sponsor_grades(frame: pd.DataFrame) -> bool:
    return any(LABS.column(frame, field) for field in ("grade_low", "grade_high", "grade"))


def _as_graded(labs: pd.DataFrame) -> pd.DataFrame:
    """The graded-observations frame as given, or converted from an ADaM ADLB carrying sponsor grades."""
    if {"term_low", "grade_low", "term_high", "grade_high"} <= set(labs.columns):
        return labs
    if LABS.column(labs, "parameter") is not None and _has_sponsor_grades(labs):
        return graded_from_adlb(labs)
    raise ValueError("labs: expected the graded-observations frame (term_low/grade_low/term_high/grade_high) or an "
                     "ADaM ADLB with PARAMCD and ATOXGR / ATOXGRL / ATOXGRH")


def _lab_long(graded: pd.DataFrame) -> pd.DataFrame:
    """Graded observations stacked by direction (:func:`ctcae_engine.grade.ae.stack_directions`): usubjid, testcd, adt,
    baseline, direction, term, grade."""
    long = stack_directions(_as_graded(graded))
    return long[["usubjid", "testcd", "adt", "baseline", "direction", "term", "grade"]]


def _baseline_and_worst(
    graded: pd.DataFrame, population: pd.DataFrame | None, window: TreatmentEmergent | None = None
) -> tuple[pd.DataFrame, int]:
    """Baseline grade and worst post-baseline grade per (usubjid, direction, term), and the number of post-baseline
    graded records dropped because they fall outside the treatment-emergent window."""
    long = _lab_long(graded)
    if population is not None:
        long = long.loc[long["usubjid"].isin(population.loc[population["saffl"], "usubjid"])]
    keys = ["usubjid", "direction", "term"]
    base_rows = long.loc[long["baseline"]]
    base = base_rows.groupby(keys).agg(baseline_grade=("grade", "max"), base_adt=("adt", "max"))
    post = long.loc[~long["baseline"]].merge(base["base_adt"], left_on=keys, right_index=True, how="left")
    post = post.loc[post["base_adt"].isna() | (post["adt"] > post["base_adt"]) | post["adt"].isna()]
    outside = 0
    bounds = window_bounds(population, window) if population is not None else None
    if bounds is not None:
        win = post[["usubjid"]].join(bounds, on="usubjid")
        inside = post["adt"].isna() | (post["adt"].ge(win["win_start"]) & post["adt"].le(win["win_end"])).fillna(False)
        outside = int((~inside & post["grade"].notna()).sum())
        post = post.loc[inside]
    worst = post.groupby(keys)["grade"].max().rename("worst_grade")
    out = base[["baseline_grade"]].join(worst, how="outer").reset_index()
    for col in ("baseline_grade", "worst_grade"):
        out[col] = out[col].round().astype("Int64")
    return out, outside


def lab_shift_table(
    graded: pd.DataFrame, population: pd.DataFrame | None = None, window: TreatmentEmergent | None = None
) -> pd.DataFrame:
    """Baseline CTCAE grade vs worst post-baseline grade per lab term and direction (``LBT14``).

    Input: the graded-observations frame (grading.grade_labs contract) or an ADaM ADLB with sponsor grades
    (:func:`graded_from_adlb`). Post-baseline = not the baseline record
    and dated after it; ungraded rows (grade NA) are ignored. When ``population`` carries ``infdt`` (the frame of
    :func:`~ctcae_engine.analyse.endpoints.safety_population`), post-
    baseline records must also lie in the treatment-emergent
    window: on/after the infusion (or the start of lymphodepletion, per ``window.start``) and at most
    ``window.window_days`` after the infusion (365 without ``window``); undated records are kept
    (conservative). ``attrs["n_outside_window"]`` counts the graded records left out by the window.
    Columns: direction, term, baseline_grade, worst_grade ("0".."4" or "missing"), n, N (participants with any
    record of that term), pct.
    """
    both, outside = _baseline_and_worst(graded, population, window)
    for col in ("baseline_grade", "worst_grade"):
        both[col] = both[col].astype("string").fillna("missing")
    table = both.groupby(["direction", "term", "baseline_grade", "worst_grade"]).size().rename("n").reset_index()
    table["N"] = table.groupby(["direction", "term"])["n"].transform("sum")
    table["pct"] = 100.0 * table["n"] / table["N"]
    table = table.sort_values(["term", "direction", "baseline_grade", "worst_grade"]).reset_index(drop=True)
    table.attrs["n_outside_window"] = outside
    return table


def lab_grade3_table(
    graded: pd.DataFrame, population: pd.DataFrame | None = None, window: TreatmentEmergent | None = None
) -> pd.DataFrame:
    """Participants whose worst post-baseline grade is >= 3, per lab term and direction (``LBT07``).

    Post-baseline records and the treatment-emergent window as in :func:`lab_shift_table`.
    Columns: direction, term, N (participants with a graded post-baseline value), n_grade3plus, pct_grade3plus,
    n_grade3, n_grade4, and n_worsened (worst post-baseline grade >= 3 and above the baseline grade, or no baseline).
    """
    both, outside = _baseline_and_worst(graded, population, window)
    both = both.loc[both["worst_grade"].notna()]
    worst = both["worst_grade"]
    both = both.assign(
        g3p=worst.ge(3), g3=worst.eq(3), g4=worst.eq(4),
        worse=worst.ge(3) & (both["baseline_grade"].isna() | worst.gt(both["baseline_grade"])).fillna(True),
    )
    table = both.groupby(["direction", "term"]).agg(
        N=("usubjid", "nunique"), n_grade3plus=("g3p", "sum"), n_grade3=("g3", "sum"), n_grade4=("g4", "sum"),
        n_worsened=("worse", "sum"),
    ).reset_index()
    table["pct_grade3plus"] = 100.0 * table["n_grade3plus"] / table["N"]
    cols = ["direction", "term", "N", "n_grade3plus", "pct_grade3plus", "n_grade3", "n_grade4", "n_worsened"]
    table = table[cols].sort_values(["n_grade3plus", "term"], ascending=[False, True]).reset_index(drop=True)
    table.attrs["n_outside_window"] = outside
    return table


def _per_participant_episodes(episodes: pd.DataFrame) -> pd.DataFrame:
    frame = episodes.copy()
    if "syndrome" not in frame.columns:
        frame["syndrome"] = "CRS/ICANS"
    frame["max_grade"] = pd.to_numeric(frame["max_grade"], errors="coerce")
    frame["onset_day"] = pd.to_numeric(frame["onset_day"], errors="coerce")
    frame["duration_days"] = pd.to_numeric(frame["duration_days"], errors="coerce")
    grouped = frame.groupby(["syndrome", "usubjid"])
    return pd.DataFrame(
        {
            "max_grade": grouped["max_grade"].max(),
            "onset_day": grouped["onset_day"].min(),
            "duration_days": grouped["duration_days"].sum(min_count=1).where(
                grouped["duration_days"].count() == grouped.size()),
        }
    ).reset_index()


SYNDROME_AE_TERMS = {"CRS": CRS_TERM.lower(), "ICANS": ICANS_TERM.lower()}
"""The AE term (CTCAE term, else MedDRA PT, else verbatim; lower case) whose fatal AEs give a syndrome grade 5."""


def _fatal_syndrome_aes(ae: pd.DataFrame | None, safety: pd.Series) -> pd.DataFrame:
    """(syndrome, usubjid) of the participants of ``safety`` with a fatal AE of the syndrome's term."""
    if ae is None or ae.empty:
        return pd.DataFrame(columns=["syndrome", "usubjid"])
    term = reported_term(ae).str.lower()
    who = AE.text(ae, "subject")
    fatal = is_fatal(ae).to_numpy()
    rows = [(syndrome, person) for syndrome, name in SYNDROME_AE_TERMS.items()
            for person in who[(term == name).fillna(False).to_numpy() & fatal].dropna().unique()]
    found = pd.DataFrame(rows, columns=["syndrome", "usubjid"])
    return found[found["usubjid"].isin(safety)]


def crs_icans_incidence(episodes: pd.DataFrame, population: pd.DataFrame,
                        ae: pd.DataFrame | None = None) -> pd.DataFrame:
    """CRS / ICANS incidence by maximum ASTCT grade (``CRST01``) over the safety population.

    ``episodes``: one row per participant episode with usubjid, onset_day, max_grade, duration_days (cart.py) and
    optionally ``syndrome`` ("CRS", "ICANS"). Rows: any grade, grade 1..4, grade >= 3 with n, N, %, exact 95% CI;
    a participant counts once, at the worst grade over episodes. Grade 5 (death from the syndrome) is never derived
    from observations: it comes from a fatal AE of the syndrome's term in ``ae`` (such a participant counts at grade
    5), and the "Grade 5" row is shown only when there is one.
    """
    saf = population.loc[population["saffl"], "usubjid"]
    total = len(saf)
    per = _per_participant_episodes(episodes)
    per = per.loc[per["usubjid"].isin(saf) & per["max_grade"].ge(1), ["syndrome", "usubjid", "max_grade"]]
    fatal = _fatal_syndrome_aes(ae, saf).assign(max_grade=5.0)
    per = pd.concat([per, fatal], ignore_index=True) if not fatal.empty else per
    per = per.groupby(["syndrome", "usubjid"], as_index=False)["max_grade"].max()
    rows = []
    for syndrome, grp in per.groupby("syndrome"):
        cats = [("Any grade", grp["max_grade"].ge(1))]
        cats += [(f"Grade {g}", grp["max_grade"].eq(g)) for g in range(1, 5)]
        if grp["max_grade"].eq(5).any():
            cats.append(("Grade 5", grp["max_grade"].eq(5)))
        cats.append(("Grade >= 3", grp["max_grade"].ge(3)))
        rows += [{"syndrome": syndrome, **proportion(label, mask.sum(), total)} for label, mask in cats]
    table = pd.DataFrame(rows, columns=["syndrome", "label", "n", "N", "pct", "ci_low", "ci_high"])
    return table


def crs_icans_per_participant(per_participant: pd.DataFrame, population: pd.DataFrame | None) -> pd.DataFrame:
    """A per-participant CRS / ICANS table (e.g. ``CRS01``) restricted to the safety population: a screen failure was
    never infused and has no CRS to list. Without a population the rows are returned as they are."""
    if population is None or "saffl" not in population.columns:
        return per_participant
    safety = population.loc[population["saffl"].astype(bool), "usubjid"]
    return per_participant[per_participant["usubjid"].isin(safety)].reset_index(drop=True)


def crs_icans_timing(episodes: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Time to onset (days from infusion, first episode) and duration (days, summed over a participant's episodes)
    of CRS / ICANS among affected participants (``CRST02``): n, median, q1, q3, min, max, n_missing."""
    saf = population.loc[population["saffl"], "usubjid"]
    per = _per_participant_episodes(episodes)
    per = per.loc[per["usubjid"].isin(saf) & per["max_grade"].ge(1)]
    long = per.melt(id_vars=["syndrome", "usubjid"], value_vars=["onset_day", "duration_days"], var_name="measure")
    stats = long.groupby(["syndrome", "measure"])["value"].agg(
        n="count", median="median", q1=lambda v: v.quantile(0.25), q3=lambda v: v.quantile(0.75), min="min",
        max="max", n_missing=lambda v: int(v.isna().sum()),
    ).reset_index()
    stats["measure"] = stats["measure"].map({"onset_day": "time to onset (days)", "duration_days": "duration (days)"})
    return stats
