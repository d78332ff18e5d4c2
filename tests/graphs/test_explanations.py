"""Every node type, optimiser and schedule carries an explanation with all four fields filled in."""

import pytest

from graphs.catalogue import CATALOGUE
from graphs.explanations import (
    EXPLANATIONS,
    OPTIMIZER_NAMES,
    SCHEDULE_NAMES,
    Explanation,
    explain,
    explain_optimizer,
    explain_schedule,
)


def _complete(explanation: Explanation | None) -> None:
    assert explanation is not None
    for heading, text in explanation.fields():
        assert text.strip(), heading
    sentences = explanation.what.count(". ") + 1
    assert 1 <= sentences <= 4, explanation.what
    assert len(explanation.formula) < 200


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_catalogue_type_is_explained(name):
    _complete(CATALOGUE[name].explanation)
    assert CATALOGUE[name].explanation is explain(name)


def test_no_explanation_for_a_type_that_does_not_exist():
    assert set(EXPLANATIONS) == set(CATALOGUE)
    assert explain("NoSuchLayer") is None


@pytest.mark.parametrize("name", [*OPTIMIZER_NAMES, "adam"])
def test_every_optimizer_is_explained(name):
    _complete(explain_optimizer(name))


@pytest.mark.parametrize("name", [*SCHEDULE_NAMES, "none", None, "Cosine"])
def test_every_schedule_is_explained(name):
    _complete(explain_schedule(name))


def test_names_match_the_engine():
    optim = pytest.importorskip("engine.training.optim")
    assert set(OPTIMIZER_NAMES) == set(optim.OPTIMIZERS)
    assert set(SCHEDULE_NAMES) == set(optim.SCHEDULES)


def test_formulas_name_the_right_params():
    """Spot checks: an explanation of a type with params speaks of the same params as torch."""
    assert "negative_slope" in explain("LeakyReLU").formula
    assert "beta" in explain("Softplus").formula
    assert "delta" in explain("HuberLoss").formula
    assert "max(0, x)" in explain("ReLU").formula


def test_html_is_escaped():
    text = Explanation("a < b", "x & y", "w", "m").to_html()
    assert "a &lt; b" in text and "x &amp; y" in text
