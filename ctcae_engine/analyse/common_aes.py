"""AET10: the most common treatment-emergent AEs (preferred terms reported by at least a share of the safety
population), from the AET04 SOC/PT table, most frequent first."""

from __future__ import annotations

from typing import Any

import pandas as pd

MIN_PCT = 10.0  # FDA Standard Safety Tables: "AEs occurring in >= 10% of participants"


def most_common_aes(soc_pt: pd.DataFrame, population: pd.DataFrame,
                    min_pct: float = MIN_PCT) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Terms of the AET04 table (``level`` "term") with ``any_pct`` >= ``min_pct``, most participants first (then
    term): term, soc, any, any_pct, grade_3plus, grade_3plus_pct. Note fields: ``N`` (safety population) and
    ``min_pct``."""
    terms = soc_pt[soc_pt["level"].eq("term") & soc_pt["any_pct"].ge(min_pct)]
    terms = terms.sort_values(["any", "term"], ascending=[False, True], kind="stable")
    frame = terms[["term", "soc", "any", "any_pct", "grade_3plus", "grade_3plus_pct"]].reset_index(drop=True)
    n_safety = int(population["saffl"].astype(bool).sum())
    return frame, {"N": n_safety, "min_pct": f"{min_pct:g}"}
