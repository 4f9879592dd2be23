"""Study configuration: the demo file loads, a bad file fails with a message naming the key."""

import copy
import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import tomllib

from ctcae_engine.read.config import DEMO_CONFIG, ConfigError, config_from_dict, config_schema, load_config


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


# ---- the JSON Schema of study.toml (`ctcae-engine config-schema`)

PILOT_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "cdisc_pilot" / "study.toml"


def _schema_problems(value: dict, node: dict, schema: dict, where: str = "") -> list[str]:
    """Keys of the parsed TOML ``value`` the schema ``node`` does not declare (with a description) or requires and
    misses, walking tables, arrays of tables and maps such as grading.test_map (the jsonschema package is not a
    dependency: key sets, not value types)."""
    while "$ref" in node or "allOf" in node:  # {"$ref"}, or {"allOf": [{"$ref"}]} (older pydantic)
        node = node["allOf"][0] if "allOf" in node else schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) if "items" in node
                for p in _schema_problems(item, node["items"], schema, f"{where}[{i}]")]
    if not isinstance(value, dict):
        return []

    def at(key: str) -> str:
        return f"{where}.{key}" if where else key

    if "properties" not in node:  # a map: any key, each value of the same kind
        return [p for key, item in value.items() for p in _schema_problems(item, node["additionalProperties"],
                                                                           schema, at(key))]
    props = node["properties"]
    problems = [f"{at(key)}: missing required key" for key in node.get("required", []) if key not in value]
    for key, item in value.items():
        if key not in props:
            problems.append(f"{at(key)}: not in the schema")
        elif not props[key].get("description"):
            problems.append(f"{at(key)}: no description")
        else:
            problems += _schema_problems(item, props[key], schema, at(key))
    return problems


def test_every_key_of_the_demo_file_is_in_the_schema_with_a_description(raw):
    schema = config_schema()
    assert schema["title"] == "study.toml" and schema["description"]
    assert _schema_problems(raw, schema, schema) == []
    for name, table in schema["$defs"].items():  # keys the demo leaves out are described too
        assert table.get("description"), name
        assert all(prop.get("description") for prop in table["properties"].values()), name
    # the demo names every section but the test map: a mapped test code is walked as well
    raw["grading"]["test_map"] = {"ALTX": {"high": "Alanine aminotransferase increased"}}
    assert _schema_problems(raw, schema, schema) == []


@pytest.mark.parametrize("path", [DEMO_CONFIG, PILOT_CONFIG], ids=["demo", "cdisc pilot"])
def test_the_schema_accepts_the_shipped_study_files(path):
    raw = tomllib.loads(path.read_text())
    schema = config_schema()
    assert _schema_problems(raw, schema, schema) == []
    config_from_dict(raw)  # and so does the loader


def test_the_schema_refuses_what_the_loader_refuses(raw):
    schema = config_schema()
    raw["pfs"]["rate_day"] = 183
    del raw["study"]["study_id"]
    raw["eligibility"]["criteria"][1]["opertor"] = ">"
    raw["grading"]["test_map"] = {"ALTX": {"hi": "Alanine aminotransferase increased"}}
    raw["reprot"] = {}
    assert _schema_problems(raw, schema, schema) == [
        "study.study_id: missing required key", "eligibility.criteria[1].opertor: not in the schema",
        "pfs.rate_day: not in the schema", "grading.test_map.ALTX.hi: not in the schema", "reprot: not in the schema"]


def test_an_unknown_key_in_a_file_names_the_file_the_key_and_the_closest_key(tmp_path):
    (tmp_path / "data").mkdir()
    path = tmp_path / "study.toml"
    path.write_text(DEMO_CONFIG.read_text().replace("rate_days = 183", "rate_day = 183"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: [pfs]: unknown key 'rate_day'; did you mean 'rate_days'?"
    path.write_text(DEMO_CONFIG.read_text().replace("[report]", "[reprot]"))
    with pytest.raises(ConfigError, match=r"study.toml: top level \(section names\): unknown key 'reprot'; "
                                          r"did you mean 'report'\?"):
        load_config(path)


def test_config_schema_command_writes_valid_json(tmp_path):
    from typer.testing import CliRunner

    from ctcae_engine.run.cli import app

    out = tmp_path / "study.schema.json"
    result = CliRunner().invoke(app, ["config-schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == config_schema()
    printed = CliRunner().invoke(app, ["config-schema"])
    assert printed.exit_code == 0 and json.loads(printed.stdout) == config_schema()


def test_tables_stay_frozen_dataclasses():
    cfg = load_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.pfs.rate_days = 1  # type: ignore[misc]
    later = dataclasses.replace(cfg, study=dataclasses.replace(cfg.study, data_cutoff=dt.date(2026, 1, 1)))
    assert later.study.data_cutoff == dt.date(2026, 1, 1) and later.source == cfg.source
    assert dataclasses.asdict(later)["grading"] == {"lab_test_map": {}, "clinical_test_map": {},
                                                   "assume_at_rest": False, "derive_qtcf": "auto",
                                                   "fever_max_gap_h": 12.0, "febrile_neutropenia_pair_h": 24.0}
