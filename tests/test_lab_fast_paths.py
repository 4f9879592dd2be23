"""The speed paths of lab grading change no result: text hashed by object identity, output built in one step.

columns.factorize groups rows that hold the same Python object by its address before hashing text; these tests
check it against pandas' own factorize on the awkward cases (equal texts held by distinct objects, every kind of
missing value) and that grade_labs gives the same frame whatever the text columns are made of.
"""


import numpy as np
import pandas as pd
import pytest

from ctcae_engine.grade.findings import grade_labs
from ctcae_engine.read.columns import factorize


def _fresh(text: object) -> object:
    """An equal string held by a new object (what a row-by-row reader would produce)."""
    return "".join(list(text)) if isinstance(text, str) else text


@pytest.mark.parametrize("every", [10, 1], ids=["one-row-in-10-holds-its-own-copy", "every-row-holds-its-own-copy"])
def test_factorize_matches_pandas_on_shared_and_distinct_objects_and_missing_values(every):
    rng = np.random.default_rng(7)
    pool = np.array(["ALT", "AST", " alt", "ALT", None, np.nan, pd.NA, "", "Y"], dtype=object)
    values = pool[rng.integers(0, len(pool), 20_000)]
    values[::every] = [_fresh(v) for v in values[::every]]
    codes, uniques = factorize(pd.Series(values, dtype=object))
    expected_codes, expected_uniques = pd.factorize(values, use_na_sentinel=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques)  # same texts, same order of first appearance
    assert len(uniques) == 5  # "ALT" copies share one code
    assert (codes[pd.isna(values)] == -1).all()


def test_factorize_small_and_non_object_inputs_fall_back_to_pandas():
    small = pd.Series(["B", "A", None, "B"], dtype=object)
    np.testing.assert_array_equal(factorize(small)[0], [0, 1, -1, 0])
    strings = pd.Series(["B", "A", None, "B"] * 2000, dtype="string")
    np.testing.assert_array_equal(factorize(strings)[0][:4], [0, 1, -1, 0])


@pytest.mark.slow  # admiral conformance data
def test_grades_do_not_depend_on_how_the_text_columns_are_held(peer_adlb):
    peer = peer_adlb.head(12_000).copy()
    shared = grade_labs(peer)
    text = ["USUBJID", "PARAMCD", "PARAM", "ABLFL", "ATOXDSCL", "ATOXDSCH"]
    distinct = peer.copy()
    distinct[text] = distinct[text].map(_fresh)
    some_distinct = peer.copy()
    some_distinct.loc[::10, text] = some_distinct.loc[::10, text].map(_fresh)
    as_category = peer.astype({c: "category" for c in text})
    as_string = peer.astype({c: "string" for c in text})
    assert shared["grade"].notna().sum() > 10_000
    for other in (distinct, some_distinct, as_category, as_string):
        out = grade_labs(other)
        pd.testing.assert_frame_equal(out.drop(columns=text), shared.drop(columns=text))
