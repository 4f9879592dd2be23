"""Shared test data: ../shared beside the repository (CTCAE catalogs, admiral conformance data, CDISC pilot SDTM).
Tests that need it skip when it is absent (a clone without ../shared)."""

from pathlib import Path

import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
PEER_ADLB = SHARED / "peer" / "admiral_adlb_ctcv4.csv"
PHARMAVERSE = SHARED / "pharmaverse"


@pytest.fixture(scope="session")
def peer_adlb() -> pd.DataFrame:
    """admiral's graded pharmaverseadam ADLB (45,077 rows) as text, numeric columns converted; a fresh copy per
    test module is not needed: the engine never changes its input."""
    if not PEER_ADLB.is_file():
        pytest.skip("../shared/peer not present")
    peer = pd.read_csv(PEER_ADLB, dtype=str, keep_default_na=False).replace("", pd.NA)
    for column in ("AVAL", "ANRLO", "ANRHI", "BASE", "PCHG"):
        peer[column] = pd.to_numeric(peer[column])
    return peer
