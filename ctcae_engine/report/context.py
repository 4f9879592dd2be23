"""StudyResults -> the plain context dict the templates render (no jinja, no HTML, no number formatting here).

The registry (:mod:`ctcae_engine.tables`) says which table or figure goes in which section, in which order. A
table or figure that the
run did not produce becomes an "unavailable" block carrying the reason the pipeline recorded for it (a missing
domain, a stage that failed), so a missing input never breaks the report.
Values stay raw (ints, floats, strings, None); the templates format them.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ctcae_engine import tables as registry
from ctcae_engine.analyse.persistence import BELOW_LLOQ
from ctcae_engine.report.wording import for_reading
from ctcae_engine.tables import Table

SECTION_ORDER = registry.SECTIONS
TEXT_BLOCKS = {"methods": "methods_text"}  # section -> the free text (``texts`` key) that opens it
SECTION_TITLES = {  # the heading of each section, in the report and its table of contents
    "key_findings": "Key findings",
    "summary": "1. Executive summary",
    "enrollment": "2. Enrollment, eligibility and exposure",
    "ae_tables": "3. Adverse events by system organ class, preferred term and worst grade",
    "listings": "4. Grade 3 or higher and serious adverse events",
    "deaths": "5. Deaths",
    "cart": "6. Cytokine release syndrome and neurotoxicity (ICANS)",
    "labs": "7. Laboratory shift tables, vital signs and ECG",
    "efficacy": "8. Secondary endpoints",
    "data_quality": "Appendix A. Data quality",
    "methods": "Appendix B. Methods",
}

# listings grow with the number of participants: in the report they show at most MAX_ROWS rows, with a note, and
# every row goes to <ID>.csv next to the report. Summary tables (bounded by terms and grades) are never cut.
MAX_ROWS = 200

HEADLINE = (
    ("teae", "Treatment-emergent AEs (TEAE), any grade"),
    ("trae", "Treatment-related AEs (TRAE), any grade"),
    ("trae_g3", "TRAE of CTCAE grade >= 3"),
    ("sae", "Serious AEs"),
    ("deaths", "Deaths"),
    ("crs", "CRS, any grade (ASTCT 2019)"),
    ("crs_g3", "CRS grade >= 3 (ASTCT 2019)"),
    ("icans", "ICANS, any grade (ASTCT 2019)"),
    ("icans_g3", "ICANS grade >= 3 (ASTCT 2019)"),
)


def plain(value: Any) -> Any:
    """A numpy/pandas scalar as a plain Python value; missing values as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


COLUMN_LABELS = {
    "label": "Measure", "n": "n", "N": "N", "pct": "%", "ci_low": "95% CI low (%)", "ci_high": "95% CI high (%)",
    "syndrome": "Syndrome", "usubjid": "Participant", "direction": "Direction", "term": "CTCAE term",
    "grade_1": "Grade 1", "grade_2": "Grade 2", "grade_3": "Grade 3", "grade_4": "Grade 4", "grade_5": "Grade 5",
    "grade_missing": "Grade missing", "any": "Any grade", "any_pct": "Any grade %", "grade_3plus": "Grade >= 3",
    "grade_3plus_pct": "Grade >= 3 %", "astct_grade": "ASTCT grade", "astct_episodes": "Episodes",
    "astct_onset_day": "Onset day", "astct_crs_days": "CRS days", "astct_drivers": "ASTCT drivers",
    "ctcae_grade": "CTCAE grade (AE form)", "ctcae_text": "CTCAE v4.03 text of that grade",
    "n_crs_ae": "CRS AEs", "ae_start": "AE onset", "comparison": "Comparison", "episode": "Episode",
    "onset_date": "Onset", "onset_day": "Onset day", "end_date": "End", "end_day": "End day",
    "duration_days": "Duration (days)", "max_grade": "Max grade", "drivers": "Drivers",
    "n_assessments": "Assessments", "resolved": "Resolved", "n_missing": "n missing", "median": "Median",
    "q1": "Q1", "q3": "Q3", "min": "Min", "max": "Max", "n_grade3plus": "n grade >= 3",
    "pct_grade3plus": "% grade >= 3", "measure": "Measure", "events": "Events", "median_days": "Median (days)",
    "median_ci": "Median 95% CI (days)", "rate_days": "Rate at day", "rate_pct": "Rate (%)",
    "rate_ci": "Rate 95% CI (%)", "at_risk_at_rate_day": "At risk at that day", "timepoint_day": "Day",
    "n_detectable": "n detectable", "n_grade3": "Grade 3", "n_grade4": "Grade 4",
    "n_worsened": "Worsened to >= 3", "soc": "System organ class",
}


LEVELS = ("median", "q1", "q3", "min", "max")  # PERS02's level columns, labelled with their unit


def _soc_pt(frame: pd.DataFrame) -> pd.DataFrame:
    """AET04 (level, soc, term, grade columns) -> one label column, SOC rows styled, terms indented."""
    label = frame["term"].where(frame["level"].eq("term"), frame["soc"])
    label = label.where(~frame["level"].eq("overall"), "Any adverse event")
    out = frame.drop(columns=["level", "soc", "term"])
    out.insert(0, "SOC / preferred term", label.astype("string"))
    out.insert(0, "row_type", frame["level"].map({"overall": "soc", "soc": "soc", "term": "pt"}))
    return out


def _shift(frame: pd.DataFrame) -> pd.DataFrame:
    """LBT14 long (term, direction, baseline_grade, worst_grade, n) -> baseline rows x worst-grade columns."""
    wide = frame.pivot_table(index=["term", "direction", "baseline_grade"], columns="worst_grade", values="n",
                             aggfunc="sum", fill_value=0, observed=True)
    wide.columns = [f"Worst {c}" for c in wide.columns]
    wide["Total"] = wide.sum(axis=1)
    wide = wide.reset_index().rename(columns={"term": "CTCAE term", "direction": "Direction",
                                              "baseline_grade": "Baseline grade"})
    return wide


def _n_pct(n: pd.Series, other: pd.Series, key: str) -> list[dict[str, Any]]:
    """Cells rendered as 'n (x.x%)' by the templates: {"n", "N"} or {"n", "pct"}."""
    return [{"n": plain(a), key: plain(b)} for a, b in zip(n, other, strict=True)]


def _merge_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """n, N, pct, ci_low, ci_high -> N, 'n (%)', '95% CI (%)'; AET04 any/any_pct and grade_3plus/_pct -> 'n (%)'.

    Fewer, standard cells (a safety table shows 'n (%)'); the values stay raw, the templates format them.
    """
    cols = set(frame.columns)
    out = frame
    if {"n", "N", "pct", "ci_low", "ci_high"} <= cols:
        at = list(frame.columns).index("n")
        out = frame.drop(columns=["n", "pct", "ci_low", "ci_high"])
        out.insert(at, "n (%)", _n_pct(frame["n"], frame["N"], "N"))
        out.insert(at + 1, "95% CI (%)", [{"low": plain(a), "high": plain(b)}
                                          for a, b in zip(frame["ci_low"], frame["ci_high"], strict=True)])
    for count, pct, label in (("any", "any_pct", "Any grade n (%)"),
                              ("grade_3plus", "grade_3plus_pct", "Grade >= 3 n (%)")):
        if {count, pct} <= cols:
            at = list(out.columns).index(count)
            merged = _n_pct(frame[count], frame[pct], "pct")
            out = out.drop(columns=[count, pct])
            out.insert(at, label, merged)
    for low, high, label in (("median_ci_low", "median_ci_high", "median_ci"), ("rate_ci_low", "rate_ci_high",
                                                                                 "rate_ci")):
        if {low, high} <= cols:
            at = list(out.columns).index(low)
            merged = [{"low": plain(a), "high": plain(b)} for a, b in zip(frame[low], frame[high], strict=True)]
            out = out.drop(columns=[low, high])
            out.insert(at, label, merged)
    if "grade_missing" in cols and not frame["grade_missing"].fillna(0).astype(bool).any():
        out = out.drop(columns="grade_missing")
    return out


def present(key: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Reshape an engine table for reading (labels, SOC/PT rows, shift cross-tab, 'n (%)' cells); values are not
    formatted."""
    frame = _merge_counts(frame)
    if {"level", "soc", "term"} <= set(frame.columns):
        frame = _soc_pt(frame)
    elif key.startswith("LBT14") and {"baseline_grade", "worst_grade", "n"} <= set(frame.columns):
        frame = _shift(frame)
    if key == "AET01" and "flag" in frame.columns:
        frame = frame.drop(columns="flag")
    if key == "PERS02" and "unit" in frame.columns:  # the unit goes into the headers of the level columns
        unit = ", ".join(sorted(set(frame["unit"].dropna().astype(str)))) or "unit not given"
        frame = frame.drop(columns="unit").rename(columns={c: f"{COLUMN_LABELS[c]} ({unit})" for c in LEVELS})
    if key == "CRS01" and "ctcae_text" in frame.columns:  # the grade's CTCAE text is long: the grade number stays
        frame = frame.drop(columns="ctcae_text")
    return frame.rename(columns={c: COLUMN_LABELS.get(c, c) for c in frame.columns})


def _numeric(column: pd.Series) -> bool:
    """A right-aligned column: numbers, 'n (%)' cells, or numbers with "<LLOQ" among them (PERS02)."""
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    values = column.dropna()
    if len(values) and isinstance(values.iloc[0], dict):
        return True
    return bool(len(values)) and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                     or v == BELOW_LLOQ for v in values)


def table_block(table: Table, shown: pd.DataFrame, max_rows: int | None = None) -> dict[str, Any]:
    """A registry table, reshaped for reading (``shown``, see :func:`present`), as a table block: columns, rows of
    plain values, numeric columns, optional SOC/PT row classes, and the table's title, note and empty text.

    A ``row_type`` column (e.g. "soc"/"pt") becomes the CSS class of each row and is not shown. A listing longer
    than ``max_rows`` shows its first ``max_rows`` rows and says so in ``truncated`` (shown, total, csv: the file
    next to the report that holds every row).
    """
    frame = shown.reset_index(drop=True)
    row_class = None
    if "row_type" in frame.columns:
        row_class = [str(x) for x in frame["row_type"].fillna("")]
        frame = frame.drop(columns="row_type")
    numeric = [str(c) for c in frame.columns if _numeric(frame[c])]
    total = len(frame)
    truncated = None
    if max_rows is not None and table.listing and total > max_rows:
        truncated = {"shown": max_rows, "total": total, "csv": f"{table.id}.csv"}
        frame = frame.iloc[:max_rows]
    rows = [[_readable(plain(v)) for v in row] for row in frame.itertuples(index=False, name=None)]
    columns = [str(c) for c in frame.columns]
    return {
        "kind": "table",
        "id": f"tbl-{table.id}",
        "code": table.id,
        "title": for_reading(table.title),
        "columns": [for_reading(c) for c in columns],
        "numeric": [for_reading(c) for c in numeric],
        "nowrap": [for_reading(c) for c in columns if _unbreakable(c, frame[c])],
        "rows": rows,
        "row_class": row_class,
        "note": for_reading(table.note),
        "empty": for_reading(table.empty),
        "truncated": truncated,
    }


def _readable(value: Any) -> Any:
    return for_reading(value) if isinstance(value, str) else value


NOWRAP_HEADERS = {"Participant", "Date", "Start", "End", "Onset", "Date of death", "AE onset", "First date",
                  "Last date", "First", "Last"}
_DATE_LIKE = re.compile(r"^\d{4}(-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?)?)?$")


def _unbreakable(header: str, column: pd.Series) -> bool:
    """A column of participant ids or dates: its cells must not wrap ("2024-" / "03-23")."""
    if header in NOWRAP_HEADERS:
        return True
    values = [v for v in column.dropna() if isinstance(v, (str, pd.Timestamp))]
    return bool(values) and len(values) == len(column.dropna()) and all(
        isinstance(v, pd.Timestamp) or _DATE_LIKE.match(v.strip()) for v in values)


def figure_block(key: str, svg: str, caption: str) -> dict[str, Any]:
    """An SVG figure as an image block with a ``data:`` URI: self-contained and inert (no scripts, no fetches)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return {"kind": "figure", "id": f"fig-{key}", "src": f"data:image/svg+xml;base64,{data}",
            "caption": for_reading(caption)}


def _section(name: str, results: Any, texts: Mapping[str, str], max_rows: int | None,
             full: dict[str, pd.DataFrame]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if texts.get(TEXT_BLOCKS.get(name, "")):
        blocks.extend({"kind": "text", "text": para} for para in texts[TEXT_BLOCKS[name]].split("\n\n"))
    for output in registry.in_section(name):
        if output.kind == "table" and output.id in results.tables:
            table = results.tables[output.id]
            shown = present(output.id, table.frame)
            blocks.append(table_block(table, shown, max_rows))
            if blocks[-1]["truncated"]:
                full[blocks[-1]["truncated"]["csv"]] = shown
        elif output.kind == "figure" and output.id in results.figures:
            blocks.append(figure_block(output.id, results.figures[output.id], output.title))
        else:
            reason = results.unavailable.get(output.id, "not produced by this run")
            blocks.append({"kind": "unavailable", "text": for_reading(f"{output.title}: {reason}")})
    available = any(b["kind"] != "unavailable" for b in blocks)
    reason = "; ".join(b["text"] for b in blocks if b["kind"] == "unavailable")
    return {"available": available, "reason": reason, "blocks": blocks}


# "What is new" (executive summary): each list of report.compare_summaries -> title and columns (field, header);
# the summary shows at most WHATS_NEW_ROWS rows of each, new_since_last_run.json holds every row.
WHATS_NEW_ROWS = 15
WHATS_NEW_FILE = "new_since_last_run.json"
_AE_FIELDS = (("usubjid", "Participant"), ("term", "CTCAE term"), ("onset", "Onset"))
_OBS_FIELDS = (("usubjid", "Participant"), ("term", "CTCAE term"), ("date", "Date"), ("grade", "Grade"),
               ("domain", "Source"), ("test", "Test"), ("baseline", "Baseline"))
_DEATH_FIELDS = (("usubjid", "Participant"), ("date", "Date of death"), ("date_imputed", "Date imputed"),
                 ("cause", "Fatal AE (CTCAE term)"))
WHATS_NEW = (
    ("new_aes", "New treatment-emergent AEs",
     (*_AE_FIELDS, ("grade", "Grade"), ("serious", "Serious"), ("related", "Related"))),
    ("grade_rose", "AEs whose grade rose",
     (*_AE_FIELDS, ("previous_grade", "Previous grade"), ("grade", "Grade now"), ("serious", "Serious"),
      ("related", "Related"))),
    ("new_lab_g3", "New grade >= 3 lab, vital-sign and ECG observations", _OBS_FIELDS),
    ("new_deaths", "New deaths", _DEATH_FIELDS),
)
# What was in the previous run and is gone now (corrected or deleted records, or a broken delivery), as it was then.
NO_LONGER = (
    ("removed_aes", "Treatment-emergent AEs no longer in the data",
     (*_AE_FIELDS, ("grade", "Grade then"), ("serious", "Serious"), ("related", "Related"))),
    ("removed_lab_g3", "Grade >= 3 lab, vital-sign and ECG observations no longer in the data", _OBS_FIELDS),
    ("removed_deaths", "Deaths no longer in the data", _DEATH_FIELDS),
)


def _whats_new_group(whats_new: Mapping[str, Any], name: str, label: str, fields: tuple[tuple[str, str], ...],
                     max_rows: int) -> dict[str, Any]:
    """One list of the comparison: ``label``, ``n`` (None: not compared), ``reason`` (why it was not compared, or
    why part of it was not) and ``table`` (a table block of the first ``max_rows`` rows, None: not compared)."""
    items = whats_new.get(name)
    label = for_reading(label)
    group: dict[str, Any] = {"id": "whats-" + name.replace("_", "-"), "label": label, "n": None,
                             "reason": for_reading((whats_new.get("unavailable") or {}).get(name, "")), "table": None}
    if items is not None:
        more = len(items) - max_rows
        group["n"] = len(items)
        group["table"] = {
            "kind": "table", "id": group["id"], "code": "", "title": f"{label}: {len(items)}",
            "columns": [header for _, header in fields],
            "numeric": [header for field, header in fields if "grade" in field],
            "rows": [[plain(item.get(field)) for field, _ in fields] for item in items[:max_rows]],
            "row_class": None, "empty": "None.", "truncated": None,
            "nowrap": [header for _, header in fields if header in NOWRAP_HEADERS],
            "note": f"... and {more} more, see {WHATS_NEW_FILE}." if more > 0 else "",
        }
    return group


def _whats_new(whats_new: Mapping[str, Any] | None, max_rows: int = WHATS_NEW_ROWS) -> dict[str, Any]:
    """The comparison with the previous run for the executive summary: ``first_run``, ``previous_cutoff``,
    ``counts``, one group per list of what is new (``groups``) and of what is no longer in the data (``removed``,
    with ``removed_count`` and ``removed_compared``); a group is ``label``, ``n`` (None: not compared),
    ``reason`` and ``table`` (the first ``max_rows`` rows, whose note says how many more are in
    new_since_last_run.json)."""
    previous = (whats_new or {}).get("previous")
    if whats_new is None or previous is None:
        return {"first_run": True, "previous_cutoff": None, "counts": [], "groups": [], "removed": [],
                "removed_count": 0, "removed_compared": False}
    groups = [_whats_new_group(whats_new, name, label, fields, max_rows) for name, label, fields in WHATS_NEW]
    removed = [_whats_new_group(whats_new, name, label, fields, max_rows) for name, label, fields in NO_LONGER]
    labels = {"primary": "Primary endpoint", **dict(HEADLINE)}
    counts = [{**c, "label": labels.get(c.get("key", ""), c.get("label", ""))} for c in whats_new.get("counts", [])]
    return {"first_run": False, "previous_cutoff": previous.get("data_cutoff"), "counts": counts, "groups": groups,
            "removed": removed, "removed_count": sum(g["n"] or 0 for g in removed),
            "removed_compared": any(g["n"] is not None for g in removed)}


def _summary(results: Any, whats_new: Mapping[str, Any] | None) -> dict[str, Any]:
    primary = None
    primary_reason = results.unavailable.get("primary", "primary endpoint not computed")
    if results.primary is not None and len(results.primary):
        row = results.primary.iloc[0]
        primary = {k: plain(row.get(k)) for k in ("label", "n", "N", "pct", "ci_low", "ci_high", "ci_method")}
    headline = []
    summary = results.summary.set_index("key") if results.summary is not None else pd.DataFrame()
    for key, label in HEADLINE:
        label = for_reading(label)
        if key in summary.index:
            row = summary.loc[key]
            headline.append({"key": key, "label": label, "available": True, "n": plain(row["n"]),
                             "N": plain(row["N"]), "events": plain(row["events"]), "note": row.get("note", "") or ""})
        else:
            headline.append({"key": key, "label": label, "available": False, "n": None, "N": None, "events": None,
                             "note": results.unavailable.get(key, "")})
    return {"primary": primary, "primary_reason": primary_reason, "headline": headline,
            "whats_new": _whats_new(whats_new)}


def build_context(
    results: Any, texts: Mapping[str, str] | None = None, whats_new: Mapping[str, Any] | None = None,
    max_rows: int | None = MAX_ROWS,
) -> dict[str, Any]:
    """The plain dict the templates need: ``meta``, ``section_order``, ``sections``, and ``full_listings`` (CSV
    file name -> the whole listing, for every listing cut to ``max_rows`` rows; None: no cut).

    ``texts`` holds free text blocks by key (e.g. ``methods_text``); ``whats_new`` the comparison with the previous
    run (:func:`ctcae_engine.report.compare_summaries`; None or a first run: "nothing to compare").
    """
    texts = dict(texts or {})
    meta = dict(results.meta)
    meta["files"] = [{k: plain(v) for k, v in row.items()} for row in results.files.to_dict("records")]
    meta["stage_errors"] = [{"stage": s, "message": m} for s, m in results.stage_errors]
    meta["previous"] = ((whats_new or {}).get("previous") or {}).get("data_cutoff")
    sections: dict[str, Any] = {"summary": _summary(results, whats_new), "key_findings": key_findings(results)}
    full: dict[str, pd.DataFrame] = {}
    for name in SECTION_ORDER:
        if name not in sections and (registry.in_section(name) or name in TEXT_BLOCKS):
            sections[name] = _section(name, results, texts, max_rows, full)
    return {"meta": meta, "section_order": list(SECTION_ORDER), "sections": sections, "full_listings": full,
            "titles": SECTION_TITLES, "toc": table_of_contents(sections)}


def _headline_row(results: Any, key: str) -> dict[str, Any] | None:
    if results.summary is None or key not in set(results.summary["key"]):
        return None
    row = results.summary.set_index("key").loc[key]
    return {"n": plain(row["n"]), "N": plain(row["N"])}


def key_findings(results: Any) -> dict[str, Any]:
    """The page after the cover: the safety story in a few statements taken from the run's tables, each linked to
    the table it comes from (``href``). Items: ``label``, ``n``, ``N`` (None: not a count), ``ci`` (low, high or
    None), ``details`` (lines), ``href``; a finding the run could not make says so (``missing``)."""
    items: list[dict[str, Any]] = []

    def add(label: str, href: str, count: dict[str, Any] | None, details: list[str] | None = None,
            ci: tuple[Any, Any] | None = None, missing: str = "") -> None:
        items.append({"label": for_reading(label), "href": href, "n": (count or {}).get("n"),
                      "N": (count or {}).get("N"), "ci": ci, "details": details or [],
                      "missing": "" if count is not None else missing or "not available in this run"})

    if results.primary is not None and len(results.primary):
        row = results.primary.iloc[0]
        add(f"Primary endpoint: {row['label']}", "#tbl-PRIMARY", {"n": plain(row["n"]), "N": plain(row["N"])},
            ci=(plain(row["ci_low"]), plain(row["ci_high"])))
    else:
        add("Primary endpoint", "#tbl-PRIMARY", None, missing=results.unavailable.get("primary", ""))
    deaths = results.tables.get("DTHL01")
    details = []
    if deaths is not None:
        for d in deaths.frame.to_dict("records"):
            day = plain(d.get("Day"))
            related = plain(d.get("Related to treatment"))
            relation = "related to treatment" if related is True else "not related" if related is False else (
                "relation unknown")
            details.append(f"{d['Participant']}, {'day ' + str(day) if day is not None else 'day unknown'} after "
                           f"infusion: {d['Fatal AE (CTCAE term)']} ({relation})")
    add("Deaths after CAR-T infusion (any cause)", "#tbl-DTHT01" if "DTHT01" in results.tables else "#tbl-DTHL01",
        _headline_row(results, "deaths"), details, missing=results.unavailable.get("deaths", ""))
    add("CRS of ASTCT grade >= 3", "#tbl-CRST01", _headline_row(results, "crs_g3"),
        missing=results.unavailable.get("crs_g3", ""))
    add("ICANS of ASTCT grade >= 3", "#tbl-CRST01", _headline_row(results, "icans_g3"),
        missing=results.unavailable.get("icans_g3", ""))
    add("Treatment-related AEs of CTCAE grade >= 3", "#tbl-AET01", _headline_row(results, "trae_g3"),
        missing=results.unavailable.get("trae_g3", ""))
    common = results.tables.get("AET10")
    if common is not None and len(common.frame):
        top = common.frame.head(3)
        add("Most common treatment-emergent AEs", "#tbl-AET10", {"n": None, "N": None},
            [f"{t}: {int(n)} participants ({p:.1f}%)" for t, n, p in zip(top["term"], top["any"], top["any_pct"],
                                                                          strict=True)])
    icaht = results.tables.get("ICAHT02")
    rows = icaht.frame.set_index(["phase", "label"]) if icaht is not None and len(icaht.frame) else None
    if rows is not None and (rows.index.get_level_values("label") == "Grade >= 3").any():
        details = []
        for phase in dict.fromkeys(rows.index.get_level_values("phase")):
            severe, unknown = rows.loc[(phase, "Grade >= 3")], rows.loc[(phase, "Not gradable"), "n"]
            details.append(f"{phase}: {int(severe['n'])} of {int(severe['N'])} participants "
                           f"({int(unknown)} not gradable)")
        add("Hematotoxicity (ICAHT, EHA/EBMT 2023) of grade >= 3", "#tbl-ICAHT02", {"n": None, "N": None}, details)
    else:
        add("Prolonged cytopenias (ICAHT)", "#tbl-ICAHT02", None, missing=results.unavailable.get(
            "ICAHT02", "no graded neutrophil counts in this run"))
    dlt = results.tables.get("DLT01")
    if dlt is not None and len(dlt.frame):
        add("Dose-limiting toxicities and the stopping rule", "#tbl-DLT01", {"n": None, "N": None},
            [f"{r['Dose level']}: {int(r['With a DLT'])} of {int(r['DLT-evaluable'])} evaluable with a DLT; "
             f"{r['Stopping rule']}" for r in dlt.frame.to_dict("records")])
    return {"available": True, "reason": "", "blocks": [], "items": items}


def table_of_contents(sections: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per section (``id``, ``title``) with the tables and figures it shows (``id``, ``code``,
    ``title``): every anchor of the report, in reading order, for the linked table of contents."""
    toc = []
    for name, title in SECTION_TITLES.items():
        if name not in sections:
            continue
        entries = [{"id": b["id"], "code": b.get("code", ""), "title": b.get("title") or b.get("caption", "")}
                   for b in sections[name].get("blocks", []) if b["kind"] in ("table", "figure")]
        if name == "summary":
            entries = [{"id": "primary-endpoint", "code": "", "title": "Primary endpoint"},
                       {"id": "headline", "code": "", "title": "Safety at a glance"},
                       {"id": "whats-new", "code": "", "title": "New since the last run"}]
        toc.append({"id": "sec-" + name.replace("_", "-"), "title": title, "entries": entries})
    return toc
