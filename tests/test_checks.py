"""Input checks before a run: every problem named with its file or domain, errors kept apart from warnings."""

import shutil

import pandas as pd

from ctcae_engine.checks import check_folder, errors
from ctcae_engine.config import load_config
from ctcae_engine.demo import DATA_DIR


def _copy(tmp_path):
    shutil.copytree(DATA_DIR, tmp_path / "data")
    return tmp_path / "data"


def test_the_demo_trial_passes_without_problems(tmp_path):
    files, problems = check_folder(_copy(tmp_path), load_config())
    assert problems == []
    assert {f.name: f.rows for f in files}["ae.csv"] == len(pd.read_csv(DATA_DIR / "ae.csv"))


def test_unreadable_sas7bdat_and_a_second_file_for_one_domain_are_errors(tmp_path):
    data = _copy(tmp_path)
    (data / "xc.sas7bdat").write_bytes(b"not a SAS dataset")
    pd.read_csv(data / "lb.csv", dtype=str).to_parquet(data / "lb.parquet")
    _, problems = check_folder(data)
    text = [str(p) for p in errors(problems)]
    assert any(t.startswith("error: xc.sas7bdat: cannot be read") for t in text)
    assert "error: lb.parquet: a second file for domain LB; keep one" in text


def test_adsl_without_ex_is_a_warning_when_it_holds_the_treatment_start(tmp_path):
    data = tmp_path / "adam"
    data.mkdir()
    pd.DataFrame({"USUBJID": ["A"], "TRTSDT": ["2024-01-01"], "SAFFL": ["Y"]}).to_csv(data / "adsl.csv", index=False)
    _, problems = check_folder(data)
    assert [str(p) for p in problems] == ["warning: EX: no EX domain: the infusion date is taken from DM/ADSL TRTSDT"]
    pd.DataFrame({"USUBJID": ["A"]}).to_csv(data / "adsl.csv", index=False)
    _, problems = check_folder(data)
    assert errors(problems) and "no infusion date" in str(errors(problems)[0])


def test_config_naming_a_treatment_absent_from_ex_is_an_error(tmp_path):
    data = _copy(tmp_path)
    ex = pd.read_csv(data / "ex.csv", dtype=str)
    ex["EXTRT"] = ex["EXTRT"].replace("ANTI-ALPP CAR-T CELLS", "CAR-T")
    ex.to_csv(data / "ex.csv", index=False)
    _, problems = check_folder(data, load_config())
    assert "treatment.infusion_extrt: no EX record has EXTRT ANTI-ALPP CAR-T CELLS" in str(errors(problems)[0])


def test_an_empty_optional_domain_is_a_warning(tmp_path):
    data = _copy(tmp_path)
    header = (data / "xc.csv").read_text().splitlines()[0]
    (data / "xc.csv").write_text(header + "\n")
    _, problems = check_folder(data, load_config())
    assert [str(p) for p in problems] == ["warning: XC: the domain has no rows"]
