"""Weight sharing: a node with `shares` set calls the module of the node it names, so the compiled model,
its weights file and both exports hold the weights once, and gradients of both uses add up in one tensor."""

from pathlib import Path

import onnx
import pytest
import torch

from engine.compiler import compile_graph
from engine.export import prepare_model, python_source, verify_onnx
from engine.export.onnx_export import export_onnx
from engine.shapes import infer
from engine.weights import read_weights, save_weights
from graphs import Graph, load_project
from graphs.project import loads_project, save_project

SIAMESE = Path(__file__).parent / "export_projects" / "siamese_shared.json"


def siamese(shares: bool = True) -> Graph:
    graph = load_project(SIAMESE).graph
    if not shares:
        for node_id in ("conv_right", "embed_right"):
            params = graph.node(node_id).params
            del params["shares"]
            graph.set_params(node_id, params)
    return graph


def test_the_compiled_model_calls_one_module_twice_and_holds_its_weights_once():
    compiled = compile_graph(siamese())
    assert list(compiled.model.state_dict()) == ["conv_left.weight", "conv_left.bias", "embed_left.weight",
                                                 "embed_left.bias"]
    calls = {n.name: n.target for n in compiled.model.graph.nodes if n.op == "call_module"}
    assert calls["conv_right"] == calls["conv_left"] == "conv_left"
    assert calls["embed_right"] == calls["embed_left"] == "embed_left"
    assert compiled.graph.node("conv_right").shares == "conv_left"
    # the model's parameter count (summary, memory check) counts the shared weights once
    assert compiled.shapes.info["conv_right"].params == 0 < compiled.shapes.info["conv_left"].params
    assert compiled.shapes.total_params == sum(p.numel() for p in compiled.model.parameters())


def test_gradients_from_both_branches_accumulate_into_the_one_tensor():
    shared, separate = compile_graph(siamese()).model, compile_graph(siamese(shares=False)).model
    state = shared.state_dict()
    separate.load_state_dict({**state, **{k.replace("_left", "_right"): v for k, v in state.items()}})
    left, right = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    shared(left, right).sum().backward()
    separate(left, right).sum().backward()
    for name in ("conv", "embed"):
        both = separate.get_submodule(f"{name}_left").weight.grad + separate.get_submodule(f"{name}_right").weight.grad
        torch.testing.assert_close(shared.get_submodule(f"{name}_left").weight.grad, both)

    optimizer = torch.optim.SGD(shared.parameters(), lr=0.1)
    assert sum(p.numel() for group in optimizer.param_groups for p in group["params"]) == \
        sum(t.numel() for t in state.values())
    before = shared.conv_left.weight.detach().clone()
    optimizer.step()
    assert not torch.equal(before, shared.conv_left.weight)
    same = torch.randn(2, 1, 8, 8)  # both branches still compute with the same weights after training
    torch.testing.assert_close(shared(same, same), shared.embed_left(
        shared.flat_left(shared.act_left(shared.conv_left(same)))) ** 2)


def test_weights_file_and_both_exports_keep_one_copy(tmp_path):
    compiled = prepare_model(siamese())
    path = save_weights(compiled.model, tmp_path / "w.safetensors")
    assert sorted(read_weights(path)) == sorted(compiled.model.state_dict())
    export_onnx(compiled, tmp_path / "m.onnx")
    assert sorted(i.name for i in onnx.load(str(tmp_path / "m.onnx")).graph.initializer) == sorted(read_weights(path))
    assert verify_onnx(compiled, tmp_path / "m.onnx") <= 1e-5
    source = python_source(compiled, compiled.graph)
    assert source.count("self.conv_left = nn.Conv2d(") == 1 and "self.conv_right =" not in source
    assert "conv_right = self.conv_left(right)" in source
    assert "embed_right = self.embed_left(flat_right)" in source


def test_sharing_survives_save_and_load(tmp_path):
    graph = siamese()
    project = loads_project(SIAMESE.read_text())
    saved = save_project(project, tmp_path / "p.json")
    again = load_project(saved)
    assert again.graph.snapshot() == graph.snapshot()
    assert again.graph.node("embed_right").params == {"out_features": 16, "shares": "embed_left"}


def _errors(graph: Graph) -> list[str]:
    return [e.message for e in infer(graph).errors if e.node == "b"]


def _pair(type_a="Linear", params_a=None, type_b="Linear", params_b=None, width_b=6) -> Graph:
    graph = Graph()
    graph.add_node("Input", {"shape": [6]}, "x")
    graph.add_node("Input", {"shape": [width_b]}, "y")
    graph.add_node(type_a, params_a if params_a is not None else {"out_features": 4}, "a")
    graph.add_node(type_b, params_b if params_b is not None else {"out_features": 4, "shares": "a"}, "b")
    graph.connect("x", "a")
    graph.connect("y", "b")
    return graph


@pytest.mark.parametrize("graph, message", [
    (_pair(params_b={"out_features": 4, "shares": "nowhere"}),
     "Linear 'b' shares the weights of 'nowhere': there is no such node"),
    (_pair(params_b={"out_features": 4, "shares": "b"}), "Linear 'b' shares the weights of 'b': itself"),
    (_pair(type_a="ReLU", params_a={}, params_b={"out_features": 4, "shares": "a"}),
     "Linear 'b' shares the weights of 'a', a ReLU; a node can only share the weights of a node of its own type"),
    (_pair(params_b={"out_features": 5, "shares": "a"}), "Linear 'b' shares the weights of 'a', whose params differ"),
    (_pair(width_b=7), "Linear 'b' shares the weights of 'a', but its input has other sizes: in_features 7 here "
                       "but 6 in 'a'"),
    (_pair(type_a="ReLU", params_a={}, type_b="ReLU", params_b={"shares": "a"}),
     "ReLU 'b' shares the weights of 'a', but ReLU nodes have no weights to share"),
])
def test_sharing_problems_are_errors_on_the_sharing_node(graph, message):
    assert any(error.startswith(message) for error in _errors(graph)), _errors(graph)


def test_data_nodes_cannot_share():
    graph = _pair()
    graph.set_params("y", {"shape": [6], "shares": "x"})
    assert [e.message for e in infer(graph).errors if e.node == "y"] == [
        "Input 'y' shares the weights of 'x', but Input nodes have no weights to share"]


def test_a_chain_of_sharing_is_refused_naming_the_node_to_share():
    graph = _pair()
    graph.add_node("Linear", {"out_features": 4, "shares": "b"}, "c")
    graph.connect("x", "c")
    errors = [e.message for e in infer(graph).errors if e.node == "c"]
    assert errors == ["Linear 'c' shares the weights of 'b', which itself shares those of 'a'; share 'a' directly"]
    assert not _errors(_pair())  # the pair itself is fine


def test_a_bad_shares_value_in_a_file_names_the_place():
    text = SIAMESE.read_text().replace('"shares": "conv_left"', '"shares": 3')
    with pytest.raises(Exception, match=r"nodes\[3\].*shares.*must be the id of another node"):
        loads_project(text)


def test_a_parameter_node_can_share_another_parameters_tensor():
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, "x")
    graph.add_node("Parameter", {"shape": [4]}, "p")
    graph.add_node("Parameter", {"shape": [4], "shares": "p"}, "q")
    graph.add_node("Add", {"inputs": 3}, "s")
    for port, source in (("in0", "x"), ("in1", "p"), ("in2", "q")):
        graph.connect(source, "s", "out", port)
    model = compile_graph(graph).model
    assert list(model.state_dict()) == ["p"]
    x = torch.zeros(2, 4)
    torch.testing.assert_close(model(x), 2 * model.p.expand(2, 4))
