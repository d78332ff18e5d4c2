"""More normalisation and regularisation types: BatchNorm3d, InstanceNorm1d/2d, RMSNorm,
LocalResponseNorm, Dropout1d, Dropout3d and AlphaDropout."""

from __future__ import annotations

from graphs.node_type import NodeType, bool_param, float_param, int_param
from graphs.params import ParamSpec

_NORM = "Normalisation"


def _norm_params(affine: bool, track: bool):
    return (float_param("eps", 1e-5, 0.0), float_param("momentum", 0.1, 0.0, 1.0),
            bool_param("affine", affine), bool_param("track_running_stats", track))


def _dropout(name, doc):
    return NodeType(name, _NORM, (float_param("p", 0.5, 0.0, 1.0),), doc=doc, key_params=("p",))


TYPES = [
    NodeType("BatchNorm3d", _NORM, _norm_params(True, True), doc="Batch normalisation over [C, D, H, W].",
             inferred={"num_features": ("in", 0)}),
    NodeType("InstanceNorm1d", _NORM, _norm_params(False, False),
             doc="Instance normalisation: each sample's channels of [C, L] on their own.",
             inferred={"num_features": ("in", 0)}),
    NodeType("InstanceNorm2d", _NORM, _norm_params(False, False),
             doc="Instance normalisation: each sample's channels of [C, H, W] on their own.",
             inferred={"num_features": ("in", 0)}),
    NodeType("RMSNorm", _NORM,
             (int_param("normalized_dims", 1, 1, 8, "how many trailing dimensions normalized_shape covers"),
              ParamSpec("eps", "float", None, 0.0, optional=True,
                        doc="added to the mean square; None = the smallest step of float32"),
              bool_param("elementwise_affine", True)),
             doc="Root-mean-square normalisation; normalized_shape is the input's trailing dimensions.",
             inferred={"normalized_shape": ("in", "trailing")}, key_params=("normalized_dims",)),
    NodeType("LocalResponseNorm", _NORM,
             (int_param("size", 5, 1, 65536, "how many neighbouring channels"), float_param("alpha", 1e-4),
              float_param("beta", 0.75), float_param("k", 1.0)),
             doc="Normalises each channel of [C, *] by its neighbours across channels.", key_params=("size",)),
    _dropout("Dropout1d", "Zeroes whole channels of [C, L] with probability p."),
    _dropout("Dropout3d", "Zeroes whole channels of [C, D, H, W] with probability p."),
    _dropout("AlphaDropout", "Dropout that keeps the mean and variance of SELU activations."),
]
