"""Deterministic, seeded generator of the demo CAR-T trial as CDISC SDTM CSV files.

The trial is shaped like NCT04627740 (anti-ALPP CAR-T cells in metastatic ovarian / endometrial cancer):
screening, lymphodepletion (cyclophosphamide 20 mg/kg day -5, fludarabine 35 mg/m2 days -4..-2), CAR-T infusion
on day 0, follow-up to day 365, death, withdrawal or the data cut-off. Clinical patterns live in the small parameter
tables below; every random draw comes from one ``numpy.random.Generator`` seeded by ``--seed``, so the same seed and
participant count give byte-identical files.

Run: ``python -m ctcae_engine.demo.generate [--seed N] [--participants N] [--out DIR]``.
See docs/demo_trial.md for the design, the data cut-off and the deliberate data faults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

STUDYID = "ALPP-CART-DEMO"
SITEID = "01"
CUTOFF = pd.Timestamp("2025-06-30")
ACCRUAL = (pd.Timestamp("2024-03-04"), pd.Timestamp("2025-04-28"))  # infusion dates spread over this window
DEFAULT_SEED = 4627740
DEFAULT_PARTICIPANTS = 20
DATA_DIR = Path(__file__).resolve().parent / "data"
FOLLOW_UP_DAYS = 365
LLOQ = 50.0  # CAR transgene copies/ug gDNA, lower limit of quantification of the qPCR assay

# Lab tests: SI unit and female reference range (standard result), conventional unit and factor SI = conv * factor,
# baseline median and spread (lognormal sigma), decimals of the SI value. "model" picks the trajectory below.
LAB_TESTS = pd.DataFrame(
    [
        # testcd, test, cat, si_unit, lo, hi, conv_unit, factor, base, sigma, dec, model
        ("WBC", "Leukocytes", "HEMATOLOGY", "10^9/L", 4.0, 10.0, "10^9/L", 1.0, 5.6, 0.20, 2, "wbc"),
        ("NEUT", "Neutrophils", "HEMATOLOGY", "10^9/L", 1.8, 7.5, "10^9/L", 1.0, 3.6, 0.25, 2, "cyto"),
        ("LYM", "Lymphocytes", "HEMATOLOGY", "10^9/L", 1.0, 4.0, "10^9/L", 1.0, 1.3, 0.30, 2, "cyto"),
        ("HGB", "Hemoglobin", "HEMATOLOGY", "g/L", 120.0, 160.0, "g/dL", 10.0, 118.0, 0.08, 0, "cyto"),
        ("PLAT", "Platelets", "HEMATOLOGY", "10^9/L", 150.0, 400.0, "10^9/L", 1.0, 230.0, 0.25, 0, "cyto"),
        ("ALT", "Alanine Aminotransferase", "CHEMISTRY", "U/L", 7.0, 35.0, "U/L", 1.0, 20.0, 0.30, 0, "liver"),
        ("AST", "Aspartate Aminotransferase", "CHEMISTRY", "U/L", 10.0, 35.0, "U/L", 1.0, 22.0, 0.25, 0, "liver"),
        ("BILI", "Bilirubin", "CHEMISTRY", "umol/L", 3.0, 21.0, "mg/dL", 17.1, 9.0, 0.30, 0, "bili"),
        ("ALB", "Albumin", "CHEMISTRY", "g/L", 35.0, 50.0, "g/dL", 10.0, 40.5, 0.05, 0, "dip"),
        ("K", "Potassium", "CHEMISTRY", "mmol/L", 3.5, 5.1, "mmol/L", 1.0, 4.2, 0.06, 1, "dip"),
        ("CREAT", "Creatinine", "CHEMISTRY", "umol/L", 45.0, 90.0, "mg/dL", 88.4, 66.0, 0.15, 0, "flat"),
        ("CRP", "C Reactive Protein", "CHEMISTRY", "mg/L", 0.0, 5.0, "mg/L", 1.0, 6.0, 0.50, 1, "crp"),
    ],
    columns=["testcd", "test", "cat", "si_unit", "lo", "hi", "conv_unit", "factor", "base", "sigma", "dec", "model"],
).set_index("testcd")

# Cytopenia after lymphodepletion: nadir as a fraction of baseline (lognormal median, sigma), nadir day range,
# recovery time constant (days) for a normal and a prolonged course.
CYTOPENIA = pd.DataFrame(
    [
        ("NEUT", 0.03, 0.6, (5, 10), 5.0, 35.0),
        ("LYM", 0.06, 0.5, (1, 4), 30.0, 90.0),
        ("HGB", 0.78, 0.06, (8, 14), 14.0, 45.0),
        ("PLAT", 0.22, 0.5, (7, 14), 7.0, 40.0),
    ],
    columns=["testcd", "nadir_frac", "sigma", "nadir_day", "tau", "tau_prolonged"],
).set_index("testcd")
PROLONGED_CYTOPENIA_P = 0.15

# CTCAE v4.03 numeric criteria the investigator applies when reporting lab AEs (AETOXGR consistent with the labs).
# direction "low": grade g when value < threshold; "high": value > threshold. "LLN"/"ULN" or "k*ULN" or a number.
LAB_AE_RULES = [
    ("NEUT", "Neutrophil count decreased", "low", [("LLN", 1), (1.5, 2), (1.0, 3), (0.5, 4)]),
    ("PLAT", "Platelet count decreased", "low", [("LLN", 1), (75, 2), (50, 3), (25, 4)]),
    ("HGB", "Anemia", "low", [("LLN", 1), (100, 2), (80, 3)]),
    ("LYM", "Lymphocyte count decreased", "low", [("LLN", 1), (0.8, 2), (0.5, 3), (0.2, 4)]),
    ("WBC", "White blood cell decreased", "low", [("LLN", 1), (3.0, 2), (2.0, 3), (1.0, 4)]),
    ("ALT", "Alanine aminotransferase increased", "high", [("ULN", 1), ("3ULN", 2), ("5ULN", 3), ("20ULN", 4)]),
    ("AST", "Aspartate aminotransferase increased", "high", [("ULN", 1), ("3ULN", 2), ("5ULN", 3), ("20ULN", 4)]),
    ("BILI", "Blood bilirubin increased", "high", [("ULN", 1), ("1.5ULN", 2), ("3ULN", 3), ("10ULN", 4)]),
    ("K", "Hypokalemia", "low", [("LLN", 1), (3.0, 3), (2.5, 4)]),
    ("ALB", "Hypoalbuminemia", "low", [("LLN", 1), (30, 2), (20, 3)]),
]

# CTCAE v4.03 term -> SOC (checked against ctcae_terms.lookup_term in tests/test_demo_data.py).
SOC = {
    "Neutrophil count decreased": "Investigations",
    "Platelet count decreased": "Investigations",
    "Lymphocyte count decreased": "Investigations",
    "White blood cell decreased": "Investigations",
    "Alanine aminotransferase increased": "Investigations",
    "Aspartate aminotransferase increased": "Investigations",
    "Blood bilirubin increased": "Investigations",
    "Electrocardiogram QT corrected interval prolonged": "Investigations",
    "Anemia": "Blood and lymphatic system disorders",
    "Febrile neutropenia": "Blood and lymphatic system disorders",
    "Hypokalemia": "Metabolism and nutrition disorders",
    "Hypoalbuminemia": "Metabolism and nutrition disorders",
    "Anorexia": "Metabolism and nutrition disorders",
    "Cytokine release syndrome": "Immune system disorders",
    "Encephalopathy": "Nervous system disorders",
    "Headache": "Nervous system disorders",
    "Tremor": "Nervous system disorders",
    "Fatigue": "General disorders and administration site conditions",
    "Fever": "General disorders and administration site conditions",
    "Edema limbs": "General disorders and administration site conditions",
    "Nausea": "Gastrointestinal disorders",
    "Vomiting": "Gastrointestinal disorders",
    "Diarrhea": "Gastrointestinal disorders",
    "Abdominal pain": "Gastrointestinal disorders",
    "Ascites": "Gastrointestinal disorders",
    "Urinary tract infection": "Infections and infestations",
    "Lung infection": "Infections and infestations",
    "Upper respiratory infection": "Infections and infestations",
    "Sepsis": "Infections and infestations",
    "Cough": "Respiratory, thoracic and mediastinal disorders",
    "Sinus tachycardia": "Cardiac disorders",
    "Alopecia": "Skin and subcutaneous tissue disorders",
}

# Clinical AEs not derived from measurements: probability per participant, onset and duration ranges (days),
# grade weights, relationship to CAR-T and to lymphodepletion (weights over REL_LEVELS), verbatim AETERM.
REL_LEVELS = ["RELATED", "PROBABLY RELATED", "POSSIBLY RELATED", "UNLIKELY RELATED", "NOT RELATED"]
CLINICAL_AES = [
    # term, p, onset, duration, grade weights g1..g4, rel CAR-T, rel LD, AETERM
    ("Fatigue", 0.60, (1, 30), (7, 60), (6, 3.5, 0.5, 0), (1, 1, 4, 3, 1), (1, 1, 4, 3, 1), "FATIGUE"),
    ("Nausea", 0.45, (-5, 2), (1, 5), (7, 3, 0, 0), (0, 0, 2, 5, 3), (5, 3, 2, 0, 0), "NAUSEA"),
    ("Vomiting", 0.20, (-5, 2), (1, 3), (7, 3, 0, 0), (0, 0, 2, 5, 3), (5, 3, 2, 0, 0), "VOMITING"),
    ("Diarrhea", 0.25, (1, 20), (2, 7), (7, 2.5, 0.5, 0), (0, 1, 4, 4, 1), (1, 2, 4, 3, 0), "DIARRHOEA"),
    ("Headache", 0.35, (1, 10), (1, 5), (7, 3, 0, 0), (1, 2, 4, 2, 1), (0, 0, 2, 5, 3), "HEADACHE"),
    ("Anorexia", 0.30, (1, 20), (7, 40), (6, 4, 0, 0), (0, 1, 4, 4, 1), (0, 1, 4, 4, 1), "DECREASED APPETITE"),
    ("Febrile neutropenia", 0.25, (2, 10), (2, 6), (0, 0, 9, 1), (0, 1, 4, 4, 1), (6, 3, 1, 0, 0),
     "FEBRILE NEUTROPENIA"),
    ("Urinary tract infection", 0.15, (10, 120), (5, 14), (0, 7, 3, 0), (0, 0, 3, 5, 2), (0, 0, 4, 4, 2),
     "URINARY TRACT INFECTION"),
    ("Lung infection", 0.12, (14, 200), (7, 21), (0, 4, 6, 0), (0, 0, 3, 5, 2), (0, 0, 4, 4, 2), "PNEUMONIA"),
    ("Upper respiratory infection", 0.15, (30, 300), (5, 14), (0, 1, 0, 0), (0, 0, 1, 5, 4), (0, 0, 1, 5, 4),
     "UPPER RESPIRATORY TRACT INFECTION"),
    ("Abdominal pain", 0.30, (0, 300), (3, 30), (5, 4, 1, 0), (0, 0, 1, 3, 6), (0, 0, 0, 3, 7), "ABDOMINAL PAIN"),
    ("Ascites", 0.12, (28, 300), (14, 60), (0, 7, 3, 0), (0, 0, 0, 3, 7), (0, 0, 0, 2, 8), "MALIGNANT ASCITES"),
    ("Tremor", 0.10, (4, 10), (2, 7), (1, 0, 0, 0), (3, 3, 3, 1, 0), (0, 0, 1, 5, 4), "TREMOR"),
    ("Edema limbs", 0.15, (3, 30), (5, 30), (8, 2, 0, 0), (0, 1, 4, 4, 1), (0, 0, 2, 5, 3), "LEG OEDEMA"),
    ("Cough", 0.15, (10, 200), (5, 20), (1, 0, 0, 0), (0, 0, 1, 5, 4), (0, 0, 1, 5, 4), "COUGH"),
    ("Sinus tachycardia", 0.30, (1, 6), (1, 4), (1, 0, 0, 0), (5, 3, 2, 0, 0), (0, 0, 1, 5, 4), "SINUS TACHYCARDIA"),
]

# Cytokine release syndrome (ASTCT 2019) and ICANS: probability, onset and duration ranges, grade weights.
CRS = {"p": 0.80, "onset": (1, 4), "duration": (2, 6), "grade_weights": (55, 35, 10, 0)}
ICANS = {"p": 0.20, "onset": (4, 8), "duration": (2, 5), "grade_weights": (50, 35, 15, 0)}

# Best overall response (RECIST 1.1, investigator) and the progression-time ranges (days) that go with it.
RESPONSE = pd.DataFrame(
    [("CR", 0.05, (250, 900)), ("PR", 0.20, (120, 600)), ("SD", 0.40, (60, 420)), ("PD", 0.35, (14, 56))],
    columns=["best", "p", "progression"],
)
RS_DAYS = [28, 56, 84, 168, 252, 336]  # weeks 4, 8, 12, 24, 36, 48
DEATH_AFTER_PD_MEAN = 150.0  # days, exponential
WITHDRAWAL_P = 0.06

LAB_DAYS = [-5, -2, 0, 1, 2, 3, 4, 5, 6, 7, 10, 14, 21, 28, 42, 56, 91, 136, 182, 273, 365]
VS_DAYS = [-5, *range(0, 15), 21, 28, 56, 91, 182, 273, 365]
WEIGHT_DAYS = [-5, 28, 91, 182, 273, 365]
EG_DAYS = [-5, 7, 28]
XC_DAYS = list(range(0, 15))
PC_DAYS = [0, 1, 4, 7, 10, 14, 21, 28, 56, 91, 182, 273, 365]
SCREEN_DAY = -28

# Screening failures: the inclusion criterion each one fails and the value that fails it.
SCREEN_FAILS = [
    ("PLAT", 62.0, "Platelets > 75 x 10^9/L"),
    ("ALT", 224.0, "ALT <= 5 x ULN"),
    ("ALB", 31.0, "Albumin >= 35 g/L"),
    ("HGB", 86.0, "Hemoglobin > 90 g/L"),
    ("WBC", 3.1, "WBC > 3.5 x 10^9/L"),
    ("BILI", 36.0, "Total bilirubin <= 1.5 x ULN"),
]


# --------------------------------------------------------------------------------------------------- helpers
def _iso(ts: pd.Series | pd.DatetimeIndex, time: bool = False) -> pd.Series:
    """ISO 8601 text of a datetime column (date only unless ``time``), empty for NaT."""
    series = pd.Series(ts)
    text = series.dt.strftime("%Y-%m-%dT%H:%M" if time else "%Y-%m-%d")
    return text.fillna("")


def _fmt(values: pd.Series | np.ndarray, decimals: pd.Series | np.ndarray | int) -> pd.Series:
    """Numbers as text with per-row decimals (deterministic, no float noise); empty for NaN."""
    values = pd.Series(values, dtype="float64").reset_index(drop=True)
    dec = pd.Series(np.broadcast_to(decimals, len(values)), dtype="int64")
    out = pd.Series("", index=values.index, dtype=object)
    for d in sorted(dec.unique()):
        mask = (dec == d) & values.notna()
        out[mask] = values[mask].map(lambda v, d=d: f"{v:.{d}f}")
    return out


def _choice(rng: np.random.Generator, labels: list, weights: np.ndarray | tuple, size: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.asarray(labels, dtype=object)[rng.choice(len(labels), size=size, p=w / w.sum())]


def _seq(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.insert(3, f"{prefix}SEQ", (frame.groupby("USUBJID").cumcount() + 1).astype(str))
    return frame


# --------------------------------------------------------------------------------------------------- participants
def _participants(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """One row per treated participant: demographics, dates, and the latent clinical course."""
    span = (ACCRUAL[1] - ACCRUAL[0]).days
    offsets = np.sort(np.round(np.linspace(0, span, n) + rng.integers(-6, 7, n)).clip(0, span)).astype(int)
    p = pd.DataFrame({"idx": np.arange(n)})
    p["infusion"] = ACCRUAL[0] + pd.to_timedelta(offsets, unit="D") + pd.Timedelta(hours=11, minutes=30)
    p["age"] = rng.integers(34, 71, n)
    p["cancer"] = _choice(rng, ["OVARIAN CANCER", "ENDOMETRIAL CANCER"], (0.65, 0.35), n)
    p["weight"] = np.round(rng.normal(66, 11, n).clip(45, 105), 1)
    p["height"] = np.round(rng.normal(162, 6, n).clip(148, 180), 0)
    p["bsa"] = np.round(np.sqrt(p["weight"] * p["height"] / 3600), 2)  # Mosteller
    p["race"] = _choice(rng, ["ASIAN", "WHITE", "BLACK OR AFRICAN AMERICAN"], (0.7, 0.2, 0.1), n)
    p["prolonged"] = rng.random(n) < PROLONGED_CYTOPENIA_P
    # CRS and ICANS course (ASTCT grades)
    p["crs_grade"] = np.where(rng.random(n) < CRS["p"], _choice(rng, [1, 2, 3, 4], CRS["grade_weights"], n), 0)
    p["crs_grade"] = p["crs_grade"].astype(int)
    p["crs_onset"] = rng.integers(CRS["onset"][0], CRS["onset"][1] + 1, n)
    p["crs_dur"] = rng.integers(CRS["duration"][0], CRS["duration"][1] + 1, n)
    p["icans_grade"] = np.where(rng.random(n) < ICANS["p"], _choice(rng, [1, 2, 3, 4], ICANS["grade_weights"], n), 0)
    p["icans_grade"] = p["icans_grade"].astype(int)
    p["icans_onset"] = rng.integers(ICANS["onset"][0], ICANS["onset"][1] + 1, n)
    p["icans_dur"] = rng.integers(ICANS["duration"][0], ICANS["duration"][1] + 1, n)
    p["hypoxia_driver"] = rng.random(n) < 0.5  # grade >= 2 CRS driven by hypoxia (else hypotension)
    # response and survival
    p["best"] = _choice(rng, list(RESPONSE["best"]), RESPONSE["p"].to_numpy(), n)
    ranges = RESPONSE.set_index("best")["progression"]
    lo = p["best"].map(lambda b: ranges[b][0]).to_numpy()
    hi = p["best"].map(lambda b: ranges[b][1]).to_numpy()
    p["prog_day"] = np.floor(lo + rng.random(n) * (hi - lo)).astype(int)
    p["response_day"] = _choice(rng, [28, 56], (0.4, 0.6), n).astype(int)
    rs_after = np.searchsorted(np.array(RS_DAYS), p["prog_day"].to_numpy())
    pd_assess = np.where(rs_after < len(RS_DAYS), np.array(RS_DAYS + [10_000])[rs_after], 10_000)
    p["pd_assess_day"] = pd_assess + rng.integers(-3, 4, n)
    p["death_day"] = (p["pd_assess_day"] + 10 + rng.exponential(DEATH_AFTER_PD_MEAN, n)).astype(int)
    p["withdraw_day"] = np.where(rng.random(n) < WITHDRAWAL_P, rng.integers(60, 300, n), 10_000)
    p["fatal_infection"] = False
    # CAR-T kinetics: peak (log10 copies/ug gDNA), peak day, early and late half-lives
    responder = p["best"].isin(["CR", "PR"]).to_numpy()
    p["cmax_log10"] = rng.normal(4.0, 0.5, n) + 0.4 * responder + 0.15 * p["crs_grade"].to_numpy()
    p["tmax"] = _choice(rng, [7, 10, 14], (0.4, 0.35, 0.25), n).astype(int)
    p["hl_early"] = rng.uniform(3.0, 6.0, n)
    p["hl_late"] = np.exp(rng.normal(np.log(35.0), 0.5, n))
    # liver, potassium, albumin and CRP excursions during CRS
    p["alt_peak_uln"] = np.where(rng.random(n) < 0.45, np.exp(rng.normal(np.log(2.2), 0.55, n)), 0.0)
    p["k_min"] = np.where(rng.random(n) < 0.55, rng.uniform(3.05, 3.45, n), np.nan)
    p.loc[rng.random(n) < 0.08, "k_min"] = rng.uniform(2.75, 2.95)
    p["alb_min"] = rng.uniform(29.0, 37.0, n)
    p["crp_peak"] = np.where(p["crs_grade"] > 0, np.exp(rng.normal(np.log(40.0), 0.6, n)) * (1 + p["crs_grade"]),
                             rng.uniform(8, 20, n))
    p["qtcf"] = rng.normal(428, 12, n).round()
    return p


def _force_demo_features(p: pd.DataFrame) -> pd.DataFrame:
    """Make sure the demo shows each pattern the report discusses, whatever the seed drew."""
    p = p.copy()
    days_to_cut = (CUTOFF.normalize() - p["infusion"].dt.normalize()).dt.days
    early = p.index[days_to_cut > 200]
    if (p["crs_grade"] == 3).sum() < 2 and len(p) >= 4:  # "a couple" of grade-3 CRS
        p.loc[p.index[[1, len(p) // 2]], "crs_grade"] = 3
    if (p["alt_peak_uln"] > 5.2).sum() == 0 and len(p) >= 3:  # one grade-3 transaminase rise
        p.loc[p.index[2], "alt_peak_uln"] = 6.5
    if len(early) >= 6:
        fatal = early[5]  # one fatal infection (sepsis, grade 5) around day 45
        p.loc[fatal, ["fatal_infection", "death_day", "best"]] = [True, 45, "PD"]
        p.loc[fatal, ["prog_day", "pd_assess_day"]] = [10_000, 10_000]
        p.loc[early[4], "qtcf"] = 472  # QTcF prolongation, CTCAE grade 1 (450-480 ms)
    if not p["prolonged"].any():
        p.loc[p.index[0], "prolonged"] = True
    return p


def _end_of_follow_up(p: pd.DataFrame) -> pd.DataFrame:
    p = p.copy()
    to_cut = (CUTOFF.normalize() - p["infusion"].dt.normalize()).dt.days.to_numpy()
    options = np.vstack([np.full(len(p), FOLLOW_UP_DAYS), p["death_day"], p["withdraw_day"], to_cut])
    p["end_day"] = options.min(axis=0)
    reason = np.array(["COMPLETED", "DEATH", "WITHDRAWAL BY SUBJECT", "ONGOING"])[options.argmin(axis=0)]
    p["status"] = reason
    p.loc[p["status"] == "DEATH", "death_day"] = p["end_day"]
    p.loc[p["status"] != "DEATH", "death_day"] = -1
    return p


# --------------------------------------------------------------------------------------------------- labs
def _lab_values(p: pd.DataFrame, grid: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """SI value of each (participant, day, test) row of ``grid``: baseline x trajectory x measurement noise."""
    t = grid["day"].to_numpy(dtype=float)
    pp = p.set_index("idx").loc[grid["idx"]]
    base = grid["base"].to_numpy()
    value = base.copy()
    test = grid["testcd"].to_numpy()
    crs_peak = (pp["crs_onset"] + pp["crs_dur"] // 2).to_numpy() + 1.0
    bump = np.exp(-(((t - crs_peak) / 3.0) ** 2))
    for code, row in CYTOPENIA.iterrows():
        m = test == code
        nadir = grid.loc[m, "nadir"].to_numpy()
        tn = grid.loc[m, "nadir_day"].to_numpy()
        tau = np.where(pp["prolonged"].to_numpy()[m], row["tau_prolonged"], row["tau"])
        b, tt = base[m], t[m]
        falling = b * (nadir / b) ** ((tt + 4) / (tn + 4))
        recovering = nadir + (b - nadir) * (1 - np.exp(-(tt - tn) / tau))
        value[m] = np.where(tt < -4, b, np.where(tt <= tn, falling, recovering))
    wbc = test == "WBC"
    value[wbc] = np.nan  # filled from its components below
    for code in ("ALT", "AST"):
        m = test == code
        peak = pp["alt_peak_uln"].to_numpy()[m] * LAB_TESTS.loc[code, "hi"] * (0.85 if code == "AST" else 1.0)
        value[m] = base[m] + np.clip(peak - base[m], 0, None) * bump[m]
    m = test == "BILI"
    value[m] = base[m] * (1 + 0.5 * (pp["crs_grade"].to_numpy()[m] >= 2) * bump[m])
    m = test == "K"
    kmin = np.nan_to_num(pp["k_min"].to_numpy()[m], nan=base[m] - 0.2)
    value[m] = base[m] - np.clip(base[m] - kmin, 0, None) * bump[m]
    m = test == "ALB"
    value[m] = base[m] - np.clip(base[m] - pp["alb_min"].to_numpy()[m], 0, None) * np.exp(
        -(((t[m] - crs_peak[m] - 3) / 8.0) ** 2))
    m = test == "CRP"
    value[m] = base[m] + pp["crp_peak"].to_numpy()[m] * np.exp(-(((t[m] - crs_peak[m]) / 2.5) ** 2))
    noise = np.exp(rng.normal(0.0, 0.05, len(grid)))
    value = value * noise
    # WBC = neutrophils + lymphocytes + monocytes/others (others fall and recover with the neutrophils)
    key = ["idx", "day"]
    parts = grid.loc[:, key].assign(v=value, testcd=test)
    wide = parts[parts["testcd"].isin(["NEUT", "LYM"])].pivot_table(index=key, columns="testcd", values="v")
    wbc_rows = grid.loc[wbc, key]
    comp = wide.reindex(pd.MultiIndex.from_frame(wbc_rows))
    others = 0.12 * (comp["NEUT"] + comp["LYM"]) + 0.25
    value[wbc] = (comp["NEUT"] + comp["LYM"] + others).to_numpy()
    return value


def _labs(p: pd.DataFrame, sf: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    tests = LAB_TESTS.reset_index()
    # baselines per participant x test
    base = p[["idx"]].merge(tests[["testcd", "base", "sigma", "lo", "hi"]], how="cross")
    base["base"] = base["base"] * np.exp(rng.normal(0, base["sigma"]))
    bounds = {"WBC": (3.9, None), "HGB": (96, 150), "PLAT": (110, 420), "ALB": (36.5, 48), "ALT": (None, 60),
              "AST": (None, 60), "BILI": (None, 24), "K": (3.6, 4.7), "NEUT": (1.9, 7), "LYM": (0.6, 3),
              "CREAT": (50, 76)}
    for code, (lo, hi) in bounds.items():
        m = base["testcd"] == code
        base.loc[m, "base"] = base.loc[m, "base"].clip(lo, hi)
    cyto = CYTOPENIA.reset_index()
    base = base.merge(cyto[["testcd", "nadir_frac", "sigma", "nadir_day"]].rename(columns={"sigma": "nsig"}),
                      on="testcd", how="left")
    is_cyto = base["nadir_frac"].notna()
    frac = (base["nadir_frac"] * np.exp(rng.normal(0, base["nsig"].fillna(0)))).clip(upper=0.95)
    base["nadir"] = np.where(is_cyto, base["base"] * frac, np.nan)
    lo_d = base["nadir_day"].map(lambda r: r[0] if isinstance(r, tuple) else 0)
    hi_d = base["nadir_day"].map(lambda r: r[1] if isinstance(r, tuple) else 0)
    base["nadir_day"] = (lo_d + np.floor(rng.random(len(base)) * (hi_d - lo_d + 1))).astype(float)
    # on-treatment grid (within follow-up), then screening visit
    days = pd.DataFrame({"day": LAB_DAYS})
    grid = base.merge(days, how="cross").merge(p[["idx", "end_day"]], on="idx")
    grid = grid[grid["day"] <= grid["end_day"]].reset_index(drop=True)
    grid["value"] = _lab_values(p, grid, rng)
    screen = base.assign(day=SCREEN_DAY)
    screen["value"] = screen["base"] * np.exp(rng.normal(0, 0.04, len(screen)))
    treated = pd.concat([screen, grid], ignore_index=True)
    treated = treated.merge(p[["idx", "usubjid", "infusion"]], on="idx")
    # screen failures: screening labs only, one failing the inclusion criterion assigned to them
    sfl = sf[["idx", "usubjid", "screen_date", "fail_test", "fail_value"]].merge(
        tests[["testcd", "base", "sigma"]], how="cross")
    sfl["value"] = sfl["base"] * np.exp(rng.normal(0, 0.5 * sfl["sigma"]))
    hit = sfl["testcd"] == sfl["fail_test"]
    sfl.loc[hit, "value"] = sfl.loc[hit, "fail_value"]
    sfl["day"] = SCREEN_DAY
    sfl["infusion"] = sfl["screen_date"] - pd.Timedelta(days=SCREEN_DAY)
    lab = pd.concat([treated, sfl], ignore_index=True)
    lab = lab.merge(tests[["testcd", "test", "cat", "si_unit", "lo", "hi", "conv_unit", "factor", "dec"]]
                    .rename(columns={"lo": "rlo", "hi": "rhi"}), on="testcd")
    lab["value"] = lab["value"].clip(lower=0.0)
    # round to the reported precision first: grades are taken from the values as written
    scale = 10.0 ** lab["dec"]
    lab["value"] = np.round(lab["value"] * scale) / scale
    minutes = rng.integers(0, 50, len(lab))
    lab["dtc"] = lab["infusion"].dt.normalize() + pd.to_timedelta(lab["day"], unit="D") + pd.to_timedelta(
        7 * 60 + minutes, unit="m")
    lab["visit"] = _visit_name(lab["day"])
    return lab.sort_values(["usubjid", "day", "testcd"], kind="stable").reset_index(drop=True)


def _visit_name(day: pd.Series) -> pd.Series:
    d = day.astype(int)
    name = "DAY " + d.astype(str)
    name = name.where(d != SCREEN_DAY, "SCREENING")
    return name.where(d != -5, "BASELINE (DAY -5)")


def _lb_domain(lab: pd.DataFrame) -> pd.DataFrame:
    conv = lab["value"] / lab["factor"]
    conv_dec = lab["dec"] + np.where(lab["factor"] >= 10, 2, 0) - np.where(lab["factor"] >= 50, 0, 0)
    nrind = np.select([lab["value"] < lab["rlo"], lab["value"] > lab["rhi"]], ["LOW", "HIGH"], "NORMAL")
    out = pd.DataFrame({
        "STUDYID": STUDYID, "DOMAIN": "LB", "USUBJID": lab["usubjid"],
        "LBTESTCD": lab["testcd"], "LBTEST": lab["test"], "LBCAT": lab["cat"],
        "LBORRES": _fmt(conv, conv_dec), "LBORRESU": lab["conv_unit"],
        "LBORNRLO": _fmt(lab["rlo"] / lab["factor"], conv_dec), "LBORNRHI": _fmt(lab["rhi"] / lab["factor"], conv_dec),
        "LBSTRESC": _fmt(lab["value"], lab["dec"]), "LBSTRESN": _fmt(lab["value"], lab["dec"]),
        "LBSTRESU": lab["si_unit"], "LBSTNRLO": _fmt(lab["rlo"], lab["dec"]), "LBSTNRHI": _fmt(lab["rhi"], lab["dec"]),
        "LBNRIND": nrind, "LBBLFL": np.where(lab["day"] == -5, "Y", ""),
        "VISIT": lab["visit"], "LBDTC": _iso(lab["dtc"], time=True), "LBDY": _study_day(lab["day"]),
    })
    return _seq(out, "LB")


def _study_day(day: pd.Series) -> pd.Series:
    """SDTM --DY relative to infusion (day 0 = infusion here, as the trial counts days; no day 0 gap rule)."""
    return day.astype(int).astype(str)


def _lab_grades(lab: pd.DataFrame) -> pd.DataFrame:
    """Worst CTCAE v4.03 grade per lab row, for the lab-derived AE records (investigator-style)."""
    frames = []
    for testcd, term, direction, steps in LAB_AE_RULES:
        rows = lab[lab["testcd"] == testcd]
        grade = np.zeros(len(rows), dtype=int)
        for threshold, g in steps:
            if isinstance(threshold, str):
                k = float(threshold[:-3]) if threshold[:-3] else 1.0
                limit = rows["rlo"] if threshold == "LLN" else k * rows["rhi"]
            else:
                limit = pd.Series(float(threshold), index=rows.index)
            hit = (rows["value"] < limit) if direction == "low" else (rows["value"] > limit)
            grade = np.where(hit.to_numpy(), g, grade)
        frames.append(rows[["usubjid", "day", "dtc"]].assign(term=term, grade=grade))
    return pd.concat(frames, ignore_index=True)


def _lab_aes(lab: pd.DataFrame, p: pd.DataFrame) -> pd.DataFrame:
    """One AE per participant x lab term whose grade worsened from baseline after lymphodepletion."""
    g = _lab_grades(lab[lab["usubjid"].isin(p["usubjid"])])
    basegr = g[g["day"] == -5].set_index(["usubjid", "term"])["grade"]
    g = g[g["day"] > -5].copy()
    g["base_grade"] = pd.MultiIndex.from_frame(g[["usubjid", "term"]]).map(basegr.to_dict()).fillna(0).to_numpy()
    g["worse"] = g["grade"] > g["base_grade"]
    worst = g.groupby(["usubjid", "term"]).agg(grade=("grade", "max"), base=("base_grade", "first"))
    worst = worst[(worst["grade"] > worst["base"]) & (worst["grade"] >= 1)]
    onset = g[g["worse"]].groupby(["usubjid", "term"])["dtc"].min()
    peak_day = g.sort_values("grade", ascending=False, kind="stable").groupby(["usubjid", "term"])["day"].first()
    g = g.join(peak_day.rename("peak_day"), on=["usubjid", "term"])
    resolved = g[(g["day"] > g["peak_day"]) & ~g["worse"]].groupby(["usubjid", "term"])["dtc"].min()
    out = worst.join(onset.rename("start")).join(resolved.rename("end")).reset_index()
    out["kind"] = "lab"
    return out


# --------------------------------------------------------------------------------------------------- CAR-T tox (XC)
def _xc(p: pd.DataFrame) -> pd.DataFrame:
    """Daily ASTCT observations days 0-14; the pattern follows each participant's CRS / ICANS grade."""
    grid = p.merge(pd.DataFrame({"day": XC_DAYS}), how="cross")
    grid = grid[grid["day"] <= grid["end_day"]].reset_index(drop=True)
    d = grid["day"].to_numpy()
    crs_on = (grid["crs_grade"] > 0) & (d >= grid["crs_onset"]) & (d < grid["crs_onset"] + grid["crs_dur"])
    peak = grid["crs_onset"] + grid["crs_dur"] // 2
    severe = crs_on & (grid["crs_grade"] >= 2) & (d >= peak) & (d <= peak + 1)  # the grade-defining days
    masked = crs_on & (grid["crs_grade"] >= 2) & (d > peak)  # tocilizumab given on the peak day
    jitter = ((grid["idx"] * 7 + d * 13) % 10) / 10.0  # deterministic decimals without extra draws
    temp = np.where(crs_on & ~masked, 38.1 + 0.4 * grid["crs_grade"] + jitter * 0.6, 36.6 + jitter * 0.5)
    hypox = grid["hypoxia_driver"].to_numpy()
    g = grid["crs_grade"].to_numpy()
    hypoten = np.where(severe & ~hypox, np.select([g == 2, g == 3], ["NO_VASOPRESSOR", "ONE_VASOPRESSOR"],
                                                   "MULTI_VASOPRESSOR"), "NONE")
    oxygen = np.where(severe & hypox, np.select([g == 2, g == 3], ["LOW_FLOW", "HIGH_FLOW"], "POSITIVE_PRESSURE"),
                      "NONE")
    flow = np.where(oxygen == "LOW_FLOW", 2.0 + (grid["idx"] % 3), np.where(oxygen == "HIGH_FLOW", 8.0, np.nan))
    ic_on = (grid["icans_grade"] > 0) & (d >= grid["icans_onset"]) & (d < grid["icans_onset"] + grid["icans_dur"])
    ic_peak = ic_on & (d == grid["icans_onset"] + grid["icans_dur"] // 2)
    ig = grid["icans_grade"].to_numpy()
    ice = np.where(ic_on, 8 - (ig - 1) * 2, 10)
    ice = np.where(ic_peak, np.select([ig == 1, ig == 2, ig == 3], [7, 4, 2], 0), ice)
    ice = np.where(ic_on, ice, 10)
    loc = np.where(ic_peak & (ig >= 3), "AWAKENS_TACTILE", np.where(ic_peak & (ig == 2), "AWAKENS_VOICE", "NONE"))
    seizure = np.where(ic_peak & (ig >= 3) & (grid["idx"] % 2 == 0), "RESOLVED", "NONE")
    date = _iso(grid["infusion"].dt.normalize() + pd.to_timedelta(d, unit="D"))
    long = []
    for code, values, unit in [
        ("TEMPMAX", _fmt(temp, 1), "C"), ("FEVMASK", np.where(masked, "Y", "N"), ""), ("HYPOTEN", hypoten, ""),
        ("OXYGEN", oxygen, ""), ("O2FLOW", _fmt(flow, 0), "L/min"), ("ICE", ice.astype(int).astype(str), ""),
        ("LOC", loc, ""), ("SEIZURE", seizure, ""), ("MOTOR", np.full(len(grid), "NONE"), ""),
        ("ICPEDEMA", np.full(len(grid), "NONE"), ""),
    ]:
        part = pd.DataFrame({"USUBJID": grid["usubjid"], "XCDTC": date, "XCTESTCD": code,
                             "XCORRES": np.asarray(values, dtype=object), "XCORRESU": unit, "day": d})
        if code == "O2FLOW":
            part = part[part["XCORRES"] != ""]
        long.append(part)
    xc = pd.concat(long, ignore_index=True)
    order = {c: i for i, c in enumerate(["TEMPMAX", "FEVMASK", "HYPOTEN", "OXYGEN", "O2FLOW", "ICE", "LOC", "SEIZURE",
                                         "MOTOR", "ICPEDEMA"])}
    xc = xc.assign(o=xc["XCTESTCD"].map(order)).sort_values(["USUBJID", "day", "o"], kind="stable")
    xc = xc.drop(columns=["day", "o"])
    xc.insert(0, "STUDYID", STUDYID)
    xc.insert(1, "DOMAIN", "XC")
    return _seq(xc, "XC")


def _vs(p: pd.DataFrame, sf: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    grid = p.merge(pd.DataFrame({"day": VS_DAYS}), how="cross")
    grid = grid[grid["day"] <= grid["end_day"]].reset_index(drop=True)
    d = grid["day"].to_numpy()
    n = len(grid)
    crs_on = (grid["crs_grade"] > 0) & (d >= grid["crs_onset"]) & (d < grid["crs_onset"] + grid["crs_dur"])
    peak = grid["crs_onset"] + grid["crs_dur"] // 2
    masked = crs_on & (grid["crs_grade"] >= 2) & (d > peak)
    severe = crs_on & (grid["crs_grade"] >= 2) & (d >= peak) & (d <= peak + 1)
    jitter = ((grid["idx"] * 7 + d * 13) % 10) / 10.0
    xc_temp = np.where(crs_on & ~masked, 38.1 + 0.4 * grid["crs_grade"] + jitter * 0.6, 36.6 + jitter * 0.5)
    temp = np.round(xc_temp - rng.uniform(0.0, 0.3, n), 1)  # a single reading, at most the day's maximum
    low_bp = severe & ~grid["hypoxia_driver"]
    # normotensive cohort: CTCAE v4.03 Hypertension G1 is "prehypertension" (SBP 120-139 or DBP 80-89)
    sys = np.where(low_bp, rng.normal(84, 4, n), rng.normal(108, 6, n).clip(90, 119)).round()
    dia = np.where(low_bp, rng.normal(48, 4, n), rng.normal(68, 5, n).clip(55, 79)).round()
    sat = np.where(severe & grid["hypoxia_driver"], rng.normal(92, 1, n), rng.normal(97, 1, n)).clip(85, 100).round()
    weight = grid["weight"] * np.exp(-0.0002 * np.clip(d, 0, None)) * np.exp(rng.normal(0, 0.01, n))
    rows = [("TEMP", "Temperature", temp, "C", 1), ("SYSBP", "Systolic Blood Pressure", sys, "mmHg", 0),
            ("DIABP", "Diastolic Blood Pressure", dia, "mmHg", 0), ("OXYSAT", "Oxygen Saturation", sat, "%", 0),
            ("WEIGHT", "Weight", weight.to_numpy(), "kg", 1)]
    parts = []
    for code, name, values, unit, dec in rows:
        keep = np.isin(d, WEIGHT_DAYS) if code == "WEIGHT" else np.ones(n, dtype=bool)
        parts.append(pd.DataFrame({"usubjid": grid["usubjid"], "testcd": code, "test": name, "value": values,
                                   "unit": unit, "dec": dec, "day": d, "infusion": grid["infusion"]})[keep])
    # screening vitals for everyone (treated and screen failures)
    everyone = pd.concat([p[["usubjid", "infusion", "weight"]],
                          sf[["usubjid", "weight"]].assign(infusion=sf["screen_date"] - pd.Timedelta(days=SCREEN_DAY))])
    m = len(everyone)
    screen = [("TEMP", "Temperature", rng.normal(36.7, 0.2, m).round(1), "C", 1),
              ("SYSBP", "Systolic Blood Pressure", rng.normal(110, 6, m).clip(90, 119).round(), "mmHg", 0),
              ("DIABP", "Diastolic Blood Pressure", rng.normal(70, 5, m).clip(55, 79).round(), "mmHg", 0),
              ("OXYSAT", "Oxygen Saturation", rng.normal(97.5, 0.8, m).clip(94, 100).round(), "%", 0),
              ("WEIGHT", "Weight", everyone["weight"].to_numpy(), "kg", 1)]
    for code, name, values, unit, dec in screen:
        parts.append(pd.DataFrame({"usubjid": everyone["usubjid"].to_numpy(), "testcd": code, "test": name,
                                   "value": values, "unit": unit, "dec": dec, "day": SCREEN_DAY,
                                   "infusion": everyone["infusion"].to_numpy()}))
    vs = pd.concat(parts, ignore_index=True)
    order = {c: i for i, c in enumerate(["TEMP", "SYSBP", "DIABP", "OXYSAT", "WEIGHT"])}
    vs = vs.assign(o=vs["testcd"].map(order)).sort_values(["usubjid", "day", "o"], kind="stable").reset_index(drop=True)
    text = _fmt(vs["value"], vs["dec"])
    out = pd.DataFrame({
        "STUDYID": STUDYID, "DOMAIN": "VS", "USUBJID": vs["usubjid"], "VSTESTCD": vs["testcd"], "VSTEST": vs["test"],
        "VSORRES": text, "VSORRESU": vs["unit"], "VSSTRESC": text, "VSSTRESN": text, "VSSTRESU": vs["unit"],
        "VSTPT": np.where(vs["testcd"] == "OXYSAT", "AT REST", ""),  # SpO2 taken at rest (CTCAE Hypoxia G3)
        "VSBLFL": np.where(vs["day"] == -5, "Y", ""), "VISIT": _visit_name(vs["day"]),
        "VSDTC": _iso(vs["infusion"].dt.normalize() + pd.to_timedelta(vs["day"], unit="D")),
        "VSDY": _study_day(vs["day"]),
    })
    return _seq(out, "VS")


def _eg(p: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    grid = p.merge(pd.DataFrame({"day": [SCREEN_DAY, *EG_DAYS]}), how="cross")
    grid = grid[grid["day"] <= grid["end_day"]].reset_index(drop=True)
    value = grid["qtcf"] + rng.normal(0, 6, len(grid)).round()
    long_qt = grid["qtcf"] >= 460
    value = np.where(long_qt & (grid["day"] == 7), grid["qtcf"], np.where(long_qt, grid["qtcf"] - 30, value))
    text = _fmt(value, 0)
    out = pd.DataFrame({
        "STUDYID": STUDYID, "DOMAIN": "EG", "USUBJID": grid["usubjid"], "EGTESTCD": "QTCF",
        "EGTEST": "QTcF - Fridericia's Correction Formula", "EGORRES": text, "EGORRESU": "msec", "EGSTRESC": text,
        "EGSTRESN": text, "EGSTRESU": "msec", "EGBLFL": np.where(grid["day"] == -5, "Y", ""),
        "VISIT": _visit_name(grid["day"]),
        "EGDTC": _iso(grid["infusion"].dt.normalize() + pd.to_timedelta(grid["day"], unit="D")),
        "EGDY": _study_day(grid["day"]),
    })
    return _seq(out, "EG")


# --------------------------------------------------------------------------------------------------- response, PK
def _rs(p: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    grid = p.merge(pd.DataFrame({"nominal": RS_DAYS}), how="cross")
    grid["day"] = grid["nominal"] + rng.integers(-3, 4, len(grid))
    grid.loc[grid["nominal"] >= grid["pd_assess_day"] - 3, "day"] = grid["pd_assess_day"]
    grid = grid[(grid["day"] <= grid["end_day"]) & (grid["day"] <= grid["pd_assess_day"])]
    grid = grid.drop_duplicates(["idx", "day"]).reset_index(drop=True)
    d = grid["day"]
    best = grid["best"]
    resp = np.select(
        [d >= grid["pd_assess_day"], (best == "CR") & (d > grid["response_day"] + 14), best.isin(["CR", "PR"])
         & (d >= grid["response_day"] - 3)],
        ["PD", "CR", "PR"], "SD")
    resp = np.where((rng.random(len(grid)) < 0.03) & (resp == "SD"), "NE", resp)
    out = pd.DataFrame({
        "STUDYID": STUDYID, "DOMAIN": "RS", "USUBJID": grid["usubjid"], "RSTESTCD": "OVRLRESP",
        "RSTEST": "Overall Response", "RSCAT": "RECIST 1.1", "RSORRES": resp, "RSSTRESC": resp,
        "RSEVAL": "INVESTIGATOR", "VISIT": "WEEK " + (grid["nominal"] // 7).astype(str),
        "RSDTC": _iso(grid["infusion"].dt.normalize() + pd.to_timedelta(d, unit="D")), "RSDY": _study_day(d),
    })
    return _seq(out, "RS")


def _pc(p: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    grid = p.merge(pd.DataFrame({"day": PC_DAYS}), how="cross")
    grid = grid[grid["day"] <= grid["end_day"]].reset_index(drop=True)
    t = grid["day"].to_numpy(dtype=float)
    cmax = 10.0 ** grid["cmax_log10"].to_numpy()
    tmax = grid["tmax"].to_numpy()
    c28 = cmax * 0.5 ** ((28 - tmax) / grid["hl_early"].to_numpy())
    rising = cmax * (np.clip(t, 0, None) / tmax) ** 3
    early = cmax * 0.5 ** ((t - tmax) / grid["hl_early"].to_numpy())
    late = c28 * 0.5 ** ((t - 28) / grid["hl_late"].to_numpy())
    conc = np.where(t <= tmax, rising, np.where(t <= 28, early, late)) * np.exp(rng.normal(0, 0.25, len(grid)))
    conc = np.where(t == 0, 0.0, conc)  # pre-infusion sample
    blq = conc < LLOQ
    num = pd.Series(np.round(conc, -1).astype(float)).where(~blq)
    text = _fmt(num, 0).where(~blq, "BLQ")
    when = grid["infusion"].dt.normalize() + pd.to_timedelta(t, unit="D") + pd.Timedelta(hours=9)
    when = when.where(t != 0, grid["infusion"] - pd.Timedelta(hours=1))
    out = pd.DataFrame({
        "STUDYID": STUDYID, "DOMAIN": "PC", "USUBJID": grid["usubjid"], "PCTESTCD": "CARTDNA",
        "PCTEST": "Anti-ALPP CAR Transgene", "PCSPEC": "WHOLE BLOOD", "PCMETHOD": "QPCR",
        "PCORRES": text, "PCORRESU": "copies/ug gDNA", "PCSTRESC": text, "PCSTRESN": _fmt(num, 0),
        "PCSTRESU": "copies/ug gDNA", "PCLLOQ": _fmt(np.full(len(grid), LLOQ), 0),
        "VISIT": np.where(t == 0, "DAY 0 (PRE-INFUSION)", _visit_name(grid["day"])),
        "PCDTC": _iso(when, time=True), "PCDY": _study_day(grid["day"]),
    })
    return _seq(out, "PC")


# --------------------------------------------------------------------------------------------------- AEs
def _clinical_aes(p: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    n = len(p)
    for term, prob, onset, dur, gw, rel_c, rel_l, verbatim in CLINICAL_AES:
        has = rng.random(n) < prob
        start = rng.integers(onset[0], onset[1] + 1, n)
        length = rng.integers(dur[0], dur[1] + 1, n)
        grade = _choice(rng, [1, 2, 3, 4], gw, n)
        rc = _choice(rng, REL_LEVELS, rel_c, n)
        rl = _choice(rng, REL_LEVELS, rel_l, n)
        rows.append(pd.DataFrame({"idx": p["idx"], "term": term, "verbatim": verbatim, "sday": start,
                                  "eday": start + length, "grade": grade.astype(int), "rel_cart": rc,
                                  "rel_ld": rl})[has])
    # CRS and ICANS, graded as the XC observations show (ASTCT 2019)
    crs = p[p["crs_grade"] > 0]
    rows.append(pd.DataFrame({"idx": crs["idx"], "term": "Cytokine release syndrome",
                              "verbatim": "CYTOKINE RELEASE SYNDROME", "sday": crs["crs_onset"],
                              "eday": crs["crs_onset"] + crs["crs_dur"] - 1, "grade": crs["crs_grade"],
                              "rel_cart": "RELATED", "rel_ld": "NOT RELATED"}))
    ic = p[p["icans_grade"] > 0]
    rows.append(pd.DataFrame({"idx": ic["idx"], "term": "Encephalopathy",
                              "verbatim": "IMMUNE EFFECTOR CELL-ASSOCIATED NEUROTOXICITY SYNDROME",
                              "sday": ic["icans_onset"], "eday": ic["icans_onset"] + ic["icans_dur"] - 1,
                              "grade": ic["icans_grade"], "rel_cart": "RELATED", "rel_ld": "UNLIKELY RELATED"}))
    fatal = p[p["fatal_infection"]]
    rows.append(pd.DataFrame({"idx": fatal["idx"], "term": "Sepsis", "verbatim": "SEPTIC SHOCK",
                              "sday": fatal["death_day"] - 3, "eday": fatal["death_day"], "grade": 5,
                              "rel_cart": "POSSIBLY RELATED", "rel_ld": "POSSIBLY RELATED"}))
    qt = p[p["qtcf"] >= 460]
    rows.append(pd.DataFrame({"idx": qt["idx"], "term": "Electrocardiogram QT corrected interval prolonged",
                              "verbatim": "QTC PROLONGATION", "sday": 7, "eday": 28, "grade": 1,
                              "rel_cart": "UNLIKELY RELATED", "rel_ld": "UNLIKELY RELATED"}))
    ae = pd.concat(rows, ignore_index=True)
    ae = ae.merge(p[["idx", "usubjid", "infusion", "end_day"]], on="idx")
    ae = ae[ae["sday"] <= ae["end_day"]].copy()
    base = ae["infusion"].dt.normalize()
    ae["start"] = base + pd.to_timedelta(ae["sday"], unit="D")
    ae["end"] = (base + pd.to_timedelta(ae["eday"], unit="D")).where(ae["eday"] <= ae["end_day"])
    ae["kind"] = "clinical"
    return ae


def _ae_domain(p: pd.DataFrame, lab: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, list[str]]:
    """AE records (clinical + lab-derived), planned discrepancies and data faults; returns (AE, fault notes)."""
    lab_ae = _lab_aes(lab, p).merge(p[["usubjid", "idx", "infusion", "end_day"]], on="usubjid")
    lab_ae["verbatim"] = lab_ae["term"].str.upper()
    n = len(lab_ae)
    cyto = lab_ae["term"].isin(["Neutrophil count decreased", "Platelet count decreased", "Anemia",
                                "Lymphocyte count decreased", "White blood cell decreased"])
    lab_ae["rel_cart"] = np.where(cyto, _choice(rng, REL_LEVELS, (1, 2, 5, 2, 0), n),
                                  _choice(rng, REL_LEVELS, (1, 3, 4, 2, 0), n))
    lab_ae["rel_ld"] = np.where(cyto, _choice(rng, REL_LEVELS, (6, 3, 1, 0, 0), n),
                                _choice(rng, REL_LEVELS, (0, 1, 3, 4, 2), n))
    ae = pd.concat([_clinical_aes(p, rng), lab_ae], ignore_index=True)
    ae["grade"] = ae["grade"].astype(int)
    ae = ae.sort_values(["usubjid", "start", "term"], kind="stable").reset_index(drop=True)
    ae["stdtc"] = _iso(ae["start"])
    ae["endtc"] = _iso(ae["end"])
    notes: list[str] = []

    # planned reported-vs-derived discrepancies (for the reconciliation section)
    def first(mask: pd.Series) -> int | None:
        hits = ae.index[mask]
        return int(hits[0]) if len(hits) else None

    i = first((ae["term"] == "Cytokine release syndrome") & (ae["grade"] == 2))
    if i is not None:
        ae.loc[i, "grade"] = 1
        notes.append(f"{ae.at[i, 'usubjid']}: CRS reported grade 1, XC observations give ASTCT grade 2")
    i = first((ae["term"] == "Neutrophil count decreased") & (ae["grade"] == 4))
    if i is not None:
        ae.loc[i, "grade"] = 3
        notes.append(f"{ae.at[i, 'usubjid']}: neutrophil count decreased reported grade 3, labs give grade 4")
    i = first((ae["term"] == "Alanine aminotransferase increased") & (ae["grade"] >= 3))
    if i is not None:
        notes.append(f"{ae.at[i, 'usubjid']}: ALT increased grade {ae.at[i, 'grade']} in the labs, no AE reported")
        ae = ae.drop(index=i).reset_index(drop=True)

    ae["aedecod"] = ae["term"]
    ae["aerel"] = ae["rel_cart"]
    # deliberate data faults (data-quality section)
    i = first(ae["term"] == "Diarrhea")
    if i is not None:
        ae.loc[i, "aedecod"] = "Diarhea"
        notes.append(f"{ae.at[i, 'usubjid']}: AEDECOD misspelled 'Diarhea' (CTCAE term Diarrhea)")
    i = first(ae["term"] == "Headache")
    if i is not None:
        ae.loc[i, "aerel"] = ""
        notes.append(f"{ae.at[i, 'usubjid']}: AE Headache with blank AEREL")
    extra = []
    pick = p.index[(p["end_day"] > 120)]
    if len(pick):
        who = p.loc[pick[min(3, len(pick) - 1)]]
        extra.append({"usubjid": who["usubjid"], "idx": who["idx"], "term": "Alopecia", "aedecod": "Alopecia",
                      "verbatim": "HAIR LOSS", "grade": 3, "stdtc": _iso(pd.Series([who["infusion"]
                      + pd.Timedelta(days=21)]))[0], "endtc": "", "aerel": "UNLIKELY RELATED",
                      "rel_ld": "RELATED", "kind": "clinical"})
        notes.append(f"{who['usubjid']}: Alopecia grade 3 (CTCAE v4.03 allows grades 1-2 only)")
    lo, hi = pd.Timestamp("2025-03-01"), pd.Timestamp("2025-03-31")
    on_study = (p["infusion"] < lo) & (p["infusion"] + pd.to_timedelta(p["end_day"], unit="D") > hi)
    if on_study.any():
        who = p[on_study].iloc[0]
        extra.append({"usubjid": who["usubjid"], "idx": who["idx"], "term": "Fatigue", "aedecod": "Fatigue",
                      "verbatim": "TIREDNESS", "grade": 1, "stdtc": "2025-03", "endtc": "2025-04-14",
                      "aerel": "POSSIBLY RELATED", "rel_ld": "UNLIKELY RELATED", "kind": "clinical"})
        notes.append(f"{who['usubjid']}: AE Fatigue with partial start date 2025-03")
    if extra:
        ae = pd.concat([ae, pd.DataFrame(extra)], ignore_index=True)
        ae = ae.sort_values(["usubjid", "stdtc"], kind="stable").reset_index(drop=True)

    grade = ae["grade"].astype(int)
    fatal = grade == 5
    serious = (grade >= 3) & (ae["kind"] == "clinical") | ae["term"].eq("Encephalopathy") & (grade >= 2)
    ongoing = ae["endtc"] == ""
    out = pd.DataFrame({
        "STUDYID": STUDYID, "DOMAIN": "AE", "USUBJID": ae["usubjid"], "AETERM": ae["verbatim"],
        "AEDECOD": ae["aedecod"], "AEBODSYS": ae["term"].map(SOC), "AETOXGR": grade.astype(str),
        "AESER": np.where(serious | fatal, "Y", "N"), "AEREL": ae["aerel"],
        "AEOUT": np.select([fatal, ongoing], ["FATAL", "NOT RECOVERED/NOT RESOLVED"], "RECOVERED/RESOLVED"),
        "AESDTH": np.where(fatal, "Y", "N"), "AESTDTC": ae["stdtc"], "AEENDTC": ae["endtc"],
    })
    out = _seq(out, "AE")
    out["_rel_ld"] = ae["rel_ld"].to_numpy()
    return out, notes


def _suppae(ae: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": STUDYID, "RDOMAIN": "AE", "USUBJID": ae["USUBJID"], "IDVAR": "AESEQ", "IDVARVAL": ae["AESEQ"],
        "QNAM": "AERELLD", "QLABEL": "Relationship to Lymphodepletion", "QVAL": ae["_rel_ld"], "QORIG": "CRF",
    })


# --------------------------------------------------------------------------------------------------- DM, EX, DS, MH
def _screen_failures(rng: np.random.Generator, n_treated: int, first_id: int) -> pd.DataFrame:
    n = max(3, round(0.15 * n_treated))
    span = (ACCRUAL[1] - ACCRUAL[0]).days
    offsets = np.sort(rng.integers(0, span, n))
    sf = pd.DataFrame({"idx": np.arange(first_id, first_id + n)})
    sf["screen_date"] = ACCRUAL[0] + pd.to_timedelta(offsets, unit="D")
    sf["age"] = rng.integers(38, 71, n)
    sf["race"] = _choice(rng, ["ASIAN", "WHITE"], (0.7, 0.3), n)
    sf["cancer"] = _choice(rng, ["OVARIAN CANCER", "ENDOMETRIAL CANCER"], (0.65, 0.35), n)
    sf["weight"] = np.round(rng.normal(64, 10, n).clip(45, 100), 1)
    fails = [SCREEN_FAILS[i % len(SCREEN_FAILS)] for i in range(n)]
    sf["fail_test"] = [f[0] for f in fails]
    sf["fail_value"] = [f[1] for f in fails]
    sf["fail_reason"] = [f[2] for f in fails]
    return sf


def _dm(p: pd.DataFrame, sf: pd.DataFrame, width: int) -> pd.DataFrame:
    inf = p["infusion"]
    ld = inf.dt.normalize() - pd.Timedelta(days=5) + pd.Timedelta(hours=10)
    consent = inf.dt.normalize() + pd.Timedelta(days=SCREEN_DAY - 2)
    last = inf.dt.normalize() + pd.to_timedelta(p["end_day"], unit="D")
    dead = p["status"] == "DEATH"
    ended = p["status"] != "ONGOING"
    treated = pd.DataFrame({
        "USUBJID": p["usubjid"], "SUBJID": p["subjid"], "RFSTDTC": _iso(ld, time=True),
        "RFENDTC": _iso(last.where(ended)), "RFXSTDTC": _iso(inf, time=True), "RFXENDTC": _iso(inf, time=True),
        "RFICDTC": _iso(consent), "RFPENDTC": _iso(last.where(ended)), "DTHDTC": _iso(last.where(dead)),
        "DTHFL": np.where(dead, "Y", ""), "AGE": p["age"].astype(str), "RACE": p["race"],
        "ARMCD": "CART", "ARM": "ANTI-ALPP CAR-T", "ACTARMCD": "CART", "ACTARM": "ANTI-ALPP CAR-T",
        "order": p["idx"],
    })
    sconsent = sf["screen_date"] - pd.Timedelta(days=2)
    fails = pd.DataFrame({
        "USUBJID": sf["usubjid"], "SUBJID": sf["subjid"], "RFSTDTC": "", "RFENDTC": "", "RFXSTDTC": "",
        "RFXENDTC": "", "RFICDTC": _iso(sconsent), "RFPENDTC": _iso(sf["screen_date"] + pd.Timedelta(days=7)),
        "DTHDTC": "", "DTHFL": "", "AGE": sf["age"].astype(str), "RACE": sf["race"],
        "ARMCD": "SCRNFAIL", "ARM": "Screen Failure", "ACTARMCD": "SCRNFAIL", "ACTARM": "Screen Failure",
        "order": sf["idx"],
    })
    dm = pd.concat([treated, fails], ignore_index=True).sort_values("USUBJID", kind="stable")
    dm = dm.drop(columns="order").reset_index(drop=True)
    dm.insert(0, "STUDYID", STUDYID)
    dm.insert(1, "DOMAIN", "DM")
    dm.insert(12, "SITEID", SITEID)
    dm.insert(14, "AGEU", "YEARS")
    dm.insert(15, "SEX", "F")
    dm.insert(17, "ETHNIC", "NOT HISPANIC OR LATINO")
    dm["COUNTRY"] = "CHN"
    return dm


def _ex(p: pd.DataFrame) -> pd.DataFrame:
    day0 = p["infusion"].dt.normalize()
    parts = []
    for trt, day, dose, unit, route, hour, minutes in [
        ("CYCLOPHOSPHAMIDE", -5, "20", "mg/kg", "INTRAVENOUS", 10, 60),
        ("FLUDARABINE", -4, "35", "mg/m2", "INTRAVENOUS", 10, 30),
        ("FLUDARABINE", -3, "35", "mg/m2", "INTRAVENOUS", 10, 30),
        ("FLUDARABINE", -2, "35", "mg/m2", "INTRAVENOUS", 10, 30),
    ]:
        start = day0 + pd.Timedelta(days=day, hours=hour)
        parts.append(pd.DataFrame({"USUBJID": p["usubjid"], "EXTRT": trt, "EXDOSE": dose, "EXDOSU": unit,
                                   "EXROUTE": route, "EXSTDTC": _iso(start, time=True),
                                   "EXENDTC": _iso(start + pd.Timedelta(minutes=minutes), time=True),
                                   "EXSTDY": str(day), "day": day}))
    parts.append(pd.DataFrame({"USUBJID": p["usubjid"], "EXTRT": "ANTI-ALPP CAR-T CELLS", "EXDOSE": "1",
                               "EXDOSU": "10^6 CAR+ cells/kg", "EXROUTE": "INTRAVENOUS",
                               "EXSTDTC": _iso(p["infusion"], time=True),
                               "EXENDTC": _iso(p["infusion"] + pd.Timedelta(minutes=20), time=True),
                               "EXSTDY": "0", "day": 0}))
    ex = pd.concat(parts, ignore_index=True).sort_values(["USUBJID", "day"], kind="stable").drop(columns="day")
    ex.insert(0, "STUDYID", STUDYID)
    ex.insert(1, "DOMAIN", "EX")
    return _seq(ex, "EX")


def _ds(p: pd.DataFrame, sf: pd.DataFrame) -> pd.DataFrame:
    ended = p[p["status"] != "ONGOING"]
    last = ended["infusion"].dt.normalize() + pd.to_timedelta(ended["end_day"], unit="D")
    term = ended["status"].map({"COMPLETED": "COMPLETED 1-YEAR FOLLOW-UP", "DEATH": "DEATH",
                                "WITHDRAWAL BY SUBJECT": "WITHDRAWAL BY SUBJECT"})
    done = pd.DataFrame({"USUBJID": ended["usubjid"], "DSTERM": term, "DSDECOD": ended["status"],
                         "DSSTDTC": _iso(last)})
    fails = pd.DataFrame({"USUBJID": sf["usubjid"], "DSTERM": "INCLUSION CRITERION NOT MET: " + sf["fail_reason"],
                          "DSDECOD": "SCREEN FAILURE", "DSSTDTC": _iso(sf["screen_date"] + pd.Timedelta(days=7))})
    ds = pd.concat([done, fails], ignore_index=True).sort_values("USUBJID", kind="stable")
    ds.insert(0, "STUDYID", STUDYID)
    ds.insert(1, "DOMAIN", "DS")
    ds.insert(4, "DSCAT", "DISPOSITION EVENT")
    return _seq(ds, "DS")


def _mh(p: pd.DataFrame, sf: pd.DataFrame) -> pd.DataFrame:
    both = pd.concat([p[["usubjid", "cancer"]], sf[["usubjid", "cancer"]]]).sort_values("usubjid", kind="stable")
    mh = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "MH", "USUBJID": both["usubjid"],
                       "MHTERM": "METASTATIC " + both["cancer"], "MHDECOD": both["cancer"].str.capitalize(),
                       "MHCAT": "PRIMARY DIAGNOSIS"})
    return _seq(mh, "MH")


# --------------------------------------------------------------------------------------------------- faults in LB
def _lb_faults(lb: pd.DataFrame, lab: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    lb = lb.copy()
    notes = []
    post = lab["day"] >= 0
    m = lab.index[(lab["testcd"] == "BILI") & post]
    if len(m):
        i = m[len(m) // 3]
        mgdl = lab.at[i, "value"] / 17.1
        lb.loc[i, ["LBSTRESC", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI"]] = [
            f"{mgdl:.2f}", f"{mgdl:.2f}", "mg/dL", "0.18", "1.23"]
        notes.append(f"{lb.at[i, 'USUBJID']}: bilirubin LBSEQ {lb.at[i, 'LBSEQ']} standardised in mg/dL, not umol/L")
    m = lab.index[(lab["testcd"] == "NEUT") & (lab["value"] < 0.5) & post]
    if len(m):
        i = m[len(m) // 2]
        lb.loc[i, ["LBORRES", "LBSTRESC", "LBSTRESN"]] = ["<0.5", "<0.5", ""]
        notes.append(f"{lb.at[i, 'USUBJID']}: neutrophils LBSEQ {lb.at[i, 'LBSEQ']} reported as '<0.5', no number")
    return lb, notes


# --------------------------------------------------------------------------------------------------- main
def generate(seed: int = DEFAULT_SEED, participants: int = DEFAULT_PARTICIPANTS) -> tuple[dict[str, pd.DataFrame],
                                                                                             list[str]]:
    """Build the demo trial: ({domain: SDTM frame of text columns}, notes on the planned faults)."""
    if participants < 1:
        raise ValueError("participants must be >= 1")
    rng = np.random.default_rng(seed)
    p = _end_of_follow_up(_force_demo_features(_participants(rng, participants)))
    sf = _screen_failures(rng, participants, participants)
    # subject numbers follow the order of consent (screening date)
    consent = pd.concat([p["infusion"].dt.normalize() + pd.Timedelta(days=SCREEN_DAY), sf["screen_date"]])
    ids = pd.Series(np.arange(participants + len(sf)), index=np.argsort(consent.to_numpy(), kind="stable"))
    number = ids.sort_index().to_numpy() + 1
    width = max(3, len(str(len(number))))
    subjid = pd.Series([f"{SITEID}{k:0{width}d}" for k in number])
    p["subjid"] = subjid[:participants].to_numpy()
    sf["subjid"] = subjid[participants:].to_numpy()
    p["usubjid"] = STUDYID + "-" + p["subjid"]
    sf["usubjid"] = STUDYID + "-" + sf["subjid"]

    lab = _labs(p, sf, rng)
    lb, lb_notes = _lb_faults(_lb_domain(lab), lab)
    ae, ae_notes = _ae_domain(p, lab, rng)
    frames = {
        "dm": _dm(p, sf, width), "ds": _ds(p, sf), "mh": _mh(p, sf), "ex": _ex(p),
        "ae": ae.drop(columns="_rel_ld"), "suppae": _suppae(ae), "lb": lb, "vs": _vs(p, sf, rng), "eg": _eg(p, rng),
        "rs": _rs(p, rng), "pc": _pc(p, rng), "xc": _xc(p),
    }
    return frames, ae_notes + lb_notes


def write(frames: dict[str, pd.DataFrame], out: str | Path) -> list[Path]:
    """Write each domain as ``<name>.csv`` (UTF-8, LF line ends, text exactly as generated)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in frames.items():
        path = out / f"{name}.csv"
        frame.astype(str).to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the demo CAR-T trial as SDTM CSV files.")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--participants", type=int, default=DEFAULT_PARTICIPANTS, help="treated participants")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    frames, notes = generate(args.seed, args.participants)
    paths = write(frames, args.out)
    rows = ", ".join(f"{p.stem} {len(frames[p.stem])}" for p in paths)
    print(f"wrote {len(paths)} files to {args.out}: {rows}")
    for note in notes:
        print(f"  planned: {note}")


if __name__ == "__main__":
    main()
