"""PyTorch-code export: a standalone, readable `.py` file holding the model as an `nn.Module`.

The file needs only torch and safetensors. `__init__` builds every submodule
with the same constructor call the compiler used (`engine.modules.constructor`),
written with only the arguments that differ from torch's defaults; `forward` is
printed from the compiled fx graph (`forward_code`). Submodules keep the node
ids as attribute names, so the state_dict keys (`conv1.weight`) match the
compiled model and weights move between the two unchanged. The file also has
`load(path)`, which builds the model from a safetensors file, `example_inputs`,
and a `__main__` demo that runs a random batch and prints the output shapes.
"""

from __future__ import annotations

import contextlib
import inspect
import keyword
import os
import re
import tempfile
from pathlib import Path

import torch
from torch import nn

from engine.check_sizes import check_shapes
from engine.compiler import CompiledGraph, _index_bound
from engine.custom_layers import export as custom_layers
from engine.errors import UserError
from engine.export import python_predict as predicting
from engine.export.forward_code import forward_source, literal
from engine.export.model import (
    ExportError,
    eval_copy,
    export_safetensors,
    max_difference,
    run_model,
    sample_inputs,
)
from engine.export.python_predict import PredictionCode, tokenizer_path
from engine.modules import constructor
from engine.ops.base import Submodule
from engine.ops.tensors import parameter_init
from engine.output_paths import StagedOutputs
from engine.shapes import fmt
from engine.weights import read_weights
from graphs.document import Graph

LINE_LENGTH = 110  # the project's ruff line length
DEFAULT_CLASS_NAME = "Model"
# arguments torch accepts as an int or a tuple: (3, 3) is written as 3
_INT_OR_TUPLE = {"kernel_size", "stride", "padding", "dilation", "output_padding", "output_size"}
# the generated file's other top-level names
_FILE_GLOBALS = frozenset({"sys", "Path", "torch", "nn", "load_file", "WEIGHTS", "OUTPUTS", "load", "example_inputs",
                           # the predicting part (engine.export.python_predict)
                           "CLASS_NAMES", "PREPROCESSING", "INPUT_SHAPE", "INPUT_DTYPE", "OUTPUT_INDEX", "INPUTS_HELP",
                           "IMAGE_SUFFIXES", "TOKENIZER", "read_inputs", "prepare", "scores", "predict"})


def class_name_for(project_name: str | None) -> str:
    """A class name from a project name: 'digits-lstm' -> 'DigitsLstm'."""
    words = re.findall(r"[A-Za-z0-9]+", project_name or "")
    name = "".join(word[:1].upper() + word[1:] for word in words)
    if not name:
        return DEFAULT_CLASS_NAME
    return f"{DEFAULT_CLASS_NAME}{name}" if name[0].isdigit() else name


def export_python(compiled: CompiledGraph, graph: Graph, path: str | os.PathLike, *,
                  weights_path: str | os.PathLike | None = None, class_name: str | None = None,
                  project_name: str | None = None, staging: StagedOutputs | None = None,
                  prediction: PredictionCode | None = None) -> Path:
    """Write the model as a standalone `.py` file; with `weights_path`, also write the compiled model's
    weights there (safetensors) and make the file load them by default.

    The two files appear together or not at all. With `staging` they are written to its temporaries
    and appear when its `with` block ends (so the caller can check them first).
    `graph` must be the graph `compiled` was compiled from (it supplies each node's type and params).
    With `prediction` (see `engine.export.python_predict`) the file also predicts from files, and a text
    model's tokenizer is written beside it (`tokenizer_path`).
    """
    path = Path(path)
    check_shapes(compiled, 3)  # refuses a model too large to check, before anything is written
    class_name = class_name or class_name_for(project_name)
    weights_ref = None
    if weights_path is not None:
        weights_path = Path(weights_path)
        weights_ref = _weights_reference(path, weights_path)
    source = python_source(compiled, graph, class_name=class_name, project_name=project_name,
                           weights_reference=weights_ref, file_name=path.name, prediction=prediction)
    with contextlib.nullcontext(staging) if staging else StagedOutputs() as staged:
        if weights_path is not None and not _already_holds(weights_path, compiled):  # e.g. the trained weights
            export_safetensors(compiled, staged.temporary(weights_path))
        code = staged.temporary(path)
        tokenizer = prediction.tokenizer if prediction is not None else None
        try:
            if tokenizer is not None:
                staged.temporary(tokenizer_path(path)).write_text(tokenizer, encoding="utf-8")
            code.write_text(source, encoding="utf-8")
            custom_layers.write_copies(graph, path, staged)
        except OSError as error:
            raise ExportError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def _already_holds(weights_path: Path, compiled: CompiledGraph) -> bool:
    """Whether the file exists and holds exactly the compiled model's weights (so it is left as it is)."""
    if not weights_path.is_file():
        return False
    try:
        saved = read_weights(weights_path)
    except UserError:
        return False
    state = compiled.model.state_dict()
    return saved.keys() == state.keys() and all(
        saved[name].dtype == tensor.dtype and torch.equal(saved[name], tensor.detach().cpu())
        for name, tensor in state.items())


def _weights_reference(code_path: Path, weights_path: Path) -> str:
    """The expression the generated file uses for its default weights: next to itself when possible."""
    if weights_path.resolve().parent == code_path.resolve().parent:
        return f"Path(__file__).with_name({literal(weights_path.name)})"
    return f"Path({literal(str(weights_path.resolve()))})"


def python_source(compiled: CompiledGraph, graph: Graph, *, class_name: str = DEFAULT_CLASS_NAME,
                  project_name: str | None = None, weights_reference: str | None = None,
                  file_name: str = "model.py", prediction: PredictionCode | None = None) -> str:
    """The text of the generated file (see `export_python`); `weights_reference` is a Python
    expression for the default weights path, or None when no weights go with the file."""
    if not class_name.isidentifier() or keyword.iskeyword(class_name) or class_name in _FILE_GLOBALS:
        raise ExportError(f"{class_name!r} cannot be the class name: use a Python identifier other than "
                          f"{', '.join(sorted(_FILE_GLOBALS))}")
    unit_classes = []
    if graph.uses_units():  # a class per unit (engine.export.unit_classes)
        from engine.export.unit_classes import unit_code

        unit_classes, init_lines, forward_lines = unit_code(compiled, graph, class_name, set(_FILE_GLOBALS))
    else:
        init_lines = _init_lines(compiled, graph)
        forward_lines = forward_source(compiled.model.graph, set(compiled.shapes.info))
    init = [f"        {line}" for line in init_lines]
    forward = [f"    {line}" for line in forward_lines]
    constants = [f"WEIGHTS = {weights_reference}"] if weights_reference else []
    constants.append(f"OUTPUTS = {literal(tuple(compiled.outputs))}")
    if prediction is not None:
        constants += predicting.constants(prediction) + predicting.more_constants(prediction)
    model_class = "\n".join([f"class {class_name}(nn.Module):", "    def __init__(self):",
                             "        super().__init__()", *init, "", *forward])
    head = [  # separated by one blank line
        _docstring(compiled, class_name, project_name, file_name, prediction is not None),
        _imports(weights_reference is not None or prediction is not None, predicting.standard_imports(prediction)),
        *(["\n".join(custom_layers.import_lines(graph))] if graph.custom_types else []),
        "\n".join(constants),
    ]
    definitions = [  # separated by two
        *unit_classes,
        model_class,
        _load_function(class_name, weights_reference is not None),
        _example_inputs_function(compiled),
        *(predicting.functions(prediction) if prediction is not None else []),
        (predicting.main_block(class_name, weights_reference is not None) if prediction is not None
         else _main_block(class_name, weights_reference is not None)),
    ]
    return "\n\n".join(block.strip("\n") for block in head) + "\n\n\n" + \
        "\n\n\n".join(block.strip("\n") for block in definitions) + "\n"


def _docstring(compiled: CompiledGraph, class_name: str, project_name: str | None, file_name: str,
               predicts: bool = False) -> str:
    origin = f"the Neurocanvas project '{_plain(project_name)}'" if project_name else "a Neurocanvas graph"
    inputs = [f"    {node}: {spec.dtype} {_batched(spec.shape)}" for node, spec in _input_specs(compiled)]
    outputs = [f"    {name}: {_batched(compiled.shapes.info[node].outputs[port].shape)}"
               for name, (node, port) in zip(compiled.outputs, compiled.output_sources)]
    return "\n".join([
        f'"""{class_name}: the model of {origin}, as plain PyTorch.', "",
        "Inputs:", *inputs, "Outputs:", *outputs, "",
        *(["Needs torch and safetensors (and Pillow for images, tokenizers for text; nothing more for WAV files).",
            "Predict from files:",
            f"    python {_plain(file_name)} [WEIGHTS.safetensors] INPUT..."] if predicts else
          ["Needs only torch and safetensors. Try it on a random batch:",
           f"    python {_plain(file_name)} [WEIGHTS.safetensors]"]), '"""', "",
    ])


def _plain(text: str) -> str:
    """Text safe inside the generated docstring: no quotes, backslashes or line breaks."""
    return re.sub(r"[^\w .,:;()+\-]", "_", text)


def _batched(shape) -> str:
    return fmt(("batch", *shape))


def _imports(with_weights_path: bool, more: tuple[str, ...] = ()) -> str:
    standard = [*more, "import sys", *(["from pathlib import Path"] if with_weights_path else [])]
    third_party = ["import torch", "from safetensors.torch import load_file", "from torch import nn"]
    return "\n".join(standard) + "\n\n" + "\n".join(third_party) + "\n"


def _init_lines(compiled: CompiledGraph, graph: Graph) -> list[str]:
    """`self.<id> = nn.<Class>(...)` for each submodule and `nn.Parameter(...)` for each learned tensor
    (a Parameter node's), in the order forward uses them."""
    lines = []
    called = dict.fromkeys(node.target for node in compiled.model.graph.nodes
                           if node.op == "call_module" or node.op == "get_attr" and node.target != "training")
    for node_id in called:
        if not graph.has_node(node_id):
            raise ExportError(f"node '{node_id}' of the compiled model is not in the graph; compile it again")
        node = graph.node(node_id)
        if node.type == "Parameter":
            lines.append(_parameter_line(node_id, node.resolved_params()))
            continue
        if node.spec.op is not None:  # a custom layer: its own class, imported from the copy of its file
            custom_class, arguments = custom_layers.init_call(node, compiled.shapes.inputs[node_id])
            lines.append(_wrapped_call(f"self.{node_id} = {custom_class}", arguments, indent=8))
            continue
        class_name, kwargs = constructor(node.type, node.resolved_params(), compiled.shapes.inputs[node_id])
        compiled_class = type(compiled.model.get_submodule(node_id)).__name__
        if compiled_class != class_name:
            raise ExportError(f"node '{node_id}' is a {class_name} in the graph but a {compiled_class} in the "
                              "compiled model; compile it again")
        lines.append(_wrapped_call(f"self.{node_id} = nn.{class_name}", _explicit_arguments(class_name, kwargs),
                                   indent=8))
    return lines


def _parameter_line(node_id: str, params: dict) -> str:
    """`self.<id> = nn.Parameter(nn.init.<init>(torch.empty(1, *shape), ...))`, as the compiler made it."""
    init, kwargs = parameter_init(params)
    arguments = [f"torch.empty({', '.join(str(d) for d in (1, *params['shape']))})",
                 *(f"{key}={literal(value)}" for key, value in kwargs.items())]
    return f"self.{node_id} = nn.Parameter(nn.init.{init}({', '.join(arguments)}))"


def _explicit_arguments(class_name: str, kwargs: dict) -> list[str]:
    """`name=value` for each argument that differs from torch's default, in the signature's order."""
    return [f"{name}={text}" for name, text, default in constructor_arguments(class_name, kwargs) if not default]


def constructor_arguments(class_name: str, kwargs: dict) -> list[tuple[str, str, bool]]:
    """(name, value as Python, whether it is torch's default) for each argument of `nn.<class_name>`, in the
    signature's order."""
    parameters = _constructor_parameters(getattr(nn, class_name))
    ordered = [name for name in parameters if name in kwargs] + [name for name in kwargs if name not in parameters]
    arguments = []
    for name in ordered:
        value = kwargs[name]
        if isinstance(value, Submodule):  # e.g. TransformerEncoder(encoder_layer=nn.TransformerEncoderLayer(...))
            inner = ", ".join(_explicit_arguments(value.module, value.kwargs))
            arguments.append((name, f"nn.{value.module}({inner})", False))
            continue
        if name in _INT_OR_TUPLE and isinstance(value, tuple) and value and len(set(value)) == 1:
            value = value[0]
        default = parameters[name].default if name in parameters else inspect.Parameter.empty
        arguments.append((name, literal(value), _is_default(value, default)))
    return arguments


def _constructor_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The named constructor parameters: nn.LSTM takes `*args, **kwargs` and passes them to RNNBase."""
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            parameters = inspect.signature(klass.__init__).parameters
            if not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters.values()):
                return {name: p for name, p in parameters.items() if name != "self"}
    return {}


def _is_default(value, default) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if callable(default) and isinstance(value, str):  # activation="relu" against F.relu
        return getattr(default, "__name__", None) == value
    return type(value) is type(default) and value == default


def _wrapped_call(prefix: str, arguments: list[str], indent: int) -> str:
    """`prefix(a, b)` on one line when it fits, else the arguments on a line of their own, else one a line."""
    one_line = f"{prefix}({', '.join(arguments)})"
    if indent + len(one_line) <= LINE_LENGTH:
        return one_line
    inner, outer = " " * (indent + 4), " " * indent
    joined = ", ".join(arguments)
    if len(inner) + len(joined) <= LINE_LENGTH:
        return f"{prefix}(\n{inner}{joined}\n{outer})"
    return f"{prefix}(\n" + "".join(f"{inner}{argument},\n" for argument in arguments) + f"{outer})"


def _load_function(class_name: str, with_default: bool) -> str:
    signature = "path=WEIGHTS" if with_default else "path"
    return (f"def load({signature}):\n"
            f'    """A {class_name} holding the weights of a safetensors file, in eval mode."""\n'
            f"    model = {class_name}()\n"
            "    model.load_state_dict(load_file(str(path)))\n"
            "    return model.eval()\n")


def _input_specs(compiled: CompiledGraph):
    return [(node_id, compiled.shapes.info[node_id].outputs["out"]) for node_id in compiled.inputs]


def _example_inputs_function(compiled: CompiledGraph) -> str:
    tensors = []
    for node_id, spec in _input_specs(compiled):
        shape = ", ".join(["batch", *(str(d) for d in spec.shape)])
        if spec.dtype == "int64":
            size = f"({shape},)" if not spec.shape else f"({shape})"
            tensors.append(f"torch.randint(0, {_index_bound(compiled, node_id)}, {size})")
        else:
            tensors.append(f"torch.randn({shape})")
    body = f"({tensors[0]},)" if len(tensors) == 1 else f"({', '.join(tensors)})"
    return ("def example_inputs(batch=2):\n"
            '    """A random batch for each model input (integer inputs as valid indices)."""\n'
            f"    return {body}\n")


def _main_block(class_name: str, with_default: bool) -> str:
    default = "WEIGHTS" if with_default else "None"
    return (
        'if __name__ == "__main__":\n'
        f"    weights = sys.argv[1] if len(sys.argv) > 1 else {default}\n"
        "    if weights is None:\n"
        '        print("no weights file given: the model has random initial weights")\n'
        f"        model = {class_name}().eval()\n"
        "    else:\n"
        "        model = load(weights)\n"
        "    with torch.no_grad():\n"
        "        outputs = model(*example_inputs())\n"
        "    if not isinstance(outputs, tuple):\n"
        "        outputs = (outputs,)\n"
        "    for name, output in zip(OUTPUTS, outputs):\n"
        '        print(f"{name}: {list(output.shape)}")'
    )


def verify_python(compiled: CompiledGraph, path: str | os.PathLike, batch: int = 3, seed: int = 0) -> float:
    """Import the generated file, load the compiled model's weights through its `load`, run both
    models on the same random inputs and return the largest absolute difference."""
    path = Path(path)
    # run as a module would be imported, but without leaving a __pycache__ next to the user's file
    namespace = {"__name__": "neurocanvas_exported_model", "__file__": str(path)}
    try:
        with custom_layers.importable(compiled.graph):
            exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
        with tempfile.TemporaryDirectory() as folder:
            model = namespace["load"](export_safetensors(compiled, Path(folder) / "weights.safetensors"))
    except Exception as error:  # whatever the generated code raises is an export failure
        raise ExportError(f"the generated file {path} does not build the model: "
                          f"{type(error).__name__}: {error}") from None
    inputs = sample_inputs(compiled, batch, seed)
    return max_difference(run_model(eval_copy(compiled), inputs), run_model(model, inputs))
