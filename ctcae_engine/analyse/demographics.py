"""DMT01: demographics and baseline characteristics of the safety population (infused), by arm plus Total.

Age (n, mean, SD, median, min-max), sex, race, ethnicity from DM; ECOG from DM/ADSL (ECOG, ECOGBL) or SUPPDM
(merged into DM) when given; tumour type from MH (MHCAT = PRIMARY DIAGNOSIS, else every MH row) when given;
prior lines (DM/ADSL PRIORLN, NPRLINE) when given. A characteristic not in the data has one row "not collected".
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ctcae_engine.read.columns import pick
from ctcae_engine.read.fields import DM

ECOG_COLUMNS = ("ECOGBL", "ECOG", "ECOGPS")
PRIOR_LINES_COLUMNS = ("PRIORLN", "NPRLINE", "PRLINES")
NOT_COLLECTED = "not collected"


def _counts(label: str, values: pd.Series, groups: dict[str, pd.Index]) -> list[dict[str, Any]]:
    """One row per category (sorted, missing last as "Missing"): n (%) per group."""
    values = values.astype("string").str.strip().replace("", pd.NA)
    cats = sorted(values.dropna().unique())
    rows = []
    for cat in [*cats, *(["Missing"] if values.isna().any() else [])]:
        hit = values.isna() if cat == "Missing" else values.eq(cat).fillna(False)
        row: dict[str, Any] = {"Characteristic": label, "Statistic": cat}
        for name, members in groups.items():
            n, total = int(hit[members].sum()), len(members)
            row[name] = f"{n} ({100.0 * n / total:.1f}%)" if total else "0"
        rows.append(row)
    return rows


def _numeric(label: str, values: pd.Series, groups: dict[str, pd.Index]) -> list[dict[str, Any]]:
    num = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
    stats = {"n": lambda s: f"{s.count()}", "Mean (SD)": lambda s: f"{s.mean():.1f} ({s.std():.1f})",
             "Median": lambda s: f"{s.median():.1f}", "Min - Max": lambda s: f"{s.min():g} - {s.max():g}"}
    rows = []
    for stat, fmt in stats.items():
        row: dict[str, Any] = {"Characteristic": label, "Statistic": stat}
        for name, members in groups.items():
            part = num[members]
            row[name] = fmt(part) if part.count() or stat == "n" else "-"
        rows.append(row)
    return rows


def _absent(label: str, groups: dict[str, pd.Index]) -> list[dict[str, Any]]:
    return [{"Characteristic": label, "Statistic": NOT_COLLECTED, **{name: "" for name in groups}}]


def demographics_table(population: pd.DataFrame, dm: pd.DataFrame,
                       mh: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """DMT01 rows (Characteristic, Statistic, one column per arm "<arm> (N=n)" when there are several, "Total
    (N=n)") over the safety population; the note's field ``N``."""
    safety = population.loc[population["saffl"].astype(bool), ["usubjid", "arm"]]
    ids = DM.subjects(dm)
    once = ~ids.duplicated().to_numpy()
    first = dm.loc[once].set_index(ids[once].to_numpy())
    base = first.reindex(safety["usubjid"].to_numpy())
    base.index = pd.RangeIndex(len(base))
    arms = safety["arm"].astype("string").to_numpy()
    groups: dict[str, pd.Index] = {}
    names = sorted(pd.unique(arms[pd.notna(arms)]))
    if len(names) > 1:
        for arm in names:
            members = base.index[arms == arm]
            groups[f"{arm} (N={len(members)})"] = members
    groups[f"Total (N={len(base)})"] = base.index
    rows: list[dict[str, Any]] = []
    for label, field in (("Age (years)", "AGE"), ("Sex", "SEX"), ("Race", "RACE"), ("Ethnicity", "ETHNIC")):
        column = pick(base, field)
        if column is None:
            rows += _absent(label, groups)
        elif field == "AGE":
            rows += _numeric(label, base[column], groups)
        else:
            rows += _counts(label, base[column], groups)
    ecog = pick(base, *ECOG_COLUMNS)
    rows += _counts("ECOG performance status", base[ecog], groups) if ecog else _absent("ECOG performance status",
                                                                                          groups)
    rows += _tumour(base, safety, mh, groups)
    lines = pick(base, *PRIOR_LINES_COLUMNS)
    rows += (_numeric("Prior lines of therapy", base[lines], groups) if lines
             else _absent("Prior lines of therapy", groups))
    return pd.DataFrame(rows), {"N": len(base)}


def _tumour(base: pd.DataFrame, safety: pd.DataFrame, mh: pd.DataFrame | None,
            groups: dict[str, pd.Index]) -> list[dict[str, Any]]:
    label = "Tumour type (MH primary diagnosis)"
    term = pick(mh, "MHTERM") if mh is not None else None
    subject = DM.column(mh, "subject") if mh is not None else None  # MH names its participant as DM does
    if mh is None or term is None or subject is None:
        return _absent(label, groups)
    rows = mh
    cat = pick(mh, "MHCAT")
    if cat is not None:
        primary = mh[cat].astype("string").str.strip().str.upper().eq("PRIMARY DIAGNOSIS").fillna(False)
        rows = mh[primary.to_numpy()] if primary.any() else mh
    text = rows[term].astype("string").str.strip().str.upper()
    per = text.groupby(rows[subject].astype("string").str.strip().to_numpy()).agg(
        lambda s: "; ".join(sorted(set(s.dropna()))))
    values = pd.Series(safety["usubjid"].map(per).to_numpy(), index=base.index)
    return _counts(label, values, groups)
