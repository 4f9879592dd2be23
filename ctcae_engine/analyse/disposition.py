"""Disposition (DISP01) and exposure (EXP01): counts of participants through the study and of administrations."""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse.listings import died
from ctcae_engine.read.fields import EX


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
