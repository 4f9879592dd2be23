"""Render a report context to self-contained HTML (jinja2) and to PDF (WeasyPrint).

The HTML carries its CSS inline and its figures as ``data:`` URIs, so it opens from an e-mail attachment.
All data values go through jinja2 autoescape. WeasyPrint fetches nothing but ``data:`` URIs and files inside
``report_templates/``; any other URL (``http://``, a local file elsewhere) is refused and recorded.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

TEMPLATE_PACKAGE = "report_templates"
MISSING = "\u2014"  # em dash for a missing value


def template_dir() -> Path:
    """Folder of the packaged templates (base.html, partials/, print.css)."""
    return Path(str(files(TEMPLATE_PACKAGE)))


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def fmt_value(value: Any, digits: int = 1) -> str:
    """Display text of one table cell: integers as such, floats to ``digits`` decimals, dates ISO, missing as a dash;
    {"n", "N"} or {"n", "pct"} as 'n (x.x%)', {"low", "high"} as 'low - high'."""
    if isinstance(value, Mapping) and "pct" in value:
        return MISSING if _is_missing(value["n"]) else f"{int(value['n'])} ({fmt_pct(value['pct'], digits)})"
    if isinstance(value, Mapping) and "n" in value:
        return fmt_n_pct(value["n"], value.get("N"))
    if isinstance(value, Mapping) and "low" in value:
        low, high = value["low"], value.get("high")
        return MISSING if _is_missing(low) or _is_missing(high) else f"{low:.{digits}f} - {high:.{digits}f}"
    if _is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.strftime("%Y-%m-%d") if (value.hour, value.minute) == (0, 0) else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fmt_pct(value: Any, digits: int = 1) -> str:
    """A percentage 0..100 (the engine's convention, as in endpoints.proportion), e.g. 45 -> '45.0%'."""
    return MISSING if _is_missing(value) else f"{float(value):.{digits}f}%"


def fmt_n_pct(n: Any, total: Any) -> str:
    """'n (x.x%)' as in safety tables; the percentage is omitted when the denominator is 0 or missing."""
    if _is_missing(n):
        return MISSING
    if _is_missing(total) or not total:
        return str(int(n))
    return f"{int(n)} ({100 * int(n) / int(total):.1f}%)"


def fmt_when(value: Any) -> str:
    """An ISO 8601 time stamp for reading: '2025-07-01T09:30:00+00:00' -> '2025-07-01 09:30:00 UTC'; anything
    else (a date, text) as given."""
    try:
        stamp = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if len(str(value)) <= 10:  # a date alone
        return str(value)
    if stamp.tzinfo is None:
        return stamp.isoformat(sep=" ")
    return stamp.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ") + " UTC"


def environment() -> jinja2.Environment:
    """The jinja2 environment of the report: packaged templates, autoescape on, strict undefined."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["v"] = fmt_value
    env.filters["pct"] = fmt_pct
    env.filters["when"] = fmt_when
    env.globals["n_pct"] = fmt_n_pct
    return env


def render_html(context: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML string (CSS inline)."""
    env = environment()
    css = (template_dir() / "print.css").read_text(encoding="utf-8")
    return env.get_template("base.html").render(css=css, **context)


class AssetOnlyFetcher:
    """WeasyPrint URL fetcher that serves ``data:`` URIs and files under the template folder, and refuses the rest.

    Every refused URL is kept in ``refused`` so callers (and tests) can see what the document tried to load.
    """

    def __init__(self, asset_root: Path | None = None) -> None:
        from weasyprint.urls import URLFetcher

        self.asset_root = (asset_root or template_dir()).resolve()
        self.refused: list[str] = []
        self._inner = URLFetcher(allowed_protocols=("data", "file"), fail_on_errors=False)
        self._fail_on_errors = False  # read by weasyprint.urls.fetch

    def _allowed(self, url: str) -> bool:
        if url.startswith("data:"):
            return True
        if url.startswith("file:"):
            from urllib.request import url2pathname

            path = Path(url2pathname(url.split("?")[0].removeprefix("file:"))).resolve()
            return path.is_relative_to(self.asset_root)
        return False

    def __call__(self, url: str) -> Any:
        if not self._allowed(url):
            self.refused.append(url)
            raise ValueError(f"report refuses to load a resource outside its own assets: {url}")
        return self._inner.fetch(url)


@contextmanager
def fewer_gc_pauses(threshold: int = 50_000) -> Iterator[None]:
    """Run a block with the cyclic garbage collector's first-generation threshold raised, then restore it.

    WeasyPrint allocates millions of short-lived objects while laying out a report; with the default threshold
    (700) the collector runs thousands of times: about a fifth of the PDF time of the demo report. Memory is still
    collected, only less often.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(threshold, old[0]), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def render_pdf(html: str, path: str | Path, fetcher: AssetOnlyFetcher | None = None) -> Path:
    """Write the HTML as an A4 PDF with WeasyPrint; only the report's own assets can be loaded."""
    import weasyprint

    fetcher = fetcher or AssetOnlyFetcher()
    path = Path(path)
    with fewer_gc_pauses():
        document = weasyprint.HTML(string=html, base_url=template_dir().as_uri() + "/", url_fetcher=fetcher)
        document.write_pdf(path)
    return path
