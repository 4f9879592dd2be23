"""CRS / ICANS management from SDTM CM (issue 14, part 4): tocilizumab doses and days, corticosteroids by agent,
anakinra, vasopressors; per participant (CRSMGMT01) and n (%) treated (CRSMGMT02). The drug -> class map is data
(ctcae_terms/criteria/crs_management.csv, vasopressors.csv); the classes expected here are typed from the drugs'
pharmacology (tocilizumab = anti-IL-6R, dexamethasone / methylprednisolone = corticosteroids, anakinra = IL-1Ra,
norepinephrine = vasopressor), not read from that file."""

from __future__ import annotations

import pandas as pd
import pytest

from ctcae_engine.analyse.crs_management import crs_management, crs_management_summary, management_records
from ctcae_engine.demo import DATA_DIR
from ctcae_engine.read.config import load_config
from ctcae_engine.run.pipeline import run_study

DAY0 = pd.Timestamp("2025-01-10")
POPULATION = pd.DataFrame({"usubjid": ["P1", "P2", "P3", "SF"], "saffl": [True, True, True, False],
                           "infdt": [DAY0, DAY0, DAY0, pd.NaT]})


def _day(n: int) -> str:
    return (DAY0 + pd.Timedelta(days=n)).strftime("%Y-%m-%d")


def _cm() -> pd.DataFrame:
    rows = [
        ("P1", "ACTEMRA", "TOCILIZUMAB", _day(2), _day(2), "8", "mg/kg", "IV", "CRS"),
        ("P1", "Tocilizumab", "TOCILIZUMAB", _day(3), _day(3), "8", "mg/kg", "IV", "CRS"),
        ("P1", "Decadron", "DEXAMETHASONE", _day(3), _day(5), "10", "mg", "IV", "CRS"),
        ("P1", "Noradrenaline", "NOREPINEPHRINE", _day(3), _day(4), "", "", "IV", "HYPOTENSION"),
        ("P2", "Solu-Medrol", "METHYLPREDNISOLONE", _day(6), _day(8), "1000", "mg", "IV", "ICANS"),
        ("P2", "Kineret", "ANAKINRA", _day(7), _day(9), "100", "mg", "SC", "ICANS"),
        ("P2", "Dexamethasone", "DEXAMETHASONE", _day(-1), _day(-1), "4", "mg", "PO", "PREMEDICATION"),  # before
        ("P3", "Paracetamol", "ACETAMINOPHEN", _day(1), _day(1), "1", "g", "PO", "FEVER"),  # not management
        ("P3", "Neo-Synephrine", "PHENYLEPHRINE", _day(2), _day(2), "", "", "NASAL", "CONGESTION"),  # nasal spray
        ("SF", "Dexamethasone", "DEXAMETHASONE", "2024-12-01", "2024-12-01", "4", "mg", "PO", ""),  # never infused
    ]
    return pd.DataFrame(rows, columns=["USUBJID", "CMTRT", "CMDECOD", "CMSTDTC", "CMENDTC", "CMDOSE", "CMDOSU",
                                       "CMROUTE", "CMINDC"])


def test_per_participant_management():
    table, _ = crs_management(_cm(), POPULATION, load_config())
    assert table["usubjid"].tolist() == ["P1", "P2"]  # P3: paracetamol and a nasal spray are not CRS management
    p1, p2 = table.iloc[0], table.iloc[1]
    assert p1["tocilizumab_doses"] == 2 and p1["tocilizumab_days"] == "2, 3"
    assert p1["corticosteroids"] == "Dexamethasone 10 mg (day 3-5)"
    assert p1["vasopressors"] == "Norepinephrine (day 3-4)"
    assert p2["corticosteroids"] == "Methylprednisolone 1000 mg (day 6-8)"  # the premedication on day -1 is not counted
    assert p2["anakinra_days"] == "7-9" and p2["tocilizumab_doses"] == 0


def test_summary_n_percent_treated():
    table, _ = crs_management_summary(_cm(), POPULATION, load_config())
    n = table.set_index("label")["n"].to_dict()
    assert n == {"Any of the below": 2, "Tocilizumab": 1, "Corticosteroids": 2, "  Dexamethasone": 1,
                 "  Methylprednisolone": 1, "Anakinra": 1, "Siltuximab": 0, "Vasopressors": 1}
    assert (table["N"] == 3).all()  # the safety population


def test_a_record_without_a_full_start_date_is_kept_not_dropped():
    cm = pd.DataFrame({"USUBJID": ["P1"], "CMDECOD": ["TOCILIZUMAB"], "CMSTDTC": ["2025-01"]})
    records = management_records(cm, POPULATION, load_config())
    assert len(records) == 1 and pd.isna(records["day"].iloc[0])
    table, _ = crs_management(cm, POPULATION, load_config())
    assert table["tocilizumab_days"].iloc[0] == "date not known"


def test_no_cm_domain_gives_an_empty_table_with_its_reason():
    table, fields = crs_management(None, POPULATION, load_config())
    assert table.empty and "No CM" in fields["why"]
    summary, fields = crs_management_summary(None, POPULATION, load_config())
    assert summary.empty and "No CM" in fields["why"]


@pytest.mark.slow  # full demo run
def test_the_pipeline_builds_the_management_tables_from_a_cm_file(tmp_path):
    for path in DATA_DIR.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    person = "ALPP-CART-DEMO-01002"  # infused 2024-03-20, ASTCT CRS grade 3 from day 3
    pd.DataFrame({"STUDYID": "ALPP-CART-DEMO", "DOMAIN": "CM", "USUBJID": person, "CMSEQ": ["1", "2"],
                  "CMTRT": ["TOCILIZUMAB", "DEXAMETHASONE"], "CMDECOD": ["TOCILIZUMAB", "DEXAMETHASONE"],
                  "CMSTDTC": ["2024-03-23", "2024-03-24"], "CMENDTC": ["2024-03-23", "2024-03-25"],
                  "CMDOSE": ["8", "10"], "CMDOSU": ["mg/kg", "mg"], "CMINDC": ["CRS", "CRS"]}).to_csv(
        tmp_path / "cm.csv", index=False)
    results = run_study(tmp_path, None, strict=True)
    per = results.tables["CRSMGMT01"].frame
    assert per["usubjid"].tolist() == [person] and per["tocilizumab_days"].iloc[0] == "3"
    summary = results.tables["CRSMGMT02"].frame.set_index("label")["n"]
    assert summary["Tocilizumab"] == 1 and summary["  Dexamethasone"] == 1
    without = run_study(DATA_DIR, None, strict=True)
    assert without.tables["CRSMGMT01"].frame.empty and "No CM" in without.tables["CRSMGMT01"].empty
