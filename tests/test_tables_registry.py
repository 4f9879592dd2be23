"""The table registry (ctcae_engine.tables) is the one source of table identity: IDs, sections and the report."""

from __future__ import annotations

import pytest

from ctcae_engine import tables
from ctcae_engine.demo import DATA_DIR
from ctcae_engine.report.context import build_context
from ctcae_engine.run.pipeline import run_study


@pytest.fixture(scope="module")
def demo():
    return run_study(DATA_DIR, None, strict=True)


def test_ids_are_unique_and_sections_known():
    ids = [output.id for output in tables.REGISTRY]
    assert len(ids) == len(set(ids))
    assert {o.section for o in tables.REGISTRY} <= set(tables.SECTIONS) | {""}


@pytest.mark.slow  # full demo run
def test_every_table_is_stored_under_its_own_id_without_attrs(demo):
    assert demo.tables, "the demo builds tables"
    for key, table in demo.tables.items():
        assert table.id == key and key in tables.DECLARED
        assert "table_id" not in table.frame.attrs  # identity travels in the Table value only


@pytest.mark.slow  # full demo run
def test_every_report_table_of_the_demo_is_in_its_section(demo):
    context = build_context(demo)
    for output in tables.REGISTRY:
        if not output.section or output.kind != "table":
            continue
        codes = [b.get("code") for b in context["sections"][output.section]["blocks"]]
        assert output.id in codes, f"{output.id} missing from section {output.section}"


@pytest.mark.slow  # full demo run
def test_a_missing_domain_gives_its_reason_to_the_outputs_that_need_it(tmp_path):
    for path in DATA_DIR.iterdir():
        if path.stem != "rs":
            (tmp_path / path.name).write_bytes(path.read_bytes())
    results = run_study(tmp_path, None)
    for output_id in ("ORR01", "PFS01", "km_pfs"):
        assert results.unavailable[output_id] == "no RS domain in the study folder"
    assert "ORR01" not in results.tables and "AET01" in results.tables


def test_the_architecture_doc_lists_the_registry_as_it_is():
    """docs/ARCHITECTURE.md's table of IDs is the registry's (regenerate: scripts/document_registry.py)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "document_registry.py"
    spec = importlib.util.spec_from_file_location("document_registry", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.DOC.read_text()
    start, end = module.documented(text)
    assert text[start:end] == module.registry_rows()
