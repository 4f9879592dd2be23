"""read/fields.py is the one room for AE, DM, EX, RS and PC column names: the analysis modules ask for fields."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

import ctcae_engine
from ctcae_engine.read.fields import AE, DM, EX, FIELDS

ROOT = Path(ctcae_engine.__file__).parent
MAPPED = {name for domain in FIELDS.values() for names in domain.values() for name in names if name.isupper()}


def _string_literals(path: Path) -> set[str]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}


@pytest.mark.parametrize("path", sorted((ROOT / "analyse").glob("*.py")) + [ROOT / "grade" / "ae.py"],
                         ids=lambda p: p.name)
def test_analysis_modules_name_no_mapped_column(path):
    assert sorted(_string_literals(path) & MAPPED) == []


def test_sdtm_name_first_then_the_adam_one():
    sdtm_and_adam = pd.DataFrame({"AETOXGR": ["2"], "ATOXGR": ["3"], "AREL": ["RELATED"]})
    assert AE.column(sdtm_and_adam, "reported_grade") == "AETOXGR"
    assert AE.column(sdtm_and_adam.drop(columns="AETOXGR"), "reported_grade") == "ATOXGR"
    assert AE.text(sdtm_and_adam, "related").tolist() == ["RELATED"]  # ADaM AREL when there is no AEREL
    assert AE.text(sdtm_and_adam, "serious").isna().all()  # absent: all missing, same index


def test_present_lists_every_source_in_order():
    ex = pd.DataFrame({"AENDT": [1], "EXSTDTC": ["2025-01-01"]})
    assert EX.present(ex, "dose_dates") == ["EXSTDTC", "AENDT"]


def test_an_undeclared_field_fails_loudly():
    with pytest.raises(KeyError, match="AE has no field 'seriuos'"):
        AE.text(pd.DataFrame(), "seriuos")


def test_subjects_are_stripped_and_a_missing_column_is_named():
    assert DM.subjects(pd.DataFrame({"USUBJID": [" P01", "P01 "]})).tolist() == ["P01", "P01"]
    with pytest.raises(ValueError, match="DM has no USUBJID column"):
        DM.subjects(pd.DataFrame({"SUBJID": ["1"]}))


def test_a_numeric_adam_adt_is_read_as_sas_days():
    """An ADLB from XPT without a date format carries ADT as days since 1960-01-01 (SAS): 23742 = 2025-01-01."""
    from ctcae_engine.read.canonical import observations

    adlb = pd.DataFrame({"USUBJID": ["P1"], "PARAMCD": ["ALT"], "AVAL": [30.0], "ADT": [23742.0]})
    assert observations(adlb)["adt"].tolist() == [pd.Timestamp("2025-01-01")]


def test_a_number_beyond_float_range_is_implausible_like_inf_not_non_numeric():
    """issue 16: '1e400' was 'non-numeric' while 'inf' was 'implausible'; both are numbers no lab can have."""
    from ctcae_engine.api import grade_labs

    lb = pd.DataFrame({"USUBJID": ["P1"] * 3, "LBTESTCD": ["K"] * 3, "LBSTRESC": ["1e400", "inf", "high"],
                       "LBSTRESU": ["mmol/L"] * 3, "LBSTNRLO": [3.5] * 3, "LBSTNRHI": [5.1] * 3})
    reasons = grade_labs(lb)["reason"].tolist()
    assert reasons[0].startswith("implausible result") and reasons[1].startswith("implausible result")
    assert reasons[2] == "non-numeric result 'high'"


def test_a_huge_result_text_is_quoted_short_in_its_reason():
    """issue 16: reasons copied a 100,000-character result whole into graded/*.csv and ungraded_rows.csv."""
    from ctcae_engine.api import grade_labs

    lb = pd.DataFrame({"USUBJID": ["P1"], "LBTESTCD": ["K"], "LBSTRESC": ["x" * 100_000], "LBSTRESU": ["mmol/L"]})
    reason = grade_labs(lb)["reason"].iloc[0]
    assert len(reason) < 120 and reason.endswith("(100000 characters)'")
