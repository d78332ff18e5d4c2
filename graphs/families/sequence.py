"""Recurrent layers (RNN, LSTM, GRU) with their optional state ports, the Transformer stacks (TransformerEncoder,
TransformerDecoderLayer, TransformerDecoder), the causal option of self-attention and positional encodings.

A recurrent node takes the sequence on `in` and, optionally, its initial state on `h0` (and `c0` for an
LSTM), [num_layers * directions, hidden_size] per sample; it gives the sequence (or its last step) on `out`
and its final state on `h_n` (and `c_n`), of the same shape. Wiring an encoder's `h_n` to a decoder's `h0`
starts the decoder from the encoder's state."""

from __future__ import annotations

from graphs.node_type import NodeType, bool_param, choice_param, float_param, int_param

CAUSAL = bool_param("causal", False, "each position attends only to itself and earlier ones (a square "
                                     "subsequent mask)")


def recurrent(name: str, *extra) -> NodeType:
    """RNN, LSTM or GRU over [T, features], batch first; `extra` params go before `output`."""
    cell = name == "LSTM"
    return NodeType(
        name, "Sequence",
        (int_param("hidden_size", 64, 1, 65536), int_param("num_layers", 1, 1, 64), *extra, bool_param("bias", True),
         float_param("dropout", 0.0, 0.0, 1.0), bool_param("bidirectional", False),
         choice_param("output", "sequence", ("sequence", "last"),
                      "'sequence' returns every time step [T, H]; 'last' only the final one [H]")),
        inputs=("in", "h0", "c0") if cell else ("in", "h0"), outputs=("out", "h_n", "c_n") if cell else ("out", "h_n"),
        doc=f"{name} over [T, features], batch first; optional initial state in (h0{', c0' if cell else ''}), "
            f"final state out (h_n{', c_n' if cell else ''}).",
        inferred={"input_size": ("in", -1)}, key_params=("hidden_size", "output"),
        optional=("h0", "c0") if cell else ("h0",),
    )




def _layer_params(layers: bool):
    """A Transformer layer's params (those of torch's layer class), then num_layers and the final norm."""
    stack = (int_param("num_layers", 2, 1, 64), bool_param("norm", False, "a final LayerNorm after the stack")) \
        if layers else ()
    return (int_param("nhead", 4, 1, 1024), int_param("dim_feedforward", 2048, 1, 1 << 20),
            float_param("dropout", 0.1, 0.0, 1.0), choice_param("activation", "relu", ("relu", "gelu")),
            float_param("layer_norm_eps", 1e-5, 0.0), bool_param("norm_first", False), bool_param("bias", True),
            *stack, CAUSAL)


_DECODER_PORTS = ("in", "memory")
_DECODER_DOC = ("over [T, d_model], batch first, attending to memory [S, d_model] (an encoder's output); "
                "causal masks later target positions")

TYPES = [
    recurrent("RNN", choice_param("nonlinearity", "tanh", ("tanh", "relu"))),
    NodeType("TransformerEncoder", "Sequence", _layer_params(True),
             doc="num_layers Transformer encoder layers over [T, d_model], batch first, and an optional final "
                 "LayerNorm; causal masks later positions.",
             inferred={"d_model": ("in", -1)}, key_params=("num_layers", "nhead")),
    NodeType("TransformerDecoderLayer", "Sequence", _layer_params(False), inputs=_DECODER_PORTS,
             doc=f"One Transformer decoder layer {_DECODER_DOC}.", inferred={"d_model": ("in", -1)},
             key_params=("nhead", "dim_feedforward")),
    NodeType("TransformerDecoder", "Sequence", _layer_params(True), inputs=_DECODER_PORTS,
             doc=f"num_layers Transformer decoder layers {_DECODER_DOC}; an optional final LayerNorm.",
             inferred={"d_model": ("in", -1)}, key_params=("num_layers", "nhead")),
    NodeType("LearnedPositionalEncoding", "Sequence",
             (int_param("max_len", 512, 1, 1 << 20, "the longest sequence it takes"),),
             doc="Adds a trained vector per position to [T, E]: x + weight[:T], weight [max_len, E].",
             inferred={"embedding_dim": ("in", -1)}, key_params=("max_len",)),
    NodeType("SinusoidalPositionalEncoding", "Sequence",
             (int_param("max_len", 5000, 1, 1 << 20, "the longest sequence it takes"),),
             doc="Adds the fixed sine/cosine encoding of each position to [T, E] (E even); nothing is trained.",
             key_params=("max_len",)),
]
