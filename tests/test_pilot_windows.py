"""The CDISC pilot SDTM under examples/cdisc_pilot/study.toml: the safety population and the participants with a
treatment-emergent and a related treatment-emergent AE equal a reference computed here from the SDTM alone, by
admiral's ADaM convention (ADSL TRTSDT = first EXSTDTC, TRTEDT = last EXENDTC of a study-drug record; ADAE TRTEMFL =
onset on or after TRTSDT and no later than TRTEDT + 30 days; a partial onset imputed to the first day of its month
(year), not before TRTSDT when it falls in the same month (year); related = AEREL PROBABLE or POSSIBLE, and, as the
example config says (missing_is_related = true, the conservative reading), a blank AEREL)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import PHARMAVERSE

from ctcae_engine.analyse.endpoints import flag_ae, participant_ae_flags, safety_population
from ctcae_engine.read.config import load_config
from ctcae_engine.read.files import read_study

pytestmark = pytest.mark.needs_shared(PHARMAVERSE)
CONFIG = Path(__file__).resolve().parents[1] / "examples" / "cdisc_pilot" / "study.toml"


def reference(dm: pd.DataFrame, ex: pd.DataFrame, ae: pd.DataFrame) -> dict[str, set[str]]:
    drug = ex[ex["EXTRT"].isin(["XANOMELINE", "PLACEBO"])]
    trtsdt = pd.to_datetime(drug["EXSTDTC"]).groupby(drug["USUBJID"]).min()
    trtedt = pd.to_datetime(drug["EXENDTC"].fillna(drug["EXSTDTC"])).groupby(drug["USUBJID"]).max()
    start = trtsdt.reindex(ae["USUBJID"]).to_numpy()
    text = ae["AESTDTC"].fillna("")
    onset = []
    for value, first in zip(text, start, strict=True):
        if len(value) == 10:
            onset.append(pd.Timestamp(value))
        elif len(value) in (4, 7):  # partial: first day of the month (year), not before the first dose in it
            floor = pd.Timestamp(value + ("-01" if len(value) == 7 else "-01-01"))
            same = pd.notna(first) and str(pd.Timestamp(first))[: len(value)] == value
            onset.append(max(floor, pd.Timestamp(first)) if same else floor)
        else:
            onset.append(pd.NaT)
    onset = pd.Series(onset, index=ae.index)
    end = trtedt.reindex(ae["USUBJID"]).to_numpy() + pd.Timedelta(days=30)
    emergent = (onset.to_numpy() >= start) & (onset.to_numpy() <= end)
    named = ae["AEREL"].isin(["PROBABLE", "POSSIBLE"]).to_numpy()
    blank = ae["AEREL"].fillna("").str.strip().eq("").to_numpy()
    return {"safety": set(trtsdt.index), "teae": set(ae.loc[emergent, "USUBJID"]),
            "related": set(ae.loc[emergent & (named | blank), "USUBJID"]),
            "related_named": set(ae.loc[emergent & named, "USUBJID"])}


@pytest.fixture(scope="module")
def pilot():
    study = read_study(PHARMAVERSE)
    cfg = load_config(CONFIG)
    population = safety_population(study["dm"], study["ex"], cfg.treatment)
    flagged = flag_ae(study["ae"], population, cfg.treatment_emergent, cfg.relationship)
    return study, population, participant_ae_flags(flagged, population), flagged


def test_pilot_participants_equal_the_admiral_convention(pilot):
    study, population, per_participant, _ = pilot
    expected = reference(study["dm"], study["ex"], study["ae"])
    got = {"safety": set(population.loc[population["saffl"], "usubjid"]),
           "teae": set(per_participant.loc[per_participant["teae"], "usubjid"]),
           "related": set(per_participant.loc[per_participant["trae"], "usubjid"])}
    print({name: len(ids) for name, ids in got.items()})
    assert {name: len(ids) for name, ids in expected.items()} == {"safety": 254, "teae": 217, "related": 185,
                                                                  "related_named": 184}
    assert got == {name: ids for name, ids in expected.items() if name != "related_named"}
    # the one participant between the two readings has an emergent AE with a blank AEREL, counted as related
    assert len(got["related"] - expected["related_named"]) == 1


def test_01_705_1303_is_not_counted_after_last_dose_plus_30(pilot):
    """Its four AEs start on 2014-02-05, 36 days after the last dose (2013-12-31): outside the window."""
    flagged = pilot[3]
    rows = flagged[flagged["USUBJID"].eq("01-705-1303")]
    assert len(rows) == 4 and not rows["trtemfl"].any()
    assert set(rows["period"]) == {"after the window"}


def test_meddra_terms_that_are_not_ctcae_terms_are_tabulated_under_aedecod():
    """A MedDRA preferred term that is not a CTCAE v4.03 term is still an adverse event: before, 159 pilot PTs
    collapsed into "(term not coded)" rows; now each stands under its AEDECOD and AEBODSYS."""
    from ctcae_engine.analyse.safety_tables import ae_soc_pt_table
    from ctcae_engine.grade.ae import validate_ae

    study = read_study(PHARMAVERSE)
    cfg = load_config(CONFIG)
    population = safety_population(study["dm"], study["ex"], cfg.treatment)
    flagged = flag_ae(validate_ae(study["ae"]), population, cfg.treatment_emergent, cfg.relationship)
    table = ae_soc_pt_table(flagged, population)
    terms = table[table["level"].eq("term")].set_index(["soc", "term"])
    assert not terms.index.get_level_values("term").str.contains("not coded").any()
    emergent = flagged[flagged["trtemfl"] & flagged["ctcae_term"].isna()]
    assert emergent["AEDECOD"].nunique() > 100  # the pilot's PTs outside CTCAE
    expected = emergent.groupby(["AEBODSYS", "AEDECOD"])["USUBJID"].nunique()
    assert (terms.loc[expected.index, "any"] == expected).all()


def test_pilot_dmt01_by_arm_equals_plain_pandas(pilot):
    """DMT01 on the real pilot DM: 254 treated, one column per actual arm; each arm's age mean (SD) and the count of
    women equal a computation from DM and EX alone (treated = any XANOMELINE or PLACEBO EX record, arm = ACTARM)."""
    from ctcae_engine.analyse.demographics import demographics_table

    study, population, _, _ = pilot
    table, fields = demographics_table(population, study["dm"])
    dm, ex = study["dm"], study["ex"]
    treated = dm[dm["USUBJID"].isin(ex.loc[ex["EXTRT"].isin(["XANOMELINE", "PLACEBO"]), "USUBJID"])]
    assert fields["N"] == len(treated) == 254
    cells = table.set_index(["Characteristic", "Statistic"])
    for arm, rows in treated.groupby("ACTARM"):
        column = f"{arm} (N={len(rows)})"
        age = rows["AGE"].astype(float)
        assert cells.loc[("Age (years)", "Mean (SD)"), column] == f"{age.mean():.1f} ({age.std():.1f})"
        women = int(rows["SEX"].eq("F").sum())
        assert cells.loc[("Sex", "F"), column] == f"{women} ({100 * women / len(rows):.1f}%)"
    assert f"Total (N={len(treated)})" in table.columns
