"""Disposition (DISP01) and exposure (EXP01): counts of participants through the study and of administrations."""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse.listings import died
from ctcae_engine.read.dates import to_date
from ctcae_engine.read.fields import DM, DS, EX

DISPOSITION_EVENT = "DISPOSITION EVENT"  # DSCAT of the events that end a participant's time on study


def disposition_table(population: pd.DataFrame) -> pd.DataFrame:
    """DISP01: enrolled, lymphodepleted, infused (the safety population), not infused, died."""
    infused = population["saffl"].astype(bool)
    lymphodepleted = population["ldstdt"].notna()
    rows = [
        ("Enrolled (in DM)", len(population)),
        ("Lymphodepleted", int(lymphodepleted.sum())),
        ("Not infused (screen failure or withdrawn before infusion)", int((~infused).sum())),
        ("Lymphodepleted but not infused", int((lymphodepleted & ~infused).sum())),
        ("Infused with CAR-T cells (safety population)", int(infused.sum())),
        ("Died", int(died(population).sum())),
    ]
    return pd.DataFrame(rows, columns=["Status", "Participants"])


def exposure_table(ex: pd.DataFrame) -> pd.DataFrame:
    """EXP01: per treatment (EXTRT), participants, administrations and the doses recorded (EXDOSE, EXDOSU)."""
    dose = pd.to_numeric(EX.raw(ex, "dose").str.strip(), errors="coerce")
    frame = pd.DataFrame({"Treatment": EX.text(ex, "treatment", upper=True), "usubjid": EX.raw(ex, "subject"),
                          "dose": dose, "Unit": EX.raw(ex, "dose_unit")})
    return frame.groupby("Treatment", dropna=False, sort=True).agg(
        Participants=("usubjid", "nunique"), Administrations=("usubjid", "size"), **{
            "Median dose": ("dose", "median"), "Min dose": ("dose", "min"), "Max dose": ("dose", "max")},
        Unit=("Unit", lambda s: ", ".join(sorted(set(s.dropna())))),
    ).reset_index()


def end_of_study(population: pd.DataFrame, ds: pd.DataFrame | None = None,
                 dm: pd.DataFrame | None = None) -> pd.DataFrame:
    """When and how each participant's time on study ended, as of the data cut-off: ``usubjid``, ``end_date``
    (NaT: still on study) and ``end_status`` ("died", "completed", "discontinued (<DSDECOD>)", "" on study).

    Sources, first present wins: death (the population's ``dthdt``), the earliest dated DS disposition event
    (DSCAT = DISPOSITION EVENT, or every DS row when DSCAT is absent; DSDECOD COMPLETED -> completed, DEATH -> died,
    anything else -> discontinued), then DM RFPENDTC / ADSL EOSDT (end of participation, "completed or
    discontinued"). A participant with none of these is on study at the cut-off.
    """
    out = pd.DataFrame({"usubjid": population["usubjid"].astype("string").str.strip().to_numpy(),
                        "end_date": pd.NaT, "end_status": ""})
    out["end_date"] = pd.to_datetime(out["end_date"])
    dead = died(population).to_numpy(dtype=bool)
    out.loc[dead, "end_status"] = "died"
    out.loc[dead, "end_date"] = population["dthdt"].to_numpy()[dead]
    if ds is not None and DS.column(ds, "subject") and DS.column(ds, "start"):
        events = pd.DataFrame({"usubjid": DS.subjects(ds), "decod": DS.text(ds, "decoded", upper=True).fillna(""),
                               "date": to_date(DS.raw(ds, "start"))})
        if DS.column(ds, "category"):
            events = events[DS.text(ds, "category", upper=True).eq(DISPOSITION_EVENT).fillna(False).to_numpy()]
        events = events.dropna(subset=["date"]).sort_values(["usubjid", "date"], kind="stable")
        first = events.drop_duplicates("usubjid").set_index("usubjid")
        status = first["decod"].map(lambda d: "completed" if d == "COMPLETED" else "died" if d == "DEATH"
                                    else f"discontinued ({d.lower()})" if d else "discontinued")
        todo = out["end_status"].eq("") & out["usubjid"].isin(first.index)
        out.loc[todo, "end_date"] = out.loc[todo, "usubjid"].map(first["date"]).to_numpy()
        out.loc[todo, "end_status"] = out.loc[todo, "usubjid"].map(status).to_numpy()
    if dm is not None and DM.column(dm, "subject") and DM.column(dm, "end_of_participation"):
        ended = pd.Series(to_date(DM.raw(dm, "end_of_participation")).to_numpy(), index=DM.subjects(dm).to_numpy())
        ended = ended[~ended.index.duplicated()].dropna()
        todo = out["end_status"].eq("") & out["usubjid"].isin(ended.index)
        out.loc[todo, "end_date"] = out.loc[todo, "usubjid"].map(ended).to_numpy()
        out.loc[todo, "end_status"] = "completed or discontinued"
    return out
