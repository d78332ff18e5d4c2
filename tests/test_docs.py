"""The generated catalogue reference in docs/ is current."""

from pathlib import Path

from graphs.reference import markdown

ROOT = Path(__file__).resolve().parents[1]


def test_catalogue_reference_is_current():
    assert (ROOT / "docs" / "catalogue.md").read_text() == markdown(), \
        "regenerate with: python -m graphs.reference > docs/catalogue.md"
