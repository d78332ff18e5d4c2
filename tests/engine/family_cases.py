"""Hypothesis cases of the activations, normalisation and resampling families for the property test
(tests/engine/test_shape_property.py gathers them): each node type's params and input specs, drawn over
the ranges where torch both accepts and refuses them."""

from hypothesis import strategies as st

from tests.engine.test_shape_property import fixed, floats, single, tup

_PLAIN = ("ReLU6", "Hardswish", "Hardsigmoid", "Mish", "Softsign", "SELU", "LogSigmoid", "Tanhshrink", "Identity")
_SIZES = st.sampled_from([1, 2, 3, 4, 6, 8, 9])


def _pad(n: int, constant: bool = False):
    params = {"padding": tup(2 * n, 0, 3)}
    if constant:
        params["value"] = st.sampled_from([0.0, -1.5])
    return single(fixed(**params), floats(0, 4))


def _upsample():
    size = st.one_of(st.none(), st.lists(st.integers(1, 5), min_size=1, max_size=3))
    return single(fixed(size=size, scale_factor=st.sampled_from([None, 0.5, 1.5, 2.0, 3.0]),
                        mode=st.sampled_from(["nearest", "linear", "bilinear", "bicubic", "trilinear"]),
                        align_corners=st.booleans()), floats(1, 4))


CASES = {
    **{name: single(fixed()) for name in _PLAIN},
    "PReLU": single(fixed(num_parameters=st.sampled_from([None, 1, 2, 3]), init=st.sampled_from([0.25, -0.1])),
                    floats(0, 3, st.integers(1, 3))),
    "Hardtanh": single(fixed(min_val=st.sampled_from([-1.0, 0.0, 0.5]), max_val=st.sampled_from([0.5, 1.0, 6.0]))),
    "Softplus": single(fixed(beta=st.sampled_from([1.0, 0.5, 2.0]), threshold=st.sampled_from([20.0, 1.0]))),
    "CELU": single(fixed(alpha=st.sampled_from([1.0, 0.5, 0.0]))),
    "GLU": single(fixed(dim=st.integers(-5, 5))),
    "Softmin": single(fixed(dim=st.integers(-5, 5))),
    "Threshold": single(fixed(threshold=st.sampled_from([0.0, 0.5]), value=st.sampled_from([0.0, -2.0]))),
    "BatchNorm3d": single(fixed(affine=st.booleans(), track_running_stats=st.booleans()), floats(2, 5)),
    "InstanceNorm1d": single(fixed(affine=st.booleans(), track_running_stats=st.booleans()), floats(0, 3)),
    "InstanceNorm2d": single(fixed(affine=st.booleans(), track_running_stats=st.booleans()), floats(1, 4)),
    "RMSNorm": single(fixed(normalized_dims=st.integers(1, 3), eps=st.sampled_from([None, 1e-5]),
                            elementwise_affine=st.booleans())),
    "LocalResponseNorm": single(fixed(size=st.integers(1, 4), alpha=st.sampled_from([1e-4, 0.5]),
                                      beta=st.sampled_from([0.75, 1.0]), k=st.sampled_from([1.0, 2.0]))),
    "Dropout1d": single(fixed(p=st.sampled_from([0.0, 0.5])), floats(1, 3)),
    "Dropout3d": single(fixed(p=st.sampled_from([0.0, 0.5])), floats(3, 5)),
    "AlphaDropout": single(fixed(p=st.sampled_from([0.0, 0.5]))),
    "Upsample": _upsample(),
    "PixelShuffle": single(fixed(upscale_factor=st.integers(1, 3)), floats(1, 4, _SIZES)),
    "PixelUnshuffle": single(fixed(downscale_factor=st.integers(1, 3)), floats(1, 4, _SIZES)),
    **{f"{kind}Pad{n}d": _pad(n, kind == "Constant") for n in (1, 2)
       for kind in ("Zero", "Constant", "Reflection", "Replication")},
}
# refused on purpose where torch would take them: a channel dropout on another layout, RMSNorm over more
# dims than its input has, PReLU on a batch of scalars (whose channels cannot be inferred), pixel shuffles
# over more leading dims than [C, H, W]
STRICTER = {"Dropout1d", "Dropout3d", "RMSNorm", "PReLU", "PixelShuffle", "PixelUnshuffle"}
# torch reads an input one dim short of these ranks as one unbatched sample
BATCHED_RANKS = {"InstanceNorm1d": 3, "InstanceNorm2d": 4, "PixelShuffle": 4, "PixelUnshuffle": 4}
