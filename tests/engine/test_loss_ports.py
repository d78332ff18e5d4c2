"""Losses on ports other than one model output and one Target: each port takes a model output or a Target,
an open optional target is zeros (a regulariser), and `loss_weight` weights each loss in the sum the trainer
minimises. Every value is checked against torch itself; the shape rules are in test_shape_property.py."""

import pytest
import torch
import torch.nn.functional as F

from engine.compiler import CompileError, compile_graph
from engine.export import export_onnx, prepare_model, verify_onnx
from engine.export.python_code import export_python, verify_python
from engine.shapes import infer
from graphs import Graph
from graphs.errors import LossInputError

NEW_LOSSES = ("KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
              "TripletMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "SoftMarginLoss", "CTCLoss")


def weighted_losses_graph() -> Graph:
    """A reconstruction against a Target, a Gaussian likelihood of model outputs only, and a regulariser on the
    input alone (L1Loss with its target open: the sum of the absolute values), each with its weight."""
    g = Graph()
    g.add_node("Input", {"shape": [8]}, "x")
    g.add_node("Linear", {"out_features": 3}, "mu")
    g.add_node("Linear", {"out_features": 3}, "logvar")
    g.add_node("Linear", {"out_features": 8}, "decoder")
    g.add_node("Target", {"shape": [8], "dtype": "float32"}, "y")
    g.add_node("MSELoss", {"reduction": "sum"}, "reconstruction")
    g.add_node("GaussianNLLLoss", {"loss_weight": 0.25}, "likelihood")
    g.add_node("Sigmoid", {}, "var")
    g.add_node("L1Loss", {"reduction": "sum", "loss_weight": 0.5}, "kl")
    for a, b in (("x", "mu"), ("x", "logvar"), ("mu", "decoder"), ("logvar", "var")):
        g.connect(a, b)
    g.connect("decoder", "reconstruction", target_port="input")
    g.connect("y", "reconstruction", target_port="target")
    g.connect("mu", "likelihood", target_port="input")
    g.connect("x", "kl", target_port="input")
    g.add_node("Linear", {"out_features": 3}, "target_mu")
    g.connect("x", "target_mu")
    g.connect("target_mu", "likelihood", target_port="target")
    g.connect("var", "likelihood", target_port="var")
    return g


def test_the_weighted_sum_of_losses_on_model_outputs_and_targets_equals_torch():
    compiled = compile_graph(weighted_losses_graph())
    assert compiled.targets == ["y"]
    assert {spec.node_id: spec.weight for spec in compiled.losses} == {
        "reconstruction": 1.0, "likelihood": 0.25, "kl": 0.5}
    torch.manual_seed(0)
    x, y = torch.randn(4, 8), torch.randn(4, 8)
    outputs = compiled.model(x)
    named = dict(zip(compiled.outputs, outputs))
    m = compiled.model
    expected = (F.mse_loss(m.decoder(m.mu(x)), y, reduction="sum")
                + 0.25 * F.gaussian_nll_loss(m.mu(x), m.target_mu(x), torch.sigmoid(m.logvar(x)))
                + 0.5 * x.abs().sum())
    assert set(named) == {"decoder", "mu", "target_mu", "var", "x"}
    assert torch.allclose(compiled.compute_loss(outputs, {"y": y}), expected)


def test_a_loss_of_model_outputs_only_needs_no_target():
    g = Graph()
    g.add_node("Input", {"shape": [5]}, "x")
    g.add_node("TripletMarginLoss", {"margin": 0.5}, "triplet")
    for name in ("anchor", "positive", "negative"):
        g.add_node("Linear", {"out_features": 4}, name)
        g.connect("x", name)
        g.connect(name, "triplet", target_port=name)
    assert infer(g).valid
    compiled = compile_graph(g)
    assert compiled.targets == [] and compiled.losses[0].target is None
    x = torch.randn(3, 5)
    outputs = compiled.model(x)
    m = compiled.model
    expected = F.triplet_margin_loss(m.anchor(x), m.positive(x), m.negative(x), margin=0.5)
    assert torch.allclose(compiled.compute_loss(outputs, {}), expected)


def test_kl_divergence_between_two_model_outputs_equals_torch():
    g = Graph()
    g.add_node("Input", {"shape": [6]}, "x")
    g.add_node("LogSoftmax", {}, "student")
    g.add_node("Softmax", {}, "teacher")
    g.add_node("KLDivLoss", {"reduction": "batchmean"}, "kl")
    g.connect("x", "student")
    g.add_node("Linear", {"out_features": 6}, "head")
    g.connect("x", "head")
    g.connect("head", "teacher")
    g.connect("student", "kl", target_port="input")
    g.connect("teacher", "kl", target_port="target")
    compiled = compile_graph(g)
    x = torch.randn(4, 6)
    expected = F.kl_div(x.log_softmax(-1), compiled.model.head(x).softmax(-1), reduction="batchmean")
    assert torch.allclose(compiled.compute_loss(compiled.model(x), {}), expected)


def test_ctc_takes_batch_first_log_probabilities_and_targets_padded_with_blank():
    g = Graph()
    g.add_node("Input", {"shape": [7, 5]}, "x")
    g.add_node("LogSoftmax", {}, "log_probs")
    g.add_node("Target", {"shape": [3], "dtype": "int64"}, "labels")
    g.add_node("CTCLoss", {"blank": 0, "reduction": "sum"}, "ctc")
    g.connect("x", "log_probs")
    g.connect("log_probs", "ctc", target_port="log_probs")
    g.connect("labels", "ctc", target_port="targets")
    compiled = compile_graph(g)
    x = torch.randn(2, 7, 5)
    labels = torch.tensor([[1, 2, 0], [4, 4, 3]])  # the first has 2 labels, padded with the blank
    expected = F.ctc_loss(x.log_softmax(-1).transpose(0, 1), labels, [7, 7], [2, 3], reduction="sum")
    assert torch.allclose(compiled.compute_loss(compiled.model(x), {"labels": labels}), expected)


def test_a_missing_required_port_is_named_and_an_open_optional_target_is_not():
    g = Graph()
    g.add_node("Input", {"shape": [4]}, "x")
    g.add_node("GaussianNLLLoss", {}, "nll")
    g.add_node("MSELoss", {}, "l2")
    g.connect("x", "nll", target_port="input")
    g.connect("x", "l2", target_port="input")
    errors = infer(g).errors
    assert {(e.node, e.port) for e in errors} == {("nll", "target"), ("nll", "var")}
    assert all(isinstance(e, LossInputError) for e in errors)
    assert "GaussianNLLLoss 'nll' has no 'var' input: wire one to its 'var' port" in [e.message for e in errors]


def test_a_loss_fed_by_targets_alone_is_refused_naming_it():
    g = Graph()
    g.add_node("Input", {"shape": [4]}, "x")
    g.add_node("Linear", {"out_features": 4}, "fc")
    g.add_node("Target", {"shape": [4], "dtype": "float32"}, "a")
    g.add_node("Target", {"shape": [4], "dtype": "float32"}, "b")
    g.add_node("SoftMarginLoss", {}, "loss")
    g.connect("x", "fc")
    g.connect("a", "loss", target_port="input")
    g.connect("b", "loss", target_port="target")
    with pytest.raises(CompileError) as refused:
        compile_graph(g)
    assert refused.value.errors[0].node == "loss" and "takes no model output" in str(refused.value)


def test_a_model_with_new_losses_exports_its_outputs_to_onnx_and_python(tmp_path):
    graph = weighted_losses_graph()
    compiled = prepare_model(graph, seed=0)
    assert export_onnx(compiled, tmp_path / "model.onnx").fallback_reason == ""
    assert verify_onnx(compiled, tmp_path / "model.onnx", batch=3, seed=1) < 1e-5
    path = export_python(compiled, graph, tmp_path / "model.py")
    assert verify_python(compiled, path) == 0.0


def test_the_palette_and_the_inspector_offer_them(qtbot):
    from graphs.catalogue import CATALOGUE
    from gui.palette import Palette
    from gui.param_widgets import make_editor

    palette = Palette()
    qtbot.addWidget(palette)
    for type_name in NEW_LOSSES:
        assert palette.item(type_name).parent().text(0) == "Losses"
        assert CATALOGUE[type_name].doc
        for spec in CATALOGUE[type_name].params:
            editor = make_editor(spec)
            qtbot.addWidget(editor)


def test_the_trainer_minimises_the_weighted_sum(tmp_path):
    """A sparse autoencoder: the digits autoencoder plus an L1 penalty on its code (L1Loss, target open). With
    loss_weight 0 the run equals the plain autoencoder's; with a weight it differs."""
    from engine.training import Trainer, read_weights
    from graphs.project import load_project

    def train(weight):
        project = load_project("resources/examples/digits_autoencoder.json")
        if weight is not None:
            project.graph.add_node("L1Loss", {"reduction": "sum", "loss_weight": weight}, "sparsity")
            project.graph.connect("act1", "sparsity", target_port="input")
        project.training["epochs"] = 1
        result = Trainer(project, out_dir=tmp_path / f"run{weight}", max_batches=3).run()
        assert result.status == "finished"
        return result.history[-1]["train_loss"], read_weights(result.weights)["enc.weight"]

    plain, zero, weighted = train(None), train(0.0), train(0.5)
    assert plain[0] == zero[0] and torch.equal(plain[1], zero[1])
    assert weighted[0] > plain[0] and not torch.equal(weighted[1], plain[1])


def test_a_value_a_loss_refuses_when_it_runs_is_a_user_error_naming_the_loss():
    from engine.errors import UserError

    g = Graph()
    g.add_node("Input", {"shape": [4]}, "x")
    g.add_node("Target", {"shape": [4], "dtype": "float32"}, "y")
    g.add_node("GaussianNLLLoss", {}, "nll")
    g.connect("x", "nll", target_port="input")
    g.connect("y", "nll", target_port="target")
    g.connect("x", "nll", target_port="var")
    compiled = compile_graph(g)
    x = -torch.rand(2, 4) - 0.1  # a negative variance
    with pytest.raises(UserError) as refused:
        compiled.compute_loss(compiled.model(x), {"y": torch.zeros(2, 4)})
    assert "GaussianNLLLoss 'nll' cannot be computed" in str(refused.value) and "Softplus" in str(refused.value)


def test_a_multi_class_hinge_loss_reports_accuracy_and_checks_the_class_count():
    from engine.training.metrics import ClassAccuracy, metric_for

    assert isinstance(metric_for(torch.nn.MultiMarginLoss()), ClassAccuracy)
