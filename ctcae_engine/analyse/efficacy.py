"""Secondary endpoints: objective response rate at week 8, progression-free survival, CAR-T persistence.

Response input: SDTM RS (RSTESTCD = OVRLRESP, RSSTRESC, RSDTC, RSEVAL) or ADaM ADRS (PARAMCD OVR/OVRLRESP, AVALC,
ADT). Persistence input: SDTM PC (PCTESTCD, PCORRES/PCSTRESC, PCSTRESN, PCDTC). Days are counted from the infusion
(day 0, :func:`ctcae_engine.analyse.endpoints.safety_population`); the analysis population is the infused participants.
Table ids: ``ORR01`` (response), ``PFS01`` (PFS), ``PERS01`` (persistence at month 6), ``PERS02`` (level over time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from ctcae_engine.analyse.endpoints import proportion
from ctcae_engine.analyse.persistence import blq_summary
from ctcae_engine.read.columns import join_texts
from ctcae_engine.read.config import Persistence, Pfs, Response
from ctcae_engine.read.dates import to_date
from ctcae_engine.read.fields import NEW_THERAPY, PC, RS

RESPONSES = ("CR", "PR", "SD", "PD", "NE")
_RANK = {"NE": 1, "PD": 2, "SD": 3, "PR": 4, "CR": 5}


def response_assessments(rs: pd.DataFrame, population: pd.DataFrame, evaluator: str) -> pd.DataFrame:
    """Overall-response records of infused participants: usubjid, adt, ady, resp, valid, reason.

    Keeps OVRLRESP (SDTM) / OVR, OVRLRESP (ADaM) rows of the given evaluator (all rows when the evaluator column is
    absent; ADaM: only ANL01FL = "Y" rows when that flag exists). A value outside CR/PR/SD/PD/NE or a missing date is
    kept with ``valid`` False and a reason.
    """
    test = RS.column(rs, "test")
    frame = rs.loc[rs[test].astype("string").str.upper().isin(["OVRLRESP", "OVR"]).fillna(False)] if test else rs
    anl = RS.column(frame, "analysis_flag")
    if anl is not None:  # ADaM: keep the records flagged for analysis
        frame = frame.loc[frame[anl].astype("string").str.upper().str.strip().eq("Y").fillna(False)]
    ev = RS.column(frame, "evaluator")
    if ev is not None:
        frame = frame.loc[frame[ev].astype("string").str.upper().str.strip().eq(evaluator).fillna(False)]
    infdt = population.loc[population["saffl"]].set_index("usubjid")["infdt"]
    subj = RS.subjects(frame)
    out = pd.DataFrame(
        {
            "usubjid": subj,
            "adt": to_date(frame[RS.column(frame, "date")], sas_days=True),
            "resp": frame[RS.column(frame, "response")].astype("string").str.upper().str.strip(),
        }
    )
    out = out.loc[out["usubjid"].isin(infdt.index)]
    out["ady"] = (out["adt"] - out["usubjid"].map(infdt).astype("datetime64[ns]")).dt.days
    out["reason"] = ""
    out.loc[~out["resp"].isin(RESPONSES).fillna(False), "reason"] = "response value not CR/PR/SD/PD/NE"
    out.loc[out["adt"].isna(), "reason"] = "assessment date missing or partial"
    out["valid"] = out["reason"].eq("")
    return out.sort_values(["usubjid", "adt"]).reset_index(drop=True)


def _has_param(rs: pd.DataFrame, code: str) -> bool:
    test = RS.column(rs, "parameter")
    return test is not None and bool(rs[test].astype("string").str.upper().str.strip().eq(code).fillna(False).any())


def _has_overall_responses(rs: pd.DataFrame) -> bool:
    return RS.column(rs, "test") is None or _has_param(rs, "OVR") or _has_param(rs, "OVRLRESP")


def _bor_as_given(adrs: pd.DataFrame, population: pd.DataFrame, evaluator: str) -> pd.DataFrame:
    """ADRS with a BOR parameter but no OVR records: the sponsor's best overall response, taken as given."""
    test = RS.column(adrs, "parameter")
    rows = adrs.loc[adrs[test].astype("string").str.upper().str.strip().eq("BOR").fillna(False)]
    bor = response_assessments(rows.assign(**{test: "OVR"}), population, evaluator)
    bor = bor.loc[bor["resp"].isin(RESPONSES).fillna(False)].drop_duplicates("usubjid", keep="last")
    people = population.loc[population["saffl"], ["usubjid"]].reset_index(drop=True)
    out = people.merge(bor[["usubjid", "resp", "ady"]], on="usubjid", how="left")
    out = out.rename(columns={"resp": "bor", "ady": "bor_ady"})
    out["n_assessments"] = out["bor"].notna().astype(int)
    out["reason"] = np.where(out["bor"].isna(), "no valid BOR record in ADRS",
                             "BOR as derived in ADRS (response window and confirmation rule not re-applied)")
    out["bor"] = out["bor"].fillna("NE").astype(str)
    return out


def best_overall_response(rs: pd.DataFrame, population: pd.DataFrame, response: Response, *,
                          data_cutoff: str | None = None) -> pd.DataFrame:
    """RECIST 1.1 best overall response up to ``response.window_days`` after infusion, one row per infused
    participant: usubjid, bor (CR/PR/SD/PD/NE, or NYE), bor_ady, n_assessments (valid, in window), reason.

    Assessments after the first PD are ignored. SD counts only from ``sd_min_days``; with
    ``confirmation_required`` a CR (PR) needs a later CR (CR or PR) >= ``confirmation_min_days`` after it (the
    confirming scan may fall after the window), otherwise it counts as SD (or NE before ``sd_min_days``).
    NYE (not yet evaluable): with ``response.exclude_not_yet_evaluable``, a participant whose window ends after
    ``data_cutoff`` and whose best response so far can still change (not CR, not PD) is not counted yet.
    """
    if not _has_overall_responses(rs) and _has_param(rs, "BOR"):
        out = _bor_as_given(rs, population, response.evaluator)
    else:
        out = _derived_bor(rs, population, response)
    if data_cutoff and response.exclude_not_yet_evaluable:
        infdt = out["usubjid"].map(population.set_index("usubjid")["infdt"]).astype("datetime64[ns]")
        closes = infdt + pd.Timedelta(days=response.window_days)
        still_open = (closes > pd.Timestamp(data_cutoff)).fillna(False) & ~out["bor"].isin(["CR", "PD"])
        out.loc[still_open, "reason"] = (f"response window (day {response.window_days}) closes on "
                                         + closes[still_open].dt.strftime("%Y-%m-%d") + ", after the data cut-off")
        out.loc[still_open, "bor"] = "NYE"
    return out


def _derived_bor(rs: pd.DataFrame, population: pd.DataFrame, cfg: Response) -> pd.DataFrame:
    """Best overall response from the dated overall-response assessments (see :func:`best_overall_response`)."""
    assess = response_assessments(rs, population, cfg.evaluator)
    valid = assess.loc[assess["valid"] & assess["ady"].gt(0)]
    first_pd = valid.loc[valid["resp"].eq("PD")].groupby("usubjid")["ady"].min()
    valid = valid.loc[valid["ady"].le(valid["usubjid"].map(first_pd).fillna(np.inf))]
    window = valid.loc[valid["ady"].le(cfg.window_days)].copy()
    resp = window["resp"].copy()
    if cfg.confirmation_required:
        pairs = window.loc[window["resp"].isin(["CR", "PR"])].reset_index().merge(
            valid[["usubjid", "ady", "resp"]], on="usubjid", suffixes=("", "_later"))
        ok = pairs["ady_later"].sub(pairs["ady"]).ge(cfg.confirmation_min_days) & (
            pairs["resp_later"].eq("CR") | (pairs["resp"].eq("PR") & pairs["resp_later"].eq("PR")))
        confirmed = pd.Index(pairs.loc[ok, "index"].unique())
        unconfirmed = window["resp"].isin(["CR", "PR"]) & ~window.index.isin(confirmed)
        resp[unconfirmed] = "SD"
    resp[resp.eq("SD") & window["ady"].lt(cfg.sd_min_days)] = "NE"
    window["rank"] = resp.map(_RANK)
    window["eff"] = resp
    best = window.sort_values(["usubjid", "rank", "ady"], ascending=[True, False, True]).drop_duplicates("usubjid")
    people = population.loc[population["saffl"], ["usubjid"]].reset_index(drop=True)
    out = people.merge(best[["usubjid", "eff", "ady"]], on="usubjid", how="left")
    out = out.rename(columns={"eff": "bor", "ady": "bor_ady"})
    out["n_assessments"] = out["usubjid"].map(window.groupby("usubjid").size()).fillna(0).astype(int)
    out["reason"] = np.where(out["bor"].isna(), f"no valid response assessment on days 1..{cfg.window_days}", "")
    out["bor"] = out["bor"].fillna("NE").astype(str)
    return out


def orr_table(bor: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Objective response rate (CR + PR) and the best-overall-response distribution, n / N, %, exact 95% CI
    (``ORR01``). N = infused participants whose response window has closed (no assessment counts as NE, i.e.
    non-responder); the not-yet-evaluable ones (NYE) are left out of N and counted in the note."""
    evaluable = bor[bor["bor"].ne("NYE")]
    total = len(evaluable)
    rows = [proportion("Objective response (CR + PR)", evaluable["bor"].isin(["CR", "PR"]).sum(), total)]
    rows += [proportion(f"Best overall response {r}", evaluable["bor"].eq(r).sum(), total) for r in RESPONSES]
    not_yet = len(bor) - total
    note = (f"{not_yet} infused participant(s) not yet evaluable (response window still open at the data cut-off) "
            "left out of N." if not_yet else "")
    return pd.DataFrame(rows), {"not_yet_evaluable": note}


def _new_therapy_day(new_therapy: pd.DataFrame | None, infdt: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Per participant (index of ``infdt``): day of the first new anticancer therapy after the infusion (NaN when
    none) and a note naming records that could not be used (undated)."""
    day = pd.Series(np.nan, index=infdt.index)
    note = pd.Series("", index=infdt.index, dtype="object")
    if new_therapy is None or new_therapy.empty:
        return day, note
    date_col = NEW_THERAPY.column(new_therapy, "start")
    subj_col = NEW_THERAPY.column(new_therapy, "subject")
    if date_col is None or subj_col is None:
        raise ValueError("new_therapy: needs USUBJID and a start date column (NACTDT, CMSTDTC, PRSTDTC or ASTDT)")
    subj = new_therapy[subj_col].astype("string").str.strip()
    start = to_date(new_therapy[date_col], sas_days=True)
    days = (start - subj.map(infdt).astype("datetime64[ns]")).dt.days
    after = days.gt(0).fillna(False)  # therapy before or on the infusion day is not a *new* therapy
    day.update(days[after].groupby(subj[after]).min().astype(float))
    undated = start.isna() & subj.isin(infdt.index)
    note[note.index.isin(subj[undated])] = "new anticancer therapy with missing or partial start date not used"
    return day, note


def _missed_between(last: pd.Series, event: pd.Series, schedule: tuple[int, ...], tolerance: int) -> pd.Series:
    """Scheduled assessments whose whole visit window (day +/- tolerance) lies after ``last`` and before ``event``:
    none of them was adequately done (``last`` is the last adequate assessment before the event)."""
    if not schedule:
        return pd.Series(0, index=last.index)
    days = np.asarray(schedule, dtype=float)[None, :]
    low, high = last.to_numpy(dtype=float)[:, None], event.to_numpy(dtype=float)[:, None]
    missed = ((days - tolerance > low) & (days + tolerance < high)).sum(axis=1)
    return pd.Series(missed, index=last.index)


def pfs_data(
    rs: pd.DataFrame, population: pd.DataFrame, pfs: Pfs, new_therapy: pd.DataFrame | None = None, *,
    data_cutoff: str | None = None,
) -> pd.DataFrame:
    """Per infused participant: time_days (from infusion), event (bool), event_type ("progression", "death",
    "censored"), censor_reason, missed_assessments, nact_day and note.

    Censoring follows the FDA PFS censoring table (Clinical Trial Endpoints for the Approval of Cancer Drugs and
    Biologics, 2018): event = first PD or death, whichever is first (on/before the data cut-off); no adequate
    assessment (CR/PR/SD/PD) -> censored at day 0; progression or death after more than
    ``pfs.max_missed_assessments`` missed scheduled assessments (``pfs.assessment_days`` +/-
    ``assessment_tolerance_days``) -> censored at the last adequate assessment before it; new anticancer therapy
    (``new_therapy``: USUBJID + NACTDT/CMSTDTC/PRSTDTC/ASTDT, one row per therapy, already filtered to anticancer
    therapies) -> assessments after its start are ignored and the participant censored at the last adequate
    assessment on/before it; with ``pfs.require_baseline_assessment`` no response record on/before day 0 ->
    censored at day 0. Otherwise censored at the last adequate assessment.
    """
    cfg = pfs
    if not _has_overall_responses(rs):
        raise ValueError("response data hold no overall-response records (SDTM RSTESTCD OVRLRESP, ADaM PARAMCD OVR): "
                         "PFS needs the dated assessments, a best-response (BOR) record alone is not enough")
    assess = response_assessments(rs, population, cfg.evaluator)
    pop = population.loc[population["saffl"]].set_index("usubjid")
    cutoff = pd.Timestamp(data_cutoff) if data_cutoff else pd.Timestamp.max
    nact_day, note = _new_therapy_day(new_therapy, pop["infdt"])
    valid = assess.loc[assess["valid"] & assess["ady"].gt(0) & assess["adt"].le(cutoff)]
    valid = valid.loc[valid["ady"].le(valid["usubjid"].map(nact_day).fillna(np.inf))]
    pd_day = valid.loc[valid["resp"].eq("PD")].groupby("usubjid")["ady"].min().reindex(pop.index)
    dth_day = (pop["dthdt"] - pop["infdt"]).dt.days.where(pop["dthdt"].le(cutoff)).astype(float)
    # a death without a usable date (population dthfl, dthdt NaT) is still an event: at the last known alive day
    undated_death = (pop["dthfl"].astype(bool) if "dthfl" in pop.columns else pd.Series(False, index=pop.index))
    undated_death &= pop["dthdt"].isna()
    last_seen = valid.groupby("usubjid")["ady"].max().reindex(pop.index).fillna(0).astype(float)
    dth_day = dth_day.where(~undated_death, last_seen)
    dth_day = dth_day.where(~dth_day.gt(nact_day))  # a death after a new anticancer therapy is censored
    event_day = pd.concat([pd_day, dth_day], axis=1).min(axis=1)
    adequate = valid.loc[valid["resp"].isin(["CR", "PR", "SD", "PD"])]
    last_any = adequate.groupby("usubjid")["ady"].max().reindex(pop.index)
    before = adequate.loc[adequate["ady"].lt(adequate["usubjid"].map(event_day).fillna(np.inf))]
    last_before = before.groupby("usubjid")["ady"].max().reindex(pop.index).fillna(0).astype(float)
    missed = _missed_between(last_before, event_day, cfg.assessment_days, cfg.assessment_tolerance_days)
    late = event_day.notna() & missed.gt(cfg.max_missed_assessments)
    event = event_day.notna() & ~late
    out = pd.DataFrame(index=pop.index)
    out["event"] = event
    out["time_days"] = event_day.where(event, last_before.where(late, last_any.fillna(0))).astype(float)
    is_pd = pd_day.notna() & pd_day.le(dth_day.fillna(np.inf))
    out["event_type"] = np.where(event & is_pd, "progression", np.where(event, "death", "censored"))
    what = np.where(is_pd, "progression", "death")
    reason = pd.Series("", index=pop.index, dtype="object")
    reason[~event] = np.where(last_any[~event].notna(), "last adequate assessment",
                              "no adequate post-infusion assessment: censored at day 0")
    has_nact = nact_day.notna() & ~event
    reason[has_nact] = ("new anticancer therapy on day " + nact_day[has_nact].astype(int).astype(str)
                        + ": censored at the last adequate assessment before it")
    reason[late] = (pd.Series(what, index=pop.index)[late] + " after " + missed[late].astype(str)
                    + " missed scheduled assessment(s): censored at the last adequate assessment")
    if cfg.require_baseline_assessment:
        dates = to_date(rs[RS.column(rs, "date")], sas_days=True)
        subj = RS.subjects(rs)
        baseline = (dates <= subj.map(pop["infdt"]).astype("datetime64[ns]")).fillna(False)
        no_base = ~pop.index.isin(subj[baseline].unique())
        out.loc[no_base, ["event", "time_days", "event_type"]] = [False, 0.0, "censored"]
        reason[no_base] = "no baseline tumour assessment: censored at day 0"
    out["censor_reason"] = reason
    out["missed_assessments"] = missed.astype(int)
    out["nact_day"] = nact_day
    out["note"] = join_texts(note, pd.Series(np.where(
        undated_death, "death with no usable date: counted on day " + last_seen.astype(int).astype(str)
        + " (last assessment, the earliest it can have happened)", ""), index=pop.index))
    bad_inf = pop["infdt"].isna()
    out.loc[bad_inf, ["event", "time_days", "event_type", "censor_reason"]] = [
        False, np.nan, "censored", "infusion date unknown: not analysable"]
    out["event"] = out["event"].astype(bool)
    return out.reset_index()


def pfs_summary(pfs: pd.DataFrame, options: Pfs, level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier (lifelines) summary of PFS (``PFS01``): n, events, median and its CI (days), and the
    ``pfs.rate_days`` PFS rate (%) with its CI (lifelines' exponential Greenwood interval); the rate is NaN when
    everyone still event-free was censored before that day."""
    data = pfs.dropna(subset=["time_days"])
    at = options.rate_days
    if data.empty:  # nobody analysable: a table that says so, not a lifelines error
        table = pd.DataFrame([{"n": 0, "events": 0, "median_days": np.nan, "median_ci_low": np.nan,
                               "median_ci_high": np.nan, "rate_days": at, "rate_pct": np.nan, "rate_ci_low": np.nan,
                               "rate_ci_high": np.nan, "at_risk_at_rate_day": 0}])
        return table
    kmf = KaplanMeierFitter(alpha=1 - level).fit(data["time_days"], data["event"].astype(bool), label="PFS")
    med_ci = median_survival_times(kmf.confidence_interval_).iloc[0]
    surv = kmf.survival_function_.loc[:at].iloc[-1, 0]
    ci = kmf.confidence_interval_survival_function_.loc[:at].iloc[-1]
    at_risk = int((data["time_days"] >= at).sum())
    if data["time_days"].max() < at and surv > 0:  # follow-up ends before the landmark: the rate is not estimable
        surv, ci = np.nan, pd.Series([np.nan, np.nan])
    row = {
        "n": len(data), "events": int(data["event"].sum()), "median_days": float(kmf.median_survival_time_),
        "median_ci_low": float(med_ci.iloc[0]), "median_ci_high": float(med_ci.iloc[1]), "rate_days": at,
        "rate_pct": 100 * float(surv), "rate_ci_low": 100 * float(ci.iloc[0]), "rate_ci_high": 100 * float(ci.iloc[1]),
        "at_risk_at_rate_day": at_risk,
    }
    table = pd.DataFrame([row])
    return table


def pfs_table(pfs: pd.DataFrame, options: Pfs) -> tuple[pd.DataFrame, dict[str, str]]:
    """PFS01: :func:`pfs_summary` and the note it needs (``note``: why the table is empty of estimates)."""
    table = pfs_summary(pfs, options)
    return table, {"note": "No participant with an analysable PFS time." if table["n"].iloc[0] == 0 else ""}


def pfs_curve(pfs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """The Kaplan-Meier step function for plotting: time_days, survival, ci_low, ci_high, at_risk."""
    data = pfs.dropna(subset=["time_days"])
    kmf = KaplanMeierFitter(alpha=1 - level).fit(data["time_days"], data["event"].astype(bool), label="PFS")
    curve = kmf.survival_function_.join(kmf.confidence_interval_survival_function_)
    curve.columns = ["survival", "ci_low", "ci_high"]
    curve["at_risk"] = kmf.event_table["at_risk"].reindex(curve.index).to_numpy()
    return curve.rename_axis("time_days").reset_index()


def cart_samples(pc: pd.DataFrame, population: pd.DataFrame, persistence: Persistence) -> pd.DataFrame:
    """CAR-T level samples of the configured test: usubjid, ady, value (NaN when below the LLOQ), blq, detectable,
    reason. "<LLOQ", "BLQ", "<x" and numbers below ``persistence.lloq`` are below the limit (not detectable);
    other non-numeric results are kept with a reason and not counted."""
    cfg = persistence
    test = PC.column(pc, "test")
    frame = pc.loc[pc[test].astype("string").str.upper().eq(cfg.testcd).fillna(False)] if test else pc
    text_col = PC.column(frame, "result_text")
    num_col = PC.column(frame, "result")
    text = frame[text_col].astype("string").str.strip().str.upper() if text_col else pd.Series(pd.NA, frame.index)
    value = pd.to_numeric(frame[num_col], errors="coerce") if num_col else pd.Series(np.nan, index=frame.index)
    value = value.fillna(pd.to_numeric(text, errors="coerce"))
    lloq_col = PC.column(frame, "lloq")
    lloq = pd.to_numeric(frame[lloq_col], errors="coerce").fillna(cfg.lloq) if lloq_col else cfg.lloq
    blq_text = text.isin(["<LLOQ", "BLQ", "BQL", "ND", "NOT DETECTED"]) | text.str.startswith("<")
    blq = blq_text.fillna(False) | value.lt(lloq).fillna(False)
    infdt = population.loc[population["saffl"]].set_index("usubjid")["infdt"]
    subj = PC.subjects(frame)
    adt = to_date(frame[PC.column(frame, "date")], sas_days=True)
    out = pd.DataFrame({"usubjid": subj, "adt": adt, "value": value})
    out["blq"] = blq
    out["value"] = out["value"].where(~out["blq"])
    out["detectable"] = out["value"].notna()
    out["reason"] = ""
    out.loc[~out["blq"] & out["value"].isna(), "reason"] = "non-numeric result"
    out.loc[out["adt"].isna(), "reason"] = "sample date missing or partial"
    out = out.loc[out["usubjid"].isin(infdt.index)]
    out["ady"] = (out["adt"] - out["usubjid"].map(infdt).astype("datetime64[ns]")).dt.days
    return out.reset_index(drop=True)


def persistence_at_target(samples: pd.DataFrame, population: pd.DataFrame, persistence: Persistence) -> pd.DataFrame:
    """Participants with detectable CAR-T at month 6 (``PERS01``) from :func:`cart_samples`: the sample nearest
    ``target_day`` within +/- ``window_days`` decides. Two rows: among participants with such a sample (evaluable)
    and among all infused participants (no sample = not shown detectable). n / N, %, exact 95% CI."""
    cfg = persistence
    ok = samples.loc[samples["reason"].eq("") & samples["ady"].sub(cfg.target_day).abs().le(cfg.window_days)]
    ok = ok.assign(dist=ok["ady"].sub(cfg.target_day).abs()).sort_values(["usubjid", "dist", "ady"])
    nearest = ok.drop_duplicates("usubjid")
    infused = int(population["saffl"].sum())
    n_det = int(nearest["detectable"].sum())
    table = pd.DataFrame(
        [
            proportion(f"Detectable CAR-T at day {cfg.target_day} (evaluable)", n_det, len(nearest)),
            proportion(f"Detectable CAR-T at day {cfg.target_day} (all infused)", n_det, infused),
        ]
    )
    return table


LEVEL_COLUMNS = ["timepoint_day", "n", "n_detectable", "median", "q1", "q3", "min", "max"]


def persistence_over_time(samples: pd.DataFrame, persistence: Persistence) -> pd.DataFrame:
    """CAR-T level by nominal day (``PERS02``) from :func:`cart_samples`: each sample goes to the nearest of
    ``timepoints_days`` (within ``window_days``; one sample per participant and timepoint, the nearest). Columns:
    timepoint_day, n, n_detectable, median, q1, q3, min, max, unit; a sample below the LLOQ is not detectable and a
    statistic that touches one is "<LLOQ" (:mod:`ctcae_engine.analyse.persistence`)."""
    cfg = persistence
    samples = samples.loc[samples["reason"].eq("")]
    points = np.asarray(cfg.timepoints_days, dtype=float)
    if samples.empty or points.size == 0:
        return pd.DataFrame(columns=[*LEVEL_COLUMNS, "unit"])
    dist = np.abs(samples["ady"].to_numpy(dtype=float)[:, None] - points[None, :])
    samples = samples.assign(timepoint_day=points[dist.argmin(axis=1)].astype(int), dist=dist.min(axis=1))
    samples = samples.loc[samples["dist"].le(cfg.window_days)].sort_values(["usubjid", "timepoint_day", "dist"])
    samples = samples.drop_duplicates(["usubjid", "timepoint_day"])
    rows = [{"timepoint_day": day, "n": len(group), "n_detectable": int(group["detectable"].sum()),
             **blq_summary(group["value"]), "unit": cfg.unit}
            for day, group in samples.groupby("timepoint_day", sort=True)]
    return pd.DataFrame(rows, columns=[*LEVEL_COLUMNS, "unit"])
