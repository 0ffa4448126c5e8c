"""The README is for users: short, and its results table is the one the bench summaries make."""

from pathlib import Path

from foreman.bench.results import SHIPPED_RESULTS, headline, read_results, report

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_stays_under_10_kb_with_every_recipe_in_a_heading():
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) <= 10_000
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    for recipe in ("Give the agent a task", "Teach the agent a new skill", "Use another language model"):
        assert f"## {recipe}" in headings
    assert "## Study a trace" in headings and "## Evaluate and compare" in headings


def test_the_readme_table_and_results_page_are_generated_from_the_result_files():
    results = read_results(SHIPPED_RESULTS)
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- results:begin -->\n")[1].split("<!-- results:end -->")[0]
    assert block.strip() == headline(results).strip()
    assert (ROOT / "bench" / "RESULTS.md").read_text() == report(results)
    assert all("per_episode" not in r.summary for r in results.values())
