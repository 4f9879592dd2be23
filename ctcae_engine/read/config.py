"""Study configuration: a TOML file loaded into typed, validated, frozen (pydantic) dataclasses.

Every clinical choice the endpoints make (treatment-emergent window, relationship mapping, eligibility thresholds,
response window, persistence detection limit) is read from here, never hard-coded. A bad file fails at load time with
a message naming the file, the key and what was expected. The demo trial's file is ``ctcae_engine/demo/study.toml``.

Each key is declared once: a field (type, default, description) of the table that holds it. :class:`StudyFile` is the
file as written, and its JSON Schema is :func:`config_schema` (``ctcae-engine config-schema``). :class:`StudyConfig`
is what the engine reads: the same tables, ``[data]`` flattened into ``data_folder`` / ``expected_domains`` and the
grading test map split by criteria table. The tables are dataclasses, so ``dataclasses.replace`` and ``asdict`` work.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import ArgsKwargs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "demo" / "study.toml"
Operator = Literal[">", ">=", "<", "<="]
Attribution = Literal["cart", "lymphodepletion", "either"]
TeStart = Literal["infusion", "lymphodepletion"]
QtcfDerivation = Literal["auto", "always", "never"]
OPERATORS, ATTRIBUTIONS, TE_STARTS = get_args(Operator), get_args(Attribution), get_args(TeStart)
QTCF_DERIVATIONS = get_args(QtcfDerivation)


class ConfigError(ValueError):
    """The study configuration is missing a key or holds a value of the wrong kind."""


class _Invalid(ValueError):
    """A value refused by a validator; ``path`` continues the key's location (a unit, a test code, a direction)."""

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.path = path


# ---- value checks: a TOML value is never coerced ("365" is not a number, nor is true); messages name what was wanted


def _typed(*kinds: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if list in kinds and isinstance(value, tuple):  # a tuple comes from Python code (dataclasses.replace)
            value = list(value)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, bool) and (int in kinds or float in kinds):
            raise _Invalid(f"expected a number, got {value!r}")
        if not isinstance(value, kinds):
            raise _Invalid(f"expected {' or '.join(k.__name__ for k in kinds)}, got {type(value).__name__} {value!r}")
        return value

    return check


def _not_nan(value: float) -> float:
    if value != value:
        raise _Invalid("expected a number, got nan")
    return value


def _at_least(low: int) -> Callable[[float], float]:
    def check(value: float) -> float:
        if _not_nan(value) < low:
            raise _Invalid(f"must be >= {low}, got {value}")
        return value

    return check


def _percentage(value: float) -> float:
    if not 0 <= value <= 100:
        raise _Invalid(f"expected a percentage 0-100, got {value}")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if _typed(str)(value) not in choices:
            raise _Invalid(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


def _codes(value: Any) -> tuple[str, ...]:
    """A string or a list of strings -> a tuple of stripped, upper-case codes."""
    value = _typed(list, str)(value)
    values = [value] if isinstance(value, str) else value
    if not all(isinstance(v, str) for v in values):
        raise _Invalid(f"expected a list of strings, got {value!r}")
    return tuple(v.strip().upper() for v in values)


def _days(after_infusion: bool) -> Callable[[Any], tuple[int, ...]]:
    """A list of whole days -> sorted tuple (after infusion: > 0, each once)."""
    def check(value: Any) -> tuple[int, ...]:
        value = _typed(list)(value)
        if not all(isinstance(x, int) and not isinstance(x, bool) and (x > 0 or not after_infusion) for x in value):
            what = "whole days after infusion (> 0)" if after_infusion else "whole days"
            raise _Invalid(f"expected a list of {what}, got {value!r}")
        return tuple(sorted(set(value) if after_infusion else value))

    return check


def _date(value: Any) -> _dt.date | None:
    if value is None:  # from Python code (dataclasses.replace); TOML has no null
        return None
    value = _typed(_dt.date, str)(value)
    if isinstance(value, str):
        try:
            value = _dt.date.fromisoformat(value)
        except ValueError:
            raise _Invalid(f"expected an ISO 8601 date YYYY-MM-DD, got {value!r}") from None
    return value.date() if isinstance(value, _dt.datetime) else value


def _v403(value: Any) -> str:
    version = _typed(str)(value).strip()
    if version.lower().lstrip("v") not in ("4", "4.0", "4.03"):
        raise _Invalid(f'this engine grades by CTCAE v4.03 ("v4"); got {version!r}')
    return "4.03"


def _path(value: Any, info: ValidationInfo) -> Path | None:
    """A path of the file, relative to its folder (the validation context's ``base``; else the working directory)."""
    if value is None or isinstance(value, Path):
        return value
    value = _typed(str)(value)
    return (info.context or {}).get("base", Path.cwd()) / value if value else None


def _required(message: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not (value.strip() if isinstance(value, str) else value):
            raise _Invalid(message)
        return value

    return check


def _factors(value: Any) -> dict[str, float]:
    for unit, factor in _typed(dict)(value).items():
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
            raise _Invalid(f"expected a positive number, got {factor!r}", unit)
    return value


# the kinds of TOML value: each refuses another type with a message naming what it wanted
Text = Annotated[str, BeforeValidator(_typed(str))]
Code = Annotated[str, BeforeValidator(_typed(str)), AfterValidator(lambda v: v.strip().upper())]
Codes = Annotated[tuple[str, ...], BeforeValidator(_codes),
                  WithJsonSchema({"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]})]
Flag = Annotated[bool, BeforeValidator(_typed(bool))]
Days = Annotated[int, BeforeValidator(_typed(int)), AfterValidator(_at_least(0))]
Number = Annotated[float, BeforeValidator(_typed(float)), AfterValidator(_at_least(0))]
_DAYS_SCHEMA = WithJsonSchema({"type": "array", "items": {"type": "integer"}})
DayList = Annotated[tuple[int, ...], BeforeValidator(_days(False)), _DAYS_SCHEMA]
FilePath = Annotated[Path | None, BeforeValidator(_path), WithJsonSchema({"type": "string"})]
Criterion = Annotated[str, BeforeValidator(_typed(str)),
                      AfterValidator(_required("empty criterion name (leave the key out instead)"))]
_table = functools.partial(dataclass, frozen=True, config=ConfigDict(extra="forbid"))


# ---- the tables of study.toml


@_table
class StudyInfo:
    """[study]: which trial this is."""

    study_id: Annotated[Text, AfterValidator(_required("must not be empty"))] = Field(
        description="study identifier (STUDYID)")
    protocol_id: Text = Field("", description="protocol or registry number, e.g. NCT04627740")
    title: Text = Field("", description="study title for the report")
    data_cutoff: Annotated[_dt.date | None, BeforeValidator(_date)] = Field(
        None, description="data cut-off date (YYYY-MM-DD): later records are left out; required by `run`")
    ctcae_version: Annotated[str, BeforeValidator(_v403)] = Field(
        "4.03", description="CTCAE version of the grading: only 4.03 (v4), the version this engine grades by")


@_table
class DataOptions:
    """[data]: where the study's domain files are."""

    folder: FilePath = Field(None, description="folder of the study's SDTM/ADaM files (CSV, Parquet, XPT, "
                                               "sas7bdat), relative to this file")
    expected_domains: Annotated[Codes, AfterValidator(lambda v: tuple(x.lower() for x in v))] = Field(
        ("ae", "lb"), description="domains whose absence or emptiness stops a run")


@_table
class Treatment:
    """[treatment]: the EX records of the study treatment."""

    infusion_extrt: Annotated[Codes, AfterValidator(_required("name at least one EXTRT for the CAR-T infusion"))] = (
        Field(description="EXTRT values of the CAR-T infusion (day 0; the safety population)"))
    lymphodepletion_extrt: Codes = Field((), description="EXTRT values of the lymphodepleting chemotherapy")
    arm_variable: Code = Field("", description="DM/ADSL variable of the arm or dose level that splits the "
                                               "participant-level tables into column groups plus a Total (default: "
                                               "ACTARM, else ARM, else TRT01A; NONE pools every participant)")


@_table
class TreatmentEmergent:
    """[treatment_emergent]: the window in which an AE counts as treatment-emergent."""

    start: Annotated[TeStart, BeforeValidator(_one_of(TE_STARTS))] = Field(
        "infusion", description="window start: the infusion (day 0) or the first lymphodepletion dose")
    window_days: Days = Field(365, description="window end: AEs with onset up to this many days after the infusion")
    after_last_dose_days: Annotated[int | None, BeforeValidator(_typed(int, type(None))), AfterValidator(
        lambda v: v if v is None else _at_least(0)(v))] = Field(
        None, description="window end also at the last dose of the study treatment (infusion_extrt; EXENDTC, else "
                          "EXSTDTC) + this many days, whichever end comes first (e.g. 30 for a multi-dose study)")
    use_given_flags: Flag = Field(True, description="ADaM ADAE input: take TRTEMFL as the sponsor derived it "
                                                    "(false: re-derive it from the window)")


@_table
class Relationship:
    """[relationship]: how AEREL (and the lymphodepletion relationship) say 'related to the treatment'."""

    related: Codes = Field(("RELATED", "POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED"),
                           description="relationship values that count as related")
    not_related: Codes = Field(("NOT RELATED", "UNLIKELY RELATED"),
                               description="relationship values that count as not related")
    missing_is_related: Flag = Field(True, description="a blank relationship counts as related (conservative)")
    attribution: Annotated[Attribution, BeforeValidator(_one_of(ATTRIBUTIONS))] = Field(
        "either", description="which relationship makes an AE treatment-related: CAR-T, lymphodepletion or either")

    @model_validator(mode="after")
    def _disjoint(self) -> Relationship:
        both = set(self.related) & set(self.not_related)
        if both:
            raise _Invalid(f"values listed as both related and not related: {sorted(both)}")
        return self


@_table
class EligibilityCriterion:
    """One screening-lab threshold: ``value <operator> limit`` (times ULN when ``relative_to_uln``)."""

    criterion: Text = Field(description="the criterion as the protocol words it (shown in the report)")
    testcd: Code = Field(description="LBTESTCD of the screening lab")
    operator: Annotated[Operator, BeforeValidator(_one_of(OPERATORS))] = Field(
        description="comparison a result must pass: >, >=, < or <=")
    limit: Annotated[float, BeforeValidator(_typed(float)), AfterValidator(_not_nan)] = Field(
        description="threshold, in `unit` (or times ULN)")
    unit: Text = Field("", description="unit of `limit`; required unless `relative_to_uln`")
    relative_to_uln: Flag = Field(False, description="`limit` is a multiple of the upper limit of normal")
    unit_factors: Annotated[dict[str, float], BeforeValidator(_factors)] = Field(
        default_factory=dict, validate_default=True,
        description="this criterion's own units: UNIT -> factor to `unit`, added to the engine's unit table")

    @field_validator("unit_factors")
    @classmethod
    def _with_own_unit(cls, factors: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        """Upper-case units; the criterion's own unit has factor 1."""
        unit = info.data.get("unit", "")
        return {str(k).strip().upper(): float(v) for k, v in [*([(unit, 1)] if unit else []), *factors.items()]}

    @model_validator(mode="after")
    def _has_unit(self) -> EligibilityCriterion:
        if not self.relative_to_uln and not self.unit:
            raise _Invalid("an absolute threshold needs a 'unit'")
        return self


@_table
class Eligibility:
    """[eligibility]: the protocol's screening-lab thresholds."""

    criteria: Annotated[tuple[EligibilityCriterion, ...], BeforeValidator(_typed(list))] = Field(
        (), description="[[eligibility.criteria]]: one table per screening-lab threshold")
    screening_visit: Text = Field("SCREEN", description="VISIT values containing this text (any case) are "
                                                        "screening records")


@_table
class Response:
    """[response]: best overall response (RECIST 1.1)."""

    window_days: Days = Field(63, description="assessments on days 1..window_days count (week 8 + 7-day window)")
    confirmation_required: Flag = Field(False, description="a CR/PR counts only when confirmed by a later one")
    confirmation_min_days: Days = Field(28, description="days from a CR/PR to its confirming assessment (at least)")
    sd_min_days: Days = Field(42, description="SD counts as best response only from this day after infusion")
    evaluator: Code = Field("INVESTIGATOR", description="RSEVAL of the assessments used")
    exclude_not_yet_evaluable: Flag = Field(True, description="at an interim cut-off, a participant whose response "
                                            "window has not closed (and whose best response is not yet final: CR "
                                            "or PD) is 'not yet evaluable' and left out of the ORR denominator")


@_table
class Pfs:
    """[pfs]: progression-free survival and its censoring rules."""

    rate_days: Days = Field(183, description="day of the PFS rate reported (183 = 6 months)")
    evaluator: Code = Field("INVESTIGATOR", description="RSEVAL of the assessments used (default: "
                                                        "response.evaluator)")
    assessment_days: Annotated[tuple[int, ...], BeforeValidator(_days(True)), _DAYS_SCHEMA] = (
        Field((28, 56, 84, 168, 252, 336), description="scheduled tumour assessments, days from infusion; [] turns "
                                                       "the missed-assessment rule off"))
    assessment_tolerance_days: Days = Field(7, description="+/- days around a scheduled assessment before it is "
                                                           "missed")
    max_missed_assessments: Days = Field(1, description="progression or death after more missed scheduled "
                                                        "assessments is censored (FDA 2018)")
    require_baseline_assessment: Flag = Field(False, description="no tumour assessment on/before day 0 -> "
                                                                 "censored at day 0")


@_table
class Persistence:
    """[persistence]: CAR-T transgene persistence in blood (qPCR)."""

    testcd: Code = Field("CARTDNA", description="test code of the transgene copies")
    unit: Text = Field("copies/ug gDNA", description="unit of the results")
    lloq: Number = Field(0.0, description="lower limit of quantification: results below are not detectable")
    target_day: Days = Field(182, description="day of the persistence endpoint (182 = month 6)")
    window_days: Days = Field(28, description="+/- days around target_day a sample may fall (nearest wins)")
    timepoints_days: DayList = Field((7, 14, 28, 56, 91, 182, 273, 365),
                                     description="nominal sampling days after infusion (levels-over-time table)")


@_table
class MapEntry:
    """One ``[grading.test_map]`` entry: the criteria a test code is graded by."""

    low: Criterion | None = Field(None, description="criterion for low values (a name of ctcae_terms/criteria)")
    high: Criterion | None = Field(None, description="criterion for high values (a name of ctcae_terms/criteria)")

    @model_validator(mode="before")
    @classmethod
    def _a_table(cls, value: Any) -> Any:
        if value == {} or not isinstance(value, dict | ArgsKwargs):  # ArgsKwargs: MapEntry(...) in Python
            raise _Invalid('expected a table such as { high = "Alanine aminotransferase increased" }')
        return value


@functools.cache
def _criteria_keys() -> dict[str, frozenset[str]]:
    from ctcae_terms.criteria import load_clinical_criteria, load_lab_criteria

    return {"lab": frozenset(load_lab_criteria()["key"]), "clinical": frozenset(load_clinical_criteria()["key"])}


def _criteria_table(testcd: str, entry: MapEntry) -> str:
    """'lab' or 'clinical': the criteria table both names of ``entry`` belong to; an unknown name is refused with the
    closest known ones."""
    tables = _criteria_keys()
    given = [name for name in (entry.low, entry.high) if name]
    kind = next((k for k, keys in tables.items() if all(name in keys for name in given)), None)
    if kind is not None:
        return kind
    for direction in ("low", "high"):
        name = getattr(entry, direction)
        if name and not any(name in keys for keys in tables.values()):
            close = difflib.get_close_matches(name, sorted(tables["lab"] | tables["clinical"]), n=3)
            raise _Invalid(f"{name!r} is not a CTCAE v4.03 criterion of the engine; "
                           f"closest: {', '.join(close) or 'none'}", testcd, direction)
    raise _Invalid("low and high must both be lab or both be clinical criteria", testcd)


@_table
class Grading:
    """Study-specific test-code mapping: TESTCD -> (criterion key for low values, for high values), split by the
    criteria table the key belongs to (lab or clinical); these rows take precedence over the packaged test maps.
    Built from ``[grading]`` (:class:`GradingOptions`)."""

    lab_test_map: dict[str, tuple[str | None, str | None]] = Field(default_factory=dict)
    clinical_test_map: dict[str, tuple[str | None, str | None]] = Field(default_factory=dict)
    assume_at_rest: bool = False  # every SpO2 reading is declared taken at rest (Hypoxia)
    derive_qtcf: str = "auto"  # QTcF from QT and RR: "auto" (participants without a QTc), "always", "never"
    fever_max_gap_h: float = 12.0  # longest gap between readings of one Fever G4 run (hours)
    febrile_neutropenia_pair_h: float = 24.0  # longest time between an ANC and a temperature read together (hours)

    def options(self, kind: str) -> dict[str, Any]:
        """Keyword arguments of the grading function of ``kind`` ("lab", "vitals", "ecg") for this study."""
        mapping = self.lab_test_map if kind == "lab" else self.clinical_test_map
        extra: dict[str, Any] = {}
        if kind == "vitals":
            extra = {"assume_at_rest": self.assume_at_rest, "fever_max_gap_h": self.fever_max_gap_h}
        elif kind == "ecg":
            extra = {"derive_qtcf": {"always": True, "never": False}.get(self.derive_qtcf, self.derive_qtcf)}
        return {"mapping": mapping or None, **extra}


@_table
class GradingOptions:
    """[grading]: the study's own test codes and grading assumptions."""

    test_map: Annotated[dict[str, MapEntry], BeforeValidator(_typed(dict))] = Field(
        default_factory=dict, description="a sponsor's own test codes, CODE = { low = \"criterion\", high = "
                                          "\"criterion\" }; they take precedence over the packaged test maps")
    assume_at_rest: Flag = Field(False, description="every SpO2 reading counts as taken at rest (else Hypoxia is "
                                                    "graded only when VSPOS/VSTPT/VSCAT say so)")
    derive_qtcf: Annotated[QtcfDerivation, BeforeValidator(_one_of(QTCF_DERIVATIONS))] = Field(
        "auto", description="derive QTcF (Fridericia) from QT and RR of the same ECG: \"auto\" for participants "
                            "with no QTc result, \"always\", or \"never\"")
    fever_max_gap_h: float = Field(12.0, gt=0, description="Fever G4 '>40.0 degrees C for >24 hrs': the longest gap "
                                                           "(hours) between consecutive readings of one run")
    febrile_neutropenia_pair_h: float = Field(24.0, ge=0, description="Febrile neutropenia: the longest time "
                                              "(hours) between an ANC and a temperature that are read together")

    @field_validator("test_map")
    @classmethod
    def _known_criteria(cls, entries: dict[str, MapEntry]) -> dict[str, MapEntry]:
        for testcd, entry in entries.items():
            _criteria_table(testcd, entry)
        return entries

    def grading(self) -> Grading:
        split: dict[str, dict[str, tuple[str | None, str | None]]] = {"lab": {}, "clinical": {}}
        for testcd, entry in self.test_map.items():
            split[_criteria_table(testcd, entry)][testcd.strip().upper()] = (entry.low, entry.high)
        return Grading(split["lab"], split["clinical"], self.assume_at_rest, self.derive_qtcf, self.fever_max_gap_h,
                       self.febrile_neutropenia_pair_h)


VASOPRESSOR_CLASSES = ("vasopressor", "vasopressin", "not_vasopressor")
"""Classes of the CAR-T drug map (ctcae_engine.grade.cart_vocab); ``not_vasopressor`` removes a packaged drug."""


def _vasopressor_map(value: Any) -> dict[str, str]:
    for drug, kind in _typed(dict)(value).items():
        if kind not in VASOPRESSOR_CLASSES:
            raise _Invalid(f"expected one of {', '.join(VASOPRESSOR_CLASSES)}, got {kind!r}", drug)
    return {str(drug).strip().upper(): kind for drug, kind in value.items()}


@_table
class CartOptions:
    """[cart]: CAR-T toxicity (ASTCT 2019 CRS / ICANS, docs/cart.md)."""

    vasopressors: Annotated[dict[str, str], BeforeValidator(_vasopressor_map)] = Field(
        default_factory=dict, description="drug (CMDECOD / CMTRT / VASOPRES name) -> \"vasopressor\", \"vasopressin\" "
                                          "or \"not_vasopressor\", added to or overriding the packaged drug map")
    episode_max_missing_days: Days = Field(1, description="days in a row without a graded assessment that do not end "
                                                          "a CRS/ICANS episode (0: an assessment every day)")


@_table
class Dlt:
    """[dlt]: the protocol's dose-limiting toxicity definition and stopping rule (a phase 1 board decides on them)."""

    enabled: Flag = Field(False, description="derive DLTs (DLT01, DLT02); off: the tables say no definition is set")
    window_days: Days = Field(28, description="DLT window: onset on days 0..window_days after the infusion")
    min_grade: Annotated[int, BeforeValidator(_typed(int)), AfterValidator(_at_least(1))] = Field(
        3, description="CTCAE grade at or above which a treatment-related AE in the window is a DLT")
    related_only: Flag = Field(True, description="only AEs related to the treatment (the [relationship] mapping)")
    exclude_terms: Codes = Field(
        (), description="CTCAE terms that are never DLTs (e.g. expected cytopenias after lymphodepletion); case "
                        "is ignored")
    stop_at: Annotated[int, BeforeValidator(_typed(int)), AfterValidator(_at_least(1))] = Field(
        2, description="stopping rule: a dose level stops when this many of its first `of_first` evaluable "
                       "participants have a DLT")
    of_first: Annotated[int, BeforeValidator(_typed(int)), AfterValidator(_at_least(1))] = Field(
        6, description="stopping rule: evaluable participants considered, in order of infusion")


@_table
class ReportOptions:
    """[report]: the DSMB report."""

    pdf: Flag = Field(True, description="write report.pdf beside report.html")
    listing_max_rows: Annotated[int, BeforeValidator(_typed(int)), AfterValidator(_at_least(1))] = Field(
        200, description="longer listings show their first rows in the report; the full listing is a CSV")


@_table
class RunOptions:
    """[run]: scheduled runs."""

    output_dir: FilePath = Field(None, description="where run folders go, relative to this file (default: runs/ "
                                                   "beside it)")
    max_ungradable_pct: Annotated[float, BeforeValidator(_typed(float)), AfterValidator(_percentage)] = Field(
        5.0, description="exit 4 when more than this % of the observations of graded tests cannot be graded")


@_table
class StudyConfig:
    """The validated configuration the engine reads: :class:`StudyFile`'s tables, ``[data]`` flattened, the test map
    split by criteria table, and the TOML file it came from."""

    study: StudyInfo
    treatment: Treatment
    treatment_emergent: TreatmentEmergent = Field(default_factory=TreatmentEmergent)
    relationship: Relationship = Field(default_factory=Relationship)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    response: Response = Field(default_factory=Response)
    pfs: Pfs = Field(default_factory=Pfs)
    persistence: Persistence = Field(default_factory=Persistence)
    grading: Grading = Field(default_factory=Grading)
    report: ReportOptions = Field(default_factory=ReportOptions)
    run: RunOptions = Field(default_factory=RunOptions)
    cart: CartOptions = Field(default_factory=CartOptions)
    dlt: Dlt = Field(default_factory=Dlt)
    data_folder: Path | None = None  # [data] folder, resolved against the TOML file's folder
    expected_domains: tuple[str, ...] = ("ae", "lb")  # [data] domains whose absence or emptiness stops a run
    source: Path | None = None  # the TOML file this came from


@_table(kw_only=True)
class StudyFile:
    """study.toml as written: one table per section. Only study.study_id and treatment.infusion_extrt are required."""

    study: StudyInfo = Field(description="the trial: identifiers, title, data cut-off, CTCAE version")
    data: DataOptions = Field(default_factory=DataOptions, description="the study's data folder")
    treatment: Treatment = Field(description="EX treatment names: CAR-T infusion and lymphodepletion")
    treatment_emergent: TreatmentEmergent = Field(default_factory=TreatmentEmergent,
                                                  description="treatment-emergent AE window")
    relationship: Relationship = Field(default_factory=Relationship, description="AE relationship mapping")
    eligibility: Eligibility = Field(default_factory=Eligibility, description="screening-lab eligibility criteria")
    response: Response = Field(default_factory=Response, description="best overall response (RECIST 1.1)")
    pfs: Pfs = Field(default_factory=Pfs, description="progression-free survival")
    persistence: Persistence = Field(default_factory=Persistence, description="CAR-T persistence (qPCR)")
    grading: GradingOptions = Field(default_factory=GradingOptions, description="study-specific grading choices")
    report: ReportOptions = Field(default_factory=ReportOptions, description="DSMB report options")
    run: RunOptions = Field(default_factory=RunOptions, description="scheduled-run options")
    cart: CartOptions = Field(default_factory=CartOptions, description="CAR-T toxicity (CRS / ICANS) options")
    dlt: Dlt = Field(default_factory=Dlt, description="dose-limiting toxicities and the stopping rule")

    @model_validator(mode="before")
    @classmethod
    def _pfs_evaluator(cls, raw: Any) -> Any:
        """pfs.evaluator defaults to response.evaluator."""
        response, pfs = (raw.get("response"), raw.get("pfs", {})) if isinstance(raw, dict) else (None, None)
        if isinstance(response, dict) and "evaluator" in response and isinstance(pfs, dict) and "evaluator" not in pfs:
            return {**raw, "pfs": {**pfs, "evaluator": response["evaluator"]}}
        return raw

    @model_validator(mode="after")
    def _lymphodepletion_named(self) -> StudyFile:
        if self.treatment_emergent.start == "lymphodepletion" and not self.treatment.lymphodepletion_extrt:
            raise _Invalid("treatment_emergent.start = 'lymphodepletion' needs treatment.lymphodepletion_extrt")
        return self

    def config(self) -> StudyConfig:
        return StudyConfig(self.study, self.treatment, self.treatment_emergent, self.relationship, self.eligibility,
                           self.response, self.pfs, self.persistence, self.grading.grading(), self.report, self.run,
                           cart=self.cart, dlt=self.dlt, data_folder=self.data.folder,
                           expected_domains=self.data.expected_domains)


_FILE = TypeAdapter(StudyFile)


# ---- pydantic's errors in today's words: file, key, what was expected


def _where(loc: tuple[str | int, ...]) -> str:
    """``('eligibility', 'criteria', 0, 'limit')`` -> ``eligibility.criteria[0].limit``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _keys(loc: tuple[str | int, ...]) -> tuple[str, ...]:
    """The keys the table at ``loc`` of the file may hold."""
    table: Any = StudyFile
    for part in loc:
        table = (table.__pydantic_fields__[part].annotation if dataclasses.is_dataclass(table)
                 else next(arg for arg in get_args(table) if dataclasses.is_dataclass(arg)))
    return tuple(f.name for f in dataclasses.fields(table))


def _message(error: ValidationError) -> str:
    errors = error.errors(include_url=False)
    # as the file is read: an unknown section name first, then an unknown key of a section, then values in order
    unknown = [e for e in errors if e["type"] == "unexpected_keyword_argument" and len(e["loc"]) <= 2]
    first = min(unknown, key=lambda e: len(e["loc"])) if unknown else errors[0]
    loc, kind = tuple(first["loc"]), first["type"]
    if kind == "unexpected_keyword_argument":
        parent, key = loc[:-1], str(loc[-1])
        known = _keys(parent)
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
        where = f"[{parent[0]}]" if len(parent) == 1 else _where(parent) or "top level (section names)"
        return f"{where}: unknown key {key!r}{hint}"
    if kind == "missing":
        return f"{_where(loc[:-1])}: missing required key {loc[-1]!r}" if len(loc) > 1 else \
            f"missing required section [{loc[0]}]"
    if kind in ("dataclass_type", "dataclass_args_type"):
        return f"[{loc[0]}] must be a table" if len(loc) == 1 else f"{_where(loc)}: expected a table"
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, _Invalid):
        loc, text = loc + cause.path, str(cause)
    else:
        text = first["msg"]
    return f"{_where(loc)}: {text}" if loc else text


# ---- public functions


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of study.toml, generated from the key declarations above."""
    schema = _FILE.json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "study.toml",
            "description": "Study configuration of ctcae-engine: one TOML table per section; relative paths are "
                           "resolved against the file's folder.",
            **{key: value for key, value in schema.items() if key not in ("title", "description")}}


def config_from_dict(raw: dict[str, Any], base: Path | None = None) -> StudyConfig:
    """Build and validate a :class:`StudyConfig` from a parsed TOML mapping; relative paths are resolved against
    ``base`` (the TOML file's folder; the working directory when None)."""
    try:
        study_file = _FILE.validate_python(raw, context={"base": Path(base) if base is not None else Path.cwd()})
    except ValidationError as exc:
        raise ConfigError(_message(exc)) from exc
    return study_file.config()


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
