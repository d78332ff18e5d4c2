"""Activations overwrite their input only where that is safe, and training is unchanged by it."""

from __future__ import annotations

import copy

import torch
from torch import nn

from engine.compiler import compile_graph
from engine.inplace import without_inplace
from graphs.document import Graph


def residual_graph() -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [3, 8, 8]}, "x")
    g.add_node("Conv2d", {"out_channels": 3, "kernel_size": 3, "padding": 1}, "conv")
    g.add_node("BatchNorm2d", {}, "bn")
    g.add_node("ReLU", {}, "act")  # BN -> ReLU: may overwrite
    g.add_node("Add", {}, "add")
    g.add_node("ReLU", {}, "out_act")  # Add -> ReLU: may overwrite
    g.add_node("ReLU", {}, "skip_act")  # reads x, which the Add reads too: must not
    g.add_node("Sigmoid", {}, "gate")
    g.add_node("ReLU", {}, "after_sigmoid")  # Sigmoid needs its output for backward: must not
    for source, target, port in [("x", "conv", "in"), ("conv", "bn", "in"), ("bn", "act", "in"),
                                 ("act", "add", "in0"), ("x", "add", "in1"), ("add", "out_act", "in"),
                                 ("x", "skip_act", "in"), ("out_act", "gate", "in"), ("gate", "after_sigmoid", "in")]:
        g.connect(source, target, target_port=port)
    return g


def test_only_safe_activations_overwrite_their_input():
    model = compile_graph(residual_graph()).model
    inplace = {name: module.inplace for name, module in model.named_modules() if isinstance(module, nn.ReLU)}
    assert inplace == {"act": True, "out_act": True, "skip_act": False, "after_sigmoid": False}


def test_in_place_training_gives_the_same_outputs_and_gradients():
    model = compile_graph(residual_graph()).model
    plain = copy.deepcopy(model)
    for name, module in list(plain.named_modules()):
        if getattr(module, "inplace", False):
            setattr(plain, name, without_inplace(module))
    plain.recompile()
    x = torch.randn(4, 3, 8, 8)
    results = []
    for m in (model, plain):
        m.train()
        outputs = m(x.clone())
        sum(o.square().sum() for o in outputs).backward()
        results.append(([o.detach() for o in outputs], [p.grad.clone() for p in m.parameters()]))
    (out_a, grad_a), (out_b, grad_b) = results
    assert all(torch.equal(a, b) for a, b in zip(out_a, out_b))
    assert all(torch.allclose(a, b) for a, b in zip(grad_a, grad_b))
    assert not any(getattr(m, "inplace", False) for m in plain.modules())
