"""DQ11: ADaM ADLB input is re-graded; where the sponsor's ATOXGRL / ATOXGRH differ from the engine's, the record
is listed. On admiral's own pharmaverseadam ADLB (graded by admiral 1.4.1) the engine agrees on every row admiral
grades (docs/grading.md conformance), so nothing is listed until a sponsor grade is changed."""

from __future__ import annotations

import pytest
from conftest import PEER_ADLB

from ctcae_engine.analyse.data_quality import sponsor_lab_grades
from ctcae_engine.api import grade_labs

pytestmark = [pytest.mark.needs_shared(PEER_ADLB), pytest.mark.slow]


def test_admiral_grades_agree_and_a_changed_sponsor_grade_is_listed(peer_adlb):
    adlb = peer_adlb.rename(columns=str.upper)
    assert {"ATOXGRL", "ATOXGRH"} <= set(adlb.columns)
    assert sponsor_lab_grades(grade_labs(adlb)).empty
    changed = adlb.copy()
    row = changed.index[changed["ATOXGRH"].astype("string").eq("1")][0]
    changed.loc[row, "ATOXGRH"] = "3"
    listed = sponsor_lab_grades(grade_labs(changed))
    assert listed[["Direction", "Sponsor grade", "Engine grade"]].values.tolist() == [["high", 3, 1]]
