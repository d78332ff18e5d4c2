"""What every op entry is made of: tensor specs, the inference context, and the `Op` record.

An `Op` is the engine's whole knowledge of one node type beside its shape rule:
the `torch.nn` class that builds it (a name, resolved by `engine.modules`), how
its constructor arguments differ from its params, and how `forward` uses it (a
recipe written against the small `Emitter` interface the compiler implements
over torch.fx). Everything here is plain data and plain Python: no torch, so
shape inference stays torch-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphs.errors import ShapeError


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str = "float32"

    def __str__(self) -> str:
        return fmt(self.shape)


@dataclass(frozen=True)
class NodeInfo:
    """What inference knows about one node."""

    outputs: dict  # port -> TensorSpec
    params: int = 0
    macs: int = 0


def fmt(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


class Ctx:
    """The node being inferred: its id, type and params, and a helper to fail on it."""

    def __init__(self, node_id: str, type_name: str, params: dict, inputs: dict):
        self.id, self.type, self.p, self.inputs = node_id, type_name, params, inputs

    def fail(self, message: str, port: str | None = None) -> ShapeError:
        return ShapeError(f"{self.type} '{self.id}' {message}", node=self.id, port=port)

    def tuple(self, name: str, n: int) -> tuple:
        value = self.p[name]
        if value is None:
            return None
        return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n

    def expect_rank(self, spec: TensorSpec, ranks, layout: str, hint: str = "", port="in"):
        if len(spec.shape) not in ranks:
            raise self.fail(f"expects input {layout}, got {fmt(spec.shape)}{hint}", port)

    def expect_float(self, spec: TensorSpec, port="in"):
        if spec.dtype != "float32":
            raise self.fail(f"needs floating-point input, got {spec.dtype} on '{port}'; "
                            "feed it from an Embedding or a float Input", port)

    def batched_dim(self, dim: int, rank: int, name: str = "dim") -> int:
        """Normalise a torch dim (the batch is dim 0) against a batchless rank."""
        full = rank + 1
        if not -full <= dim < full:
            raise self.fail(f"{name}={dim} is out of range for input of {full} dims "
                            f"(batch + {fmt(self.inputs_shape())})")
        return dim % full

    def expect_positive(self, name: str):
        """torch refuses 0 for some params the schema lets reach 0 (it checks them when it runs)."""
        if self.p[name] <= 0:
            raise self.fail(f"needs {name} > 0, got {self.p[name]}; torch refuses it when the model runs")

    def inputs_shape(self):
        return next(iter(self.inputs.values())).shape


@dataclass(frozen=True)
class Submodule:
    """A constructor argument that is itself a `torch.nn` module (nn.TransformerEncoder's encoder_layer and
    norm): its class name and keyword arguments, built by `engine.modules` and written out by the Python export."""

    module: str
    kwargs: dict = field(default_factory=dict)


class Emitter(Protocol):
    """What a `forward` recipe may do for its node; the compiler implements it over torch.fx.

    The one step given no `helper` name is the node's own result, named after the node id;
    helper steps are named `{node id}_{helper}`. Functions are dotted names (`torch.cat`,
    `operator.add`) resolved by the compiler."""

    def module(self, args, kwargs: dict | None = None, helper: str | None = None) -> Any: ...

    def function(self, target: str, args, kwargs: dict | None = None, helper: str | None = None) -> Any: ...

    def method(self, name: str, args, kwargs: dict | None = None, helper: str | None = None) -> Any: ...

    def item(self, value, index, helper: str) -> Any: ...

    def parameter(self, shape: tuple, init: str, init_kwargs: dict) -> Any:
        """The node's learned tensor (state_dict key: the node id), first filled by `torch.nn.init.<init>`."""

    def batch_size(self) -> Any:
        """The batch size, read from the model's first input."""

    def training(self) -> Any:
        """The model's `self.training` flag."""


Recipe = Callable[[Emitter, dict, list], Any]  # (emitter, resolved params, input values) -> output value


def call_module(emit: Emitter, params: dict, args: list):
    """The default recipe: call the node's module on its inputs, in port order."""
    return emit.module(args)


@dataclass(frozen=True)
class Op:
    """The engine's entry for one node type.

    - `shape`: the shape rule, (Ctx) -> NodeInfo, raising ShapeError with a sentence.
    - `module`: the `torch.nn` class name built for the node; None for functional and data nodes.
    - `skip`: params that shape the graph but are no constructor arguments.
    - `kwargs`: adjusts the constructor arguments given the params (after `skip` and the inferred sizes).
    - `batch_first`: the module takes `batch_first=True` (the batch always comes first here).
    - `forward`: how the compiled `forward` uses the node (see `Emitter`); None only for data nodes
      and losses, which the compiler handles as a whole. It returns the output value, or a dict
      {port: value} for a type with several output ports.
    """

    shape: Callable[[Ctx], NodeInfo]
    module: str | None = None
    skip: tuple[str, ...] = ()
    kwargs: Callable[[dict], dict] | None = None
    batch_first: bool = False
    forward: Recipe | None = None


def module_op(shape, module: str, **fields) -> Op:
    """An op built as the `torch.nn` class `module` and called on its inputs."""
    return Op(shape, module, forward=fields.pop("forward", call_module), **fields)
