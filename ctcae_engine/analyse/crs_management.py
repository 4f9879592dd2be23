"""How CRS and ICANS were managed, from SDTM CM (``CRSMGMT01`` per participant, ``CRSMGMT02`` n (%) treated).

The drug -> class map is data: ``ctcae_terms/criteria/crs_management.csv`` (tocilizumab, corticosteroids by agent,
anakinra, siltuximab; names, salts and brands) and, for vasopressors, the map ASTCT grading already uses
(``vasopressors.csv`` with the study's ``[cart] vasopressors`` overrides, :mod:`ctcae_engine.grade.cart_vasopressors`).
A record counts when it starts in the participant's treatment-emergent window (window start .. end); CM gives no
attribution beyond CMINDC, which is shown as recorded: the investigator decides what was given for CRS or ICANS.
Doses: one CM record = one administration (CMDOSE / CMDOSU shown when given). See docs/cart.md ("Management").
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from ctcae_engine.analyse.endpoints import proportion, window_bounds
from ctcae_engine.grade.cart_vasopressors import check_cm
from ctcae_engine.grade.cart_vocab import match_key, text_key
from ctcae_engine.read.columns import as_text
from ctcae_engine.read.config import StudyConfig
from ctcae_terms._files import read_table

CLASS_LABELS = {"tocilizumab": "Tocilizumab", "corticosteroid": "Corticosteroids", "anakinra": "Anakinra",
                "siltuximab": "Siltuximab", "vasopressor": "Vasopressors"}
"""The classes in table order, with their labels (vasopressin counts as a vasopressor given)."""
MANAGEMENT_COLUMNS = ["usubjid", "tocilizumab_doses", "tocilizumab_days", "corticosteroids", "anakinra_days",
                      "siltuximab_days", "vasopressors", "indications"]


@cache
def management_classes() -> dict[str, tuple[str, str]]:
    """Drug key -> (agent, class) of the packaged map."""
    table = read_table("ctcae_terms.criteria", "crs_management.csv")
    return {text_key(d): (a, c) for d, a, c in zip(table["drug"], table["agent"], table["class"], strict=True)}


def management_records(cm: pd.DataFrame, population: pd.DataFrame, config: StudyConfig) -> pd.DataFrame:
    """One row per CM record of a CRS / ICANS management drug started in the treatment-emergent window of a
    participant of the safety population: usubjid, drug, agent, class, start, day (from infusion), dose, route,
    indication, reason (a caveat of the vasopressor reading); ``end_day`` the day of CMENDTC when given. A record
    without a full start date cannot be placed in the window: it is kept, with day NA ("date not known")."""
    checked = check_cm(cm, config.cart.vasopressors)
    known = match_key(checked["drug"].fillna("")).map(management_classes())
    out = checked.assign(agent=known.map(lambda v: v[0] if isinstance(v, tuple) else pd.NA),
                         cls=known.map(lambda v: v[1] if isinstance(v, tuple) else pd.NA))
    vaso = out["vaso_class"].notna() & (out["counted"] | ~out["placed"])  # a nasal route is not for CRS
    out.loc[vaso, "cls"] = "vasopressor"
    out.loc[vaso, "agent"] = out.loc[vaso, "drug"].str.title()
    dose = as_text(cm["CMDOSE"], blank_is_missing=True) if "CMDOSE" in cm.columns else pd.Series(pd.NA, index=cm.index)
    unit = as_text(cm["CMDOSU"], blank_is_missing=True) if "CMDOSU" in cm.columns else pd.Series(pd.NA, index=cm.index)
    out["dose"] = (dose + (" " + unit).fillna("")).astype("string")
    out = out[out["cls"].notna()]
    saf = population[population["saffl"].astype(bool)].set_index("usubjid")
    bounds = window_bounds(population, config.treatment_emergent)
    out = out[out["usubjid"].isin(saf.index)]
    if bounds is not None:
        start, end = out["usubjid"].map(bounds["win_start"]), out["usubjid"].map(bounds["win_end"])
        out = out[out["start"].isna() | ((out["start"] >= start) & (out["start"] <= end))]  # no date: kept, shown
    infdt = pd.to_datetime(out["usubjid"].map(saf["infdt"])).dt.normalize()
    out["day"] = (out["start"] - infdt).dt.days
    out["end_day"] = (out["end"].where(out["end"] >= out["start"]) - infdt).dt.days
    out = out.rename(columns={"cls": "class"})
    columns = ["usubjid", "drug", "agent", "class", "start", "day", "end_day", "dose", "route", "indication",
               "reason"]
    return out[columns].sort_values(["usubjid", "start", "class"], kind="stable").reset_index(drop=True)


def _days(frame: pd.DataFrame) -> str:
    """The days of the records ("2, 3", a record over several days "3-5"), "date not known" for a record without a
    full start date."""
    spans = sorted({(int(a), int(b) if pd.notna(b) and b > a else int(a))
                    for a, b in zip(frame["day"], frame["end_day"], strict=True) if pd.notna(a)})
    days = [f"{a}-{b}" if b > a else str(a) for a, b in spans]
    return ", ".join(days + (["date not known"] if frame["day"].isna().any() else []))


def _by_agent(frame: pd.DataFrame) -> str:
    """"Dexamethasone 10 mg (days 2, 3); Methylprednisolone (day 5)"."""
    parts = []
    for agent, rows in frame.groupby("agent", sort=True):
        doses = ", ".join(sorted(set(rows["dose"].dropna())))
        days = _days(rows)
        parts.append(f"{agent}{' ' + doses if doses else ''} (day{'s' if ',' in days else ''} {days})")
    return "; ".join(parts)


def crs_management(cm: pd.DataFrame | None, population: pd.DataFrame,
                   config: StudyConfig) -> tuple[pd.DataFrame, dict[str, str]]:
    """Per participant treated (``CRSMGMT01``): tocilizumab doses (CM records) and days, corticosteroids by agent
    with doses and days, anakinra and siltuximab days, vasopressors with days, and the indications recorded (CMINDC).
    Days: from infusion (day 0). Returns the frame and the ``why`` of the empty text."""
    if cm is None:
        return pd.DataFrame(columns=MANAGEMENT_COLUMNS), {"why": "No CM (concomitant medication) domain in the study "
                                                                 "folder: CRS / ICANS management is not known."}
    records = management_records(cm, population, config)
    rows = []
    for person, mine in records.groupby("usubjid", sort=True):
        of = {name: mine[mine["class"].eq(name)] for name in CLASS_LABELS}
        rows.append({
            "usubjid": person, "tocilizumab_doses": len(of["tocilizumab"]),
            "tocilizumab_days": _days(of["tocilizumab"]),
            "corticosteroids": _by_agent(of["corticosteroid"]), "anakinra_days": _days(of["anakinra"]),
            "siltuximab_days": _days(of["siltuximab"]), "vasopressors": _by_agent(of["vasopressor"]),
            "indications": "; ".join(sorted(set(mine["indication"].dropna()))),
        })
    out = pd.DataFrame(rows, columns=MANAGEMENT_COLUMNS)
    out["tocilizumab_doses"] = out["tocilizumab_doses"].astype("Int64")
    return out, {"why": "No participant of the safety population received tocilizumab, a corticosteroid, anakinra, "
                        "siltuximab or a vasopressor in the treatment-emergent window (CM)."}


def crs_management_summary(cm: pd.DataFrame | None, population: pd.DataFrame,
                           config: StudyConfig) -> tuple[pd.DataFrame, dict[str, str]]:
    """Participants of the safety population treated with each class (``CRSMGMT02``): n, N, %, exact 95% CI; the
    corticosteroids also by agent, and any of them."""
    columns = ["label", "n", "N", "pct", "ci_low", "ci_high"]
    if cm is None:
        return pd.DataFrame(columns=columns), {"why": "No CM (concomitant medication) domain in the study folder: "
                                                      "CRS / ICANS management is not known."}
    records = management_records(cm, population, config)
    total = int(population["saffl"].astype(bool).sum())
    rows = [proportion("Any of the below", records["usubjid"].nunique(), total)]
    for name, label in CLASS_LABELS.items():
        mine = records[records["class"].eq(name)]
        rows.append(proportion(label, mine["usubjid"].nunique(), total))
        if name == "corticosteroid":
            rows += [proportion(f"  {agent}", grp["usubjid"].nunique(), total)
                     for agent, grp in mine.groupby("agent", sort=True)]
    return pd.DataFrame(rows, columns=columns), {"why": ""}
