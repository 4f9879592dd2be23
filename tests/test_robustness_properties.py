"""Property tests of every public grader on hostile frames (issue 16): rows of the demo trial with cells replaced by
hostile values (non-numbers, infinities, huge numbers, dates in 1724 or 2300, 100,000-character texts, formulas,
``$`` signs), columns dropped, renamed in lower case or with blanks, or given twice (with the same or other values).

For each frame: the grader either returns one row per input row (same index, same order) or raises a ``ValueError``
with a message (the documented clear errors: a repeated column with different values, a frame that is not of the
grader's kind, required columns missing); any other exception is a defect. The input frame is never changed.

Bounded for the fast tier (``HYPOTHESIS_PROFILE=fast``, the default: 25 frames per grader, a few seconds each).
``HYPOTHESIS_PROFILE=long`` (2,000 frames per grader) is the longer, benchmark-style run:
``HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_robustness_properties.py``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctcae_engine as ce

settings.register_profile("fast", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "2000")), deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fast")

DEMO = ce.load_demo()
GRADERS = {  # grader, demo domain, whether the output has one row per input row (same index)
    "grade_labs": (ce.grade_labs, "lb", True),
    "grade_vitals": (ce.grade_vitals, "vs", True),
    "grade_ecg": (ce.grade_ecg, "eg", True),
    "grade_crs": (ce.grade_crs, "xc", False),
    "grade_icans": (ce.grade_icans, "xc", False),
    "validate_ae": (ce.validate_ae, "ae", True),
}
HOSTILE = ["", " ", "inf", "-inf", "nan", "NaN", "1e400", "-1e400", "1e308", "-1", "0", "-0.0", "<0.5", ">=1000",
           "1,5", "ND", "=1+1", "@SUM(A1)", "+cmd", "-2+3", "\t7", "$\\frac$", "$x^2$", "1724-03-10", "2300-01-01",
           "2024-02-30", "2024-13-01", "2024", "2024-03", "2024-03-10T25:00", "2024-03-10 08:00",
           "2021-03-15T10:00+02:00", "9" * 100_000, "x" * 5000, "Y", "N", "U", "NA", "\u00e9\u00e8", "\x00", None]


def _column_names(frame: pd.DataFrame) -> st.SearchStrategy[list[str]]:
    return st.just(list(frame.columns))


@st.composite
def hostile_frames(draw: st.DrawFn, domain: str) -> pd.DataFrame:
    source = DEMO[domain]
    n = draw(st.integers(min_value=0, max_value=12))
    rows = draw(st.lists(st.integers(min_value=0, max_value=len(source) - 1), min_size=n, max_size=n))
    frame = source.iloc[rows].astype(object).reset_index(drop=True)
    columns = list(frame.columns)
    for _ in range(draw(st.integers(min_value=0, max_value=2 * max(n, 1)))):  # hostile cells
        if n == 0:
            break
        row = draw(st.integers(min_value=0, max_value=n - 1))
        column = draw(st.sampled_from(columns))
        value = draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12),
                               st.floats(allow_nan=True, allow_infinity=True).map(repr)))
        frame.iat[row, columns.index(column)] = value
    for _ in range(draw(st.integers(min_value=0, max_value=3))):  # hostile columns
        action = draw(st.sampled_from(["drop", "lower", "blank", "twice", "twice_other"]))
        column = draw(st.sampled_from(list(frame.columns)))
        position = list(frame.columns).index(column)
        if action == "drop":
            frame = frame.drop(columns=[column])
        elif action in ("lower", "blank"):
            name = column.lower() if action == "lower" else f" {column} "
            frame.columns = [name if i == position else c for i, c in enumerate(frame.columns)]
        else:
            extra = frame.iloc[:, position].copy()
            if action == "twice_other" and n:
                extra.iloc[0] = "other"
            frame = pd.concat([frame, extra.rename(draw(st.sampled_from([column, column.lower()])))], axis=1)
        if frame.shape[1] == 0:
            break
    if draw(st.booleans()):
        frame.index = pd.Index(draw(st.lists(st.integers(-5, 5), min_size=len(frame), max_size=len(frame))))
    return frame


def _check(name: str, frame: pd.DataFrame) -> None:
    grader, _, same_rows = GRADERS[name]
    before = frame.copy(deep=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = grader(frame)
    except ValueError as exc:  # the documented clear errors
        assert str(exc).strip(), f"{name}: a ValueError without a message"
        out = None
    pd.testing.assert_frame_equal(frame, before)  # the input is never changed
    if out is None:
        return
    assert isinstance(out, pd.DataFrame)
    if same_rows:
        assert len(out) == len(frame) and list(out.index) == list(frame.index)
        graded = out.get("grade")
        if graded is not None and "reason" in out.columns and name != "validate_ae":
            # a row without a grade always says why
            ungraded = graded.isna().to_numpy()
            assert out.loc[ungraded, "reason"].fillna("").astype(str).str.strip().ne("").all()
    else:  # CRS/ICANS: one row per participant and assessment time; every participant with a usable row is there
        assert len(out) <= len(frame)


@pytest.mark.parametrize("name", list(GRADERS))
def test_no_grader_fails_on_hostile_frames_other_than_with_a_clear_error(name):
    domain = GRADERS[name][1]

    @settings(settings.get_profile(PROFILE))
    @given(hostile_frames(domain))
    def run(frame: pd.DataFrame) -> None:
        _check(name, frame)

    run()


def test_the_hostile_values_reach_the_graders():
    """The strategy is not vacuous: a frame with every hostile value in the result column is graded row by row."""
    lb = DEMO["lb"].iloc[[0] * len(HOSTILE)].reset_index(drop=True).astype(object)
    lb["LBSTRESN"] = HOSTILE
    lb["LBORRES"] = HOSTILE
    lb["LBDTC"] = HOSTILE
    out = ce.grade_labs(lb)
    assert len(out) == len(HOSTILE)
    assert out.loc[out["grade"].isna(), "reason"].str.len().gt(0).all()
    assert np.isfinite(out["value_si"].dropna()).all()


@st.composite
def one_bad_cell(draw: st.DrawFn) -> tuple[str, int, str, str | None]:
    from ctcae_engine.demo import DATA_DIR

    domain = draw(st.sampled_from(sorted(path.stem for path in DATA_DIR.glob("*.csv"))))
    frame = pd.read_csv(DATA_DIR / f"{domain}.csv", dtype=str, keep_default_na=False)  # the file as delivered
    column = draw(st.sampled_from(list(frame.columns)))
    row = draw(st.integers(min_value=0, max_value=len(frame) - 1))
    return domain, row, column, draw(st.sampled_from(HOSTILE))


@pytest.mark.slow  # a few full analyses of the demo trial
def test_one_bad_cell_in_the_demo_is_an_input_error_or_a_run_without_failed_stage(tmp_path_factory):
    """run_study on the demo with one hostile cell: either the input checks stop it with an error (exit 3: a key
    date, an AE of nobody, a flag outside its codelist...) or every stage runs (never exit 1 or 5)."""
    import shutil

    from ctcae_engine.demo import DATA_DIR
    from ctcae_engine.read.checks import check_folder
    from ctcae_engine.read.config import load_config
    from ctcae_engine.run.pipeline import run_study

    config = load_config()
    examples = 6 if PROFILE == "fast" else 60

    @settings(settings.get_profile(PROFILE), max_examples=examples)
    @given(one_bad_cell())
    def run(change: tuple[str, int, str, str | None]) -> None:
        domain, row, column, value = change
        data = tmp_path_factory.mktemp("bad_cell") / "data"
        shutil.copytree(DATA_DIR, data)
        frame = pd.read_csv(data / f"{domain}.csv", dtype=str, keep_default_na=False)
        frame.iat[row, list(frame.columns).index(column)] = "" if value is None else value
        frame.to_csv(data / f"{domain}.csv", index=False)
        checked = check_folder(data, config)
        if checked.errors:
            return
        results = run_study(data, config, frames=checked.frames, hashes=checked.hashes)
        assert results.stage_errors == [], (change, results.stage_errors)

    run()
