"""The torch.fx importer's readers for the activations, normalisation and resampling families
(graphs/families/): `MODULES` maps each nn.Module type to (catalogue type, params, the module's own
sizes to check), `FUNCTIONS` maps each functional spelling (F.relu6, F.interpolate, F.pad, ...) to a
handler `(importer, fx node) -> value`. `modules` and `functions` merge them into their tables."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.importers.common import Refuse, compact_ints
from engine.ops.resampling import MODE_SPATIAL


def _arguments(node, names: tuple, defaults: dict) -> dict:
    """The fx node's arguments after its tensor input, by name."""
    values = dict(defaults)
    values.update(zip(names, node.args[1:]))
    values.update(node.kwargs)
    return values


def _number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _attributes(type_name: str, *names: str):
    """A reader taking the params from the module attributes of the same names."""
    def read(module):
        params = {name: _number(getattr(module, name)) for name in names}
        if params.get("dim", 0) is None:
            raise Refuse(": dim is None (torch's implicit dim); give dim explicitly")
        return type_name, params, {}
    return read


def _norm(module):
    if module.momentum is None:
        raise Refuse(": momentum=None (a cumulative average) is not imported")
    return type(module).__name__, {"eps": float(module.eps), "momentum": float(module.momentum),
                                   "affine": module.affine, "track_running_stats": module.track_running_stats}, \
        {"num_features": module.num_features}


def _rmsnorm(module):
    eps = None if module.eps is None else float(module.eps)
    return "RMSNorm", {"normalized_dims": len(module.normalized_shape), "eps": eps,
                       "elementwise_affine": module.elementwise_affine}, \
        {"normalized_shape": tuple(module.normalized_shape)}


def upsample_params(size, scale_factor, mode, align_corners, recompute_scale_factor=None, antialias=False) -> dict:
    """Upsample's params from torch's arguments (nn.Upsample's or F.interpolate's), or Refuse."""
    if mode not in MODE_SPATIAL:
        raise Refuse(f": mode '{mode}' has no Neurocanvas equivalent (Upsample takes "
                     f"{', '.join(MODE_SPATIAL)})")
    if antialias:
        raise Refuse(": antialias=True is not imported")
    if recompute_scale_factor and scale_factor is not None:
        raise Refuse(": recompute_scale_factor=True is not imported; give size instead")
    if isinstance(scale_factor, (list, tuple)):
        if len(set(scale_factor)) != 1:
            raise Refuse(f": scale_factor {list(scale_factor)} differs between dims; Upsample takes one "
                         "scale_factor for all (or give size)")
        scale_factor = scale_factor[0]
    if size is not None:
        size = [int(s) for s in (size if isinstance(size, (list, tuple)) else [size])]
    return {"size": size, "scale_factor": None if scale_factor is None else float(scale_factor), "mode": mode,
            "align_corners": bool(align_corners)}


def _upsample(module):
    return "Upsample", upsample_params(module.size, module.scale_factor, module.mode, module.align_corners,
                                       module.recompute_scale_factor), {}


def _pad(module):
    name = type(module).__name__
    params = {"padding": compact_ints(module.padding)}
    if name.startswith("ConstantPad"):
        params["value"] = float(module.value)
    return name, params, {}


MODULES = {
    **{getattr(nn, name): _attributes(name) for name in (
        "ReLU6", "Hardswish", "Hardsigmoid", "Mish", "Softsign", "SELU", "LogSigmoid", "Tanhshrink")},
    nn.PReLU: _attributes("PReLU", "num_parameters", "init"),
    nn.Hardtanh: _attributes("Hardtanh", "min_val", "max_val"),
    nn.Softplus: _attributes("Softplus", "beta", "threshold"),
    nn.CELU: _attributes("CELU", "alpha"), nn.GLU: _attributes("GLU", "dim"),
    nn.Softmin: _attributes("Softmin", "dim"), nn.Threshold: _attributes("Threshold", "threshold", "value"),
    nn.BatchNorm3d: _norm, nn.InstanceNorm1d: _norm, nn.InstanceNorm2d: _norm, nn.RMSNorm: _rmsnorm,
    nn.LocalResponseNorm: _attributes("LocalResponseNorm", "size", "alpha", "beta", "k"),
    nn.Dropout1d: _attributes("Dropout1d", "p"), nn.Dropout3d: _attributes("Dropout3d", "p"),
    nn.AlphaDropout: _attributes("AlphaDropout", "p"),
    nn.Upsample: _upsample,
    nn.PixelShuffle: _attributes("PixelShuffle", "upscale_factor"),
    nn.PixelUnshuffle: _attributes("PixelUnshuffle", "downscale_factor"),
    **{getattr(nn, f"{kind}Pad{n}d"): _pad for n in (1, 2) for kind in ("Zero", "Constant", "Reflection",
                                                                         "Replication")},
}


def _function(type_name: str, names: tuple = (), defaults: dict | None = None, keep: tuple = ()):
    """A handler adding `type_name` with the params `keep` read from the call's arguments."""
    def handle(importer, node):
        args = _arguments(node, names, defaults or {})
        if "dim" in keep and args.get("dim") is None:
            raise Refuse(": dim is not given (torch's implicit dim); give dim explicitly")
        if args.get("dtype") is not None:
            raise Refuse(": dtype= is not imported")
        params = {name: _number(args[name]) for name in keep}
        return importer.add(type_name, params, [importer.tensor(node.args[0])], node)
    return handle


def _interpolate(importer, node):
    args = _arguments(node, ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor",
                             "antialias"), {"size": None, "scale_factor": None, "mode": "nearest"})
    params = upsample_params(args["size"], args["scale_factor"], args["mode"], args.get("align_corners"),
                             args.get("recompute_scale_factor"), args.get("antialias", False))
    return importer.add("Upsample", params, [importer.tensor(node.args[0])], node)


_PAD_KINDS = {"reflect": "Reflection", "replicate": "Replication"}


def _pad_function(importer, node):
    args = _arguments(node, ("pad", "mode", "value"), {"mode": "constant", "value": None})
    pads, mode, value = list(args["pad"]), args["mode"], args["value"]
    if len(pads) not in (2, 4):
        raise Refuse(f": it pads {len(pads) // 2} dims; the pad nodes pad the last 1 or 2")
    if mode != "constant" and mode not in _PAD_KINDS:
        raise Refuse(f": mode '{mode}' has no Neurocanvas pad node (constant, reflect and replicate do)")
    kind = _PAD_KINDS.get(mode) or ("Zero" if not value else "Constant")
    params = {"padding": compact_ints(pads)}
    if kind == "Constant":
        params["value"] = float(value)
    return importer.add(f"{kind}Pad{len(pads) // 2}d", params, [importer.tensor(node.args[0])], node)


def _dropout(type_name: str):
    return _function(type_name, ("p", "training", "inplace"), {"p": 0.5}, ("p",))


_DIM = (("dim", "_stacklevel", "dtype"), {"dim": None}, ("dim",))
FUNCTIONS = {
    F.relu6: _function("ReLU6"), F.hardswish: _function("Hardswish"), F.hardsigmoid: _function("Hardsigmoid"),
    F.mish: _function("Mish"), F.softsign: _function("Softsign"), F.selu: _function("SELU"),
    torch.selu: _function("SELU"), F.logsigmoid: _function("LogSigmoid"), F.tanhshrink: _function("Tanhshrink"),
    F.hardtanh: _function("Hardtanh", ("min_val", "max_val"), {"min_val": -1.0, "max_val": 1.0},
                          ("min_val", "max_val")),
    F.softplus: _function("Softplus", ("beta", "threshold"), {"beta": 1.0, "threshold": 20.0},
                          ("beta", "threshold")),
    F.celu: _function("CELU", ("alpha",), {"alpha": 1.0}, ("alpha",)),
    F.glu: _function("GLU", ("dim",), {"dim": -1}, ("dim",)),
    F.softmin: _function("Softmin", *_DIM),
    F.threshold: _function("Threshold", ("threshold", "value"), {}, ("threshold", "value")),
    F.local_response_norm: _function("LocalResponseNorm", ("size", "alpha", "beta", "k"),
                                     {"alpha": 1e-4, "beta": 0.75, "k": 1.0}, ("size", "alpha", "beta", "k")),
    F.dropout1d: _dropout("Dropout1d"), F.dropout3d: _dropout("Dropout3d"), F.alpha_dropout: _dropout("AlphaDropout"),
    F.interpolate: _interpolate, F.upsample: _interpolate, F.pad: _pad_function,
    F.pixel_shuffle: _function("PixelShuffle", ("upscale_factor",), {}, ("upscale_factor",)),
    F.pixel_unshuffle: _function("PixelUnshuffle", ("downscale_factor",), {}, ("downscale_factor",)),
}
