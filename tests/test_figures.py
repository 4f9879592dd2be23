"""Report figures: valid SVG, byte-deterministic, readable placeholders for empty input, the right content."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from ctcae_engine.demo import DATA_DIR
from ctcae_engine.figures import draw as figures
from ctcae_engine.read.files import read_study

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    """Figure inputs built directly from the demo SDTM files (independently of the engine's own modules)."""
    d = read_study(DATA_DIR)
    dm = d["dm"][d["dm"]["ARMCD"] == "CART"]
    day0 = pd.to_datetime(dm.set_index("USUBJID")["RFXSTDTC"]).dt.normalize()

    def ady(frame: pd.DataFrame, column: str) -> pd.Series:
        return (pd.to_datetime(frame[column].str[:10], errors="coerce") - frame["USUBJID"].map(day0)).dt.days

    last = pd.to_datetime(dm["RFPENDTC"]).fillna(pd.Timestamp("2025-06-30"))
    participants = pd.DataFrame({
        "usubjid": dm["USUBJID"].to_numpy(),
        "days_on_study": (last.to_numpy() - day0[dm["USUBJID"]].to_numpy()) / np.timedelta64(1, "D"),
        "death": dm["DTHFL"].eq("Y").to_numpy(), "ongoing": dm["RFPENDTC"].isna().to_numpy(),
    })
    rs = d["rs"].assign(usubjid=lambda f: f["USUBJID"], response=lambda f: f["RSSTRESC"])
    rs["ady"] = ady(rs, "RSDTC")
    ae = d["ae"].assign(usubjid=lambda f: f["USUBJID"], ctcae_term=lambda f: f["AEDECOD"],
                        grade=lambda f: pd.to_numeric(f["AETOXGR"]))
    ae["ady"] = ady(ae, "AESTDTC")
    lb = d["lb"][d["lb"]["USUBJID"].isin(day0.index)]
    obs = pd.DataFrame({
        "usubjid": lb["USUBJID"], "testcd": lb["LBTESTCD"], "value_si": pd.to_numeric(lb["LBSTRESN"]),
        "unit_si": lb["LBSTRESU"], "lln_si": pd.to_numeric(lb["LBSTNRLO"]), "uln_si": pd.to_numeric(lb["LBSTNRHI"]),
        "adt": pd.to_datetime(lb["LBDTC"]), "grade": pd.array([pd.NA] * len(lb), dtype="Int64"),
    })
    pc = d["pc"]
    cart = pd.DataFrame({"usubjid": pc["USUBJID"], "ady": pd.to_numeric(pc["PCDY"]),
                         "value": pd.to_numeric(pc["PCSTRESN"]), "blq": pc["PCSTRESC"].eq("BLQ")})
    return {"participants": participants, "rs": rs, "ae": ae, "obs": obs, "day0": day0, "pc": cart}


def _calls(demo: dict[str, pd.DataFrame]) -> dict[str, object]:
    rng = np.random.default_rng(3)
    durations = rng.exponential(8.0, 20).round(2)
    return {
        "swimmer": lambda: figures.swimmer_plot(demo["participants"], demo["ae"], demo["rs"]),
        "heatmap": lambda: figures.ae_heatmap(demo["ae"]),
        "labs": lambda: figures.lab_trajectories(demo["obs"], day0=demo["day0"]),
        "km": lambda: figures.km_plot(durations=durations, events=durations < 10),
        "cart": lambda: figures.cart_persistence(demo["pc"]),
    }


@pytest.mark.parametrize("name", ["swimmer", "heatmap", "labs", "km", "cart"])
@pytest.mark.slow  # renders every figure (twice)
def test_valid_and_byte_deterministic(demo: dict[str, pd.DataFrame], name: str) -> None:
    call = _calls(demo)[name]
    first, second = call(), call()
    assert first.startswith("<svg")
    _texts(first)  # parses as XML with an <svg> root
    assert first == second


@pytest.mark.parametrize("call, expected", [
    pytest.param(lambda: figures.swimmer_plot(pd.DataFrame(columns=["usubjid", "days_on_study", "death"])),
                 "No data for the swimmer plot.", id="swimmer-empty"),
    pytest.param(lambda: figures.swimmer_plot(pd.DataFrame({"usubjid": ["A"]})),
                 "swimmer plot: input lacks column(s) days_on_study, death.", id="swimmer-missing-columns"),
    pytest.param(lambda: figures.ae_heatmap(pd.DataFrame(columns=["usubjid", "ctcae_term", "grade"])),
                 "No data for the AE heat map.", id="heatmap-empty"),
    pytest.param(lambda: figures.ae_heatmap(pd.DataFrame({"usubjid": ["A"], "ctcae_term": ["Anemia"],
                                                          "grade": [None]})),
                 "No graded AE with a CTCAE term to show.", id="heatmap-ungraded"),
    pytest.param(lambda: figures.lab_trajectories(pd.DataFrame(columns=["usubjid", "testcd", "value_si", "ady"])),
                 "No data for the lab trajectories.", id="labs-empty"),
    pytest.param(lambda: figures.lab_trajectories(pd.DataFrame({"usubjid": ["A"], "testcd": ["NEUT"],
                                                                "value_si": [1.0]})),
                 "lab trajectories: needs an 'ady' column, or 'adt' plus day0 (usubjid -> infusion date)",
                 id="labs-no-day"),
    pytest.param(lambda: figures.km_plot(durations=[], events=[]), "No data for the PFS curve.", id="km-empty"),
    pytest.param(lambda: figures.km_plot(), "No data for the PFS curve.", id="km-nothing"),
    pytest.param(lambda: figures.cart_persistence(pd.DataFrame(columns=["usubjid", "ady", "value"])),
                 "No data for the CAR-T persistence plot.", id="cart-empty"),
    pytest.param(lambda: figures.cart_persistence(None), "No data for the CAR-T persistence plot.", id="cart-none"),
])
def test_empty_input_gives_a_placeholder(call: object, expected: str) -> None:
    assert _texts(call()) == [expected]


def test_placeholder_escapes_text() -> None:
    svg = figures.placeholder_svg("<img src=http://x> & more")
    assert _texts(svg) == ["<img src=http://x> & more"]
    assert "<img" not in svg


def test_swimmer_names_every_participant_and_marks_events(demo: dict[str, pd.DataFrame]) -> None:
    texts = _texts(figures.swimmer_plot(demo["participants"], demo["ae"], demo["rs"]))
    assert set(demo["participants"]["usubjid"]) <= set(texts)
    for label in ("CRS onset", "grade >= 3 AE onset", "first CR/PR", "progression (PD)", "death",
                  "in follow-up at cut-off"):
        assert label in texts


def test_heatmap_shows_worst_grade_terms_by_frequency(demo: dict[str, pd.DataFrame]) -> None:
    ae = pd.DataFrame({"usubjid": ["A", "A", "B", "C"], "ctcae_term": ["Fatigue", "Fatigue", "Fatigue", "Nausea"],
                       "grade": [1, 3, 2, 1]})
    texts = _texts(figures.ae_heatmap(ae))
    assert texts.index("Fatigue") < texts.index("Nausea")
    assert "grade 3" in texts and "grade 4" not in texts  # A's two Fatigue records give one cell, worst = 3
    capped = _texts(figures.ae_heatmap(demo["ae"], max_terms=5))
    assert any("top 5 of" in t for t in capped)


def test_lab_panels_accept_ady_or_adt(demo: dict[str, pd.DataFrame]) -> None:
    obs = demo["obs"]
    with_ady = obs.assign(ady=(obs["adt"].dt.normalize() - obs["usubjid"].map(demo["day0"])).dt.days)
    assert figures.lab_trajectories(with_ady.drop(columns="adt")) == figures.lab_trajectories(obs, day0=demo["day0"])
    texts = _texts(figures.lab_trajectories(with_ady, tests=("NEUT", "ALT")))
    assert "Neutrophils (10^9/L)" in texts and "ALT (U/L)" in texts and "Platelets (10^9/L)" not in texts


def test_km_numbers_at_risk_and_fitter_input() -> None:
    durations = [1.0, 2.0, 2.5, 4.0, 7.0, 8.0]
    events = [True, False, True, True, False, False]
    texts = _texts(figures.km_plot(durations=durations, events=events, tick_every=3.0))
    at_risk = texts[texts.index("censored") + 1:texts.index("Number at risk")]
    assert at_risk == ["6", "3", "2", "0"]  # at 0, 3, 6, 9 months: times >= t
    assert any("n = 6, events = 3" in t for t in texts)
    fitted = KaplanMeierFitter(label="PFS").fit(durations, events)
    assert figures.km_plot(fitted, tick_every=3.0) == figures.km_plot(durations=durations, events=events,
                                                                      tick_every=3.0)


def test_cart_persistence_draws_lloq(demo: dict[str, pd.DataFrame]) -> None:
    texts = _texts(figures.cart_persistence(demo["pc"], lloq=50.0))
    assert "LLOQ 50" in texts
    assert "< LLOQ: not detectable" in texts


def test_many_participants_are_summarised_not_drawn_one_by_one(demo: dict[str, pd.DataFrame]) -> None:
    obs = demo["obs"]
    texts = _texts(figures.lab_trajectories(obs, tests=("NEUT",), day0=demo["day0"], max_lines=5))
    assert "Neutrophils (10^9/L): median, 10th-90th percentile" in texts
    few = figures.lab_trajectories(obs, tests=("NEUT",), day0=demo["day0"])
    assert "Neutrophils (10^9/L)" in _texts(few)
    cart = _texts(figures.cart_persistence(demo["pc"], max_lines=5))
    assert "median" in cart and "10th-90th percentile" in cart


def _embedded_pngs(svg: str) -> list[tuple[bytes, float, float]]:
    """(PNG bytes, width, height in pt) of every raster image embedded in an SVG."""
    root = ET.fromstring(svg)
    out = []
    for node in root.iter(f"{SVG}image"):
        href = node.get("{http://www.w3.org/1999/xlink}href") or node.get("href") or ""
        assert href.startswith("data:image/png;base64,")  # embedded, nothing fetched
        out.append((base64.b64decode(href.split(",", 1)[1]), float(node.get("width")), float(node.get("height"))))
    return out


@pytest.mark.parametrize("name, most_images", [
    pytest.param("labs", 4, id="labs-one-raster-layer-per-panel"),
    pytest.param("cart", 1, id="cart-one-raster-layer"),
    pytest.param("swimmer", 1, id="swimmer-bars-and-markers-one-layer"),
])
def test_dense_layers_are_rasterized_text_stays_vector(demo: dict[str, pd.DataFrame], name: str,
                                                       most_images: int) -> None:
    svg = _calls(demo)[name]()
    images = _embedded_pngs(svg)
    assert 1 <= len(images) <= most_images  # points and lines merged into one image per axes
    for png, width_pt, _height_pt in images:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"tIME" not in png and b"tEXt" not in png  # no time stamp or text chunk: same input, same bytes
        pixels = int.from_bytes(png[16:20], "big")  # IHDR width
        assert pixels / (width_pt / 72.0) == pytest.approx(figures.RASTER_DPI, rel=0.05)
    assert "dc:date" not in svg
    assert len(_texts(svg)) > 10  # titles, tick labels and legends are still text


def test_lab_points_are_not_vector_markers(demo: dict[str, pd.DataFrame]) -> None:
    svg = _calls(demo)["labs"]()
    n_points = int(demo["obs"]["testcd"].isin(["NEUT", "PLAT", "HGB", "ALT"]).sum())
    assert n_points > 500
    assert svg.count("<use") < 200  # tick marks only: the points are in the raster layer


def _drawn(call: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """The matplotlib Figure a figure function saved (captured on its way to SVG)."""
    saved = []
    to_svg = figures._to_svg
    monkeypatch.setattr(figures, "_to_svg", lambda fig: saved.append(fig) or to_svg(fig))
    call()
    return saved[0]


@pytest.mark.parametrize("name", ["swimmer", "heatmap", "labs", "km", "cart"])
@pytest.mark.parametrize("many", [False, True], ids=["labelled", "many-participants"])
@pytest.mark.slow  # renders every figure (twice)
def test_fixed_layout_keeps_every_label_inside_and_apart(demo: dict[str, pd.DataFrame], name: str, many: bool,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Margins come from the measured label widths (no layout engine): nothing is cut at the figure's edges, the
    panels' labels do not run into each other, and the plotting area keeps most of the figure."""
    from matplotlib.backends.backend_svg import RendererSVG

    calls = _calls(demo)
    if many:  # no participant names on the axes: an axis label instead
        calls = {**calls,
                 "swimmer": lambda: figures.swimmer_plot(demo["participants"], demo["ae"], demo["rs"], max_labels=5),
                 "heatmap": lambda: figures.ae_heatmap(demo["ae"], max_labels=5),
                 "labs": lambda: figures.lab_trajectories(demo["obs"], day0=demo["day0"], max_lines=5),
                 "cart": lambda: figures.cart_persistence(demo["pc"], max_lines=5)}
    fig = _drawn(calls[name], monkeypatch)
    width, height = fig.get_size_inches()
    fig.set_dpi(72)  # as savefig does for SVG: one unit = one point
    renderer = RendererSVG(width * 72, height * 72, io.StringIO())  # the text metrics of the SVG the report embeds
    content = fig.get_tightbbox(renderer)  # inches, what is drawn, with the SVG text metrics
    assert content.x0 >= 0 and content.y0 >= 0, (content, width, height)
    assert content.x1 <= width and content.y1 <= height, (content, width, height)
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
    for i, first in enumerate(boxes):
        for second in boxes[i + 1:]:
            overlap_w = min(first.x1, second.x1) - max(first.x0, second.x0)
            overlap_h = min(first.y1, second.y1) - max(first.y0, second.y0)
            assert overlap_w <= 0 or overlap_h <= 0, "labels of two panels overlap"
    plot = fig.axes[0].get_position()  # figure fraction
    assert plot.width > 0.35 and plot.height > (0.1 if name == "km" else 0.3)


def test_cart_persistence_does_not_draw_an_unreadable_result_as_below_lloq() -> None:
    # efficacy.cart_samples: a HEMOLYZED sample has value NaN and reason "non-numeric result"; it is no < LLOQ result
    pc = pd.DataFrame({"usubjid": ["P1"] * 3, "ady": [7, 14, 28], "value": [1000.0, 500.0, float("nan")],
                       "blq": [False, False, False], "reason": ["", "", "non-numeric result"]})
    assert "< LLOQ: not detectable" not in _texts(figures.cart_persistence(pc, lloq=50.0))
    below = pc.assign(blq=[False, False, True], reason="")
    assert "< LLOQ: not detectable" in _texts(figures.cart_persistence(below, lloq=50.0))
