"""Write the registry table of docs/ARCHITECTURE.md ("## Tables and figures") from ctcae_engine.tables.REGISTRY.

Usage: .venv/bin/python scripts/document_registry.py   (tests/test_tables_registry.py checks the docs are current)
"""

from __future__ import annotations

from pathlib import Path

from ctcae_engine import tables

DOC = Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"
HEADER = "| ID | kind | section | title |\n|---|---|---|---|\n"


def registry_rows() -> str:
    return "".join(f"| `{o.id}` | {o.kind} | {o.section or '-'} | {o.title} |\n" for o in tables.REGISTRY)


def documented(text: str) -> tuple[int, int]:
    """Start and end offsets of the registry table's rows in the docs text."""
    start = text.index(HEADER) + len(HEADER)
    end = start
    while text.startswith("|", end):
        end = text.index("\n", end) + 1
    return start, end


def main() -> None:
    text = DOC.read_text()
    start, end = documented(text)
    DOC.write_text(text[:start] + registry_rows() + text[end:])


if __name__ == "__main__":
    main()
