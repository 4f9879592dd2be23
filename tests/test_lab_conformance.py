"""Conformance with admiral 1.4.1 (CTCAE v4, SI units) on the CDISC pilot ADLB: 45,077 graded rows.

The deliberate difference: hemoglobin is reported in mmol/L there; admiral leaves Anemia / Hemoglobin
increased ungraded (its criteria are in g/L), this engine converts (x 16.114 g/L per mmol/L) and grades.
Run with ``pytest -s`` to see the agreement table.
"""


import numpy as np
import pandas as pd
import pytest

from ctcae_engine.grade.findings import grade_labs

pytestmark = pytest.mark.slow  # admiral conformance over 45,077 rows


@pytest.fixture(scope="module")
def peer(peer_adlb) -> pd.DataFrame:
    return peer_adlb


@pytest.fixture(scope="module")
def graded(peer) -> pd.DataFrame:
    return grade_labs(peer)


def _signed(out: pd.DataFrame) -> pd.Series:
    """The engine's combined grade in admiral's ATOXGR coding (low-direction grades negative)."""
    low_wins = out["grade_low"].fillna(0).gt(0) & out["grade_low"].fillna(0).ge(out["grade_high"].fillna(0))
    signed = out["grade"].astype("Float64").where(~low_wins, -out["grade_low"].astype("Float64"))
    return signed.astype("Int64").astype("string")


def agreement_table(out: pd.DataFrame, label: str = "HGB mmol/L converted",
                    documented: pd.Series | None = None) -> pd.DataFrame:
    """Per admiral grade column: rows admiral grades, equal, different, and graded here only: the documented
    difference (``documented`` rows, by default hemoglobin) and any other."""
    documented = out["PARAMCD"].eq("HGB") if documented is None else documented
    rows = []
    for theirs, ours in (("ATOXGRL", "grade_low"), ("ATOXGRH", "grade_high"), ("ATOXGR", None)):
        mine = _signed(out) if ours is None else out[ours].astype("string")
        graded_by_admiral = out[theirs].notna()
        equal = graded_by_admiral & (mine == out[theirs]).fillna(False)
        extra = ~graded_by_admiral & mine.notna()
        rows.append({
            "admiral column": theirs,
            "rows compared": int(graded_by_admiral.sum()),
            "equal": int(equal.sum()),
            "different": int((graded_by_admiral & ~equal).sum()),
            f"graded here only ({label})": int((extra & documented).sum()),
            "graded here only (other)": int((extra & ~documented).sum()),
        })
    return pd.DataFrame(rows)


def test_equal_to_admiral_on_every_row_admiral_grades(graded):
    table = agreement_table(graded)
    print("\n" + table.to_string(index=False))
    assert len(graded) == 45077
    assert (table["rows compared"] > 20000).all()
    assert (table["different"] == 0).all(), table
    assert (table["graded here only (other)"] == 0).all(), table


def test_hemoglobin_in_mmol_per_l_is_converted_and_graded(graded):
    hgb = graded[graded["PARAMCD"].eq("HGB")]
    assert hgb["ATOXGRL"].isna().all() and hgb["ATOXGRH"].isna().all()  # admiral: unit differs from g/L
    assert (hgb["unit_si"] == "g/L").all()
    np.testing.assert_allclose(hgb["value_si"], hgb["AVAL"] * 16.114)
    assert hgb["grade_low"].notna().mean() > 0.99
    # Anemia G1 '<LLN - 100 g/L': a value below LLN but >= 100 g/L is grade 1
    row = hgb[(hgb["value_si"] < hgb["lln_si"]) & (hgb["value_si"] >= 100)].iloc[0]
    assert row["grade_low"] == 1 and row["rule"].startswith("Anemia G1")


def test_every_ungraded_row_says_why(graded):
    missing = graded["grade"].isna()
    assert (graded.loc[missing, "reason"] != "").all()
    assert (graded.loc[~missing & graded["grade_low"].notna() & graded["grade_high"].notna(), "reason"] == "").all()
    reasons = graded.loc[missing, "reason"].value_counts()
    assert set(reasons.index) <= {"missing result", "no LLN to grade CD4 lymphocytes decreased"}


def test_output_keeps_input_rows_index_and_columns(peer, graded):
    assert graded.index.equals(peer.index) and graded["ROWID"].tolist() == peer["ROWID"].tolist()
    assert list(graded.columns[: len(peer.columns)]) == list(peer.columns)
    assert "grade" not in peer.columns  # the caller's frame is not modified
    assert {"AVAL", "ATOXGR", "grade", "rule", "thresholds", "reason"} <= set(graded.columns)
    assert str(graded["grade"].dtype) == "Int64"
