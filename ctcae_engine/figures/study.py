"""The report's figures from the derived frames: each function shapes what it needs and calls
:mod:`ctcae_engine.figures.draw` (SVG text; an empty string leaves the figure out)."""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse.disposition import end_of_study
from ctcae_engine.figures import draw as figures
from ctcae_engine.read.config import Persistence
from ctcae_engine.read.fields import AE

MONTH_DAYS = 30.4375


def treatment_emergent(ae: pd.DataFrame) -> pd.DataFrame | None:
    """The treatment-emergent AEs with a stripped ``usubjid`` (None: terms were not validated)."""
    if "ctcae_term" not in ae.columns:
        return None
    return ae.loc[ae["trtemfl"].astype(bool)].assign(usubjid=AE.raw(ae, "subject").str.strip())


def ae_heatmap(ae: pd.DataFrame) -> str:
    """Worst CTCAE grade per participant and term (treatment-emergent AEs)."""
    te_ae = treatment_emergent(ae)
    return figures.ae_heatmap(te_ae) if te_ae is not None else ""


def swimmer_frame(population: pd.DataFrame, data_cutoff: str, ds: pd.DataFrame | None = None,
                  dm: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per infused participant: ``usubjid``, ``days_on_study`` (infusion to death, completion or
    discontinuation, else to the data cut-off), ``death``, ``ongoing`` (no end of study by the cut-off: the only
    bars with a follow-up arrow) and ``end_status`` (:func:`ctcae_engine.analyse.disposition.end_of_study`)."""
    saf = population.loc[population["saffl"].astype(bool) & population["infdt"].notna()].copy()
    ends = end_of_study(saf, ds, dm).set_index("usubjid")
    key = saf["usubjid"].astype("string").str.strip()
    cutoff = pd.Timestamp(data_cutoff) if data_cutoff != "not given" else None
    end = pd.Series(key.map(ends["end_date"]).to_numpy(), index=saf.index)
    status = key.map(ends["end_status"]).fillna("").to_numpy()
    last = end.fillna(cutoff if cutoff is not None else saf["infdt"])
    if cutoff is not None:
        last = last.where(last <= cutoff, cutoff)
    return pd.DataFrame({"usubjid": saf["usubjid"].to_numpy(),
                         "days_on_study": (last - saf["infdt"]).dt.days.to_numpy(),
                         "death": status == "died", "ongoing": status == "", "end_status": status})


def swimmer(population: pd.DataFrame, ae: pd.DataFrame | None, bor: pd.DataFrame | None,
            responses: pd.DataFrame | None, data_cutoff: str, ds: pd.DataFrame | None = None,
            dm: pd.DataFrame | None = None) -> str:
    """Time on study of the infused participants (:func:`swimmer_frame`) with grade >= 3 AEs, CRS, responses
    (:func:`ctcae_engine.analyse.efficacy.response_assessments`) and death."""
    swim = swimmer_frame(population, data_cutoff, ds, dm)
    if bor is not None:
        swim["best_response"] = swim["usubjid"].map(bor.set_index("usubjid")["bor"])
    assessed = responses.rename(columns={"resp": "response"}) if responses is not None else None
    return figures.swimmer_plot(swim, treatment_emergent(ae) if ae is not None else None, assessed)


def lab_trajectories(labs: pd.DataFrame, population: pd.DataFrame) -> str:
    """ANC, platelets, hemoglobin and ALT over study days, with CTCAE grade bands."""
    return figures.lab_trajectories(labs, day0=population.set_index("usubjid")["infdt"])


def km_pfs(pfs: pd.DataFrame) -> str:
    """Kaplan-Meier estimate of PFS in months, with numbers at risk."""
    data = pfs.dropna(subset=["time_days"])
    return figures.km_plot(durations=data["time_days"] / MONTH_DAYS, events=data["event"].astype(bool),
                           time_unit="months")


def persistence(cart_levels: pd.DataFrame, config: Persistence) -> str:
    """CAR-T levels over time, per participant."""
    return figures.cart_persistence(cart_levels, lloq=config.lloq, unit=config.unit)
