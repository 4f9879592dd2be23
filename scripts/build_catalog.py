"""Rebuild the packaged CTCAE catalogs from the raw NCI exports in ../shared/ctcae.

Run once by a maintainer (never at run time):  python scripts/build_catalog.py [SHARED_CTCAE_DIR]

Normalisation, and nothing more:
- headers renamed to stable snake_case names (the raw headers carry NBSP / encoding damage);
- every cell stripped of leading/trailing whitespace, NBSP replaced by a plain space;
- a grade cell that is "-" or empty means "no such grade" and is written as an empty cell;
- the text itself (including NCI's own typos and double spaces) is left as published.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "ctcae_terms" / "catalog"
COLUMNS = ["meddra_code", "soc", "term", "grade_1", "grade_2", "grade_3", "grade_4", "grade_5", "definition"]

SOURCES = {
    # output name: (raw file, encoding, number of leading raw columns mapped to COLUMNS, extra columns)
    "ctcae_v4.03.csv": ("CTCAE_4.03.csv", "ascii", {}),
    "ctcae_v5.0.csv": ("CTCAE_v5.0.csv", "utf-8-sig", {9: "navigational_note"}),
}


def clean(cell: str) -> str:
    text = cell.replace("\xa0", " ").replace("\r\n", "\n").strip()
    return "" if text == "-" else text


def convert(raw: Path, encoding: str, extra: dict[int, str]) -> list[list[str]]:
    with raw.open(newline="", encoding=encoding) as handle:
        rows = list(csv.reader(handle))
    body = rows[1:]
    out = [COLUMNS + list(extra.values())]
    for row in body:
        cells = [clean(c) for c in row]
        out.append(cells[: len(COLUMNS)] + [cells[i] for i in extra])
    return out


def main(shared: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (raw, encoding, extra) in SOURCES.items():
        rows = convert(shared / raw, encoding, extra)
        with (OUT / name).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)
        print(f"{name}: {len(rows) - 1} terms")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "ctcae")
