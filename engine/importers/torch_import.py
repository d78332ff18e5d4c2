"""Import a user's `nn.Module` as a Neurocanvas graph with its weights, by tracing it with torch.fx.

`import_module(module, input_shapes)` traces the module symbolically and maps
each traced operation to a catalogue node:
- submodules of catalogue types (nn.Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d,
  Embedding, pools, norms, dropouts, LSTM/GRU, MultiheadAttention,
  TransformerEncoderLayer, activations, nn.Flatten) become nodes whose
  state_dict keys are renamed `<submodule path>.<param>` -> `<node_id>.<param>`;
- functions and methods: `+`/torch.add -> Add, `*`/torch.mul -> Multiply,
  torch.cat -> Concat, torch.flatten/x.flatten -> Flatten, x.view/x.reshape ->
  Reshape (`x.view(x.size(0), -1)` works: the batch size is followed
  symbolically), x.permute/x.transpose -> Permute, F.relu & co -> activations,
  F.max_pool2d & co -> pools, F.dropout -> Dropout; `lstm(x)[0]` and
  `out[:, -1]` pick the LSTM's output='sequence'/'last';
- anything else (another module type, a tensor method or function with no node,
  a parameter used directly, a constant operand) is refused with `ImportRefused`,
  which names every such part as the user wrote it (`self.drop_path`, a custom
  module `DropPath`; a function and its source line) with what to do about it;
- a submodule called several times becomes one node per call: those of a module
  with weights share the first call's node's weights (`shares`), so tied weights
  stay tied.

The params of each node are read from the module and checked against what
Neurocanvas infers from the traced shapes (in_features, in_channels,
normalized_shape, input_size, ...): a module whose own sizes disagree with the
given input shape is refused, naming both numbers.
`import_torch_class("pkg.module:Class")` imports the module from the current
folder / PYTHONPATH and creates `Class()` with no arguments. The mapping itself
is `engine.importers.torch_mapping`.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import torch
from torch import nn

from engine.check_sizes import check_inputs, check_shapes
from engine.errors import UserError
from engine.importers.common import (
    UNCHECKED,
    ImportedFiles,
    ImportResult,
    Verification,
    compare_outputs,
    save_verified,
)
from engine.importers.torch_mapping.importer import TorchImporter
from engine.importers.torch_mapping.modules import IDENTITY_MODULES, MODULE_TYPES
from engine.importers.torch_mapping.sampling import zero_noise
from engine.importers.torch_mapping.tracing import trace_for_import, user_frame

__all__ = ["import_module", "import_torch_class", "import_torch_file", "load_module_class", "parse_shape",
           "verify_module_import"]


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,8,8' -> (1, 8, 8); '' -> () ; UserError for anything else."""
    text = text.strip().strip("[]()")
    if not text:
        return ()
    try:
        dims = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise UserError(f"input shape '{text}' is not a list of sizes such as 1,8,8") from None
    if any(d < 1 for d in dims):
        raise UserError(f"input shape '{text}' must hold positive sizes")
    return dims


def load_module_class(spec: str, search_cwd: bool = True) -> nn.Module:
    """Create `Class()` from 'package.module:Class' (the module importable from the cwd or PYTHONPATH)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UserError(f"'{spec}' is not of the form module:Class (e.g. mymodels:Net)")
    if search_cwd and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.split(".")[: len(error.name.split("."))] == error.name.split("."):
            raise UserError(f"cannot import module '{module_name}': no such module in the current folder or on "
                            "PYTHONPATH") from None
        raise UserError(f"importing module '{module_name}' failed: {error}") from None
    except Exception as error:  # the user's code raised while importing
        raise UserError(f"importing module '{module_name}' failed: {type(error).__name__}: {error}") from None
    target = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise UserError(f"module '{module_name}' has no '{attribute}'")
    if not (isinstance(target, type) and issubclass(target, nn.Module)):
        raise UserError(f"'{spec}' is not an nn.Module class")
    try:
        return target()
    except Exception as error:  # the user's constructor
        raise UserError(f"{attribute}() failed: {type(error).__name__}: {error}",
                        "Neurocanvas creates the model with no arguments; give every argument a default.") from None


def _module_with_weights(spec: str, weights=None) -> nn.Module:
    """`load_module_class(spec)`, with its weights from a safetensors file if given."""
    module = load_module_class(spec)
    if weights is not None:
        from engine.weights import load_weights

        load_weights(module, weights)
    return module


def import_torch_class(spec: str, input_shapes=None, weights=None, name: str | None = None, units: bool = True):
    """Import 'module:Class' (created with no arguments; weights from a safetensors file if given)."""
    module = _module_with_weights(spec, weights)
    return import_module(module, input_shapes, name=name or spec.partition(":")[2], units=units)


def import_torch_file(spec: str, project_path, input_shapes=None, weights=None, weights_path=None,
                      verify: bool = True, keep_custom: bool = False, units: bool = True) -> ImportedFiles:
    """Import 'module:Class' and write PROJECT.json with PROJECT.safetensors beside it.

    With `verify` the graph is first run against the module on random inputs, and
    `ImportMismatch` is raised (nothing written) if the outputs differ.
    """
    module = _module_with_weights(spec, weights)
    if keep_custom:  # an unmapped custom module becomes a custom layer node (engine.custom_layers.keep): a flat import
        from engine.custom_layers.keep import import_keeping_custom

        result = import_keeping_custom(module, input_shapes, name=Path(project_path).stem)
    else:
        result = import_module(module, input_shapes, name=Path(project_path).stem, units=units)
    verification = verify_module_import(module, result) if verify else None
    return save_verified(result, verification, spec, project_path, weights_path)


def verify_module_import(module: nn.Module, result: ImportResult, batch: int = 2, seed: int = 0) -> Verification:
    """Run the module and the imported graph (both in eval mode) on the same random inputs."""
    compiled = result.compiled
    inputs = check_inputs(compiled, batch, seed, check_shapes(compiled, batch, UNCHECKED))  # small where it can be
    by_node = dict(zip(compiled.inputs, inputs))
    shapes = {n.id: n.params["shape"] for n in result.project.graph.nodes() if n.type == "Input"}
    ordered = [by_node[node] if node in by_node else torch.zeros(()).expand(batch, *shapes[node])  # unused
               for node in result.inputs.values()]
    was_training = module.training
    module.eval()
    try:
        sampled = any(n.type == "Sample" for n in result.project.graph.nodes())
        with torch.no_grad():
            with zero_noise(sampled):  # Sample passes the mean in eval; a module sampling in eval is held to it
                expected = module(*ordered)
            got = compiled.model(*inputs)
    finally:
        module.train(was_training)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    by_output = dict(zip(compiled.outputs, got))
    pairs = [(by_output[result.outputs[f"output_{index}"]], want) for index, want in enumerate(expected)]
    return compare_outputs(pairs, "the module")


def import_module(module: nn.Module, input_shapes=None, name: str | None = None,
                  input_dtypes=None, units: bool = False) -> ImportResult:
    """Trace `module` with torch.fx and map it to a Neurocanvas project with the module's weights.

    `input_shapes` gives one shape per forward argument, without the batch (a Linear first
    layer lets it be guessed). Raises `ImportRefused` naming every part that cannot be mapped.
    With `units` the module hierarchy becomes units (`engine.importers.unit_grouping`), as
    `import_torch_file` and the `import-torch` command do; without, the graph is flat.
    """
    name = name or type(module).__name__
    try:
        traced, untraceable = trace_for_import(module)
    except Exception as error:  # TraceError for control flow, anything from the user's forward
        where = user_frame(error)
        raise UserError(f"cannot trace {type(module).__name__} with torch.fx{where}: "
                        f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}",
                        "Neurocanvas imports modules whose forward is a fixed sequence of layers "
                        "(no Python if/for on tensor values).") from None
    return TorchImporter(module, traced, name, untraceable, units).run(input_shapes, input_dtypes)


# what the importer maps, for the docs and the report
SUPPORTED_MODULES = sorted(f"nn.{t.__name__}" for t in [*MODULE_TYPES, *IDENTITY_MODULES])
