"""Positional encodings written in a module's forward, found in the traced graph and mapped to one node:

- `x + self.pos(torch.arange(T))` (also `positions = torch.arange(x.size(1), device=x.device)`, optionally
  `.unsqueeze(0)`; or the count a compiled LearnedPositionalEncoding makes, `(x.new_ones(T).cumsum(0) - 1).long()`),
  `self.pos` an nn.Embedding: a LearnedPositionalEncoding holding the embedding's weight.
- `x + self.pe[:, :x.size(1)]`, `self.pe` a registered buffer: a SinusoidalPositionalEncoding when the buffer
  is the sine/cosine table that node computes (within 1e-6), else a Parameter node holding the slice used.

As for the VAE's reparameterisation (`sampling`), the graph is rewritten before it is mapped: the add becomes
a call of `learned_positions` / `sliced_positions`, which `POSITION_FUNCTIONS` maps. T must be the input's
length (the importer follows `x.size(1)` to it); any other use of torch.arange is still refused.
"""

from __future__ import annotations

import math
import operator

import torch
from torch import fx, nn

from engine.importers.common import Refuse
from engine.importers.torch_mapping.tensor_calls import StoredTensor

_ADD = {operator.add, torch.add, "add"}
_UNSQUEEZE = {torch.unsqueeze, "unsqueeze"}
_INTEGER = (None, torch.long, torch.int64, torch.int32)


def learned_positions(x, steps, embedding: nn.Embedding):
    """x + embedding(0..steps-1): what LearnedPositionalEncoding computes."""
    return x + embedding(torch.arange(steps, device=x.device))


def sliced_positions(x, steps, table: torch.Tensor):
    """x + table[:steps] (over the table's last two dims)."""
    return x + table[..., :steps, :]


def sinusoidal_table(length: int, size: int) -> torch.Tensor:
    """[length, size]: sin(t * w_k) at 2k, cos(t * w_k) at 2k+1, w_k = exp(2k * -ln(10000) / size), in float32
    step by step as SinusoidalPositionalEncoding computes it (engine/ops/positional.py)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    rate = torch.exp(torch.arange(size // 2, dtype=torch.float32) * 2 * (-math.log(10000.0) / size))
    angle = position * rate
    return torch.stack((angle.sin(), angle.cos()), -1).flatten(-2)


def _steps(importer, arg, x) -> int:
    steps = importer.env.get(arg) if isinstance(arg, fx.Node) else arg
    if len(x.spec.shape) != 2:
        raise Refuse(f": positions are added to {list(x.spec.shape)} per sample; a positional encoding takes [T, E]")
    if steps != x.spec.shape[0]:
        raise Refuse(f": it adds positions 0..{steps}-1 to a sequence of {x.spec.shape[0]} steps; the count must "
                     "be the input's length (x.size(1))")
    return steps


def map_learned(importer, node: fx.Node):
    x = importer.tensor(node.args[0])
    _steps(importer, node.args[1], x)
    embedding = importer.traced.get_submodule(node.args[2])
    if embedding.max_norm is not None:
        raise Refuse(": its embedding has max_norm, which LearnedPositionalEncoding does not apply")
    weight = embedding.weight.detach().clone()
    if weight.shape[1] != x.spec.shape[1]:
        raise Refuse(f": the embedding has {weight.shape[1]} features, the sequence {x.spec.shape[1]}")
    return importer.add("LearnedPositionalEncoding", {"max_len": int(weight.shape[0])}, [x], node, {"weight": weight})


def map_sliced(importer, node: fx.Node):
    x = importer.tensor(node.args[0])
    steps = _steps(importer, node.args[1], x)
    target = node.args[2]
    table, is_buffer = _stored(importer.traced, target)
    if table.shape[-1] != x.spec.shape[1] or table.shape[-2] < steps:
        raise Refuse(f": the table '{target}' is {list(table.shape)}, too small for {list(x.spec.shape)}")
    rows = table.reshape(table.shape[-2], table.shape[-1]).float()
    length, size = rows.shape
    if is_buffer and size % 2 == 0 and torch.allclose(rows, sinusoidal_table(length, size), rtol=0, atol=1e-6):
        return importer.add("SinusoidalPositionalEncoding", {"max_len": length}, [x], node)
    used = StoredTensor(target, table[..., :steps, :].detach().clone())
    positions = importer.stored_parameter(used, node.name, len(x.spec.shape))
    return importer.add("Add", {"inputs": 2}, [x, positions], node)


def _stored(traced: fx.GraphModule, target: str):
    """(the module's tensor at `target`, whether it is a buffer rather than a parameter)."""
    try:
        return traced.get_buffer(target).detach(), True
    except AttributeError:
        return traced.get_parameter(target).detach(), False


POSITION_FUNCTIONS = {learned_positions: map_learned, sliced_positions: map_sliced}


def fuse_positions(graph: fx.Graph) -> None:
    """Rewrite each positional-encoding add in `graph` as a `learned_positions` / `sliced_positions` call."""
    found = [_learned(n) for n in graph.nodes if n.op == "call_module"]
    found += [_sliced(n) for n in graph.nodes if n.op == "get_attr"]
    for match in filter(None, found):
        total, function, args = match
        with graph.inserting_before(total):
            fused = graph.create_node("call_function", function, args, name=args[2].replace(".", "_") + "_encoding")
        fused.meta = dict(total.meta)
        total.replace_all_uses_with(fused)
    if any(found):
        graph.eliminate_dead_code()


def _learned(embedding: fx.Node):
    """(the add, learned_positions, (x, T, embedding path)) around `embedding(arange(T))`, else None."""
    if embedding.op != "call_module" or embedding.kwargs or len(embedding.args) != 1 or \
            type(embedding.graph.owning_module.get_submodule(embedding.target)) is not nn.Embedding:
        return None
    positions = embedding.args[0]
    if _is(positions, _UNSQUEEZE) and _operand(positions, 1) == 0 and not positions.kwargs:
        positions = positions.args[0]
    if _is(positions, {"long"}) and len(positions.args) == 1 and not positions.kwargs:
        positions = positions.args[0]
    end = _arange_end(positions) if _is(positions, {torch.arange}) else \
        _constant_end(positions) if isinstance(positions, fx.Node) and positions.op == "get_attr" else \
        _count_up_end(positions)
    added = end is not None and _added_to(embedding)
    return added and (added[0], learned_positions, (added[1], end, embedding.target))


def _arange_end(arange: fx.Node):
    """T of `torch.arange(T)` / `torch.arange(0, T)` (any device, an integer dtype), else None."""
    args = list(arange.args)
    start = args.pop(0) if len(args) == 2 else arange.kwargs.get("start", 0)
    end = args[0] if len(args) == 1 else arange.kwargs.get("end")
    extra = set(arange.kwargs) - {"start", "end", "step", "device", "dtype", "requires_grad"}
    if start != 0 or arange.kwargs.get("step", 1) != 1 or extra or arange.kwargs.get("dtype") not in _INTEGER:
        return None
    return end


def _constant_end(constant: fx.Node):
    """T of a tensor equal to arange(T), as tracing stores `torch.arange(6)` of a constant length, else None."""
    try:
        tensor, _ = _stored(constant.graph.owning_module, constant.target)
    except AttributeError:
        return None
    count = torch.arange(tensor.numel())
    return tensor.numel() if tensor.dtype in _INTEGER and tensor.dim() == 1 and torch.equal(tensor, count) else None


def _count_up_end(total):
    """T of `x.new_ones(T).cumsum(0) - 1`, how a compiled LearnedPositionalEncoding counts, else None."""
    if not _is(total, {operator.sub}) or _operand(total, 1) != 1:
        return None
    cumsum = total.args[0]
    if not _is(cumsum, {"cumsum"}) or _operand(cumsum, 1) != 0 or cumsum.kwargs:
        return None
    ones = cumsum.args[0]
    if not _is(ones, {"new_ones"}) or len(ones.args) != 2 or ones.kwargs:
        return None
    return ones.args[1]


def _sliced(table: fx.Node):
    """(the add, sliced_positions, (x, T, table path)) around `table[:, :T]` / `table[:T]`, else None."""
    index = _only_user(table)
    if not _is(index, {operator.getitem}):
        return None
    items = list(index.args[1]) if isinstance(index.args[1], tuple) else [index.args[1]]
    while len(items) > 1 and items[-1] in (slice(None), Ellipsis):
        items.pop()
    try:
        stored, _ = _stored(table.graph.owning_module, table.target)
    except AttributeError:
        return None
    if stored.dim() not in (2, 3) or stored.dim() == 3 and stored.shape[0] != 1:
        return None
    *leading, rows = items
    if leading != [slice(None)] * (stored.dim() - 2) or not isinstance(rows, slice) or \
            rows.start not in (None, 0) or rows.step not in (None, 1) or rows.stop is None:
        return None
    added = _added_to(index)
    return added and (added[0], sliced_positions, (added[1], rows.stop, table.target))


def _added_to(value: fx.Node):
    """(the add, the other operand) when `value`'s only use is `other + value` (either order), else None."""
    total = _only_user(value)
    if not _is(total, _ADD) or total.kwargs or len(total.args) != 2:
        return None
    other = total.args[1] if total.args[0] is value else total.args[0]
    return (total, other) if isinstance(other, fx.Node) and other is not value else None


def _only_user(node: fx.Node):
    return next(iter(node.users)) if len(node.users) == 1 else None


def _is(node, targets) -> bool:
    return isinstance(node, fx.Node) and node.op in ("call_function", "call_method") and node.target in targets


def _operand(node: fx.Node, index: int):
    return node.args[index] if index < len(node.args) else None
