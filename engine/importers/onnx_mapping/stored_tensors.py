"""The tensors an ONNX file stores (initializers, sparse initializers, `Constant` values) as numpy arrays,
their data checked against their dims first.

A damaged or hostile file can claim dims its data do not fill ([4, 3] with five
floats), negative dims, dims whose product is astronomically large, data in an
external file that was never loaded, or a sparse tensor of [1e5, 1e5]. Each is
a `UserError` naming the tensor, raised before `numpy_helper.to_array` (or the
densifying of a sparse tensor, or reading an external data file) allocates anything.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from engine.errors import UserError, reason
from engine.memory_budget import available_bytes, gigabytes
from graphs.errors import quoted

# element types packed below one byte: their counting rules are not worth the risk for weights Neurocanvas
# cannot use anyway (quantised models)
_PACKED = {"UINT4", "INT4", "FLOAT4E2M1", "UINT2", "INT2", "FLOAT6E2M3", "FLOAT6E3M2"}
_TWO_PER_ELEMENT = {"COMPLEX64", "COMPLEX128"}  # real and imaginary parts, stored one after the other


class DamagedTensor(UserError):
    """A tensor stored in the ONNX file does not hold what its header declares."""


def _type_name(tensor) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(tensor.data_type)
    except ValueError:
        return str(tensor.data_type)


def element_count(dims, what: str) -> int:
    """The product of `dims`, which must be non-negative."""
    dims = [int(d) for d in dims]
    if any(d < 0 for d in dims):
        raise DamagedTensor(f"{what} has negative dims {dims}; the file is damaged")
    return math.prod(dims)


def _check_stored(tensor, what: str) -> None:
    from onnx import TensorProto, helper

    name = _type_name(tensor)
    if tensor.data_type == TensorProto.UNDEFINED or name in _PACKED or name.isdigit():
        raise DamagedTensor(f"{what} has element type {name.lower()}, which Neurocanvas cannot read")
    if tensor.data_location == TensorProto.EXTERNAL:
        raise DamagedTensor(f"{what} keeps its data in an external file that was not loaded",
                            "Give the path of the .onnx file, with its data file beside it.")
    count = element_count(tensor.dims, what)
    dims = [int(d) for d in tensor.dims]
    if tensor.HasField("raw_data"):
        itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        stored, needed, unit = len(tensor.raw_data), count * itemsize, "bytes"
    else:
        stored = len(getattr(tensor, helper.tensor_dtype_to_field(tensor.data_type)))
        needed, unit = count * (2 if name in _TWO_PER_ELEMENT else 1), "values"
    if stored != needed:
        raise DamagedTensor(f"{what} holds {stored:,} {unit} of data, but its dims {dims} need {needed:,}; "
                            "the file is damaged")


def stored_array(tensor, what: str) -> np.ndarray:
    """A dense TensorProto as an array, after checking its data match its dims (`DamagedTensor` if not)."""
    from onnx import numpy_helper

    _check_stored(tensor, what)
    try:
        return numpy_helper.to_array(tensor)
    except Exception as error:  # noqa: BLE001 - anything else onnx refuses in a tensor
        raise DamagedTensor(f"{what} cannot be read ({type(error).__name__}: {error})") from None


def sparse_array(sparse, what: str) -> np.ndarray:
    """A SparseTensorProto made dense, after checking its dims, its values and its indices."""
    dims = [int(d) for d in sparse.dims]
    count = element_count(dims, what)
    values = stored_array(sparse.values, f"the values of {what}").reshape(-1)
    size = count * values.dtype.itemsize
    available = available_bytes()
    if available is not None and size > available // 2:
        raise DamagedTensor(f"{what} claims dims {dims}, which take {gigabytes(size)} as a dense tensor; "
                            f"this computer has {gigabytes(available)} of memory available")
    indices = stored_array(sparse.indices, f"the indices of {what}")
    rows = indices.shape[0] if indices.ndim else 0
    if indices.dtype != np.int64 or indices.ndim not in (1, 2) or rows != values.size or (
            indices.ndim == 2 and indices.shape[1] != len(dims)):
        raise DamagedTensor(f"{what} has {values.size} values but indices of shape {list(indices.shape)} "
                            f"({indices.dtype}); the file is damaged")
    bounds = np.array([count] if indices.ndim == 1 else dims, dtype=np.int64)
    if rows and ((indices < 0).any() or (indices.reshape(rows, -1) >= bounds).any()):
        raise DamagedTensor(f"{what} has indices outside its dims {dims}; the file is damaged")
    dense = np.zeros(count, dtype=values.dtype)
    flat = indices if indices.ndim == 1 else np.ravel_multi_index(tuple(indices.T), tuple(dims))
    dense[flat] = values
    return dense.reshape(dims)


def _external_tensors(graph):
    """The tensors of `graph` (initializers, sparse ones, node attributes, subgraphs) kept in external files."""
    from onnx import TensorProto

    tensors = [*graph.initializer, *(s.values for s in graph.sparse_initializer),
               *(s.indices for s in graph.sparse_initializer)]
    for node in graph.node:
        for attribute in node.attribute:
            tensors.extend([attribute.t, *attribute.tensors])
            for subgraph in [attribute.g, *attribute.graphs]:
                tensors.extend(_external_tensors(subgraph))
    return [t for t in tensors if t.data_location == TensorProto.EXTERNAL]


def load_external_data(model, folder) -> None:
    """Read the external data of `model` (loaded without it) from `folder`, after checking that each file is
    there and holds what the tensor's dims need, and that all of it fits in the available memory."""
    from onnx import helper
    from onnx.external_data_helper import ExternalDataInfo, load_external_data_for_model

    tensors = _external_tensors(model.graph)
    if not tensors:
        return
    total = 0
    for tensor in tensors:
        what = f"tensor {quoted(tensor.name)}"
        info = ExternalDataInfo(tensor)
        needed = element_count(tensor.dims, what) * helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        file = Path(folder, info.location or "").resolve()
        beside = info.location and file.is_relative_to(Path(folder).resolve()) and file.is_file()
        size = file.stat().st_size if beside else None
        if size is None:
            raise DamagedTensor(f"{what} keeps its data in {quoted(info.location)}, which is not a file beside "
                                "the model")
        if (info.length or needed) != needed or (info.offset or 0) + needed > size:
            raise DamagedTensor(f"{what} needs {needed:,} bytes from {quoted(info.location)}, which holds "
                                f"{size:,} bytes from offset {info.offset or 0}; the file is damaged")
        total += needed
    available = available_bytes()
    if available is not None and total > available // 2:
        raise DamagedTensor(f"the model's external data take {gigabytes(total)}, and this computer has "
                            f"{gigabytes(available)} of memory available")
    try:
        load_external_data_for_model(model, str(folder))
    except Exception as error:  # noqa: BLE001 - onnx refuses a location outside the folder, a link, ...
        raise DamagedTensor(f"the model's external data cannot be read ({reason(error)})") from None
