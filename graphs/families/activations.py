"""More activations, named after their `torch.nn` classes: ReLU6, PReLU, Hardswish, Hardsigmoid,
Hardtanh, Mish, Softplus, Softsign, SELU, CELU, GLU, LogSigmoid, Tanhshrink, Softmin, Threshold and
Identity."""

from __future__ import annotations

from graphs.node_type import NodeType, float_param, int_param

_ACT = "Activations"


def _activation(name, doc, *params, inferred=None):
    return NodeType(name, _ACT, tuple(params), doc=doc, inferred=inferred or {},
                    key_params=tuple(p.name for p in params))


TYPES = [
    _activation("ReLU6", "min(max(x, 0), 6)."),
    _activation("PReLU", "ReLU with a learned slope for x < 0: one slope, or one per channel (dim 1).",
                int_param("num_parameters", 1, 1, optional=True,
                          doc="1 for one shared slope, or the channel count; None = the input's channels"),
                float_param("init", 0.25, doc="initial slope"),
                inferred={"channels": ("in", 0)}),
    _activation("Hardswish", "x * relu6(x + 3) / 6."),
    _activation("Hardsigmoid", "relu6(x + 3) / 6."),
    _activation("Hardtanh", "Clamps x to [min_val, max_val].", float_param("min_val", -1.0),
                float_param("max_val", 1.0)),
    _activation("Mish", "x * tanh(softplus(x))."),
    _activation("Softplus", "log(1 + exp(beta * x)) / beta; linear above threshold.", float_param("beta", 1.0),
                float_param("threshold", 20.0)),
    _activation("Softsign", "x / (1 + |x|)."),
    _activation("SELU", "Scaled ELU with torch's fixed alpha and scale."),
    _activation("CELU", "max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).", float_param("alpha", 1.0)),
    _activation("GLU", "Gated linear unit: halves dim into a and b and returns a * sigmoid(b).",
                int_param("dim", -1, -8, 8)),
    _activation("LogSigmoid", "log(sigmoid(x))."),
    _activation("Tanhshrink", "x - tanh(x)."),
    _activation("Softmin", "softmax(-x) over dim (the batch is dim 0).", int_param("dim", -1, -8, 8)),
    _activation("Threshold", "x where x > threshold, else value.", float_param("threshold", 0.0),
                float_param("value", 0.0)),
    _activation("Identity", "Passes its input through unchanged."),
]
