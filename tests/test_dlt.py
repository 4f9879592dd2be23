"""DLT01 / DLT02: the protocol's DLT definition and the k-of-first-n stopping rule, from the study config.

Crafted dose level of 7 infused participants (infused one week apart); definition: related, grade >= 3, onset on
days 0..28, cytopenias excluded; stop at 2 DLTs among the first 6 evaluable. Expected values are worked by hand."""

from __future__ import annotations

import pandas as pd

from ctcae_engine.analyse.dlt import dlt_listing, dlt_table
from ctcae_engine.analyse.endpoints import flag_ae, safety_population
from ctcae_engine.grade.ae import validate_ae
from ctcae_engine.read.config import Dlt, Relationship, Treatment, TreatmentEmergent

DEFINITION = Dlt(enabled=True, window_days=28, min_grade=3, related_only=True,
                 exclude_terms=("NEUTROPHIL COUNT DECREASED",), stop_at=2, of_first=6)


def trial(extra_ae: list[tuple] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"P{i}" for i in range(1, 8)]
    days = pd.date_range("2024-01-01", periods=7, freq="7D").strftime("%Y-%m-%d")
    dm = pd.DataFrame({"USUBJID": ids, "RFXSTDTC": days, "ACTARM": "DL1"})
    ex = pd.DataFrame({"USUBJID": ids, "EXTRT": "CART", "EXSTDTC": days})
    rows = [("P1", "Cytokine release syndrome", "3", "RELATED", "2024-01-04"),   # DLT (day 3)
            ("P2", "Neutrophil count decreased", "4", "RELATED", "2024-01-10"),  # excluded term
            ("P3", "Fatigue", "3", "NOT RELATED", "2024-01-20"),                 # not related
            ("P4", "Nausea", "3", "RELATED", "2024-03-01"),                      # day 39: after the window
            ("P5", "Encephalopathy", "2", "RELATED", "2024-02-01"),              # grade 2
            *extra_ae]
    ae = pd.DataFrame(rows, columns=["USUBJID", "AEDECOD", "AETOXGR", "AEREL", "AESTDTC"])
    population = safety_population(dm, ex, Treatment(infusion_extrt=("CART",)))
    return flag_ae(validate_ae(ae), population, TreatmentEmergent(), Relationship()), population


def test_only_the_defined_events_are_dlts():
    flagged, population = trial()
    listing = dlt_listing(flagged, population, DEFINITION)
    assert listing[["Participant", "Dose level", "Term", "Grade", "Day"]].values.tolist() == [
        ["P1", "DL1", "Cytokine release syndrome", 3, 3]]


def test_evaluable_participants_and_the_stopping_rule():
    flagged, population = trial()
    # cut-off 2024-02-26: windows closed for P1..P5 (infused 01-01..01-29, + 28 days <= 02-26); P6, P7 not yet
    table, fields = dlt_table(flagged, population, DEFINITION, "2024-02-26")
    row = table.iloc[0]
    assert (row["Infused"], row["DLT-evaluable"], row["With a DLT"]) == (7, 5, 1)
    assert row["Stopping rule"] == "continue (1 of the first 5)"
    assert fields["rule"] == "2 DLTs among the first 6 evaluable participants of a dose level"
    # a second DLT (P6, day 2: evaluable at once) reaches the boundary among the first 6 evaluable
    flagged, population = trial([("P6", "Cytokine release syndrome", "4", "RELATED", "2024-02-07")])
    row = dlt_table(flagged, population, DEFINITION, "2024-02-26")[0].iloc[0]
    assert (row["DLT-evaluable"], row["With a DLT"], row["Stopping rule"]) == (6, 2, "STOP: boundary reached")


def test_without_a_definition_the_table_says_so():
    flagged, population = trial()
    table, fields = dlt_table(flagged, population, Dlt(), "2024-02-26")
    assert table.empty and "no DLT definition" in fields["rule"]
    assert dlt_listing(flagged, population, Dlt()).columns.tolist() == [
        "Participant", "Dose level", "Term", "Grade", "Day", "Related"]  # was: "Dose level already exists"
