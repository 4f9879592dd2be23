"""Run the whole chain for one study folder: read -> grade -> flag -> endpoints and tables.

``run_study(folder, config)`` returns a :class:`StudyResults`, a dataclass of DataFrames that the report (and a
pandas user) reads. Each stage calls the public function of the module that owns it. A stage whose input domain
is absent is recorded in ``unavailable`` with the reason, and :data:`STAGE_OUTPUTS` passes that reason on to every
table and figure of the stage (the report shows it in their place); a stage that fails on the data is recorded in
``stage_errors`` with its message (and in ``unavailable`` the same way), unless ``strict=True``, when the error is
raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ctcae_engine import CTCAE_VERSION, __version__
from ctcae_engine.analyse import efficacy, eligibility, endpoints
from ctcae_engine.analyse import safety_tables as tables
from ctcae_engine.grade import ae as ae_checks
from ctcae_engine.grade import cart
from ctcae_engine.grade import findings as grading
from ctcae_engine.read import columns
from ctcae_engine.read.config import Grading, load_config
from ctcae_engine.read.cutoff import apply_cutoff, cutoff_summary
from ctcae_engine.read.dates import as_day, dtc_bounds
from ctcae_engine.read.files import ADAM_TO_SDTM, file_hashes, read_study
from ctcae_engine.report import figures


@dataclass
class StudyResults:
    """Everything the engine derived from one study folder (frames are new objects, the inputs are untouched).

    ``domains`` are the records on or before the data cut-off (``excluded`` lists every record removed, see
    :mod:`ctcae_engine.read.cutoff`); ``files`` the input files as read (rows before the cut-off is applied).
    ``tables`` holds the named summary tables (stable IDs such as ``AET02_TEAE``); ``figures`` the SVG text of
    each figure; ``unavailable`` maps a stage or table ID to why it is missing; ``stage_errors`` lists stages
    that raised (stage, message).
    """

    config: Any
    domains: dict[str, pd.DataFrame]
    files: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    excluded: pd.DataFrame | None = None
    reconciliation: pd.DataFrame | None = None
    labs: pd.DataFrame | None = None
    vitals: pd.DataFrame | None = None
    ecg: pd.DataFrame | None = None
    ae: pd.DataFrame | None = None
    crs: pd.DataFrame | None = None
    icans: pd.DataFrame | None = None
    bor: pd.DataFrame | None = None
    pfs: pd.DataFrame | None = None
    cart_levels: pd.DataFrame | None = None
    population: pd.DataFrame | None = None
    participants: pd.DataFrame | None = None
    primary: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    stage_errors: list[tuple[str, str]] = field(default_factory=list)


def _load_config(config: Any) -> Any:
    """A StudyConfig as given, or loaded from a TOML path (None: the demo trial's)."""
    return load_config(config) if config is None or isinstance(config, (str, Path)) else config


class _Runner:
    def __init__(self, results: StudyResults, strict: bool) -> None:
        self.results = results
        self.strict = strict

    def call(self, stage: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)``; on an error None, with the stage recorded (raised instead when strict)."""
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if self.strict:
                raise
            self.results.stage_errors.append((stage, f"{type(exc).__name__}: {exc}"))
            self.results.unavailable[stage] = f"{stage} failed: {type(exc).__name__}: {exc}"
            return None


def _file_table(folder: Path, domains: dict[str, pd.DataFrame], hashes: dict[str, str] | None) -> pd.DataFrame:
    hashes = file_hashes(folder) if hashes is None else hashes
    rows = [Path(name).stem.lower() for name in hashes]
    return pd.DataFrame(
        {
            "name": list(hashes),
            "rows": [len(domains[stem]) if stem in domains else pd.NA for stem in rows],
            "sha256": list(hashes.values()),
        }
    )


def _sdtm_names(domains: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = dict(domains)
    for adam, sdtm in ADAM_TO_SDTM.items():
        if adam in out and sdtm not in out:
            out[sdtm] = out.pop(adam)
    return out


STEP_LABELS = ("grading labs, vital signs and ECGs", "adverse events", "CRS and ICANS", "reconciliation",
               "safety tables", "vital-sign and ECG tables", "eligibility", "efficacy", "figures", "data quality")
"""The steps of :func:`run_study`, in order (the labels ``progress`` receives)."""


def run_study(
    folder: str | Path | None,
    config: Any = None,
    run_time: str | datetime | None = None,
    strict: bool = False,
    progress: Callable[[str], None] | None = None,
    frames: dict[str, pd.DataFrame] | None = None,
    hashes: dict[str, str] | None = None,
) -> StudyResults:
    """Read a study folder and derive every result of the report.

    ``config`` is a :class:`ctcae_engine.read.config.StudyConfig` or the path of a study TOML (None: the demo's);
    ``folder`` None reads the configuration's ``[data] folder``.
    ``run_time`` is recorded as given; by default it is the data cut-off, so the same inputs give the same report.
    ``progress`` is called with the label of each step before it runs (the CLI's progress display).
    ``frames`` (file stem -> DataFrame) and ``hashes`` (file name -> sha256): the files as already read and hashed
    by the input checks (:func:`ctcae_engine.read.checks.check_folder`), so a run reads and hashes each file once.
    """
    cfg = _load_config(config)
    if folder is None:
        folder = getattr(cfg, "data_folder", None)
        if folder is None:
            raise ValueError("no study folder: give one or set [data] folder in the study configuration")
    folder = Path(folder)
    read = read_study(folder, frames)
    supp_lost = read.pop("supp_unmatched", None)
    raw = _sdtm_names(read)
    cutoff = as_day(getattr(cfg.study, "data_cutoff", None), "data cut-off")
    domains, excluded = apply_cutoff(raw, cutoff)
    results = StudyResults(config=cfg, domains=domains, files=_file_table(folder, read, hashes), excluded=excluded)
    results.tables["DQ07"] = _supp_unmatched(supp_lost)
    if run_time is None:
        run_time = cutoff.isoformat() if cutoff else "not given"
    elif isinstance(run_time, datetime):
        run_time = run_time.isoformat(timespec="seconds")
    dm = domains.get("dm")
    results.meta = {
        "study_id": cfg.study.study_id,
        "protocol_id": cfg.study.protocol_id,
        "title": cfg.study.title,
        "data_cutoff": cutoff.isoformat() if cutoff else "not given",
        "run_time": str(run_time),
        "engine_version": __version__,
        "ctcae_version": getattr(cfg.study, "ctcae_version", CTCAE_VERSION) or CTCAE_VERSION,
        "n_participants": int(dm["USUBJID"].nunique()) if dm is not None and "USUBJID" in dm else 0,
        "n_after_cutoff": len(excluded),
    }
    runner = _Runner(results, strict)
    steps: list[Callable[[], None]] = [
        lambda: _grade(runner, domains, cfg),
        lambda: _adverse_events(runner, domains, cfg),
        lambda: _cart_toxicity(runner, domains),
        lambda: _reconcile(runner),
        lambda: _summary_tables(runner, cfg),
        lambda: _vitals_ecg(runner, cfg),
        lambda: _eligibility(runner, domains, cfg),
        lambda: _efficacy(runner, domains, cfg),
        lambda: _figures(runner, cfg),
        lambda: results.tables.update(_own_tables(results, cfg)),
    ]
    for label, step in zip(STEP_LABELS, steps, strict=True):
        if progress is not None:
            progress(label)
        step()
    results.summary = headline(results)
    _spread_unavailable(results)
    return results


STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "population": ("DISP01", "DTHL01", "PRIMARY", "AET01", "AET04_TEAE", "AET04_TRAE", "swimmer", "CRST01",
                   "CRST02", "ORR01", "PFS01", "km_pfs", "PERS01", "PERS02", "persistence", "primary", "teae",
                   "trae", "trae_g3", "sae", "deaths"),
    "ae": ("PRIMARY", "AET01", "AET04_TEAE", "AET04_TRAE", "ae_heatmap", "AEL_G3", "AEL_SAE", "DQ03", "DQ04",
           "DQ05", "primary", "teae", "trae", "trae_g3", "sae"),
    "xc": ("CRST01", "CRST02", "CRS01", "ICANS_EPISODES", "DQ08", "crs", "crs_g3", "icans", "icans_g3"),
    "crs": ("CRST01", "CRST02", "CRS01", "crs", "crs_g3"),
    "icans": ("CRST01", "CRST02", "ICANS_EPISODES", "icans", "icans_g3"),
    "labs": ("LBT14", "LBT07", "lab_"),
    "grading": ("DQ01", "DQ02", "METH01"),
    "vseg": ("VSEG01", "VSEG02"),
    "rs": ("ORR01", "PFS01", "km_pfs"),
    "pc": ("PERS01", "PERS02", "persistence"),
    "PERS01": ("PERS02", "persistence"),
}
"""Stage -> the table, figure and headline IDs the report reads that it produces: a stage in ``unavailable`` (no
domain, or it failed) gives its reason to each of those outputs that is missing."""


def _spread_unavailable(results: StudyResults) -> None:
    produced = set(results.tables) | set(results.figures) | set(results.summary["key"] if results.summary is not
                                                                   None else ())
    produced |= {"lab_"} if any(k.startswith("lab_") for k in results.figures) else set()
    for stage, reason in list(results.unavailable.items()):
        for key in STAGE_OUTPUTS.get(stage, ()):
            if key not in produced:
                results.unavailable.setdefault(key, reason)


def _supp_unmatched(lost: pd.DataFrame | None) -> pd.DataFrame:
    """DQ07: supplemental qualifier rows (SUPP--) that match no parent record, so their value reached no row."""
    lost = lost if lost is not None else pd.DataFrame()
    out = pd.DataFrame({"Domain": columns.raw(lost, "domain"), "Participant": columns.raw(lost, "USUBJID"),
                        "IDVAR": columns.raw(lost, "IDVAR"), "IDVARVAL": columns.raw(lost, "IDVARVAL"),
                        "QNAM": columns.raw(lost, "QNAM"), "QVAL": columns.raw(lost, "QVAL"),
                        "Reason": columns.raw(lost, "reason")}).reset_index(drop=True)
    out.attrs.update(empty="Every supplemental qualifier row (SUPP--) matched a record of its parent domain.",
                     note="These qualifiers (e.g. AERELLD) reached no record: the record they belong to reads them "
                          "as missing. Keys are compared as text, a numeric sequence number 1.0 as 1.")
    return out


def _grade(runner: _Runner, domains: dict[str, pd.DataFrame], cfg: Any) -> None:
    results = runner.results
    first_dose = domains.get("dm")  # baseline = last value on/before infusion when none is flagged
    study = getattr(cfg, "grading", None) or Grading()
    for attr, domain in (("labs", "lb"), ("vitals", "vs"), ("ecg", "eg")):
        if domain not in domains:
            results.unavailable[attr] = f"no {domain.upper()} domain in the study folder"
            continue
        kind = grading.KIND_OF_DOMAIN[domain]
        setattr(results, attr, runner.call(attr, grading.GRADERS[kind], domains[domain], first_dose=first_dose,
                                           **study.options(kind)))
    if not {"lb", "vs", "eg"} & set(domains):
        results.unavailable["grading"] = "no LB, VS or EG domain in the study folder"


def _adverse_events(runner: _Runner, domains: dict[str, pd.DataFrame], cfg: Any) -> None:
    results = runner.results
    if "dm" not in domains:
        results.unavailable["population"] = "no DM domain in the study folder"
        return
    results.population = runner.call("population", endpoints.safety_population, domains["dm"],
                                     domains.get("ex"), cfg)
    if "ae" not in domains:
        results.unavailable["ae"] = "no AE domain in the study folder"
        return
    ae = runner.call("ae_validation", ae_checks.validate_ae, domains["ae"])
    if ae is None:  # without term validation the grade is read from AETOXGR as reported
        ae = domains["ae"]
    results.ae = runner.call("ae", endpoints.flag_ae, ae, domains["dm"], domains.get("ex"), cfg)
    if results.ae is None or results.population is None:
        return
    results.participants = runner.call("participants", endpoints.participant_ae_flags, results.ae,
                                       results.population)
    primary = runner.call("primary", endpoints.primary_endpoint, results.ae, results.population)
    if primary is not None:
        results.tables["PRIMARY"] = primary
        first = primary.iloc[[0]].copy()
        first["label"] = (f"participants with a treatment-related AE (CTCAE v{results.meta['ctcae_version']}) "
                          f"within {cfg.treatment_emergent.window_days} days of infusion")
        first["ci_method"] = "exact Clopper-Pearson"
        results.primary = first.reset_index(drop=True)
    overview = runner.call("AET01", endpoints.ae_overview, results.ae, results.population)
    if overview is not None:
        results.tables["AET01"] = overview


def _cart_toxicity(runner: _Runner, domains: dict[str, pd.DataFrame]) -> None:
    results = runner.results
    if "xc" not in domains:
        results.unavailable["xc"] = "no XC (CAR-T toxicity observations) domain in the study folder"
        return
    checked = runner.call("DQ08", cart.check_xc, domains["xc"])
    if checked is not None:
        results.tables["DQ08"] = _xc_unusable(checked)
    dm = domains.get("dm")
    results.crs = runner.call("crs", cart.grade_crs, domains["xc"], dm)
    results.icans = runner.call("icans", cart.grade_icans, domains["xc"], dm)
    found = []
    for name, graded in (("CRS", results.crs), ("ICANS", results.icans)):
        if graded is None:
            continue
        eps = runner.call(name.lower(), cart.episodes, graded)
        if eps is not None:
            found.append(eps.assign(syndrome=name))
            results.tables[f"{name}_EPISODES"] = eps
    ae = results.ae if results.ae is not None else domains.get("ae")
    if results.crs is not None and ae is not None:
        side = runner.call("CRS01", cart.crs_vs_ctcae, results.crs, ae, dm)
        if side is not None:
            results.tables["CRS01"] = side
    if found and results.population is not None:
        kept = [frame for frame in found if not frame.empty]  # an empty episode frame adds no row
        eps = pd.concat(kept, ignore_index=True) if kept else found[0]
        for table_id, build in (("CRST01", tables.crs_icans_incidence), ("CRST02", tables.crs_icans_timing)):
            table = runner.call(table_id, build, eps, results.population)
            if table is not None:
                results.tables[table_id] = table


def _xc_unusable(checked: pd.DataFrame) -> pd.DataFrame:
    """DQ08: the XC rows ``cart.check_xc`` found unusable (not a full date and time, no participant, unknown test)."""
    bad = checked[~checked["valid"].fillna(False).astype(bool)]
    out = pd.DataFrame({"Participant": bad["usubjid"], "Date": bad["dtc"], "Test": bad["testcd"],
                        "Value": columns.join_texts(bad["value"], bad["unit"].astype("string"), sep=" "),
                        "Reason": bad["reason"].astype("string")}).reset_index(drop=True)
    out.attrs.update(empty="Every XC (CRS / ICANS) row could be used for ASTCT 2019 grading.",
                     note="These rows were left out of the CRS and ICANS grading, each with the reason.")
    return out


# CRS01 comparisons that are not a discrepancy (nothing to reconcile)
_CRS_AGREE = {"same grade", "no CRS", "no XC assessment, no CRS AE"}


def _reconcile(runner: _Runner) -> None:
    """Reported AE grades against the grades derived from labs, vital signs and ECG (``ae.reconcile``, one call per
    domain: each CTCAE term is graded from one domain), plus the CRS AEs that disagree with ASTCT 2019 (CRS01)."""
    results = runner.results
    if results.ae is None or "ctcae_term" not in results.ae.columns:
        results.unavailable["DQ04"] = "AE terms were not validated, so reported grades cannot be compared"
        return
    parts = []
    for domain, graded in (("LB", results.labs), ("VS", results.vitals), ("EG", results.ecg)):
        if graded is not None:
            found = runner.call("DQ04", ae_checks.reconcile, results.ae, graded)
            if found is not None and len(found):
                parts.append(found.assign(domain=domain))
    crs = results.tables.get("CRS01")
    if crs is not None:
        differ = crs[~crs["comparison"].isin(_CRS_AGREE)]
        parts.append(pd.DataFrame({
            "type": "CRS_ASTCT_VS_AE", "usubjid": differ["usubjid"], "term": "Cytokine release syndrome",
            "reported_grade": differ["ctcae_grade"], "derived_grade": differ["astct_grade"],
            "ae_start": dtc_bounds(differ["ae_start"])["earliest"],
            "evidence": ("ASTCT 2019 grade " + differ["astct_grade"].astype("string").fillna("not assessed") + " ("
                         + differ["astct_drivers"].astype("string").fillna("") + "): " + differ["comparison"]),
            "detail": differ["comparison"], "domain": "XC"}))
    if not parts:
        results.reconciliation = pd.DataFrame(columns=["type", "usubjid", "term", "domain"])
        return
    out = pd.concat(parts, ignore_index=True)
    results.reconciliation = out.sort_values(["usubjid", "domain", "type"], kind="stable").reset_index(drop=True)


def _eligibility(runner: _Runner, domains: dict[str, pd.DataFrame], cfg: Any) -> None:
    """Screening-lab eligibility (analyse.eligibility): ELIG01 lists the participants who failed a criterion."""
    results = runner.results
    if "lb" not in domains or "dm" not in domains:
        results.unavailable["ELIG01"] = "needs the LB and DM domains"
        return
    people = domains["dm"]["USUBJID"].astype("string").str.strip()
    screen = runner.call("ELIG01", eligibility.eligibility_screen, domains["lb"], cfg, people)
    if screen is None:
        return
    results.tables["ELIG_SCREEN"] = screen
    summary = runner.call("ELIG01", eligibility.eligibility_summary, screen)
    if summary is None:
        return
    failed = summary.loc[~summary["eligible"].astype(bool), ["usubjid", "n_failed", "failed"]]
    failed = failed.rename(columns={"usubjid": "Participant", "n_failed": "Criteria not met", "failed": "Details"})
    failed = failed.reset_index(drop=True)
    failed.attrs.update(empty="Every participant met every laboratory eligibility criterion at screening.",
                        note=f"{int(summary['eligible'].sum())} of {len(summary)} participants met every laboratory "
                             "criterion of the study configuration at screening.")
    results.tables["ELIG01"] = failed


def _efficacy(runner: _Runner, domains: dict[str, pd.DataFrame], cfg: Any) -> None:
    """ORR, PFS and CAR-T persistence (ctcae_engine.analyse.efficacy)."""
    results = runner.results
    pop = results.population
    if pop is None:
        return
    if "rs" in domains:
        results.bor = runner.call("ORR01", efficacy.best_overall_response, domains["rs"], pop, cfg)
        if results.bor is not None:
            _store(results, "ORR01", runner.call("ORR01", efficacy.orr_table, results.bor))
        results.pfs = runner.call("PFS01", efficacy.pfs_data, domains["rs"], pop, cfg)
        if results.pfs is not None:
            _store(results, "PFS01", runner.call("PFS01", efficacy.pfs_summary, results.pfs, cfg))
    else:
        results.unavailable["rs"] = "no RS domain in the study folder"
    if "pc" in domains:
        results.cart_levels = runner.call("PERS01", efficacy.cart_samples, domains["pc"], pop, cfg)
        if results.cart_levels is not None:
            levels = results.cart_levels
            _store(results, "PERS01", runner.call("PERS01", efficacy.persistence_at_target, levels, pop, cfg))
            _store(results, "PERS02", runner.call("PERS02", efficacy.persistence_over_time, levels, cfg))
    else:
        results.unavailable["pc"] = "no PC (CAR-T cellular kinetics) domain in the study folder"


def _figures(runner: _Runner, cfg: Any) -> None:
    """SVG figures of report.figures, fed from the derived frames; a missing input leaves the figure out."""
    results = runner.results
    pop, ae = results.population, results.ae

    def add(key: str, draw: Callable[..., str], *args: Any, **kwargs: Any) -> None:
        svg = runner.call(key, draw, *args, **kwargs)
        if isinstance(svg, str) and svg:
            results.figures[key] = svg

    te_ae = None
    if ae is not None and "ctcae_term" in ae.columns:
        te_ae = ae.loc[ae["trtemfl"].astype(bool)].assign(usubjid=columns.raw(ae, "USUBJID").str.strip())
        add("ae_heatmap", figures.ae_heatmap, te_ae)
    if pop is not None:
        saf = pop.loc[pop["saffl"].astype(bool) & pop["infdt"].notna()].copy()
        cutoff = pd.Timestamp(results.meta["data_cutoff"]) if results.meta["data_cutoff"] != "not given" else None
        end = saf["dthdt"].fillna(cutoff if cutoff is not None else saf["infdt"])
        swim = pd.DataFrame({"usubjid": saf["usubjid"], "days_on_study": (end - saf["infdt"]).dt.days,
                             "death": _died(saf), "ongoing": ~_died(saf)})
        response = None
        if results.bor is not None:
            swim["best_response"] = swim["usubjid"].map(results.bor.set_index("usubjid")["bor"])
        if "rs" in results.domains:
            rs = runner.call("swimmer", efficacy.response_assessments, results.domains["rs"], pop,
                             cfg.response.evaluator)
            if rs is not None:
                response = rs.rename(columns={"resp": "response"})
        add("swimmer", figures.swimmer_plot, swim, te_ae, response)
        if results.labs is not None:
            add("lab_trajectories", figures.lab_trajectories, results.labs, day0=pop.set_index("usubjid")["infdt"])
    if results.pfs is not None:
        pfs = results.pfs.dropna(subset=["time_days"])
        add("km_pfs", figures.km_plot, durations=pfs["time_days"] / 30.4375, events=pfs["event"].astype(bool),
            time_unit="months")
    if results.cart_levels is not None:
        add("persistence", figures.cart_persistence, results.cart_levels, lloq=cfg.persistence.lloq,
            unit=cfg.persistence.unit)


def _store(results: StudyResults, table_id: str, table: pd.DataFrame | None) -> None:
    if table is not None:
        results.tables[table_id] = table


def _summary_tables(runner: _Runner, cfg: Any) -> None:
    """SOC/PT tables and lab shift tables of ctcae_engine.analyse.safety_tables."""
    results = runner.results
    if results.ae is not None and results.population is not None:
        for table_id, related in (("AET04_TEAE", False), ("AET04_TRAE", True)):
            table = runner.call(table_id, tables.ae_soc_pt_table, results.ae, results.population,
                                related=related)
            if table is not None:
                results.tables[table_id] = table
    if results.labs is not None:
        for table_id, build in (("LBT14", tables.lab_shift_table), ("LBT07", tables.lab_grade3_table)):
            _store(results, table_id, runner.call(table_id, build, results.labs, results.population, cfg))


def _vitals_ecg(runner: _Runner, cfg: Any) -> None:
    """VSEG01: participants by worst post-baseline CTCAE grade per vital-sign / ECG term (from the shift table of
    ``tables.lab_shift_table``, same baseline and treatment-emergent window as the labs); VSEG02: the worst
    record of each participant and term at grade >= 2."""
    results = runner.results
    graded = [(d, f) for d, f in (("VS", results.vitals), ("EG", results.ecg)) if f is not None]
    if not graded:
        results.unavailable["vseg"] = "no graded VS or EG domain"
        return
    both = pd.concat([f for _, f in graded], ignore_index=True)
    shift = runner.call("VSEG01", tables.lab_shift_table, both, results.population, cfg)
    if shift is not None:
        counts = shift.pivot_table(index=["term", "direction"], columns="worst_grade", values="n", aggfunc="sum",
                                   fill_value=0, observed=True)
        counts.columns = [f"Worst {c}" for c in counts.columns]
        counts.insert(0, "Participants", counts.sum(axis=1))
        high = [c for c in counts.columns if c in ("Worst 3", "Worst 4", "Worst 5")]
        counts["Grade >= 3"] = counts[high].sum(axis=1) if high else 0
        counts = counts.reset_index().rename(columns={"term": "CTCAE term", "direction": "Direction"})
        counts.attrs.update(empty="No graded vital-sign or ECG record after baseline.",
                            note="Participants counted once per term at their worst post-baseline grade in the "
                                 "treatment-emergent window (baseline as for the labs). Fever, Hypertension, Weight "
                                 "loss/gain and Hypoxia from VS; QTc prolonged from EG.")
        results.tables["VSEG01"] = counts
    parts = []
    for domain, frame in graded:
        for direction in ("low", "high"):
            part = pd.DataFrame({"Participant": frame["usubjid"], "Source": domain,
                                 "CTCAE term": frame[f"term_{direction}"], "Grade": frame[f"grade_{direction}"],
                                 "adt": frame["adt"], "Test": frame["testcd"], "Value": frame["value_si"],
                                 "Unit": frame["unit_si"], "Rule": frame["rule"]})
            parts.append(part[part["Grade"].ge(2).fillna(False).to_numpy(dtype=bool)
                              & ~frame["baseline"].fillna(False).to_numpy(dtype=bool)])
    worst = pd.concat(parts, ignore_index=True)
    pop = results.population
    bounds = tables._window_bounds(pop, cfg) if pop is not None else None
    if bounds is not None and len(worst):  # the window of VSEG01 (and the labs): undated rows are kept
        win = worst[["Participant"]].join(bounds, on="Participant")
        inside = worst["adt"].isna() | (worst["adt"].ge(win["win_start"]) & worst["adt"].le(win["win_end"])).fillna(
            False)
        worst = worst[inside.to_numpy(dtype=bool)]
    worst = worst.sort_values(["Participant", "CTCAE term", "Grade", "adt"], ascending=[True, True, False, True],
                              kind="stable").drop_duplicates(["Participant", "CTCAE term"])
    worst.insert(4, "Date", worst.pop("adt").dt.strftime("%Y-%m-%d").astype("string").fillna("not dated"))
    worst = worst.reset_index(drop=True)
    worst.attrs.update(empty="No vital-sign or ECG grade >= 2 after baseline in the treatment-emergent window.",
                       note="One row per participant and term: the worst post-baseline record (earliest if tied).")
    results.tables["VSEG02"] = worst


def _ae_view(ae: pd.DataFrame) -> pd.DataFrame:
    """The flagged AE frame reduced to the columns listings need, with readable names."""
    grade = endpoints.ae_grade(ae)
    term = columns.raw(ae, "ctcae_term").fillna(columns.raw(ae, "AEDECOD")).fillna(columns.raw(ae, "AETERM"))
    onset = ae["astdt"].dt.strftime("%Y-%m-%d").astype("string")
    imputed = ae["astdt_imputed"].astype("string").fillna("")
    onset = onset.where(imputed.eq(""), onset + " (imputed " + imputed + ")")
    return pd.DataFrame(
        {
            "Participant": columns.raw(ae, "USUBJID", "usubjid"),
            "CTCAE term": term,
            "Grade": pd.array(grade, dtype="Int64"),
            "Onset": onset,
            "Day": ae["ady"].astype("Int64"),
            "SOC": columns.raw(ae, "AEBODSYS"),
            "Serious": columns.text(ae, "AESER", upper=True),
            "Related CAR-T": ae["related_cart"].astype(bool),
            "Related LD": ae["related_ld"].astype(bool),
            "Outcome": columns.raw(ae, "AEOUT"),
            "Verbatim": columns.raw(ae, "AETERM"),
        },
        index=ae.index,
    )


def _listings(ae: pd.DataFrame) -> dict[str, pd.DataFrame]:
    view = _ae_view(ae)
    order = ["Participant", "Onset", "CTCAE term"]
    g3 = view[ae["trtemfl"].to_numpy(dtype=bool) & view["Grade"].ge(3).fillna(False).to_numpy(dtype=bool)]
    g3 = g3.sort_values(order, kind="stable").reset_index(drop=True)
    g3.attrs.update(empty="No treatment-emergent AE of grade 3 or higher.",
                    note="Onset: imputed dates are flagged (D = day, M = month and day, Y = whole date imputed). "
                         "Day: days from CAR-T infusion (day 0). LD: lymphodepletion.")
    sae = view[view["Serious"].eq("Y").fillna(False).to_numpy(dtype=bool)].copy()
    sae.insert(5, "Treatment-emergent", ae.loc[sae.index, "trtemfl"].astype(bool))
    sae = sae.sort_values(order, kind="stable").reset_index(drop=True)
    sae.attrs.update(empty="No serious AE in the data.", note="All serious AEs in the data, treatment-emergent or not.")
    return {"AEL_G3": g3, "AEL_SAE": sae}


def _died(population: pd.DataFrame) -> pd.Series:
    """Participants who died: a death date, or DTHFL = Y without a usable date (endpoints.safety_population)."""
    flag = population["dthfl"] if "dthfl" in population.columns else False
    return (population["dthdt"].notna() | flag).astype(bool)


def _deaths(population: pd.DataFrame, ae: pd.DataFrame | None) -> pd.DataFrame:
    cols = [c for c in ("usubjid", "dthdt", "infdt", "dthdt_imputed", "dth_reason") if c in population.columns]
    dead = population.loc[_died(population), cols]
    fatal = pd.DataFrame(columns=["usubjid", "cause", "related"])
    if ae is not None:
        view = _ae_view(ae)
        rows = view[endpoints.is_fatal(ae).to_numpy(dtype=bool)]
        related = ae.loc[rows.index, "related"].astype(bool)
        fatal = pd.DataFrame({"usubjid": rows["Participant"].str.strip(), "cause": rows["CTCAE term"].fillna("?"),
                              "related": related}).groupby("usubjid", as_index=False).agg(
            cause=("cause", lambda s: "; ".join(sorted(set(s)))), related=("related", "max"))
    out = dead.merge(fatal, on="usubjid", how="outer")
    out = pd.DataFrame(
        {
            "Participant": out["usubjid"],
            "Date of death": out["dthdt"].dt.strftime("%Y-%m-%d"),
            "Date imputed": out.get("dthdt_imputed", pd.Series("", index=out.index)).fillna(""),
            "Day": (out["dthdt"] - out["infdt"]).dt.days.astype("Int64"),
            "Fatal AE (CTCAE term)": out["cause"].fillna("no fatal AE recorded"),
            "Related to treatment": out["related"].astype("boolean"),
        }
    ).sort_values("Participant", kind="stable").reset_index(drop=True)
    out.attrs.update(empty="No death in the data.",
                     note="Deaths from DM (DTHDTC, DTHFL) and AEs with grade 5, AESDTH = Y or outcome FATAL. "
                          "Day: days from CAR-T infusion. Date imputed: D = day, M = month and day imputed from a "
                          "partial DTHDTC (earliest possible day, not before the last known alive date); Y = "
                          "DTHFL = Y without a usable date.")
    return out


def _disposition(population: pd.DataFrame) -> pd.DataFrame:
    infused = population["saffl"].astype(bool)
    lymphodepleted = population["ldstdt"].notna()
    rows = [
        ("Enrolled (in DM)", len(population)),
        ("Lymphodepleted", int(lymphodepleted.sum())),
        ("Not infused (screen failure or withdrawn before infusion)", int((~infused).sum())),
        ("Lymphodepleted but not infused", int((lymphodepleted & ~infused).sum())),
        ("Infused with CAR-T cells (safety population)", int(infused.sum())),
        ("Died", int(_died(population).sum())),
    ]
    out = pd.DataFrame(rows, columns=["Status", "Participants"])
    out.attrs["note"] = "The safety population (denominator N of the AE tables) is every participant infused."
    return out


def _exposure(ex: pd.DataFrame) -> pd.DataFrame:
    dose = pd.to_numeric(columns.raw(ex, "EXDOSE").str.strip(), errors="coerce")
    frame = pd.DataFrame({"Treatment": columns.text(ex, "EXTRT", upper=True), "usubjid": columns.raw(ex, "USUBJID"),
                          "dose": dose, "Unit": columns.raw(ex, "EXDOSU")})
    out = frame.groupby("Treatment", dropna=False, sort=True).agg(
        Participants=("usubjid", "nunique"), Administrations=("usubjid", "size"), **{
            "Median dose": ("dose", "median"), "Min dose": ("dose", "min"), "Max dose": ("dose", "max")},
        Unit=("Unit", lambda s: ", ".join(sorted(set(s.dropna())))),
    ).reset_index()
    out.attrs["note"] = "Doses as recorded in EX (EXDOSE, EXDOSU); one row per administration counted."
    return out


def _first_of(values: pd.Series, k: int) -> str:
    """Up to ``k`` distinct values, sorted, joined; '...' when there are more."""
    distinct = sorted(set(values.dropna()))
    return ", ".join(distinct[:k]) + (f" ... ({len(distinct)} distinct)" if len(distinct) > k else "")


def _data_quality(results: StudyResults) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    parts = []
    for domain, frame in (("LB", results.labs), ("VS", results.vitals), ("EG", results.ecg)):
        if frame is None or "grade" not in frame.columns:
            continue
        bad = frame[frame["grade"].isna()]
        value = columns.raw(bad, f"{domain}ORRES", f"{domain}STRESC").fillna("")
        unit = columns.raw(bad, f"{domain}ORRESU", f"{domain}STRESU").fillna("")
        parts.append(pd.DataFrame({"Domain": domain, "Participant": bad["usubjid"].astype("string"),
                                   "Test": bad["testcd"].astype("string"), "Date": bad["dtc"].astype("string"),
                                   "Result": (value + " " + unit).str.strip(),
                                   "Reason": bad["reason"].astype("string")}))
    if parts:
        ungraded = pd.concat(parts, ignore_index=True)
        ungraded["Reason"] = ungraded["Reason"].replace("", pd.NA).fillna("no reason given by the grader")
        counts = ungraded.groupby(["Domain", "Reason"], sort=True).size().rename("Rows").reset_index()
        counts.attrs["empty"] = "Every lab, vital-sign and ECG row was graded."
        keys = ["Domain", "Test", "Reason"]
        grouped = ungraded.fillna({"Date": "", "Participant": ""}).groupby(keys, sort=True, dropna=False).agg(
            Rows=("Result", "size"), Participants=("Participant", "nunique"),
            **{"Participant IDs": ("Participant", lambda p: _first_of(p, 3))},
            First=("Date", "min"), Last=("Date", "max"), Results=("Result", lambda r: _first_of(r, 3)),
        ).reset_index()
        grouped.attrs.update(empty="Every lab, vital-sign and ECG row was graded.",
                             note="Rows sharing domain, test and reason are grouped (rows, participants, first and "
                                  "last date, up to 3 participants and 3 distinct results); every row, with its "
                                  "reason, is in ungraded_rows.csv next to the report.")
        tables["DQ01"], tables["DQ02"], tables["DQ02_ROWS"] = counts, grouped, ungraded
    ae = results.ae
    if ae is not None and "valid" in ae.columns:
        bad = ae[~ae["valid"].fillna(False).astype(bool)]
        invalid = pd.DataFrame({"Participant": columns.raw(bad, "USUBJID"),
                                "Reported term": columns.raw(bad, "AEDECOD"), "Verbatim": columns.raw(bad, "AETERM"),
                                "Reported grade": columns.raw(bad, "AETOXGR"),
                                "Issue": columns.raw(bad, "issue")}).reset_index(drop=True)
        invalid.attrs["empty"] = "Every AE term and grade is valid CTCAE v4.03."
        tables["DQ03"] = invalid
    if ae is not None and "flag_issue" in ae.columns:
        issue = ae["flag_issue"].astype("string").fillna("")
        rows = ae[issue.ne("")]
        assumed = pd.DataFrame({"Participant": columns.raw(rows, "USUBJID"), "Term": columns.raw(rows, "AEDECOD"),
                                "Onset as given": columns.raw(rows, "AESTDTC"), "Assumption": issue[issue.ne("")]})
        assumed = assumed.reset_index(drop=True)
        assumed.attrs["empty"] = "No AE needed an assumption (all dates complete, relationships mapped)."
        tables["DQ05"] = assumed
    if results.reconciliation is not None:
        tables["DQ04"] = _discrepancies(results.reconciliation)
    if results.excluded is not None:
        late = cutoff_summary(results.excluded)
        late.attrs.update(empty=f"No record is dated after the data cut-off {results.meta['data_cutoff']}.",
                          note="These records were left out of every table, listing and figure. Partial dates that "
                               "may fall on or before the cut-off (e.g. 2025-06 for 2025-06-30) are kept; every "
                               "excluded record is in excluded_after_cutoff.csv next to the report.")
        tables["DQ06"] = late
    return tables


def _discrepancies(found: pd.DataFrame) -> pd.DataFrame:
    """ae.reconcile rows (and CRS01 disagreements) for reading."""
    found = found.reindex(columns=[*ae_checks.RECONCILE_COLUMNS, "domain"])

    def day(column: str) -> pd.Series:
        return pd.to_datetime(found[column], errors="coerce").dt.strftime("%Y-%m-%d").astype("string")

    first, last = day("obs_first"), day("obs_last")
    span = first.where(first.eq(last).fillna(False) | last.isna(), first + " to " + last)
    out = pd.DataFrame({
        "Participant": found["usubjid"].astype("string"), "Source": found["domain"],
        "Discrepancy": found["type"], "CTCAE term": found["term"].astype("string"),
        "Reported grade": pd.array(found["reported_grade"], dtype="Int64"),
        "Derived grade": pd.array(found["derived_grade"], dtype="Int64"),
        "AE onset": day("ae_start"), "AE end": day("ae_end"), "Observations": span,
        "n obs": pd.array(found["n_obs"], dtype="Int64"),
        "Worst evidence": found["evidence"].astype("string").fillna(""),
    }).reset_index(drop=True)
    legend = "; ".join(f"{code}: {text}" for code, text in ae_checks.DISCREPANCY_TYPES.items()
                       if code in set(found["type"]))
    out.attrs.update(
        empty="No discrepancy between the reported AE grades and the grades derived from the observations.",
        note=f"{legend + '. ' if legend else ''}Reported AEs against grades derived from labs (LB), vital signs "
             "(VS) and ECG (EG) in the AE window +/- 3 days; MISSING_AE needs a value that alone reaches grade "
             ">= 3. XC: the CRS AE grade against ASTCT 2019 (the AE form's CTCAE v4.03 CRS grade is a different "
             "scale: a query, not an error). CTCAE grades that need clinical information (e.g. Hypokalemia grade "
             "2, symptomatic) are derived as the worse grade; a reported grade the value alone also fits is "
             "GRADE_NEEDS_CONTEXT: it asks whether the clinical criterion was met.")
    return out


def _rules_applied(results: StudyResults) -> pd.DataFrame | None:
    parts = [f[["rule"]].assign(Domain=d) for d, f in (("LB", results.labs), ("VS", results.vitals),
                                                       ("EG", results.ecg)) if f is not None and "rule" in f]
    if not parts:
        return None
    rules = pd.concat(parts, ignore_index=True)
    rules = rules[rules["rule"].astype("string").fillna("").ne("")]
    out = rules.groupby(["Domain", "rule"], sort=True).size().rename("Rows").reset_index()
    return out.rename(columns={"rule": "CTCAE rule (text of the criterion)"})


def _own_tables(results: StudyResults, cfg: Any) -> dict[str, pd.DataFrame]:
    """Listings, disposition, exposure, data quality and rules applied: selections of the derived frames."""
    tables: dict[str, pd.DataFrame] = {}
    if results.population is not None:
        tables["DISP01"] = _disposition(results.population)
        tables["DTHL01"] = _deaths(results.population, results.ae)
    if "ex" in results.domains:
        tables["EXP01"] = _exposure(results.domains["ex"])
    if results.ae is not None and "trtemfl" in results.ae.columns:
        tables.update(_listings(results.ae))
    tables.update(_data_quality(results))
    rules = _rules_applied(results)
    if rules is not None:
        tables["METH01"] = rules
    return tables


def headline(results: StudyResults) -> pd.DataFrame:
    """Executive-summary measures: key, n participants, N, events, note (one row per available measure)."""
    rows = []
    facts, ae = results.participants, results.ae
    if facts is not None and ae is not None:
        total = len(facts)
        te = ae["trtemfl"].astype(bool)
        rel = te & ae["related"].astype(bool)
        g3 = endpoints.ae_grade(ae).ge(3).fillna(False).astype(bool)
        serious = columns.text(ae, "AESER", upper=True).eq("Y").fillna(False).astype(bool)
        for key, flag, events, note in (
            ("teae", "teae", te, ""),
            ("trae", "trae", rel, ""),
            ("trae_g3", "trae_g3", rel & g3, ""),
            ("sae", "teae_serious", te & serious, "treatment-emergent"),
        ):
            rows.append({"key": key, "n": int(facts[flag].sum()), "N": total, "events": int(events.sum()),
                         "note": note})
    if results.population is not None:
        listing = results.tables.get("DTHL01")  # DM deaths and fatal AEs: the headline counts what the listing shows
        died = int(listing["Participant"].nunique()) if listing is not None else int(_died(results.population).sum())
        rows.append({"key": "deaths", "n": died, "N": len(results.population), "events": died,
                     "note": "any cause, all enrolled participants"})
    pop = results.population
    for key in ("crs", "icans"):
        eps = results.tables.get(f"{key.upper()}_EPISODES")
        if eps is None or pop is None:
            continue
        safety = pop.loc[pop["saffl"].astype(bool), "usubjid"]
        eps = eps[eps["usubjid"].isin(safety)]
        worst = eps.groupby("usubjid")["max_grade"].max()
        for suffix, floor in (("", 1), ("_g3", 3)):
            rows.append({"key": key + suffix, "n": int(worst.ge(floor).sum()), "N": len(safety),
                         "events": int(eps["max_grade"].ge(floor).sum()), "note": "events = episodes"})
    return pd.DataFrame(rows, columns=["key", "n", "N", "events", "note"])
