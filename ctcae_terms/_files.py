"""Read a CSV shipped inside a ctcae_terms sub-package (the one way the data tables are read)."""

from __future__ import annotations

from importlib.resources import files

import pandas as pd


def read_table(package: str, name: str) -> pd.DataFrame:
    """``package``'s file ``name`` as text columns; an empty cell is "" (callers decide what empty means)."""
    with files(package).joinpath(name).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)
