"""Study configuration: a TOML file loaded into typed, validated dataclasses.

Every clinical choice the endpoints make (treatment-emergent window, relationship mapping, eligibility thresholds,
response window, persistence detection limit) is read from here, never hard-coded. A bad file fails at load time with
a message naming the key and what was expected. The demo trial's file is ``ctcae_engine/demo/study.toml``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "demo" / "study.toml"
OPERATORS = (">", ">=", "<", "<=")
ATTRIBUTIONS = ("cart", "lymphodepletion", "either")
TE_STARTS = ("infusion", "lymphodepletion")


class ConfigError(ValueError):
    """The study configuration is missing a key or holds a value of the wrong kind."""


@dataclass(frozen=True)
class StudyInfo:
    study_id: str
    protocol_id: str
    title: str
    data_cutoff: _dt.date | None = None
    ctcae_version: str = "4.03"


@dataclass(frozen=True)
class Treatment:
    infusion_extrt: tuple[str, ...]
    lymphodepletion_extrt: tuple[str, ...] = ()


@dataclass(frozen=True)
class TreatmentEmergent:
    start: str = "infusion"  # "infusion" or "lymphodepletion"
    window_days: int = 365


@dataclass(frozen=True)
class Relationship:
    related: tuple[str, ...] = ("RELATED", "POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED")
    not_related: tuple[str, ...] = ("NOT RELATED", "UNLIKELY RELATED")
    missing_is_related: bool = True
    attribution: str = "either"  # which attribution makes `related`: "cart", "lymphodepletion" or "either"


@dataclass(frozen=True)
class EligibilityCriterion:
    """One screening-lab threshold: ``value <operator> limit`` (times ULN when ``relative_to_uln``)."""

    criterion: str
    testcd: str
    operator: str
    limit: float
    unit: str = ""
    relative_to_uln: bool = False
    unit_factors: dict[str, float] = field(default_factory=dict)  # accepted unit (upper case) -> factor to `unit`


@dataclass(frozen=True)
class Eligibility:
    criteria: tuple[EligibilityCriterion, ...] = ()
    screening_visit: str = "SCREEN"  # case-insensitive substring of VISIT that marks screening records


@dataclass(frozen=True)
class Response:
    window_days: int = 63  # week 8 (day 56) plus a 7-day visit window
    confirmation_required: bool = False
    confirmation_min_days: int = 28
    sd_min_days: int = 42
    evaluator: str = "INVESTIGATOR"


@dataclass(frozen=True)
class Pfs:
    rate_days: int = 183  # 6 months
    evaluator: str = "INVESTIGATOR"
    # scheduled tumour assessments, days from infusion (weeks 4, 8, 12, 24, 36, 48) and their +/- visit window
    assessment_days: tuple[int, ...] = (28, 56, 84, 168, 252, 336)
    assessment_tolerance_days: int = 7
    max_missed_assessments: int = 1  # progression/death after more missed scheduled assessments is censored (FDA 2018)
    require_baseline_assessment: bool = False  # no RS record on/before day 0 -> censored at day 0


@dataclass(frozen=True)
class Persistence:
    testcd: str = "CARTDNA"
    unit: str = "copies/ug gDNA"
    lloq: float = 0.0
    target_day: int = 182  # month 6
    window_days: int = 28
    timepoints_days: tuple[int, ...] = (7, 14, 28, 56, 91, 182, 273, 365)


@dataclass(frozen=True)
class Grading:
    """Study-specific test-code mapping: TESTCD -> (criterion key for low values, for high values), split by the
    criteria table the key belongs to (lab or clinical); these rows take precedence over the packaged test maps."""

    lab_test_map: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    clinical_test_map: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    assume_at_rest: bool = False  # every SpO2 reading is declared taken at rest (Hypoxia)

    def options(self, kind: str) -> dict[str, Any]:
        """Keyword arguments of the grading function of ``kind`` ("lab", "vitals", "ecg") for this study."""
        mapping = self.lab_test_map if kind == "lab" else self.clinical_test_map
        return {"mapping": mapping or None, **({"assume_at_rest": self.assume_at_rest} if kind == "vitals" else {})}


@dataclass(frozen=True)
class ReportOptions:
    pdf: bool = True
    listing_max_rows: int = 200  # longer listings show their first rows in the report; the full listing is a CSV


@dataclass(frozen=True)
class RunOptions:
    output_dir: Path | None = None  # run folders go here (default: "runs" beside the TOML file)
    # exit 4 when more than this share of the observations of tests with a CTCAE criterion cannot be graded
    max_ungradable_pct: float = 5.0


@dataclass(frozen=True)
class StudyConfig:
    study: StudyInfo
    treatment: Treatment
    treatment_emergent: TreatmentEmergent = field(default_factory=TreatmentEmergent)
    relationship: Relationship = field(default_factory=Relationship)
    eligibility: Eligibility = field(default_factory=Eligibility)
    response: Response = field(default_factory=Response)
    pfs: Pfs = field(default_factory=Pfs)
    persistence: Persistence = field(default_factory=Persistence)
    grading: Grading = field(default_factory=Grading)
    report: ReportOptions = field(default_factory=ReportOptions)
    run: RunOptions = field(default_factory=RunOptions)
    data_folder: Path | None = None  # [data] folder, resolved against the TOML file's folder
    expected_domains: tuple[str, ...] = ("ae", "lb")  # [data] domains whose absence or emptiness stops a run
    source: Path | None = None  # the TOML file this came from


# every key the TOML may hold, per section: anything else is a typo and is refused with the closest known name
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "study": ("study_id", "protocol_id", "title", "data_cutoff", "ctcae_version"),
    "data": ("folder", "expected_domains"),
    "treatment": ("infusion_extrt", "lymphodepletion_extrt"),
    "treatment_emergent": ("start", "window_days"),
    "relationship": ("related", "not_related", "missing_is_related", "attribution"),
    "eligibility": ("criteria", "screening_visit"),
    "eligibility.criteria": ("criterion", "testcd", "operator", "limit", "unit", "relative_to_uln", "unit_factors"),
    "response": ("window_days", "confirmation_required", "confirmation_min_days", "sd_min_days", "evaluator"),
    "pfs": ("rate_days", "evaluator", "assessment_days", "assessment_tolerance_days", "max_missed_assessments",
            "require_baseline_assessment"),
    "persistence": ("testcd", "unit", "lloq", "target_day", "window_days", "timepoints_days"),
    "grading": ("test_map", "assume_at_rest"),
    "report": ("pdf", "listing_max_rows"),
    "run": ("output_dir", "max_ungradable_pct"),
}


def _check_keys(table: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(f"{where}: missing required key {key!r}")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and kind in (int, float):
        raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}.{key}: expected {names}, got {type(value).__name__} {value!r}")
    return value


def _strings(table: dict[str, Any], key: str, where: str, default: Any = ...) -> tuple[str, ...]:
    value = _get(table, key, (list, str), where, default)
    values = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}.{key}: expected a list of strings, got {value!r}")
    return tuple(v.strip().upper() for v in values)


def _choice(value: str, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(choices)}")
    return value


def _positive(value: float, where: str) -> float:
    if value != value:  # NaN
        raise ConfigError(f"{where}: expected a number, got nan")
    if value < 0:
        raise ConfigError(f"{where}: must be >= 0, got {value}")
    return value


def _section(raw: dict[str, Any], name: str, required: bool = False) -> dict[str, Any]:
    if name not in raw:
        if required:
            raise ConfigError(f"missing required section [{name}]")
        return {}
    if not isinstance(raw[name], dict):
        raise ConfigError(f"[{name}] must be a table")
    return raw[name]


def _criterion(raw: Any, i: int) -> EligibilityCriterion:
    where = f"eligibility.criteria[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    _check_keys(raw, KNOWN_KEYS["eligibility.criteria"], where)
    factors = _get(raw, "unit_factors", dict, where, {})
    for unit, factor in factors.items():
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
            raise ConfigError(f"{where}.unit_factors.{unit}: expected a positive number, got {factor!r}")
    unit = _get(raw, "unit", str, where, "")
    if _get(raw, "limit", float, where) != _get(raw, "limit", float, where):
        raise ConfigError(f"{where}.limit: expected a number, got nan")
    relative = _get(raw, "relative_to_uln", bool, where, False)
    if not relative and not unit:
        raise ConfigError(f"{where}: an absolute threshold needs a 'unit'")
    return EligibilityCriterion(
        criterion=_get(raw, "criterion", str, where),
        testcd=_get(raw, "testcd", str, where).strip().upper(),
        operator=_choice(_get(raw, "operator", str, where), OPERATORS, f"{where}.operator"),
        limit=_get(raw, "limit", float, where),
        unit=unit,
        relative_to_uln=relative,
        unit_factors={str(k).strip().upper(): float(v) for k, v in [*([(unit, 1)] if unit else []), *factors.items()]},
    )


def _test_map(raw: dict[str, Any]) -> tuple[dict[str, tuple[str | None, str | None]], ...]:
    """``[grading.test_map]`` entries ``TESTCD = { low = "criterion", high = "criterion" }`` routed to the lab or
    clinical criteria table their keys belong to; an unknown criterion is refused with the closest names."""
    from ctcae_terms.criteria import load_clinical_criteria, load_lab_criteria

    tables = {"lab": set(load_lab_criteria()["key"]), "clinical": set(load_clinical_criteria()["key"])}
    out: dict[str, dict[str, tuple[str | None, str | None]]] = {"lab": {}, "clinical": {}}
    for testcd, entry in raw.items():
        where = f"grading.test_map.{testcd}"
        if not isinstance(entry, dict) or not entry:
            raise ConfigError(f"{where}: expected a table such as {{ high = \"Alanine aminotransferase increased\" }}")
        _check_keys(entry, ("low", "high"), where)
        names = {d: _get(entry, d, str, where, None) for d in ("low", "high")}
        for direction, name in names.items():
            if name is not None and not name.strip():
                raise ConfigError(f"{where}.{direction}: empty criterion name (leave the key out instead)")
        given = [n for n in names.values() if n]
        kind = next((k for k, keys in tables.items() if all(n in keys for n in given)), None)
        if kind is None:
            for direction, name in names.items():
                if name and not any(name in keys for keys in tables.values()):
                    close = difflib.get_close_matches(name, sorted(tables["lab"] | tables["clinical"]), n=3)
                    raise ConfigError(f"{where}.{direction}: {name!r} is not a CTCAE v4.03 criterion of the engine; "
                                      f"closest: {', '.join(close) or 'none'}")
            raise ConfigError(f"{where}: low and high must both be lab or both be clinical criteria")
        out[kind][testcd.strip().upper()] = (names["low"], names["high"])
    return out["lab"], out["clinical"]


def config_from_dict(raw: dict[str, Any], base: Path | None = None) -> StudyConfig:
    """Build and validate a :class:`StudyConfig` from a parsed TOML mapping; relative paths are resolved against
    ``base`` (the TOML file's folder; the working directory when None)."""
    _check_keys(raw, tuple(k for k in KNOWN_KEYS if "." not in k), "top level (section names)")
    for name in KNOWN_KEYS:
        if "." not in name and isinstance(raw.get(name), dict):
            _check_keys(raw[name], KNOWN_KEYS[name], f"[{name}]")
    s = _section(raw, "study", required=True)
    cutoff = _get(s, "data_cutoff", (_dt.date, str), "study", None)
    if isinstance(cutoff, str):
        try:
            cutoff = _dt.date.fromisoformat(cutoff)
        except ValueError as exc:
            raise ConfigError(f"study.data_cutoff: expected an ISO 8601 date YYYY-MM-DD, got {cutoff!r}") from exc
    if isinstance(cutoff, _dt.datetime):
        cutoff = cutoff.date()
    version = _get(s, "ctcae_version", str, "study", "4.03").strip()
    if version.lower().lstrip("v") not in ("4", "4.0", "4.03"):
        raise ConfigError(f"study.ctcae_version: this engine grades by CTCAE v4.03 (\"v4\"); got {version!r}")
    study = StudyInfo(
        study_id=_get(s, "study_id", str, "study"),
        protocol_id=_get(s, "protocol_id", str, "study", ""),
        title=_get(s, "title", str, "study", ""),
        data_cutoff=cutoff,
        ctcae_version="4.03",
    )
    if not study.study_id.strip():
        raise ConfigError("study.study_id: must not be empty")
    t = _section(raw, "treatment", required=True)
    treatment = Treatment(
        infusion_extrt=_strings(t, "infusion_extrt", "treatment"),
        lymphodepletion_extrt=_strings(t, "lymphodepletion_extrt", "treatment", ()),
    )
    if not treatment.infusion_extrt:
        raise ConfigError("treatment.infusion_extrt: name at least one EXTRT for the CAR-T infusion")
    te = _section(raw, "treatment_emergent")
    tem = TreatmentEmergent(
        start=_choice(_get(te, "start", str, "treatment_emergent", "infusion"), TE_STARTS, "treatment_emergent.start"),
        window_days=int(_positive(_get(te, "window_days", int, "treatment_emergent", 365),
                                     "treatment_emergent.window_days")),
    )
    if tem.start == "lymphodepletion" and not treatment.lymphodepletion_extrt:
        raise ConfigError("treatment_emergent.start = 'lymphodepletion' needs treatment.lymphodepletion_extrt")
    r = _section(raw, "relationship")
    rel = Relationship(
        related=_strings(r, "related", "relationship", Relationship.related),
        not_related=_strings(r, "not_related", "relationship", Relationship.not_related),
        missing_is_related=_get(r, "missing_is_related", bool, "relationship", True),
        attribution=_choice(_get(r, "attribution", str, "relationship", "either"), ATTRIBUTIONS,
                            "relationship.attribution"),
    )
    both = set(rel.related) & set(rel.not_related)
    if both:
        raise ConfigError(f"relationship: values listed as both related and not related: {sorted(both)}")
    e = _section(raw, "eligibility")
    crits = _get(e, "criteria", list, "eligibility", [])
    elig = Eligibility(
        criteria=tuple(_criterion(c, i) for i, c in enumerate(crits)),
        screening_visit=_get(e, "screening_visit", str, "eligibility", "SCREEN"),
    )
    o = _section(raw, "response")
    resp = Response(
        window_days=int(_positive(_get(o, "window_days", int, "response", 63), "response.window_days")),
        confirmation_required=_get(o, "confirmation_required", bool, "response", False),
        confirmation_min_days=int(_positive(_get(o, "confirmation_min_days", int, "response", 28),
                                                "response.confirmation_min_days")),
        sd_min_days=int(_positive(_get(o, "sd_min_days", int, "response", 42), "response.sd_min_days")),
        evaluator=_get(o, "evaluator", str, "response", "INVESTIGATOR").strip().upper(),
    )
    p = _section(raw, "pfs")
    schedule = _get(p, "assessment_days", list, "pfs", list(Pfs.assessment_days))
    if not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in schedule):
        raise ConfigError(f"pfs.assessment_days: expected a list of whole days after infusion (> 0), got {schedule!r}")
    pfs = Pfs(
        rate_days=int(_positive(_get(p, "rate_days", int, "pfs", 183), "pfs.rate_days")),
        evaluator=_get(p, "evaluator", str, "pfs", resp.evaluator).strip().upper(),
        assessment_days=tuple(sorted(set(schedule))),
        assessment_tolerance_days=int(_positive(_get(p, "assessment_tolerance_days", int, "pfs", 7),
                                                "pfs.assessment_tolerance_days")),
        max_missed_assessments=int(_positive(_get(p, "max_missed_assessments", int, "pfs", 1),
                                             "pfs.max_missed_assessments")),
        require_baseline_assessment=_get(p, "require_baseline_assessment", bool, "pfs", False),
    )
    k = _section(raw, "persistence")
    times = _get(k, "timepoints_days", list, "persistence", list(Persistence.timepoints_days))
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in times):
        raise ConfigError(f"persistence.timepoints_days: expected a list of whole days, got {times!r}")
    pers = Persistence(
        testcd=_get(k, "testcd", str, "persistence", "CARTDNA").strip().upper(),
        unit=_get(k, "unit", str, "persistence", "copies/ug gDNA"),
        lloq=_positive(_get(k, "lloq", float, "persistence", 0.0), "persistence.lloq"),
        target_day=int(_positive(_get(k, "target_day", int, "persistence", 182), "persistence.target_day")),
        window_days=int(_positive(_get(k, "window_days", int, "persistence", 28), "persistence.window_days")),
        timepoints_days=tuple(sorted(times)),
    )
    g = _section(raw, "grading")
    lab_map, clinical_map = _test_map(_get(g, "test_map", dict, "grading", {}))
    grading = Grading(lab_map, clinical_map, _get(g, "assume_at_rest", bool, "grading", False))
    r = _section(raw, "report")
    report = ReportOptions(
        pdf=_get(r, "pdf", bool, "report", True),
        listing_max_rows=int(_get(r, "listing_max_rows", int, "report", 200)),
    )
    if report.listing_max_rows < 1:
        raise ConfigError(f"report.listing_max_rows: must be >= 1, got {report.listing_max_rows}")
    u = _section(raw, "run")
    base = Path(base) if base is not None else Path.cwd()
    out_dir = _get(u, "output_dir", str, "run", None)
    pct = _get(u, "max_ungradable_pct", float, "run", 5.0)
    if not 0 <= pct <= 100:
        raise ConfigError(f"run.max_ungradable_pct: expected a percentage 0-100, got {pct}")
    run = RunOptions(output_dir=(base / out_dir) if out_dir else None, max_ungradable_pct=pct)
    d = _section(raw, "data")
    folder = _get(d, "folder", str, "data", None)
    expected = tuple(x.lower() for x in _strings(d, "expected_domains", "data", ("AE", "LB")))
    return StudyConfig(study, treatment, tem, rel, elig, resp, pfs, pers, grading, report, run,
                       data_folder=(base / folder) if folder else None, expected_domains=expected)


def load_config(path: str | Path | None = None) -> StudyConfig:
    """Load and validate a study TOML file (the demo trial's when ``path`` is None)."""
    path = Path(path) if path is not None else DEMO_CONFIG
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM (Windows editors) is not an error
    except FileNotFoundError as exc:
        raise ConfigError(f"study configuration not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from exc
    except OSError as exc:  # a folder, no permission...
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        cfg = config_from_dict(raw, base=path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if cfg.data_folder is not None and not cfg.data_folder.is_dir():
        raise ConfigError(f"{path}: data.folder: folder not found: {cfg.data_folder}")
    return dataclasses.replace(cfg, source=path.resolve())
