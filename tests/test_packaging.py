"""A wheel built from the repo carries every data file the packages need (catalogs, criteria, templates, demo data)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ctcae_engine", "ctcae_terms", "report_templates")
pytestmark = pytest.mark.slow  # builds a wheel in a subprocess


def test_wheel_contains_all_package_data(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
         str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("ctcae_engine-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", *PACKAGES], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    needed = {name for name in tracked if not name.endswith((".pyc",))}
    missing = sorted(needed - shipped)
    assert not missing, f"files in the repo but not in the wheel: {missing}"
