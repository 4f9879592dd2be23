"""CAR-T toxicity inputs as sites write them: the vocabularies that turn them into the XC codes, as data.

``ctcae_terms/criteria/astct_vocabulary.csv``: XCTESTCD x value as collected (an oxygen device such as "BiPAP" or
"non-rebreather mask", HYPOTEN "Y", a free-text ICANS finding such as "hemiparesis") -> the XC code of
docs/ARCHITECTURE.md it means, with the ASTCT 2019 text (Lee 2019, Tables 6 and 8) and ``ignore_flow`` (Y: the O2
flow does not make the device high-flow; blow-by). ``vasopressors.csv``: drug name -> class, ``vasopressor`` or
``vasopressin`` (vasopressin never counts towards "multiple vasopressors"); a study adds to or overrides it in
study.toml ``[cart] vasopressors``. ``non_systemic_routes.csv``: CMROUTE values under which a vasopressor drug is
not given for blood pressure (phenylephrine nasal spray).

Values are matched on a key that ignores case, spaces and punctuation (``"Non-rebreather"`` = ``"NON REBREATHER"``
= ``"NONREBREATHER"``). A value neither an XC code nor in the vocabulary is not understood: the caller grades NA.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

import pandas as pd

from ctcae_engine.read.config import VASOPRESSOR_CLASSES
from ctcae_terms._files import read_table
from ctcae_terms.criteria import load_astct

_PACKAGE = "ctcae_terms.criteria"


def match_key(values: pd.Series) -> pd.Series:
    """The matching key of text values: upper case, letters and digits only ("Non-rebreather" -> "NONREBREATHER")."""
    return values.astype("string").str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)


def text_key(text: str) -> str:
    """The matching key of one text (see :func:`match_key`)."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


@cache
def _vocabulary() -> pd.DataFrame:
    """XC codes (from the ASTCT tables) and the packaged spellings, one row per testcd x key."""
    astct = pd.concat([load_astct("crs"), load_astct("icans")], ignore_index=True)
    codes = astct[~astct["domain"].isin(["TEMPMAX", "ICE"])]
    contract = pd.DataFrame({"testcd": codes["domain"], "as_collected": codes["value"], "code": codes["value"],
                             "ignore_flow": ""})
    table = pd.concat([contract, read_table(_PACKAGE, "astct_vocabulary.csv")], ignore_index=True)
    table["key"] = table["as_collected"].map(text_key)
    clash = table[table.duplicated(["testcd", "key"], keep=False)
                  & ~table.duplicated(["testcd", "key", "code"], keep=False)]
    if not clash.empty:
        raise ValueError(f"astct_vocabulary.csv: spellings that mean different codes:\n{clash}")
    known = set(zip(contract["testcd"], contract["code"], strict=True)) | {("HYPOTEN", "PRESENT")}
    unknown = table[[(t, c) not in known for t, c in zip(table["testcd"], table["code"], strict=True)]]
    if not unknown.empty:
        raise ValueError(f"astct_vocabulary.csv: codes that are not XC codes:\n{unknown}")
    return table.drop_duplicates(["testcd", "key"]).reset_index(drop=True)


def vocabulary() -> pd.DataFrame:
    """The vocabulary as a new frame: testcd, as_collected, code, ignore_flow, astct_text, comment, key (the XC
    codes themselves included)."""
    return _vocabulary().copy()


def xc_codes(testcd: pd.Series, value: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(XC code, ignore_flow) of each (test code, value as collected); NA where the value is not understood."""
    table = _vocabulary()
    index = pd.MultiIndex.from_arrays([table["testcd"], table["key"]])
    lookup = pd.MultiIndex.from_arrays([testcd.fillna("").astype(str), match_key(value.fillna("")).astype(str)])
    position = index.get_indexer(lookup)
    found = position >= 0
    code = pd.Series(pd.NA, index=testcd.index, dtype="string")
    code[found] = table["code"].to_numpy()[position[found]]
    ignore = pd.Series(False, index=testcd.index)
    ignore[found] = table["ignore_flow"].to_numpy()[position[found]] == "Y"
    return code, ignore


def vasopressor_classes(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Drug key (see :func:`match_key`) -> class, the packaged map with a study's ``overrides`` (drug -> class)
    applied; ``not_vasopressor`` removes a drug."""
    table = read_table(_PACKAGE, "vasopressors.csv")
    classes = {text_key(drug): kind for drug, kind in zip(table["drug"], table["class"], strict=True)}
    for drug, kind in (overrides or {}).items():
        if kind not in VASOPRESSOR_CLASSES:
            raise ValueError(f"vasopressor class of {drug!r} must be one of {', '.join(VASOPRESSOR_CLASSES)}, "
                             f"got {kind!r}")
        classes[text_key(drug)] = kind
    return {drug: kind for drug, kind in classes.items() if kind != "not_vasopressor"}


@cache
def non_systemic_routes() -> frozenset[str]:
    """Keys of the CMROUTE values under which a vasopressor drug does not count (nasal, ophthalmic, ...)."""
    return frozenset(text_key(route) for route in read_table(_PACKAGE, "non_systemic_routes.csv")["route"])
