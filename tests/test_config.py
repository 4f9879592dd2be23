"""Study configuration: the demo file loads, a bad file fails with a message naming the key."""

import copy
import datetime as dt

import pytest
import tomllib

from ctcae_engine.read.config import DEMO_CONFIG, ConfigError, config_from_dict, load_config


@pytest.fixture()
def raw() -> dict:
    return tomllib.loads(DEMO_CONFIG.read_text())


def test_demo_config_matches_protocol():
    cfg = load_config()
    assert cfg.study.protocol_id == "NCT04627740"
    assert cfg.study.data_cutoff == dt.date(2025, 6, 30)
    assert cfg.treatment.infusion_extrt == ("ANTI-ALPP CAR-T CELLS",)
    assert cfg.treatment.lymphodepletion_extrt == ("CYCLOPHOSPHAMIDE", "FLUDARABINE")
    assert cfg.treatment_emergent.window_days == 365
    assert cfg.relationship.missing_is_related
    crit = {c.testcd: c for c in cfg.eligibility.criteria}
    # protocol eligibility: WBC > 3.5e9/L, Hb > 90 g/L, PLT > 75e9/L, ALT/AST <= 5 x ULN, bili <= 1.5 x ULN, alb >= 35
    assert (crit["WBC"].operator, crit["WBC"].limit) == (">", 3.5)
    assert (crit["HGB"].operator, crit["HGB"].limit, crit["HGB"].unit) == (">", 90.0, "g/L")
    assert (crit["PLAT"].operator, crit["PLAT"].limit) == (">", 75.0)
    assert crit["ALT"].relative_to_uln and crit["AST"].limit == 5.0 and crit["BILI"].limit == 1.5
    assert (crit["ALB"].operator, crit["ALB"].limit) == (">=", 35.0)
    # tumour assessments at weeks 4, 8, 12, 24, 36, 48 after infusion, +/- 7 days; FDA 2018: > 1 missed -> censored
    assert cfg.pfs.assessment_days == (28, 56, 84, 168, 252, 336)
    assert (cfg.pfs.assessment_tolerance_days, cfg.pfs.max_missed_assessments) == (7, 1)


def test_defaults_fill_optional_sections():
    cfg = config_from_dict({"study": {"study_id": "X"}, "treatment": {"infusion_extrt": "CAR-T"}})
    assert cfg.treatment.infusion_extrt == ("CAR-T",)
    assert cfg.treatment_emergent.start == "infusion" and cfg.response.window_days == 63


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("study",), None, r"missing required section \[study\]"),
        (("study", "study_id"), None, "missing required key 'study_id'"),
        (("study", "data_cutoff"), "30/06/2025", "data_cutoff: expected an ISO 8601 date"),
        (("treatment_emergent", "window_days"), "365", "window_days: expected int"),
        (("treatment_emergent", "window_days"), -1, "must be >= 0"),
        (("treatment_emergent", "start"), "screening", "'screening' is not one of"),
        (("relationship", "attribution"), "product", "attribution: 'product' is not one of"),
        (("relationship", "not_related"), ["RELATED"], "both related and not related"),
        (("persistence", "lloq"), True, "expected a number"),
        (("pfs", "assessment_days"), [28, "week 8"], "pfs.assessment_days: expected a list of whole days"),
        (("pfs", "assessment_days"), [0, 28], "pfs.assessment_days: expected a list of whole days"),
        (("pfs", "max_missed_assessments"), -1, "must be >= 0"),
        (("pfs", "require_baseline_assessment"), "yes", "expected bool"),
    ],
)
def test_bad_config_is_a_clear_error(raw, path, value, message):
    bad = copy.deepcopy(raw)
    table = bad
    for key in path[:-1]:
        table = table[key]
    if value is None:
        del table[path[-1]]
    else:
        table[path[-1]] = value
    with pytest.raises(ConfigError, match=message):
        config_from_dict(bad)


def test_bad_criterion_operator(raw):
    bad = copy.deepcopy(raw)
    bad["eligibility"]["criteria"][0]["operator"] = "=>"
    with pytest.raises(ConfigError, match=r"eligibility.criteria\[0\].operator"):
        config_from_dict(bad)


def test_bad_file_names_the_file(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text("[study\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: r.update(treatment_emergnt={}), "unknown key 'treatment_emergnt'; did you mean 'treatment_emergent'?"),
    (lambda r: r["pfs"].update(rate_day=183), "[pfs]: unknown key 'rate_day'; did you mean 'rate_days'?"),
    (lambda r: r["eligibility"]["criteria"][0].update(opertor=">"),
     "eligibility.criteria[0]: unknown key 'opertor'; did you mean 'operator'?"),
    (lambda r: r.update(grading={"test_map": {"ALTX": {"hi": "Alanine aminotransferase increased"}}}),
     "grading.test_map.ALTX: unknown key 'hi'; did you mean 'high'?"),
    (lambda r: r.update(grading={"test_map": {"ALTX": {"high": "ALT increased"}}}),
     "grading.test_map.ALTX.high: 'ALT increased' is not a CTCAE v4.03 criterion"),
    (lambda r: r.update(report={"listing_max_rows": 0}), "report.listing_max_rows: must be >= 1"),
    (lambda r: r.update(run={"max_ungradable_pct": 120}), "run.max_ungradable_pct: expected a percentage 0-100"),
    (lambda r: r["study"].update(ctcae_version="5.0"), "study.ctcae_version: this engine grades by CTCAE v4.03"),
    (lambda r: r["study"].update(study_id=" "), "study.study_id: must not be empty"),
    (lambda r: r["treatment_emergent"].update(window_days=-1), "treatment_emergent.window_days: must be >= 0"),
    (lambda r: r["persistence"].update(lloq=float("nan")), "persistence.lloq: expected a number, got nan"),
    (lambda r: r.update(grading={"test_map": {"ALTX": {"high": ""}}}), "grading.test_map.ALTX.high: empty criterion"),
    (lambda r: r["data"].update(expected_domains=[1]), "data.expected_domains: expected a list of strings"),
], ids=["section typo", "key typo", "criterion key typo", "test-map direction typo", "unknown criterion",
        "listing rows", "threshold", "CTCAE v5", "empty study id", "negative window", "NaN", "blank criterion",
        "expected domains not text"])
def test_mistakes_are_refused_with_the_key_named(raw, edit, message):
    edit(raw)
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    assert message in str(err.value)


def test_test_map_entries_go_to_the_table_their_criterion_belongs_to(raw):
    raw["grading"] = {"test_map": {"alt_u": {"high": "Alanine aminotransferase increased"},
                                   "temp_ear": {"high": "Fever"}}}
    cfg = config_from_dict(raw)
    assert cfg.grading.lab_test_map == {"ALT_U": (None, "Alanine aminotransferase increased")}
    assert cfg.grading.clinical_test_map == {"TEMP_EAR": (None, "Fever")}


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "sdtm").mkdir()
    text = DEMO_CONFIG.read_text().replace('folder = "data"', 'folder = "sdtm"')
    text = text.replace("max_ungradable_pct = 5.0", 'max_ungradable_pct = 5.0\noutput_dir = "../weekly"')
    (tmp_path / "study.toml").write_text(text)
    cfg = load_config(tmp_path / "study.toml")
    assert cfg.data_folder == tmp_path / "sdtm" and cfg.source == tmp_path / "study.toml"
    assert cfg.run.output_dir == tmp_path / "../weekly"


def test_a_byte_order_mark_is_not_an_error_and_a_folder_is_named(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "study.toml").write_bytes("\ufeff".encode() + DEMO_CONFIG.read_bytes())
    assert load_config(tmp_path / "study.toml").study.study_id == "ALPP-CART-DEMO"
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path)
    (tmp_path / "latin1.toml").write_bytes('[study]\nstudy_id = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="latin1.toml: not UTF-8 text"):
        load_config(tmp_path / "latin1.toml")
