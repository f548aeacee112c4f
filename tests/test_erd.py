"""docs/erd-v1.md and docs/erd-v2.md are exactly what `flask erd` generates from the models."""

from pathlib import Path

from shop.erd import render_erd_documents
from shop.models import WEEK1_TABLES

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_committed_erds_match_the_models():
    for filename, content in render_erd_documents().items():
        assert (DOCS / filename).read_text() == content, f"{filename} is stale: run `flask erd`"


def test_erd_v1_has_only_week1_tables_and_v2_has_all():
    documents = render_erd_documents()
    v1, v2 = documents["erd-v1.md"], documents["erd-v2.md"]
    for table in WEEK1_TABLES:
        assert f"    {table} {{" in v1 and f"    {table} {{" in v2
    for table in ("cart", "cart_item", "customer_order", "order_item", "ticket"):
        assert f"    {table} {{" not in v1 and f"    {table} {{" in v2


def test_erd_check_command_fails_when_docs_are_stale(runner, tmp_path, monkeypatch):
    assert runner.invoke(args=["erd", "--check"]).exit_code == 0
    original = (DOCS / "erd-v1.md").read_text()
    try:
        (DOCS / "erd-v1.md").write_text(original + "\nedited by hand\n")
        result = runner.invoke(args=["erd", "--check"])
        assert result.exit_code == 1
        assert "erd-v1.md" in result.output
    finally:
        (DOCS / "erd-v1.md").write_text(original)
