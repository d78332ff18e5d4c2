"""Import an ONNX model as a Neurocanvas graph, with its weights.

`import_onnx(path_or_model)` returns an `ImportResult` (project + weights keyed
`<node_id>.<param>`); `import_onnx_file(model, project)` also writes
`PROJECT.json` and `PROJECT.safetensors`; `verify_import` runs the original in
onnxruntime and the imported graph in torch on the same random inputs. The
mapping itself is `engine.importers.onnx_mapping`.

How the model is read:
- Every graph input that is not an initializer becomes an Input node. Its first
  dimension is the batch (dynamic or fixed); the others must be fixed. Inputs are
  float32 or int64, and all must share the batch.
- Nodes that compute only on constants (initializers, `Constant`, weights made
  with `ConstantOfShape`, a transposed weight) are evaluated once, with the
  onnx reference implementation. Shape arithmetic (`Shape -> Gather -> Concat ->
  Reshape`, as torch exports `x.reshape(x.size(0), ...)`) is followed
  symbolically, the batch size being a symbol.
- Chains of element-wise ops that compute one activation of x (GELU, exact or
  tanh, and SiLU as torch exports them) become that activation node; they are
  recognised by evaluating the chain, not by its exact spelling.
- A constant added to or multiplied into the output of Linear/Conv/BatchNorm
  (MatMul + Add, Conv + Mul, BatchNorm + scale) is folded into that layer's
  weights when nothing else reads the layer's output.
- Transposes, Squeeze and Unsqueeze are kept as views until a node needs the
  tensor, which then gets a Permute and/or Reshape; a view may move the batch
  only on the way into or out of an LSTM/GRU (ONNX's time-major layout).
- Any node that cannot be mapped exactly makes the whole import fail with
  `ImportRefused`, listing every unmapped operator with its count and every
  other node that cannot be mapped with the reason. Nothing is ever dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from engine.check_sizes import check_inputs, check_shapes, onnx_at_check_sizes
from engine.errors import UserError, reason
from engine.importers.common import (
    UNCHECKED,
    ImportedFiles,
    ImportResult,
    Verification,
    compare_outputs,
    save_verified,
)
from engine.importers.onnx_mapping.importer import MAPPED_OPERATORS, OnnxImporter
from engine.importers.onnx_mapping.stored_tensors import load_external_data
from engine.memory_budget import TooLarge

__all__ = ["MAPPED_OPERATORS", "import_onnx", "import_onnx_file", "load_onnx", "verify_import"]


def load_onnx(source) -> tuple:
    """(ModelProto, display name) from a path or a ModelProto; UserError if it can't be read."""
    import onnx

    if isinstance(source, onnx.ModelProto):
        return source, source.graph.name or "model"
    path = Path(source)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise UserError(f"ONNX file {path} {what}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf DecodeError, ...
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path} is not a readable ONNX model ({first})") from None
    if not model.graph.node and not model.graph.output:
        raise UserError(f"{path} is not an ONNX model (it holds no graph)")
    try:
        load_external_data(model, path.parent)  # sizes checked before anything is read
    except UserError as error:
        raise UserError(f"{path}: {error.message}", error.hint) from None
    return model, str(path)


def import_onnx(source, name: str | None = None, units: bool = False) -> ImportResult:
    """Map an ONNX model (a path or a ModelProto) to a Neurocanvas project with its weights.

    Raises `UserError` when the file can't be read and `ImportRefused` (a UserError) listing
    every unmapped operator and every node that can't be mapped exactly. With `units`, the module
    hierarchy a torch export recorded becomes units (`engine.importers.onnx_mapping.hierarchy`).
    """
    model, display = load_onnx(source)
    if name is None:
        name = Path(display).stem if isinstance(source, (str, os.PathLike)) else display
    return OnnxImporter(model, display, units).run(name)


def import_onnx_file(model_path, project_path, weights_path=None, verify: bool = True,
                     units: bool = True) -> ImportedFiles:
    """Import `model_path` and write the project and its weights (`PROJECT.safetensors` beside it).

    With `verify` the import is first run against onnxruntime on random inputs, and
    `ImportMismatch` is raised (nothing written) if the outputs differ.
    """
    model, display = load_onnx(model_path)  # read once: the weights may be large
    result = OnnxImporter(model, display, units).run(Path(project_path).stem)
    verification = verify_import(model, result, display=display) if verify else None
    return save_verified(result, verification, display, project_path, weights_path)


def verify_import(source, result: ImportResult, batch: int = 2, seed: int = 0,
                  display: str | None = None) -> Verification | None:
    """Run the original model in onnxruntime and the imported graph in torch on the same random inputs
    (None if onnxruntime cannot run the original). The inputs are smaller than declared where the
    graph allows and the declared size would not fit in memory (`engine.check_sizes`)."""
    import onnxruntime

    model, name = load_onnx(source)
    display = display or name
    compiled = result.compiled
    batch = _fixed_batch(model) or batch
    shapes = check_shapes(compiled, batch, UNCHECKED)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(onnx_at_check_sizes(model, shapes, result.inputs), options,
                                               providers=["CPUExecutionProvider"])
    except Exception:  # an operator onnxruntime lacks: nothing to compare against
        return None
    tensors = check_inputs(compiled, batch, seed, shapes)
    by_node = dict(zip(compiled.inputs, tensors))
    feeds = {name: by_node[node].numpy() for name, node in result.inputs.items() if node in by_node}
    with torch.no_grad():
        outputs = compiled.model(*tensors)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    by_output = dict(zip(compiled.outputs, outputs))
    names = list(result.outputs)
    try:
        expected = session.run(names, feeds)
    except Exception as error:  # noqa: BLE001 - onnxruntime's own exception types
        if not shapes.reduced:
            raise
        raise TooLarge(f"{display} is too large to check at its declared input size, and it does not run at a "
                       f"smaller one in onnxruntime ({reason(error)})",
                       UNCHECKED) from None
    pairs = [(by_output[result.outputs[name]], torch.tensor(want)) for name, want in zip(names, expected)]
    return compare_outputs(pairs, "onnxruntime")


def _fixed_batch(model) -> int | None:
    """The batch size the model's first input declares, if it declares one."""
    constants = {tensor.name for tensor in model.graph.initializer}
    for info in model.graph.input:
        if info.name not in constants:
            dims = info.type.tensor_type.shape.dim
            return dims[0].dim_value if dims and dims[0].HasField("dim_value") and dims[0].dim_value > 0 else None
    return None
