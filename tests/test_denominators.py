"""One denominator for deaths (issue 17: the demo showed "3 (13.0 %) of 23 enrolled" while the three deaths are
among the 20 infused): deaths after infusion over the safety population, a death of a participant never infused
named in the note, not mixed into the percentage."""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse.headline import headline


def test_deaths_are_counted_over_the_safety_population_and_a_pre_infusion_death_is_named_apart():
    population = pd.DataFrame({
        "usubjid": ["P1", "P2", "P3", "P4", "P5"], "saffl": [True, True, True, True, False],
        "infdt": pd.to_datetime(["2024-01-01"] * 4 + [None]),
        "dthdt": pd.to_datetime([None, "2024-03-01", None, None, "2024-01-05"]),
        "dthfl": [False, True, False, False, True]})
    deaths = pd.DataFrame({"Participant": ["P2", "P5"]})
    row = headline(None, None, population, deaths).set_index("key").loc["deaths"]
    assert (row["n"], row["N"]) == (1, 4)  # P2 of the 4 infused; P5 died before any infusion
    assert "N = safety population" in row["note"] and "1 death of participants never infused" in row["note"]
