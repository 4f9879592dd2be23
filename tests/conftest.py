"""Shared test data: ../shared beside the repository (CTCAE catalogs, admiral conformance data, CDISC pilot SDTM).

Every test that needs it goes through :func:`require_shared` (directly, or with the ``needs_shared(path, ...)``
marker): when the data is absent the test skips, except under ``CI=true``, where it fails, so a CI machine without
../shared cannot pass by skipping the conformance and real-data tests. ``CTCAE_TEST_SHARED`` points the tests at
another copy of the folder."""

import os
from pathlib import Path

import pandas as pd
import pytest

SHARED = Path(os.environ.get("CTCAE_TEST_SHARED") or Path(__file__).resolve().parents[2] / "shared")
PEER_ADLB = SHARED / "peer" / "admiral_adlb_ctcv4.csv"
PHARMAVERSE = SHARED / "pharmaverse"


def on_ci() -> bool:
    """Whether the tests run under CI (``CI=true``, as CI services set it; 1 and yes count too)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_shared(*paths: Path) -> None:
    """Skip the calling test when one of ``paths`` (files or folders in ../shared) is missing; under CI, fail."""
    missing = [str(path) for path in paths if not Path(path).exists()]
    if not missing:
        return
    message = f"shared test data not present: {', '.join(missing)}"
    if on_ci():
        pytest.fail(f"{message} (CI=true: ../shared is required, not skipped)", pytrace=False)
    pytest.skip(message)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_shared(*paths): the test needs these files or folders of ../shared")


@pytest.fixture(autouse=True)
def _shared_data_present(request: pytest.FixtureRequest) -> None:
    """Apply require_shared to the paths of every ``needs_shared`` marker on the test (or its module)."""
    for marker in request.node.iter_markers("needs_shared"):
        require_shared(*marker.args)


@pytest.fixture(scope="session")
def peer_adlb() -> pd.DataFrame:
    """admiral's graded pharmaverseadam ADLB (45,077 rows) as text, numeric columns converted; a fresh copy per
    test module is not needed: the engine never changes its input."""
    require_shared(PEER_ADLB)
    peer = pd.read_csv(PEER_ADLB, dtype=str, keep_default_na=False).replace("", pd.NA)
    for column in ("AVAL", "ANRLO", "ANRHI", "BASE", "PCHG"):
        peer[column] = pd.to_numeric(peer[column])
    return peer
