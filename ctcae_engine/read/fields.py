"""Where each fact of a subject-level, exposure, event or assessment record is read: the one room for SDTM / ADaM
column names outside the findings frame (:mod:`ctcae_engine.read.canonical`).

``FIELDS`` is a declarative table: per domain, each field the engine reads and its source columns in order of
preference (SDTM first, then the ADaM name). The analysis modules ask for a field (``AE.text(frame, "serious")``),
never for a column, so a sponsor's ADaM or SDTM layout is mapped here once and a new source name is one entry.
Frames keep the sponsor's columns as given (graded/ae.csv and the listings show them); nothing is copied.
A field that is not declared raises ``KeyError``: a misspelt field fails loudly instead of reading nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ctcae_engine.read import columns

FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "dm": {
        "subject": ("USUBJID",),
        "first_dose": ("RFXSTDTC", "TRTSDT", "TRTSDTM"),
        "last_dose": ("RFXENDTC",),
        "death_date": ("DTHDTC", "DTHDT"),
        "death_flag": ("DTHFL",),
        "safety_flag": ("SAFFL",),
        "arm": ("ACTARM", "ARM", "TRT01A"),
        "first_dose_time": ("TRTSDTM",),
        "treatment_end": ("TRTEDT", "TRTEDTM"),
        "end_of_participation": ("RFPENDTC", "EOSDT"),
    },
    "ds": {  # disposition events: completion, discontinuation, death (the swimmer plot's bar ends)
        "subject": ("usubjid", "USUBJID"),
        "category": ("DSCAT",),
        "decoded": ("DSDECOD",),
        "start": ("DSSTDTC", "ASTDT"),
    },
    "ex": {
        "subject": ("USUBJID",),
        "treatment": ("EXTRT",),
        "start": ("EXSTDTC", "ASTDT"),
        "end": ("EXENDTC", "AENDT"),
        "dose_dates": ("EXSTDTC", "EXENDTC", "ASTDT", "AENDT"),  # every present one: last known alive
        "dose": ("EXDOSE",),
        "dose_unit": ("EXDOSU",),
    },
    "ae": {
        "subject": ("usubjid", "USUBJID"),
        "verbatim": ("AETERM",),
        "decoded": ("AEDECOD",),
        "body_system": ("AEBODSYS", "AESOC"),
        "llt_code": ("AELLTCD",),
        "pt_code": ("AEPTCD",),
        "start": ("AESTDTC", "ASTDTC"),
        "end": ("AEENDTC", "AENDTC"),
        "analysis_start": ("ASTDT",),
        "analysis_start_flag": ("ASTDTF",),
        "analysis_start_time": ("ASTDTM",),
        "emergent_flag": ("TRTEMFL",),
        "reported_grade": ("AETOXGR", "ATOXGR"),
        "severity": ("AESEV",),
        "related": ("AEREL", "AREL"),
        "related_ld": ("AERELLD",),
        "serious": ("AESER",),
        "death": ("AESDTH",),
        "outcome": ("AEOUT",),
    },
    "rs": {
        "subject": ("usubjid", "USUBJID"),
        "test": ("RSTESTCD", "PARAMCD"),
        "parameter": ("PARAMCD", "RSTESTCD"),  # ADaM first: the sponsor's BOR parameter of ADRS
        "analysis_flag": ("ANL01FL",),
        "evaluator": ("RSEVAL",),
        "date": ("RSDTC", "ADT"),
        "response": ("RSSTRESC", "AVALC"),
    },
    "pc": {
        "subject": ("usubjid", "USUBJID"),
        "test": ("PCTESTCD", "PARAMCD"),
        "result_text": ("PCSTRESC", "PCORRES", "AVALC"),
        "result": ("PCSTRESN", "AVAL"),
        "lloq": ("PCLLOQ",),
        "date": ("PCDTC", "ADT"),
    },
    "supp": {  # supplemental qualifiers (SUPP--) that matched no parent record
        "subject": ("USUBJID",),
    },
    "labs": {  # lab findings read outside the grader: the screening labs, ADaM ADLB carrying sponsor grades
        "subject": ("usubjid", "USUBJID"),
        "test": ("LBTESTCD", "PARAMCD"),
        "parameter": ("PARAMCD",),
        "derivation": ("DTYPE",),
        "date": ("ADT", "ADTM", "LBDTC"),
        "baseline_flag": ("ABLFL",),
        "grade": ("ATOXGR",),
        "grade_low": ("ATOXGRL",),
        "grade_high": ("ATOXGRH",),
        "term_low": ("ATOXDSCL",),
        "term_high": ("ATOXDSCH",),
        "value": ("AVAL",),
        "date_text": ("ADT", "ADTM", "LBDTC"),
    },
    "new_therapy": {  # subsequent anticancer therapy records: an NACT-like dataset, CM or PR
        "subject": ("usubjid", "USUBJID"),
        "start": ("NACTDT", "CMSTDTC", "PRSTDTC", "ASTDT"),
    },
}
"""Per domain, field -> source columns in order of preference (the first present one is read)."""


@dataclass(frozen=True)
class Domain:
    """The fields of one domain (``FIELDS[name]``), read from a frame of that domain."""

    name: str

    def sources(self, field: str) -> tuple[str, ...]:
        """The source columns of ``field``, in order of preference (``KeyError`` for an undeclared field)."""
        try:
            return FIELDS[self.name][field]
        except KeyError:
            raise KeyError(f"{self.name.upper()} has no field {field!r}; declared: "
                           f"{sorted(FIELDS[self.name])}") from None

    def column(self, frame: pd.DataFrame, field: str) -> str | None:
        """The column of ``frame`` that holds ``field`` (exact name, then upper case), or None."""
        return columns.pick(frame, *self.sources(field))

    def present(self, frame: pd.DataFrame, field: str) -> list[str]:
        """Every source column of ``field`` that ``frame`` has, in order of preference."""
        return [name for name in self.sources(field) if columns.pick(frame, name) is not None]

    def text(self, frame: pd.DataFrame, field: str, *, upper: bool = False) -> pd.Series:
        """``field`` as stripped text, blank -> missing (all missing when absent); see :func:`columns.text`."""
        return columns.text(frame, *self.sources(field), upper=upper)

    def raw(self, frame: pd.DataFrame, field: str) -> pd.Series:
        """``field`` as text exactly as given (for listings); see :func:`columns.raw`."""
        return columns.raw(frame, *self.sources(field))

    def subjects(self, frame: pd.DataFrame) -> pd.Series:
        """The participant of each row, stripped (``"P01"`` and ``"P01 "`` are one participant); ``ValueError``
        naming the domain when the frame has no participant column."""
        column = self.column(frame, "subject")
        if column is None:
            raise ValueError(f"{self.name.upper()} has no USUBJID column")
        return frame[column].astype("string").str.strip()


DM = Domain("dm")
EX = Domain("ex")
AE = Domain("ae")
RS = Domain("rs")
PC = Domain("pc")
DS = Domain("ds")
NEW_THERAPY = Domain("new_therapy")
SUPP = Domain("supp")
LABS = Domain("labs")
