"""Readable Python for a compiled model's `forward`, written from its torch.fx graph.

`GraphModule.code` is valid but reads like machine output (`getitem_1 = ...;
lstm = None`). This printer walks the same graph and writes what a person
would: one line per catalogue node, named after the node, with the compiler's
helper steps folded into the expression that uses them:

    seq = x.reshape(x.size(0), 8, 8)
    lstm = self.lstm(seq)[0][:, -1]
    summed = elu + gated + mix

Folding rules: a helper node (one whose name is no graph node id, such as
`size` or `getitem_1`) used exactly once is written inline where it is used; a
module call whose only use is to take an item of its result (LSTM, GRU,
attention return tuples) is written inline too, and the line takes the module's
name. Nothing used twice is ever inlined, so nothing is computed twice.
Operators outside the small set the compiler emits raise ExportError rather
than being written wrongly.
"""

from __future__ import annotations

import builtins
import copy
import keyword
import math
import operator
from collections import Counter
from dataclasses import dataclass

import torch
from torch import fx

from engine.export.model import ExportError
from engine.inplace import out_of_place

_ATOM = 100  # precedence of names, calls, subscripts: never parenthesised
_INFIX = {
    operator.add: ("+", 11), operator.sub: ("-", 11), operator.mul: ("*", 12), operator.truediv: ("/", 12),
    operator.floordiv: ("//", 12), operator.mod: ("%", 12), operator.matmul: ("@", 12), operator.pow: ("**", 14),
}
# globals the generated file uses inside forward: a local of the same name would shadow them
RESERVED_NAMES = frozenset({"self", "torch", "nn", "float"})


@dataclass(frozen=True)
class _Expr:
    text: str
    precedence: int = _ATOM


class Namer:
    """Unique, valid local names that shadow nothing the generated code needs."""

    def __init__(self, reserved=RESERVED_NAMES):
        self._taken = set(reserved) | set(keyword.kwlist)

    def claim(self, candidate: str) -> str:
        name, number = candidate, 0
        while name in self._taken:
            number += 1
            name = f"{candidate}_{number}"
        self._taken.add(name)
        return name


def forward_source(graph: fx.Graph, node_ids: set[str]) -> list[str]:
    """The lines of `def forward(self, ...)` (unindented def, body indented by four spaces).

    `node_ids` are the catalogue node ids: fx nodes named otherwise are the compiler's helpers.
    """
    printer = _ForwardPrinter(out_of_place(copy.deepcopy(graph)), node_ids)  # sums as `a + b` (engine.inplace)
    return printer.lines()


class _ForwardPrinter:
    def __init__(self, graph: fx.Graph, node_ids: set[str]):
        self.graph = graph
        self.node_ids = node_ids
        self.uses = Counter()
        for node in graph.nodes:
            fx.node.map_arg((node.args, node.kwargs), lambda used: self.uses.update([used]))
        self.names = Namer()
        self.exprs: dict[fx.Node, _Expr] = {}
        self.carried_name: dict[fx.Node, str] = {}  # an inlined node's name, passed on to its user

    def lines(self) -> list[str]:
        params, body = [], []
        for node in self.graph.nodes:
            if node.op == "placeholder":
                name = self.names.claim(node.name)
                params.append(name)
                self.exprs[node] = _Expr(name)
            elif node.op == "output":
                body.append(f"return {self._value(node.args[0], top=True)}")
            else:
                expr = self._render(node)
                display = self._display_name(node)
                if self._inlined(node):
                    self.exprs[node] = expr
                    if display != node.name or not self._is_helper(node):
                        self.carried_name[node] = display
                else:
                    name = self.names.claim(display)
                    body.append(f"{name} = {expr.text}")
                    self.exprs[node] = _Expr(name)
        return [f"def forward({', '.join(['self', *params])}):", *(f"    {line}" for line in body)]

    # ---- naming and folding ---------------------------------------------
    def _is_helper(self, node: fx.Node) -> bool:
        return node.name not in self.node_ids and node.op != "call_module"

    def _inlined(self, node: fx.Node) -> bool:
        if self.uses[node] != 1:
            return False
        (user,) = node.users
        if user.op == "output":
            return False
        if self._takes_item_of(user, node):
            return True
        return self._is_helper(node) and self._carried_from(node) is None

    def _takes_item_of(self, user: fx.Node, node: fx.Node) -> bool:
        return self._is_item(user) and user.args[0] is node and self._is_helper(user)

    @staticmethod
    def _is_item(node: fx.Node) -> bool:
        return node.op == "call_function" and node.target is operator.getitem

    def _carried_from(self, node: fx.Node) -> str | None:
        """The module name a helper `[...]` inherits from the inlined call whose result it indexes."""
        if self._is_helper(node) and self._is_item(node):
            return self.carried_name.get(node.args[0])
        return None

    def _display_name(self, node: fx.Node) -> str:
        return self._carried_from(node) or node.name

    # ---- expressions -----------------------------------------------------
    def _render(self, node: fx.Node) -> _Expr:
        args = [self._value(arg) for arg in node.args]
        kwargs = [f"{key}={self._value(value)}" for key, value in node.kwargs.items()]
        if node.op == "call_module":
            return _Expr(f"self.{node.target}({', '.join(args + kwargs)})")
        if node.op == "get_attr":  # a Parameter node's tensor, or the training flag
            return _Expr(f"self.{node.target}")
        if node.op == "call_method":
            receiver = self._operand(node.args[0], _ATOM)
            return _Expr(f"{receiver}.{node.target}({', '.join(args[1:] + kwargs)})")
        if node.op == "call_function":
            if node.target is operator.getitem and not node.kwargs:
                return _Expr(f"{self._operand(node.args[0], _ATOM)}[{self._index(node.args[1])}]")
            if node.target in _INFIX and len(node.args) == 2 and not node.kwargs:
                symbol, precedence = _INFIX[node.target]
                left = self._operand(node.args[0], precedence)
                right = self._operand(node.args[1], precedence + 1)
                return _Expr(f"{left} {symbol} {right}", precedence)
            return _Expr(f"{_function_name(node)}({', '.join(args + kwargs)})")
        raise ExportError(f"cannot write Python for the fx operation {node.op} '{node.target}' "
                          f"(node '{node.name}')")

    def _operand(self, value, min_precedence: int) -> str:
        if isinstance(value, fx.Node):
            expr = self.exprs[value]
            return expr.text if expr.precedence >= min_precedence else f"({expr.text})"
        return literal(value)

    def _value(self, value, top: bool = False) -> str:
        """An argument: nodes by expression, containers element-wise, constants as literals."""
        if isinstance(value, fx.Node):
            return self.exprs[value].text
        if isinstance(value, (list, tuple)):
            items = [self._value(item) for item in value]
            if isinstance(value, list):
                return f"[{', '.join(items)}]"
            if top:  # `return a, b`
                return ", ".join(items)
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        return literal(value)

    def _index(self, index) -> str:
        if isinstance(index, tuple):
            parts = [self._index(part) for part in index]
            return parts[0] + "," if len(parts) == 1 else ", ".join(parts)
        if isinstance(index, slice):
            parts = ["" if bound is None else self._value(bound) for bound in (index.start, index.stop, index.step)]
            return ":".join(parts[:2]) if index.step is None else ":".join(parts)
        return self._value(index)


def _function_name(node: fx.Node) -> str:
    """How the generated file names the function: `torch.cat`, `torch.nn.functional.relu`, `max`.

    Only builtins and functions reachable from `import torch` are allowed; anything else is refused.
    """
    target, name = node.target, getattr(node.target, "__name__", "")
    for prefix, namespace in (("", builtins), ("torch.", torch), ("torch.nn.functional.", torch.nn.functional)):
        if name and getattr(namespace, name, None) is target:
            return prefix + name
    raise ExportError(f"cannot write Python for the function {target!r} (node '{node.name}')")


def literal(value) -> str:
    """A Python literal for a constant argument (numbers, strings, None, tuples, lists, dtypes)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, str) and not set(value) & {'"', "\\"} and value.isprintable():
        return f'"{value}"'
    if isinstance(value, (bool, int, float, str)) or value is None or value is Ellipsis:
        return repr(value)
    if isinstance(value, list):
        return f"[{', '.join(literal(item) for item in value)}]"
    if isinstance(value, tuple):
        items = [literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, slice):
        return f"slice({literal(value.start)}, {literal(value.stop)}, {literal(value.step)})"
    if isinstance(value, (torch.dtype, torch.memory_format)):
        return str(value)
    raise ExportError(f"cannot write the constant {value!r} as Python")
