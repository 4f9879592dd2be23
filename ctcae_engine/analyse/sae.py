"""SAET01: participants with serious AEs (AESER = Y): any, related, fatal, then by SOC and PT.

N = the safety population (infused); treatment-emergent SAEs only; a participant counts once per row."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ctcae_engine.analyse.endpoints import is_fatal, reported_term
from ctcae_engine.read.fields import AE


def sae_table(ae: pd.DataFrame, population: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rows (SOC, PT, any n, any %, related n, related %, fatal n, fatal %) and the note's ``N``; the first row is
    "Any SAE" over all SOCs."""
    safety = set(population.loc[population["saffl"].astype(bool), "usubjid"].astype(str))
    total = len(safety)
    serious = AE.text(ae, "serious", upper=True).eq("Y").fillna(False).to_numpy(dtype=bool)
    subj = AE.subjects(ae)
    keep = serious & ae["trtemfl"].astype(bool).to_numpy() & subj.isin(safety).to_numpy()
    sae = pd.DataFrame({"usubjid": subj[keep].to_numpy(),
                        "soc": AE.text(ae, "body_system")[keep].fillna("(no SOC)").to_numpy(),
                        "pt": reported_term(ae)[keep].fillna("(no term)").to_numpy(),
                        "related": ae["related"].astype(bool)[keep].to_numpy(),
                        "fatal": is_fatal(ae)[keep].to_numpy()})

    def row(soc: str, pt: str, part: pd.DataFrame) -> dict[str, Any]:
        out: dict[str, Any] = {"SOC": soc, "PT": pt}
        for name, hits in (("Any SAE", part), ("Related SAE", part[part["related"]]),
                           ("Fatal SAE", part[part["fatal"]])):
            n = hits["usubjid"].nunique()
            out[f"{name}: n"] = n
            out[f"{name}: %"] = round(100.0 * n / total, 1) if total else None
        return out

    rows = [row("Any SOC", "Any SAE", sae)]
    for soc, part in sorted(sae.groupby("soc"), key=lambda kv: (-kv[1]["usubjid"].nunique(), kv[0])):
        rows.append(row(soc, "(any PT)", part))
        rows += [row(soc, pt, sub) for pt, sub in
                 sorted(part.groupby("pt"), key=lambda kv: (-kv[1]["usubjid"].nunique(), kv[0]))]
    return pd.DataFrame(rows), {"N": total}
