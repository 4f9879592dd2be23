"""The DSMB report's figures: tidy DataFrames in, SVG text out (matplotlib, no pyplot state).

Every function returns a complete ``<svg>`` document that is byte-identical for identical input (fixed
``svg.hashsalt``, no creation date, text kept as text). Empty input gives a small placeholder SVG that says what is
missing instead of raising. Columns are lower-case and follow docs/ARCHITECTURE.md (graded observations, flagged AEs).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from html import escape

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axis import Axis
from matplotlib.collections import LineCollection
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.textpath import text_to_path
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

from ctcae_engine.analyse.persistence import BELOW_LLOQ, blq_quantile

GRADE_COLORS = {0: "#e8e8e8", 1: "#fee08b", 2: "#fdae61", 3: "#f46d43", 4: "#a50026", 5: "#1a1a1a"}
RESPONSE_COLORS = {"CR": "#1a9850", "PR": "#66bd63", "SD": "#8fb3d9", "PD": "#5e5e5e", "NE": "#bdbdbd"}
CRS_TERM = "Cytokine release syndrome"
RASTER_DPI = 150  # resolution of the rasterized data layers (points, lines, bars); axes and text stay vector

# Grade bands drawn behind the lab trajectories (display only; grades themselves come from the rules table).
# CTCAE v4.03: Neutrophil count decreased G1 <LLN-1.5, G2 <1.5-1.0, G3 <1.0-0.5, G4 <0.5 x 10e9/L;
# Platelet count decreased G1 <LLN-75, G2 <75-50, G3 <50-25, G4 <25 x 10e9/L; Anemia G1 <LLN-100, G2 <100-80,
# G3 <80 g/L; ALT increased G1 >ULN-3.0, G2 >3.0-5.0, G3 >5.0-20.0, G4 >20.0 x ULN.
LAB_BANDS: dict[str, tuple[str, str, list[tuple[int, str | float, str | float]]]] = {
    "NEUT": ("Neutrophils", "log", [(1, 1.5, "LLN"), (2, 1.0, 1.5), (3, 0.5, 1.0), (4, 0.0, 0.5)]),
    "PLAT": ("Platelets", "log", [(1, 75.0, "LLN"), (2, 50.0, 75.0), (3, 25.0, 50.0), (4, 0.0, 25.0)]),
    "HGB": ("Hemoglobin", "linear", [(1, 100.0, "LLN"), (2, 80.0, 100.0), (3, 0.0, 80.0)]),
    "ALT": ("ALT", "log", [(1, "1ULN", "3ULN"), (2, "3ULN", "5ULN"), (3, "5ULN", "20ULN"), (4, "20ULN", np.inf)]),
}

# axes.titley fixed: matplotlib would otherwise measure every tick label at each draw to see whether the title must
# move up (it never must here: no axis has ticks on top). text.parse_math off: every text is data (a participant id,
# an AE term), drawn as written; "$...$" in it is not matplotlib mathtext (which would fail or render it as math)
_RC = {"svg.hashsalt": "ctcae-engine", "svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 8,
       "axes.titlesize": 9, "axes.titley": 1.0, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7,
       "ytick.labelsize": 7, "text.parse_math": False}


# --------------------------------------------------------------------------------------------------- plumbing
def placeholder_svg(message: str, width: int = 480, height: int = 80) -> str:
    """A small SVG that says why there is no figure (used for empty input)."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}pt" height="{height}pt" '
        f'viewBox="0 0 {width} {height}" role="img">'
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="#fafafa" stroke="#999999"/>'
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" dominant-baseline="middle" '
        f'font-family="DejaVu Sans, sans-serif" font-size="11" fill="#555555">{escape(message)}</text></svg>'
    )


def _styled(function: Callable[..., str]) -> Callable[..., str]:
    """Run a figure function under the report's fixed rcParams (style and deterministic SVG output)."""

    @functools.wraps(function)
    def wrapper(*args: object, **kwargs: object) -> str:
        with matplotlib.rc_context(_RC):
            return function(*args, **kwargs)

    return wrapper


def _new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height))  # axes placed by _place: fixed margins, no layout engine


# Fixed layout. matplotlib's constrained layout measures every tick label's extent (twice) before drawing: about
# half of the figures' time. The margins are computed instead from what goes in them: the widest label, measured
# with the report font, and one text line per title / axis label (sizes from _RC, pads from matplotlib defaults).
_PT = 1 / 72  # inches per point
EDGE = 0.06  # blank edge around each figure, inches
TICKS = (3.5 + 3.5) * _PT  # tick length + tick label pad


def _line(size: float, pad: float = 0.0) -> float:
    """Inches taken by one line of text of ``size`` points plus ``pad`` points of padding."""
    return (1.2 * size + pad) * _PT


TITLE = _line(_RC["axes.titlesize"], 6.0)  # axes title + titlepad
XAXIS = TICKS + _line(_RC["xtick.labelsize"]) + _line(_RC["axes.labelsize"], 4.0)  # tick labels + axis label


def _text_width(texts: Sequence[object], size: float) -> float:
    """Width in inches of the widest of ``texts`` at ``size`` points in the report font (0 for none)."""
    prop = FontProperties(family=_RC["font.family"], size=size)
    widths = [text_to_path.get_text_width_height_descent(str(t), prop, ismath=False)[0] for t in texts]
    return max(widths, default=0.0) * _PT


def _tick_label_width(axis: Axis) -> float:
    """Width in inches of the widest major tick label that will be drawn on a numeric axis (limits already set)."""
    low, high = sorted(axis.get_view_interval())
    locs = [loc for loc in axis.get_majorticklocs() if low <= loc <= high]
    return _text_width(axis.get_major_formatter().format_ticks(locs), _RC["ytick.labelsize"])


def _place(fig: Figure, left: float, right: float, bottom: float, top: float, wspace: float = 0.0,
           hspace: float = 0.0, ncols: int = 1, nrows: int = 1) -> None:
    """Margins and the gaps between a grid's axes in inches (subplots_adjust takes fractions)."""
    width, height = fig.get_size_inches()
    axes_w = (width - left - right - (ncols - 1) * wspace) / ncols
    axes_h = (height - top - bottom - (nrows - 1) * hspace) / nrows
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        wspace=wspace / axes_w, hspace=hspace / axes_h)


def _to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": _RC["svg.hashsalt"], "svg.fonttype": _RC["svg.fonttype"]}):
        fig.savefig(buffer, format="svg", dpi=RASTER_DPI, metadata={"Date": None, "Creator": "ctcae-engine"})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML


def _require(frame: pd.DataFrame | None, columns: Sequence[str], what: str) -> str | None:
    """A placeholder message when the frame is missing, empty or lacks columns; None when usable."""
    if frame is None or len(frame) == 0:
        return f"No data for the {what}."
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return f"{what}: input lacks column(s) {', '.join(missing)}."
    return None


def _study_day(frame: pd.DataFrame, day0: pd.Series | None) -> pd.Series:
    """Days from infusion: the ``ady`` column, else ``adt`` minus ``day0`` (usubjid -> infusion date)."""
    if "ady" in frame.columns:
        return pd.to_numeric(frame["ady"], errors="coerce")
    if "adt" in frame.columns and day0 is not None:
        start = pd.to_datetime(frame["usubjid"].map(day0), errors="coerce")
        return (pd.to_datetime(frame["adt"], errors="coerce").dt.normalize() - start.dt.normalize()).dt.days
    raise KeyError("needs an 'ady' column, or 'adt' plus day0 (usubjid -> infusion date)")


def _plain_log_axis(ax: object) -> None:
    """Log y axis labelled 0.1, 1, 10 ... instead of 10^-1, 10^0, 10^1."""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _grade_color_list(grades: pd.Series) -> list[str]:
    return [GRADE_COLORS.get(int(g), "#ffffff") if pd.notna(g) else "#ffffff" for g in grades]


# --------------------------------------------------------------------------------------------------- swimmer
@_styled
def swimmer_plot(participants: pd.DataFrame, ae: pd.DataFrame | None = None,
                 response: pd.DataFrame | None = None, max_labels: int = 60) -> str:
    """Swimmer plot: one bar per participant from infusion (day 0) to the last day on study.

    participants: ``usubjid``, ``days_on_study`` (number), ``death`` (bool), optional ``ongoing`` (bool, arrow at
    the bar end: on study at the cut-off), ``end_status`` ("completed..." / "discontinued...": an end tick) and
    ``best_response`` (CR/PR/SD/PD/NE, colours the bar).
    ae: flagged AE frame (``usubjid``, ``ady``, ``grade``, ``ctcae_term``); grade >= 3 AE onsets and CRS onsets are
    marked. response: ``usubjid``, ``ady``, ``response`` (OVRLRESP); the first CR/PR and the first PD are marked.
    """
    problem = _require(participants, ["usubjid", "days_on_study", "death"], "swimmer plot")
    if problem:
        return placeholder_svg(problem)
    p = participants.copy()
    p["days_on_study"] = pd.to_numeric(p["days_on_study"], errors="coerce")
    p = p.dropna(subset=["days_on_study"]).sort_values(["days_on_study", "usubjid"], kind="stable")
    if p.empty:
        return placeholder_svg("No participant has a known time on study.")
    p = p.reset_index(drop=True)
    row = pd.Series(np.arange(len(p)), index=p["usubjid"])
    fig = _new_figure(7.5, min(2.0 + 0.18 * len(p), 11.0))
    ax = fig.add_subplot()
    best = p["best_response"] if "best_response" in p.columns else pd.Series("", index=p.index)
    colors = [RESPONSE_COLORS.get(str(b), "#c6dbef") for b in best.fillna("")]
    ax.barh(row.to_numpy(), p["days_on_study"], height=0.6, color=colors, edgecolor="none", zorder=1, rasterized=True)
    handles: list = [Patch(color=RESPONSE_COLORS[k], label=f"best response {k}") for k in RESPONSE_COLORS
                     if (best == k).any()]

    def mark(frame: pd.DataFrame, marker: str, color: str, label: str, size: float = 28) -> None:
        frame = frame[frame["usubjid"].isin(row.index)]
        if frame.empty:
            return
        line = marker in ("|", "_")  # an unfilled marker: drawn with its face colour, thicker
        ax.scatter(frame["ady"], frame["usubjid"].map(row), marker=marker, s=size, color=color, zorder=2.2,
                   edgecolors=None if line else "white", linewidths=1.6 if line else 0.4, rasterized=True)
        handles.append(Line2D([], [], marker=marker, linestyle="", color=color, label=label))

    if ae is not None and not _require(ae, ["usubjid", "ady", "grade", "ctcae_term"], "AE"):
        a = ae.assign(ady=pd.to_numeric(ae["ady"], errors="coerce"), grade=pd.to_numeric(ae["grade"], errors="coerce"))
        a = a.dropna(subset=["ady"])
        crs = a[a["ctcae_term"] == CRS_TERM].sort_values("ady").drop_duplicates("usubjid")
        mark(crs, "D", "#fd8d3c", "CRS onset")
        mark(a[(a["grade"] >= 3) & (a["ctcae_term"] != CRS_TERM)], "^", "#d73027", "grade >= 3 AE onset", 24)
    if response is not None and not _require(response, ["usubjid", "ady", "response"], "response"):
        r = response.assign(ady=pd.to_numeric(response["ady"], errors="coerce")).dropna(subset=["ady"])
        r = r.sort_values(["usubjid", "ady"], kind="stable")
        mark(r[r["response"].isin(["CR", "PR"])].drop_duplicates("usubjid"), "o", "#006837", "first CR/PR")
        mark(r[r["response"] == "PD"].drop_duplicates("usubjid"), "s", "#252525", "progression (PD)", 22)
    dead = p[p["death"].astype(bool)]
    mark(dead.assign(ady=dead["days_on_study"]), "X", "#000000", "death", 40)
    if "end_status" in p.columns:  # the bar of a participant who left the study ends there, without an arrow
        status = p["end_status"].fillna("").astype(str)
        done = p[status.str.startswith("completed")]
        mark(done.assign(ady=done["days_on_study"]), "|", "#000000", "completed study", 46)
        gone = p[status.str.startswith("discontinued")]
        mark(gone.assign(ady=gone["days_on_study"]), "|", "#d95f02", "discontinued", 46)
    if "ongoing" in p.columns:
        on = p[p["ongoing"].fillna(False).astype(bool)]
        mark(on.assign(ady=on["days_on_study"] + 4), ">", "#4d4d4d", "in follow-up at cut-off", 22)
    if len(p) <= max_labels:
        ax.set_yticks(row.to_numpy())
        ax.set_yticklabels(p["usubjid"])
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{len(p)} participants, ordered by time on study")
    ax.set_ylim(-0.7, len(p) - 0.3)
    ax.set_xlim(left=min(0.0, float(p["days_on_study"].min())))
    ax.set_xlabel("Days from CAR-T infusion")
    ax.set_title("Time on study and key events per participant")
    ax.grid(axis="x", color="#dddddd", linewidth=0.5, zorder=0)
    ax.set_axisbelow(True)
    ax.legend(handles=handles, loc="lower right", frameon=True, framealpha=0.9)
    names = TICKS + _text_width(p["usubjid"], _RC["ytick.labelsize"]) if len(p) <= max_labels else _line(
        _RC["axes.labelsize"], 4.0)
    _place(fig, left=EDGE + names, right=EDGE + _tick_label_width(ax.xaxis) / 2, bottom=EDGE + XAXIS,
           top=EDGE + TITLE)
    return _to_svg(fig)


# --------------------------------------------------------------------------------------------------- AE heat map
@_styled
def ae_heatmap(ae: pd.DataFrame, max_terms: int = 30, max_labels: int = 60) -> str:
    """Heat map of the worst CTCAE grade per participant (rows) and term (columns).

    ae: ``usubjid``, ``ctcae_term``, ``grade`` (rows with no term or no grade are left out). Terms are ordered by
    the number of participants with the term, most frequent first; at most ``max_terms`` are shown.
    """
    problem = _require(ae, ["usubjid", "ctcae_term", "grade"], "AE heat map")
    if problem:
        return placeholder_svg(problem)
    a = ae.assign(grade=pd.to_numeric(ae["grade"], errors="coerce")).dropna(subset=["ctcae_term", "grade"])
    if a.empty:
        return placeholder_svg("No graded AE with a CTCAE term to show.")
    worst = a.groupby(["usubjid", "ctcae_term"])["grade"].max().unstack("ctcae_term")
    counts = worst.notna().sum()
    terms = sorted(counts.index, key=lambda term: (-int(counts[term]), str(term)))[:max_terms]
    worst = worst[terms].sort_index()
    cmap = ListedColormap([GRADE_COLORS[g] for g in range(1, 6)]).with_extremes(bad="white")  # no grey cell edges
    norm = BoundaryNorm([0.5, 1.5, 2.5, 3.5, 4.5, 5.5], cmap.N)
    n_rows, n_cols = worst.shape
    label_room = 0.055 * max(len(str(t)) for t in terms)  # inches taken by the rotated term names
    row_height = 0.17 if n_rows <= max_labels else max(8.0 / n_rows, 0.004)
    fig = _new_figure(min(3.0 + 0.28 * n_cols, 11.0), min(1.0 + label_room + row_height * n_rows, 14.0))
    ax = fig.add_subplot()
    ax.imshow(worst.to_numpy(dtype=float), cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(n_cols), terms, rotation=60, ha="right", rotation_mode="anchor")
    # white cell borders as two line collections (cheaper to draw and to paint than one minor tick per cell)
    ax.vlines(np.arange(1, n_cols) - 0.5, -0.5, n_rows - 0.5, colors="white", linewidth=0.6)
    if n_rows <= max_labels:
        ax.set_yticks(np.arange(n_rows), worst.index)
        ax.hlines(np.arange(1, n_rows) - 0.5, -0.5, n_cols - 0.5, colors="white", linewidth=0.6)
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{n_rows} participants")
    shown = sorted(int(g) for g in pd.unique(worst.stack()))
    ax.legend(handles=[Patch(color=GRADE_COLORS[g], label=f"grade {g}") for g in shown], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False, title="worst grade")
    extra = f" (top {max_terms} of {len(counts)} terms)" if len(counts) > max_terms else ""
    ax.set_title(f"Worst CTCAE grade per participant and term{extra}")
    size = _RC["xtick.labelsize"]
    names = TICKS + _text_width(worst.index, size) if n_rows <= max_labels else _line(_RC["axes.labelsize"], 4.0)
    fontsize = _RC["legend.fontsize"] * _PT
    legend = 0.8 * fontsize + max(2.8 * fontsize + _text_width([f"grade {g}" for g in shown], _RC["legend.fontsize"]),
                                  _text_width(["worst grade"], _RC["font.size"]))
    right = EDGE + 0.5 * fontsize + 0.02 * fig.get_figwidth() + legend
    # term names are rotated by 60 degrees and end under their column: a long name of an early column reaches
    # left of the axes
    sin, cos = np.sin(np.radians(60)), np.cos(np.radians(60))
    widths = np.array([_text_width([t], size) for t in terms])
    cell = (fig.get_figwidth() - EDGE - names - right) / n_cols
    reach = float(np.max(widths * cos - (np.arange(n_cols) + 0.5) * cell))
    _place(fig, left=EDGE + max(names, reach), right=right, bottom=EDGE + TICKS + widths.max() * sin
           + _line(size) * cos, top=EDGE + TITLE)
    return _to_svg(fig)


# --------------------------------------------------------------------------------------------------- labs
def _limit(value: str | float, lln: float, uln: float) -> float:
    if isinstance(value, str):
        if value == "LLN":
            return lln
        return float(value[:-3]) * uln  # "3ULN" -> 3 x ULN
    return float(value)


def _quantile_ribbon(ax: object, day: pd.Series, value: pd.Series, color: str) -> None:
    """Median line and 10th-90th percentile band per study day (used instead of one line per participant)."""
    q = pd.DataFrame({"day": day.round().to_numpy(), "v": value.to_numpy()}).groupby("day")["v"].quantile(
        [0.1, 0.5, 0.9]).unstack()
    ax.fill_between(q.index, q[0.1], q[0.9], color=color, alpha=0.25, linewidth=0, zorder=2,
                    label="10th-90th percentile")
    ax.plot(q.index, q[0.5], color=color, linewidth=1.6, zorder=3, label="median")


@_styled
def lab_trajectories(obs: pd.DataFrame, tests: Sequence[str] = ("NEUT", "PLAT", "HGB", "ALT"),
                     day0: pd.Series | None = None, xlim: tuple[float, float] | None = (-10, 100),
                     max_lines: int = 60) -> str:
    """Per-participant lab trajectories over CTCAE grade bands, one panel per test.

    obs: graded observations (docs/ARCHITECTURE.md): ``usubjid``, ``testcd``, ``value_si``, ``unit_si``,
    ``lln_si``, ``uln_si``, ``grade`` and either ``ady`` (days from infusion) or ``adt`` with ``day0``
    (Series usubjid -> infusion date). Points are coloured by the engine's grade; the bands use the median
    LLN/ULN of the panel. Rows without a value or a day are left out. With more than ``max_lines`` participants
    a panel shows the median and the 10th-90th percentile band per study day instead of one line each.
    """
    problem = _require(obs, ["usubjid", "testcd", "value_si"], "lab trajectories")
    if problem:
        return placeholder_svg(problem)
    try:
        day = _study_day(obs, day0)
    except KeyError as err:
        return placeholder_svg(f"lab trajectories: {err.args[0]}")
    data = obs.assign(day=day, value=pd.to_numeric(obs["value_si"], errors="coerce"))
    data = data[data["testcd"].isin(tests)].dropna(subset=["day", "value"])
    if data.empty:
        return placeholder_svg(f"No {', '.join(tests)} results with a value and a date.")
    panels = [t for t in tests if (data["testcd"] == t).any()]
    ncols = 2 if len(panels) > 1 else 1
    nrows = int(np.ceil(len(panels) / ncols))
    fig = _new_figure(7.5, 2.6 * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax, code in zip(axes, panels, strict=False):
        d = data[data["testcd"] == code].sort_values(["usubjid", "day"], kind="stable")
        name, scale, bands = LAB_BANDS.get(code, (code, "linear", []))
        unit = str(d["unit_si"].dropna().iloc[0]) if "unit_si" in d and d["unit_si"].notna().any() else ""
        lln = float(pd.to_numeric(d.get("lln_si"), errors="coerce").median()) if "lln_si" in d else np.nan
        uln = float(pd.to_numeric(d.get("uln_si"), errors="coerce").median()) if "uln_si" in d else np.nan
        positive = d["value"].clip(lower=1e-3) if scale == "log" else d["value"]
        top = float(positive.max()) * 1.25
        bottom = float(positive.min()) / 1.5 if scale == "log" else 0.0
        for grade, lo, hi in bands:
            try:
                lo_v, hi_v = _limit(lo, lln, uln), _limit(hi, lln, uln)
            except (TypeError, ValueError):
                continue
            if np.isnan(lo_v) or np.isnan(hi_v):
                continue
            ax.axhspan(max(lo_v, bottom), min(hi_v, top), color=GRADE_COLORS[grade], alpha=0.35, linewidth=0,
                       zorder=0)
        aggregated = d["usubjid"].nunique() > max_lines
        if aggregated:
            _quantile_ribbon(ax, d["day"], positive, "#4d4d4d")
        else:
            starts = np.flatnonzero(np.r_[True, d["usubjid"].to_numpy()[1:] != d["usubjid"].to_numpy()[:-1]])
            xy = np.column_stack([d["day"].to_numpy(dtype=float), positive.to_numpy(dtype=float)])
            ax.add_collection(LineCollection(np.split(xy, starts[1:]), colors="#4d4d4d", linewidths=0.6,
                                             alpha=0.6, zorder=2, rasterized=True))
            grade = d["grade"] if "grade" in d else pd.Series(np.nan, index=d.index)
            ax.scatter(xy[:, 0], xy[:, 1], s=7, c=_grade_color_list(grade), edgecolors="#4d4d4d",
                       linewidths=0.3, zorder=2.2, rasterized=True)
        ax.set_yscale(scale)
        if scale == "log":
            _plain_log_axis(ax)
            if top / bottom < 200:  # under ~2 decades: label 1-2-5 steps, not only the powers of ten
                ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.set_ylim(bottom if scale == "log" else 0.0, top)
        if xlim is not None:
            ax.set_xlim(*xlim)
        else:
            ax.autoscale(axis="x")
        ax.axvline(0, color="#2166ac", linewidth=0.8, linestyle=":", zorder=1)
        title = f"{name} ({unit})" if unit else name
        ax.set_title(f"{title}: median, 10th-90th percentile" if aggregated else title)
        ax.set_xlabel("Days from CAR-T infusion")
    handles = [Patch(color=GRADE_COLORS[g], alpha=0.6, label=f"CTCAE grade {g}") for g in range(1, 5)]
    fig.legend(handles=handles, loc="lower center", ncols=4, frameon=False)
    labels = TICKS + max(_tick_label_width(ax.yaxis) for ax in axes[:len(panels)])
    overhang = max(_tick_label_width(ax.xaxis) for ax in axes[:len(panels)]) / 2  # last x label, centred on the edge
    legend_row = 3.0 * _RC["legend.fontsize"] * _PT
    _place(fig, left=EDGE + labels, right=EDGE + overhang, bottom=EDGE + legend_row + XAXIS, top=EDGE + TITLE,
           wspace=overhang + 0.15 + labels, hspace=XAXIS + 0.1 + TITLE, ncols=ncols, nrows=nrows)
    return _to_svg(fig)


# --------------------------------------------------------------------------------------------------- Kaplan-Meier
@_styled
def km_plot(fitter: object | None = None, durations: Sequence[float] | pd.Series | None = None,
            events: Sequence[bool] | pd.Series | None = None, label: str = "PFS",
            time_unit: str = "months", tick_every: float | None = None) -> str:
    """Kaplan-Meier curve with censoring ticks, 95% band and numbers at risk under the axis.

    Give a fitted ``lifelines.KaplanMeierFitter`` or ``durations`` (time from infusion, in ``time_unit``) and
    ``events`` (True = progression or death, False = censored).
    """
    from lifelines import KaplanMeierFitter

    if fitter is None:
        if durations is None or events is None or len(durations) == 0:
            return placeholder_svg(f"No data for the {label} curve.")
        t = pd.to_numeric(pd.Series(durations), errors="coerce").to_numpy(dtype=float)
        e = pd.Series(events).astype(bool).to_numpy()
        keep = ~np.isnan(t)
        if not keep.any():
            return placeholder_svg(f"No usable times for the {label} curve.")
        fitter = KaplanMeierFitter(label=label).fit(t[keep], e[keep])
    t = np.asarray(fitter.durations, dtype=float)
    e = np.asarray(fitter.event_observed, dtype=bool)
    fig = _new_figure(6.5, 4.2)
    grid = fig.add_gridspec(2, 1, height_ratios=[5, 1])
    ax = fig.add_subplot(grid[0])
    sf = fitter.survival_function_.iloc[:, 0]
    ci = fitter.confidence_interval_survival_function_
    ax.step(sf.index, sf.to_numpy(), where="post", color="#2166ac", linewidth=1.4, label=label)
    ax.fill_between(ci.index, ci.iloc[:, 0], ci.iloc[:, 1], step="post", color="#2166ac", alpha=0.15, linewidth=0,
                    label="95% CI")
    censored = np.sort(t[~e])
    if censored.size:
        ax.plot(censored, fitter.survival_function_at_times(censored).to_numpy(), "|", color="#2166ac",
                markersize=8, markeredgewidth=1.2, label="censored")
    median = fitter.median_survival_time_
    median_text = "not reached" if not np.isfinite(median) else f"{median:.1f} {time_unit}"
    ax.set_ylim(0, 1.03)
    horizon = float(t.max()) if t.size else 1.0
    step = tick_every or (3.0 if horizon <= 24 else 6.0)
    ticks = np.arange(0.0, horizon + step, step)
    ax.set_xticks(ticks)
    ax.set_xlim(0, ticks[-1])
    ax.set_ylabel("Probability")
    ax.set_title(f"Kaplan-Meier estimate of {label} (n = {len(t)}, events = {int(e.sum())}, median {median_text})")
    ax.grid(color="#dddddd", linewidth=0.5)
    ax.legend(loc="upper right", frameon=False)
    table = fig.add_subplot(grid[1], sharex=ax)
    at_risk = (t[None, :] >= ticks[:, None]).sum(axis=1)
    for x, n in zip(ticks, at_risk, strict=True):
        table.text(x, 0.5, str(int(n)), ha="center", va="center")
    ax.set_xlabel(f"Time from CAR-T infusion ({time_unit})")
    table.set_ylim(0, 1)
    table.set_yticks([])
    table.tick_params(bottom=False, labelbottom=False)
    table.set_title("Number at risk", loc="left", fontsize=7)
    for spine in table.spines.values():
        spine.set_visible(False)
    _place(fig, left=EDGE + _line(_RC["axes.labelsize"], 4.0) + TICKS + _tick_label_width(ax.yaxis),
           right=EDGE + _tick_label_width(ax.xaxis) / 2, bottom=EDGE, top=EDGE + TITLE,
           hspace=XAXIS + 0.05 + _line(7, 6.0), nrows=2)  # x axis of the curve, then the table's title
    return _to_svg(fig)


# --------------------------------------------------------------------------------------------------- CAR-T
@_styled
def cart_persistence(pc: pd.DataFrame, lloq: float = 50.0, unit: str = "copies/ug gDNA", max_lines: int = 60) -> str:
    """CAR-T transgene level over time per participant (log scale) with the LLOQ line.

    pc: ``usubjid``, ``ady`` (days from infusion), ``value`` (number; empty for results below the LLOQ) and
    optional ``blq`` (bool) and ``reason`` (rows with a reason are not plotted: see efficacy.cart_samples; nor are
    infinite values, which no axis can hold). Results
    below the LLOQ are not detectable: open markers in a grey band under the LLOQ line; the median follows
    :mod:`ctcae_engine.analyse.persistence` (a median touching such a sample lies in the band). With more than
    ``max_lines`` participants the median and 10th-90th percentile band per day replace the individual lines.
    """
    problem = _require(pc, ["usubjid", "ady", "value"], "CAR-T persistence plot")
    if problem:
        return placeholder_svg(problem)
    if "reason" in pc.columns:  # a sample with a reason (non-numeric result, no date) is not below the LLOQ
        pc = pc[pc["reason"].astype("string").fillna("").eq("").to_numpy(dtype=bool)]
    d = pc.assign(ady=pd.to_numeric(pc["ady"], errors="coerce"), value=pd.to_numeric(pc["value"], errors="coerce"))
    d = d[~np.isinf(d["value"].to_numpy(dtype=float)) & ~np.isinf(d["ady"].to_numpy(dtype=float))]  # not drawable
    blq = d["blq"].fillna(False).astype(bool) if "blq" in d.columns else pd.Series(False, index=d.index)
    blq = blq | d["value"].isna() | (d["value"] < lloq)
    d = d.assign(blq=blq, plotted=np.where(blq, lloq / 2.0, d["value"])).dropna(subset=["ady"])
    d = d[d["ady"] >= 0].sort_values(["usubjid", "ady"], kind="stable")
    if d.empty:
        return placeholder_svg("No CAR-T measurement after infusion.")
    fig = _new_figure(6.5, 3.8)
    ax = fig.add_subplot()
    if d["usubjid"].nunique() > max_lines:
        _quantile_ribbon(ax, d["ady"], d["plotted"], "#6a51a3")
    else:
        starts = np.flatnonzero(np.r_[True, d["usubjid"].to_numpy()[1:] != d["usubjid"].to_numpy()[:-1]])
        xy = np.column_stack([d["ady"].to_numpy(dtype=float), d["plotted"].to_numpy(dtype=float)])
        ax.add_collection(LineCollection(np.split(xy, starts[1:]), colors="#6a51a3", linewidths=0.7, alpha=0.55,
                                         rasterized=True))
        q = d[~d["blq"]]
        b = d[d["blq"]]
        ax.scatter(q["ady"], q["plotted"], s=9, color="#6a51a3", zorder=2.2, label="quantified", rasterized=True)
        if len(b):  # the legend names only what is drawn
            ax.scatter(b["ady"], b["plotted"], s=11, facecolors="white", edgecolors="#6a51a3", linewidths=0.7,
                       zorder=2.2, label="< LLOQ: not detectable", rasterized=True)
        # the table's rule (analyse.persistence): a median touching a sample below the LLOQ is "<LLOQ", in the band
        median = pd.Series({day: blq_quantile(g["value"].where(~g["blq"]), 0.5) for day, g in d.groupby("ady")})
        median = median.map(lambda m: lloq / 2.0 if m == BELOW_LLOQ else m).astype(float)
        if len(median) > 1:
            ax.plot(median.index, median.to_numpy(), color="#3f007d", linewidth=1.8, zorder=2.3, label="median")
    ax.axhspan(lloq / 4.0, lloq, color="#eeeeee", zorder=0.5, linewidth=0)
    ax.axhline(lloq, color="#cb181d", linestyle="--", linewidth=1.0, zorder=2.4, label=f"LLOQ {lloq:g}")
    ax.set_yscale("log")
    _plain_log_axis(ax)
    if lloq > 0:  # the band of the samples below the LLOQ, named on the axis
        ax.yaxis.set_minor_locator(FixedLocator([lloq / 2.0]))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda _value, _pos: "<LLOQ"))
    ax.set_ylim(lloq / 4.0, max(float(d["plotted"].max()) * 2.0, lloq * 10))
    ax.set_xlim(left=-5)
    ax.set_xlabel("Days from CAR-T infusion")
    ax.set_ylabel(f"CAR transgene ({unit})")
    ax.set_title("CAR-T cell persistence in peripheral blood")
    ax.grid(color="#dddddd", linewidth=0.5, which="major")
    ax.legend(loc="upper right", frameon=False)
    _place(fig, left=EDGE + _line(_RC["axes.labelsize"], 4.0) + TICKS + _tick_label_width(ax.yaxis),
           right=EDGE + _tick_label_width(ax.xaxis) / 2, bottom=EDGE + XAXIS, top=EDGE + TITLE)
    return _to_svg(fig)
