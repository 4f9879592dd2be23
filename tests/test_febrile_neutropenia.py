"""Febrile neutropenia (issue 18 part 3), derived from graded LB ANC and graded VS temperature.

CTCAE v4.03, Febrile neutropenia G3: "ANC <1000/mm3 with a single temperature of >38.3 degrees C (101 degrees F) or
a sustained temperature of >=38 degrees C (100.4 degrees F) for more than one hour". G4/G5 are clinical. The
expected grades below are typed from that text, one reporting step either side of each threshold.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import tomllib

import ctcae_engine as ce
from ctcae_engine.read.config import config_from_dict

DEMO_CONFIG = Path(ce.__file__).parent / "demo" / "study.toml"


def _labs(rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    return ce.grade_labs(pd.DataFrame({
        "USUBJID": [r[0] for r in rows], "LBTESTCD": "NEUT", "LBSTRESN": [r[1] for r in rows],
        "LBSTRESU": "10^9/L", "LBDTC": [r[2] for r in rows], "LBSTNRLO": 2.0, "LBSTNRHI": 7.5}))


def _vitals(rows: list[tuple[str, float, str]], unit: str = "C") -> pd.DataFrame:
    return ce.grade_vitals(pd.DataFrame({
        "USUBJID": [r[0] for r in rows], "VSTESTCD": "TEMP", "VSORRES": [str(r[1]) for r in rows],
        "VSORRESU": unit, "VSSTRESN": [r[1] for r in rows], "VSSTRESU": unit, "VSDTC": [r[2] for r in rows]}))


def _one(anc: float, temp: float, unit: str = "C") -> pd.Series:
    found = ce.febrile_neutropenia(_labs([("P", anc, "2024-03-01T08:00")]),
                                   _vitals([("P", temp, "2024-03-01T10:00")], unit))
    assert len(found) == 1 and bool(found["derived"].iloc[0])
    return found.iloc[0]


@pytest.mark.parametrize(("anc", "temp", "expected"), [
    (0.9, 38.4, 3),  # ANC <1000/mm3 and a single temperature >38.3 C
    (0.99, 38.4, 3),
    (1.0, 38.4, 0),  # ANC 1000/mm3 is not <1000: temperature febrile, ANC paired: graded, not FN
    (0.5, 39.5, 3),
])
def test_single_temperature_and_anc_threshold(anc: float, temp: float, expected: int) -> None:
    row = _one(anc, temp)
    assert row["grade"] == expected and row["term"] == "Febrile neutropenia" and row["reason"] == ""


def test_single_temperature_threshold_is_exclusive() -> None:
    """">38.3 degrees C": 38.3 alone is not febrile (one reading cannot be sustained), 38.4 is."""
    found = ce.febrile_neutropenia(_labs([("P", 0.5, "2024-03-01T08:00")]), _vitals([("P", 38.3, "2024-03-01T10:00")]))
    assert found["grade"].tolist() == [0]  # the ANC row: a temperature was taken, none febrile
    assert "no febrile temperature" in found["thresholds"].iloc[0]
    assert _one(0.5, 38.4)["grade"] == 3


def test_fahrenheit_101() -> None:
    """101 degrees F = 38.33 C > 38.3 C: febrile; 100.9 F = 38.28 C is not."""
    assert _one(0.5, 101.0, "F")["grade"] == 3
    found = ce.febrile_neutropenia(_labs([("P", 0.5, "2024-03-01T08:00")]),
                                   _vitals([("P", 100.9, "2024-03-01T10:00")], "F"))
    assert found["grade"].tolist() == [0]


@pytest.mark.parametrize(("temps", "expected"), [
    ([(38.0, "10:00"), (38.1, "11:01")], 3),  # >=38 C over 61 minutes: sustained for more than one hour
    ([(38.0, "10:00"), (38.1, "11:00")], 0),  # exactly one hour is not "more than one hour"
    ([(37.9, "10:00"), (38.1, "11:30")], 0),  # 37.9 is not >=38: no run
    ([(38.0, "10:00"), (37.9, "10:40"), (38.2, "11:30")], 0),  # a reading below 38 ends the run
])
def test_sustained_temperature(temps: list[tuple[float, str]], expected: int) -> None:
    labs = _labs([("P", 0.6, "2024-03-01T09:00")])
    found = ce.febrile_neutropenia(labs, _vitals([("P", t, f"2024-03-01T{h}") for t, h in temps]))
    assert found["grade"].max() == expected
    if expected == 3:
        assert set(found["grade"]) == {3} and found["thresholds"].str.contains("sustained").all()


def test_pairing_window_and_unpaired_rows_are_not_graded_zero() -> None:
    """ANC and temperature pair within [grading] febrile_neutropenia_pair_h (default 24 h); unpaired rows are NA
    with a reason, never 0."""
    labs = _labs([("P", 0.5, "2024-03-01T08:00"), ("Q", 0.4, "2024-03-01T08:00")])
    vitals = _vitals([("P", 38.6, "2024-03-02T08:00"), ("P", 38.6, "2024-03-04T08:00")])
    found = ce.febrile_neutropenia(labs, vitals)
    by = found.set_index(["usubjid", "dtc"])
    assert by.loc[("P", "2024-03-02T08:00"), "grade"] == 3  # exactly 24 h apart: paired
    assert pd.isna(by.loc[("P", "2024-03-04T08:00"), "grade"])  # 72 h from the ANC
    assert "no ANC within 24 h" in by.loc[("P", "2024-03-04T08:00"), "reason"]
    assert pd.isna(by.loc[("Q", "2024-03-01T08:00"), "grade"])
    assert "no temperature within 24 h" in by.loc[("Q", "2024-03-01T08:00"), "reason"]
    narrow = ce.febrile_neutropenia(labs, vitals, pair_h=23.9)
    assert narrow["grade"].isna().all()
    raw = tomllib.loads(DEMO_CONFIG.read_text())
    raw.pop("data", None)
    assert config_from_dict(raw).grading.febrile_neutropenia_pair_h == 24.0
    raw.setdefault("grading", {})["febrile_neutropenia_pair_h"] = 6
    assert config_from_dict(raw).grading.febrile_neutropenia_pair_h == 6.0


def test_pipeline_writes_derived_rows() -> None:
    results = ce.run_study(None)
    derived = results.derived
    assert derived is not None and derived["derived"].all() and set(derived["term"]) == {"Febrile neutropenia"}
    assert derived["grade"].isna().eq(derived["reason"].ne("")).all()  # NA always with its reason
