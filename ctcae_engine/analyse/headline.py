"""The executive summary's measures: participants with TEAE, TRAE, TRAE grade >= 3, SAE, deaths, CRS and ICANS."""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse import endpoints
from ctcae_engine.analyse.listings import died
from ctcae_engine.read.fields import AE

HEADLINE_COLUMNS = ["key", "n", "N", "events", "note"]

NEEDS: dict[str, tuple[str, ...]] = {
    "teae": ("population", "ae"), "trae": ("population", "ae"), "trae_g3": ("population", "ae"),
    "sae": ("population", "ae"), "deaths": ("population",), "primary": ("population", "ae"),
    "crs": ("population", "xc", "crs"), "crs_g3": ("population", "xc", "crs"),
    "icans": ("population", "xc", "icans"), "icans_g3": ("population", "xc", "icans"),
}
"""Headline key -> the stages it needs (a stage that is unavailable gives its reason to the measure)."""


def headline(participants: pd.DataFrame | None, ae: pd.DataFrame | None, population: pd.DataFrame | None,
             deaths: pd.DataFrame | None = None, crs_episodes: pd.DataFrame | None = None,
             icans_episodes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Executive-summary measures: key, n participants, N, events, note (one row per available measure).

    ``deaths`` is the death listing (DTHL01: DM deaths and fatal AEs), so the headline counts what the listing
    shows; episodes count for CRS / ICANS among the safety population."""
    rows = []
    if participants is not None and ae is not None:
        total = len(participants)
        te = ae["trtemfl"].astype(bool)
        rel = te & ae["related"].astype(bool)
        g3 = endpoints.ae_grade(ae).ge(3).fillna(False).astype(bool)
        serious = AE.text(ae, "serious", upper=True).eq("Y").fillna(False).astype(bool)
        for key, flag, events, note in (
            ("teae", "teae", te, ""),
            ("trae", "trae", rel, ""),
            ("trae_g3", "trae_g3", rel & g3, ""),
            ("sae", "teae_serious", te & serious, "treatment-emergent"),
        ):
            rows.append({"key": key, "n": int(participants[flag].sum()), "N": total, "events": int(events.sum()),
                         "note": note})
    if population is not None:  # one denominator: the safety population (every death after infusion is in it)
        dead = set(deaths["Participant"].astype("string").str.strip()) if deaths is not None else set(
            population.loc[died(population), "usubjid"].astype("string").str.strip())
        safety = set(population.loc[population["saffl"].astype(bool), "usubjid"].astype("string").str.strip())
        n_died, before = len(dead & safety), len(dead - safety)
        note = "any cause, after CAR-T infusion; N = safety population"
        if before:
            note += f"; {before} death{'s' if before != 1 else ''} of participants never infused in DTHL01"
        rows.append({"key": "deaths", "n": n_died, "N": len(safety), "events": n_died, "note": note})
    for key, eps in (("crs", crs_episodes), ("icans", icans_episodes)):
        if eps is None or population is None:
            continue
        safety = population.loc[population["saffl"].astype(bool), "usubjid"]
        eps = eps[eps["usubjid"].isin(safety)]
        worst = eps.groupby("usubjid")["max_grade"].max()
        for suffix, floor in (("", 1), ("_g3", 3)):
            rows.append({"key": key + suffix, "n": int(worst.ge(floor).sum()), "N": len(safety),
                         "events": int(eps["max_grade"].ge(floor).sum()), "note": "events = episodes"})
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)
