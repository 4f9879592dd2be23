"""Words for the reader: collected codes (the XC vocabulary of docs/ARCHITECTURE.md) in words and ">=" / "<=" as
the signs. Applied to the report's text only (titles, headers, notes, text cells); the tables/*.csv of the run
folder and the context's raw values keep the codes as the engine wrote them."""

from __future__ import annotations

import re

# XC values as collected -> what they mean (ASTCT 2019, Lee et al.; docs/ARCHITECTURE.md, XC)
CODE_WORDS: dict[str, str] = {
    "NO_VASOPRESSOR": "not needing vasopressors",
    "ONE_VASOPRESSOR": "needing one vasopressor",
    "MULTI_VASOPRESSOR": "needing several vasopressors",
    "LOW_FLOW": "needing low-flow oxygen",
    "HIGH_FLOW": "needing high-flow oxygen",
    "POSITIVE_PRESSURE": "needing positive-pressure ventilation",
    "AWAKENS_SPONTANEOUSLY": "awakens spontaneously",
    "AWAKENS_VOICE": "awakens to voice",
    "AWAKENS_TACTILE": "awakens only to tactile stimulus",
    "UNAROUSABLE": "unarousable",
    "DEEP_FOCAL_WEAKNESS": "deep focal motor weakness",
    "FOCAL_EDEMA": "focal edema",
    "DIFFUSE_EDEMA": "diffuse cerebral edema",
}
SEIZURE_WORDS = {"RESOLVED": "resolving rapidly", "PROLONGED": "prolonged (> 5 min) or repetitive"}

_CODE = re.compile(r"\b(" + "|".join(sorted(CODE_WORDS, key=len, reverse=True)) + r")\b")
_SEIZURE = re.compile(r"\bseizure (RESOLVED|PROLONGED)\b")
_SIGNS = (("&ge;", "\u2265"), (">=", "\u2265"), ("<=", "\u2264"))


def for_reading(text: str) -> str:
    """``text`` with the XC codes in words and the comparison signs (">= 3" -> "≥ 3")."""
    if not text:
        return text
    text = _CODE.sub(lambda m: CODE_WORDS[m.group(1)], text)
    text = _SEIZURE.sub(lambda m: "seizure " + SEIZURE_WORDS[m.group(1)], text)
    for old, new in _SIGNS:
        text = text.replace(old, new)
    return text
