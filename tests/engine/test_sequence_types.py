"""RNN, the recurrent layers' state ports (h0/c0 in, h_n/c_n out) and causal self-attention: exact against torch,
through ONNX (onnxruntime, two batch sizes) and Python export, offered by the palette and the inspector. Shapes
and parameter counts over the parameter space are in test_shape_property.py (cases in seqloss_cases.py)."""

import pytest
import torch
from torch import nn

from engine.compiler import compile_graph
from engine.export import export_onnx, prepare_model, verify_onnx
from engine.export.python_code import export_python, verify_python
from engine.shapes import infer
from graphs import Graph


def encoder_decoder(kind: str, **params) -> Graph:
    """An encoder whose final state starts a decoder; the decoder's last step and the encoder's h_n are outputs."""
    g = Graph()
    g.add_node("Input", {"shape": [6, 3]}, "x")
    g.add_node(kind, {"hidden_size": 4, **params}, "encoder")
    g.add_node(kind, {"hidden_size": 4, "output": "last", **params}, "decoder")
    g.add_node("Flatten", {}, "state")
    g.connect("x", "encoder")
    g.connect("x", "decoder")
    g.connect("encoder", "decoder", "h_n", "h0")
    if kind == "LSTM":
        g.connect("encoder", "decoder", "c_n", "c0")
    g.connect("encoder", "state", "h_n", "in")
    return g


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_an_encoder_state_starts_the_decoder_exactly_as_in_torch(kind):
    compiled = compile_graph(encoder_decoder(kind, num_layers=2, bidirectional=True))
    assert compiled.shapes.info["encoder"].outputs["h_n"].shape == (4, 4)
    model = compiled.model.eval()
    x = torch.randn(3, 6, 3)
    decoded, state = model(x)
    _, final = model.encoder(x)
    expected_state = (final[0] if kind == "LSTM" else final).transpose(0, 1)
    assert torch.equal(state, expected_state.flatten(1))
    assert torch.equal(decoded, model.decoder(x, final)[0][:, -1])


def test_unwired_state_ports_change_nothing_in_the_compiled_code():
    g = Graph()
    g.add_node("Input", {"shape": [5, 4]}, "x")
    g.add_node("LSTM", {"hidden_size": 3, "output": "last"}, "lstm")
    g.connect("x", "lstm")
    assert compile_graph(g).model.code.strip().splitlines() == [
        "def forward(self, x):",
        "    lstm = self.lstm(x);  x = None",
        "    lstm_output = lstm[0];  lstm = None",
        "    lstm_last = lstm_output[(slice(None, None, None), -1)];  lstm_output = None",
        "    return lstm_last",
    ]


def test_an_lstm_needs_both_initial_states_or_neither():
    g = encoder_decoder("LSTM")
    g.disconnect(next(e for e in g.edges() if e.target_port == "c0"))
    (error,) = infer(g).errors
    assert (error.node, error.port) == ("decoder", "h0") and "needs both" in error.message


def test_a_wrong_initial_state_shape_is_named():
    g = encoder_decoder("GRU")
    g.set_param("decoder", "num_layers", 2)
    (error,) = infer(g).errors
    assert error.node == "decoder" and "[2, 4]" in error.message and "[1, 4]" in error.message


def attention(kind: str) -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [7, 8]}, "x")
    params = {"num_heads": 2} if kind == "MultiheadAttention" else {"nhead": 2, "dim_feedforward": 16}
    g.add_node(kind, {**params, "causal": True}, "attn")
    g.connect("x", "attn")
    return g


@pytest.mark.parametrize("kind", ["MultiheadAttention", "TransformerEncoderLayer"])
def test_causal_attention_equals_torch_with_the_square_subsequent_mask(kind):
    model = compile_graph(attention(kind)).model.eval()
    x = torch.randn(2, 7, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(7)
    layer = model.attn
    expected = layer(x, x, x, attn_mask=mask, need_weights=False)[0] if kind == "MultiheadAttention" else \
        layer(x, src_mask=mask)
    assert torch.allclose(model(x), expected, atol=1e-6)
    # the first position sees only itself: changing later positions leaves it alone
    changed = x.clone()
    changed[:, 1:] += 1.0
    assert torch.allclose(model(changed)[:, 0], model(x)[:, 0], atol=1e-6)


def transformer(decoder: str = "TransformerDecoder", **params) -> Graph:
    """A causal TransformerDecoder (or decoder layer) over tgt attending to a TransformerEncoder's output."""
    g = Graph()
    g.add_node("Input", {"shape": [5, 8]}, "src")
    g.add_node("Input", {"shape": [4, 8]}, "tgt")
    layer = {"nhead": 2, "dim_feedforward": 16, **params}
    g.add_node("TransformerEncoder", {**layer, "num_layers": 2, "norm": True}, "encoder")
    stack = {"num_layers": 3, "norm": True} if decoder == "TransformerDecoder" else {}
    g.add_node(decoder, {**layer, **stack, "causal": True}, "decoder")
    g.connect("src", "encoder")
    g.connect("tgt", "decoder")
    g.connect("encoder", "decoder", target_port="memory")
    return g


@pytest.mark.parametrize("decoder", ["TransformerDecoder", "TransformerDecoderLayer"])
def test_a_transformer_equals_torch_and_names_its_weights_like_torch(decoder):
    compiled = compile_graph(transformer(decoder, dropout=0.0, norm_first=True))
    model = compiled.model.eval()
    keys = list(model.state_dict())
    assert "encoder.layers.1.self_attn.in_proj_weight" in keys and "encoder.norm.weight" in keys
    assert ("decoder.layers.2.multihead_attn.out_proj.weight" in keys) == (decoder == "TransformerDecoder")
    assert compiled.shapes.total_params == sum(p.numel() for p in model.parameters())
    src, tgt = torch.randn(2, 5, 8), torch.randn(2, 4, 8)
    memory = nn.TransformerEncoder(model.encoder.layers[0], 2, norm=model.encoder.norm, enable_nested_tensor=False)
    memory.load_state_dict(model.encoder.state_dict())
    expected = model.decoder(tgt, memory(src), tgt_mask=nn.Transformer.generate_square_subsequent_mask(4))
    assert torch.allclose(model(src, tgt), expected, atol=1e-6)


def positional(kind: str) -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [6, 8]}, "x")
    g.add_node(kind, {"max_len": 16}, "position")
    g.add_node("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 16}, "layer")
    g.connect("x", "position")
    g.connect("position", "layer")
    return g


def test_positional_encodings_add_one_vector_per_position():
    from tests.engine.seqloss_cases import sinusoids

    x = torch.randn(3, 6, 8)
    learned = compile_graph(positional("LearnedPositionalEncoding")).model
    assert learned.position.weight.shape == (16, 8) and learned.position.weight.requires_grad
    sinusoidal = compile_graph(positional("SinusoidalPositionalEncoding")).model
    assert not any("position" in key for key in sinusoidal.state_dict())
    for model, table in ((learned, learned.position.weight), (sinusoidal, sinusoids(16, 8))):
        model.eval()
        assert torch.allclose(model(x), model.layer(x + table[:6]), atol=1e-6)


def test_a_sequence_longer_than_max_len_is_refused_naming_the_node():
    g = positional("SinusoidalPositionalEncoding")
    g.set_param("position", "max_len", 5)
    (error,) = infer(g).errors
    assert error.node == "position" and "max_len=5" in error.message and "[6, 8]" in error.message


EXPORTED = {
    "LearnedPositionalEncoding": lambda: positional("LearnedPositionalEncoding"),
    "SinusoidalPositionalEncoding": lambda: positional("SinusoidalPositionalEncoding"),
    "TransformerDecoder": transformer,
    "TransformerDecoderLayer": lambda: transformer("TransformerDecoderLayer", activation="gelu"),
    "RNN": lambda: encoder_decoder("RNN", nonlinearity="relu"),
    "LSTM": lambda: encoder_decoder("LSTM", num_layers=2),
    "GRU": lambda: encoder_decoder("GRU", bidirectional=True),
    "MultiheadAttention": lambda: attention("MultiheadAttention"),
    "TransformerEncoderLayer": lambda: attention("TransformerEncoderLayer"),
}


@pytest.mark.parametrize("case", sorted(EXPORTED))
def test_exports_to_onnx_that_runs_in_onnxruntime_like_torch(case, tmp_path):
    compiled = prepare_model(EXPORTED[case](), seed=0)
    assert export_onnx(compiled, tmp_path / "model.onnx").fallback_reason == ""
    for batch in (1, 4):
        assert verify_onnx(compiled, tmp_path / "model.onnx", batch=batch, seed=batch) < 1e-5


@pytest.mark.parametrize("case", sorted(EXPORTED))
def test_exports_to_python_that_rebuilds_the_model_exactly(case, tmp_path):
    graph = EXPORTED[case]()
    compiled = prepare_model(graph, seed=0)
    path = export_python(compiled, graph, tmp_path / "model.py")
    assert verify_python(compiled, path) == 0.0


def test_the_palette_and_the_inspector_offer_them(qtbot):
    from graphs.catalogue import CATALOGUE
    from gui.palette import Palette
    from gui.param_widgets import make_editor

    palette = Palette()
    qtbot.addWidget(palette)
    new = ("RNN", "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder", "LearnedPositionalEncoding",
           "SinusoidalPositionalEncoding")
    for type_name in new:
        assert palette.item(type_name).parent().text(0) == "Sequence" and CATALOGUE[type_name].doc
    for type_name in (*new, "LSTM", "MultiheadAttention", "TransformerEncoderLayer"):
        for spec in CATALOGUE[type_name].params:
            qtbot.addWidget(make_editor(spec))
    assert CATALOGUE["LSTM"].output_ports() == ["out", "h_n", "c_n"]
    assert CATALOGUE["GRU"].optional == ("h0",)


def test_final_states_feeding_losses_are_model_outputs_named_after_their_ports(tmp_path):
    g = Graph()
    g.add_node("Input", {"shape": [5, 3]}, "x")
    g.add_node("LSTM", {"hidden_size": 4, "bidirectional": True}, "lstm")
    for loss, port in (("sequence", "out"), ("hidden", "h_n"), ("cell", "c_n")):
        g.add_node("L1Loss", {}, loss)
        g.connect("lstm", loss, port, "input")
    g.connect("x", "lstm")
    compiled = prepare_model(g, seed=0)
    assert compiled.outputs == ["lstm", "lstm_h_n", "lstm_c_n"]
    export = export_onnx(compiled, tmp_path / "model.onnx")
    assert export.output_names == ("lstm", "lstm_h_n", "lstm_c_n")
    assert verify_onnx(compiled, tmp_path / "model.onnx", batch=3, seed=1) < 1e-5
    assert verify_python(compiled, export_python(compiled, g, tmp_path / "model.py")) == 0.0
    x = torch.randn(2, 5, 3)
    sequence, hidden, cell = compiled.model(x)
    _, (h, c) = compiled.model.lstm(x)
    assert torch.equal(hidden, h.transpose(0, 1)) and torch.equal(cell, c.transpose(0, 1)) and hidden.shape == (2, 2, 4)


def test_live_inference_tells_which_initial_state_is_alone():
    from engine.shapes import ShapeInference

    g = encoder_decoder("LSTM")
    inference = ShapeInference(g)
    c0 = next(e for e in g.edges() if e.target_port == "c0")
    g.disconnect(c0)
    assert [e.port for e in inference.result().errors] == ["h0"]
    g.connect("encoder", "decoder", "c_n", "c0")
    g.disconnect(next(e for e in g.edges() if e.target_port == "h0"))
    assert [e.port for e in inference.result().errors] == ["c0"]
    inference.close()
