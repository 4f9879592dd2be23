"""The derivation stages of :func:`ctcae_engine.run.pipeline.run_study`: each calls the domain functions that own
its frames and stores them on the ``StudyResults``; an absent domain is recorded as the reason the stage's outputs
are unavailable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ctcae_engine.analyse import efficacy as efficacy_
from ctcae_engine.analyse import eligibility as eligibility_
from ctcae_engine.analyse import endpoints
from ctcae_engine.analyse.reconciliation import combine_discrepancies, crs_discrepancies, in_scope
from ctcae_engine.grade import ae as ae_checks
from ctcae_engine.grade import cart, findings
from ctcae_engine.grade.febrile_neutropenia import febrile_neutropenia
from ctcae_engine.read.fields import DM


class Runner:
    """Calls the domain functions of a run: an error is recorded for its stage (raised when strict)."""

    def __init__(self, results: Any, strict: bool) -> None:
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

    def missing(self, stage: str, reason: str) -> None:
        self.results.unavailable[stage] = reason


def grade(runner: Runner) -> None:
    results, domains = runner.results, runner.results.domains
    for attr, domain in (("labs", "lb"), ("vitals", "vs"), ("ecg", "eg")):
        if domain not in domains:
            runner.missing(attr, f"no {domain.upper()} domain in the study folder")
            continue
        kind = findings.KIND_OF_DOMAIN[domain]  # baseline = last value on/before infusion when none is flagged
        setattr(results, attr, runner.call(attr, findings.GRADERS[kind], domains[domain], first_dose=domains.get("dm"),
                                           **results.config.grading.options(kind)))
    if not {"lb", "vs", "eg"} & set(domains):
        runner.missing("grading", "no LB, VS or EG domain in the study folder")
    if results.vitals is None and results.ecg is None:
        runner.missing("vseg", "no graded VS or EG domain")
    if results.labs is not None and results.vitals is not None:  # terms derived from two domains (docs/grading.md)
        options = results.config.grading
        results.derived = runner.call("derived", febrile_neutropenia, results.labs, results.vitals,
                                      options.febrile_neutropenia_pair_h, options.fever_max_gap_h)
    else:
        runner.missing("derived", "Febrile neutropenia needs graded LB and VS domains")


def adverse_events(runner: Runner) -> None:
    results, domains, cfg = runner.results, runner.results.domains, runner.results.config
    if "dm" not in domains:
        runner.missing("population", "no DM domain in the study folder")
        return
    results.population = runner.call("population", endpoints.safety_population, domains["dm"], domains.get("ex"),
                                     cfg.treatment)
    if "ae" not in domains:
        runner.missing("ae", "no AE domain in the study folder")
        return
    if results.population is None:
        runner.missing("ae", "the safety population could not be derived (see the population stage)")
        return
    ae = runner.call("ae_validation", ae_checks.validate_ae, domains["ae"])
    ae = domains["ae"] if ae is None else ae  # without term validation the grade is read from AETOXGR as reported
    results.ae = runner.call("ae", endpoints.flag_ae, ae, results.population, cfg.treatment_emergent,
                             cfg.relationship)
    if results.ae is None:
        return
    results.participants = runner.call("participants", endpoints.participant_ae_flags, results.ae, results.population)
    primary = runner.call("primary", endpoints.primary_endpoint, results.ae, results.population)
    if primary is not None:
        first = primary.iloc[[0]].copy()
        first["label"] = (f"participants with a treatment-related AE (CTCAE v{results.meta['ctcae_version']}) "
                          f"within {cfg.treatment_emergent.window_days} days of infusion")
        first["ci_method"] = "exact Clopper-Pearson"
        results.primary = first.reset_index(drop=True)


def cart_toxicity(runner: Runner) -> None:
    results, domains = runner.results, runner.results.domains
    if "xc" not in domains:
        runner.missing("xc", "no XC (CAR-T toxicity observations) domain in the study folder")
        return
    dm, options = domains.get("dm"), results.config.cart
    results.crs = runner.call("crs", cart.grade_crs, domains["xc"], dm, domains.get("cm"), options.vasopressors)
    results.icans = runner.call("icans", cart.grade_icans, domains["xc"], dm)
    gap = options.episode_max_missing_days
    found = []
    for name, graded in (("crs", results.crs), ("icans", results.icans)):
        eps = runner.call(name, cart.episodes, graded, gap) if graded is not None else None
        setattr(results, f"{name}_episodes", eps)
        if eps is not None:
            found.append(eps.assign(syndrome=name.upper()))
    ae = results.ae if results.ae is not None else domains.get("ae")
    if results.crs is not None and ae is not None:
        results.crs_vs_ae = runner.call("CRS01", cart.crs_vs_ctcae, results.crs, ae, dm, gap)
    kept = [frame for frame in found if not frame.empty]  # an empty episode frame adds no row
    results.episodes = pd.concat(kept, ignore_index=True) if kept else found[0] if found else None


def eligibility(runner: Runner) -> None:
    """Screening-lab eligibility of every participant in DM (:mod:`ctcae_engine.analyse.eligibility`)."""
    results, domains = runner.results, runner.results.domains
    if "lb" not in domains or "dm" not in domains:
        runner.missing("ELIG01", "needs the LB and DM domains")
        return
    people = DM.subjects(domains["dm"])
    results.eligibility = runner.call("ELIG01", eligibility_.eligibility_screen, domains["lb"],
                                      results.config.eligibility, people)


def efficacy(runner: Runner) -> None:
    """Best overall response, PFS data, every response assessment and CAR-T levels
    (:mod:`ctcae_engine.analyse.efficacy`)."""
    results = runner.results
    domains, cfg, pop = results.domains, results.config, results.population
    if pop is None:
        return
    if "rs" in domains:
        results.bor = runner.call("ORR01", efficacy_.best_overall_response, domains["rs"], pop, cfg.response,
                                  data_cutoff=cfg.study.data_cutoff)
        results.pfs = runner.call("PFS01", efficacy_.pfs_data, domains["rs"], pop, cfg.pfs,
                                  data_cutoff=cfg.study.data_cutoff)
        results.responses = runner.call("swimmer", efficacy_.response_assessments, domains["rs"], pop,
                                        cfg.response.evaluator)
    else:
        runner.missing("rs", "no RS domain in the study folder")
    if "pc" in domains:
        results.cart_levels = runner.call("PERS01", efficacy_.cart_samples, domains["pc"], pop, cfg.persistence)
    else:
        runner.missing("pc", "no PC (CAR-T cellular kinetics) domain in the study folder")


def reconcile(runner: Runner) -> None:
    """Reported AE grades against the grades derived from LB, VS, EG and the ASTCT CRS grade (DQ04)."""
    results = runner.results
    if results.ae is None or "ctcae_term" not in results.ae.columns:
        runner.missing("DQ04", "AE terms were not validated, so reported grades cannot be compared")
        return
    parts = []
    for domain, graded in (("LB", results.labs), ("VS", results.vitals), ("EG", results.ecg)):
        found = runner.call("DQ04", ae_checks.reconcile, results.ae, graded) if graded is not None else None
        if found is not None and len(found):  # one domain failing leaves the others reconciled
            parts.append(found.assign(domain=domain))
    if results.crs_vs_ae is not None:
        parts.append(crs_discrepancies(results.crs_vs_ae))
    results.reconciliation = in_scope(combine_discrepancies(parts), results.population,
                                      results.config.treatment_emergent)
