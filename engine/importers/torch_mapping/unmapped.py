"""The parts of a traced module that have no node, gathered as the user wrote them, so that one refusal
lists every one with what to do about it.

A custom module is listed once per class, with where it is used (`self.blocks[0].drop_path`, ...) and
what inside it has no node; a torch layer once per class; a tensor used directly, and a function or
tensor method with the source lines that call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import fx, nn

from engine.importers.torch_mapping.tracing import attribute, custom_owner, is_custom, source_line

MAX_PLACES = 3  # places named per part; the rest are counted
CUSTOM_LAYERS = "see custom layers in docs/import.md"
_ADVICE = {
    "custom": "no node for it{uses}; replace it with Identity for inference, or " + CUSTOM_LAYERS
              + " (--keep-custom keeps it as a custom layer node)",
    "layer": "Neurocanvas has no node for this layer; replace it, or " + CUSTOM_LAYERS,
    "tensor": "a parameter or buffer used directly, outside a layer; Neurocanvas has no node for it",
    "function": "Neurocanvas has no node for this",
}
_OWNERS = {"_operator": "operator", "torch._C._nn": "F", "torch.nn.functional": "F",
           "torch._C._VariableFunctions": "torch", "builtins": ""}


def function_name(target) -> str:
    """`torch.matmul`, `F.gelu`, `operator.truediv`: a traced function as the user's code names it."""
    owner = getattr(target, "__module__", None) or ""
    owner = _OWNERS.get(owner, owner)
    label = getattr(target, "__name__", str(target))
    return f"{owner + '.' if owner else ''}{label}"


@dataclass
class _Part:
    kind: str  # a key of _ADVICE
    name: str  # the call, or what kind of module
    places: list[str] = field(default_factory=list)
    uses: dict[str, str] = field(default_factory=dict)  # what inside a custom module has no node -> first line

    def place(self, where: str) -> None:
        if where not in self.places:
            self.places.append(where)

    def sentence(self) -> str:
        shown = ", ".join(self.places[:MAX_PLACES])
        if len(self.places) > MAX_PLACES:
            shown += f" and {len(self.places) - MAX_PLACES} more"
        uses = ", ".join(self.uses)
        if uses and not uses.startswith("its forward"):
            uses = f"it uses {uses}{next(iter(self.uses.values()))}"
        advice = _ADVICE[self.kind].format(uses=f" ({uses})" if uses else "")
        if self.kind == "function":
            return f"{self.name}{shown}: {advice}"
        return f"{shown}{f' ({self.name})' if self.name else ''}: {advice}"


class UnmappedParts:
    """Every traced node with no mapping, grouped into the parts a user would name."""

    def __init__(self, untraceable: dict[str, str]):
        self.untraceable = untraceable  # custom module path -> where its forward cannot be traced
        self.parts: dict[tuple, _Part] = {}
        self.custom_paths: set[str] = set()  # the custom modules that hold unmapped parts (--keep-custom)

    def __bool__(self) -> bool:
        return bool(self.parts)

    def _part(self, kind: str, key, name: str) -> _Part:
        return self.parts.setdefault((kind, key), _Part(kind, name))

    def add(self, node: fx.Node, module: nn.Module | None) -> None:
        if module is not None and is_custom(type(module)):
            owner = node.target, type(module)
        else:
            owner = None if node.op == "call_module" else custom_owner(node)
        if owner is not None:
            path, kind = owner
            self.custom_paths.add(path)
            part = self._part("custom", kind, f"a custom module `{kind.__name__}`")
            part.place(f"`{attribute(path)}`")
            if path in self.untraceable:
                part.uses.setdefault(f"its forward cannot be traced{self.untraceable[path]}", "")
            elif node.op != "call_module":
                part.uses.setdefault(called(node), source_line(node))
        elif node.op == "call_module":
            self._part("layer", type(module), f"nn.{type(module).__name__}").place(f"`{attribute(node.target)}`")
        elif node.op == "get_attr":
            self._part("tensor", node.target, "").place(f"`{attribute(node.target)}`{source_line(node)}")
        else:
            self._part("function", called(node), called(node)).place(source_line(node))

    def sentences(self) -> list[str]:
        return [part.sentence() for part in self.parts.values()]


def called(node: fx.Node) -> str:
    """`torch.rand` / `Tensor.bernoulli_` / `self.scale.gamma` directly: what a traced node calls or reads."""
    if node.op == "call_method":
        return f"`Tensor.{node.target}`"
    if node.op == "get_attr":
        return f"`{attribute(node.target)}` directly"
    return f"`{function_name(node.target)}`"
