"""Listings: treatment-emergent AEs of grade >= 3 (AEL_G3), serious AEs (AEL_SAE) and deaths (DTHL01).

Each builder takes the frames it reads and returns a new DataFrame with readable column names; titles, notes and
the text shown when a listing is empty are declared with the table in :mod:`ctcae_engine.tables`.
"""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse import endpoints
from ctcae_engine.read.fields import AE

ORDER = ["Participant", "Onset", "CTCAE term"]


def ae_view(ae: pd.DataFrame) -> pd.DataFrame:
    """The flagged AE frame (:func:`~ctcae_engine.analyse.endpoints.flag_ae`) reduced to the columns listings
    need, with readable names; same index as ``ae``."""
    grade = endpoints.ae_grade(ae)
    onset = ae["astdt"].dt.strftime("%Y-%m-%d").astype("string")
    imputed = ae["astdt_imputed"].astype("string").fillna("")
    onset = onset.where(imputed.eq(""), onset + " (imputed " + imputed + ")")
    return pd.DataFrame(
        {
            "Participant": AE.raw(ae, "subject"),
            "CTCAE term": endpoints.reported_term(ae),
            "Grade": pd.array(grade, dtype="Int64"),
            "Onset": onset,
            "Day": ae["ady"].astype("Int64"),
            "SOC": AE.raw(ae, "body_system"),
            "Serious": AE.text(ae, "serious", upper=True),
            "Related CAR-T": ae["related_cart"].astype(bool),
            "Related LD": ae["related_ld"].astype(bool),
            "Outcome": AE.raw(ae, "outcome"),
            "Verbatim": AE.raw(ae, "verbatim"),
        },
        index=ae.index,
    )


def grade3_listing(ae: pd.DataFrame) -> pd.DataFrame:
    """AEL_G3: every treatment-emergent AE of CTCAE grade >= 3, by participant, onset and term."""
    view = ae_view(ae)
    g3 = view[ae["trtemfl"].to_numpy(dtype=bool) & view["Grade"].ge(3).fillna(False).to_numpy(dtype=bool)]
    return g3.sort_values(ORDER, kind="stable").reset_index(drop=True)


def sae_listing(ae: pd.DataFrame) -> pd.DataFrame:
    """AEL_SAE: every serious AE (AESER = Y), treatment-emergent or not (a column says which)."""
    view = ae_view(ae)
    sae = view[view["Serious"].eq("Y").fillna(False).to_numpy(dtype=bool)].copy()
    sae.insert(5, "Treatment-emergent", ae.loc[sae.index, "trtemfl"].astype(bool))
    return sae.sort_values(ORDER, kind="stable").reset_index(drop=True)


def died(population: pd.DataFrame) -> pd.Series:
    """Participants who died: a death date, or DTHFL = Y without a usable date (endpoints.safety_population)."""
    flag = population["dthfl"] if "dthfl" in population.columns else False
    return (population["dthdt"].notna() | flag).astype(bool)


def deaths_frame(population: pd.DataFrame, ae: pd.DataFrame | None) -> pd.DataFrame:
    """Every death, one row per participant: deaths from DM (DTHDTC, DTHFL) and participants with a fatal AE
    (grade 5, AESDTH = Y or outcome FATAL). Columns of the population (``usubjid``, ``dthdt``, ``infdt``, ...) and
    ``cause`` (the fatal AEs' CTCAE terms, NaN: none), ``related`` (a fatal AE related to treatment), ``day``
    (days from infusion to death, NA: unknown)."""
    cols = [c for c in ("usubjid", "saffl", "dthdt", "infdt", "dthdt_imputed", "dth_reason")
            if c in population.columns]
    dead = population.loc[died(population), cols]
    fatal = pd.DataFrame(columns=["usubjid", "cause", "related"])
    if ae is not None:
        view = ae_view(ae)
        rows = view[endpoints.is_fatal(ae).to_numpy(dtype=bool)]
        related = ae.loc[rows.index, "related"].astype(bool)
        fatal = pd.DataFrame({"usubjid": rows["Participant"].str.strip(), "cause": rows["CTCAE term"].fillna("?"),
                              "related": related}).groupby("usubjid", as_index=False).agg(
            cause=("cause", lambda s: "; ".join(sorted(set(s)))), related=("related", "max"))
    out = dead.merge(fatal, on="usubjid", how="outer")
    if "saffl" in out.columns:  # a participant with a fatal AE but no DM death: look up the population's flags
        flags = population.set_index("usubjid")
        out["saffl"] = out["usubjid"].map(flags["saffl"]).fillna(False).astype(bool)
        out["infdt"] = out["usubjid"].map(flags["infdt"])
    out["day"] = (out["dthdt"] - out["infdt"]).dt.days.astype("Int64")
    return out.sort_values("usubjid", kind="stable").reset_index(drop=True)


def deaths_listing(population: pd.DataFrame, ae: pd.DataFrame | None) -> pd.DataFrame:
    """DTHL01: deaths from DM (DTHDTC, DTHFL) and participants with a fatal AE, one row per participant."""
    out = deaths_frame(population, ae)
    return pd.DataFrame(
        {
            "Participant": out["usubjid"],
            "Date of death": out["dthdt"].dt.strftime("%Y-%m-%d"),
            "Date imputed": out.get("dthdt_imputed", pd.Series("", index=out.index)).fillna(""),
            "Day": out["day"],
            "Fatal AE (CTCAE term)": out["cause"].fillna("no fatal AE recorded"),
            "Related to treatment": out["related"].astype("boolean"),
        }
    ).sort_values("Participant", kind="stable").reset_index(drop=True)
