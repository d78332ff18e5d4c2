"""Op entries of the activations family (graphs/families/activations.py): each one `torch.nn` module
applied element-wise (GLU, Softmin: along `dim`), so the output has the input's shape, except GLU,
which halves `dim`."""

from __future__ import annotations

from engine.ops.base import Ctx, NodeInfo, TensorSpec, fmt, module_op
from engine.ops.tensor_ops import _activation


def _identity(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    return NodeInfo({"out": x})


def _prelu(ctx: Ctx) -> NodeInfo:
    """torch's prelu keeps one slope per channel of dim 1 (our dim 0), or one for all."""
    (x,) = ctx.inputs.values()
    ctx.expect_float(x)
    if not x.shape:
        raise ctx.fail("expects input [C, *] (its channels come first), got []; reshape it to [1]")
    wanted = ctx.p["num_parameters"]
    if wanted not in (None, 1, x.shape[0]):
        raise ctx.fail(f"has num_parameters={wanted}, but its input {fmt(x.shape)} has {x.shape[0]} channels; "
                       "use 1 or the channel count (or None to take it from the input)")
    return NodeInfo({"out": x}, x.shape[0] if wanted is None else wanted)


def _prelu_kwargs(kwargs: dict) -> dict:
    channels = kwargs.pop("channels")
    if kwargs["num_parameters"] is None:
        kwargs["num_parameters"] = channels
    return kwargs


def _hardtanh(ctx: Ctx) -> NodeInfo:
    if ctx.p["max_val"] <= ctx.p["min_val"]:
        raise ctx.fail(f"needs max_val > min_val, got min_val={ctx.p['min_val']} and max_val={ctx.p['max_val']}")
    return _activation(ctx)


SMALLEST_DIVISOR = 1e-38  # 1 / this still fits a float32 (its largest is 3.4e38)


def _celu(ctx: Ctx) -> NodeInfo:
    if abs(ctx.p["alpha"]) < SMALLEST_DIVISOR:
        raise ctx.fail(f"needs |alpha| >= {SMALLEST_DIVISOR:g} (it divides by alpha, and 1/alpha must fit a "
                       f"float32); got {ctx.p['alpha']:g}, which torch refuses when the model runs")
    return _activation(ctx)


def _glu(ctx: Ctx) -> NodeInfo:
    (x,) = ctx.inputs.values()
    ctx.expect_float(x)
    dim = ctx.batched_dim(ctx.p["dim"], len(x.shape))
    if dim == 0:
        raise ctx.fail("would halve the batch (dim 0); pick a dim of the sample")
    size = x.shape[dim - 1]
    if size % 2:
        raise ctx.fail(f"halves dim {ctx.p['dim']}, but its size in {fmt(x.shape)} is {size}, which is odd")
    shape = list(x.shape)
    shape[dim - 1] = size // 2
    return NodeInfo({"out": TensorSpec(tuple(shape))})


_PLAIN = ("ReLU6", "Hardswish", "Hardsigmoid", "Mish", "Softplus", "Softsign", "SELU", "LogSigmoid", "Tanhshrink",
          "Softmin", "Threshold")

OPS = {
    **{name: module_op(_activation, name) for name in _PLAIN},
    "PReLU": module_op(_prelu, "PReLU", kwargs=_prelu_kwargs),
    "Hardtanh": module_op(_hardtanh, "Hardtanh"),
    "CELU": module_op(_celu, "CELU"),
    "GLU": module_op(_glu, "GLU"),
    "Identity": module_op(_identity, "Identity"),
}


def torchscript_onnx_inexact(type_name: str, params: dict) -> str:
    """Why torch's TorchScript ONNX exporter would write this node inexactly ("" when it writes it exactly):
    it leaves Softplus's threshold out, which changes the output by up to log(1 + e^-threshold) / beta."""
    if type_name == "Softplus" and params["threshold"] < 20.0:
        return f"it leaves out Softplus's threshold ({params['threshold']:g})"
    return ""

