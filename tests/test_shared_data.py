"""../shared missing: the tests that need it skip on a developer's clone but fail under CI=true
(conftest.require_shared), so CI cannot go green by skipping the conformance and real-data tests."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PEER_ADLB, PHARMAVERSE, SHARED, require_shared

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("ci", ["", "false", "0"], ids=["CI unset", "CI=false", "CI=0"])
def test_missing_shared_data_skips_outside_ci(monkeypatch, tmp_path, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="shared test data not present: .*absent"):
        require_shared(tmp_path / "absent")


@pytest.mark.parametrize("ci", ["true", "TRUE", "1", "yes"])
def test_missing_shared_data_fails_under_ci(monkeypatch, tmp_path, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=r"absent.*CI=true: \.\./shared is required"):
        require_shared(tmp_path / "present", tmp_path / "absent")


def test_present_shared_data_passes_under_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    (tmp_path / "peer.csv").write_text("x\n")
    require_shared(tmp_path, tmp_path / "peer.csv")  # neither skips nor fails


def test_the_paths_the_suite_needs_are_under_shared():
    assert PEER_ADLB.is_relative_to(SHARED) and PHARMAVERSE.is_relative_to(SHARED)


def _pytest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_real_data_tests_skip_or_fail_when_shared_is_pointed_at_a_missing_folder(tmp_path):
    """End to end, through the marker (test_io), a module fixture (test_lab_pharmaverse) and the peer_adlb
    fixture (test_lab_conformance): CTCAE_TEST_SHARED points conftest at a folder that does not exist."""
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"CTCAE_TEST_SHARED": str(tmp_path / "no-shared")}
    selected = ["tests/test_io.py::test_read_pilot_study_keeps_text_and_merges_suppae",
                "tests/test_lab_pharmaverse.py", "tests/test_lab_conformance.py"]
    skipped = _pytest(env, *selected)
    summary = skipped.stdout.strip().splitlines()[-1]  # e.g. "9 skipped in 1.2s"
    assert skipped.returncode == 0 and "skipped" in summary and "passed" not in summary, skipped.stdout
    failed = _pytest(env | {"CI": "true"}, *selected)
    summary = failed.stdout.strip().splitlines()[-1]  # e.g. "9 errors in 1.2s": every test, none skipped
    assert failed.returncode == 1 and "error" in summary, failed.stdout
    assert "skipped" not in summary and "passed" not in summary, failed.stdout
    assert "CI=true: ../shared is required" in failed.stdout
