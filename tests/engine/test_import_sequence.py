"""Importing recurrent layers whose final state starts another (an encoder-decoder), and RNN: from torch.fx
(a module written by hand, and Neurocanvas's own compiled model) and from ONNX. Each import reproduces the
original exactly; what cannot map is refused naming the part."""

import pytest
import torch
from torch import nn

from engine.errors import UserError
from engine.export.model import prepare_model
from engine.importers.torch_import import import_module, verify_module_import
from tests.engine.test_sequence_types import encoder_decoder


class Seq2Seq(nn.Module):
    def __init__(self, kind: str, pair: bool = True):
        super().__init__()
        layer = getattr(nn, kind)
        self.encoder = layer(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.decoder = layer(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.kind, self.pair = kind, pair

    def forward(self, x):
        _, state = self.encoder(x)
        if self.kind == "LSTM" and self.pair:
            h, c = state
            state = (h, c)
        out, _ = self.decoder(x, state)
        return out[:, -1]


def wires(result) -> set:
    return {(e.source, e.source_port, e.target, e.target_port) for e in result.project.graph.edges()}


@pytest.mark.parametrize("kind, pair", [("RNN", False), ("GRU", False), ("LSTM", True), ("LSTM", False)])
def test_a_final_state_passed_as_an_initial_state_imports_as_a_wire(kind, pair):
    torch.manual_seed(0)
    module = Seq2Seq(kind, pair).eval()
    result = import_module(module, [(5, 3)])
    expected = {("encoder", "h_n", "decoder", "h0")} | ({("encoder", "c_n", "decoder", "c0")} if kind == "LSTM" else set())
    assert expected <= wires(result)
    assert verify_module_import(module, result).difference == 0.0


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_a_compiled_encoder_decoder_imports_back_exactly(kind):
    compiled = prepare_model(encoder_decoder(kind, num_layers=2), seed=0)
    result = import_module(compiled.model, [(6, 3)])
    assert ("encoder", "h_n", "state", "in") in wires(result)
    assert verify_module_import(compiled.model, result).difference == 0.0


def test_a_final_state_used_as_a_tensor_is_refused_naming_it():
    class StateOut(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 4, batch_first=True)

        def forward(self, x):
            return self.gru(x)[1].flatten(1)

    with pytest.raises(UserError) as refused:
        import_module(StateOut(), [(5, 3)])
    assert "final state of recurrent layer 'gru'" in str(refused.value)


def test_rnn_imports_from_onnx_with_its_nonlinearity(tmp_path):
    from engine.export.onnx_export import export_onnx
    from engine.importers.onnx_import import import_onnx, verify_import
    from graphs import Graph

    graph = Graph()
    graph.add_node("Input", {"shape": [5, 3]}, "x")
    graph.add_node("RNN", {"hidden_size": 4, "num_layers": 2, "nonlinearity": "relu", "bidirectional": True}, "rnn")
    graph.connect("x", "rnn")
    compiled = prepare_model(graph, seed=0)
    export_onnx(compiled, tmp_path / "model.onnx")
    result = import_onnx(tmp_path / "model.onnx")
    rnns = [n for n in result.project.graph.nodes() if n.type == "RNN"]
    assert len(rnns) == 2 and all(n.params.get("nonlinearity") == "relu" for n in rnns)
    assert verify_import(tmp_path / "model.onnx", result).ok


class Translator(nn.Module):
    def __init__(self, norm_eps: float = 1e-5):
        super().__init__()
        encoder_layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(encoder_layer, 2, norm=nn.LayerNorm(8, eps=norm_eps),
                                             enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2)
        self.cross = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True)

    def forward(self, src, tgt):
        memory = self.encoder(src)
        return self.cross(self.decoder(tgt, memory), memory)


def test_transformer_stacks_and_decoder_layers_import_exactly():
    torch.manual_seed(0)
    module = Translator().eval()
    result = import_module(module, [(5, 8), (4, 8)])
    nodes = {n.id: (n.type, n.params) for n in result.project.graph.nodes()}
    assert nodes["encoder"][0] == "TransformerEncoder" and nodes["encoder"][1]["num_layers"] == 2
    assert nodes["encoder"][1]["norm"] is True and nodes["decoder"][0] == "TransformerDecoder"
    assert nodes["cross"][0] == "TransformerDecoderLayer" and nodes["cross"][1]["norm_first"] is True
    assert ("encoder", "out", "cross", "memory") in wires(result)
    assert verify_module_import(module, result).difference < 1e-5


def test_a_stack_whose_final_norm_differs_from_its_layers_is_refused_naming_it():
    with pytest.raises(UserError) as refused:
        import_module(Translator(norm_eps=1e-3), [(5, 8), (4, 8)])
    assert "'encoder'" in str(refused.value) and "final LayerNorm's eps" in str(refused.value)


def onnx_round_trip(graph, tmp_path):
    from engine.export.onnx_export import export_onnx
    from engine.importers.onnx_import import import_onnx, verify_import

    compiled = prepare_model(graph, seed=0)
    export_onnx(compiled, tmp_path / "model.onnx")
    result = import_onnx(tmp_path / "model.onnx")
    return result, verify_import(tmp_path / "model.onnx", result)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_an_onnx_final_state_passed_as_an_initial_state_imports_as_a_wire(kind, bidirectional, tmp_path):
    result, verification = onnx_round_trip(encoder_decoder(kind, bidirectional=bidirectional), tmp_path)
    assert verification.ok
    ports = {(e.source_port, e.target_port) for e in result.project.graph.edges()
             if e.source != "x" and result.project.graph.node(e.target).type == kind}
    assert ports == ({("h_n", "h0"), ("c_n", "c0")} if kind == "LSTM" else {("h_n", "h0")})


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_an_onnx_stack_state_starts_the_next_stack_layer_by_layer(kind, tmp_path):
    """torch writes a stack as one operator per layer, its state as the Concat of theirs and each next layer's
    initial state as a Slice of it: layer k's state starts layer k of the decoder."""
    graph = encoder_decoder(kind, num_layers=3, bidirectional=True)
    graph.remove_node("state")
    result, verification = onnx_round_trip(graph, tmp_path)
    assert verification.ok
    wired = {(e.source, e.target) for e in result.project.graph.edges() if e.target_port == "h0"}
    assert wired == {("encoder", "decoder"), ("encoder_2", "decoder_2"), ("encoder_3", "decoder_3")}


def test_an_onnx_stack_state_used_as_a_tensor_is_refused_naming_it(tmp_path):
    with pytest.raises(UserError) as refused:
        onnx_round_trip(encoder_decoder("GRU", num_layers=2), tmp_path)  # the stack's h_n is also flattened
    assert "Concat '/encoder/Concat" in str(refused.value) and "final states" in str(refused.value)


class CausalUser(nn.Module):
    """Causal masks as torch builds them, on a Transformer stack and on self-attention."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.size(1))
        h = self.encoder(x, mask=mask, is_causal=True)
        return self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]


def test_a_square_subsequent_mask_imports_as_causal():
    torch.manual_seed(0)
    module = CausalUser().eval()
    result = import_module(module, [(6, 8)])
    assert {n.id: n.params.get("causal") for n in result.project.graph.nodes()} == {
        "x": None, "encoder": True, "attn": True}
    assert verify_module_import(module, result).difference < 1e-5


@pytest.mark.parametrize("kind", ["MultiheadAttention", "TransformerEncoderLayer"])
def test_a_compiled_causal_layer_imports_back_as_causal(kind):
    from tests.engine.test_sequence_types import attention

    compiled = prepare_model(attention(kind), seed=0)
    result = import_module(compiled.model, [(7, 8)])
    assert result.project.graph.node("attn").params["causal"] is True
    assert verify_module_import(compiled.model, result).difference == 0.0


def test_another_mask_is_refused_naming_the_layer():
    class Banded(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            mask = torch.full((x.size(1), x.size(1)), float("-inf")).triu(2)
            return self.attn(x, x, x, attn_mask=mask)[0]

    with pytest.raises(UserError) as refused:
        import_module(Banded(), [(6, 8)])
    assert "triu(1)" in str(refused.value)
