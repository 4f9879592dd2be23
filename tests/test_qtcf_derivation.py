"""ECG without a QTc (issue 18): the CDISC pilot EG holds QT, RR and HR only, and 0 of its 26,717 rows were graded
(exit 0, no hint). QTcF (Fridericia) is now derived automatically by the pipeline's grade stage and by
`ctcae-engine grade` for participants without a QTc of their own, flagged in ``rule``.

CTCAE v4.03 "Electrocardiogram QT corrected interval prolonged": G1 "QTc 450 - 480 ms", G2 "QTc 481 - 500 ms",
G3 "QTc >= 501 ms on at least two separate ECGs"."""

from types import SimpleNamespace

import pandas as pd
import pytest
import tomllib
from conftest import PHARMAVERSE
from typer.testing import CliRunner

from ctcae_engine.grade.findings import QTCF_RULE, grade_ecg
from ctcae_engine.read.config import DEMO_CONFIG, ConfigError, config_from_dict, load_config
from ctcae_engine.read.files import read_domain
from ctcae_engine.run import stages
from ctcae_engine.run.cli import app

EG = PHARMAVERSE / "eg.csv"


def eg(rows: list[tuple], **extra: list) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["USUBJID", "EGTESTCD", "EGSTRESN", "EGSTRESU", "EGDTC"])
    for key, values in extra.items():
        frame[key] = values
    return frame


def _stage(domains: dict, config=None) -> SimpleNamespace:
    results = SimpleNamespace(domains=domains, config=config or load_config(), stage_errors=[], unavailable={},
                              labs=None, vitals=None, ecg=None)
    stages.grade(stages.Runner(results, strict=True))
    return results


@pytest.mark.needs_shared(EG)
def test_pilot_eg_is_graded_from_derived_qtcf_by_the_pipeline():
    data = read_domain(EG)
    assert len(data) == 26717
    before = grade_ecg(data)  # the measured defect: nothing graded
    assert before["grade"].notna().sum() == 0
    graded = _stage({"eg": data}).ecg
    qtcf = graded[graded["testcd"] == "QTCF"]  # every QT row has an RR of the same ECG (same EGDTC and EGTPT)
    assert len(qtcf) == 8220 and qtcf["rule"].str.startswith(QTCF_RULE).all()
    # 27 derived QTcF above 800 ms (the pilot's synthetic QT/RR pairs) are implausible: listed, never graded
    implausible = qtcf["reason"].str.match(r"implausible QTCF \d+(\.\d+)? ms \(plausible 200 - 800 ms\)")
    assert implausible.sum() == 27 and qtcf.loc[implausible, "grade"].isna().all()
    assert graded["grade"].notna().sum() == 8193 == 8220 - 27
    assert (data["EGTESTCD"] == graded["EGTESTCD"]).all()  # input columns as given
    # by hand, the first participant's three ECGs of 2013-12-26 (one per EGTPT, each QT with its own RR):
    # 0.556^(1/3) = 0.82229, 395 / 0.82229 = 480.37 ms; 476 / 0.534^(1/3) = 586.71; 400 / 0.641^(1/3) = 463.92
    first = qtcf[(qtcf["USUBJID"] == "01-701-1015") & (qtcf["EGDTC"] == "2013-12-26")]
    assert first["EGTPT"].tolist() == ["AFTER LYING DOWN FOR 5 MINUTES", "AFTER STANDING FOR 1 MINUTE",
                                       "AFTER STANDING FOR 3 MINUTES"]
    assert first["value_si"].tolist() == pytest.approx([480.3659, 586.7141, 463.9174], abs=1e-3)
    # 480.37 ms: G2 "481 - 500 ms" read as >480; 463.9 ms: G1 "450 - 480 ms"; 586.7 ms >= 501 on at least two
    # separate ECGs of this participant: G3
    assert first["grade"].tolist() == [2, 3, 1]
    assert "with QT 395 ms, RR 556 ms" in first["rule"].iloc[0]


@pytest.mark.needs_shared(EG)
def test_cli_grade_derives_qtcf_for_the_pilot_eg(tmp_path):
    out = tmp_path / "eg_graded.csv"
    result = CliRunner().invoke(app, ["grade", str(EG), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "26717 rows (ecg): 8193 graded" in result.output


def test_auto_keeps_a_given_qtc_and_derives_only_for_participants_without_one():
    frame = eg([("P1", "QTCF", 470, "ms", "2024-01-01T09:00"), ("P1", "QT", 460, "ms", "2024-01-01T09:00"),
                ("P1", "RR", 800, "ms", "2024-01-01T09:00"),
                ("P2", "QT", 460, "ms", "2024-01-01T09:00"), ("P2", "RR", 800, "ms", "2024-01-01T09:00")])
    out = grade_ecg(frame, derive_qtcf="auto")
    assert out["testcd"].tolist() == ["QTCF", "QT", "RR", "QTCF", "RR"]
    # P2: 460 / 0.8^(1/3) = 495.5 ms, G2 "QTc 481 - 500 ms"; P1's own QTcF 470 ms, G1 "QTc 450 - 480 ms"
    assert out["value_si"].iloc[3] == pytest.approx(460 / 0.8 ** (1 / 3)) and out["grade"].iloc[3] == 2
    assert out["grade"].iloc[0] == 1 and not out["rule"].iloc[0].startswith(QTCF_RULE)
    assert "not mapped" in out["reason"].iloc[1]  # P1 has a QTc: its QT is not corrected again
    always = grade_ecg(frame, derive_qtcf=True)
    assert always["testcd"].tolist() == ["QTCF", "QTCF", "RR", "QTCF", "RR"]


def test_pairing_uses_the_ecg_time_point_and_says_when_no_rr_pairs():
    """Two ECGs on one date-only EGDTC (lying, standing) pair each QT with the RR of its own EGTPT, never a mean."""
    frame = eg([("P1", "QT", 400, "ms", "2024-01-01"), ("P1", "RR", 1000, "ms", "2024-01-01"),
                ("P1", "QT", 400, "ms", "2024-01-01"), ("P1", "RR", 512, "ms", "2024-01-01"),
                ("P1", "QT", 430, "ms", "2024-01-02")],
               EGTPT=["LYING", "LYING", "STANDING", "STANDING", "LYING"])
    out = grade_ecg(frame, derive_qtcf="auto")
    # 400 / 1^(1/3) = 400 ms: G0 (below "450 - 480 ms"); 400 / 0.512^(1/3) = 400 / 0.8 = 500 ms: G2 "481 - 500 ms"
    assert out["value_si"].iloc[0] == pytest.approx(400) and out["value_si"].iloc[2] == pytest.approx(500)
    assert out["grade"].tolist()[:3:2] == [0, 2]
    assert pd.isna(out["grade"].iloc[4])
    assert out["reason"].iloc[4] == "no QT and RR in ms of the same ECG (USUBJID, EGDTC, EGTPT): QTcF not derived"
    assert out["rule"].iloc[0] == f"{QTCF_RULE} with QT 400 ms, RR 1000 ms"  # grade 0: the derivation still shown


def test_auto_without_sdtm_columns_grades_as_given_and_config_can_turn_it_off():
    adeg = pd.DataFrame({"USUBJID": ["P1"], "PARAMCD": ["QTCF"], "AVAL": [470.0], "AVALU": ["ms"],
                         "ADT": ["2024-01-01"]})
    assert grade_ecg(adeg, derive_qtcf="auto")["grade"].tolist() == [1]  # "QTc 450 - 480 ms"
    with pytest.raises(ValueError, match="derive_qtcf works on SDTM EG"):
        grade_ecg(adeg, derive_qtcf=True)
    assert load_config().grading.options("ecg")["derive_qtcf"] == "auto"
    raw = tomllib.loads(DEMO_CONFIG.read_text())
    raw.pop("data", None)
    raw.setdefault("grading", {})["derive_qtcf"] = "never"
    assert config_from_dict(raw).grading.options("ecg")["derive_qtcf"] is False
    raw["grading"]["derive_qtcf"] = "sometimes"
    with pytest.raises(ConfigError, match="derive_qtcf"):
        config_from_dict(raw)
