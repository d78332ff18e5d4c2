"""engine.function_plot: curves of activations (with derivatives) and losses, from the node's own params."""

import math

import numpy as np
import pytest
import torch

from engine.errors import UserError
from engine.function_plot import function_curves, plottable
from graphs.catalogue import CATALOGUE


def _at(curves, x):
    return float(np.interp(x, curves.x, curves.y)), float(np.interp(x, curves.x, curves.dy))


def test_relu_and_its_derivative():
    curves = function_curves("ReLU", {})
    assert _at(curves, -2.0) == (0.0, 0.0)
    assert _at(curves, 2.0) == pytest.approx((2.0, 1.0))
    assert curves.x.shape == curves.y.shape == curves.dy.shape


def test_the_nodes_params_shape_the_curve():
    y, dy = _at(function_curves("LeakyReLU", {"negative_slope": 0.3}), -2.0)
    assert (y, dy) == pytest.approx((-0.6, 0.3))
    sharp, soft = function_curves("Softplus", {"beta": 5.0}), function_curves("Softplus", {"beta": 0.5})
    assert _at(sharp, 0.0)[0] == pytest.approx(math.log(2) / 5)
    assert _at(soft, 0.0)[0] == pytest.approx(math.log(2) / 0.5)
    y, _ = _at(function_curves("Hardtanh", {"min_val": -0.5, "max_val": 2.0}), 3.0)
    assert y == pytest.approx(2.0)


def test_derivative_matches_the_formula():
    curves = function_curves("Sigmoid", {})
    sig = 1 / (1 + np.exp(-curves.x))
    np.testing.assert_allclose(curves.y, sig, atol=1e-9)
    np.testing.assert_allclose(curves.dy, sig * (1 - sig), atol=1e-9)


def test_losses_against_the_prediction():
    mse = function_curves("MSELoss", {})
    np.testing.assert_allclose(mse.y, mse.x ** 2, atol=1e-9)
    np.testing.assert_allclose(mse.dy, 2 * mse.x, atol=1e-9)
    huber = function_curves("HuberLoss", {"delta": 0.5})
    assert _at(huber, 2.0)[0] == pytest.approx(0.5 * (2.0 - 0.25))
    ce = function_curves("CrossEntropyLoss", {})
    assert _at(ce, 0.0)[0] == pytest.approx(math.log(3))
    assert np.all(np.diff(ce.y) < 0), "more logit for the right class always lowers cross-entropy"
    smoothed = function_curves("CrossEntropyLoss", {"label_smoothing": 0.3})
    assert np.diff(smoothed.y)[-1] > 0, "label smoothing punishes over-confident logits"


def test_reduction_and_loss_weight_do_not_change_the_curve():
    plain = function_curves("L1Loss", {})
    summed = function_curves("L1Loss", {"reduction": "sum", "loss_weight": 3.0})
    np.testing.assert_allclose(plain.y, summed.y)


@pytest.mark.parametrize("name", sorted(n for n, t in CATALOGUE.items() if t.category in ("Activations", "Losses")))
def test_every_plottable_type_gives_finite_curves(name):
    torch.set_num_threads(1)
    if not plottable(name):
        with pytest.raises(UserError):
            function_curves(name, {})
        return
    curves = function_curves(name, {})
    assert np.all(np.isfinite(curves.y)) and np.all(np.isfinite(curves.dy))
    assert np.ptp(curves.y) > 0


def test_every_plain_activation_is_plottable():
    missing = [n for n, t in CATALOGUE.items() if t.category == "Activations" and not plottable(n)]
    assert missing == ["GLU"]
    assert not plottable("Conv2d") and not plottable("NoSuchType")


def test_bad_params_are_a_user_error():
    with pytest.raises(UserError, match="negative_slope"):
        function_curves("LeakyReLU", {"negative_slope": "steep"})
    with pytest.raises(UserError, match="CELU"):
        function_curves("CELU", {"alpha": 0.0})
