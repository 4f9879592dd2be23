"""The embedded demo trial: deterministic, SDTM-shaped, clinically coherent, with exactly the planned faults."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ctcae_engine.demo import generate as gen
from ctcae_engine.read.files import read_study
from ctcae_terms import allowed_grades, lookup_term, suggest_terms

DATA = Path(gen.__file__).resolve().parent / "data"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$")


@pytest.fixture(scope="module")
def study() -> dict[str, pd.DataFrame]:
    return read_study(DATA)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    gen.write(gen.generate()[0], out)
    return out


def test_same_seed_gives_byte_identical_files(generated: Path, tmp_path: Path) -> None:
    gen.write(gen.generate()[0], tmp_path)
    names = sorted(p.name for p in generated.glob("*.csv"))
    assert names == sorted(p.name for p in tmp_path.glob("*.csv"))
    for name in names:
        assert (generated / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_other_seed_gives_other_data(generated: Path, tmp_path: Path) -> None:
    gen.write(gen.generate(seed=1)[0], tmp_path)
    assert (generated / "lb.csv").read_bytes() != (tmp_path / "lb.csv").read_bytes()


def test_committed_files_are_the_generator_output(generated: Path) -> None:
    for path in sorted(generated.glob("*.csv")):
        assert (DATA / path.name).read_bytes() == path.read_bytes(), f"{path.name}: rerun the generator"


def test_population(study: dict[str, pd.DataFrame]) -> None:
    dm = study["dm"]
    treated = dm[dm["ARM"] != "Screen Failure"]
    assert len(treated) == 20
    assert (dm["ARM"] == "Screen Failure").sum() == 3
    assert set(dm["SEX"]) == {"F"}
    assert dm["AGE"].astype(int).between(18, 70).all()
    assert treated["RFXSTDTC"].notna().all()
    assert dm.loc[dm["ARM"] == "Screen Failure", "RFXSTDTC"].isna().all()
    assert study["mh"]["MHDECOD"].isin(["Ovarian cancer", "Endometrial cancer"]).all()
    # at the cut-off some participants are still in follow-up, some died, some completed
    status = study["ds"].set_index("USUBJID")["DSDECOD"]
    ongoing = set(treated["USUBJID"]) - set(status.index)
    assert len(ongoing) >= 5
    assert (status == "DEATH").sum() >= 2
    assert (status == "COMPLETED").sum() >= 2


def test_exposure_follows_the_protocol(study: dict[str, pd.DataFrame]) -> None:
    ex = study["ex"]
    dm = study["dm"].set_index("USUBJID")
    ex = ex.join(dm["RFXSTDTC"], on="USUBJID")
    day = (pd.to_datetime(ex["EXSTDTC"]).dt.normalize() - pd.to_datetime(ex["RFXSTDTC"]).dt.normalize()).dt.days
    plan = ex.assign(day=day).groupby("EXTRT")["day"].agg(lambda d: sorted(set(d)))
    assert plan["CYCLOPHOSPHAMIDE"] == [-5]
    assert plan["FLUDARABINE"] == [-4, -3, -2]
    assert plan["ANTI-ALPP CAR-T CELLS"] == [0]
    doses = ex.groupby("EXTRT")[["EXDOSE", "EXDOSU"]].first()
    assert tuple(doses.loc["CYCLOPHOSPHAMIDE"]) == ("20", "mg/kg")
    assert tuple(doses.loc["FLUDARABINE"]) == ("35", "mg/m2")
    infusion = ex[ex["EXTRT"] == "ANTI-ALPP CAR-T CELLS"]
    assert (infusion["EXSTDTC"] == infusion["RFXSTDTC"]).all()


@pytest.mark.parametrize("domain, column", [
    ("dm", "RFXSTDTC"), ("ex", "EXSTDTC"), ("lb", "LBDTC"), ("vs", "VSDTC"), ("eg", "EGDTC"), ("rs", "RSDTC"),
    ("pc", "PCDTC"), ("xc", "XCDTC"), ("ae", "AEENDTC"),
])
def test_dates_are_iso_8601(study: dict[str, pd.DataFrame], domain: str, column: str) -> None:
    values = study[domain][column].dropna()
    assert values.str.match(ISO_DATE).all()
    assert (pd.to_datetime(values.str[:10]) <= gen.CUTOFF).all()


def test_ae_terms_are_ctcae_v403_except_the_planned_misspelling(study: dict[str, pd.DataFrame]) -> None:
    ae = study["ae"]
    unknown = ae[ae["AEDECOD"].map(lambda t: lookup_term(t) is None)]
    assert list(unknown["AEDECOD"]) == ["Diarhea"]
    assert suggest_terms("Diarhea")[0] == "Diarrhea"
    known = ae.drop(unknown.index)
    soc = known["AEDECOD"].map(lambda t: lookup_term(t)["soc"])
    assert (soc == known["AEBODSYS"]).all()


def test_ae_grades_allowed_except_the_planned_alopecia_grade_3(study: dict[str, pd.DataFrame]) -> None:
    ae = study["ae"]
    ae = ae[ae["AEDECOD"] != "Diarhea"]
    bad = ae[[int(g) not in allowed_grades(t) for t, g in zip(ae["AEDECOD"], ae["AETOXGR"], strict=True)]]
    assert bad[["AEDECOD", "AETOXGR"]].values.tolist() == [["Alopecia", "3"]]


def test_other_planned_faults(study: dict[str, pd.DataFrame]) -> None:
    ae, lb = study["ae"], study["lb"]
    assert list(ae.loc[~ae["AESTDTC"].str.match(ISO_DATE), "AESTDTC"]) == ["2025-03"]
    assert ae["AEREL"].isna().sum() == 1
    assert ae["AERELLD"].notna().all()  # SUPPAE merged by io.read_study
    assert list(lb.loc[lb["LBSTRESU"] == "mg/dL", "LBTESTCD"]) == ["BILI"]
    lt = lb[lb["LBORRES"].str.startswith("<")]
    assert lt[["LBTESTCD", "LBORRES"]].values.tolist() == [["NEUT", "<0.5"]]
    assert lt["LBSTRESN"].isna().all()


def test_one_fatal_ae_matches_dm_death(study: dict[str, pd.DataFrame]) -> None:
    ae, dm = study["ae"], study["dm"].set_index("USUBJID")
    fatal = ae[ae["AETOXGR"] == "5"]
    assert len(fatal) == 1
    row = fatal.iloc[0]
    assert (row["AESDTH"], row["AEOUT"], row["AESER"]) == ("Y", "FATAL", "Y")
    assert dm.at[row["USUBJID"], "DTHDTC"] == row["AEENDTC"]


def _screening(lb: pd.DataFrame) -> pd.DataFrame:
    s = lb[lb["VISIT"] == "SCREENING"]
    return s.pivot(index="USUBJID", columns="LBTESTCD", values="LBSTRESN").astype(float)


def test_inclusion_labs_pass_for_treated_and_fail_for_screen_failures(study: dict[str, pd.DataFrame]) -> None:
    s = _screening(study["lb"])
    ok = ((s["WBC"] > 3.5) & (s["HGB"] > 90) & (s["PLAT"] > 75) & (s["ALT"] <= 5 * 35) & (s["AST"] <= 5 * 35)
          & (s["BILI"] <= 1.5 * 21) & (s["ALB"] >= 35))
    dm = study["dm"].set_index("USUBJID")
    assert (ok == (dm.loc[ok.index, "ARM"] != "Screen Failure")).all()


def test_cytopenias_nadir_after_lymphodepletion_and_recover(study: dict[str, pd.DataFrame]) -> None:
    lb = study["lb"]
    neut = lb[(lb["LBTESTCD"] == "NEUT") & lb["LBSTRESN"].notna() & (lb["VISIT"] != "SCREENING")].assign(
        day=lambda f: f["LBDY"].astype(int), v=lambda f: f["LBSTRESN"].astype(float))
    nadir_day = neut.loc[neut.groupby("USUBJID")["v"].idxmin(), "day"]
    assert nadir_day.between(0, 14).mean() >= 0.9
    day28 = neut[neut["day"] == 28]
    assert (day28["v"] >= 1.0).mean() >= 0.8  # most recovered by day 28 ...
    assert (day28["v"] < 1.5).any() or (neut[neut["day"] == 42]["v"] < 1.8).any()  # ... one prolonged


def test_lab_aes_agree_with_lab_grades_apart_from_the_planned_discrepancy(study: dict[str, pd.DataFrame]) -> None:
    """CTCAE v4.03 'Neutrophil count decreased G4: <500/mm3; <0.5 x 10e9/L' checked against the reported AEs."""
    lb, ae = study["lb"], study["ae"]
    neut = lb[(lb["LBTESTCD"] == "NEUT") & (lb["LBDY"].astype(int) > -5)]
    g4 = set(neut.loc[(pd.to_numeric(neut["LBSTRESN"]) < 0.5) | (neut["LBORRES"] == "<0.5"), "USUBJID"])
    reported = ae[ae["AEDECOD"] == "Neutrophil count decreased"].set_index("USUBJID")["AETOXGR"]
    under = [u for u in g4 if reported.get(u) != "4"]
    assert len(under) == 1 and reported[under[0]] == "3"


def test_xc_vocabulary_and_crs_pattern(study: dict[str, pd.DataFrame]) -> None:
    xc = study["xc"]
    allowed = {
        "FEVMASK": {"Y", "N"}, "HYPOTEN": {"NONE", "NO_VASOPRESSOR", "ONE_VASOPRESSOR", "MULTI_VASOPRESSOR"},
        "OXYGEN": {"NONE", "LOW_FLOW", "HIGH_FLOW", "POSITIVE_PRESSURE"},
        "LOC": {"NONE", "AWAKENS_VOICE", "AWAKENS_TACTILE", "UNAROUSABLE"},
        "SEIZURE": {"NONE", "RESOLVED", "PROLONGED"}, "MOTOR": {"NONE", "DEEP_FOCAL_WEAKNESS"},
        "ICPEDEMA": {"NONE", "FOCAL_EDEMA", "DIFFUSE_EDEMA"},
    }
    for code, values in allowed.items():
        assert set(xc.loc[xc["XCTESTCD"] == code, "XCORRES"]) <= values, code
    assert xc.loc[xc["XCTESTCD"] == "ICE", "XCORRES"].astype(int).between(0, 10).all()
    temp = xc[xc["XCTESTCD"] == "TEMPMAX"]
    fever = temp[temp["XCORRES"].astype(float) >= 38.0]
    assert 10 <= fever["USUBJID"].nunique() <= 19  # CRS (fever) in most participants
    crs = study["ae"][study["ae"]["AEDECOD"] == "Cytokine release syndrome"]
    assert set(crs["USUBJID"]) == set(fever["USUBJID"])
    assert (crs["AETOXGR"] == "3").sum() >= 2


def test_response_and_persistence(study: dict[str, pd.DataFrame]) -> None:
    rs, pc = study["rs"], study["pc"]
    assert set(rs["RSSTRESC"]) <= {"CR", "PR", "SD", "PD", "NE"}
    assert {"PR", "PD", "SD"} <= set(rs["RSSTRESC"])
    assert set(rs["VISIT"]) <= {f"WEEK {w}" for w in (4, 8, 12, 24, 36, 48)}
    num = pc.dropna(subset=["PCSTRESN"]).assign(day=lambda f: f["PCDY"].astype(int),
                                                v=lambda f: f["PCSTRESN"].astype(float))
    peak_day = num.loc[num.groupby("USUBJID")["v"].idxmax(), "day"]
    assert peak_day.between(4, 21).mean() >= 0.8
    month6 = pc[pc["PCDY"] == "182"]
    assert (month6["PCORRES"] == "BLQ").any() and month6["PCSTRESN"].notna().any()


@pytest.mark.slow  # generates and checks a scaled trial
def test_scaled_trial(tmp_path: Path) -> None:
    frames, _ = gen.generate(seed=7, participants=200)
    dm = frames["dm"]
    assert (dm["ARM"] != "Screen Failure").sum() == 200
    assert dm["USUBJID"].is_unique
    gen.write(frames, tmp_path)
    back = read_study(tmp_path)
    assert len(back["lb"]) == len(frames["lb"])
