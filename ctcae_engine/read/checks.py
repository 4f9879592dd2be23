"""Input checks run before any grading: is every file readable, does each domain have the columns the engine needs,
is a required or expected domain missing or empty, are the key dates ISO 8601, does the configuration match the data.
``ctcae-engine validate`` prints them; ``ctcae-engine run`` stops on an error before it writes anything.

Each file is read and hashed here once; a run passes the frames and hashes on to the pipeline
(:func:`ctcae_engine.run.pipeline.run_study`), so the sha256 in the manifest is that of the bytes analysed (a file that
changes while it is read is an error: a delivery still being copied).

The column contract is data (:data:`REQUIRED`): for each domain, groups of alternative columns, of which at least one
must be present (SDTM or ADaM names, since an ADaM dataset may stand in for its SDTM domain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ctcae_engine.read.columns import DuplicateColumnsError, as_text, shorten, text
from ctcae_engine.read.dates import OUTSIDE, parse_dtc
from ctcae_engine.read.files import ADAM_TO_SDTM, SUFFIXES, domain_files, read_domain, sha256_file, supp_unmatched

# domain -> groups of alternative column names (at least one of each group must be present)
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "dm": (("USUBJID",),),
    "ex": (("USUBJID",), ("EXTRT",), ("EXSTDTC",)),
    "ae": (("USUBJID",), ("AEDECOD", "AETERM"), ("AESTDTC", "ASTDT", "ASTDTM"), ("AETOXGR", "ATOXGR", "AESEV"),
           ("AESER",)),
    "lb": (("USUBJID",), ("LBTESTCD", "PARAMCD"), ("LBSTRESN", "LBSTRESC", "LBORRES", "AVAL")),
    "vs": (("USUBJID",), ("VSTESTCD", "PARAMCD"), ("VSSTRESN", "VSSTRESC", "VSORRES", "AVAL")),
    "eg": (("USUBJID",), ("EGTESTCD", "PARAMCD"), ("EGSTRESN", "EGSTRESC", "EGORRES", "AVAL")),
    "rs": (("USUBJID",), ("RSSTRESC", "RSORRES", "AVALC")),
    "pc": (("USUBJID",), ("PCTESTCD", "PARAMCD")),
    "xc": (("USUBJID",), ("XCTESTCD",)),
    "cm": (("USUBJID",), ("CMDECOD", "CMTRT"), ("CMSTDTC",)),  # vasopressors for ASTCT CRS (grade.cart_vasopressors)
}
SUPP_REQUIRED = (("USUBJID",), ("IDVAR",), ("IDVARVAL",), ("QNAM",), ("QVAL",))
# every domain the pipeline reads; any other file name is reported (a renamed suppae.csv must not vanish silently)
KNOWN = frozenset({*REQUIRED, "ds", "mh", "suppae", *ADAM_TO_SDTM})
FLAGS = {"ae": ("AESER", "AESDTH"), "dm": ("DTHFL",)}  # Y/N columns: any other value misclassifies an event
NEEDED = ("dm",)  # without DM there is no population, whatever the configuration says
KEY_DATES = {"ex": ("EXSTDTC",), "dm": ("RFXSTDTC", "DTHDTC")}  # an unreadable value here is an error


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
    domain: str  # the SDTM domain it stands for (adlb -> lb)
    size: int
    rows: int | None  # None when the file could not be read
    sha256: str = ""
    used: bool = True  # False: an ADaM file whose SDTM domain is also in the folder (the SDTM file is used)


@dataclass
class Checked:
    """What :func:`check_folder` found: the files, the problems, and the frames read (file stem -> DataFrame)."""

    files: list[InputFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def hashes(self) -> dict[str, str]:
        return {f.name: f.sha256 for f in self.files if f.rows is not None}


def check_folder(folder: str | Path, config: Any = None) -> Checked:
    """Read and hash every domain file of ``folder`` once and list what stops or weakens a run.

    Errors: folder missing, a file that cannot be read or changes while read, two files for one domain, a column
    name given twice with different values, a required column missing, DM missing or empty, an expected domain
    (``[data] expected_domains``) missing or empty, an EX without rows, no infusion date (no EX and none in DM), no EX
    record of the configured infusion, unreadable key dates (EXSTDTC, RFXSTDTC, DTHDTC), every USUBJID blank.
    Warnings: an empty optional domain (a 0-byte file is then read as absent), a column given twice with the same
    values, some blank USUBJID, a USUBJID on several DM rows, other unreadable dates (malformed or outside the usable
    range), AE grades only from AESEV, no AE relationship, an ADaM file not used, files the engine does not read.
    """
    folder = Path(folder)
    out = Checked()
    if not folder.is_dir():
        out.problems.append(Problem("error", str(folder), "study data folder not found"))
        return out
    readable = domain_files(folder)
    for path in sorted(folder.iterdir()):
        if path in readable or path.name.startswith(".") or path.suffix.lower() == ".toml":
            continue
        if path.is_dir() and path.suffix.lower() not in SUFFIXES:
            continue  # sub-folders (e.g. runs/ beside the data) are not domains
        kind = "a sub-folder" if path.is_dir() else ("a broken link" if not path.exists() else
                                                      f"not one of {', '.join(SUFFIXES)}")
        out.problems.append(Problem("warning", path.name, f"not read ({kind})"))
    for path in readable:
        if path.stem.lower() not in KNOWN:
            out.problems.append(Problem("warning", path.name, "not a domain the engine reads: ignored (file names "
                                        f"are domain names: {', '.join(sorted(KNOWN))})"))
            continue
        _read_one(path, out)
    _check_frames(out, config)
    if config is not None:
        _check_config_against_data(out, config)
    return out


def _read_one(path: Path, out: Checked) -> None:
    stem = path.stem.lower()
    domain = ADAM_TO_SDTM.get(stem, stem)
    before = path.stat()
    notes: list[str] = []
    try:
        frame = read_domain(path, notes)
        digest = sha256_file(path)
    except DuplicateColumnsError as exc:  # the message names the file and the columns
        out.problems.append(Problem("error", path.name, str(exc).removeprefix(f"{path.name}: ")))
        out.files.append(InputFile(path.name, domain, before.st_size, None))
        return
    except Exception as exc:  # any reader failure is reported with the file named, never a traceback
        message = shorten(f"{type(exc).__name__}: {exc}", 300)
        out.problems.append(Problem("error", path.name, f"cannot be read: {message}"))
        out.files.append(InputFile(path.name, domain, before.st_size, None))
        return
    out.problems += [Problem("warning", path.name, note.removeprefix(f"{path.name}: ")) for note in notes]
    after = path.stat()
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        out.problems.append(Problem("error", path.name, "the file changed while it was read (a delivery still being "
                                                        "copied?); run again when it is complete"))
    if stem in out.frames:
        out.problems.append(Problem("error", path.name, f"a second file for domain {stem.upper()}; keep one"))
    out.frames[stem] = frame
    out.files.append(InputFile(path.name, domain, after.st_size, len(frame), digest))


def _blank(values: pd.Series) -> pd.Series:
    return as_text(values).isna()


def _check_frames(out: Checked, config: Any) -> None:
    problems, frames = out.problems, out.frames
    for adam, sdtm in ADAM_TO_SDTM.items():  # the pipeline uses the SDTM domain when both are given
        if adam in frames and sdtm in frames:
            problems.append(Problem("warning", adam.upper(), f"not used: {sdtm.upper()} is in the folder too"))
            out.files = [f if f.name.lower().split(".")[0] != adam else
                         InputFile(f.name, f.domain, f.size, f.rows, f.sha256, used=False) for f in out.files]
    used = {ADAM_TO_SDTM.get(stem, stem): frame for stem, frame in frames.items()
            if not (stem in ADAM_TO_SDTM and ADAM_TO_SDTM[stem] in frames)}
    expected = set(getattr(config, "expected_domains", ()) or ()) | set(NEEDED)
    for domain, frame in used.items():
        where = domain.upper()
        groups = SUPP_REQUIRED if domain.startswith("supp") else REQUIRED.get(domain, ())
        for group in groups if len(frame.columns) else ():  # a 0-byte file: only "no rows" below
            if not any(column in frame.columns for column in group):
                problems.append(Problem("error", where, f"required column {' or '.join(group)} is missing"))
        if frame.empty:
            level = "error" if domain in expected or domain == "ex" else "warning"
            message = "the domain has no rows"
            if domain == "ex":
                message += ": no EX record of the configured infusion"
            elif not len(frame.columns) and level == "warning":
                message += " (a 0-byte file: read as absent, its outputs say the domain is missing)"
            problems.append(Problem(level, where, message))
        elif "USUBJID" in frame.columns:
            blank = int(_blank(frame["USUBJID"]).sum())
            if blank == len(frame):
                problems.append(Problem("error", where, "every USUBJID is blank"))
            elif blank:
                problems.append(Problem("warning", where, f"{blank} rows with a blank USUBJID (listed, not graded "
                                                          "for anyone)"))
        _check_dates(domain, frame, problems)
        _check_flags(domain, frame, problems)
    _check_dm(used.get("dm"), problems)
    _check_ae(used.get("ae"), problems, used.get("dm"))
    _check_supp(used, problems)
    _check_subjects(used, problems)
    unreadable = {f.domain for f in out.files if f.rows is None}
    for domain in sorted(expected - set(used) - unreadable):
        problems.append(Problem("error", domain.upper(), "required domain not found in the study folder"
                                + ("" if domain in NEEDED else " ([data] expected_domains)")))
    if "dm" in used and "ex" not in used:
        dates = [c for c in ("TRTSDT", "TRTSDTM", "RFXSTDTC") if c in used["dm"].columns]
        if dates:
            message = f"no EX domain: the infusion date is taken from DM/ADSL {dates[0]}"
            problems.append(Problem("warning", "EX", message))
        else:
            problems.append(Problem("error", "EX", "no EX domain and DM/ADSL has no TRTSDT or RFXSTDTC: "
                                                   "no infusion date, no population"))


def _check_dates(domain: str, frame: pd.DataFrame, problems: list[Problem]) -> None:
    for column in [c for c in frame.columns if c.endswith("DTC")]:
        values = frame[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        parsed = parse_dtc(values)
        invalid = parsed["precision"].eq("invalid")
        outside = invalid & parsed["reason"].astype(str).str.contains(OUTSIDE, regex=False)
        level = "error" if column in KEY_DATES.get(domain, ()) else "warning"
        for bad, what in ((invalid & ~outside, "are not ISO 8601 dates"),
                          (outside, f"are dates {OUTSIDE}, read as no date (the row is kept)")):
            if bad.any():
                examples = ", ".join(repr(shorten(v)) for v in values[bad].astype(str).unique()[:3])
                problems.append(Problem(level, f"{domain.upper()}.{column}",
                                        f"{int(bad.sum())} values {what} (e.g. {examples})"))


def _check_subjects(used: dict[str, pd.DataFrame], problems: list[Problem]) -> None:
    """Rows of participants DM does not know: an error for AE (their events would be lost or misplaced), a warning
    elsewhere. USUBJID is compared as written, stripped (case matters: SDTM identifiers are exact)."""
    dm = used.get("dm")
    if dm is None or "USUBJID" not in dm.columns:
        return
    known = set(as_text(dm["USUBJID"]).dropna())
    for domain, frame in used.items():
        if domain == "dm" or "USUBJID" not in frame.columns or frame.empty:
            continue
        ids = as_text(frame["USUBJID"])
        orphan = ids.notna() & ~ids.isin(known)
        if orphan.any():
            names = ", ".join(shorten(n) for n in sorted(ids[orphan].unique())[:3])
            level = "error" if domain in ("ae", "suppae") else "warning"
            problems.append(Problem(level, domain.upper(), f"{int(orphan.sum())} rows of participants not in DM "
                                                           f"(e.g. {names}); check the USUBJID spelling"))


def _check_flags(domain: str, frame: pd.DataFrame, problems: list[Problem]) -> None:
    """Y/N flags (CDISC codelist NY: Y, N, U, NA). Anything else is an error; U, NA and blank count as not Y, which
    is said in a warning (for AESER: not serious)."""
    for column in FLAGS.get(domain, ()):
        if column not in frame.columns:
            continue
        values = as_text(frame[column], upper=True).fillna("")
        bad = ~values.isin(["Y", "N", "U", "NA", ""])
        where = f"{domain.upper()}.{column}"
        if bad.any():
            examples = ", ".join(repr(shorten(v)) for v in frame.loc[bad, column].astype(str).unique()[:4])
            problems.append(Problem("error", where, f"{int(bad.sum())} values are not in the CDISC NY codelist "
                                                    f"(Y, N, U, NA), e.g. {examples}"))
        unknown = values.isin(["U", "NA", ""])
        if column != "DTHFL" and unknown.any():  # DTHFL is Y or blank by SDTM rule
            problems.append(Problem("warning", where, f"{int(unknown.sum())} rows blank, U or NA: counted as not Y"))


def _check_dm(dm: pd.DataFrame | None, problems: list[Problem]) -> None:
    """DM holds one record per participant: a USUBJID on several rows is a warning (which row counts is not
    defined, so the population and the counts per participant may be wrong)."""
    if dm is None or "USUBJID" not in dm.columns:
        return
    ids = as_text(dm["USUBJID"])
    twice = ids.notna() & ids.duplicated(keep=False)
    if twice.any():
        names = ", ".join(shorten(n) for n in sorted(ids[twice].unique())[:3])
        problems.append(Problem("warning", "DM", f"{int(twice.sum())} rows share their USUBJID with another DM row "
                                                 f"(e.g. {names}): DM holds one record per participant; check the "
                                                 "delivery"))


def _check_ae(ae: pd.DataFrame | None, problems: list[Problem], dm: pd.DataFrame | None = None) -> None:
    if ae is None:
        return
    keys = [c for c in ("USUBJID", "AESEQ") if c in ae.columns]
    if len(keys) == 2:
        twice = ae.duplicated(keys, keep=False) & ae["AESEQ"].notna()
        if twice.any():
            problems.append(Problem("warning", "AE", f"{int(twice.sum())} rows share USUBJID and AESEQ with another "
                                                     "row: duplicated records are counted twice"))
    fatal = pd.Series(False, index=ae.index)
    for column, value in (("AESDTH", "Y"), ("AEOUT", "FATAL")):
        fatal |= text(ae, column, upper=True).eq(value).fillna(False)
    if dm is not None and fatal.any() and "USUBJID" in dm.columns:
        dead = pd.Series(False, index=dm.index)
        for column in ("DTHFL", "DTHDTC"):
            dead |= text(dm, column, upper=True).ne("N").fillna(False)
        recorded = set(as_text(dm.loc[dead, "USUBJID"]).dropna())
        missing = sorted(set(as_text(ae.loc[fatal, "USUBJID"]).dropna()) - recorded)
        if missing:
            problems.append(Problem("warning", "DM", f"no death recorded (DTHFL, DTHDTC) for {', '.join(missing[:3])}"
                                                     f"{' ...' if len(missing) > 3 else ''} with a fatal AE: the "
                                                     "death is counted from the AE"))
    if "AESEV" in ae.columns and not {"AETOXGR", "ATOXGR"} & set(ae.columns):
        problems.append(Problem("warning", "AE", "no AETOXGR/ATOXGR: grades are taken from AESEV (flagged)"))
    grade = next((c for c in ("AETOXGR", "ATOXGR") if c in ae.columns), None)
    if grade is not None and len(ae):
        blank = int(_blank(ae[grade]).sum())
        if blank:
            source = "taken from AESEV (flagged)" if "AESEV" in ae.columns else "missing"
            problems.append(Problem("warning", "AE", f"{blank} of {len(ae)} rows without {grade}: grade {source}"))
    if not {"AEREL", "AERELLD", "AERELCT"} & set(ae.columns):
        problems.append(Problem("warning", "AE", "no relationship column (AEREL): [relationship] missing_is_related "
                                                 "decides for every AE"))


def _check_supp(used: dict[str, pd.DataFrame], problems: list[Problem]) -> None:
    for name, supp in used.items():
        if not name.startswith("supp") or "QNAM" not in supp.columns:
            continue
        parent = used.get(name[4:])
        if parent is None:
            continue
        clash = sorted(set(supp["QNAM"].dropna().astype(str).str.strip().str.upper()) & set(parent.columns))
        if clash:
            problems.append(Problem("error", name.upper(), f"QNAM {', '.join(clash)} is also a column of "
                                                           f"{name[4:].upper()}; rename one"))
            continue
        if {"IDVAR", "IDVARVAL", "USUBJID"} <= set(supp.columns) and "USUBJID" in parent.columns and len(supp):
            lost = supp_unmatched(parent, supp)
            if len(lost):
                level = "error" if len(lost) == len(supp) else "warning"
                reason = lost["reason"].astype(str).iloc[0]
                problems.append(Problem(level, name.upper(), f"{len(lost)} of {len(supp)} rows match no "
                                                             f"{name[4:].upper()} record (e.g. {reason})"))


def _check_config_against_data(out: Checked, config: Any) -> None:
    ex = out.frames.get("ex")
    if ex is None or "EXTRT" not in ex.columns or ex.empty:
        return
    treatment = as_text(ex["EXTRT"], upper=True)
    given = set(treatment.dropna())
    wanted = set(config.treatment.infusion_extrt)
    if not given & wanted:
        out.problems.append(Problem("error", "treatment.infusion_extrt", f"no EX record has EXTRT "
                                    f"{' or '.join(sorted(wanted))}; EX has {', '.join(sorted(given))}"))
        return
    cutoff = config.study.data_cutoff
    if cutoff is not None and "EXSTDTC" in ex.columns:
        start = parse_dtc(ex.loc[treatment.isin(wanted).fillna(False), "EXSTDTC"])["date"]
        if start.notna().any() and not (start.dropna() <= pd.Timestamp(cutoff)).any():
            out.problems.append(Problem("error", "study.data_cutoff", f"no infusion on or before the data cut-off "
                                        f"{cutoff} (first infusion {start.min().date()}): nothing to report"))
    ld_related = config.relationship.attribution in ("lymphodepletion", "either")
    ae, supp = out.frames.get("ae"), out.frames.get("suppae")
    qnams = set(text(supp, "QNAM", upper=True).dropna()) if supp is not None else set()
    if ld_related and config.treatment.lymphodepletion_extrt and ae is not None and "AERELLD" not in ae.columns \
            and "AERELLD" not in qnams:
        out.problems.append(Problem("warning", "AE", "no AERELLD (relationship to lymphodepletion) in AE or SUPPAE: "
                                                     "not collected, so no AE counts as related to lymphodepletion"))
