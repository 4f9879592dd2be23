"""The DSMB safety report: study folder + config -> HTML, PDF, a summary JSON and what is new since the last run.

``summary.json`` (written next to the report) holds the headline numbers and, from schema 2, every
treatment-emergent AE, every lab / vital-sign / ECG observation of grade >= 3 and every death under a stable key
(independent of row order and of --SEQ numbering). The next run reads it back (``previous=``) and
:func:`compare_summaries` lists what is new: AEs, AEs whose grade rose, grade >= 3 observations and deaths
(``new_since_last_run.json`` and the executive summary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ctcae_engine.analyse import endpoints
from ctcae_engine.grade.ae import stack_directions
from ctcae_engine.read import columns
from ctcae_engine.report.context import MAX_ROWS, build_context
from ctcae_engine.report.render import AssetOnlyFetcher, render_html, render_pdf
from ctcae_engine.write.spreadsheet import write_csv

SUMMARY_NAME = "summary.json"
WHATS_NEW_NAME = "new_since_last_run.json"
HTML_NAME = "report.html"
PDF_NAME = "report.pdf"
EXCLUDED_NAME = "excluded_after_cutoff.csv"
SCHEMA = 2  # summary.json layout: 1 = headline and listing keys only; 2 = + aes, lab_g3, deaths (per-event detail)
DETAIL = ("aes", "lab_g3", "deaths")  # the per-event lists of a schema-2 summary
NO_DATE = "date unknown"
GRADED_DOMAINS = (("LB", "labs"), ("VS", "vitals"), ("EG", "ecg"))  # graded frames of StudyResults

__all__ = ["compare_summaries", "read_summary", "render_html", "render_pdf", "summary_dict",
           "write_report", "AssetOnlyFetcher"]


def _json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON-ready dicts (missing -> None, numpy scalars -> Python), in the frame's order."""
    return json.loads(frame.to_json(orient="records", force_ascii=False)) if len(frame) else []


def _key(*parts: pd.Series) -> pd.Series:
    return parts[0].str.cat(list(parts[1:]), sep=" | ")


def _ae_records(results: Any) -> list[dict[str, Any]] | None:
    """Every treatment-emergent AE, one per key participant | term | onset date (worst grade, serious or related
    if any record of the key is); term = CTCAE term, else the reported AEDECOD / AETERM; onset as given (date part),
    else the analysis start date when not imputed, else "date unknown". None when the AEs were not flagged."""
    ae = results.ae
    if ae is None or "trtemfl" not in ae.columns:
        return None
    te = ae[ae["trtemfl"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    term = columns.text(te, "ctcae_term").fillna(columns.text(te, "AEDECOD")).fillna(columns.text(te, "AETERM"))
    onset = columns.text(te, "AESTDTC").str[:10]
    if "astdt" in te.columns:
        imputed = columns.text(te, "astdt_imputed").fillna("")
        known = pd.to_datetime(te["astdt"], errors="coerce").dt.strftime("%Y-%m-%d").astype("string")
        onset = onset.fillna(known.where(imputed.eq("")))
    related = te["related"].astype("boolean") if "related" in te.columns else pd.Series(pd.NA, index=te.index,
                                                                                          dtype="boolean")
    frame = pd.DataFrame({
        "usubjid": columns.text(te, "USUBJID", "usubjid").fillna("participant missing"),
        "term": term.fillna("term missing"),
        "onset": onset.fillna(NO_DATE),
        "grade": endpoints.ae_grade(te),
        "serious": columns.text(te, "AESER", upper=True).eq("Y").fillna(False).astype(bool),
        "related": related,
    })
    frame["key"] = _key(frame["usubjid"], frame["term"], frame["onset"])
    out = frame.groupby("key", sort=True).agg(usubjid=("usubjid", "first"), term=("term", "first"),
                                              onset=("onset", "first"), grade=("grade", "max"),
                                              serious=("serious", "max"), related=("related", "max"))
    return _json_records(out.reset_index())


def _lab_g3_records(results: Any) -> tuple[list[dict[str, Any]] | None, list[str]]:
    """Every lab / vital-sign / ECG observation of grade >= 3 (either direction), one per key participant | term |
    date (the worst grade kept; ties: first by domain and test code), and the domains that were graded."""
    parts, graded = [], []
    for domain, attr in GRADED_DOMAINS:
        frame = getattr(results, attr, None)
        if frame is None or not {"usubjid", "adt", "grade"} <= set(frame.columns):
            continue
        graded.append(domain)
        frame = frame[pd.to_numeric(frame["grade"], errors="coerce").ge(3).fillna(False).to_numpy(dtype=bool)]
        long = stack_directions(frame)  # grade = the worse direction: only those rows can have a direction >= 3
        long = long[long["grade"].ge(3).fillna(False).to_numpy(dtype=bool)]
        given = columns.text(frame, "dtc").str[:10].iloc[long["obs_pos"].to_numpy()].to_numpy()
        date = long["adt"].dt.strftime("%Y-%m-%d").astype("string").fillna(pd.Series(given, index=long.index,
                                                                                       dtype="string"))
        parts.append(pd.DataFrame({"domain": domain, "usubjid": long["usubjid"].fillna("participant missing"),
                                   "term": long["term"], "date": date.fillna(NO_DATE),
                                   "grade": long["grade"].astype("Int64"), "test": long["testcd"],
                                   "baseline": long["baseline"].astype(bool)}))
    if not graded:
        return None, []
    frame = pd.concat(parts, ignore_index=True)
    frame["key"] = _key(frame["usubjid"], frame["term"], frame["date"])
    frame = frame.sort_values(["key", "grade", "domain", "test"], ascending=[True, False, True, True],
                              kind="stable").drop_duplicates("key")
    return _json_records(frame[["key", "usubjid", "term", "date", "grade", "domain", "test", "baseline"]]), graded


def _death_records(results: Any) -> list[dict[str, Any]] | None:
    """Every death, keyed by participant: DM says so (``dthfl``, or a death date ``dthdt`` in the population frame)
    or a fatal AE (grade 5, AESDTH = Y or AEOUT = FATAL) was recorded, as in the DTHL01 listing. Read from the
    population and AE frames by their column names (never from the listing's display labels); date as
    YYYY-MM-DD or "date unknown", ``date_imputed`` as the population gives it, ``cause`` the fatal AE terms (or
    "no fatal AE recorded"). None when there is no population (no DM)."""
    pop = results.population
    if pop is None or "usubjid" not in pop.columns:
        return None
    date = pd.to_datetime(pop["dthdt"], errors="coerce") if "dthdt" in pop.columns else pd.Series(
        pd.NaT, index=pop.index, dtype="datetime64[ns]")
    flag = pop["dthfl"].astype("boolean").fillna(False) if "dthfl" in pop.columns else False
    dead = (date.notna() | flag).to_numpy(dtype=bool)
    deaths = pd.DataFrame({"usubjid": columns.text(pop, "usubjid")[dead],
                           "date": date[dead].dt.strftime("%Y-%m-%d").astype("string"),
                           "date_imputed": columns.text(pop, "dthdt_imputed")[dead]})
    fatal = pd.DataFrame(columns=["usubjid", "cause"])
    ae = results.ae
    if ae is not None and len(ae):
        rows = ae[endpoints.is_fatal(ae).to_numpy(dtype=bool)]
        term = (columns.text(rows, "ctcae_term").fillna(columns.text(rows, "AEDECOD"))
                .fillna(columns.text(rows, "AETERM")).fillna("term missing"))
        fatal = (pd.DataFrame({"usubjid": columns.text(rows, "USUBJID", "usubjid"), "cause": term})
                 .drop_duplicates().sort_values(["usubjid", "cause"], kind="stable")
                 .groupby("usubjid", as_index=False, dropna=False)["cause"].agg("; ".join))
    frame = deaths.merge(fatal, on="usubjid", how="outer")
    frame["usubjid"] = frame["usubjid"].fillna("participant missing")
    frame = pd.DataFrame({"key": frame["usubjid"], "usubjid": frame["usubjid"],
                          "date": frame["date"].fillna(NO_DATE), "date_imputed": frame["date_imputed"].fillna(""),
                          "cause": frame["cause"].fillna("no fatal AE recorded")})
    return _json_records(frame.sort_values(["key", "date"], kind="stable").drop_duplicates("key"))


def summary_dict(results: Any) -> dict[str, Any]:
    """The headline numbers and every event of a run under a stable key, JSON-ready (written as summary.json).

    Keys: ``schema``, ``study_id``, ``data_cutoff``, ``primary`` ({n, N}), ``headline`` (key -> {n, N, events}),
    ``aes`` (treatment-emergent AEs: key = participant | term | onset, grade, serious, related), ``lab_g3``
    (observations of grade >= 3: key = participant | term | date, grade, domain, test, baseline),
    ``lab_g3_domains`` (the domains graded), ``deaths`` (key = participant, date) and ``unavailable`` (list name
    -> why it is None in this run).
    """
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "study_id": results.meta.get("study_id"),
        "data_cutoff": results.meta.get("data_cutoff"),
        "primary": None,
        "headline": {},
    }
    if results.primary is not None and len(results.primary):
        row = results.primary.iloc[0]
        out["primary"] = {"n": int(row["n"]), "N": int(row["N"])}
    if results.summary is not None:
        for row in results.summary.to_dict("records"):
            out["headline"][row["key"]] = {k: (None if row[k] is None or row[k] != row[k] else int(row[k]))
                                           for k in ("n", "N", "events")}
    out["aes"] = _ae_records(results)
    out["lab_g3"], out["lab_g3_domains"] = _lab_g3_records(results)
    out["deaths"] = _death_records(results)
    why = {"aes": ("ae", "ae_validation", "population", "the AEs were not flagged in this run"),
           "lab_g3": ("grading", "labs", "vitals", "ecg", "no lab, vital-sign or ECG observation was graded"),
           "deaths": ("population", "no participant population (DM) in this run")}
    out["unavailable"] = {name: next((results.unavailable[k] for k in why[name][:-1] if k in results.unavailable),
                                     why[name][-1]) for name in DETAIL if out[name] is None}
    return out


LISTS = {"new_aes": "aes", "grade_rose": "aes", "new_lab_g3": "lab_g3", "new_deaths": "deaths",
         "removed_aes": "aes", "removed_lab_g3": "lab_g3", "removed_deaths": "deaths"}
"""The lists of :func:`compare_summaries` -> the summary.json list each is computed from."""
REMOVED = {"aes": "removed_aes", "lab_g3": "removed_lab_g3", "deaths": "removed_deaths"}
"""summary.json list -> the list of its previous records that are no longer in the data."""
FIRST_RUN = "first run: nothing to compare"
DATES = {"aes": "onset", "lab_g3": "date", "deaths": "date"}


def _why_not_comparable(previous: dict[str, Any], current: dict[str, Any], name: str) -> str | None:
    """Why the ``name`` lists of two summaries cannot be compared (None when they can)."""
    schema = previous.get("schema", 1)
    if name not in previous:
        return (f"detailed comparison unavailable for the previous run: its summary.json (schema {schema}) has no "
                f"'{name}' detail (written before schema {SCHEMA})")
    records = previous[name]
    if records is None:
        reason = (previous.get("unavailable") or {}).get(name, "")
        return f"not available in the previous run{': ' + reason if reason else ''}"
    if not isinstance(records, list) or not all(isinstance(r, dict) and "key" in r for r in records):
        return f"the previous run's summary.json has a malformed '{name}' list (records with a 'key' expected)"
    if current.get(name) is None:
        return f"not available in this run: {(current.get('unavailable') or {}).get(name, '')}"
    return None


def _frame(records: list[dict[str, Any]], *needed: str) -> pd.DataFrame:
    """Records as a frame that has at least ``key`` and the ``needed`` columns (an empty list included); object
    columns, so values go back to JSON as they came (a grade stays an int next to a null)."""
    frame = pd.DataFrame.from_records(records).astype(object)
    return frame.reindex(columns=list(dict.fromkeys(["key", *needed, *frame.columns])))


def _sorted(frame: pd.DataFrame, date: str) -> list[dict[str, Any]]:
    """Records ordered by participant, date, term, key (deterministic, readable by participant)."""
    order = [c for c in ("usubjid", date, "term", "key") if c in frame.columns]
    return _json_records(frame.sort_values(order, kind="stable")) if len(frame) else []


def _domains(summary: dict[str, Any]) -> list[str] | None:
    """The domains graded in a run (``lab_g3_domains``), None when the summary does not say."""
    domains = summary.get("lab_g3_domains")
    return [str(d) for d in domains] if isinstance(domains, list) else None


def _domain_gaps(graded: list[str] | None, other: list[str] | None, run: str, whose: str) -> str | None:
    """Why some grade >= 3 observations are left out of a comparison: domains of ``other`` not graded in ``run``."""
    if graded is None or other is None:
        return None
    missing = [d for d in other if d not in graded]
    if not missing:
        return None
    names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
    verb, pronoun = ("was", "its") if len(missing) == 1 else ("were", "their")
    return f"{names} {verb} not graded in {run}: {pronoun} grade >= 3 observations {whose}are not compared"


def _counts(previous: dict[str, Any], current: dict[str, Any]) -> list[dict[str, Any]]:
    counts = []
    prev_primary, cur_primary = previous.get("primary") or {}, current.get("primary") or {}
    if prev_primary or cur_primary:
        counts.append({"key": "primary", "label": "Primary endpoint (participants)", "previous": prev_primary.get("n"),
                       "now": cur_primary.get("n")})
    for key, now in current.get("headline", {}).items():
        before = (previous.get("headline") or {}).get(key) or {}
        counts.append({"key": key, "label": f"{key}: participants", "previous": before.get("n"),
                       "now": now.get("n")})
    for c in counts:
        c["change"] = None if c["previous"] is None or c["now"] is None else c["now"] - c["previous"]
    return counts


def compare_summaries(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """What is new since a previous run, and what is gone (both as :func:`summary_dict` gives them), JSON-ready.

    Returns ``schema``, ``previous`` / ``current`` ({study_id, data_cutoff, schema}; previous None on a first
    run), ``counts`` (headline counts then and now), ``new_aes`` (AEs whose key was not in the previous run),
    ``grade_rose`` (same key, higher grade now: ``previous_grade`` and ``grade``), ``new_lab_g3`` (grade >= 3
    observations whose key is new), ``new_deaths`` (participants not dead in the previous run), ``removed_aes``,
    ``removed_lab_g3``, ``removed_deaths`` (the previous run's records whose key is gone: corrected or deleted
    records, or a broken delivery), ``not_in_current`` (list -> how many were removed), ``removed_count`` (their
    total, int: > 0 means something vanished) and ``unavailable`` (list -> why it is None: first run, a previous
    summary of schema 1, a part missing in either run, another study; or, for a list that is there, why part of
    it was not compared: a domain graded in one run only). Lists are sorted by participant, date and term.
    """
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "previous": None,
        "current": {k: current.get(k) for k in ("study_id", "data_cutoff", "schema")},
        "counts": [],
        **dict.fromkeys(LISTS),
        "not_in_current": {},
        "removed_count": 0,
        "unavailable": {},
    }
    if previous is None:
        out["unavailable"] = dict.fromkeys(LISTS, FIRST_RUN)
        return out
    out["previous"] = {k: previous.get(k) for k in ("study_id", "data_cutoff")} | {
        "schema": previous.get("schema", 1)}
    out["counts"] = _counts(previous, current)
    other_study = previous.get("study_id") not in (None, current.get("study_id"))
    for name in dict.fromkeys(LISTS.values()):
        reason = (f"the previous run is of study {previous.get('study_id')}, this one of {current.get('study_id')}"
                  if other_study else _why_not_comparable(previous, current, name))
        if reason is not None:
            out["unavailable"].update(dict.fromkeys([n for n, source in LISTS.items() if source == name], reason))
            continue
        needed = {"aes": ("grade",), "lab_g3": ("domain",), "deaths": ()}[name]
        before, now = _frame(previous[name], *needed), _frame(current[name], *needed)
        if name == "lab_g3":  # a domain graded in one run only: its observations are neither new nor removed
            prev_domains, cur_domains = _domains(previous), _domains(current)
            gaps = {"new_lab_g3": _domain_gaps(prev_domains, cur_domains, "the previous run", ""),
                    "removed_lab_g3": _domain_gaps(cur_domains, prev_domains, "this run", "of the previous run ")}
            out["unavailable"].update({k: v for k, v in gaps.items() if v is not None})
            known = [d for d in (prev_domains, cur_domains) if d is not None]
            if known:  # compared: the domains graded in both runs, on both sides
                both_graded = set(known[0]).intersection(*known[1:])
                now = now[now["domain"].isin(both_graded).to_numpy(dtype=bool)]
                before = before[before["domain"].isin(both_graded).to_numpy(dtype=bool)]
        date = DATES[name]
        new_name = next(n for n, source in LISTS.items() if source == name)
        out[new_name] = _sorted(now[~now["key"].isin(before["key"]).to_numpy(dtype=bool)], date)
        removed = before[~before["key"].isin(now["key"]).to_numpy(dtype=bool)]
        out[REMOVED[name]] = _sorted(removed, date)
        out["not_in_current"][name] = len(removed)
        if name == "aes":
            both = now.merge(before[["key", "grade"]].rename(columns={"grade": "previous_grade"}), on="key")
            rose = pd.to_numeric(both["grade"], errors="coerce") > pd.to_numeric(both["previous_grade"],
                                                                                 errors="coerce")
            out["grade_rose"] = _sorted(both[rose.to_numpy(dtype=bool)], date)
    out["removed_count"] = sum(out["not_in_current"].values())
    return out


def _read_previous(previous: str | Path | dict[str, Any] | None) -> dict[str, Any] | None:
    return previous if previous is None or isinstance(previous, dict) else read_summary(previous)


def read_summary(path: str | Path) -> dict[str, Any]:
    """A report's ``summary.json`` (or the folder holding it); FileNotFoundError, or ValueError when it is not a
    summary (the JSON error as its cause)."""
    path = Path(path)
    if path.is_dir():
        path = path / SUMMARY_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"previous report summary not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a report summary JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a report summary JSON: an object expected, found {type(data).__name__}")
    return data


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_report(
    results: Any, out_dir: str | Path, previous: str | Path | dict[str, Any] | None = None, pdf: bool = True
) -> dict[str, Path]:
    """Write the report files of an already computed :class:`~ctcae_engine.run.pipeline.StudyResults`.

    ``new_since_last_run.json`` is always written: on a first run (``previous`` None) its ``previous`` is null
    and its lists are null (not compared), which a scheduler tells apart from ``[]`` (compared, nothing new).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    before = _read_previous(previous)
    current = summary_dict(results)
    whats_new = compare_summaries(before, current)
    options = getattr(results.config, "report", None)  # [report] listing_max_rows of the study configuration
    context = build_context(results, whats_new=whats_new,
                            max_rows=getattr(options, "listing_max_rows", None) or MAX_ROWS)
    html = render_html(context)
    paths = {"html": out_dir / HTML_NAME, "summary": out_dir / SUMMARY_NAME, "whats_new": out_dir / WHATS_NEW_NAME}
    for name, frame in context["full_listings"].items():  # listings the report shows in part
        paths[Path(name).stem] = out_dir / name
        write_csv(frame.drop(columns="row_type", errors="ignore"), paths[Path(name).stem])
    paths["html"].write_text(html, encoding="utf-8")
    _write_json(paths["summary"], current)
    _write_json(paths["whats_new"], whats_new)
    rows = results.frame("DQ02_ROWS")
    if rows is not None:
        paths["ungraded"] = out_dir / "ungraded_rows.csv"
        write_csv(rows, paths["ungraded"])
    if results.excluded is not None and len(results.excluded):
        paths["excluded"] = out_dir / EXCLUDED_NAME
        write_csv(results.excluded, paths["excluded"])
    if pdf:
        paths["pdf"] = render_pdf(html, out_dir / PDF_NAME)
    return paths
