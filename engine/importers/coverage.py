"""Which catalogue types each importer maps, and why the others cannot be imported.

`NOT_IMPORTABLE[importer]` names, for the torch.fx importer and the ONNX importer,
the catalogue types it never gives, each with the reason. What the importers *do*
map is not written down a second time: `round_trip(importer, type)` asks the
importers themselves, by compiling a one-node model of the type (its inputs
found by `sample_inputs`), handing it to the importer (the fx-traced module, or
the ONNX file Neurocanvas exports from it) and looking for the type in what comes
back. tests/engine/test_op_coverage.py checks that every type either round-trips
or is listed here, and that no listed type round-trips; `python -m
engine.importers.coverage` writes docs/import-coverage.md from these lists.
Importing this module imports no torch; `round_trip` does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from engine.shape_rules import TensorSpec, infer_node
from graphs.catalogue import CATALOGUE, CATEGORIES
from graphs.errors import ShapeError

IMPORTERS = ("torch.fx", "onnx")
_NO_LOSS = "a loss is no part of the model's forward, so no traced or exported model holds one; add it in the editor"
_NO_TARGET = "labels are no part of the model's forward; add a Target in the editor"
_NOT_IN_ONNX = "an inference ONNX file holds no dropout (torch leaves it out), so none comes back"
_ADAPTIVE_MAX = ("ONNX has no adaptive max pooling: torch writes it as a MaxPool over windows of the input, which "
                 "imports as the MaxPool of the same rank, with the same outputs; an ONNX GlobalMaxPool imports as "
                 "AdaptiveMaxPool")
_ENCODER = ("written by torch as self-attention (which comes back as MultiheadAttention), adds, LayerNorm and Linear "
            "layers, which come back as those nodes, with the same outputs")
_DECODER = ("written by torch as products of computed tensors; its self-attention comes back as MultiheadAttention, "
            "but its cross-attention (queries from the target, keys and values from the memory) maps to no node")
_SAMPLE = ("the fx importer maps a module's `mu + torch.randn_like(std) * std` (std = exp(0.5 * logvar)) to Sample, "
           "but Sample's own code scales its noise by the training flag, which does not come back; an exported "
           "model draws its noise whatever the mode, so no import would reproduce it; add Sample in the editor")
_VIEW = ("torch writes ONNX {op}, which the importer follows as a view of the tensor: it comes back as {what}, with the "
         "same outputs")
_POSITIONAL = ("torch has no positional-encoding module: a model adds a stored table or computes one from the "
               "positions (arange, cumsum, sin, cos), which maps to no Neurocanvas node; add it in the editor")
_SINUSOIDAL_FX = ("its model computes the table from the positions while it runs (cumsum, sin, cos), which maps to "
                  "no Neurocanvas node; a module that adds the classic sine/cosine buffer, "
                  "`x + self.pe[:, :x.size(1)]`, imports as SinusoidalPositionalEncoding")
_IDENTITY = "an Identity computes nothing, so the importer leaves it out and joins its input to its output"
_WRITTEN_AS = "torch writes it as {}, which map to no Neurocanvas node"
_FAMILIES_ONNX = {  # graphs/families/{activations,normalisation,resampling}.py
    "Identity": _IDENTITY,
    "Threshold": "torch writes Threshold(0, 0) as Relu, which imports as ReLU, the same function; other thresholds "
                 "(written by the dynamo exporter as LessOrEqual and Where) import as Threshold",
    "LocalResponseNorm": _WRITTEN_AS.format("Pad, AveragePool, If and Pow") + "; an ONNX LRN operator of "
                         "odd size imports as LocalResponseNorm",
    **{name: _NOT_IN_ONNX for name in ("Dropout1d", "Dropout3d", "AlphaDropout")},
    "PixelUnshuffle": "torch writes it as Reshape, Transpose and Reshape, which import as Reshape and Permute with "
                      "the same outputs; an ONNX SpaceToDepth of one channel imports as PixelUnshuffle",
}
_COMMON = {"Target": _NO_TARGET, "Sample": _SAMPLE,
           **{name: _NO_LOSS for name, spec in CATALOGUE.items() if spec.is_loss}}
NOT_IMPORTABLE: dict[str, dict[str, str]] = {
    "torch.fx": {**_COMMON, "Identity": _IDENTITY, "SinusoidalPositionalEncoding": _SINUSOIDAL_FX},
    "onnx": {
        **_COMMON,
        **dict.fromkeys(("LearnedPositionalEncoding", "SinusoidalPositionalEncoding"), _POSITIONAL),
        "Dropout": _NOT_IN_ONNX + "; an ONNX Dropout operator in inference mode is imported as Dropout",
        "Dropout2d": _NOT_IN_ONNX + ", and ONNX has no channel-wise dropout operator",
        **{f"AdaptiveMaxPool{n}d": _ADAPTIVE_MAX for n in (1, 2, 3)},
        "GroupNorm": "written by torch as InstanceNormalization between two reshapes, which the importer does "
                     "not map",
        **dict.fromkeys(("TransformerEncoderLayer", "TransformerEncoder"), _ENCODER),
        **dict.fromkeys(("TransformerDecoderLayer", "TransformerDecoder"), _DECODER),
        "Clamp": "torch writes it as ONNX Clip, which is imported as the activation with those bounds (ReLU6, "
                 "Hardtanh), not as Clamp",
        "Unflatten": "torch writes it as ONNX Reshape, which comes back as Reshape, with the same outputs",
        "Squeeze": _VIEW.format(op="Squeeze", what="a Reshape or within the next node"),
        "Unsqueeze": _VIEW.format(op="Unsqueeze", what="a Reshape or within the next node"),
        "Transpose": _VIEW.format(op="Transpose", what="Permute"),
        "Chunk": "torch writes it as ONNX Slice (or Split) nodes, which come back as Slice (or Split), with the "
                 "same outputs",
        "Stack": "torch writes it as ONNX Unsqueeze and Concat, which come back as Reshape and Concat, with the "
                 "same outputs",
        **_FAMILIES_ONNX,
    },
}
SAMPLE_SIZE = 8  # every dim of a sample input: divisible by the default group and head counts


def sample_inputs(type_name: str) -> dict[str, TensorSpec] | None:
    """Input specs on which the type, with its default params, infers: [8, 8, 8, 8], [8, 8, 8], ... down to
    [8] (the highest rank first, so a ConvNd or PoolNd gets its channels-first input), float first, then
    int64; optional ports (a recurrent layer's initial state) are left open. None for a type with no inputs
    (Input, Target) or with no such input."""
    spec = CATALOGUE[type_name]
    params = spec.resolve_params({})
    ports = [port for port in spec.input_ports(params) if port not in spec.optional]
    if not ports:
        return None
    for dtype in ("float32", "int64"):
        for rank in range(4, 0, -1):
            inputs = {port: TensorSpec((SAMPLE_SIZE,) * rank, dtype) for port in ports}
            try:
                infer_node("sample", type_name, params, inputs)
            except ShapeError:
                continue
            return inputs
    return None


def sample_graph(type_name: str):
    """A one-node model of the type: an Input per input port (`sample_inputs`), then the node (id `node`).
    None when the type is no part of a model's forward (data nodes, losses) or has no sample input."""
    from engine.ops import OPS
    from graphs.document import Graph

    inputs = sample_inputs(type_name)
    if OPS[type_name].forward is not None and not CATALOGUE[type_name].input_ports({}):
        return _sized_by_an_input(type_name)
    if inputs is None or OPS[type_name].forward is None:
        return None
    graph = Graph()
    for port, spec in inputs.items():
        graph.add_node("Input", {"shape": list(spec.shape), "dtype": spec.dtype}, f"x_{port}")
    graph.add_node(type_name, {}, "node")
    for port in inputs:
        graph.connect(f"x_{port}", "node", target_port=port)
    return graph


def _sized_by_an_input(type_name: str):
    """A type with no input (Parameter) added to an Input of its shape, which gives the batch size."""
    from graphs.document import Graph

    graph = Graph()
    graph.add_node(type_name, {}, "node")
    output = infer_node("node", type_name, CATALOGUE[type_name].resolve_params({}), {}).outputs["out"]
    graph.add_node("Input", {"shape": list(output.shape)}, "x")
    graph.add_node("Add", {}, "total")
    graph.connect("node", "total", target_port="in0")
    graph.connect("x", "total", target_port="in1")
    return graph


def round_trip(importer: str, type_name: str) -> tuple[bool, str]:
    """(whether the type comes back, what came back or why not): its one-node model (for Input, that of
    the first type that has one) is compiled, imported through `importer` and checked against the original
    outputs. The type comes back when the imported graph holds it and the outputs agree."""
    from engine.errors import UserError
    from engine.export.model import prepare_model

    model_type = type_name
    if type_name == "Input":  # every imported model's inputs become Input nodes
        model_type = next(name for name in CATALOGUE if sample_graph(name) is not None)
    graph = sample_graph(model_type)
    if graph is None:
        return False, "no one-node model of it can be built"
    compiled = prepare_model(graph, seed=0)
    try:
        types, verification = _IMPORTS[importer](compiled)
    except UserError as error:
        return False, error.message
    if verification is not None and not verification.ok:
        return False, f"imported, but the outputs differ: {verification}"
    if type_name not in types:
        return False, f"imported as {', '.join(sorted(types))}"
    return True, ", ".join(sorted(types))


def _fx_import(compiled):
    from engine.importers.torch_import import import_module, verify_module_import

    specs = [compiled.shapes.info[node].outputs["out"] for node in compiled.inputs]
    result = import_module(compiled.model, [s.shape for s in specs], input_dtypes=[s.dtype for s in specs])
    return _types(result), verify_module_import(compiled.model, result)


def _onnx_import(compiled):
    from engine.export.onnx_export import export_onnx
    from engine.importers.onnx_import import import_onnx, verify_import

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        export_onnx(compiled, path)
        result = import_onnx(path)
        return _types(result), verify_import(path, result)


def _types(result) -> set[str]:
    return {node.type for node in result.project.graph.nodes()}


_IMPORTS = {"torch.fx": _fx_import, "onnx": _onnx_import}


def markdown() -> str:
    """docs/import-coverage.md: for every catalogue type, whether each importer gives it, and if not, why."""
    reasons: dict[str, int] = {}

    def cell(importer: str, name: str) -> str:
        reason = NOT_IMPORTABLE[importer].get(name)
        if reason is None:
            return "yes"
        number = reasons.setdefault(reason, len(reasons) + 1)
        return f"no [{number}]"

    lines = ["# What imports from where", "",
             "Generated from `engine/importers/coverage.py` by `python -m engine.importers.coverage`.",
             "For every node type: whether `import-torch` (torch.fx) and `import-onnx` give it back. \"yes\" means a",
             "one-node model of the type, traced with torch.fx or exported to ONNX by Neurocanvas, imports as that",
             "node type with the same outputs; tests/engine/test_op_coverage.py checks every row both ways.", "",
             "| Category | Node type | torch.fx | ONNX |", "|---|---|---|---|"]
    for category in CATEGORIES:
        for name, spec in CATALOGUE.items():
            if spec.category == category:
                lines.append(f"| {category} | {name} | {cell('torch.fx', name)} | {cell('onnx', name)} |")
    lines += ["", "Why not:", ""]
    lines += [f"{number}. {reason}." for reason, number in reasons.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
