"""Swimmer plot: a bar ends at completion, discontinuation or death; only participants on study at the cut-off get
the "in follow-up" arrow (issue 17: 01001, 01002, 01004, 01005 completed at day 365 but ran to the cut-off)."""

from __future__ import annotations

import pandas as pd

from ctcae_engine.demo import DATA_DIR
from ctcae_engine.figures.study import swimmer_frame

CUTOFF = "2025-06-30"


def _population(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame({"usubjid": [r[0] for r in rows], "saffl": True,
                         "infdt": pd.to_datetime([r[1] for r in rows]),
                         "dthdt": pd.to_datetime([r[2] for r in rows]), "dthfl": [r[2] is not None for r in rows]})


def test_bars_end_at_completion_discontinuation_or_death_and_only_ongoing_ones_have_arrows():
    population = _population([("P1", "2024-01-01", None), ("P2", "2024-01-01", "2024-03-01"),
                              ("P3", "2024-01-01", None), ("P4", "2024-01-01", None), ("P5", "2024-01-01", None)])
    ds = pd.DataFrame({"USUBJID": ["P1", "P4", "P2"], "DSCAT": "DISPOSITION EVENT",
                       "DSDECOD": ["COMPLETED", "WITHDRAWAL BY SUBJECT", "DEATH"],
                       "DSSTDTC": ["2024-12-31", "2024-02-10", "2024-03-01"]})
    dm = pd.DataFrame({"USUBJID": ["P1", "P2", "P3", "P4", "P5"],
                       "RFPENDTC": ["2024-12-31", "2024-03-01", "", "2024-02-10", "2024-06-30"]})
    swim = swimmer_frame(population, CUTOFF, ds, dm).set_index("usubjid")
    # P1 completed on 2024-12-31: 365 days after the 2024-01-01 infusion, not to the 2025-06-30 cut-off (546 days)
    assert swim.loc["P1", ["days_on_study", "ongoing", "end_status"]].tolist() == [365, False, "completed"]
    assert swim.loc["P2", ["days_on_study", "death", "ongoing"]].tolist() == [60, True, False]
    assert swim.loc["P3", ["days_on_study", "ongoing", "end_status"]].tolist() == [546, True, ""]
    assert swim.loc["P4", ["days_on_study", "ongoing"]].tolist() == [40, False]
    assert swim.loc["P4", "end_status"] == "discontinued (withdrawal by subject)"
    # no DS event: DM RFPENDTC (end of participation) ends the bar
    assert swim.loc["P5", ["days_on_study", "ongoing"]].tolist() == [181, False]


def test_without_disposition_data_every_living_participant_is_in_follow_up():
    swim = swimmer_frame(_population([("P1", "2024-01-01", None)]), CUTOFF).set_index("usubjid")
    assert swim.loc["P1", ["days_on_study", "ongoing"]].tolist() == [546, True]


def test_demo_participants_who_completed_at_day_365_end_there():
    """Expected values read from the demo's DS and DM files here, not through the engine."""
    ds = pd.read_csv(DATA_DIR / "ds.csv", dtype=str)
    dm = pd.read_csv(DATA_DIR / "dm.csv", dtype=str, keep_default_na=False)
    completed = ds.loc[ds["DSDECOD"] == "COMPLETED", "USUBJID"].tolist()
    assert completed == ["ALPP-CART-DEMO-01001", "ALPP-CART-DEMO-01002", "ALPP-CART-DEMO-01004",
                         "ALPP-CART-DEMO-01005"]
    infused = dm[dm["RFXSTDTC"] != ""]
    population = pd.DataFrame({"usubjid": infused["USUBJID"], "saffl": True,
                               "infdt": pd.to_datetime(infused["RFXSTDTC"].str[:10]),
                               "dthdt": pd.to_datetime(infused["DTHDTC"].replace("", None)),
                               "dthfl": infused["DTHFL"].eq("Y")})
    swim = swimmer_frame(population, CUTOFF, ds, dm).set_index("usubjid")
    assert swim.loc[completed, "days_on_study"].tolist() == [365] * 4
    assert not swim.loc[completed, "ongoing"].any()
    dead = infused.loc[infused["DTHDTC"] != "", "USUBJID"]
    assert swim.loc[dead, "death"].all() and not swim.loc[dead, "ongoing"].any()
    assert swim["ongoing"].sum() == len(infused) - len(completed) - len(dead)
