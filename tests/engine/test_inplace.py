"""Activations overwrite their input only where that is safe, and training is unchanged by it."""

from __future__ import annotations

import copy
import operator

import torch
from torch import fx, nn

from engine.compiler import compile_graph
from engine.inplace import out_of_place, without_inplace
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


def shortcut_graph(shortcut_pool: bool = False) -> Graph:
    """x -> conv -> bn, plus a shortcut (a 1x1 conv, or a global average pool that is broadcast), summed."""
    g = Graph()
    g.add_node("Input", {"shape": [3, 8, 8]}, "x")
    g.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "conv")
    g.add_node("BatchNorm2d", {}, "bn")
    if shortcut_pool:
        g.add_node("Conv2d", {"out_channels": 4, "kernel_size": 1}, "proj")
        g.add_node("AdaptiveAvgPool2d", {"output_size": 1}, "short")
        g.connect("x", "proj")
        g.connect("proj", "short")
    else:
        g.add_node("Conv2d", {"out_channels": 4, "kernel_size": 1}, "short")
        g.connect("x", "short")
    g.add_node("Add", {}, "add")
    g.add_node("ReLU", {}, "act")
    for source, target, port in [("x", "conv", "in"), ("conv", "bn", "in"), ("bn", "add", "in0"),
                                 ("short", "add", "in1"), ("add", "act", "in")]:
        g.connect(source, target, target_port=port)
    return g


def sums(model: fx.GraphModule) -> dict[str, str]:
    """Each addition's node name -> how it is computed: "+" or "add_"."""
    return {n.name: "+" for n in model.graph.nodes if n.op == "call_function" and n.target is operator.add} | \
        {n.name: "add_" for n in model.graph.nodes if n.op == "call_method" and n.target == "add_"}


def out_of_place_copy(model: fx.GraphModule) -> fx.GraphModule:
    plain = copy.deepcopy(model)
    out_of_place(plain.graph)
    for name, module in list(plain.named_modules()):
        if getattr(module, "inplace", False):
            setattr(plain, name, without_inplace(module))
    plain.recompile()
    return plain


def outputs_and_gradients(model: nn.Module, x: torch.Tensor):
    model.train()
    output = model(x.clone())
    output.square().sum().backward()
    return output.detach(), [p.grad.clone() for p in model.parameters()]


def test_a_residual_sum_overwrites_the_fresh_operand_and_trains_bit_for_bit_the_same():
    model = compile_graph(shortcut_graph()).model
    assert sums(model) == {"add": "add_"} and "add = bn.add_(short)" in model.code
    assert model.act.inplace  # ReLU after the in-place sum, as torchvision's `out += identity; relu(out)`
    plain = out_of_place_copy(model)
    assert sums(plain) == {"add": "+"}
    x = torch.randn(4, 3, 8, 8)
    (out_a, grad_a), (out_b, grad_b) = outputs_and_gradients(model, x), outputs_and_gradients(plain, x)
    assert torch.equal(out_a, out_b) and all(torch.equal(a, b) for a, b in zip(grad_a, grad_b))


def test_a_broadcast_or_shared_operand_is_never_overwritten():
    assert sums(compile_graph(shortcut_graph(shortcut_pool=True)).model) == {"add": "+"}  # [4, 8, 8] + [4, 1, 1]
    assert sums(compile_graph(residual_graph()).model) == {"add": "+"}  # a ReLU's output and the input


def test_an_explain_probe_reads_the_operand_before_the_sum():
    from engine.explain import probed

    model = compile_graph(shortcut_graph()).model.eval()
    copy_, probe = probed(model, "bn")
    seen = []
    probe.register_forward_hook(lambda _m, _i, output: seen.append(output))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        result = copy_(x)
        expected_bn = model.bn(model.conv(x))
        assert torch.equal(seen[0], expected_bn) and torch.equal(result, model(x))
