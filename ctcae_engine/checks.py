"""Input checks run before any grading: is every file readable, does each domain have the columns the engine needs,
is a required domain missing or empty, does the configuration match the data. ``ctcae-engine validate`` prints them;
``ctcae-engine run`` stops on an error before it writes anything.

The column contract is data (:data:`REQUIRED`): for each domain, groups of alternative columns, of which at least one
must be present (SDTM or ADaM names, since an ADaM dataset may stand in for its SDTM domain).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ctcae_engine.io import ADAM_TO_SDTM as ADAM
from ctcae_engine.io import SUFFIXES, read_domain

# domain -> groups of alternative column names (at least one of each group must be present)
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "dm": (("USUBJID",),),
    "ex": (("USUBJID",), ("EXTRT",), ("EXSTDTC",)),
    "ae": (("USUBJID",), ("AEDECOD", "AETERM"), ("AESTDTC", "ASTDT", "ASTDTM")),
    "lb": (("USUBJID",), ("LBTESTCD", "PARAMCD"), ("LBSTRESN", "LBSTRESC", "LBORRES", "AVAL")),
    "vs": (("USUBJID",), ("VSTESTCD", "PARAMCD"), ("VSSTRESN", "VSSTRESC", "VSORRES", "AVAL")),
    "eg": (("USUBJID",), ("EGTESTCD", "PARAMCD"), ("EGSTRESN", "EGSTRESC", "EGORRES", "AVAL")),
    "rs": (("USUBJID",), ("RSSTRESC", "RSORRES", "AVALC")),
    "pc": (("USUBJID",), ("PCTESTCD", "PARAMCD")),
    "xc": (("USUBJID",), ("XCTESTCD",)),
    "suppae": (("USUBJID",), ("QNAM",), ("QVAL",)),
}
NEEDED = ("dm", "ex")  # an empty DM or EX leaves no population: an error


@dataclass(frozen=True)
class Problem:
    """One finding: ``level`` "error" (the run stops) or "warning" (the run goes on, the manifest lists it)."""

    level: str
    where: str  # file name, domain or config key
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


@dataclass(frozen=True)
class InputFile:
    name: str
    domain: str
    size: int
    rows: int | None  # None when the file could not be read
    columns: tuple[str, ...] = ()


def check_folder(folder: str | Path, config: Any = None) -> tuple[list[InputFile], list[Problem]]:
    """Read every domain file of ``folder`` once and list what stops or weakens a run.

    Errors: folder missing, a file that cannot be read, two files for one domain, a required column missing, DM or EX
    missing or empty, no EX record of the configured infusion. Warnings: an empty optional domain, files the engine
    does not read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [], [Problem("error", str(folder), "study data folder not found")]
    files: list[InputFile] = []
    problems: list[Problem] = []
    frames: dict[str, pd.DataFrame] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.suffix.lower() not in SUFFIXES:
            if not path.name.startswith("."):
                problems.append(Problem("warning", path.name, f"not read (not one of {', '.join(SUFFIXES)})"))
            continue
        stem = path.stem.lower()
        domain = ADAM.get(stem, stem)
        try:
            frame = read_domain(path)
        except Exception as exc:  # any reader failure is reported with the file named, never a traceback
            problems.append(Problem("error", path.name, f"cannot be read: {type(exc).__name__}: {exc}"))
            files.append(InputFile(path.name, domain, path.stat().st_size, None))
            continue
        files.append(InputFile(path.name, domain, path.stat().st_size, len(frame), tuple(frame.columns)))
        if stem in frames or (domain != stem and domain in frames):
            problems.append(Problem("error", path.name, f"a second file for domain {domain.upper()}; keep one"))
        frames[stem] = frame
    problems += _check_frames(frames)
    if config is not None:
        problems += _check_config_against_data(frames, config)
    return files, problems


def _check_frames(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    problems = []
    for stem, frame in frames.items():
        domain = ADAM.get(stem, stem)
        for group in REQUIRED.get(domain, ()):
            if not any(column in frame.columns for column in group):
                wanted = " or ".join(group)
                problems.append(Problem("error", stem.upper(), f"required column {wanted} is missing"))
        if frame.empty:
            level = "error" if domain in NEEDED else "warning"
            problems.append(Problem(level, stem.upper(), "the domain has no rows"))
    present = {ADAM.get(stem, stem): frame for stem, frame in frames.items()}
    if "dm" not in present:
        problems.append(Problem("error", "DM", "required domain (DM or ADSL) not found in the study folder"))
    elif "ex" not in present:
        dates = [c for c in ("TRTSDT", "TRTSDTM", "RFXSTDTC") if c in present["dm"].columns]
        if dates:
            message = f"no EX domain: the infusion date is taken from DM/ADSL {dates[0]}"
            problems.append(Problem("warning", "EX", message))
        else:
            problems.append(Problem("error", "EX", "no EX domain and DM/ADSL has no TRTSDT or RFXSTDTC: "
                                                   "no infusion date, no population"))
    return problems


def _check_config_against_data(frames: dict[str, pd.DataFrame], config: Any) -> list[Problem]:
    ex = frames.get("ex")
    if ex is None or "EXTRT" not in ex.columns or ex.empty:
        return []
    given = set(ex["EXTRT"].astype("string").str.strip().str.upper().dropna())
    wanted = set(config.treatment.infusion_extrt)
    if not given & wanted:
        return [Problem("error", "treatment.infusion_extrt",
                        f"no EX record has EXTRT {' or '.join(sorted(wanted))}; EX has {', '.join(sorted(given))}")]
    return []


def errors(problems: list[Problem]) -> list[Problem]:
    """The problems that stop a run."""
    return [p for p in problems if p.level == "error"]
