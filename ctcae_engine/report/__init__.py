"""The DSMB safety report: study folder + config -> HTML, PDF and a summary JSON for the next report's comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ctcae_engine.report.context import build_context
from ctcae_engine.report.render import AssetOnlyFetcher, render_html, render_pdf

SUMMARY_NAME = "summary.json"
HTML_NAME = "dsmb_report.html"
PDF_NAME = "dsmb_report.pdf"
EXCLUDED_NAME = "excluded_after_cutoff.csv"
# event listings compared between reports: table ID -> label
EVENT_LISTS = {"AEL_G3": "Grade >= 3 treatment-emergent AEs", "AEL_SAE": "Serious AEs", "DTHL01": "Deaths"}
KEY_COLUMNS = 4  # the first columns of a listing identify an event (participant, term, grade, start)

__all__ = ["build_report", "compare_summaries", "render_html", "render_pdf", "summary_dict", "AssetOnlyFetcher"]


def summary_dict(results: Any) -> dict[str, Any]:
    """The headline numbers and event keys of a run, as JSON-ready data (written next to the report)."""
    out: dict[str, Any] = {
        "study_id": results.meta.get("study_id"),
        "data_cutoff": results.meta.get("data_cutoff"),
        "primary": None,
        "headline": {},
        "events": {},
    }
    if results.primary is not None and len(results.primary):
        row = results.primary.iloc[0]
        out["primary"] = {"n": int(row["n"]), "N": int(row["N"])}
    if results.summary is not None:
        for row in results.summary.to_dict("records"):
            out["headline"][row["key"]] = {k: (None if row[k] is None or row[k] != row[k] else int(row[k]))
                                           for k in ("n", "N", "events")}
    for table_id in EVENT_LISTS:
        frame = results.tables.get(table_id)
        if frame is not None:
            text = frame[list(frame.columns[:KEY_COLUMNS])].astype("string").fillna("")
            keys = text.iloc[:, 0].str.cat([text[c] for c in text.columns[1:]], sep=" | ") if len(text) else []
            out["events"][table_id] = sorted(set(keys))
    return out


def compare_summaries(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """What changed since a previous report: headline counts side by side and the events not listed before."""
    counts = []
    labels = {"primary": "Primary endpoint (participants)"}
    prev_primary, cur_primary = previous.get("primary") or {}, current.get("primary") or {}
    if prev_primary or cur_primary:
        counts.append({"label": labels["primary"], "previous": prev_primary.get("n"), "now": cur_primary.get("n")})
    for key, now in current.get("headline", {}).items():
        before = previous.get("headline", {}).get(key, {})
        counts.append({"label": f"{key}: participants", "previous": before.get("n"), "now": now.get("n")})
    for c in counts:
        c["change"] = None if c["previous"] is None or c["now"] is None else c["now"] - c["previous"]
    events = []
    for table_id, label in EVENT_LISTS.items():
        before = set(previous.get("events", {}).get(table_id, []))
        items = [e for e in current.get("events", {}).get(table_id, []) if e not in before]
        events.append({"label": label, "new": items})
    return {"previous_cutoff": previous.get("data_cutoff"), "counts": counts, "events": events}


def _read_previous(previous: str | Path | dict[str, Any] | None) -> dict[str, Any] | None:
    if previous is None or isinstance(previous, dict):
        return previous
    path = Path(previous)
    if path.is_dir():
        path = path / SUMMARY_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"previous report summary not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a report summary JSON: {exc}") from exc


def build_report(
    folder: str | Path,
    config: Any = None,
    out_dir: str | Path = "out/report",
    previous: str | Path | dict[str, Any] | None = None,
    run_time: str | None = None,
    pdf: bool = True,
) -> dict[str, Path]:
    """Run the study and write ``dsmb_report.html``, ``dsmb_report.pdf`` and ``summary.json`` into ``out_dir``.

    ``config``: a StudyConfig or the path of a study TOML (None: the demo trial's). ``previous``: a previous
    report's ``summary.json`` (or the folder holding it) to list what is new. ``run_time`` defaults to the data
    cut-off so the same inputs give byte-identical HTML. Returns the paths written, keyed html, pdf, summary and
    ungraded (every ungraded lab/vital/ECG row with its reason, CSV) when there are graded observations.
    """
    from ctcae_engine.pipeline import run_study

    results = run_study(folder, config, run_time=run_time)
    return write_report(results, out_dir, previous=previous, pdf=pdf)


def write_report(
    results: Any, out_dir: str | Path, previous: str | Path | dict[str, Any] | None = None, pdf: bool = True
) -> dict[str, Path]:
    """Write the report files of an already computed :class:`~ctcae_engine.pipeline.StudyResults`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    before = _read_previous(previous)
    current = summary_dict(results)
    whats_new = compare_summaries(before, current) if before is not None else None
    context = build_context(results, whats_new=whats_new)
    html = render_html(context)
    paths = {"html": out_dir / HTML_NAME, "summary": out_dir / SUMMARY_NAME}
    for name, frame in context["full_listings"].items():  # listings the report shows in part
        paths[Path(name).stem] = out_dir / name
        frame.drop(columns="row_type", errors="ignore").to_csv(paths[Path(name).stem], index=False,
                                                               lineterminator="\n")
    paths["html"].write_text(html, encoding="utf-8")
    paths["summary"].write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    rows = results.tables.get("DQ02_ROWS")
    if rows is not None:
        paths["ungraded"] = out_dir / "ungraded_rows.csv"
        rows.to_csv(paths["ungraded"], index=False, lineterminator="\n")
    if results.excluded is not None and len(results.excluded):
        paths["excluded"] = out_dir / EXCLUDED_NAME
        results.excluded.to_csv(paths["excluded"], index=False, lineterminator="\n")
    if pdf:
        paths["pdf"] = render_pdf(html, out_dir / PDF_NAME)
    return paths
