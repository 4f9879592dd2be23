"""Tables as RTF 1.x, the format TLF reviewers open in Word: one file per table of the registry.

Each file: landscape US Letter, Courier New 8 pt; a page header on every page (study, table ID and title, "Page n
of N"); the title centred and bold; the table with its header row repeated on every page (``\\trhdr``), one header
row per level of the column labels; the table's note and a source line as footnotes under the table. Cells are the
same texts as ``tables/<ID>.csv`` (missing: empty; the CSV's spreadsheet guard, a quote before a leading ``=``, is
not needed in RTF). Written by hand (a small, valid subset of RTF 1.9.1):
rtflite, the maintained Python RTF composer, brings polars as a dependency for what is here a hundred lines.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 15840, 12240, 720  # twips (1/1440 inch): US Letter landscape, 0.5 inch margins
FONT_SIZE = 16  # half-points: 8 pt


def escape(text: object) -> str:
    """RTF text of a value: ``\\``, ``{``, ``}`` escaped, line breaks as ``\\line``, non-ASCII as ``\\uN?``."""
    out = []
    for char in str(text):
        code = ord(char)
        if char in "\\{}":
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\line ")
        elif char in "\r\t":
            out.append(" ")
        elif code < 128:
            out.append(char)
        else:
            for unit in char.encode("utf-16-le").hex(" ", 2).split():  # UTF-16 code units, signed 16-bit
                value = int.from_bytes(bytes.fromhex(unit), "little")
                out.append(f"\\u{value - 65536 if value > 32767 else value}?")
    return "".join(out)


def cell_text(value: object) -> str:
    """A cell as the CSV shows it: missing is empty, anything else its text."""
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return str(value)


def column_texts(values: pd.Series) -> list[str]:
    """The cells of a column as ``DataFrame.to_csv`` writes them: dates without a time when every value is at
    midnight (as pandas does), else the cell's text."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        present = values.dropna()
        fmt = "%Y-%m-%d" if (present == present.dt.normalize()).all() else "%Y-%m-%d %H:%M:%S"
        return values.dt.strftime(fmt).fillna("").tolist()
    return [cell_text(v) for v in values.astype(object)]


def _header_rows(frame: pd.DataFrame) -> list[list[str]]:
    columns = frame.columns
    if isinstance(columns, pd.MultiIndex):
        return [[cell_text(v) for v in columns.get_level_values(level)] for level in range(columns.nlevels)]
    return [[cell_text(c) for c in columns]]


def _widths(rows: list[list[str]], n: int) -> list[int]:
    """Right edges of the columns (twips), shared out by the longest text of each column (capped at 40)."""
    usable = PAGE_WIDTH - 2 * MARGIN
    if n == 0:
        return []
    weights = [max([min(len(r[i]), 40) for r in rows] + [4]) for i in range(n)]
    total = sum(weights)
    edges, edge = [], 0
    for weight in weights:
        edge += round(usable * weight / total)
        edges.append(edge)
    edges[-1] = usable
    return edges


def _row(cells: list[str], edges: list[int], header: bool) -> str:
    border = "\\clbrdrt\\brdrs\\brdrw10\\clbrdrb\\brdrs\\brdrw10" if header else ""
    head = "\\trowd\\trgaph60\\trleft0" + ("\\trhdr" if header else "")
    spec = "".join(f"{border}\\cellx{e}" for e in edges)
    bold, plain = ("\\b ", "\\b0") if header else ("", "")
    body = "".join(f"\\pard\\intbl\\ql {bold}{escape(c)}{plain}\\cell " for c in cells)
    return f"{head}{spec}\n{body}\\row\n"


def table_rtf(title: str, frame: pd.DataFrame, table_id: str = "", note: str = "", study: str = "",
              source: str = "", empty: str = "No rows.") -> str:
    """The RTF document of one table."""
    headers = _header_rows(frame)
    columns = [column_texts(frame.iloc[:, i]) for i in range(frame.shape[1])]
    body = [list(row) for row in zip(*columns, strict=True)] if columns else []
    n = len(headers[0]) if headers else 0
    edges = _widths(headers + body, n)
    heading = " - ".join(p for p in (study, table_id) if p)
    parts = [
        "{\\rtf1\\ansi\\ansicpg1252\\uc1\\deff0\n",
        "{\\fonttbl{\\f0\\fmodern\\fcharset0 Courier New;}}\n",
        f"\\paperw{PAGE_WIDTH}\\paperh{PAGE_HEIGHT}\\landscape\\margl{MARGIN}\\margr{MARGIN}"
        f"\\margt{MARGIN * 2}\\margb{MARGIN}\\headery{MARGIN}\n",
        f"\\f0\\fs{FONT_SIZE}\n",
        f"{{\\header\\pard\\ql\\f0\\fs{FONT_SIZE} {escape(heading)}\\tab\\tab "
        "Page {\\field{\\*\\fldinst PAGE}{\\fldrslt 1}} of {\\field{\\*\\fldinst NUMPAGES}{\\fldrslt 1}}\\par}\n",
        f"\\pard\\qc\\b {escape(title)}\\b0\\par\\pard\\par\n",
    ]
    if n:
        parts += [_row(r, edges, header=True) for r in headers]
        parts += [_row(r, edges, header=False) for r in body]
    if not body:
        parts.append(f"\\pard\\ql {escape(empty)}\\par\n")
    parts.append("\\pard\\par\n")
    for line in [t for t in (note, source) if t]:
        parts.append(f"\\pard\\ql\\fs{FONT_SIZE - 2} {escape(line)}\\fs{FONT_SIZE}\\par\n")
    parts.append("}\n")
    return "".join(parts)


def write_table_rtf(path: str | Path, title: str, frame: pd.DataFrame, **texts: str) -> Path:
    """Write :func:`table_rtf` to ``path`` (ASCII: every other character is escaped)."""
    Path(path).write_text(table_rtf(title, frame, **texts), encoding="ascii")
    return Path(path)
